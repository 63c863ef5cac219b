"""The ``mibench`` command line: thin typer commands over library functions.

Every command validates its input before opening any file; bad input prints one line naming the
bad value and the valid choices and exits with code 2.
"""

from __future__ import annotations

import contextlib
import logging
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mibench import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
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


def _estimator_table() -> Table:
    from mibench.estimators import get, names

    table = Table(title="estimators")
    for column in ("name", "family", "kind", "needs", "ceiling", "citation"):
        table.add_column(column, overflow="fold")
    for name in names():
        spec = get(name)
        if spec.ceiling_fn is not None:
            ceiling = "see citation (hyper-dependent)"
            with contextlib.suppress(TypeError, ValueError):
                ceiling = f"{spec.ceiling(64):.3g} at K=64"
        else:
            ceiling = "log K" if spec.caps_at_log_k else "-"
        needs = ", ".join(sorted(spec.needs)) or "-"
        table.add_row(name, spec.family, spec.kind, needs, ceiling, spec.citation)
    return table


def _task_table() -> Table:
    from mibench.tasks import get, names

    table = Table(title="tasks")
    for column in ("name", "parameters (defaults)", "ground truth", "description"):
        table.add_column(column, overflow="fold")
    for name in names():
        spec = get(name)
        params = ", ".join(f"{k}={v}" for k, v in spec.defaults.items())
        table.add_row(name, params, spec.truth_source, spec.description)
    return table


@app.command("list")
def list_command(
    what: Annotated[ListWhat, typer.Argument(help="What to list.")] = ListWhat.estimators,
) -> None:
    """List registered estimators, tasks, critics or claims."""
    if what is ListWhat.estimators:
        console.print(_estimator_table())
    elif what is ListWhat.tasks:
        console.print(_task_table())
    elif what is ListWhat.critics:
        from mibench.critics import critic_table

        console.print(critic_table())
    else:
        from mibench.claims import claim_table

        console.print(claim_table())


if __name__ == "__main__":  # pragma: no cover
    app()
