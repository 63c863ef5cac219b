"""The document model: heading anchors as GitHub makes them."""

from __future__ import annotations

from mibench.report.blocks import Heading, slug


def test_anchors_drop_punctuation_and_join_words_with_hyphens() -> None:
    assert (
        slug("Appendix: configuration, resolved suite") == "appendix-configuration-resolved-suite"
    )
    assert slug("  Paper claims (mibench verify) ") == "paper-claims-mibench-verify"
    assert Heading("Diverged runs and unstable cells").anchor == "diverged-runs-and-unstable-cells"
