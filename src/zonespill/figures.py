"""Deterministic matplotlib figures.

:func:`save_figure` writes PNG and PDF files that are byte-identical across reruns on the
same machine and library versions: fixed DPI, no software/creation-date metadata, fixed
``svg.hashsalt`` and ``pdf.compression``, TrueType (Type 42) fonts in PDFs, atomic writes.
Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), so the
helpers are safe to call from pipeline steps running in parallel threads or processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from zonespill.errors import InputError
from zonespill.io import atomic_path

__all__ = [
    "DPI",
    "FIGSIZE",
    "UNIFORM_BAND_COLUMNS",
    "deterministic_rc",
    "new_figure",
    "plot_event_study",
    "plot_lines",
    "save_figure",
    "use_agg",
]

DPI = 300
"""Resolution of PNG output."""

FIGSIZE = (6.4, 4.0)
"""Default figure size in inches."""

#: rcParams fixed while saving, so that output bytes never depend on the environment.
_RC_SAVE: dict[RcKeyType, Any] = {
    "svg.hashsalt": "zonespill",
    "pdf.compression": 6,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": DPI,
    "savefig.bbox": None,
    "savefig.transparent": False,
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
}

_PNG_METADATA: dict[str, Any] = {"Software": None}
_PDF_METADATA: dict[str, Any] = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}

#: Accepted column pairs for uniform (simultaneous) confidence bands, checked in order.
UNIFORM_BAND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uniform_lower", "uniform_upper"),
    ("cband_lower", "cband_upper"),
    ("ucb_lower", "ucb_upper"),
)


def use_agg() -> None:
    """Switch matplotlib to the non-interactive Agg backend (headless, deterministic)."""
    mpl.use("Agg", force=True)


@contextmanager
def deterministic_rc() -> Iterator[None]:
    """Context in which the rcParams that affect saved bytes are fixed."""
    with mpl.rc_context(_RC_SAVE):
        yield


def new_figure(figsize: tuple[float, float] = FIGSIZE) -> Figure:
    """A new figure, independent of pyplot's global state."""
    return Figure(figsize=figsize, dpi=100)


def _stem(path_stem: str | os.PathLike[str]) -> Path:
    stem = Path(path_stem)
    if stem.suffix.lower() in {".png", ".pdf"}:
        raise InputError(
            "path_stem must not carry a .png/.pdf suffix (both files are written)", source=str(path_stem)
        )
    return stem


def save_figure(fig: Figure, path_stem: str | os.PathLike[str]) -> list[Path]:
    """Save ``fig`` as ``<path_stem>.png`` and ``<path_stem>.pdf``, deterministically.

    Parameters
    ----------
    fig
        The figure.
    path_stem
        Destination without suffix (e.g. ``results/figures/event_study``); the folder is
        created if needed. The suffixes are appended, so a stem containing dots is kept.

    Returns
    -------
    list of Path
        ``[png, pdf]``.
    """
    stem = _stem(path_stem)
    png = stem.parent / f"{stem.name}.png"
    pdf = stem.parent / f"{stem.name}.pdf"
    with deterministic_rc():
        with atomic_path(png, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=DPI, metadata=_PNG_METADATA)
        with atomic_path(pdf, suffix=".pdf") as tmp:
            fig.savefig(tmp, format="pdf", metadata=_PDF_METADATA)
    return [png, pdf]


def _require(frame: pd.DataFrame, cols: Sequence[str], source: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}", source=source)
    for c in cols:
        if c not in frame.columns:
            raise InputError(
                f"required column is missing (columns present: {list(frame.columns)})",
                source=source,
                rows="all",
                column=c,
            )


def _numeric(frame: pd.DataFrame, col: str, source: str) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = values.isna().to_numpy() & frame[col].notna().to_numpy()
    if bad.any():
        rows = [int(i) + 1 for i in np.flatnonzero(bad)]
        raise InputError("values must be numeric", source=source, rows=rows, column=col)
    return np.asarray(values, dtype=float)


