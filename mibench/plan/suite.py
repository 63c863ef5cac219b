"""Suite files: TOML schema, validation with one-line errors, and expansion into run configs.

A suite file (``tasks/*.toml``; the schema is documented in ``tasks/README.md``) has one
``[suite]`` table of run settings and one or more ``[[grid]]`` blocks. Each grid is a product
estimators x tasks (x their swept parameters) x critics x batch sizes x seeds, and may override any
run setting of ``[suite]``. :func:`load_suite` parses and checks every field; :func:`plan` applies
command-line overrides, builds every task (which validates its parameters), checks every name
against the registries, asks :mod:`mibench.plan.resolve` (from what the specs declare; nothing from the
trainer is imported) which estimator-task-critic combinations apply, and returns every cell
resolved once: its frozen :class:`~mibench.core.interface.RunConfig` with its estimator spec, task and
critic spec. Nothing here touches the file system
except reading the suite file, so a bad input is rejected before anything is written.

Every problem raises :class:`SuiteError` (a ValueError) whose message is one line naming where
the problem is, the bad value and the valid choices or range; the CLI prints it and exits with 2.
"""

from __future__ import annotations

import importlib.resources
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib.resources.abc import Traversable
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mibench.core.interface import RunConfig, SampleEstimator, Task

if TYPE_CHECKING:
    from mibench.plan.plugins import Plugin, Resolved
    from mibench.plan.resolve import ResolvedRun

SUITE_DIR_NAME = "tasks"
SHIPPED_SUITES_PACKAGE = "mibench.suites"  # the top-level tasks/, mapped in by pyproject.toml
SUITE_SUFFIX = ".toml"
DEFAULT_SUITE = "default"
ALL = "all"
AUTO_CRITIC = "auto"  # per estimator: resolve.default_critic_for(spec, task)
DTYPES = ("float32", "float64")
NEGATIVES = ("offdiag", "derangement")
MIN_BATCH_SIZE = 2
# Ceilings (documented in tasks/README.md, "Validation"): past them a plan is refused before any
# memory is spent on it. Seeds and runs are counted before they are expanded.
MAX_SEEDS = 10_000  # seeds per setting
MAX_SEED = 2**63 - 1  # torch generators take 64-bit seeds
MAX_STEPS = 100_000_000  # training steps per run
MAX_BATCH_SIZE = 2**20  # K; the K x K score matrix is also checked against memory
MAX_PLAN_RUNS = 200_000  # cells of one plan (one file pair each)
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DEVICE_PATTERN = re.compile(r"^(cpu|cuda(:[0-9]+)?)$")

# Run settings: allowed in [suite] and, as overrides, in any [[grid]].
_DEFAULTS = RunConfig(estimator="", task="")
SETTING_DEFAULTS: dict[str, Any] = {
    "steps": _DEFAULTS.n_steps,
    "seeds": 1,
    "lr": _DEFAULTS.lr,
    "dtype": _DEFAULTS.dtype,
    "negatives": _DEFAULTS.negatives,
    "eval_every": _DEFAULTS.eval_every,
    "eval_batch_size": None,
    "log_every": "auto",  # AUTO_LOG_EVERY
    "batch_sizes": [_DEFAULTS.batch_size],
    "device": _DEFAULTS.device,
    "sample_size": 5000,  # sample estimators: joint draws per estimate (mibench.train.sample_runs)
}
SUITE_ONLY_KEYS = ("name", "description")
# log_every = "auto": a train readout every max(1, K // AUTO_LOG_EVERY_K) steps. The float64
# readout of one logged step costs a pass over the K x K scores per run, as much as the step's
# loss (at K = 512: 48 % of the step logged every step, measured with benchmarks/bench_suite.py
# --readout-k 512); logging every K/128-th step keeps it a small, K-independent share (K <= 128:
# every step).
AUTO_LOG_EVERY = "auto"
AUTO_LOG_EVERY_K = 128


