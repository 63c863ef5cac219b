"""f-DIME (kl_dime, hd_dime, gan_dime): loop references of the paper's objectives in the
discriminator D, the optimum at the log density ratio, the readout at the oracle critic."""

from __future__ import annotations

import math

import pytest
import torch

from mibench.estimators import get
from mibench.estimators.dime import (
    dime_value,
    gan_dime_objective,
    hd_dime_objective,
    kl_dime_objective,
)
from mibench.estimators.variational import js_loss, nwj_lower_bound

NAMES = ("kl_dime", "hd_dime", "gan_dime")
OBJECTIVES = {
    "kl_dime": kl_dime_objective,
    "hd_dime": hd_dime_objective,
    "gan_dime": gan_dime_objective,
}


def _loop_objective(name: str, scores: torch.Tensor) -> float:
    """J_f written in the discriminator D of Letizia et al. (D = e^S, e^{-S/2}, sigmoid(-S))."""
    K = scores.shape[0]
    joint = [scores[i, i].item() for i in range(K)]
    marginal = [scores[i, j].item() for i in range(K) for j in range(K) if i != j]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    if name == "kl_dime":  # E log D − E' D + 1
        return mean(joint) - mean([math.exp(s) for s in marginal]) + 1.0
    if name == "hd_dime":  # 2 − E D − E' 1/D
        return (
            2.0
            - mean([math.exp(-s / 2) for s in joint])
            - mean([1.0 / math.exp(-s / 2) for s in marginal])
        )
    sigmoid = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    # E log(1 − D) + E' log D + log 4 with D = sigmoid(−S)
    return (
        mean([math.log(1.0 - sigmoid(-s)) for s in joint])
        + mean([math.log(sigmoid(-s)) for s in marginal])
        + math.log(4.0)
    )


@pytest.mark.parametrize("name", NAMES)
def test_objective_matches_the_discriminator_form_of_the_paper(name: str) -> None:
    scores = torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert OBJECTIVES[name](scores).item() == pytest.approx(
        _loop_objective(name, scores), abs=1e-12
    )
    torch.testing.assert_close(get(name).loss(scores), -OBJECTIVES[name](scores))
    assert get(name).value(scores) == pytest.approx(torch.diagonal(scores).mean().item())


def test_kl_and_gan_objectives_are_the_nwj_and_js_objectives() -> None:
    scores = torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(kl_dime_objective(scores), nwj_lower_bound(scores + 1.0))
    torch.testing.assert_close(gan_dime_objective(scores), math.log(4.0) - js_loss(scores))


@pytest.mark.parametrize("name", NAMES)
def test_the_log_density_ratio_maximises_the_expected_objective(name: str, oracle_batches) -> None:
    """Each J_f is maximised pointwise at S = log ratio: shifting or scaling the oracle lowers it.

    Averaged over 200 batches; the 0.5 shift/scale changes J by O(0.05-0.5), far above the
    paired-difference noise (same batches, so the noise largely cancels).
    """
    oracle = oracle_batches(true_mi=1.0, dim=2, K=32, n_batches=200, seed=2)
    best = OBJECTIVES[name](oracle.scores).mean()
    for perturbed in (oracle.scores + 0.5, oracle.scores - 0.5, 1.5 * oracle.scores):
        assert OBJECTIVES[name](perturbed).mean() < best


def test_readout_at_the_oracle_critic_is_unbiased(oracle_batches) -> None:
    """mean_i S_ii at S = log ratio estimates E_p log ratio = I; 4-SE tolerance over 300 batches."""
    oracle = oracle_batches(true_mi=3.0, dim=5, K=32, n_batches=300, seed=3)
    values = dime_value(oracle.scores)
    se = values.std().item() / math.sqrt(values.numel())
    assert abs(values.mean().item() - 3.0) <= 4 * se


def test_stacked_equals_looped_no_mutation_gradcheck() -> None:
    scores = torch.randn(4, 5, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    kept = scores.clone()
    for objective in OBJECTIVES.values():
        stacked = objective(scores)
        for r in range(4):
            assert stacked[r].item() == pytest.approx(objective(scores[r]).item(), abs=1e-12)
        leaf = scores[0].clone().requires_grad_(True)
        assert torch.autograd.gradcheck(objective, (leaf,))
    torch.testing.assert_close(scores, kept, rtol=0, atol=0)


def test_objectives_stay_finite_for_scores_of_magnitude_1e2() -> None:
    scores = torch.full((4, 4), -100.0, dtype=torch.float64)
    scores.fill_diagonal_(100.0)
    for objective in OBJECTIVES.values():
        assert torch.isfinite(objective(scores))
    assert gan_dime_objective(scores).item() == pytest.approx(math.log(4.0), abs=1e-12)


def test_specs_are_estimates_of_the_dime_family() -> None:
    for name in NAMES:
        spec = get(name)
        assert spec.kind == "estimate" and spec.family == "dime" and spec.score_kind == "critic"