def plot_event_study(
    table: pd.DataFrame,
    *,
    title: str,
    path_stem: str | os.PathLike[str],
    series: str | None = None,
    level: float = 0.95,
    xlabel: str = "Event time e (years relative to treatment)",
    ylabel: str = "ATT",
) -> list[Path]:
    """Event-study plot: point estimates, pointwise CIs, optional uniform bands.

    Parameters
    ----------
    table
        One row per event time (per series): column ``e`` (event time), ``att`` and either
        ``ci_lower`` / ``ci_upper`` or ``se`` (then the pointwise interval is
        ``att ± z·se`` with ``z`` the normal quantile for ``level``). Optional uniform bands
        in one of the column pairs of :data:`UNIFORM_BAND_COLUMNS`
        (``uniform_lower/uniform_upper``, ``cband_lower/cband_upper``,
        ``ucb_lower/ucb_upper``), drawn as wide translucent bars behind the pointwise intervals.
    title
        Figure title.
    path_stem
        Output stem (``.png`` and ``.pdf`` are written).
    series
        Optional column naming several estimates to overlay (e.g. estimator); series are
        offset horizontally so intervals do not overlap, in order of first appearance.
    level
        Confidence level for intervals built from ``se``.
    xlabel, ylabel
        Axis labels.

    Returns
    -------
    list of Path
        ``[png, pdf]``.

    Notes
    -----
    Reference lines: horizontal at 0, vertical dashed at ``e = -1`` (the usual omitted
    pre-period).
    """
    src = "plot_event_study(table)"
    _require(table, ["e", "att"], src)
    if not ("ci_lower" in table.columns and "ci_upper" in table.columns) and "se" not in table.columns:
        raise InputError("need ci_lower/ci_upper or se", source=src, rows="all", column="se")
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level!r}", source="plot_event_study(level)")
    if series is not None:
        _require(table, [series], src)
    band = next((p for p in UNIFORM_BAND_COLUMNS if p[0] in table.columns and p[1] in table.columns), None)

    frame = table.reset_index(drop=True)
    e = _numeric(frame, "e", src)
    att = _numeric(frame, "att", src)
    pointwise_given = "ci_lower" in frame.columns and "ci_upper" in frame.columns
    if pointwise_given:
        lo, hi = _numeric(frame, "ci_lower", src), _numeric(frame, "ci_upper", src)
    else:
        from statistics import NormalDist

        z = NormalDist().inv_cdf(0.5 + level / 2)
        se = _numeric(frame, "se", src)
        lo, hi = att - z * se, att + z * se
    ulo, uhi = (_numeric(frame, band[0], src), _numeric(frame, band[1], src)) if band else (None, None)

    groups = frame[series].astype(str).tolist() if series is not None else [""] * len(frame)
    names = list(dict.fromkeys(groups))
    seen: dict[tuple[str, float], int] = {}
    for i, key in enumerate(zip(groups, e.tolist(), strict=True)):
        if key in seen:
            raise InputError("event time appears twice", source=src, rows=[seen[key] + 1, i + 1], column="e")
        seen[key] = i

    fig = new_figure()
    ax = fig.add_subplot()
    width = 0.5 if len(names) > 1 else 0.0
    offsets = np.linspace(-width / 2, width / 2, len(names)) if len(names) > 1 else np.zeros(1)
    g = np.asarray(groups)
    ci_label = "pointwise CI" if pointwise_given else f"{round(level * 100):g}% pointwise CI"
    for k, name in enumerate(names):
        idx = np.flatnonzero(g == name)
        idx = idx[np.argsort(e[idx], kind="stable")]
        x = e[idx] + offsets[k]
        color = f"C{k % 10}"
        prefix = f"{name}: " if name else ""
        if ulo is not None and uhi is not None:
            ax.vlines(
                x, ulo[idx], uhi[idx], colors=color, alpha=0.25, linewidth=7, label=f"{prefix}uniform band"
            )
        yerr = np.vstack([att[idx] - lo[idx], hi[idx] - att[idx]])
        ax.errorbar(
            x,
            att[idx],
            yerr=yerr,
            fmt="o",
            color=color,
            capsize=2.5,
            markersize=4,
            linewidth=1,
            label=f"{prefix}estimate, {ci_label}",
        )
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.axvline(-1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(e):
        ticks = np.unique(e[np.isfinite(e)])
        if len(ticks) <= 25 and np.allclose(ticks, np.round(ticks)):
            ax.set_xticks(ticks)
    ax.legend(loc="best", fontsize="small", frameon=False)
    fig.tight_layout()
    return save_figure(fig, path_stem)


def plot_lines(
    frame: pd.DataFrame,
    x: str,
    ys: Sequence[str],
    *,
    title: str,
    ylabel: str,
    path_stem: str | os.PathLike[str],
    xlabel: str | None = None,
    labels: Sequence[str] | None = None,
) -> list[Path]:
    """Simple line plot of one or several columns against ``x`` (e.g. sigma by year).

    Parameters
    ----------
    frame
        Data; rows are sorted by ``x`` before plotting.
    x
        Column for the horizontal axis.
    ys
        Columns to draw, one line each (missing values leave gaps).
    title, ylabel
        Figure title and vertical axis label.
    path_stem
        Output stem (``.png`` and ``.pdf`` are written).
    xlabel
        Horizontal axis label; default the name of ``x``.
    labels
        Legend labels, one per column of ``ys``; default the column names.

    Returns
    -------
    list of Path
        ``[png, pdf]``.
    """
    src = "plot_lines(frame)"
    if isinstance(ys, str):
        ys = [ys]
    if not ys:
        raise InputError("ys must name at least one column", source="plot_lines(ys)")
    _require(frame, [x, *ys], src)
    if labels is not None and len(labels) != len(ys):
        raise InputError(
            f"labels has {len(labels)} entries for {len(ys)} columns", source="plot_lines(labels)"
        )
    data = frame.reset_index(drop=True)
    xv = _numeric(data, x, src)
    order = np.argsort(xv, kind="stable")
    fig = new_figure()
    ax = fig.add_subplot()
    for k, col in enumerate(ys):
        yv = _numeric(data, col, src)
        ax.plot(
            xv[order],
            yv[order],
            marker="o",
            markersize=3,
            linewidth=1.2,
            color=f"C{k % 10}",
            label=str(labels[k]) if labels is not None else str(col),
        )
    ax.set_title(title)
    ax.set_xlabel(xlabel if xlabel is not None else str(x))
    ax.set_ylabel(ylabel)
    if len(ys) > 1 or labels is not None:
        ax.legend(loc="best", fontsize="small", frameon=False)
    fig.tight_layout()
    return save_figure(fig, path_stem)
