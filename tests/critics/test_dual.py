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


def test_joined_heads_give_each_runs_own_output_bit_for_bit() -> None:
    # Two one-run heads (TUBA's a(x), I_alpha's q(y) at d_x = d_y), as two lone heads and joined.
    def lone(kind: str, seed: int) -> DualHead:
        gen = [torch.Generator().manual_seed(seed)]
        return DualHead(kind, 3, 3, generators=gen, dtype=torch.float32, hidden=(16, 16))

    a_x, q_y = lone("x", 0), lone("y", 1)
    joined = DualHead.joined([a_x, q_y])
    assert joined.n_runs == 2
    assert [w.shape[0] for w in joined.parameters()] == [2] * 6
    x, y = torch.randn(1, 8, 3), torch.randn(1, 8, 3)
    together = joined.evaluate(torch.cat([x, y]))
    assert torch.equal(together[0], a_x.forward(x, y)[0])
    assert torch.equal(together[1], q_y.forward(x, y)[0])
    # Fresh leaves: training the joined head leaves the originals' tensors alone.
    assert all(p.is_leaf and p.requires_grad for p in joined.parameters())
    assert all(p.data_ptr() != q.data_ptr() for p in joined.parameters() for q in a_x.parameters())


def test_only_mlp_heads_of_one_architecture_join() -> None:
    with pytest.raises(ValueError, match="one architecture"):
        DualHead.joined([_head("x"), _head("pair")])
    density = DualHead("y_density", 3, 2, generators=[torch.Generator()], dtype=torch.float64)
    with pytest.raises(ValueError, match="one architecture"):
        DualHead.joined([_head("y"), density])
