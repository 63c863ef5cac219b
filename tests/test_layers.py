"""The package tree is the data path: every import points down the stages, never up.

Stages, lowest first (see docs/architecture.md): ``core`` (interface, registry, RNG streams);
the models ``estimators``, ``tasks``, ``critics``, ``systems`` (one stage: they may use each other);
``plan`` (suite files -> frozen cell configs); ``results`` (the store and its statistics); ``train``
(the stacked trainer); ``execute`` (runner and executors); ``plots``; ``claims``; ``report``;
``reproduce``; ``api``; and on top ``cli`` and the package's ``__init__``. Every import counts,
lazy ones inside functions too: a lazy import up the stages is still a dependency cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mibench"

STAGES: list[set[str]] = [
    {"core"},
    {"estimators", "tasks", "critics", "systems"},
    {"plan"},
    {"results"},
    {"train"},
    {"execute"},
    {"plots"},
    {"claims"},
    {"report"},
    {"reproduce"},
    {"api"},
    {"cli", "__init__", "__main__", "suites"},
]
RANK = {name: rank for rank, names in enumerate(STAGES) for name in names}
# The tidy schema's column names are the vocabulary every stage writes (the trainer, systems and
# claims name the columns they fill), so any stage may import it; it imports nothing of mibench.
VOCABULARY = "mibench.results.schema"


def _stage_of(parts: list[str]) -> str | None:
    """``mibench.plan.suite`` -> ``plan``; ``mibench`` itself -> ``__init__``; None for the
    shared vocabulary."""
    if ".".join(parts[:3]) == VOCABULARY:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imported_stages(path: Path) -> set[tuple[str, int]]:
    """(stage, line) of every ``mibench`` import in a module."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module in {"mibench", "mibench.results"}:  # `from X import module`
                names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            stage = _stage_of(parts) if parts[0] == "mibench" else None
            if stage is not None:
                found.add((stage, node.lineno))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_stage_is_named() -> None:
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert tops <= set(RANK), f"stages not placed in STAGES: {sorted(tops - set(RANK))}"


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_down_the_stages(module: Path) -> None:
    own = module.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = sorted(
        (line, stage)
        for stage, line in _imported_stages(module)
        if stage in RANK and RANK[stage] > RANK[own]
    )
    assert not upward, f"{module.name} ({own}) imports upward: {upward}"


def test_the_vocabulary_imports_nothing_of_mibench() -> None:
    schema = PACKAGE / "results" / "schema.py"
    assert not [s for s, _ in _imported_stages(schema) if s != "results"]
    assert "import mibench" not in schema.read_text() and "from mibench" not in schema.read_text()


def test_the_only_loose_modules_are_the_entry_points() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose <= {"__init__.py", "__main__.py", "cli.py"}, sorted(loose)
