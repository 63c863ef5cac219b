"""The table of estimators as Markdown, generated from the registry (the README and the docs show
it; a test fails when the README's copy drifts from the registry).

Estimators that share a kind and a citation (the five f-MICL divergences, the three f-DIME ones)
share a row, so the table stays one screen.

Examples:
    >>> from mibench.estimators.catalogue import markdown_table
    >>> print(markdown_table().splitlines()[0])
    | estimator | family | reported number | reference |
"""

from __future__ import annotations

from mibench.estimators.registry import get, names

HEADER = "| estimator | family | reported number | reference |\n|---|---|---|---|"

_KIND_READING = {
    "lower_bound": "lower bound",
    "upper_bound": "upper bound",
    "estimate": "estimate",
    "surrogate": "InfoNCE/DV readout",
    "f_bound": "f-MI bound",
    "supervised": "KL bound (labels)",
    "sample": "estimate (samples)",
}


def _reported(spec: object) -> str:
    """A short reading of what the number is: its kind, plus its cap when it has one."""
    kind = str(getattr(spec, "kind", ""))
    reading = _KIND_READING.get(kind, kind)
    if getattr(spec, "target", "mi") == "sliced":
        reading += " of sliced MI (not I)"
    if getattr(spec, "caps_at_log_k", False):
        reading += ", <= log K"
    elif getattr(spec, "ceiling_fn", None) is not None:
        reading += ", capped"
    return reading


def markdown_table() -> str:
    """Every registered estimator: name(s), family, what the reported number is, the reference."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for name in names():
        spec = get(name)
        key = (spec.family, _reported(spec), spec.citation)
        rows.setdefault(key, []).append(name)
    lines = [HEADER]
    for (family, reported, citation), group in rows.items():
        listed = ", ".join(f"`{n}`" for n in group)
        lines.append(f"| {listed} | {family} | {reported} | {citation.replace('|', '/')} |")
    return "\n".join(lines)
