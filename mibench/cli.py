"""The ``mibench`` command line: thin typer commands over library functions.

Every command validates its input before opening any file; bad input prints one line naming the
bad value and the valid choices and exits with code 2.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from mibench import __version__


def _click_exceptions() -> Any:
    """Click's exception classes: typer vendors click since 0.20; earlier typer used click."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - typer < 0.20
        from click import exceptions
    return exceptions


class _OneLineErrors(TyperGroup):
    """The command group, with every usage error printed as one ``error: ...`` line (exit 2).

    Click prints a usage error as a usage line, a hint and (through typer/rich) a framed box;
    mibench's rule for bad input is one line naming the bad value. The group runs click in
    non-standalone mode, so that the errors reach it, and does what standalone mode would do
    with everything else (exit codes, aborts).
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        exceptions = _click_exceptions()
        no_args_help = getattr(exceptions, "NoArgsIsHelpError", ())
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except no_args_help as error:  # `mibench` alone: the help text, as click prints it
            error.show()
            sys.exit(error.exit_code)
        except exceptions.ClickException as error:
            message = " ".join(error.format_message().split())
            typer.echo(f"error: {message}", err=True)
            sys.exit(2 if isinstance(error, exceptions.UsageError) else error.exit_code)
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


_Read = TypeVar("_Read")

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, cls=_OneLineErrors)
console = Console()


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"mibench {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True)
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Benchmark neural MI estimators on tasks with known ground truth."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)


class ListWhat(StrEnum):
    estimators = "estimators"
    tasks = "tasks"
    critics = "critics"
    claims = "claims"
    suites = "suites"


def _estimator_row(spec: Any) -> list[str]:
    if spec.ceiling_fn is not None:
        ceiling = "see citation (hyper-dependent)"
        with contextlib.suppress(TypeError, ValueError):
            ceiling = f"{spec.ceiling(64):.3g} at K=64"
    else:
        ceiling = "log K" if spec.caps_at_log_k else "-"
    needs = ", ".join(sorted(spec.needs)) or "-"
    return [spec.family, spec.kind, spec.readout, needs, ceiling, spec.citation]


def _estimator_table() -> Table:
    """Built-in estimators, then the entry points of installed plug-in packages (a broken one
    listed with its error: it never stops mibench)."""
    from rich.text import Text

    from mibench.estimators import get, names
    from mibench.plan.plugins import ORIGIN_BUILT_IN, entry_point_rows

    table = Table(title="estimators")
    columns = ("name", "family", "kind", "readout (the reported number)", "needs", "ceiling")
    for column in (*columns, "citation", "origin"):
        table.add_column(column, overflow="fold")
    for name in names():
        table.add_row(name, *_estimator_row(get(name)), ORIGIN_BUILT_IN)
    for row in entry_point_rows():
        if row.plugin is not None:
            cells = [row.name, *_estimator_row(row.plugin.spec), row.origin]
        else:
            cells = [row.name, "-", "broken", row.error, "-", "-", "-", row.origin]
        table.add_row(*(Text(cell) for cell in cells))
    return table


def _task_table() -> Table:
    from rich.text import Text

    from mibench.tasks import get, names

    table = Table(title="tasks")
    for column in ("name", "parameters (defaults)", "ground truth", "description"):
        table.add_column(column, overflow="fold")
    for name in names():
        spec = get(name)
        params = ", ".join(f"{k}={v}" for k, v in spec.defaults.items())
        # Text, not markup: formulas such as levels[min(t // N, L-1)] contain square brackets
        table.add_row(*(Text(cell) for cell in (name, params, spec.truth_source, spec.description)))
    return table


def _suite_table() -> Table:
    """Every suite a name reaches, with its size from the planner (expansion only, no training)."""
    from rich.text import Text

    from mibench.plan import suite as suite_schema

    table = Table(title="suites (mibench run NAME; ./tasks/NAME.toml comes before a shipped one)")
    for column in ("name", "from", "size", "description"):
        table.add_column(column, overflow="fold")
    local = Path.cwd() / suite_schema.SUITE_DIR_NAME
    for name, file in suite_schema.suite_files().items():
        where = f"./{suite_schema.SUITE_DIR_NAME}" if Path(str(file)).parent == local else "shipped"
        try:
            loaded = suite_schema.load_suite(file)
            configs = suite_schema.plan(loaded).configs
        except ValueError as error:  # SuiteError and the registries' errors: list it, say why
            table.add_row(*(Text(cell) for cell in (name, where, "invalid", str(error))))
            continue
        runs, steps = len(configs), sorted({config.n_steps for config in configs})
        span = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
        size = f"{runs} runs x {span} steps"
        table.add_row(*(Text(cell) for cell in (name, where, size, loaded.description)))
    return table


@app.command("list")
def list_command(
    what: Annotated[ListWhat, typer.Argument(help="What to list.")] = ListWhat.estimators,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Estimators: the README's Markdown table.")
    ] = False,
) -> None:
    """List registered estimators, tasks, critics, claims or suites."""
    if markdown and what is not ListWhat.estimators:
        typer.echo(f"error: --markdown lists estimators only, not {what.value}", err=True)
        raise typer.Exit(code=2)
    if markdown:
        from mibench.estimators.catalogue import markdown_table

        typer.echo(markdown_table())
    elif what is ListWhat.estimators:
        console.print(_estimator_table())
    elif what is ListWhat.tasks:
        console.print(_task_table())
    elif what is ListWhat.critics:
        from mibench.critics import critic_table

        console.print(critic_table())
    elif what is ListWhat.suites:
        console.print(_suite_table())
    else:
        from mibench.claims import claim_table

        console.print(claim_table())


def _figures_and_report(suite_dir: Path) -> Sequence[Path]:
    """The run's ``figures`` hook: draw the figures and write report.md and report.html
    (imported only when figures are drawn: matplotlib is slow to import)."""
    from mibench.report.document import write_report_files

    return write_report_files(suite_dir).figures


def _out_path(text: str) -> Path:
    """``--out``: the results root; an empty string is refused (it would mean ``./``)."""
    from mibench.plan.checks import check_out

    return check_out(text)


tasks_app = typer.Typer(no_args_is_help=True, help="Inspect tasks (PMI profiles).")
app.add_typer(tasks_app, name="tasks")


@tasks_app.command(
    "profile", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def tasks_profile_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Task name (mibench list tasks).")],
    samples: Annotated[int, typer.Option("--samples", min=100, help="PMI draws.")] = 200_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the draws.")] = 0,
    step: Annotated[
        int, typer.Option("--step", min=0, help="Training step (staircase level).")
    ] = 0,
    plot: Annotated[
        str, typer.Option("--plot", help="Histogram PNG (default results/profiles/<task id>.png).")
    ] = "",
) -> None:
    """Print the pointwise-MI profile of task NAME and draw its histogram.

    Task parameters follow as --key value (TOML values): mibench tasks profile gaussian --dim 5
    --mi 2. Prints the mean (= I) with its standard error, the standard deviation, skewness and
    quantiles of log p(x, y) - log p(x) - log p(y) over the draws.
    """
    from mibench.tasks import build
    from mibench.tasks.pmi import task_profile

    params = _task_options(ctx.args)
    if plot and Path(plot).suffix.lower() not in (".png", ".svg"):
        raise typer.BadParameter(f"--plot must end in .png or .svg, got {plot!r}")
    try:
        task = build(name, **params)
        profile, values = task_profile(task, n=samples, seed=seed, step=step)
    except (ValueError, TypeError) as error:
        raise typer.BadParameter(str(error)) from None
    path = Path(plot) if plot else Path("results") / "profiles" / f"{task.id}.png"
    console.print(_profile_table(task.id, profile))
    from mibench.plots.drawing import save_figure
    from mibench.plots.pmi import pmi_histogram

    saved = save_figure(pmi_histogram(values, profile, title=task.id), path)
    console.print(f"histogram in {saved}", markup=False, soft_wrap=True)


def _task_options(args: Sequence[str]) -> dict[str, Any]:
    """``--key value`` pairs as task parameters (values read as TOML: numbers, lists, strings)."""
    import tomllib

    if len(args) % 2 or any(not a.startswith("--") for a in args[::2]):
        raise typer.BadParameter(f"task parameters must be --key value pairs, got {' '.join(args)}")
    params: dict[str, Any] = {}
    for key, text in zip(args[::2], args[1::2], strict=True):
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare word: a string (base = cubic)
        params[key[2:].replace("-", "_")] = value
    return params


def _profile_table(task_id: str, profile: Any) -> Table:
    table = Table(title=f"PMI profile of {task_id} ({profile.n} draws, nats)")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    se = f"{profile.mean:.4f} ± {profile.mean_standard_error:.4f}"
    table.add_row("mean (= I)", f"{se}  (true I {profile.true_mi:.4f})")
    table.add_row("std", f"{profile.std:.4f} ± {profile.std_standard_error:.4f}")
    table.add_row("skewness", f"{profile.skewness:.3f}")
    for q, value in profile.quantiles.items():
        table.add_row(f"quantile {q:g}", f"{value:.4f}")
    return table


SuiteArg = Annotated[
    str | None,
    typer.Argument(help="Suite name in tasks/ or path to a .toml (default: tasks/default.toml)."),
]
EstimatorsOption = Annotated[
    str | None, typer.Option(help="'all' or comma-separated names; replaces every grid's list.")
]
TasksOption = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated task names (keep/add those), or TOML tables replacing every "
        "grid's tasks: '{name=\"gaussian\", dim=3, mi=[2, 4]}'."
    ),
]
WorkersOption = Annotated[
    str | None,
    typer.Option(
        help="Dask LocalCluster of N single-thread processes training stacks in parallel "
        "(default: one per CPU core for large plans, else 1 = train in this process, no "
        "Dask); with --cluster, the number of job-queue workers."
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        help="Train on the existing Dask cluster whose scheduler is at this address "
        "(tcp://HOST:8786); results are written here."
    ),
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        help="Start a dask-jobqueue cluster of this kind (slurm, pbs, sge, lsf, htcondor, "
        "oar, moab) from its jobqueue.yaml; needs the 'cluster' extra."
    ),
]
TablesOption = Annotated[
    bool,
    typer.Option(help="Also print every per-setting table (bias/std/MSE, f-MICL, truth)."),
]


@app.command("run")
def run_command(
    suite: SuiteArg = None,
    estimators: EstimatorsOption = None,
    tasks: TasksOption = None,
    steps: Annotated[int | None, typer.Option(help="Training steps per run.")] = None,
    seeds: Annotated[str | None, typer.Option(help="N (seeds 0..N-1), a,b,c or a-b.")] = None,
    batch_sizes: Annotated[
        str | None, typer.Option(help="Comma-separated batch sizes K (>= 2).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N.")] = None,
    dtype: Annotated[str | None, typer.Option(help="float32 or float64.")] = None,
    out: Annotated[str, typer.Option(help="Results root; writes OUT/<suite>/.")] = "results",
    force: Annotated[bool, typer.Option(help="Recompute finished cells.")] = False,
    plots: Annotated[
        bool, typer.Option(help="Draw the figures and write the report at the end.")
    ] = True,
    tables: TablesOption = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Train a suite's cells (finished ones are skipped), store them, write the figures and the
    report, and print the findings: the best estimator per task and MI level, where each family
    saturates or turns unstable, the result claims, and where everything was written."""
    from mibench.execute import runner
    from mibench.plan import suite as suite_schema
    from mibench.report.console import print_report

    options = {"estimators": estimators, "tasks": tasks, "steps": steps, "seeds": seeds,
               "batch_sizes": batch_sizes, "dtype": dtype, "device": device}  # fmt: skip
    overrides = _checked(lambda: suite_schema.overrides_from_options(**options))
    n_workers = _checked(lambda: _workers_option(workers))
    prepared = _checked(lambda: runner.prepare(suite, overrides=overrides, out=_out_path(out)))
    if n_workers is None:
        n_workers = 1 if scheduler or cluster else runner.default_workers(prepared, force=force)
    target = _checked(lambda: _target(n_workers, scheduler, cluster))
    report = _execute(
        lambda: runner.execute(
            prepared,
            force=force,
            console=console,
            show_progress=progress,
            figures=_figures_and_report if plots else None,
            workers=target.workers,
            scheduler=scheduler,
            cluster=cluster,
        ),
        prepared,
    )
    print_report(report, console, tables=tables)


