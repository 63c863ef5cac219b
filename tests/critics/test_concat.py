from __future__ import annotations

import pytest
import torch

from mibench.critics import build, concat


def test_concat_equals_the_mlp_on_every_concatenated_pair() -> None:
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    critic = build("concat", 3, 2, generators=gens, dtype=torch.float64, params={"hidden": (5, 4)})
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    y = torch.randn(2, 6, 2, dtype=torch.float64)
    with torch.no_grad():
        scores = critic.scores(x, y)
        for i in range(4):
            for j in range(6):
                pair = torch.cat([x[:, i], y[:, j]], dim=-1).unsqueeze(1)
                torch.testing.assert_close(scores[:, i, j], critic.mlp.forward(pair)[:, 0, 0])
    assert critic.n_parameters == (5 * 5 + 5) + (5 * 4 + 4) + (4 * 1 + 1)
    assert critic.architecture == "concat MLP([x; y]): 5->5->4->1 (relu)"


def test_no_grad_chunking_gives_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    critic = build(
        "concat", 2, 2, generators=[torch.Generator().manual_seed(0)], params={"hidden": (3,)}
    )
    x, y = torch.randn(1, 9, 2), torch.randn(1, 7, 2)
    with torch.no_grad():
        whole = critic.scores(x, y)
        monkeypatch.setattr(concat, "NO_GRAD_CHUNK_ELEMENTS", 2 * 7 * 3)  # two rows per chunk
        torch.testing.assert_close(critic.scores(x, y), whole)
