"""The in-batch system (mibench.systems.in_batch): SimCLR/NT-Xent on the batch's own scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench import estimators
from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.train import train_stack
from tests.systems._system_helpers import (
    ENCODER,
    assert_diagnostics_on_their_rows,
)

COMMON = {"task": "gaussian", "task_params": {"dim": 3, "mi": 1.0}, "critic": "encoder",
          "critic_params": ENCODER, "n_steps": 3, "eval_every": 2}  # fmt: skip


def _views_gram(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    z = torch.cat([a, b])
    z = z / z.norm(dim=-1, keepdim=True)
    return z @ z.T / tau


@pytest.mark.parametrize("N", [2, 5, 16])
def test_ntxent_on_aligned_embeddings_closed_form(N: int) -> None:
    tau = 0.25
    # Aligned, mutually orthogonal pairs (a_i = b_i = e_i): each anchor scores its mate 1/tau and
    # its 2N - 2 negatives 0, so l = log(e^{1/tau} + 2N - 2) - 1/tau and
    # log(2N - 1) - L = log(2N - 1) - log(1 + (2N - 2) e^{-1/tau}).
    basis = torch.eye(N, dtype=torch.float64)
    value = estimators.get("ntxent").value(_views_gram(basis, basis, tau))
    expected = math.log(2 * N - 1) - math.log1p((2 * N - 2) * math.exp(-1.0 / tau))
    assert value.item() == pytest.approx(expected, rel=1e-12)
    # Fully aligned and collapsed (every view the same vector): all 2N - 1 candidates tie, so
    # L = log(2N - 1) exactly and the MI reading is 0.
    same = torch.ones(N, 3, dtype=torch.float64)
    assert estimators.get("ntxent").loss(_views_gram(same, same, tau)).item() == pytest.approx(
        math.log(2 * N - 1), rel=1e-12
    )
    assert estimators.get("ntxent").ceiling(2 * N) == pytest.approx(math.log(2 * N - 1))


def test_trainer_records_k_eff_and_diagnostics_for_ntxent() -> None:
    ntxent = train_stack([RunConfig.make(estimator="ntxent", batch_size=5, **COMMON)])[0].frame
    train = ntxent[ntxent["readout"] == "train"]
    assert set(train[schema.K_EFF]) == {9}  # 2N - 1 with N = 5
    np.testing.assert_allclose(train["ceiling"], math.log(9))
    assert_diagnostics_on_their_rows(ntxent, [schema.ALIGN, schema.UNIF])
