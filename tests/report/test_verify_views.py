"""mibench verify's console views at 80 and 160 columns: one line per claim (evidence cropped),
or every claim's full evidence wrapped at spaces with --verbose."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mibench.claims.base import ClaimResult
from mibench.report import console
from mibench.report.verify_views import verbose_lines, verdict_table, verify_title

LONG = "max |InfoNCE - log K| over 200 score matrices of K = 2..512, float32 and float64: " * 3
RESULTS = [
    ClaimResult(True, {"a": 1.0}, LONG, "1e-6", "float64 rounding", "infonce-le-log-k",
                "InfoNCE <= log K for any S", "Chen et al. 2021, Eq. (1)", 0.5),
    ClaimResult(False, {"a": 2.0}, "ratio 1.4", "ratio < 1", "Song & Ermon Fig. 1",
                "results-smile-lower-variance-than-nwj", "SMILE var < NWJ var", "Song & Ermon",
                0.25, differs_from_paper="our K is 64, the paper's 128"),
    ClaimResult(False, {}, "no K sweep", "-", "-", "results-infonce-gap-shrinks-with-k", "gap",
                "Poole", 0.1, applicable=False),
]  # fmt: skip


def render(width: int, draw) -> list[str]:
    terminal = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    draw(terminal)
    return terminal.export_text().splitlines()


def test_the_title_counts_passes_among_the_applicable_claims() -> None:
    assert verify_title(RESULTS) == "mibench verify: 1/2 claims pass (1 not applicable)"
    assert verify_title(RESULTS[:1]) == "mibench verify: 1/1 claims pass"


@pytest.mark.parametrize("width", [80, 160])
def test_the_narrow_table_is_one_line_per_claim_and_fits(width: int) -> None:
    table = verdict_table(RESULTS)
    assert table.check() is table
    lines = render(width, lambda t: console.print_table(t, table, crop_last=True))
    assert max(len(line) for line in lines) <= width
    rows = [line for line in lines if line.split()[:1] and line.split()[0] in
            {r.claim_id for r in RESULTS}]  # fmt: skip
    assert len(rows) == len(RESULTS)  # one line each: nothing wrapped
    assert [row.split()[1] for row in rows] == ["PASS", "FAIL", "N/A"]
    assert rows[0].endswith("…")  # the long evidence is cut, the short ones whole
    assert rows[1].rstrip().endswith("ratio 1.4")
    assert lines[-1] == "full evidence: mibench verify --verbose, or the --json file"


@pytest.mark.parametrize("width", [80, 160])
def test_verbose_prints_every_word_of_the_evidence_within_the_width(width: int) -> None:
    lines = render(width, lambda t: console.print_items(t, verbose_lines(RESULTS)))
    assert max(len(line) for line in lines) <= width
    text = " ".join(lines)
    assert " ".join(LONG.split()) in " ".join(text.split())
    assert "our setting vs the paper's: our K is 64, the paper's 128" in text
    assert "tolerance: 1e-6; float64 rounding" in text
    assert text.count("our setting vs the paper's") == 1  # only beside the failing claim
