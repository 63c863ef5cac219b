"""Tests of SINCERE / SupCon (mibench/estimators/supervised.py) against the SINCERE paper."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import mibench.estimators as estimators
from mibench.estimators.supervised import (
    anchor_gradient_coefficients,
    anchor_terms,
    kl_bound_estimate,
    sincere_loss,
    supcon_loss,
)

SIGMAS = 4.0  # statistical checks use 4 standard errors (one-sided p ~ 3e-5 under normality)
LOSSES = {"sincere": sincere_loss, "supcon": supcon_loss}


def reference(scores: np.ndarray, labels: np.ndarray, method: str) -> tuple[float, float]:
    """(loss, KL estimate) by loops over anchors and partners, straight from Eq. (3), (12), (15)."""
    n = len(labels)
    anchor_losses, estimates = [], []
    for t in range(n):
        positives = [i for i in range(n) if i != t and labels[i] == labels[t]]
        negatives = [i for i in range(n) if labels[i] != labels[t]]
        if not positives:
            continue
        terms = []
        for p in positives:
            if method == "sincere":
                denominator = math.exp(scores[t, p]) + sum(
                    math.exp(scores[t, j]) for j in negatives
                )
            else:
                denominator = sum(math.exp(scores[t, i]) for i in range(n) if i != t)
            terms.append(-math.log(math.exp(scores[t, p]) / denominator))
        anchor_losses.append(sum(terms) / len(positives))
        if negatives:
            estimates.append(math.log(len(negatives)) - anchor_losses[-1])
    loss = sum(anchor_losses) / len(anchor_losses) if anchor_losses else math.nan
    estimate = sum(estimates) / len(estimates) if estimates else math.nan
    return loss, estimate


def random_problem(
    seed: int, n: int, n_classes: int, leading: tuple[int, ...] = ()
) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    scores = 3.0 * torch.randn(*leading, n, n, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, n_classes, (*leading, n), generator=gen)
    return scores, labels


# ---------------------------------------------------------------------------------------------
# (a) loop references


@pytest.mark.parametrize("method", ["sincere", "supcon"])
@pytest.mark.parametrize(("seed", "n", "n_classes"), [(0, 6, 2), (1, 9, 3), (2, 12, 5), (3, 5, 4)])
def test_matches_loop_reference(method: str, seed: int, n: int, n_classes: int) -> None:
    scores, labels = random_problem(seed, n, n_classes, leading=(4,))
    loss = LOSSES[method](scores, labels)
    value = kl_bound_estimate(scores, labels, method=method)
    for r in range(4):
        ref_loss, ref_value = reference(scores[r].numpy(), labels[r].numpy(), method)
        np.testing.assert_allclose(loss[r].item(), ref_loss, rtol=1e-12)
        np.testing.assert_allclose(value[r].item(), ref_value, rtol=1e-12, atol=1e-12)


def test_anchors_without_positives_or_negatives_follow_the_conventions() -> None:
    """Singleton classes have no term; a batch of one class has loss 0 (SINCERE) and no KL estimate."""
    scores, _ = random_problem(4, 6, 1)
    labels = torch.tensor([0, 0, 1, 2, 2, 3])  # classes 1 and 3 are singletons
    for method in ("sincere", "supcon"):
        ref_loss, ref_value = reference(scores.numpy(), labels.numpy(), method)
        assert LOSSES[method](scores, labels).item() == pytest.approx(ref_loss, rel=1e-12)
        assert kl_bound_estimate(scores, labels, method=method).item() == pytest.approx(
            ref_value, rel=1e-12
        )
    one_class = torch.zeros(6, dtype=torch.int64)
    assert sincere_loss(scores, one_class).item() == 0.0  # log(e^G/e^G)
    assert math.isnan(kl_bound_estimate(scores, one_class).item())  # no anchor has a negative
    all_different = torch.arange(6)
    assert math.isnan(sincere_loss(scores, all_different).item())  # no anchor has a positive


# ---------------------------------------------------------------------------------------------
# (b) closed forms


@pytest.mark.parametrize("tau", [1.0, 0.3, 0.05])
def test_aligned_orthogonal_classes(tau: float) -> None:
    """Class c embedded at e_c: G_tp = 1/τ within a class, 0 across. Then
    SINCERE ℓ_tp = log(1 + |N_t| e^{-1/τ}) -> 0 and SupCon ℓ_tp = log(|P_t| + |N_t| e^{-1/τ})
    -> log|P_t| (it cannot reach 0: its denominator holds the other positives)."""
    sizes = [3, 2, 4]
    labels = torch.tensor([c for c, size in enumerate(sizes) for _ in range(size)])
    z = torch.nn.functional.one_hot(labels, len(sizes)).to(torch.float64)
    scores = z @ z.T / tau
    n = len(labels)
    per_anchor = {
        "sincere": [math.log1p((n - sizes[c]) * math.exp(-1.0 / tau)) for c in labels.tolist()],
        "supcon": [
            math.log(sizes[c] - 1 + (n - sizes[c]) * math.exp(-1.0 / tau)) for c in labels.tolist()
        ],
    }
    log_negatives = [math.log(n - sizes[c]) for c in labels.tolist()]
    for method, losses in per_anchor.items():
        assert LOSSES[method](scores, labels).item() == pytest.approx(np.mean(losses), rel=1e-12)
        expected_value = np.mean(np.array(log_negatives) - np.array(losses))
        assert kl_bound_estimate(scores, labels, method=method).item() == pytest.approx(
            expected_value, rel=1e-12
        )


def test_pairs_make_sincere_and_supcon_identical() -> None:
    """With |P_t| = 1 for every anchor, {i ≠ t} = {p} ∪ N_t: the two losses coincide."""
    scores, _ = random_problem(5, 8, 1, leading=(3,))
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    torch.testing.assert_close(sincere_loss(scores, labels), supcon_loss(scores, labels))


def test_sincere_is_invariant_to_per_anchor_shifts() -> None:
    """ℓ_tp only involves row t through differences: the free constant k of Prop. 3.1."""
    scores, labels = random_problem(6, 10, 3)
    shift = torch.randn(10, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for method, loss in LOSSES.items():
        torch.testing.assert_close(loss(scores + shift, labels), loss(scores, labels), msg=method)


# ---------------------------------------------------------------------------------------------
# gradient coefficients (Eq. 13-14)


@pytest.mark.parametrize("method", ["sincere", "supcon"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coefficients_are_the_autograd_gradient(method: str, seed: int) -> None:
    scores, labels = random_problem(seed, 9, 3, leading=(2,))
    labels[0, 4] = 7  # one singleton anchor (no term, zero row)
    leaf = scores.clone().requires_grad_(True)
    LOSSES[method](leaf, labels).sum().backward()
    n_with_positive = anchor_terms(scores, labels).has_positive.sum(dim=-1).to(torch.float64)
    coefficients = anchor_gradient_coefficients(scores, labels, method=method)
    torch.testing.assert_close(
        coefficients / n_with_positive[:, None, None], leaf.grad, rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("method", ["sincere", "supcon"])
def test_coefficients_give_the_embedding_gradient(method: str) -> None:
    """∂L_t/∂z_t = (1/τ) Σ_j C_tj z_j with G_tj = z_t·z_j/τ and the other z_j fixed (Eq. 13-14)."""
    gen = torch.Generator().manual_seed(3)
    tau, n = 0.2, 7
    z = torch.nn.functional.normalize(torch.randn(n, 4, generator=gen, dtype=torch.float64), dim=-1)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    coefficients = anchor_gradient_coefficients(z @ z.T / tau, labels, method=method)
    for t in range(n):
        z_t = z[t].clone().requires_grad_(True)
        row = (z @ z_t / tau).unsqueeze(0)  # G_t· as a function of z_t only
        others = z @ z.T / tau
        scores = torch.cat([others[:t], row, others[t + 1 :]])
        anchor_terms(scores, labels, method=method).loss[t].backward()
        torch.testing.assert_close(z_t.grad, coefficients[t] @ z / tau, rtol=1e-10, atol=1e-12)


@given(
    n=st.integers(3, 10),
    dim=st.integers(2, 5),
    tau=st.floats(0.02, 2.0),
    n_classes=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_sincere_coefficients_never_repel_same_class(
    n: int, dim: int, tau: float, n_classes: int, seed: int
) -> None:
    """SINCERE: C_tp = (σ_tp − 1)/|P_t| ∈ [−1/|P_t|, 0] (the Eq. 13 bracket in [−1, 0]);
    C_tn ≥ 0 on noise; rows sum to 0. SupCon's loss and KL form are never better than SINCERE's."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(
        torch.randn(n, dim, generator=gen, dtype=torch.float64), dim=-1
    )
    labels = torch.randint(0, n_classes, (n,), generator=gen)
    scores = z @ z.T / tau
    coefficients = anchor_gradient_coefficients(scores, labels)
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(n, dtype=torch.bool)
    n_positives = positive.sum(dim=-1, keepdim=True).clamp(min=1).to(torch.float64)
    on_positive = coefficients[positive]
    assert (on_positive <= 0).all()
    assert (on_positive >= (-1.0 / n_positives).expand(n, n)[positive] - 1e-15).all()
    assert (coefficients[~same] >= 0).all()
    torch.testing.assert_close(
        coefficients.sum(dim=-1), torch.zeros(n, dtype=torch.float64), atol=1e-12, rtol=0
    )
    sincere_terms, supcon_terms = (
        anchor_terms(scores, labels),
        anchor_terms(scores, labels, method="supcon"),
    )
    assert (supcon_terms.loss >= sincere_terms.loss - 1e-12).all()
    sincere_value, supcon_value = (
        kl_bound_estimate(scores, labels),
        kl_bound_estimate(scores, labels, method="supcon"),
    )
    if not math.isnan(sincere_value.item()):
        assert supcon_value.item() <= sincere_value.item() + 1e-12


