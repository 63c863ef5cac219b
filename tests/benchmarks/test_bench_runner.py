"""The analytic FLOP counts of benchmarks/bench_runner.py against torch's own FLOP counter.

``torch.utils.flop_counter.FlopCounterMode`` counts 2mnk per (batched) matmul, the same convention,
by watching the operators the critic actually runs, so it is an independent oracle for the forward
count. Counts are exact integers: equality, no tolerance.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from mibench import critics as critic_registry

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_runner.py"
_SPEC = importlib.util.spec_from_file_location("bench_runner", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_runner"] = bench
_SPEC.loader.exec_module(bench)

SMALL_K = 8  # FLOP counts are exact for any K; a small one keeps the test fast


def _counted(fn) -> int:  # type: ignore[no-untyped-def]
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _inputs(dim: int, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(1, K, dim, generator=gen), torch.randn(1, K, dim, generator=gen)


@pytest.mark.parametrize("name", sorted(bench.SETUPS))
def test_forward_flops_match_torch_counter_on_the_stacked_critic(name: str) -> None:
    setup = bench.SETUPS[name]
    critic = critic_registry.build(
        setup.critic,
        setup.dim,
        setup.dim,
        generators=[torch.Generator().manual_seed(1)],
        dtype=torch.float32,
        device=torch.device("cpu"),
        params=setup.critic_params,
    )
    x, y = _inputs(setup.dim, SMALL_K)
    with torch.no_grad():
        counted = _counted(lambda: critic.scores(x, y))
    assert counted == bench.forward_flops(setup, SMALL_K)


@pytest.mark.parametrize("name", sorted(bench.SETUPS))
def test_forward_flops_match_torch_counter_on_the_plain_loop_model(name: str) -> None:
    setup = bench.SETUPS[name]
    cls = bench.PlainSeparable if setup.critic == "separable" else bench.PlainConcat
    model = cls(setup, torch.device("cpu"))
    x, y = _inputs(setup.dim, SMALL_K)
    with torch.no_grad():
        counted = _counted(lambda: model(x[0], y[0]))
    assert counted == bench.forward_flops(setup, SMALL_K)


@pytest.mark.parametrize("name", sorted(bench.SETUPS))
def test_train_step_count_bounds_the_counted_forward_plus_backward(name: str) -> None:
    """Backward needs weight gradients (1x forward) plus input gradients (<= 1x forward; none for
    the data inputs), so the counted forward+backward lies in [2, 3] x forward and the stated
    3 x forward is an upper estimate."""
    setup = bench.SETUPS[name]
    cls = bench.PlainSeparable if setup.critic == "separable" else bench.PlainConcat
    model = cls(setup, torch.device("cpu"))
    x, y = _inputs(setup.dim, SMALL_K)
    counted = _counted(lambda: bench.infonce_loss(model(x[0], y[0])).backward())
    forward = bench.forward_flops(setup, SMALL_K)
    assert 2 * forward <= counted <= bench.train_step_flops(setup, SMALL_K) == 3 * forward


def test_mlp_matmul_flops_by_hand() -> None:
    # 3 -> 4 -> 2 on 5 rows: 2*5*3*4 + 2*5*4*2
    assert bench.mlp_matmul_flops((3, 4, 2), 5) == 2 * 5 * 3 * 4 + 2 * 5 * 4 * 2
