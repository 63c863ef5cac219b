"""The report's claims: the verdict bullets among the findings and the "Claims" section.

Two kinds of claim reach the report: the result claims judged on the suite's own runs
(:func:`mibench.report.findings.result_claim_verdicts`) and the paper claims of ``verify.json``
(:func:`mibench.report.sidecars.load_verify`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mibench.report import findings
from mibench.report.blocks import Block, Bullets, Heading, Paragraph
from mibench.report.tables import Table
from mibench.results import store
from mibench.results.formatting import value

VERIFY_JSON = store.VERIFY_FILE
NOT_JUDGED = (
    "Not judged: this mibench has no `mibench.claims.results.judge(suite_dir)` "
    "(`mibench verify --results DIR` judges them where it exists)."
)
_VERIFY_COLUMNS = ("id", "passed", "statement", "source", "evidence")


def verdict_bullets(
    verdicts: Sequence[findings.Verdict] | None,
    paper_claims: Sequence[findings.Verdict] | None,
    suite: str,
) -> list[Block]:
    """Two bullets for the findings: the tallies of the result and the paper claims."""
    items = []
    for name, group, absent in (
        (
            "Result claims (judged on this suite's runs)",
            verdicts,
            "not judged: this mibench has no `mibench.claims.results.judge` yet",
        ),
        (
            "Paper claims (`mibench verify`)",
            paper_claims,
            f"no {VERIFY_JSON}; `mibench verify --json results/{suite}/{VERIFY_JSON}` writes one",
        ),
    ):
        if group is None:
            items.append(f"{name}: {absent}.")
            continue
        counts = findings.verdict_counts(group)
        tally = ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"
        failed = [v.claim_id for v in group if v.verdict == "FAIL"]
        text = f"{name}: {tally}"
        if failed:
            text += " (FAIL: " + ", ".join(failed) + ")"
        items.append(text + "; details under Claims.")
    return [Bullets(items)]


def verdict_table(verdicts: Sequence[findings.Verdict]) -> Table:
    """id, result, statement, source, evidence per claim."""
    rows = [[v.claim_id, v.verdict, v.statement, v.source, v.evidence] for v in verdicts]
    return Table("", ["id", "result", "statement", "source", "evidence"], rows)


def paper_claims_table(verify: Sequence[dict[str, Any]]) -> Table:
    """The ``verify.json`` records: id, PASS/FAIL, statement, source, evidence, other keys."""
    extra = [k for k in dict.fromkeys(k for c in verify for k in c) if k not in _VERIFY_COLUMNS]
    columns = ["id", "result", "statement", "source", "evidence", *extra]
    rows = [
        [
            value(c["id"]),
            "PASS" if c["passed"] else "FAIL",
            value(c.get("statement")),
            value(c.get("source")),
            value(c.get("evidence")),
            *(value(c.get(k)) for k in extra),
        ]
        for c in verify
    ]
    return Table("", columns, rows)


def claims_section(
    verify: list[dict[str, Any]] | None,
    verdicts: Sequence[findings.Verdict] | None,
    suite: str,
) -> list[Block]:
    """The result claims' table, then the paper claims' (or how to get them)."""
    blocks: list[Block] = [Heading("Claims")]
    blocks.append(Heading("Result claims, judged on this suite's runs", level=3))
    if verdicts is None:
        blocks.append(Paragraph(NOT_JUDGED))
    else:
        counts = findings.verdict_counts(verdicts)
        tally = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no claims"
        blocks += [Paragraph(f"{tally}."), verdict_table(verdicts)]
    blocks.append(Heading("Paper claims (mibench verify)", level=3))
    if verify is None:
        how = f"`mibench verify --json results/{suite}/{VERIFY_JSON}` writes one."
        return [*blocks, Paragraph(f"No {VERIFY_JSON} here; {how}")]
    n_pass = sum(bool(c["passed"]) for c in verify)
    return [
        *blocks,
        Paragraph(f"{n_pass} of {len(verify)} claims pass."),
        paper_claims_table(verify),
    ]
