"""The papers' figures, drawn as the papers draw them, from the reproduction's tidy frames.

* :func:`staircase_panels`: Poole et al. (2019) Fig. 2, Song & Ermon (2020) Fig. 1 and CLUB's
  staircases: one panel per estimator, the raw per-step estimate faint and its EMA bold in the
  same colour (one colour per critic), the true MI in black and log K dashed.
* :func:`bias_variance_panels`: Song & Ermon (2020) Fig. 2 and CLUB's bias/variance/MSE figure:
  three rows (bias, variance on a log axis, MSE) against the true MI, one line per estimator.
* :func:`heatmap`: BMI's benchmark table (Czyż et al. 2023): tasks x estimators, colour the
  log2 ratio of the mean estimate to the truth clipped to [-1, 1] (coolwarm), text the mean.
* :func:`training_curves`: FlatNCE (Chen et al. 2021) Fig. 1: the mini-batch estimate (solid)
  and the large-pool estimate (dashed) over training, log K dotted.

Each takes frames and returns a Figure; nothing here reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mibench.reproduce.levels import ema

PANEL_SIZE = (3.6, 3.2)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
RAW_ALPHA = 0.3


def _grid(n_rows: int, n_cols: int, *, sharey: bool = True) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(PANEL_SIZE[0] * n_cols, PANEL_SIZE[1] * n_rows),
        squeeze=False,
        sharey=sharey,
    )
    return fig, axes


def _truth_line(ax: plt.Axes, curve: pd.DataFrame) -> None:
    ordered = curve.sort_values("step")
    ax.plot(ordered["step"], ordered["true_mi"], color="k", lw=1.2, label="true MI")


def staircase_panels(
    train: pd.DataFrame,
    *,
    labels: Sequence[str],
    rows: Sequence[str],
    hues: Sequence[str],
    span: int,
    title: str,
    log_k: float | None,
    ylim: tuple[float, float] = (0.0, 11.0),
    hue_names: dict[str, str] | None = None,
) -> Figure:
    """Panels ``rows x labels`` (row = ``task_label``, column = ``label``), one colour per
    ``critic`` in ``hues``; every seed's raw curve faint, its EMA (``span``) bold."""
    fig, axes = _grid(len(rows), len(labels))
    hue_names = hue_names or {}
    for r, row in enumerate(rows):
        for c, label in enumerate(labels):
            ax = axes[r, c]
            panel = train[(train["task_label"] == row) & (train["label"] == label)]
            for h, hue in enumerate(hues):
                colour = COLOURS[h % len(COLOURS)]
                for _, curve in panel[panel["critic"] == hue].groupby("run_id"):
                    curve = curve.sort_values("step")
                    values = curve["estimate"].to_numpy(dtype=float)
                    ax.plot(curve["step"], values, color=colour, alpha=RAW_ALPHA, lw=0.6)
                    ax.plot(
                        curve["step"],
                        ema(values, span),
                        color=colour,
                        lw=1.6,
                        label=hue_names.get(hue, hue),
                    )
            if len(panel):
                _truth_line(ax, panel[panel["run_id"] == panel["run_id"].iloc[0]])
            else:
                ax.text(0.5, 0.5, "not trained", ha="center", transform=ax.transAxes)
            if log_k is not None:
                ax.axhline(log_k, color="k", ls="--", lw=0.8, label="log K")
            ax.set_ylim(*ylim)
            ax.set_title(label if len(rows) == 1 else f"{label} — {row}", fontsize=10)
            if c == 0:
                ax.set_ylabel("MI (nats)")
            if r == len(rows) - 1:
                ax.set_xlabel("steps")
    _dedupe_legend(axes[0, 0])
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _dedupe_legend(ax: plt.Axes) -> None:
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left")


