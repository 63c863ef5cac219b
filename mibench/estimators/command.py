"""External programs as sample estimators: samples to a file, one number back on standard output.

:func:`CommandEstimator` turns a command line into a
:class:`~mibench.core.interface.SampleEstimator`, so an estimator written in R, Julia or any
language (or a Python one in another environment) runs on mibench's tasks with known truth.

The contract, per estimate:

1. mibench writes the ``n`` joint draws to a fresh temporary folder as two NumPy ``.npy``
   files (float64, C order): ``x.npy`` of shape ``(n, dim_x)`` and ``y.npy`` of shape
   ``(n, dim_y)``; row ``i`` of each is one joint draw. (NumPy's format is one documented
   header plus raw little-endian doubles; R reads it with ``RcppCNPy``, Julia with ``NPZ.jl``.)
2. It runs ``argv`` with the placeholders ``{x}``, ``{y}`` (the two paths), ``{dim_x}``,
   ``{dim_y}`` and ``{n}`` filled in, in mibench's working directory and without a shell.
3. The program prints one finite number, the MI estimate in nats, on standard output (nothing
   else; write logs to standard error) and exits with status 0.

A non-zero exit, running longer than ``timeout_s`` seconds, or an output that is not exactly one
finite number makes the run *failed*: it is recorded with the reason and the tail of the
program's standard error, shown by ``mibench run``, the summary and the report, and the sweep
goes on (the next ``mibench run`` tries failed runs again).

The fingerprint of a command (:mod:`mibench.plan.fingerprint`) is its ``argv``, its timeout and
the contents of every argument that names an existing file (the script), so editing the script
retrains its runs.

Examples:
    >>> import sys
    >>> spec = CommandEstimator(
    ...     [sys.executable, "-c", "import numpy as np, sys; print(np.load(sys.argv[1]).shape[1])",
    ...      "{x}", "{y}"], name="dim_reader")
    >>> import numpy as np
    >>> spec.estimate(np.zeros((10, 3)), np.zeros((10, 2)))
    3.0
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mibench.core.interface import EstimatorFailedError, SampleEstimator

FAMILY = "command"
DEFAULT_TIMEOUT_S = 600.0
STDERR_TAIL_CHARS = 2000  # what a failed run keeps of the program's standard error
PLACEHOLDERS = ("{x}", "{y}", "{dim_x}", "{dim_y}", "{n}")
REQUIRED_PLACEHOLDERS = ("{x}", "{y}")


def stderr_tail(text: str | bytes | None, limit: int = STDERR_TAIL_CHARS) -> str:
    """The last ``limit`` characters of a program's standard error, stripped."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def parse_estimate(stdout: str) -> float:
    """The one finite number ``stdout`` holds; :class:`EstimatorFailedError` otherwise."""
    tokens = stdout.split()
    if len(tokens) != 1:
        shown = stdout.strip()[:200]
        raise EstimatorFailedError(
            f"printed {len(tokens)} tokens, not one number, on standard output: {shown!r}"
        )
    try:
        value = float(tokens[0])
    except ValueError:
        raise EstimatorFailedError(f"printed {tokens[0][:200]!r}, not a number") from None
    if not math.isfinite(value):
        raise EstimatorFailedError(f"printed {tokens[0]!r}, not a finite number")
    return value


@dataclass(frozen=True)
class CommandRunner:
    """The ``sample_fn`` of a :func:`CommandEstimator`: one call = one run of the program."""

    argv: tuple[str, ...]
    timeout_s: float = DEFAULT_TIMEOUT_S

    def command(self, x_path: Path, y_path: Path, n: int, dim_x: int, dim_y: int) -> list[str]:
        """``argv`` with its placeholders filled in."""
        values = {"x": str(x_path), "y": str(y_path), "n": n, "dim_x": dim_x, "dim_y": dim_y}
        return [_fill(arg, values) for arg in self.argv]

    def __call__(self, x: np.ndarray, y: np.ndarray) -> float:
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        with tempfile.TemporaryDirectory(prefix="mibench-command-") as folder:
            x_path, y_path = Path(folder) / "x.npy", Path(folder) / "y.npy"
            np.save(x_path, x)
            np.save(y_path, y)
            command = self.command(x_path, y_path, len(x), x.shape[1], y.shape[1])
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=self.timeout_s, check=False
                )
            except subprocess.TimeoutExpired as error:
                raise EstimatorFailedError(
                    f"timed out after {self.timeout_s:g} s", stderr_tail(error.stderr)
                ) from None
            except OSError as error:  # no such program, not executable
                raise EstimatorFailedError(f"could not start {command[0]!r}: {error}") from None
        if done.returncode != 0:
            raise EstimatorFailedError(
                f"exited with status {done.returncode}", stderr_tail(done.stderr)
            )
        try:
            return parse_estimate(done.stdout)
        except EstimatorFailedError as error:
            raise EstimatorFailedError(error.reason, stderr_tail(done.stderr)) from None

    def mibench_fingerprint(self) -> str:
        """What identifies this command's results: argv, timeout and every file argv names."""
        parts = [repr(self.argv), repr(self.timeout_s)]
        for arg in self.argv:
            path = Path(arg)
            try:
                if path.is_file():
                    parts.append(f"{arg}:{hashlib.sha256(path.read_bytes()).hexdigest()}")
            except OSError:  # an argument too long or odd to be a path
                continue
        return "\n".join(parts)


def _fill(arg: str, values: dict[str, object]) -> str:
    out = arg
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    return out


def CommandEstimator(  # noqa: N802 - reads as the type it builds, beside Estimator/SampleEstimator
    argv: Sequence[str],
    *,
    name: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    citation: str = "",
    readout: str = "",
    description: str = "",
) -> SampleEstimator:
    """A sample estimator that runs an external program (the contract: the module docstring).

    Args:
        argv: the command line, e.g. ``["Rscript", "ksg.R", "{x}", "{y}"]``; must hold ``{x}``
            and ``{y}``; may hold ``{dim_x}``, ``{dim_y}`` and ``{n}``.
        name: the estimator's name in tables and figures.
        timeout_s: seconds one estimate may take before the run fails.
    Raises:
        TypeError: ``argv`` is not a sequence of strings, or ``timeout_s`` not a number.
        ValueError: ``argv`` is empty or lacks ``{x}``/``{y}``, or ``timeout_s <= 0``.
    """
    if isinstance(argv, str) or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"CommandEstimator argv must be a list of strings, got {argv!r}")
    argv = tuple(argv)
    if not argv:
        raise ValueError("CommandEstimator argv is empty; give the program and its arguments")
    missing = [p for p in REQUIRED_PLACEHOLDERS if not any(p in a for a in argv)]
    if missing:
        raise ValueError(
            f"CommandEstimator argv {list(argv)!r} lacks {' and '.join(missing)}: the program "
            f"reads the samples from those paths (placeholders: {', '.join(PLACEHOLDERS)})"
        )
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
        raise TypeError(f"CommandEstimator timeout_s must be a number, got {timeout_s!r}")
    if not timeout_s > 0:
        raise ValueError(f"CommandEstimator timeout_s must be > 0, got {timeout_s!r}")
    return SampleEstimator(
        CommandRunner(argv, float(timeout_s)),
        name=name,
        family=FAMILY,
        citation=citation,
        readout=readout or f"the number printed by {argv[0]} on n joint samples",
        description=description or " ".join(argv),
    )