def resolve_log_every(log_every: int | str, batch_size: int) -> int:
    """The train-readout interval of a cell: ``log_every`` itself, or its ``"auto"`` value at K."""
    if log_every == AUTO_LOG_EVERY:
        return max(1, batch_size // AUTO_LOG_EVERY_K)
    return int(log_every)


GRID_ONLY_KEYS = ("estimators", "exclude", "tasks", "critics", "estimator_params", "systems")


class SuiteError(ValueError):
    """A suite file or command-line override is invalid; ``str(error)`` is one line."""


@dataclass(frozen=True)
class TaskEntry:
    """One ``tasks`` item of a grid: a registry name and parameters (lists are swept)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CriticEntry:
    """One ``critics`` item of a grid: a registry name and its parameters (never swept)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SystemEntry:
    """One ``systems`` item of a grid: a system name and parameters (lists are swept)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Grid:
    """One ``[[grid]]`` block after validation (``settings`` already merged over ``[suite]``)."""

    estimators: str | tuple[Any, ...]  # "all", or names (and objects from mibench.run)
    tasks: tuple[TaskEntry, ...]
    critics: tuple[CriticEntry, ...]
    estimator_params: Mapping[str, Mapping[str, Any]]
    settings: Mapping[str, Any]
    systems: tuple[SystemEntry, ...] = (SystemEntry(name="inbatch"),)
    # Left out of "all" (also of --estimators all): a grid's budget may not fit every estimator.
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A validated suite file."""

    name: str
    description: str
    grids: tuple[Grid, ...]
    source: str = "<memory>"


@dataclass(frozen=True)
class Overrides:
    """Command-line overrides; None leaves the suite's value. ``estimators``/``tasks`` replace
    (estimators) or select (task names) what every grid lists; see :func:`apply_overrides`."""

    estimators: str | tuple[Any, ...] | None = None  # names, or estimator objects (mibench.run)
    tasks: tuple[str, ...] | tuple[TaskEntry, ...] | None = None
    steps: int | None = None
    seeds: int | tuple[int, ...] | None = None
    batch_sizes: tuple[int, ...] | None = None
    dtype: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class Skipped:
    """An estimator-task-critic combination that does not apply, with the trainer's reason."""

    estimator: str
    task: str
    critic: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "estimator": self.estimator,
            "task": self.task,
            "critic": self.critic,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Plan:
    """The expanded suite: unique cells, each resolved once (:class:`~mibench.plan.resolve.ResolvedRun`:
    config, estimator spec, task, critic spec) by run id in a stable order, and the skipped
    combinations."""

    suite: Suite
    runs: Mapping[str, ResolvedRun]  # run id -> resolved cell
    skipped: tuple[Skipped, ...]
    plugins: Mapping[str, Plugin] = field(default_factory=dict)  # name -> non-built-in estimator

    @cached_property
    def configs(self) -> tuple[RunConfig, ...]:
        """The cells' configs, in the plan's order."""
        return tuple(run.config for run in self.runs.values())

    @cached_property
    def tasks(self) -> Mapping[str, Task]:
        """Run id -> the cell's built task."""
        return {run_id: run.task for run_id, run in self.runs.items()}


# ---------------------------------------------------------------------------------------------
# Field validators: each returns the clean value or raises SuiteError naming `where`.


def _fail(where: str, message: str) -> SuiteError:
    return SuiteError(f"{where}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_at_least(where: str, value: Any, minimum: int) -> int:
    if not _is_int(value) or value < minimum:
        raise _fail(where, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive_float(where: str, value: Any) -> float:
    number_like = isinstance(value, int | float) and not isinstance(value, bool)
    if not number_like or not math.isfinite(value) or value <= 0:
        raise _fail(where, f"must be a finite number > 0, got {value!r}")
    return float(value)


def _choice(where: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _fail(where, f"invalid value {value!r}; valid choices: {', '.join(choices)}")
    return str(value)


def check_seeds(where: str, value: Any) -> tuple[int, ...]:
    """``N`` (seeds 0..N-1) or a list of distinct non-negative integers."""
    if _is_int(value):
        count = _int_at_least(where, value, 1)
        if count > MAX_SEEDS:
            raise _fail(where, f"{count} seeds; at most {MAX_SEEDS} per setting (lower seeds)")
        return tuple(range(count))
    if isinstance(value, list | tuple) and value:
        if len(value) > MAX_SEEDS:
            raise _fail(where, f"{len(value)} seeds; at most {MAX_SEEDS} per setting")
        seeds = tuple(_int_at_least(f"{where}[{i}]", s, 0) for i, s in enumerate(value))
        if max(seeds) > MAX_SEED:
            raise _fail(where, f"seed {max(seeds)} is above {MAX_SEED} (2^63 - 1)")
        if len(set(seeds)) != len(seeds):
            raise _fail(where, f"seeds must be distinct, got {list(value)!r}")
        return seeds
    raise _fail(where, f"must be a count >= 1 or a non-empty list of seeds, got {value!r}")


def check_batch_sizes(where: str, value: Any) -> tuple[int, ...]:
    """A batch size K >= 2 or a non-empty list of them."""
    values = value if isinstance(value, list | tuple) else [value]
    if not values:
        raise _fail(where, "must list at least one batch size")
    sizes = tuple(_int_at_least(f"{where}", v, MIN_BATCH_SIZE) for v in values)
    if max(sizes) > MAX_BATCH_SIZE:
        raise _fail(where, f"batch size {max(sizes)} is above the ceiling {MAX_BATCH_SIZE}")
    return sizes


def check_device(where: str, value: Any) -> str:
    """``cpu`` or ``cuda``/``cuda:N`` (only where torch sees a GPU)."""
    if not isinstance(value, str) or not _DEVICE_PATTERN.match(value):
        raise _fail(where, f"invalid device {value!r}; valid choices: cpu, cuda, cuda:N")
    if value.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise _fail(where, f"device {value!r} is not available here; valid choices: cpu")
    return value


def _check_setting(where: str, key: str, value: Any) -> Any:
    if key == "steps":
        steps = _int_at_least(where, value, 1)
        if steps > MAX_STEPS:
            raise _fail(where, f"{steps} steps per run is above the ceiling {MAX_STEPS}")
        return steps
    if key == "seeds":
        return check_seeds(where, value)
    if key == "lr":
        return _positive_float(where, value)
    if key == "dtype":
        return _choice(where, value, DTYPES)
    if key == "negatives":
        return _choice(where, value, NEGATIVES)
    if key == "log_every":
        if value == AUTO_LOG_EVERY:
            return value
        if not _is_int(value) or value < 1:
            raise _fail(where, f'must be an integer >= 1 or "auto", got {value!r}')
        return int(value)
    if key == "eval_every":
        return _int_at_least(where, value, 1)
    if key == "eval_batch_size":
        return _int_at_least(where, value, MIN_BATCH_SIZE)
    if key == "batch_sizes":
        return check_batch_sizes(where, value)
    if key == "device":
        return check_device(where, value)
    if key == "sample_size":
        return _int_at_least(where, value, MIN_BATCH_SIZE)
    raise AssertionError(key)  # pragma: no cover - keys are checked before


def _check_keys(where: str, table: Any, allowed: Iterable[str]) -> Mapping[str, Any]:
    allowed = list(allowed)
    if not isinstance(table, Mapping):
        raise _fail(where, f"must be a table, got {table!r}")
    for key in table:
        if key not in allowed:
            raise _fail(where, f"unknown key {key!r}; valid keys: {', '.join(allowed)}")
    return table


def _check_name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, f"must be a non-empty string, got {value!r}")
    return value


def _check_task_entry(where: str, item: Any) -> TaskEntry:
    if isinstance(item, str):
        return TaskEntry(name=_check_name(where, item))
    if not isinstance(item, Mapping) or "name" not in item:
        raise _fail(where, f"must be a task name or a table with a 'name' key, got {item!r}")
    params = {k: v for k, v in item.items() if k != "name"}
    if "mi" in params and "rho" in params:  # each fixes the other: one would silently win
        raise _fail(
            where,
            f"gives both mi = {params['mi']!r} and rho = {params['rho']!r}; give one of them "
            "(the correlation rho fixes the MI)",
        )
    return TaskEntry(name=_check_name(f"{where}.name", item["name"]), params=params)


def check_task_entries(where: str, value: Any) -> tuple[TaskEntry, ...]:
    """A non-empty list of task names or ``{name = ..., param = value | [values]}`` tables."""
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise _fail(where, f"must be a non-empty list of tasks, got {value!r}")
    return tuple(_check_task_entry(f"{where}[{i}]", item) for i, item in enumerate(value))


def _check_critics(where: str, value: Any) -> tuple[CriticEntry, ...]:
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise _fail(where, f"must be a non-empty list of critics, got {value!r}")
    out = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            out.append(CriticEntry(name=_check_name(at, item)))
        elif isinstance(item, Mapping) and "name" in item:
            params = {k: v for k, v in item.items() if k != "name"}
            out.append(CriticEntry(name=_check_name(f"{at}.name", item["name"]), params=params))
        else:
            raise _fail(at, f"must be a critic name or a table with a 'name' key, got {item!r}")
    return tuple(out)


def check_systems(where: str, value: Any) -> tuple[SystemEntry, ...]:
    """A non-empty list of system names or ``{name = ..., param = value | [values]}`` tables."""
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise _fail(where, f"must be a non-empty list of systems, got {value!r}")
    out = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            out.append(SystemEntry(name=_check_name(at, item)))
        elif isinstance(item, Mapping) and "name" in item:
            params = {k: v for k, v in item.items() if k != "name"}
            out.append(SystemEntry(name=_check_name(f"{at}.name", item["name"]), params=params))
        else:
            raise _fail(at, f"must be a system name or a table with a 'name' key, got {item!r}")
    return tuple(out)


def expand_system_params(where: str, entry: SystemEntry) -> list[dict[str, Any]]:
    """Every parameter combination of one system entry over its defaults, each validated."""
    from mibench import systems

    axes = [
        [(k, v) for v in (value if _is_sequence(value) else [value])]
        for k, value in entry.params.items()
    ]
    combos = []
    for combo in product(*axes):
        try:
            combos.append(systems.resolve_system_params(entry.name, dict(combo)))
        except ValueError as error:
            raise _fail(where, str(error)) from None
    return combos


def check_estimators(where: str, value: Any) -> str | tuple[Any, ...]:
    """``"all"`` or a non-empty list of estimator names (``all`` among them: every built-in
    one), checked against the registry and the plug-ins later (:mod:`mibench.plan.plugins`).
    From Python (:func:`mibench.run`) the list may also hold estimator objects."""
    if isinstance(value, str) and value == ALL:
        return ALL
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise _fail(where, f"must be 'all' or a non-empty list of estimator names, got {value!r}")
    return tuple(
        _check_name(f"{where}[{i}]", v) if isinstance(v, str) else v for i, v in enumerate(value)
    )


def _check_exclude(where: str, value: Any) -> tuple[str, ...]:
    """A list of estimator names that ``"all"`` leaves out (checked against the registry later)."""
    if not isinstance(value, list | tuple):
        raise _fail(where, f"must be a list of estimator names, got {value!r}")
    return tuple(_check_name(f"{where}[{i}]", v) for i, v in enumerate(value))


def _check_estimator_params(where: str, value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a table of estimator name -> parameter table, got {value!r}")
    out = {}
    for name, params in value.items():
        if not isinstance(params, Mapping):
            raise _fail(f"{where}.{name}", f"must be a table of parameters, got {params!r}")
        out[name] = dict(params)
    return out


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_suite(document: Mapping[str, Any], *, source: str = "<memory>", name: str = "") -> Suite:
    """Validate a parsed TOML document; ``name`` is the fallback suite name (the file stem)."""
    prefix = f"suite {source}"
    _check_keys(prefix, document, ("suite", "grid"))
    head = _check_keys(
        f"{prefix}: [suite]", document.get("suite", {}), (*SUITE_ONLY_KEYS, *SETTING_DEFAULTS)
    )
    suite_name = head.get("name", name)
    if not isinstance(suite_name, str) or not _NAME_PATTERN.match(suite_name):
        raise _fail(
            f"{prefix}: [suite].name",
            f"must match {_NAME_PATTERN.pattern} (it names the results folder), got {suite_name!r}",
        )
    description = head.get("description", "")
    if not isinstance(description, str):
        raise _fail(f"{prefix}: [suite].description", f"must be a string, got {description!r}")
    base = dict(SETTING_DEFAULTS)
    for key, value in head.items():
        if key in SETTING_DEFAULTS:
            base[key] = _check_setting(f"{prefix}: [suite].{key}", key, value)
    base["seeds"] = check_seeds(f"{prefix}: [suite].seeds", base["seeds"])
    base["batch_sizes"] = check_batch_sizes(f"{prefix}: [suite].batch_sizes", base["batch_sizes"])
    raw_grids = document.get("grid")
    if not isinstance(raw_grids, list) or not raw_grids:
        raise _fail(prefix, "needs at least one [[grid]] block")
    grids = []
    for index, raw in enumerate(raw_grids, start=1):
        at = f"{prefix}: grid {index}"
        _check_keys(at, raw, (*GRID_ONLY_KEYS, *SETTING_DEFAULTS))
        for required in ("estimators", "tasks"):
            if required not in raw:
                raise _fail(at, f"missing key {required!r}")
        settings = dict(base)
        for key, value in raw.items():
            if key in SETTING_DEFAULTS:
                settings[key] = _check_setting(f"{at}.{key}", key, value)
        grids.append(
            Grid(
                estimators=check_estimators(f"{at}.estimators", raw["estimators"]),
                tasks=check_task_entries(f"{at}.tasks", raw["tasks"]),
                critics=_check_critics(f"{at}.critics", raw.get("critics", ["separable"])),
                estimator_params=_check_estimator_params(
                    f"{at}.estimator_params", raw.get("estimator_params", {})
                ),
                settings=settings,
                systems=check_systems(f"{at}.systems", raw.get("systems", ["inbatch"])),
                exclude=_check_exclude(f"{at}.exclude", raw.get("exclude", [])),
            )
        )
    return Suite(name=suite_name, description=description, grids=tuple(grids), source=source)


def shipped_suite_dir() -> Traversable | None:
    """The suites shipped with the package, or None where there are none.

    ``mibench.suites`` is the repository's top-level ``tasks/`` (pyproject.toml maps that folder
    into the package, so there is one copy of each suite file); importlib.resources finds it in a
    wheel install and in an editable one. A checkout used without installing it (``mibench`` on
    ``PYTHONPATH``) has no such package, so its own ``tasks/`` is used.
    """
    try:
        return importlib.resources.files(SHIPPED_SUITES_PACKAGE)
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / SUITE_DIR_NAME
        return checkout if checkout.is_dir() else None


def suite_files() -> dict[str, Path | Traversable]:
    """Every suite a bare name reaches, name -> file, sorted by name.

    ``./tasks/NAME.toml`` (the working folder's own suites) comes before the shipped suite of the
    same name (:func:`shipped_suite_dir`).
    """
    found: dict[str, Path | Traversable] = {}
    local = Path.cwd() / SUITE_DIR_NAME
    if local.is_dir():
        for path in local.glob(f"*{SUITE_SUFFIX}"):
            if path.is_file():
                found[path.stem] = path
    shipped = shipped_suite_dir()
    if shipped is not None and shipped.is_dir():
        for entry in shipped.iterdir():
            stem = entry.name.removesuffix(SUITE_SUFFIX)
            if entry.name.endswith(SUITE_SUFFIX) and entry.is_file() and stem not in found:
                found[stem] = entry
    return dict(sorted(found.items()))


def available_suites() -> list[str]:
    """Names of the suites found by :func:`suite_files` (``./tasks`` and the shipped ones)."""
    return list(suite_files())


def resolve_suite(name_or_path: str | Path | Traversable | None) -> Path | Traversable:
    """A suite file from a path or a bare name; lookup order: an existing file at that path,
    ``./tasks/NAME.toml``, then the shipped suite NAME (``default`` when None). A Traversable
    that is not a path (an entry of :func:`suite_files`) is returned as it is."""
    if name_or_path is not None and not isinstance(name_or_path, str | Path):
        return name_or_path
    target = str(name_or_path) if name_or_path is not None else DEFAULT_SUITE
    path = Path(target)
    if path.is_file():
        return path
    if path.suffix != SUITE_SUFFIX and "/" not in target:
        found = suite_files().get(target)
        if found is not None:
            return found
    choices = ", ".join(available_suites()) or "(none found)"
    raise SuiteError(f"suite {target!r} not found; valid choices: {choices} or a path to a .toml")


def load_suite(name_or_path: str | Path | Traversable | None = None) -> Suite:
    """Read, parse and validate a suite file (see :func:`resolve_suite` for the lookup)."""
    path = resolve_suite(name_or_path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"suite {path}: not valid TOML: {_toml_error(error, path)}") from None
    except UnicodeDecodeError as error:
        raise SuiteError(f"suite {path}: not valid UTF-8 text: {error.reason}") from None
    return parse_suite(document, source=str(path), name=path.name.removesuffix(SUITE_SUFFIX))


def parse_task_option(text: str) -> tuple[str, ...] | tuple[TaskEntry, ...]:
    """``--tasks``: comma-separated names, or TOML task tables (``{name="gaussian", mi=[2, 4]}``)."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            value = tomllib.loads(f"tasks = {stripped}")["tasks"]
        except tomllib.TOMLDecodeError as error:
            raise SuiteError(
                f"--tasks: {text!r} is not a valid TOML table or array: {error}"
            ) from None
        return check_task_entries("--tasks", value)
    names = tuple(n.strip() for n in stripped.split(",") if n.strip())
    if not names:
        raise SuiteError("--tasks: give at least one task name")
    return names


def _toml_error(error: tomllib.TOMLDecodeError, path: Path) -> str:
    """tomllib's message with the offending line quoted ("Cannot overwrite a value" is a
    duplicate key: say so)."""
    message = str(error)
    if message.startswith("Cannot overwrite a value") or message.startswith("Cannot declare"):
        message = f"a key or table given twice ({message})"
    found = re.search(r"at line (\d+)", message)
    line_number = int(found.group(1)) if found else None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return message
    if isinstance(line_number, int) and 1 <= line_number <= len(lines):
        return f"{message}: {lines[line_number - 1].strip()!r}"
    return message


def parse_seeds_option(text: str) -> int | tuple[int, ...]:
    """``--seeds``: ``N`` (seeds 0..N-1), ``a,b,c`` (those seeds) or ``a-b`` (inclusive range)."""
    stripped = text.strip()
    try:
        if "," in stripped:
            seeds: int | tuple[int, ...] = tuple(int(s) for s in stripped.split(",") if s.strip())
        elif "-" in stripped[1:]:
            lo, hi = (int(v) for v in stripped.split("-", 1))
            count = hi - lo + 1
            # Counted before the range is built (0-999999999 would fill the memory).
            seeds = tuple(range(lo, hi + 1)) if count <= MAX_SEEDS else (lo, hi)
        else:
            seeds = int(stripped)
    except ValueError:
        seeds = ()
    if seeds == ():  # unparsable, or an empty list or range (3-1): echo what was typed
        raise SuiteError(
            f"--seeds: invalid value {text!r}; valid forms: N, a,b,c or a-b with a <= b (integers)"
        )
    count = seeds if isinstance(seeds, int) else len(seeds)
    if "-" in stripped[1:] and "," not in stripped:
        count = seeds[-1] - seeds[0] + 1 if isinstance(seeds, tuple) else count
    if count > MAX_SEEDS:
        raise SuiteError(f"--seeds: {text!r} is {count} seeds; at most {MAX_SEEDS} per setting")
    return seeds


def parse_int_list_option(option: str, text: str) -> tuple[int, ...]:
    """A comma-separated list of integers (``--batch-sizes 16,64``)."""
    try:
        values = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise SuiteError(
            f"{option}: invalid value {text!r}; expected integers like 16,64"
        ) from None
    if not values:
        raise SuiteError(f"{option}: give at least one value, got {text!r}")
    return values


def parse_estimators_option(text: str) -> str | tuple[str, ...]:
    """``--estimators``: ``all`` or comma-separated estimator names."""
    if text.strip() == ALL:
        return ALL
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise SuiteError(
            f"--estimators: give 'all' or comma-separated estimator names, got {text!r}"
        )
    return names


def overrides_from_options(
    *,
    estimators: str | None = None,
    tasks: str | None = None,
    steps: int | None = None,
    seeds: str | None = None,
    batch_sizes: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
) -> Overrides:
    """The :class:`Overrides` of ``mibench run``'s options as typed (None: not given)."""
    # Parsed in the order of the options, so the first bad one is the one reported.
    names = None if estimators is None else parse_estimators_option(estimators)
    entries = None if tasks is None else parse_task_option(tasks)
    seed_list = None if seeds is None else parse_seeds_option(seeds)
    sizes = None if batch_sizes is None else parse_int_list_option("--batch-sizes", batch_sizes)
    return Overrides(
        estimators=names,
        tasks=entries,
        steps=steps,
        seeds=seed_list,
        batch_sizes=sizes,
        dtype=dtype,
        device=device,
    )


def suite_name_of(path: Path) -> str:
    """The name a suite file's results folder has (``[suite] name``, else the file's stem),
    without validating the suite; a file that is not TOML has its stem."""
    stem = Path(path).stem
    try:  # AttributeError: a [suite] that is not a table
        return str(tomllib.loads(Path(path).read_text()).get("suite", {}).get("name", stem))
    except (tomllib.TOMLDecodeError, AttributeError):
        return stem


# ---------------------------------------------------------------------------------------------
# Overrides and expansion


def apply_overrides(suite: Suite, overrides: Overrides) -> Suite:
    """The suite with command-line overrides applied to every grid.

    ``estimators`` replaces each grid's list. ``tasks`` given as names keeps, in each grid, the
    entries with those names; a registered name found in no grid is added to every grid with the
    task's default parameters. ``tasks`` given as tables replaces each grid's list. Settings
    (steps, seeds, batch sizes, dtype, device) replace the suite's and grids' values.
    """
    settings: dict[str, Any] = {}
    if overrides.steps is not None:
        settings["steps"] = _check_setting("--steps", "steps", overrides.steps)
    if overrides.seeds is not None:
        settings["seeds"] = check_seeds("--seeds", overrides.seeds)
    if overrides.batch_sizes is not None:
        settings["batch_sizes"] = check_batch_sizes("--batch-sizes", list(overrides.batch_sizes))
    if overrides.dtype is not None:
        settings["dtype"] = _choice("--dtype", overrides.dtype, DTYPES)
    if overrides.device is not None:
        settings["device"] = check_device("--device", overrides.device)
    estimators = (
        None
        if overrides.estimators is None
        else check_estimators("--estimators", overrides.estimators)
    )
    grids = []
    tasks = overrides.tasks
    named = tasks is not None and all(isinstance(t, str) for t in tasks)
    in_suite = {entry.name for grid in suite.grids for entry in grid.tasks}
    for grid in suite.grids:
        new_tasks = grid.tasks
        if tasks is not None and named:
            keep = tuple(e for e in grid.tasks if e.name in tasks)
            extra = tuple(TaskEntry(name=n) for n in tasks if n not in in_suite)
            new_tasks = keep + extra
        elif tasks is not None:
            new_tasks = tuple(tasks)  # type: ignore[arg-type]
        if not new_tasks:
            continue
        grids.append(
            replace(
                grid,
                estimators=grid.estimators if estimators is None else estimators,
                tasks=new_tasks,
                settings={**grid.settings, **settings},
            )
        )
    return replace(suite, grids=tuple(grids))


def _registry_defaults(task_name: str) -> Mapping[str, Any]:
    from mibench import tasks

    return tasks.get(task_name).defaults


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _normalise(value: Any, default: Any) -> Any:
    """Ints become floats where the default is a float, so ``mi = 2`` and ``2.0`` are one cell."""
    if isinstance(default, float) and _is_int(value):
        return float(value)
    if _is_sequence(default) and _is_sequence(value) and default:
        return [_normalise(v, default[0]) for v in value]
    return value


def expand_task_params(entry: TaskEntry) -> list[dict[str, Any]]:
    """Every parameter combination of one task entry, merged over the registry defaults.

    A list value is a sweep, except for a parameter whose default is itself a sequence (the
    staircase ``levels``), which takes the list as one value; give a list of lists to sweep it.
    """
    defaults = _registry_defaults(entry.name)
    axes: list[list[tuple[str, Any]]] = []
    for key, value in entry.params.items():
        sequence_param = _is_sequence(defaults.get(key))
        if _is_sequence(value) and (not sequence_param or (value and _is_sequence(value[0]))):
            if not value:
                raise SuiteError(f"task {entry.name}: parameter {key!r} sweeps an empty list")
            axes.append([(key, v) for v in value])
        else:
            axes.append([(key, value)])
    combos = []
    for combo in product(*axes):
        params = dict(defaults)
        for key, value in combo:
            params[key] = _normalise(
                list(value) if _is_sequence(value) else value, defaults.get(key)
            )
        combos.append(params)
    return combos


def _expand_estimator_params(spec: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    from mibench.plan import hyper

    axes = [
        [(k, v) for v in (value if _is_sequence(value) else [value])] for k, value in params.items()
    ]
    combos = []
    for combo in product(*axes):
        overrides = {k: _normalise(v, spec.hyper.get(k)) for k, v in combo}
        chosen = spec.with_hyper(**overrides)  # ValueError on an unknown hyperparameter
        if overrides:
            hyper.check_values(spec, chosen)  # ValueError on a value the trainer would refuse
        combos.append(dict(chosen.hyper))
    return combos


def _grid_estimators(grid: Grid) -> list[Resolved]:
    """The grid's estimators resolved (:mod:`mibench.plan.plugins`): ``all`` is every built-in
    one the grid does not ``exclude``, in registration order; a name or object given twice
    counts once."""
    from mibench import estimators
    from mibench.plan import plugins

    for name in grid.exclude:
        estimators.get(name)  # UnknownNameError lists the valid names
    every = [n for n in estimators.registration_order() if n not in grid.exclude]
    entries = (ALL,) if grid.estimators == ALL else grid.estimators
    resolved: list[Resolved] = []
    for entry in entries:
        names = every if entry == ALL else [entry]
        resolved.extend(plugins.resolve(name) for name in names)
    plugins.check_unique(resolved)
    unique = {(r.spec.name, r.fingerprint): r for r in resolved}
    return list(unique.values())


def _estimator_params_of(grid: Grid, resolved: Sequence[Resolved]) -> dict[str, Mapping]:
    """``estimator_params`` by estimator name: a key names a grid estimator (as given, or by
    its name) or a built-in one; anything else is an error naming the valid keys."""
    from mibench import estimators

    by_key = {r.given: r.spec.name for r in resolved} | {r.spec.name: r.spec.name for r in resolved}
    out: dict[str, Mapping] = {}
    for key, params in grid.estimator_params.items():
        if key in by_key:
            out[by_key[key]] = params
        elif key not in estimators.names():
            valid = sorted(set(by_key) | set(estimators.names()))
            raise ValueError(f"unknown estimator {key!r}; valid choices: {', '.join(valid)}")
    return out


def _resolve_critic(entry: CriticEntry) -> dict[str, Any]:
    """The critic's parameters over its defaults (unknown name or key: ValueError).

    For ``auto`` the parameters are kept as given; each must be accepted by some critic.
    """
    from mibench import critics

    if entry.name != AUTO_CRITIC:
        return critics.resolve_params(entry.name, dict(entry.params))
    accepted = sorted({key for name in critics.names() for key in critics.get(name).defaults})
    for key in entry.params:
        if key not in accepted:
            raise ValueError(f"no critic has a parameter {key!r}; valid: {', '.join(accepted)}")
    return dict(entry.params)


def _auto_critic(spec: Any, task: Task, params: Mapping[str, Any]) -> tuple[str, dict]:
    """The trainer's default critic for the estimator's layout, with the ``auto`` parameters
    that critic accepts over its defaults."""
    from mibench import critics
    from mibench.plan import resolve

    name = resolve.default_critic_for(spec, task)
    accepted = critics.get(name).defaults
    return name, critics.resolve_params(name, {k: v for k, v in params.items() if k in accepted})


def _add_sample_cells(
    spec: SampleEstimator,
    entry: TaskEntry,
    params: dict[str, Any],
    task: Task,
    hyper_sets: list[dict[str, Any]],
    settings: Mapping[str, Any],
    suite_name: str,
    runs: dict[str, ResolvedRun],
    skipped: dict[tuple[str, str, str, str], Skipped],
    fingerprint: str = "",
) -> None:
    """The cells of a sample estimator on one task (one per hyperparameter set and seed), or a
    skipped note; see :mod:`mibench.train.sample_runs` for the canonical cell."""
    from mibench.plan import resolve

    name = spec.name
    reason = resolve.compatibility(spec, task, resolve.SAMPLE_CRITIC)
    if reason is not None:
        key = (name, entry.name, resolve.SAMPLE_CRITIC, reason)
        skipped.setdefault(key, Skipped(name, entry.name, resolve.SAMPLE_CRITIC, reason))
        return
    for hyper, seed in product(hyper_sets, settings["seeds"]):
        config = resolve.sample_config(
            estimator=name,
            task_name=entry.name,
            task=task,
            task_params=params,
            estimator_params=hyper,
            seed=seed,
            sample_size=settings["sample_size"],
            steps=settings["steps"],
            suite=suite_name,
            estimator_fingerprint=fingerprint,
        )
        if config.cell_hash() not in runs:
            runs[config.cell_hash()] = resolve.ResolvedRun(
                config, resolve.resolve_estimator(config, spec), task, None
            )


def plan(suite: Suite, overrides: Overrides | None = None) -> Plan:
    """Expand ``suite`` (after ``overrides``) into unique cells; every name and value is checked.

    Raises SuiteError (one line) on any invalid input; builds no files.
    """
    from mibench import critics, systems
    from mibench import tasks as task_registry
    from mibench.plan import plugins, resolve

    if overrides is not None:
        suite = apply_overrides(suite, overrides)
    if not suite.grids:
        raise SuiteError(f"suite {suite.source}: no grid has a task left after --tasks")
    runs: dict[str, ResolvedRun] = {}
    skipped: dict[tuple[str, str, str, str], Skipped] = {}
    every: list[Resolved] = []
    for index, grid in enumerate(suite.grids, start=1):
        at = f"suite {suite.source}: grid {index}"
        try:
            chosen = _grid_estimators(grid)
            plugins.check_unique([*every, *chosen])  # one name, one estimator, in every grid
        except ValueError as error:  # PluginError, UnknownNameError
            raise _fail(f"{at}.estimators", str(error)) from None
        every.extend(chosen)
        try:
            params_of = _estimator_params_of(grid, chosen)
        except ValueError as error:
            raise _fail(f"{at}.estimator_params", str(error)) from None
        specs = {r.spec.name: r for r in chosen}
        names = list(specs)
        critic_params: list[dict[str, Any]] = []
        for c_index, entry in enumerate(grid.critics):
            try:
                critic_params.append(_resolve_critic(entry))
            except (ValueError, TypeError) as error:
                raise _fail(f"{at}.critics[{c_index}] ({entry.name})", str(error)) from None
        checked_params: set[tuple[int, str]] = set()
        task_cells: list[tuple[TaskEntry, dict[str, Any], Task]] = []
        for t_index, entry in enumerate(grid.tasks):
            where = f"{at}.tasks[{t_index}] ({entry.name})"
            try:
                for params in expand_task_params(entry):
                    task_cells.append((entry, params, task_registry.build(entry.name, **params)))
            except (ValueError, TypeError) as error:
                raise _fail(where, str(error)) from None
        hyper_sets: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            try:
                hyper_sets[name] = _expand_estimator_params(
                    specs[name].spec, params_of.get(name, {})
                )
            except (ValueError, TypeError) as error:
                raise _fail(f"{at}.estimator_params.{name}", str(error)) from None
        system_cells = [
            (entry.name, params)
            for s_index, entry in enumerate(grid.systems)
            for params in expand_system_params(f"{at}.systems[{s_index}] ({entry.name})", entry)
        ]
        s = grid.settings
        critic_items = list(enumerate(grid.critics))
        for name, (entry, params, task), (c_index, critic) in product(
            names, task_cells, critic_items
        ):
            spec, fingerprint = specs[name].spec, specs[name].fingerprint
            if isinstance(spec, SampleEstimator):  # no critic: one set of cells per task
                if c_index == 0:
                    _add_sample_cells(spec, entry, params, task, hyper_sets[name], s, suite.name,
                                      runs, skipped, fingerprint)  # fmt: skip
                continue
            critic_name, chosen_params = critic.name, critic_params[c_index]
            if critic_name == AUTO_CRITIC:
                critic_name, chosen_params = _auto_critic(spec, task, chosen_params)
            critic_spec = critics.get(critic_name)
            reason = resolve.compatibility(spec, task, critic_spec)
            if reason is not None:
                key = (name, entry.name, critic_name, reason)
                skipped.setdefault(key, Skipped(name, entry.name, critic_name, reason))
                continue
            if (c_index, critic_name) not in checked_params:  # values, by the declared schema
                try:
                    critics.check_params(critic_spec, chosen_params)
                except (ValueError, TypeError) as error:
                    where = f"{at}.critics[{c_index}] ({critic_name})"
                    raise _fail(where, str(error)) from None
                checked_params.add((c_index, critic_name))
            for (system, system_params), hyper, batch_size, seed in product(
                system_cells, hyper_sets[name], s["batch_sizes"], s["seeds"]
            ):
                config = RunConfig.make(
                    estimator=name,
                    task=entry.name,
                    task_params=params,
                    estimator_params=hyper,
                    critic=critic_name,
                    critic_params=chosen_params,
                    batch_size=batch_size,
                    n_steps=s["steps"],
                    lr=s["lr"],
                    seed=seed,
                    dtype=s["dtype"],
                    negatives=s["negatives"],
                    eval_every=s["eval_every"],
                    eval_batch_size=s["eval_batch_size"],
                    log_every=resolve_log_every(s["log_every"], batch_size),
                    suite=suite.name,
                    device=s["device"],
                    system=system,
                    system_params=system_params if system != "inbatch" else {},
                    estimator_fingerprint=fingerprint,
                )
                resolved = resolve.resolve_estimator(config, spec)
                system_reason = systems.system_compatibility(config, resolved)
                if system_reason is not None:
                    key = (name, entry.name, critic_name, system_reason)
                    skipped.setdefault(key, Skipped(name, entry.name, critic_name, system_reason))
                    continue
                run_id = config.cell_hash()
                if run_id not in runs:
                    runs[run_id] = resolve.ResolvedRun(config, resolved, task, critic_spec)
                    if len(runs) > MAX_PLAN_RUNS:  # before the rest is expanded
                        raise SuiteError(
                            f"suite {suite.source}: more than {MAX_PLAN_RUNS} runs; lower seeds, "
                            "batch sizes or the task/estimator lists"
                        )
    if not runs:
        reasons = "; ".join(sorted({s.reason for s in skipped.values()})) or "empty grid"
        raise SuiteError(
            f"suite {suite.source}: nothing to run: every combination was skipped ({reasons})"
        )
    used = {(run.config.estimator, run.config.estimator_fingerprint) for run in runs.values()}
    found = {r.spec.name: r.plugin for r in every if r.plugin is not None}
    kept = {name: p for name, p in found.items() if (name, p.fingerprint) in used}
    return Plan(suite=suite, runs=runs, skipped=tuple(skipped.values()), plugins=kept)


def _estimator_label(entry: Any) -> str:
    """How suite.json names a grid's estimator: as written, or an object by its name."""
    if isinstance(entry, str):
        return entry
    return str(getattr(entry, "name", None) or getattr(entry, "__name__", type(entry).__name__))


def suite_record(suite: Suite) -> dict[str, Any]:
    """A JSON-ready description of the resolved suite (written as ``suite.json``)."""
    return {
        "name": suite.name,
        "description": suite.description,
        "source": suite.source,
        "grids": [
            {
                "estimators": grid.estimators
                if grid.estimators == ALL
                else [_estimator_label(e) for e in grid.estimators],
                **({"exclude": list(grid.exclude)} if grid.exclude else {}),
                "tasks": [{"name": e.name, **e.params} for e in grid.tasks],
                "critics": [{"name": c.name, **c.params} for c in grid.critics],
                "estimator_params": {k: dict(v) for k, v in grid.estimator_params.items()},
                "systems": [{"name": e.name, **e.params} for e in grid.systems],
                "settings": {
                    k: list(v) if isinstance(v, tuple) else v for k, v in grid.settings.items()
                },
            }
            for grid in suite.grids
        ],
    }