def _target(workers: int, scheduler: str | None, cluster: str | None) -> Any:
    """The validated executor target of ``--workers``/``--scheduler``/``--cluster``."""
    from mibench.execute.executor import Target
    from mibench.plan.suite import SuiteError

    if workers < 1:
        raise SuiteError(f"--workers: must be an integer >= 1, got {workers}")
    target = Target(workers=workers, scheduler=scheduler, cluster=cluster)
    target.validate()
    return target


def _checked(step: Callable[[], _Read]) -> _Read:
    """``step()``; bad input (a suite error, an executor that cannot exist) exits 2 with one
    line, before anything is written."""
    from mibench.execute.executor import ExecutorError
    from mibench.plan.suite import SuiteError

    try:
        return step()
    except (SuiteError, ExecutorError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None


def _execute(step: Callable[[], _Read], prepared: Any = None) -> _Read:
    """``step()`` (the training): an executor that cannot start exits 2, an interrupt 130 (the
    finished runs are kept), a file system failing mid-run 2 where the user can fix it (full,
    read-only, ...; else 1), a run file damaged meanwhile 1, each with one line naming the path."""
    from mibench.execute.executor import ExecutorError
    from mibench.results.store import DamagedFileError

    try:
        return step()
    except ExecutorError as error:  # unreachable scheduler, no dask-jobqueue: nothing written
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: finished runs are kept; run again to continue", err=True)
        raise typer.Exit(code=130) from None
    except OSError as error:  # checked up front; this is a file system failing mid-run
        typer.echo(f"error: {_run_os_error(error, prepared)}", err=True)
        raise typer.Exit(code=2 if _user_fixable(error) else 1) from None
    except DamagedFileError as error:  # a run file damaged while this run read it
        typer.echo(f"error: {error}; run again to retrain it", err=True)
        raise typer.Exit(code=1) from None


def _workers_option(text: str | None) -> int | None:
    """``--workers``: an integer >= 1 (the value typed is echoed when it is not one)."""
    from mibench.plan.suite import SuiteError

    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise SuiteError(f"--workers: must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise SuiteError(f"--workers: must be an integer >= 1, got {text!r}")
    return value


def _path_error(error: OSError) -> str:
    """One line naming the path of a file-system failure."""
    from mibench.results import fserrors

    return fserrors.describe(error)


def _user_fixable(error: OSError) -> bool:
    from mibench.results import fserrors

    return fserrors.user_fixable(error)


def _run_os_error(error: OSError, prepared: Any) -> str:
    """The line for a file system failing mid-run; for a full disk, how much the rest needs."""
    from mibench.execute import runner
    from mibench.results import fserrors

    line = fserrors.describe(error, verb="cannot write")
    if prepared is None or not fserrors.is_disk_full(error):
        return line
    try:
        left, needed = runner.space_needed(prepared)
    except (OSError, ValueError):
        return f"{line}; finished runs are kept: free some space and run again to resume"
    free = fserrors.free_bytes(prepared.suite_dir)
    free_text = "" if free is None else f", {fserrors.megabytes(free)} free"
    return (
        f"{line}; finished runs are kept and {prepared.suite_dir} resumes where it stopped: "
        f"the {left} runs left need about {fserrors.megabytes(needed)}{free_text}"
    )


class FigureFormat(StrEnum):
    png = "png"
    svg = "svg"


SuiteResultsArg = Annotated[
    str,
    typer.Argument(help="Suite name, its .toml file, or its results folder."),
]
ResultsRootOption = Annotated[str, typer.Option(help="Results root; reads OUT/<suite>/.")]
FigureFormatOption = Annotated[FigureFormat, typer.Option("--format", help="Figure file format.")]


def _results_dir(suite: str, out_text: str) -> Path:
    """The results folder of SUITE: the folder itself, OUT/<name> of a suite file, or OUT/SUITE."""
    from mibench.plan.suite import SuiteError, suite_name_of

    try:
        out = _out_path(out_text)
    except SuiteError as error:
        _exit_bad_results(error)
    path = Path(suite)
    if path.is_dir():
        return path
    if path.suffix == ".toml" and path.is_file():
        return out / suite_name_of(path)
    return out / suite


def _exit_bad_results(error: Exception) -> NoReturn:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code=2) from None


def _prepare_views(suite_dir: Path) -> None:
    """Before reading: remove killed writers' temporary files, quarantine damaged runs and
    rebuild an unreadable manifest (one line per file), rebuild a stale or unreadable summary."""
    from mibench.results import integrity, store, views

    if not suite_dir.is_dir():
        return
    try:
        store.clean_leftovers(suite_dir)
        for note in integrity.repair_folder(suite_dir):
            typer.echo(f"warning: {note}", err=True)
        rebuilt = views.refresh_summary(suite_dir)
    except (OSError, ValueError) as error:
        _exit_bad_results(_path_error(error) if isinstance(error, OSError) else error)
    if rebuilt is not None:
        console.print(rebuilt, markup=False, style="dim", soft_wrap=True)


def _from_results(suite: str, out: str, read: Callable[[Path], _Read]) -> tuple[Path, _Read]:
    """SUITE's results folder (temporary files of killed writers removed, a stale summary
    rebuilt) and ``read(folder)``; a folder that cannot be read exits with one line (code 2)."""
    suite_dir = _results_dir(suite, out)
    _prepare_views(suite_dir)
    try:
        return suite_dir, read(suite_dir)
    except (FileNotFoundError, ValueError) as error:
        _exit_bad_results(error)


@app.command("plot")
def plot_command(
    suite: SuiteResultsArg = "default",
    out: ResultsRootOption = "results",
    fmt: FigureFormatOption = FigureFormat.png,
) -> None:
    """Draw every figure of a suite's results into OUT/<suite>/figures/ (no training)."""
    from mibench.plots import draw_figures
    from mibench.results import store

    suite_dir, (drawn, skipped) = _from_results(
        suite, out, lambda folder: draw_figures(folder, fmt=fmt.value)
    )
    for note in skipped:
        console.print(note, markup=False, style="dim", soft_wrap=True)
    figures = store.figures_dir(suite_dir)
    console.print(f"{len(drawn)} figures in {figures}", markup=False, soft_wrap=True)


@app.command("report")
def report_command(
    suite: SuiteResultsArg = "default",
    out: ResultsRootOption = "results",
    fmt: FigureFormatOption = FigureFormat.png,
    redraw: Annotated[
        bool,
        typer.Option(help="Draw every figure again (default: reuse those newer than the summary)."),
    ] = False,
) -> None:
    """Write OUT/<suite>/report.md and a self-contained report.html (figures embedded)."""
    from mibench.report.document import write_report

    def say(note: str) -> None:
        console.print(note, markup=False, style="dim", soft_wrap=True)

    _, (markdown, page) = _from_results(
        suite, out, lambda folder: write_report(folder, fmt=fmt.value, redraw=redraw, say=say)
    )
    console.print(f"wrote {markdown} and {page}", markup=False, soft_wrap=True)


@app.command("show")
def show_command(
    suite: SuiteResultsArg = "default",
    out: ResultsRootOption = "results",
    tables: TablesOption = False,
) -> None:
    """Reprint the findings screen of a finished suite folder (nothing is recomputed)."""
    from mibench.report.console import print_show
    from mibench.results import store

    suite_dir = _results_dir(suite, out)
    if not store.has_summary(suite_dir):
        _exit_bad_results(
            ValueError(
                f"{suite_dir} is not a finished suite folder (no {store.SUMMARY_FILE}); run "
                "`mibench run` first"
            )
        )
    print_show(suite_dir, console, tables=tables)


@app.command("verify")
def verify_command(
    claims: Annotated[
        str | None, typer.Option("--claims", help="Comma-separated claim ids (default: all).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Analytic claims only (seconds; for CI).")
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the results as JSON to this file.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of every claim's random streams.")] = 0,
    device: Annotated[str, typer.Option(help="Device of the training claims.")] = "cpu",
    results: Annotated[
        Path | None,
        typer.Option(
            "--results",
            help="Judge the literature's findings on this finished suite folder's stored runs "
            "(e.g. results/default) instead of running the paper claims.",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Every claim's full evidence, tolerance and source."),
    ] = False,
) -> None:
    """Check the papers' claims: table of id, claim, source, evidence, verdict; exit 1 if any fails.

    With --results DIR, judge the result claims (InfoNCE <= log K on every readout, NWJ variance
    growth, SMILE vs NWJ, ...) on that suite's stored runs: seconds, no training; a claim whose
    data the suite lacks is N/A.
    """
    from mibench.claims import write_results_json

    ids = _claim_ids(claims)
    _check_json_target(json_file)
    _check_verify_device(device)
    verdicts = (
        _judged(results, ids)
        if results is not None
        else _paper_claims(ids, quick, seed=seed, device=device)
    )
    _print_verdicts(verdicts, verbose=verbose)
    if json_file is not None:
        _write_verify_json(write_results_json, verdicts, json_file)
    raise typer.Exit(code=0 if all(v.passed for v in verdicts) else 1)


def _judged(results: Path, ids: list[str] | None) -> list[Any]:
    """The result claims judged on the finished suite folder ``results`` (bad input: exit 2)."""
    from mibench.claims.results import judge
    from mibench.core.interface import UnknownNameError
    from mibench.results import store

    _prepare_views(results)
    if not store.has_summary(results):
        raise typer.BadParameter(
            f"{str(results)!r} is not a finished suite folder (no summary.parquet); run "
            "`mibench run` first or pass e.g. results/default",
            param_hint="--results",
        )
    try:
        return judge(results, ids)
    except UnknownNameError as error:
        raise typer.BadParameter(str(error), param_hint="--claims") from None


def _paper_claims(ids: list[str] | None, quick: bool, *, seed: int, device: str) -> list[Any]:
    """The paper claims run now, one progress line each as they finish (bad ids: exit 2)."""
    from mibench.claims import ClaimContext, ClaimResult, run_claims, select_claims

    try:
        select_claims(ids, quick)
    except (KeyError, ValueError) as error:
        raise typer.BadParameter(str(error), param_hint="--claims") from None

    def progress(result: ClaimResult) -> None:
        console.print(f"{result.verdict} {result.claim_id} ({result.seconds:.1f} s)", markup=False)

    return run_claims(
        ids, quick, context=ClaimContext(seed=seed, device=device), on_result=progress
    )


def _print_verdicts(results: Sequence[Any], *, verbose: bool) -> None:
    """The verdicts as a table of one line per claim, or every claim's full evidence."""
    from mibench.report.console import print_items, print_table
    from mibench.report.verify_views import verbose_lines, verdict_table

    if verbose:
        print_items(console, verbose_lines(results))
    else:
        print_table(console, verdict_table(results), crop_last=True)


@app.command("reproduce")
def reproduce_command(
    name: Annotated[str | None, typer.Argument(help="Reproduction name (see --list).")] = None,
    list_all: Annotated[
        bool, typer.Option("--list", help="List the reproductions and exit.")
    ] = False,
    budget: Annotated[
        str,
        typer.Option(
            help="full (the paper's steps and seeds) or quick (minutes on two CPU cores; every "
            "output says 'quick budget')."
        ),
    ] = "quick",
    out: Annotated[str, typer.Option(help="Results root; writes OUT/<name>[-quick]/.")] = "results",
    force: Annotated[bool, typer.Option(help="Recompute finished cells.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: as `mibench run` picks).")
    ] = None,
) -> None:
    """Train a paper's setting, draw its figure as the paper does and print the verdict table
    (the paper's statement or number, ours, the verdict, and every setting difference)."""
    from mibench import reproduce as reproductions
    from mibench.plan.suite import SuiteError
    from mibench.reproduce.run import prepare

    if list_all:
        table = Table(title="reproductions (mibench reproduce NAME --budget quick|full)")
        for column in ("name", "figure", "what it trains", "budgets"):
            table.add_column(column, overflow="fold")
        for known in reproductions.names():
            item = reproductions.get(known)
            table.add_row(known, item.title, item.summary, ", ".join(item.budgets))
        console.print(table)
        return
    try:
        if name is None:
            raise reproductions.ReproductionError(
                f"give a reproduction NAME or --list; valid choices: {', '.join(reproductions.names())}"
            )
        if workers is not None and workers < 1:
            raise SuiteError(f"--workers: must be an integer >= 1, got {workers}")
        prepare(name, budget, out=_out_path(out))  # every name and value checked, nothing written
    except (reproductions.ReproductionError, SuiteError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    try:
        result = reproductions.reproduce(
            name, budget, out=out, force=force, workers=workers, console=console,
            show_progress=progress,
        )  # fmt: skip
    except KeyboardInterrupt:
        typer.echo("interrupted: finished runs are kept; run again to continue", err=True)
        raise typer.Exit(code=130) from None
    reproductions.print_result(result, console)


def _write_verify_json(write: Callable[..., Any], results: Any, json_file: Path) -> None:
    """``--json``: checked before the claims ran; a file system failing now is one line."""
    try:
        write(results, json_file)
    except OSError as error:
        typer.echo(f"error: {_path_error(error)}", err=True)
        raise typer.Exit(code=2 if _user_fixable(error) else 1) from None


def _claim_ids(claims: str | None) -> list[str] | None:
    """``--claims``: None (all) when not given; an empty list of ids is refused."""
    if claims is None:
        return None
    ids = [c.strip() for c in claims.split(",") if c.strip()]
    if not ids:
        raise typer.BadParameter(
            f"no claim id in {claims!r}; give ids (mibench list claims) or leave --claims out",
            param_hint="--claims",
        )
    return ids


def _check_json_target(json_file: Path | None) -> None:
    """``--json FILE``: a file that can be written, checked before any claim runs."""
    import os
    import tempfile

    if json_file is None:
        return
    if json_file.is_dir():
        raise typer.BadParameter(f"{json_file} is a folder; give a file name", param_hint="--json")
    if not json_file.parent.is_dir():
        raise typer.BadParameter(f"folder {json_file.parent} does not exist", param_hint="--json")
    if json_file.exists() and not os.access(json_file, os.W_OK):
        raise typer.BadParameter(f"{json_file} cannot be written", param_hint="--json")
    try:  # os.access passes for root where a file cannot be made (/proc): make one and remove it
        handle, probe = tempfile.mkstemp(prefix=".mibench-probe-", dir=json_file.parent)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise typer.BadParameter(
            f"cannot write in {json_file.parent} ({reason})", param_hint="--json"
        ) from None
    os.close(handle)
    os.unlink(probe)


def _check_verify_device(device: str) -> None:
    """``--device``: cpu, cuda or cuda:N (where torch sees a GPU), as for ``mibench run``."""
    from mibench.plan.suite import SuiteError, check_device

    try:
        check_device("--device", device)
    except SuiteError as error:
        message = str(error).removeprefix("--device: ")
        raise typer.BadParameter(message, param_hint="--device") from None


if __name__ == "__main__":  # pragma: no cover
    app()
