"""Estimator groups and dual heads (mibench.train.groups): contiguous slices of the run axis."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import torch

from mibench import estimators
from mibench.results import schema
from mibench.train import groups
from tests.train._stack_helpers import small_stack


def test_head_of_reads_the_dual_the_spec_needs() -> None:
    assert groups.head_of(estimators.get("infonce")) is None
    assert groups.head_of(estimators.get("tuba")) == "x"
    assert groups.head_of(estimators.get("flo")) == "pair"
    assert groups.head_of(estimators.get("doe")) == "y_density"


def test_groups_are_maximal_runs_of_one_spec() -> None:
    infonce, dv, mine = (estimators.get(n) for n in ("infonce", "dv", "mine"))
    runs = [SimpleNamespace(spec=s) for s in (infonce, infonce, dv, mine, mine, infonce)]
    found = [(g.spec.name, g.start, g.stop, g.uses_state) for g in groups.groups_of(runs)]
    assert found == [("infonce", 0, 2, False), ("dv", 2, 3, False), ("mine", 3, 5, True),
                     ("infonce", 5, 6, False)]  # fmt: skip


def test_a_stack_puts_each_dual_head_over_one_slice_of_its_runs() -> None:
    stack = small_stack("tuba", "infonce", "flo", "tuba", "dv")
    # Stack order: no head (dv, infonce), then x (tuba, tuba), then pair (flo).
    assert [r.spec.name for r in stack.runs] == ["dv", "infonce", "tuba", "tuba", "flo"]
    assert [r.position for r in stack.runs] == [4, 1, 0, 3, 2]
    assert {kind: span for kind, (span, _) in stack.heads.items()} == {
        "x": slice(2, 4),
        "pair": slice(4, 5),
    }
    assert [(g.start, g.stop, g.head) for g in stack.groups] == [
        (0, 1, None), (1, 2, None), (2, 4, "x"), (4, 5, "pair"),
    ]  # fmt: skip


def test_split_parts_equal_the_groups_slices() -> None:
    stack = small_stack("tuba", "infonce", "flo", "tuba", "dv")
    scores = torch.randn(5, 6, 6, generator=torch.Generator().manual_seed(0))
    duals = {"x": torch.randn(2, 6), "pair": torch.randn(1, 6)}  # (runs of the head, K)
    score_parts, dual_parts = groups.split_parts(stack.groups, stack.heads, scores, duals)
    for index, (group, part) in enumerate(zip(stack.groups, score_parts, strict=True)):
        assert torch.equal(part, scores[group.start : group.stop])
        if group.head is not None:
            span = stack.heads[group.head][0]
            rows = slice(group.start - span.start, group.stop - span.start)
            assert torch.equal(dual_parts[index], duals[group.head][..., rows, :])
        else:
            assert index not in dual_parts


def test_heads_of_one_input_width_share_one_pass() -> None:
    # small_config's task has d_x = d_y: TUBA's a(x) and I_alpha's q(y) read inputs of one width.
    stack = small_stack("tuba", "alpha", "flo", "infonce")
    assert [(p.kinds, p.runs) for p in stack.head_passes] == [
        (("x", "y"), slice(1, 3)),
        (("pair",), slice(3, 4)),
    ]
    joined = stack.head_passes[0].head
    assert joined.n_runs == 2
    # The stack trains the joined leaves (not the per-kind heads'), over the runs they serve.
    leaves = {id(p): s for p, s in zip(stack.leaves, stack.slices, strict=True)}
    assert all(leaves[id(p)] == slice(1, 3) for p in joined.parameters())
    assert not any(id(p) in leaves for _, head in stack.heads.values() for p in head.parameters()
                   if head is not stack.head_passes[1].head)  # fmt: skip
    x, y = torch.randn(4, 6, 2, dtype=torch.float64), torch.randn(4, 6, 2, dtype=torch.float64)
    duals = stack._duals(x, y)
    assert {k: tuple(v.shape) for k, v in duals.items()} == {"x": (1, 6), "y": (1, 6),
                                                            "pair": (1, 6)}  # fmt: skip


def test_a_joined_head_pass_trains_each_run_as_its_lone_head_would() -> None:
    # TUBA and I_alpha together (their heads joined) against each with an InfoNCE partner (its
    # head alone): the same frames, bit for bit.
    from mibench.train import train_stack
    from tests.train._stack_helpers import small_config

    tuba, alpha = small_config("tuba", 0), small_config("alpha", 1)
    together = train_stack([tuba, alpha])
    alone = [train_stack([c, small_config("infonce", 5)])[0] for c in (tuba, alpha)]
    for joint, single in zip(together, alone, strict=True):
        pd.testing.assert_frame_equal(
            joint.frame.drop(columns=[schema.TIME_S]),
            single.frame.drop(columns=[schema.TIME_S]),
            check_exact=True,
        )
