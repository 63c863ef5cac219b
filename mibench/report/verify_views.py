"""What ``mibench verify`` prints: a narrow table (verdict and one line of evidence per claim) that
fits an 80-column terminal, or with ``--verbose`` every claim's full evidence as wrapped text.

The full records (every measured number, the tolerance and why) are in the ``--json`` file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mibench.report.screen import Line
from mibench.report.tables import Table

if TYPE_CHECKING:
    from mibench.claims.base import ClaimResult


def verify_title(results: Sequence[ClaimResult]) -> str:
    """``"mibench verify: 20/21 claims pass (1 not applicable)"``."""
    judged = [r for r in results if r.applicable]
    passed = sum(r.passed for r in judged)
    not_applicable = len(results) - len(judged)
    extra = f" ({not_applicable} not applicable)" if not_applicable else ""
    return f"mibench verify: {passed}/{len(judged)} claims pass{extra}"


def verdict_table(results: Sequence[ClaimResult]) -> Table:
    """One row per claim: id, verdict, the one-line evidence summary (printed cropped to the
    terminal; ``--verbose`` prints it whole)."""
    rows = [[r.claim_id, r.verdict, " ".join(r.summary.split())] for r in results]
    note = "full evidence: mibench verify --verbose, or the --json file"
    return Table(verify_title(results), ["claim", "verdict", "evidence"], rows, [note])


def verbose_lines(results: Sequence[ClaimResult]) -> list[Line]:
    """Each claim as a few wrapped lines: verdict, id and time; statement and source; evidence;
    tolerance and why; how our setting differs from the paper's (for a claim that fails)."""
    lines = [Line(verify_title(results), style="bold")]
    for r in results:
        lines += [
            Line(f"{r.verdict}  {r.claim_id} ({r.seconds:.1f} s)", style="bold"),
            Line(f"    {r.statement} ({r.source})"),
            Line(f"    evidence: {r.summary}"),
            Line(f"    tolerance: {r.tolerance}; {r.why}", style="dim"),
        ]
        if r.differs_from_paper and not r.passed:
            lines.append(Line(f"    our setting vs the paper's: {r.differs_from_paper}"))
    return lines
