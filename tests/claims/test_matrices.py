"""The score families the claims are built on (mibench.claims._matrices)."""

from __future__ import annotations

import torch

from mibench.claims import ClaimContext
from mibench.claims._matrices import default_oracle_tasks, oracle_scores, score_families
from mibench.tasks import build
from mibench.tasks.gaussian import gaussian_log_ratio


def test_families_cover_every_size_and_kind() -> None:
    context = ClaimContext()
    families = score_families(
        context.generator("t"),
        sizes=(2, 5),
        per_family=3,
        oracle_tasks=default_oracle_tasks(context.task),
    )
    labels = [label for label, _ in families]
    for K in (2, 5):
        for prefix in (
            "gauss-s100",
            "offset-1e3",
            "pos-margin-1000",
            "neg-margin-1000",
            "constant",
            "far-negatives",
            "oracle-gaussian",
        ):
            assert any(label.startswith(prefix) and label.endswith(f"-K{K}") for label in labels), (
                prefix,
                K,
            )
    for label, scores in families:
        assert scores.dtype == torch.float64 and scores.shape[0] == 3
        assert scores.shape[-1] == scores.shape[-2] == int(label.rsplit("K", 1)[1])


def test_adversarial_families_have_the_stated_structure() -> None:
    families = dict(score_families(torch.Generator().manual_seed(0), sizes=(4,), per_family=2))
    hard = families["neg-margin-1000-K4"]
    rows = torch.arange(4)
    assert torch.all(hard[:, rows, (rows + 1) % 4] - hard[:, rows, rows] == 1000.0)
    positive = families["pos-margin-1000-K4"]
    assert torch.all(torch.diagonal(positive, dim1=-2, dim2=-1) > 990)
    far = families["far-negatives-K4"]
    off = ~torch.eye(4, dtype=torch.bool)
    assert torch.all(far[:, off] == -1e4)


def test_oracle_scores_are_the_tasks_log_ratio_on_its_own_batches() -> None:
    task = build("gaussian", dim=3, mi=1.0)
    scores = oracle_scores(task, 5, 2, torch.Generator().manual_seed(4))
    batch = task.sample(10, torch.Generator().manual_seed(4), dtype=torch.float64)
    x, y = batch.x.reshape(2, 5, 3), batch.y.reshape(2, 5, 3)
    expected = gaussian_log_ratio(x[:, :, None, :], y[:, None, :, :], task.rho)
    torch.testing.assert_close(scores, expected)