def bias_variance_panels(
    stats: pd.DataFrame,
    *,
    labels: Sequence[str],
    columns: Sequence[str],
    title: str,
    log_axes: Sequence[str] = ("variance", "mse"),
) -> Figure:
    """Rows bias (absolute, as CLUB plots it), variance and MSE against the true MI (the rows in
    ``log_axes`` on a log axis); one column per ``task_label`` in ``columns``, one line per
    estimator label."""
    fig, axes = _grid(3, len(columns), sharey=False)
    fig.set_size_inches(5.5 * len(columns), PANEL_SIZE[1] * 3)
    metrics = (("abs_bias", "|bias|"), ("variance", "variance"), ("mse", "MSE"))
    for c, column in enumerate(columns):
        part = stats[stats["task_label"] == column]
        for r, (metric, name) in enumerate(metrics):
            ax = axes[r, c]
            for i, label in enumerate(labels):
                line = part[part["label"] == label].sort_values("true_mi")
                if line.empty:
                    continue
                ax.plot(
                    line["true_mi"],
                    line[metric],
                    marker="d",
                    color=COLOURS[i % 7],
                    label=label,
                    lw=1.2,
                )
            if metric in log_axes and (part[metric] > 0).any():
                ax.set_yscale("log")
            ax.set_ylabel(name)
            if r == 0:
                ax.set_title(column, fontsize=10)
            if r == 2:
                ax.set_xlabel("true MI (nats)")
    axes[2, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def heatmap(
    means: pd.DataFrame, log_ratio: pd.DataFrame, *, title: str, caption: str = ""
) -> Figure:
    """Tasks (rows) x estimators (columns): colour ``log_ratio`` clipped to [-1, 1] on
    coolwarm, each cell's text its mean estimate (two decimals)."""
    n_rows, n_cols = means.shape
    fig, ax = plt.subplots(figsize=(1.1 * n_cols + 3.0, 0.34 * n_rows + 1.6))
    colours = np.clip(log_ratio.to_numpy(dtype=float), -1.0, 1.0)
    image = ax.imshow(colours, cmap="coolwarm", vmin=-1.0, vmax=1.0, aspect="auto")
    for i in range(n_rows):
        for j in range(n_cols):
            value = means.iat[i, j]
            text = "" if value is None or not math.isfinite(value) else f"{value:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(n_cols), list(means.columns), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(n_rows), list(means.index), fontsize=7)
    fig.colorbar(image, ax=ax, label="log2(mean estimate / true MI), clipped", shrink=0.6)
    ax.set_title(title + (f"\n{caption}" if caption else ""), fontsize=9)
    fig.tight_layout()
    return fig


def training_curves(
    train: pd.DataFrame,
    heldout: pd.DataFrame,
    *,
    labels: Sequence[str],
    span: int,
    log_k: float,
    true_mi: float,
    title: str,
) -> Figure:
    """One panel: per label, the mini-batch estimate (EMA, solid) and the large-pool held-out
    estimate (dashed), the true MI (thin black) and log K (dotted)."""
    fig, axes = _grid(1, 1)
    ax = axes[0, 0]
    for i, label in enumerate(labels):
        colour = COLOURS[i % len(COLOURS)]
        for _, curve in train[train["label"] == label].groupby("run_id"):
            curve = curve.sort_values("step")
            values = curve["estimate"].to_numpy(dtype=float)
            ax.plot(
                curve["step"], ema(values, span), color=colour, lw=1.4, label=f"{label}: mini-batch"
            )
        for _, curve in heldout[heldout["label"] == label].groupby("run_id"):
            curve = curve.sort_values("step")
            ax.plot(
                curve["step"],
                curve["estimate"],
                color=colour,
                ls="--",
                lw=1.2,
                label=f"{label}: large pool",
            )
    ax.axhline(log_k, color="k", ls=":", lw=1.0, label="log K")
    ax.axhline(true_mi, color="k", lw=0.8, label="true MI")
    ax.set_xlabel("steps")
    ax.set_ylabel("InfoNCE estimate (nats)")
    _dedupe_legend(ax)
    ax.set_title(title, fontsize=9)
    fig.set_size_inches(6.4, 4.4)
    fig.tight_layout()
    return fig


def combine_vertically(figures: Sequence[Figure], *, dpi: int = 120) -> Figure:
    """One figure holding ``figures`` rendered one above the other (each rasterised at ``dpi``),
    for a paper figure pair saved as one file (Song & Ermon's Fig. 1 and Fig. 2)."""
    images = []
    for figure in figures:
        figure.set_dpi(dpi)
        figure.canvas.draw()
        images.append(np.asarray(figure.canvas.buffer_rgba()))
        plt.close(figure)
    width = max(image.shape[1] for image in images)
    heights = [image.shape[0] for image in images]
    combined = plt.figure(figsize=(width / dpi, sum(heights) / dpi), dpi=dpi)
    top = 1.0
    for image, height in zip(images, heights, strict=True):
        share = height / sum(heights)
        ax = combined.add_axes((0.0, top - share, image.shape[1] / width, share))
        ax.imshow(image)
        ax.set_axis_off()
        top -= share
    return combined
