from __future__ import annotations

import math

import torch

from mibench.train.adam import StackedAdam


def test_stacked_adam_equals_one_torch_adam_per_run_with_its_own_lr() -> None:
    gen = torch.Generator().manual_seed(0)
    lrs = torch.tensor([1e-2, 1e-3, 5e-2], dtype=torch.float64)
    weight = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64).requires_grad_()
    bias = torch.randn(2, 1, 5, generator=gen, dtype=torch.float64).requires_grad_()  # runs 1..2
    ref_w = [weight[r].detach().clone().requires_grad_() for r in range(3)]
    ref_b = [bias[r].detach().clone().requires_grad_() for r in range(2)]
    opts = [
        torch.optim.Adam([ref_w[r]] + ([ref_b[r - 1]] if r >= 1 else []), lr=float(lrs[r]))
        for r in range(3)
    ]
    adam = StackedAdam([weight, bias], [slice(0, 3), slice(1, 3)], lrs.tolist())
    alive = torch.ones(3, dtype=torch.bool)
    for _ in range(25):
        gw = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64)
        gb = torch.randn(2, 1, 5, generator=gen, dtype=torch.float64)
        adam.step([gw, gb], alive)
        for r in range(3):
            ref_w[r].grad = gw[r].clone()
            if r >= 1:
                ref_b[r - 1].grad = gb[r - 1].clone()
            opts[r].step()
    for r in range(3):
        torch.testing.assert_close(weight[r], ref_w[r], rtol=1e-12, atol=1e-14)
    for r in range(2):
        torch.testing.assert_close(bias[r], ref_b[r], rtol=1e-12, atol=1e-14)


def test_frozen_run_keeps_parameters_and_moments_bit_for_bit_even_with_nan_gradients() -> None:
    weight = torch.randn(2, 3, 3).requires_grad_()
    adam = StackedAdam([weight], [slice(0, 2)], [1e-2, 1e-2])
    adam.step([torch.randn(2, 3, 3)], torch.ones(2, dtype=torch.bool))
    before = [t[1].clone() for t in adam.state_tensors()]
    other_before = weight[0].clone()
    nan_grad = torch.randn(2, 3, 3)
    nan_grad[1] = float("nan")
    adam.step([nan_grad], torch.tensor([True, False]))
    for tensor, old in zip(adam.state_tensors(), before, strict=True):
        assert torch.equal(tensor[1], old)
    assert torch.isfinite(weight).all() and not torch.equal(weight[0], other_before)


def test_grad_norms_are_each_runs_norm_over_all_its_leaves() -> None:
    gen = torch.Generator().manual_seed(1)
    shared = torch.randn(3, 2, 4, generator=gen, dtype=torch.float64)  # runs 0..2
    head = torch.randn(2, 1, 3, generator=gen, dtype=torch.float64)  # runs 1..2
    adam = StackedAdam(
        [shared.clone().requires_grad_(), head.clone().requires_grad_()],
        [slice(0, 3), slice(1, 3)],
        [1e-3] * 3,
    )
    norms = adam.grad_norms([shared, head])
    expected = [
        shared[0].norm(),
        torch.cat([shared[1].flatten(), head[0].flatten()]).norm(),
        torch.cat([shared[2].flatten(), head[1].flatten()]).norm(),
    ]
    torch.testing.assert_close(norms, torch.stack(expected))


def test_one_call_per_lr_equals_one_call_per_run_bit_for_bit() -> None:
    # The CPU path (one kernel call per learning rate over the live runs' rows) against the GPU
    # path (one call per run with its frozen flag), with shared learning rates, a leaf that holds
    # only some runs, and a run frozen half way with NaN gradients from then on.
    gen = torch.Generator().manual_seed(1)
    lrs = [1e-2, 1e-3, 1e-2, 1e-3]
    shapes = [((4, 3, 5), slice(0, 4)), ((2, 1, 5), slice(2, 4))]

    def make(per_run_calls: bool) -> tuple[StackedAdam, list[torch.Tensor]]:
        leaves = [torch.zeros(s).requires_grad_() for s, _ in shapes]
        adam = StackedAdam(leaves, [sl for _, sl in shapes], lrs, per_run_calls=per_run_calls)
        return adam, leaves

    by_lr, by_run = make(False), make(True)
    alive = torch.ones(4, dtype=torch.bool)
    for step in range(20):
        grads = [torch.randn(s, generator=gen) for s, _ in shapes]
        if step >= 10:
            alive = torch.tensor([True, True, False, True])
            grads[0][2] = math.nan
            grads[1][0] = math.nan  # run 2's rows of the partial leaf
        for adam, _ in (by_lr, by_run):
            adam.step([g.clone() for g in grads], alive)
    for left, right in zip(by_lr[0].state_tensors(), by_run[0].state_tensors(), strict=True):
        assert torch.equal(left, right)
    assert torch.isfinite(by_lr[1][0]).all()