def test_supcon_repels_a_close_positive_where_sincere_attracts() -> None:
    """Anchor 0 with positives 1 (close, G = 5) and 2 (G = 0), one negative 3 (G = 0).
    SupCon: C_01 = e^5/(e^5 + 2) − 1/2 > 0, a push away from z_1 (Sec. 3.3).
    SINCERE: C_01 = (e^5/(e^5 + 1) − 1)/2 = −1/(2(e^5 + 1)) < 0."""
    labels = torch.tensor([0, 0, 0, 1])
    scores = torch.zeros(4, 4, dtype=torch.float64)
    scores[0, 1] = 5.0
    supcon = anchor_gradient_coefficients(scores, labels, method="supcon")
    sincere = anchor_gradient_coefficients(scores, labels)
    e5 = math.exp(5.0)
    assert supcon[0, 1].item() == pytest.approx(e5 / (e5 + 2.0) - 0.5, rel=1e-12)
    assert supcon[0, 1].item() > 0.4
    assert sincere[0, 1].item() == pytest.approx(-1.0 / (2.0 * (e5 + 1.0)), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Theorem 3 on two labeled Gaussians


def two_gaussian_batches(
    mu_sq: float, n: int, n_batches: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes c ∈ {0, 1} (fair coin), x | c ~ N(s_c μ, I_2) with s_c = ±1 and ‖μ‖² = ``mu_sq``.

    The optimal SINCERE critic (Prop. 3.1) is G_tj = log p(x_j|y_t)/p(x_j|≠y_t) = 2 s_{y_t} μ·x_j,
    and KL(p(x|c) ‖ p(x|≠c)) = KL(N(μ, I) ‖ N(−μ, I)) = ‖2μ‖²/2 = 2‖μ‖² for either class.
    """
    gen = torch.Generator().manual_seed(seed)
    mu = torch.tensor([math.sqrt(mu_sq), 0.0], dtype=torch.float64)
    labels = torch.randint(0, 2, (n_batches, n), generator=gen)
    sign = 2.0 * labels.to(torch.float64) - 1.0
    x = sign[..., None] * mu + torch.randn(n_batches, n, 2, generator=gen, dtype=torch.float64)
    scores = 2.0 * sign[..., :, None] * (x @ mu)[..., None, :]
    return scores, labels


def test_kl_bound_holds_and_tightens_with_more_negatives() -> None:
    """Theorem 3 at the optimal critic, KL = 1 nat. Checked in its sharper form
    log(|N_t| + 1) − L_t (see kl_bound_estimate; it implies Eq. 15): mean ≤ KL + 4 SE.
    Tightening: n = 64 (|N_t| ≈ 32) beats n = 16 (|N_t| ≈ 8) by more than 4 combined SE."""
    mu_sq, n_batches = 0.5, 400
    kl = 2.0 * mu_sq
    means, errors = {}, {}
    for n in (16, 64):
        scores, labels = two_gaussian_batches(mu_sq, n, n_batches, seed=n)
        value = kl_bound_estimate(scores, labels)
        assert not value.isnan().any()  # P(one class only) = 2^{1-n}: none in these draws
        terms = anchor_terms(scores, labels)
        used = terms.has_positive & (terms.n_negatives > 0)
        correction = torch.where(used, torch.log1p(1.0 / terms.n_negatives.clamp(min=1)), 0.0).sum(
            -1
        ) / used.sum(-1)
        sharper = value + correction
        standard_error = sharper.std().item() / math.sqrt(n_batches)
        assert sharper.mean().item() <= kl + SIGMAS * standard_error
        means[n], errors[n] = value.mean().item(), value.std().item() / math.sqrt(n_batches)
    assert means[64] - means[16] > SIGMAS * math.hypot(errors[16], errors[64])
    assert means[64] > 0.75 * kl  # and it is close: ~0.85 nats of the 1 nat here


def test_supcon_form_is_looser_on_the_same_critic() -> None:
    scores, labels = two_gaussian_batches(0.5, 32, 50, seed=1)
    assert (
        kl_bound_estimate(scores, labels, method="supcon") < kl_bound_estimate(scores, labels)
    ).all()


# ---------------------------------------------------------------------------------------------
# registry, generic properties


@pytest.mark.parametrize("name", ["sincere", "supcon"])
def test_registered_entry(name: str) -> None:
    spec = estimators.get(name)
    assert (
        spec.layout == "labels"
        and spec.needs == frozenset({"labels"})
        and spec.kind == "supervised"
    )
    scores, labels = random_problem(7, 8, 3, leading=(2,))
    torch.testing.assert_close(spec.loss(scores, labels=labels), LOSSES[name](scores, labels))
    torch.testing.assert_close(
        spec.value(scores, labels=labels), kl_bound_estimate(scores, labels, method=name)
    )


@pytest.mark.parametrize("method", ["sincere", "supcon"])
def test_stacked_equals_looped_with_per_run_labels_and_no_mutation(method: str) -> None:
    scores, labels = random_problem(8, 10, 3, leading=(2, 3))
    before_scores, before_labels = scores.clone(), labels.clone()
    for function in (LOSSES[method], lambda s, y: kl_bound_estimate(s, y, method=method)):
        stacked = function(scores, labels)
        assert stacked.shape == (2, 3)
        looped = torch.stack(
            [
                torch.stack([function(s, y) for s, y in zip(rs, ry, strict=True)])
                for rs, ry in zip(scores, labels, strict=True)
            ]
        )
        torch.testing.assert_close(stacked, looped, rtol=1e-13, atol=1e-13)
    coefficients = anchor_gradient_coefficients(scores, labels, method=method)
    torch.testing.assert_close(
        coefficients[1, 2], anchor_gradient_coefficients(scores[1, 2], labels[1, 2], method=method)
    )
    torch.testing.assert_close(scores, before_scores, rtol=0, atol=0)
    assert torch.equal(labels, before_labels)


def test_shared_labels_broadcast_over_runs() -> None:
    scores, labels = random_problem(9, 8, 2, leading=(3,))
    shared = labels[0]
    torch.testing.assert_close(
        sincere_loss(scores, shared), sincere_loss(scores, shared.expand(3, 8))
    )


@pytest.mark.parametrize("method", ["sincere", "supcon"])
def test_gradcheck(method: str) -> None:
    scores, labels = random_problem(10, 6, 2, leading=(2,))
    scores.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: LOSSES[method](s, labels), (scores,))
    assert torch.autograd.gradcheck(
        lambda s: kl_bound_estimate(s, labels, method=method), (scores,)
    )


def test_gradients_stay_finite_without_negatives_and_at_large_scores() -> None:
    for scores, labels in (
        (torch.randn(5, 5, dtype=torch.float64), torch.zeros(5, dtype=torch.int64)),  # no negatives
        (1e3 * torch.randn(6, 6, dtype=torch.float64), torch.tensor([0, 0, 1, 1, 2, 2])),
        (1e3 * torch.randn(6, 6, dtype=torch.float32), torch.tensor([0, 0, 0, 1, 1, 2])),
    ):
        for loss in LOSSES.values():
            leaf = scores.clone().requires_grad_(True)
            value = loss(leaf, labels)
            value.backward()
            assert torch.isfinite(value) and torch.isfinite(leaf.grad).all()


def test_bad_inputs_name_the_problem() -> None:
    scores = torch.zeros(2, 5, 5)
    with pytest.raises(ValueError, match=r"labels of shape \(4,\).*\(2, 5, 5\)"):
        sincere_loss(scores, torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="integer"):
        sincere_loss(scores, torch.zeros(5))
    with pytest.raises(ValueError, match=r"\(5, 4\)"):
        supcon_loss(torch.zeros(5, 4), torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="valid choices: sincere, supcon"):
        anchor_terms(scores, torch.zeros(5, dtype=torch.int64), method="triplet")
