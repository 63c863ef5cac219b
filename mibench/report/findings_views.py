"""The findings as a table and as lines: what the run's last screen and the report's Findings show.

Built from :mod:`mibench.report.findings` (nothing is re-estimated) into the plain
:class:`~mibench.report.tables.Table` that the console and the report both render:

* :func:`winner_table`: one row per task and level, the best stable estimator with its robust MSE
  and median bias, the runner-up, and how many of the level's cells were stable;
* :func:`family_lines`: one line per estimator family that saturates at log K or turns unstable
  somewhere in the suite, naming the estimators and the levels;
* :func:`verdict_line`: one line per claim verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mibench.report import findings
from mibench.report.tables import Table
from mibench.results.formatting import number

WINNER_TITLE = "Best stable estimator per level: robust MSE (nats²) and median bias (nats)"
WINNER_NOTE = "robust MSE = median bias² + (IQR/1.349)²; unstable = a readout off > max(10, I)"
PLUG_IN_FAMILY = "plug-in"  # the family of an estimator the registry does not know


def level_text(value: float) -> str:
    """An MI level as the tables head it: ``2``, ``0.693``."""
    return f"{value:.3g}"


def winner_table(winners: Sequence[findings.LevelWinner]) -> Table:
    """One row per (task, level): best, runner-up, "k of n stable" (key: task and level).

    Examples:
        >>> best = findings.Ranked("smile", 0.0123, -0.05)
        >>> winner = findings.LevelWinner("gaussian", 2.0, "I", best, None, 3, 4)
        >>> winner_table([winner]).rows
        (('gaussian', 'I=2', 'smile 0.01 (-0.05)', '-', '3 of 4'),)
    """
    rows = [
        [
            winner.task,
            f"{winner.unit}={level_text(winner.level)}",
            _ranked(winner.best, with_bias=True) if winner.best else "none stable",
            _ranked(winner.runner_up, with_bias=False) if winner.runner_up else "-",
            f"{winner.n_stable} of {winner.n_cells}",
        ]
        for winner in winners
    ]
    columns = ["task", "level", "best (median bias)", "runner-up", "stable"]
    return Table(WINNER_TITLE, columns, rows, [WINNER_NOTE], key_columns=2)


def _ranked(ranked: findings.Ranked, *, with_bias: bool) -> str:
    text = f"{ranked.estimator} {number(ranked.robust_mse)}"
    return f"{text} ({number(ranked.median_bias, signed=True)})" if with_bias else text


def family_of(estimator: str) -> str:
    """The registry family of ``estimator`` (:data:`PLUG_IN_FAMILY` for one it does not know)."""
    from mibench import estimators

    if estimator not in set(estimators.names()):
        return PLUG_IN_FAMILY
    return estimators.get(estimator).family


def family_lines(
    saturated: Iterable[findings.Saturation], unstable: Iterable[findings.Instability]
) -> list[str]:
    """One line per family that saturates or turns unstable, estimators in the figures' order
    (those at the same levels together), levels merged over the tasks: ``"contrastive: at log K
    infonce (I≥8), flatnce (I≥10); unstable flo (I=2-10)"``.

    Examples:
        >>> sat = [findings.Saturation("gaussian", "infonce", 4.16, 6.0, 4.1)]
        >>> family_lines(sat, [findings.Instability("gaussian", "flo", (8.0, 10.0), 0.2)])
        ['contrastive: at log K infonce (I≥6); unstable flo (I=8, 10)']
    """
    lowest: dict[str, float] = {}  # estimator -> the lowest level at which it sits at log K
    for item in saturated:
        lowest[item.estimator] = min(item.from_level, lowest.get(item.estimator, item.from_level))
    levels: dict[str, set[float]] = {}
    for item in unstable:
        levels.setdefault(item.estimator, set()).update(item.levels)
    families: dict[str, list[str]] = {}
    for name in _ordered([*lowest, *levels]):
        families.setdefault(family_of(name), []).append(name)
    lines = []
    for family, members in families.items():
        at_ceiling = {n: (lowest[n], f"I≥{level_text(lowest[n])}") for n in members if n in lowest}
        shaky = {
            n: (min(levels[n]), _levels_text(sorted(levels[n]))) for n in members if n in levels
        }
        said = [
            f"{what} {_grouped(texts)}"
            for what, texts in (("at log K", at_ceiling), ("unstable", shaky))
            if texts
        ]
        lines.append(f"{family}: " + "; ".join(said))
    return lines


def _grouped(texts: dict[str, tuple[float, str]]) -> str:
    """``"infonce (I≥8), flatnce, holder_flatnce (I≥10)"``: names sharing a level text together,
    the groups from the lowest level up."""
    by_text: dict[tuple[float, str], list[str]] = {}
    for name, key in texts.items():
        by_text.setdefault(key, []).append(name)
    return ", ".join(f"{', '.join(names)} ({text})" for (_, text), names in sorted(by_text.items()))


def _levels_text(levels: Sequence[float]) -> str:
    """``I=8-10`` for a run of levels, ``I=2, 8`` otherwise."""
    if len(levels) > 2:
        return f"I={level_text(levels[0])}-{level_text(levels[-1])}"
    return "I=" + ", ".join(level_text(v) for v in levels)


def _ordered(names: Iterable[str]) -> list[str]:
    from mibench.plots.palette import sort_estimators

    return sort_estimators(names)


def verdict_line(verdict: findings.Verdict) -> str:
    """``"PASS  results-infonce-le-log-k: max excess -0.01"``: verdict, claim id, evidence."""
    mark = "N/A" if verdict.verdict == findings.NOT_APPLICABLE else verdict.verdict
    evidence = " ".join(verdict.evidence.split())
    return (
        f"{mark:<4}  {verdict.claim_id}: {evidence}"
        if evidence
        else f"{mark:<4}  {verdict.claim_id}"
    )
