"""The report's claims: the tallies among the findings, the result-claim and verify.json tables."""

from __future__ import annotations

from mibench.report.blocks import Bullets, Paragraph
from mibench.report.claims_section import claims_section, paper_claims_table, verdict_bullets
from mibench.report.findings import Verdict
from mibench.report.tables import Table

VERDICTS = [
    Verdict("results-a", "A holds", "PASS", "max -0.01"),
    Verdict("results-b", "B holds", "FAIL", "ratio 1.4"),
    Verdict("results-c", "C holds", "not applicable", "one K"),
]
VERIFY = [
    {"id": "x", "statement": "X", "source": "Eq. 1", "evidence": {"gap": -0.5}, "passed": False,
     "seconds": 0.2},
]  # fmt: skip


def test_the_bullets_tally_both_kinds_and_name_the_failures() -> None:
    (bullets,) = verdict_bullets(VERDICTS, None, "default")
    assert isinstance(bullets, Bullets)
    assert bullets.items[0] == (
        "Result claims (judged on this suite's runs): 1 PASS, 1 FAIL, 1 not applicable "
        "(FAIL: results-b); details under Claims."
    )
    assert bullets.items[1].startswith("Paper claims (`mibench verify`): no verify.json;")


def test_the_verify_table_keeps_extra_keys_and_writes_evidence_as_json() -> None:
    table = paper_claims_table(VERIFY)
    assert table.columns == ("id", "result", "statement", "source", "evidence", "seconds")
    assert table.rows == (("x", "FAIL", "X", "Eq. 1", '{"gap": -0.5}', "0.2"),)


def test_the_section_holds_both_tables_or_says_how_to_get_them() -> None:
    blocks = claims_section(VERIFY, VERDICTS, "default")
    assert [b.text for b in blocks if isinstance(b, Paragraph)] == [
        "1 PASS, 1 FAIL, 1 not applicable.",
        "0 of 1 claims pass.",
    ]
    assert sum(isinstance(b, Table) for b in blocks) == 2
    bare = claims_section(None, None, "default")
    texts = [b.text for b in bare if isinstance(b, Paragraph)]
    assert texts[0].startswith("Not judged")
    assert texts[1].startswith("No verify.json here; `mibench verify --json results/default/")
