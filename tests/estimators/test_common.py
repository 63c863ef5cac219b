"""Properties every registered estimator must satisfy (parametrised over ``names()``).

Estimators added later in any module are covered automatically. Layouts other than ``"pairs"``
(NT-Xent's ``"views"``, SINCERE/SupCon's ``"labels"``) are skipped where a property is stated in
terms of the pairs layout (positives on the diagonal, one dual value per pair).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

import mibench.estimators as estimators
from mibench.core.interface import Estimator

NAMES = estimators.score_names()  # sample estimators: tests/estimators/test_classical.py
SHAPES = [(), (3,), (2, 2)]
LARGE = 1e3  # exp(1e3) overflows float64 (max ~ exp(709.78)); a naive exp-then-log fails here


def _spec(name: str) -> Estimator:
    spec = estimators.get(name)
    if spec.layout != "pairs":
        pytest.skip(f"{name}: layout {spec.layout!r}; this property is stated for the pairs layout")
    return spec


def _inputs(spec: Estimator, scores: Tensor, dual: Tensor | None = None) -> dict[str, Any]:
    """The keyword inputs ``needs`` asks for: a dual vector and/or MINE-style state."""
    inputs: dict[str, Any] = {}
    if "dual" in spec.needs:
        if dual is None:
            generator = torch.Generator().manual_seed(7)
            dual = torch.randn(scores.shape[:-1], generator=generator, dtype=scores.dtype)
        inputs["dual"] = dual
    if "state" in spec.needs:
        inputs["state"] = spec.next_state(scores, None)
    if "entropy_y" in spec.needs:  # Barber–Agakov's H(Y): a constant offset of the value
        inputs["entropy_y"] = torch.full(scores.shape[:-2], 1.5, dtype=scores.dtype)
    unknown = set(spec.needs) - {"dual", "state", "entropy_y"}
    if unknown:
        pytest.skip(f"{spec.name}: needs {sorted(unknown)}, not supplied for the pairs layout")
    return inputs


def _random_scores(shape: tuple[int, ...], K: int, seed: int, dtype=torch.float64) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 2.0 * torch.randn(*shape, K, K, generator=generator, dtype=dtype)


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("K", [2, 5])
def test_stacked_equals_separate_calls(name: str, K: int) -> None:
    spec = _spec(name)
    R = 4
    scores = _random_scores((R,), K, seed=K)
    inputs = _inputs(spec, scores)
    stacked_value = spec.value(scores, **inputs)
    stacked_loss = spec.loss(scores, **inputs)
    assert stacked_value.shape == (R,) and stacked_loss.shape == (R,)
    for r in range(R):
        one = {key: value[r] for key, value in inputs.items()}
        torch.testing.assert_close(
            stacked_value[r], spec.value(scores[r], **one), rtol=1e-12, atol=1e-12
        )
        torch.testing.assert_close(
            stacked_loss[r], spec.loss(scores[r], **one), rtol=1e-12, atol=1e-12
        )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", SHAPES)
def test_output_shape_and_dtype_follow_the_input(name: str, shape: tuple[int, ...]) -> None:
    spec = _spec(name)
    for dtype in (torch.float32, torch.float64):
        scores = _random_scores(shape, 4, seed=1, dtype=dtype)
        inputs = _inputs(spec, scores)
        for out in (spec.value(scores, **inputs), spec.loss(scores, **inputs)):
            assert out.shape == shape
            assert out.dtype == dtype


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_mutated(name: str) -> None:
    spec = _spec(name)
    scores = _random_scores((2,), 5, seed=3)
    inputs = _inputs(spec, scores)
    before = scores.clone()
    inputs_before = {k: v.clone() for k, v in inputs.items()}
    spec.value(scores, **inputs)
    spec.loss(scores, **inputs)
    spec.next_state(scores, inputs.get("state"))
    assert torch.equal(scores, before)
    for key, value in inputs.items():
        assert torch.equal(value, inputs_before[key]), key


@pytest.mark.parametrize("name", NAMES)
def test_invariant_to_relabelling_the_pairs(name: str) -> None:
    """Permuting the K pairs (rows, columns and per-pair duals together) changes nothing."""
    spec = _spec(name)
    K = 6
    scores = _random_scores((2,), K, seed=4)
    inputs = _inputs(spec, scores)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    permuted = scores[..., perm, :][..., :, perm]
    moved = dict(inputs)
    if "dual" in moved:
        moved["dual"] = inputs["dual"][..., perm]
    torch.testing.assert_close(spec.value(permuted, **moved), spec.value(scores, **inputs))
    torch.testing.assert_close(spec.loss(permuted, **moved), spec.loss(scores, **inputs))


# ---------------------------------------------------------------------------------------------
# Orientation: rows are x, columns are y. R[i, j] = c_i (row-constant: a function of x only)
# and C = R^T (column-constant: a function of y only) have the same diagonal and the same
# off-diagonal multiset, so estimators that average over all pairs cannot tell them apart, while
# per-row (per-x) normalisers cancel R exactly and see C. The expected class of each estimator:
#   "row":      value(R) = 0 with dual 0; value(C) as predicted below
#   "row_base": value(R) = 0 with the per-x baseline dual = c; value(C) != 0 with it
#   "col_base": value(C) = 0 with the per-y baseline dual = c; value(R) != 0 with it
#   "global":   value(R) = value(C) (the default for estimators not listed here)
def _lme(v: np.ndarray) -> float:
    top = float(np.max(v))
    return top + math.log(float(np.mean(np.exp(v - top))))


def _rowdv_of_column_constant(c: np.ndarray) -> float:
    K = len(c)
    return float(np.mean([c[i] - _lme(np.delete(c, i)) for i in range(K)]))


PREDICTED_ON_COLUMN_CONSTANT: dict[str, Callable[[np.ndarray], float]] = {
    # InfoNCE row i: c_i - log sum_j e^{c_j} + log K (Eq. (1) of FlatNCE)
    "infonce": lambda c: float(np.mean(c - _lme(c))),
    # The FlatNCE family reports the InfoNCE value of the same scores (FlatNCE Appendix C).
    "infonce_drop": lambda c: float(np.mean(c - _lme(c))),
    "flatnce": lambda c: float(np.mean(c - _lme(c))),
    "holder_flatnce": lambda c: float(np.mean(c - _lme(c))),
    # FLO with u = 0: 1 - mean_i mean_{j != i} e^{c_j - c_i}
    "flo": lambda c: (
        1.0 - float(np.mean([np.mean(np.exp(np.delete(c, i) - c[i])) for i in range(len(c))]))
    ),
}
ORIENTATION = {name: "row" for name in PREDICTED_ON_COLUMN_CONSTANT}
ORIENTATION.update({"tuba": "row_base", "alpha": "col_base"})
# L1Out's mixture for y_i runs down column i: 0 on a column-constant S, the per-row DV of c on a
# row-constant one (the mirror image of the "row" class).
ORIENTATION.update({"l1out": "col"})
ORIENTATION.update({name: "global" for name in ("dv", "mine", "nwj", "js", "smile")})


@pytest.mark.parametrize("name", NAMES)
def test_orientation_rows_are_x(name: str) -> None:
    spec = _spec(name)
    c = torch.tensor([0.3, -1.2, 2.0, 0.7, -0.4], dtype=torch.float64)
    K = len(c)
    row_constant = c.unsqueeze(-1).expand(K, K).clone()
    column_constant = row_constant.T.clone()
    kind = ORIENTATION.get(name, "global")
    if kind == "row":
        zeros = torch.zeros(K, dtype=torch.float64)
        on_rows = spec.value(row_constant, **_inputs(spec, row_constant, zeros))
        on_cols = spec.value(column_constant, **_inputs(spec, column_constant, zeros))
        torch.testing.assert_close(on_rows, torch.tensor(0.0, dtype=torch.float64))
        expected = PREDICTED_ON_COLUMN_CONSTANT[name](c.numpy())
        assert abs(expected) > 0.1  # the probe distinguishes the orientations
        assert on_cols.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    elif kind == "col":
        on_rows = spec.value(row_constant, **_inputs(spec, row_constant))
        on_cols = spec.value(column_constant, **_inputs(spec, column_constant))
        torch.testing.assert_close(on_cols, torch.tensor(0.0, dtype=torch.float64))
        expected = _rowdv_of_column_constant(c.numpy())
        assert abs(expected) > 0.1
        assert on_rows.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    elif kind in {"row_base", "col_base"}:
        on_rows = spec.value(row_constant, **_inputs(spec, row_constant, c))
        on_cols = spec.value(column_constant, **_inputs(spec, column_constant, c))
        zero, other = (on_rows, on_cols) if kind == "row_base" else (on_cols, on_rows)
        assert zero.item() == pytest.approx(0.0, abs=1e-12)
        assert abs(other.item()) > 0.1
    else:
        inputs_r = _inputs(spec, row_constant, torch.zeros(K, dtype=torch.float64))
        inputs_c = _inputs(spec, column_constant, torch.zeros(K, dtype=torch.float64))
        torch.testing.assert_close(
            spec.value(row_constant, **inputs_r),
            spec.value(column_constant, **inputs_c),
            msg=f"{name} is not listed in ORIENTATION and is not transpose-blind (global); "
            "add its orientation class to this test",
        )


def test_orientation_table_names_exist() -> None:
    """The table cannot silently go stale: every listed name is registered."""
    assert set(ORIENTATION) <= set(NAMES)


@pytest.mark.parametrize("name", ["infonce", "dv"])
def test_constant_scores_give_zero(name: str) -> None:
    """S = c 1 1^T: the positive is indistinguishable from the negatives (guide Eq. (5); DV)."""
    spec = estimators.get(name)
    for c in (-3.0, 0.0, 11.5):
        scores = torch.full((2, 7, 7), c, dtype=torch.float64)
        torch.testing.assert_close(spec.value(scores), torch.zeros(2, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Large magnitudes
def _declared_unbounded() -> dict[str, str]:
    """Names whose value is honestly -inf/+inf for some S of magnitude 1e3, with the reason.

    Mine: the NWJ-type partition term e^{lme(S)} of NWJ, TUBA, JS, I_alpha and FLO is e^{~2000}
    when off-diagonal scores reach +1e3 — no float holds the true value. Other modules may
    declare theirs in a module-level ``UNBOUNDED_AT_LARGE_SCORES`` dict.
    """
    reason = "exp of a log-mean-exp of positive 1e3 scores: the true value is below -1e308"
    declared = {name: reason for name in ("nwj", "tuba", "js", "alpha", "flo")}
    for module_name in ("fdiv", "supervised", "ntxent", "dime"):
        try:
            module = importlib.import_module(f"mibench.estimators.{module_name}")
        except ImportError:
            continue
        declared.update(getattr(module, "UNBOUNDED_AT_LARGE_SCORES", {}))
    return declared


@pytest.mark.parametrize("name", NAMES)
def test_finite_when_all_scores_are_minus_1e3(name: str) -> None:
    """S = -1e3 + Z (+3 on the diagonal): every exp underflows, every true value is moderate."""
    spec = _spec(name)
    generator = torch.Generator().manual_seed(11)
    K = 6
    scores = -LARGE + torch.randn(2, K, K, generator=generator, dtype=torch.float64)
    scores = scores + 3.0 * torch.eye(K, dtype=torch.float64)
    scores.requires_grad_(True)
    dual = -LARGE + torch.randn(2, K, generator=generator, dtype=torch.float64)
    inputs = _inputs(
        spec, scores.detach(), dual if name != "flo" else torch.zeros(2, K, dtype=torch.float64)
    )
    value = spec.value(scores, **inputs)
    loss = spec.loss(scores, **inputs)
    assert torch.isfinite(value).all(), value
    assert torch.isfinite(loss).all(), loss
    (grad,) = torch.autograd.grad(loss.sum(), scores)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_never_nan_at_magnitude_1e3(name: str) -> None:
    """S = 1e3 Z: finite value and loss unless the estimator is declared unbounded (then +-inf)."""
    spec = _spec(name)
    generator = torch.Generator().manual_seed(12)
    scores = LARGE * torch.randn(3, 5, 5, generator=generator, dtype=torch.float64)
    inputs = _inputs(spec, scores, torch.zeros(3, 5, dtype=torch.float64))
    value, loss = spec.value(scores, **inputs), spec.loss(scores, **inputs)
    assert not torch.isnan(value).any() and not torch.isnan(loss).any()
    if name not in _declared_unbounded():
        assert torch.isfinite(value).all() and torch.isfinite(loss).all(), (value, loss)


def _shift_behaviour(spec: Estimator, scores: Tensor, dual: Tensor, shift: float) -> str | None:
    """How the value reacts to S + shift: "plain" (unchanged), "with_dual" (unchanged when the
    dual is shifted too, as for a log-baseline) or None (changes)."""
    if "dual" not in spec.needs:
        base = spec.value(scores, **_inputs(spec, scores))
        moved = spec.value(scores + shift, **_inputs(spec, scores + shift))
        return "plain" if torch.allclose(base, moved, rtol=1e-9, atol=1e-9) else None
    base = spec.value(scores, **_inputs(spec, scores, dual))
    if torch.allclose(
        spec.value(scores + shift, **_inputs(spec, scores + shift, dual)),
        base,
        rtol=1e-9,
        atol=1e-9,
    ):
        return "plain"
    moved = spec.value(scores + shift, **_inputs(spec, scores + shift, dual + shift))
    return "with_dual" if torch.allclose(moved, base, rtol=1e-9, atol=1e-9) else None


def _probe(seed: int = 13) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(2, 6, 6, generator=generator, dtype=torch.float64)
    dual = torch.randn(2, 6, generator=generator, dtype=torch.float64)
    return scores, dual


@pytest.mark.parametrize("name", NAMES)
def test_shift_invariant_estimators_survive_a_1e3_shift(name: str) -> None:
    """If the value ignores a constant added to S at small scale (detected with +3), it must give
    the same number at S + 1e3, where every naive exp overflows (relative error ~ 1e-16 * 1e3)."""
    spec = _spec(name)
    scores, dual = _probe()
    behaviour = _shift_behaviour(spec, scores, dual, 3.0)
    if behaviour is None:
        pytest.skip(f"{name}: value not invariant to a constant shift of S")
    base = spec.value(scores, **_inputs(spec, scores, dual))
    shifted_dual = dual + LARGE if behaviour == "with_dual" else dual
    moved = spec.value(scores + LARGE, **_inputs(spec, scores + LARGE, shifted_dual))
    # S + 1e3 carries ~1e3 * 2^-52 ~ 2e-13 absolute rounding per entry.
    torch.testing.assert_close(moved, base, rtol=0.0, atol=1e-10)


def test_shift_detection_is_not_vacuous() -> None:
    """The estimators the maths says are shift invariant are detected as such."""
    scores, dual = _probe()
    detected = {
        name: _shift_behaviour(estimators.get(name), scores, dual, 3.0)
        for name in NAMES
        if estimators.get(name).layout == "pairs"
    }
    plain = {"infonce", "infonce_drop", "flatnce", "holder_flatnce", "flo", "dv", "mine"}
    assert {n for n, b in detected.items() if b == "plain"} >= plain
    assert detected["tuba"] == "with_dual" and detected["alpha"] == "with_dual"
    assert detected["nwj"] is None and detected["js"] is None


@pytest.mark.parametrize("name", NAMES)
def test_loss_backpropagates_finite_gradients(name: str) -> None:
    spec = _spec(name)
    scores = _random_scores((2,), 5, seed=21).requires_grad_(True)
    inputs = _inputs(spec, scores.detach())
    if "dual" in inputs:
        inputs["dual"] = inputs["dual"].clone().requires_grad_(True)
    loss = spec.loss(scores, **inputs).sum()
    wrt = [scores] + ([inputs["dual"]] if "dual" in inputs else [])
    grads = torch.autograd.grad(loss, wrt)
    for grad in grads:
        assert torch.isfinite(grad).all()
        assert grad.abs().sum() > 0  # the loss actually depends on what it is trained through
