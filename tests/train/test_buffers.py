"""The trainer's buffers (mibench.train.buffers): readout records and pending train steps."""

from __future__ import annotations

import math

import torch

from mibench.train.buffers import Pending, Records


def test_a_record_column_is_created_nan_on_first_use_and_kept() -> None:
    records = Records(4, 2, torch.float64, torch.device("cpu"))
    column = records.column("estimate")
    assert column.shape == (4, 2) and column.dtype == torch.float64
    assert all(math.isnan(v) for v in column.flatten().tolist())
    column[1] = 3.0
    assert records.column("estimate") is column and records.column("estimate")[1].tolist() == [
        3.0,
        3.0,
    ]


def test_keep_trained_drops_the_rows_of_steps_never_trained() -> None:
    records = Records(4, 1, torch.float64, torch.device("cpu"))
    records.column("loss")[:, 0] = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    kept = records.keep_trained([0, 10, 20, 29], last=19)
    assert kept == [0, 10] and records.n_rows == 2
    assert records.column("loss")[:, 0].tolist() == [0.0, 1.0]
    # A column first asked for after the cut has the new row count.
    assert records.column("ess").shape == (2, 1)


def test_pending_collects_steps_in_order_and_clears_every_list() -> None:
    pending = Pending()
    for row in range(3):
        pending.add(
            row, 10 * row, torch.zeros(1, 2, 2), {}, None, [None], torch.ones(1, dtype=torch.bool)
        )
    pending.diagnosed.append(0)
    assert pending.rows == [0, 1, 2] and pending.steps == [0, 10, 20] and len(pending.scores) == 3
    pending.clear()
    assert not any(
        (pending.rows, pending.steps, pending.scores, pending.duals, pending.labels,
         pending.states, pending.alive, pending.diagnosed, pending.embeddings)
    )  # fmt: skip
