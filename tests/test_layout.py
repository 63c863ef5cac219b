"""tests/ mirrors mibench/: each module has its test file, and each test file names its module.

A module ``mibench/<package>/<module>.py`` is tested in ``tests/<package>/test_<module>.py`` (or
in ``test_<module>_<topic>.py`` files beside it when one file would be too long); a top-level
module ``mibench/<module>.py`` in ``tests/test_<module>.py``. Leading and trailing underscores of
the module name are dropped (``_logspace.py`` -> ``test_logspace.py``, ``__init__.py`` ->
``test_init.py``). Tests about several modules together live in :data:`CROSS_MODULE_FOLDERS` or
are listed in :data:`CROSS_MODULE_FILES`. See tests/README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mibench"
TESTS = ROOT / "tests"

# Modules without a mirrored test file, each with where it is tested instead. Keep it short:
# only re-exporting packages and code whose behaviour is only observable through other modules.
UNMIRRORED: dict[str, str] = {
    "mibench/estimators/__init__.py": "re-exports and imports every estimator module; the "
    "registry it fills is tested in tests/estimators/test_registry.py and test_common.py",
    "mibench/plots/__init__.py": "re-exports the figure functions tested in tests/plots/",
    "mibench/results/__init__.py": "re-exports the store functions (tests/results/test_store.py)",
    "mibench/tasks/__init__.py": "re-exports the registry and imports every task module; "
    "tests/tasks/test_registry.py checks every registered task",
    "mibench/train/__init__.py": "re-exports the trainer (tests/train/test_stack*.py)",
    "mibench/critics/__init__.py": "imports every critic module and builds critic_table, both "
    "checked over every registered critic in tests/critics/test_registry.py",
    "mibench/train/record.py": "a dataclass with no code; every field is checked on real "
    "training results in tests/train/test_stack.py",
    "mibench/core/__init__.py": "a docstring only: the stage's modules are tested in tests/core/",
    "mibench/plan/__init__.py": "a docstring only: the stage's modules are tested in tests/plan/",
    "mibench/execute/__init__.py": "a docstring only: the stage's modules are tested in "
    "tests/execute/",
    "mibench/report/__init__.py": "a docstring only: the stage's modules are tested in "
    "tests/report/",
}

# Folders of tests about several modules together (they mirror no single module).
CROSS_MODULE_FOLDERS: dict[str, str] = {
    "integration": "packaging, the installed wheel, the README examples",
    "stress": "SIGKILL campaigns over the runner, store and lock",
}
# Source folders outside mibench/ that tests/ also mirrors (reverse check only).
OTHER_SOURCES: dict[str, Path] = {"benchmarks": ROOT / "benchmarks"}

# Test files at a mirrored place that are about several modules of their package together.
CROSS_MODULE_FILES: dict[str, str] = {
    "tests/test_layout.py": "this file: the layout of tests/ itself",
    "tests/test_layers.py": "the import direction between the stage packages of mibench/",
    "tests/plots/test_synthetic.py": "the synthetic results folders (tests/plots/synthetic.py) "
    "that the figure, report and claim tests draw from",
    "tests/estimators/test_common.py": "the contract every registered estimator meets, whatever "
    "module defines it",
}


def _stem(name: str) -> str:
    """``test_<stem>.py`` is the test file of module ``<name>.py``."""
    return name.strip("_")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "__pycache__" not in p.parts)


def _owner(test_file: Path, stems: set[str]) -> str | None:
    """The module stem a test file belongs to: ``test_<stem>.py`` or ``test_<stem>_<topic>.py``,
    the longest matching stem winning (``test_api_data.py`` is api_data's, not api's)."""
    name = test_file.stem.removeprefix("test_")
    candidates = [s for s in stems if name == s or name.startswith(f"{s}_")]
    return max(candidates, key=len, default=None)


def _stems_by_folder() -> dict[Path, set[str]]:
    """Mirrored test folder -> the module stems of its source folder."""
    folders: dict[Path, set[str]] = {}
    for module in _modules():
        folder = TESTS / module.parent.relative_to(PACKAGE)
        folders.setdefault(folder, set()).add(_stem(module.stem))
    for name, source in OTHER_SOURCES.items():
        folders[TESTS / name] = {_stem(p.stem) for p in source.glob("*.py")}
    return folders


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("module", _modules(), ids=_relative)
def test_every_module_has_its_test_file(module: Path) -> None:
    if _relative(module) in UNMIRRORED:
        return
    folder = TESTS / module.parent.relative_to(PACKAGE)
    stem = _stem(module.stem)
    stems = _stems_by_folder()[folder]
    owned = [t for t in folder.glob("test_*.py") if _owner(t, stems) == stem]
    assert owned, (
        f"{_relative(module)} has no test file: add {_relative(folder / f'test_{stem}.py')} "
        "(or, for a re-exporting module, a justified entry in UNMIRRORED of tests/test_layout.py)"
    )


def test_the_allow_list_names_modules_that_exist_and_lack_a_direct_test_file() -> None:
    for name in UNMIRRORED:
        module = ROOT / name
        assert module.is_file(), f"UNMIRRORED names a missing module: {name} (drop the entry)"
        direct = TESTS / module.parent.relative_to(PACKAGE) / f"test_{_stem(module.stem)}.py"
        assert not direct.exists(), f"{name} now has {_relative(direct)}: drop its UNMIRRORED entry"


def test_module_stems_are_unique_per_folder() -> None:
    # _x.py and x.py in one folder would both map to test_x.py.
    seen: dict[tuple[Path, str], Path] = {}
    for module in _modules():
        key = (module.parent, _stem(module.stem))
        assert key not in seen, f"{module} and {seen[key]} share the test file name"
        seen[key] = module


def test_every_test_file_names_a_module_or_is_declared_cross_module() -> None:
    stems_by_folder = _stems_by_folder()
    stray = []
    for test_file in _test_files():
        relative = test_file.relative_to(TESTS)
        if relative.parts[0] in CROSS_MODULE_FOLDERS or _relative(test_file) in CROSS_MODULE_FILES:
            continue
        stems = stems_by_folder.get(test_file.parent)
        if stems is None or _owner(test_file, stems) is None:
            stray.append(_relative(test_file))
    assert not stray, (
        f"test files that mirror no module: {stray}; name them test_<module>[_<topic>].py "
        "after the module they test, or move tests of several modules to tests/integration/"
    )


def test_every_test_folder_is_a_package() -> None:
    # Same-named test files in different folders (tests/critics/test_registry.py,
    # tests/tasks/test_registry.py) need package-qualified module names.
    for folder in {p.parent for p in _test_files()} | {TESTS}:
        assert (folder / "__init__.py").is_file(), f"{_relative(folder)} has no __init__.py"


def test_the_declared_exceptions_exist() -> None:
    for folder in CROSS_MODULE_FOLDERS:
        assert (TESTS / folder).is_dir(), folder
    for name in CROSS_MODULE_FILES:
        assert (ROOT / name).is_file(), name
