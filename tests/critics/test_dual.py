from __future__ import annotations

import pytest
import torch

from mibench.critics import DualHead


def _head(kind: str) -> DualHead:
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    return DualHead(kind, 3, 2, generators=gens, dtype=torch.float64, hidden=(5,))


@pytest.mark.parametrize(("kind", "dim_in"), [("x", 3), ("y", 2), ("pair", 5)])
def test_dual_head_reads_what_it_names(kind: str, dim_in: int) -> None:
    head = _head(kind)
    x, y = torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(2, 4, 2, dtype=torch.float64)
    out = head.forward(x, y)
    assert out.shape == (2, 4)
    assert head.n_parameters == dim_in * 5 + 5 + 5 + 1
    with torch.no_grad():
        x2, y2 = x.clone(), y.clone()
        x2[:, 1] += 1.0
        y2[:, 2] += 1.0
        moved_by_x = (head.forward(x2, y) != out).any(dim=0)
        moved_by_y = (head.forward(x, y2) != out).any(dim=0)
    # Entry i depends on x_i (kinds x, pair) and y_i (kinds y, pair) only.
    assert moved_by_x.tolist() == [False, kind != "y", False, False]
    assert moved_by_y.tolist() == [False, False, kind != "x", False]


def test_unknown_dual_kind_names_the_choices() -> None:
    with pytest.raises(ValueError, match="valid choices: x, y, pair"):
        _head("both")
