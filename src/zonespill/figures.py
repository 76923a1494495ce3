"""Deterministic matplotlib figures.

:func:`save_figure` writes PNG and PDF files that are byte-identical across reruns on the
same machine and library versions: fixed DPI, no software/creation-date metadata, fixed
``svg.hashsalt`` and ``pdf.compression``, TrueType (Type 42) fonts in PDFs, atomic writes.
Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), so the
helpers are safe to call from pipeline steps running in parallel threads or processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from zonespill.errors import InputError
from zonespill.io import atomic_path
from zonespill.tables import _require_columns

__all__ = [
    "DPI",
    "FIGSIZE",
    "TREATED_COUNT_COLUMNS",
    "UNIFORM_BAND_COLUMNS",
    "deterministic_rc",
    "event_study_figure",
    "new_figure",
    "plot_event_study",
    "plot_lines",
    "save_figure",
    "treated_units_by_event_time",
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


# the same input check as the tables: one DataFrame check, one message
_require = _require_columns


def _numeric(frame: pd.DataFrame, col: str, source: str) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = values.isna().to_numpy() & frame[col].notna().to_numpy()
    if bad.any():
        rows = [int(i) + 1 for i in np.flatnonzero(bad)]
        raise InputError("values must be numeric", source=source, rows=rows, column=col)
    return np.asarray(values, dtype=float)


#: Columns recognised, in order, as the number of treated units behind each event-time estimate.
TREATED_COUNT_COLUMNS: tuple[str, ...] = ("n_treated", "treated_units", "n_treated_units")


def treated_units_by_event_time(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    anticipation: int = 0,
) -> pd.Series:
    """Number of treated units observed at each event time ``e = time − cohort``.

    Parameters
    ----------
    panel
        Long panel, one row per (unit, time) with the unit's treatment cohort (first treated
        period); never-treated units have a cohort of 0 or missing and are not counted.
    unit, time, cohort
        Column names.
    anticipation
        Not used for the count (event time is always relative to the cohort); accepted so the
        call mirrors :func:`plot_event_study`.

    Returns
    -------
    Series
        Index ``e`` (int), values = distinct treated units with an observation at ``e``
        (the units an event-time estimate can rest on), sorted by ``e``.
    """
    src = "treated_units_by_event_time(panel)"
    _require(panel, [unit, time, cohort], src)
    g = pd.to_numeric(panel[cohort], errors="coerce")
    t = _numeric(panel, time, src)
    treated = (g > 0).to_numpy() & np.isfinite(t)
    e = (t[treated] - g.to_numpy(dtype=float)[treated]).astype(np.int64)
    frame = pd.DataFrame({"e": e, "u": panel.loc[treated, unit].to_numpy()})
    out = frame.groupby("e")["u"].nunique().sort_index().astype(np.int64)
    out.index = out.index.astype(int)
    out.name = "n_treated"
    return out


def _treated_counts(
    frame: pd.DataFrame, e: np.ndarray, n_treated: str | Mapping[Any, Any] | pd.Series | None, src: str
) -> np.ndarray | None:
    """Per-row treated counts (NaN where unknown), or ``None`` when none were given."""
    if n_treated is None:
        col = next((c for c in TREATED_COUNT_COLUMNS if c in frame.columns), None)
        return None if col is None else _numeric(frame, col, src)
    if isinstance(n_treated, str):
        _require(frame, [n_treated], src)
        return _numeric(frame, n_treated, src)
    mapping = {float(k): float(v) for k, v in dict(n_treated).items()}
    return np.array([mapping.get(float(x), np.nan) for x in e], dtype=float)


def plot_event_study(
    table: pd.DataFrame,
    *,
    title: str,
    path_stem: str | os.PathLike[str],
    series: str | None = None,
    level: float = 0.95,
    xlabel: str = "Event time e (years relative to treatment)",
    ylabel: str = "ATT",
    base_period: Literal["universal", "varying"] | None = None,
    anticipation: int = 0,
    omitted: Sequence[float] | None = None,
    n_treated: str | Mapping[Any, Any] | pd.Series | None = None,
    min_treated: int = 2,
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
    base_period
        ``None`` (default): universal, unless the table has a non-zero estimate at the
        reference period, which only a varying-base event study has; it is then drawn as
        varying and the legend says the base was read from the table. Pass the base period
        the estimator used to make a mismatch an error.
        ``"universal"``: every estimate is relative to the omitted period(s),
        ``e = −1 − anticipation`` unless ``omitted`` says otherwise; the omitted period is drawn
        as a hollow diamond at 0 with a dotted reference line. A row at an omitted period with
        a non-zero estimate is an error (the table was estimated with another base).
        ``"varying"``: pre-period estimates are period-to-period changes (R ``did``'s default);
        the line marks the base of the post-treatment estimates and the legend says so.
    anticipation
        Anticipation periods δ ≥ 0: the window ``−δ ≤ e ≤ −1`` is shaded.
    omitted
        Event times omitted as reference (e.g. ``[-1, -15]`` for a binned TWFE event study);
        default ``[-1 - anticipation]``.
    n_treated
        Number of treated units behind each estimate: a column of ``table``, or a mapping /
        Series from ``e`` to the count (e.g. from :func:`treated_units_by_event_time`).
        Default: the first column of :data:`TREATED_COUNT_COLUMNS` present, else no counts.
        With counts, a bar strip under the axis shows them, and estimates resting on fewer
        than ``min_treated`` units are drawn hollow (legend entry).
    min_treated
        Threshold for flagging estimates (default 2: a single treated unit).

    Returns
    -------
    list of Path
        ``[png, pdf]``.

    Notes
    -----
    Reference lines: horizontal at 0, vertical dotted at the omitted period(s).
    """
    fig = event_study_figure(
        table,
        title=title,
        series=series,
        level=level,
        xlabel=xlabel,
        ylabel=ylabel,
        base_period=base_period,
        anticipation=anticipation,
        omitted=omitted,
        n_treated=n_treated,
        min_treated=min_treated,
    )
    return save_figure(fig, path_stem)


def event_study_figure(
    table: pd.DataFrame,
    *,
    title: str,
    series: str | None = None,
    level: float = 0.95,
    xlabel: str = "Event time e (years relative to treatment)",
    ylabel: str = "ATT",
    base_period: Literal["universal", "varying"] | None = None,
    anticipation: int = 0,
    omitted: Sequence[float] | None = None,
    n_treated: str | Mapping[Any, Any] | pd.Series | None = None,
    min_treated: int = 2,
) -> Figure:
    """The figure of :func:`plot_event_study` without saving it (same arguments but ``path_stem``)."""
    src = "plot_event_study(table)"
    _require(table, ["e", "att"], src)
    if not ("ci_lower" in table.columns and "ci_upper" in table.columns) and "se" not in table.columns:
        raise InputError("need ci_lower/ci_upper or se", source=src, rows="all", column="se")
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level!r}", source="plot_event_study(level)")
    if base_period not in ("universal", "varying", None):
        raise InputError(
            f"base_period must be 'universal' or 'varying', got {base_period!r}",
            source="plot_event_study(base_period)",
        )
    if isinstance(anticipation, bool) or not isinstance(anticipation, int | np.integer) or anticipation < 0:
        raise InputError(
            f"anticipation must be an integer >= 0, got {anticipation!r}",
            source="plot_event_study(anticipation)",
        )
    if isinstance(min_treated, bool) or not isinstance(min_treated, int | np.integer) or min_treated < 1:
        raise InputError(
            f"min_treated must be an integer >= 1, got {min_treated!r}",
            source="plot_event_study(min_treated)",
        )
    if series is not None:
        _require(table, [series], src)
    band = next((p for p in UNIFORM_BAND_COLUMNS if p[0] in table.columns and p[1] in table.columns), None)
    ref = [float(x) for x in (omitted if omitted is not None else [-1 - int(anticipation)])]

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
    counts = _treated_counts(frame, e, n_treated, src)

    groups = frame[series].astype(str).tolist() if series is not None else [""] * len(frame)
    names = list(dict.fromkeys(groups))
    seen: dict[tuple[str, float], int] = {}
    for i, key in enumerate(zip(groups, e.tolist(), strict=True)):
        if key in seen:
            raise InputError("event time appears twice", source=src, rows=[seen[key] + 1, i + 1], column="e")
        seen[key] = i
    is_ref = np.isin(e, ref)
    clash = is_ref & np.isfinite(att) & (np.abs(att) > 1e-12)
    detected = False
    if base_period is None:
        # universal unless the table itself shows an estimate at the reference period; then it
        # can only be a varying-base event study, and the legend says it was read that way
        base_period = "varying" if clash.any() else "universal"
        detected = base_period == "varying"
    elif base_period == "universal" and clash.any():
        raise InputError(
            f"base_period='universal' omits e = {', '.join(f'{x:g}' for x in ref)}, but the table has a "
            "non-zero estimate there: it was estimated with another base period (pass "
            "base_period='varying' or the omitted periods it used)",
            source=src,
            rows=_rows(clash),
            column="att",
        )
    fig = new_figure((FIGSIZE[0], FIGSIZE[1] + (1.0 if counts is not None else 0.0)))
    if counts is not None:
        ax, strip = fig.subplots(2, 1, sharex=True, height_ratios=(4, 1))
    else:
        ax = fig.add_subplot()
        strip = None
    width = 0.5 if len(names) > 1 else 0.0
    offsets = np.linspace(-width / 2, width / 2, len(names)) if len(names) > 1 else np.zeros(1)
    g = np.asarray(groups)
    ci_label = "pointwise CI" if pointwise_given else f"{round(level * 100):g}% pointwise CI"
    thin_drawn = False
    for k, name in enumerate(names):
        idx = np.flatnonzero(g == name)
        idx = idx[np.argsort(e[idx], kind="stable")]
        # the omitted period is a normalisation, not an estimate: drawn separately below
        idx = idx[~is_ref[idx]] if base_period == "universal" else idx
        x = e[idx] + offsets[k]
        color = f"C{k % 10}"
        prefix = f"{name}: " if name else ""
        if ulo is not None and uhi is not None:
            ax.vlines(
                x, ulo[idx], uhi[idx], colors=color, alpha=0.25, linewidth=7, label=f"{prefix}uniform band"
            )
        yerr = np.vstack([att[idx] - lo[idx], hi[idx] - att[idx]])
        thin = np.zeros(len(idx), dtype=bool)
        if counts is not None:
            c = counts[idx]
            thin = np.isfinite(c) & (c < min_treated)
        # error bars for all; filled markers where enough units, hollow where not
        ax.errorbar(x, att[idx], yerr=yerr, fmt="none", ecolor=color, capsize=2.5, linewidth=1)
        ax.plot(
            x[~thin], att[idx][~thin], "o", color=color, markersize=4, label=f"{prefix}estimate, {ci_label}"
        )
        if thin.any():
            thin_drawn = True
            ax.plot(
                x[thin],
                att[idx][thin],
                "o",
                markerfacecolor="white",
                markeredgecolor=color,
                markersize=5,
                markeredgewidth=1.2,
                linestyle="none",
            )
    if thin_drawn:
        ax.plot(
            [],
            [],
            "o",
            markerfacecolor="white",
            markeredgecolor="black",
            markersize=5,
            linestyle="none",
            label=f"rests on < {min_treated} treated units",
        )
    ax.axhline(0.0, color="black", linewidth=0.8)
    for k_ref, r in enumerate(ref):
        lab = None
        if k_ref == 0:
            lab = (
                f"omitted (reference) period e = {', '.join(f'{x:g}' for x in ref)}, 0 by construction"
                if base_period == "universal"
                else f"base of post-period estimates e = {r:g} (varying base: pre-e are 1-period changes"
                + ("; read from the table)" if detected else ")")
            )
        ax.axvline(r, color="grey", linewidth=0.9, linestyle=":", label=lab)
    if base_period == "universal":
        ax.plot(
            ref,
            [0.0] * len(ref),
            "D",
            markerfacecolor="white",
            markeredgecolor="black",
            markersize=5,
            linestyle="none",
            zorder=4,
        )
    if anticipation > 0:
        ax.axvspan(
            -anticipation - 0.5,
            -0.5,
            color="0.85",
            alpha=0.6,
            zorder=0,
            label=f"anticipation window (δ = {int(anticipation)})",
        )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ticks = np.unique(np.concatenate([e[np.isfinite(e)], ref])) if len(e) else np.asarray(ref)
    if np.allclose(ticks, np.round(ticks)):
        if len(ticks) <= 15:
            ax.set_xticks(ticks)
        else:
            # every k-th event time, anchored so that the reference period is labelled
            step = int(np.ceil(len(ticks) / 12))
            anchor = ref[0] if ref else 0.0
            ax.set_xticks(ticks[np.mod(ticks - anchor, step) == 0])
    if strip is not None and counts is not None:
        ax.tick_params(labelbottom=False)
        # one bar set when every series rests on the same units per e, else one per series
        per_series = [np.flatnonzero(g == name) for name in names]
        same = len(names) == 1 or all(
            dict(zip(e[i].tolist(), counts[i].tolist(), strict=True))
            == dict(zip(e[per_series[0]].tolist(), counts[per_series[0]].tolist(), strict=True))
            for i in per_series[1:]
        )
        sets = (
            [(per_series[0], "0.35" if len(names) > 1 else "C0")]
            if same
            else [(i, f"C{k % 10}") for k, i in enumerate(per_series)]
        )
        n_e = len(np.unique(e))
        for k, (idx, colour) in enumerate(sets):
            ok = idx[np.isfinite(counts[idx])]
            bw = 0.8 / len(sets)
            xs = e[ok] + (k - (len(sets) - 1) / 2) * bw
            fill = [("0.85" if counts[i] < min_treated else colour) for i in ok]
            strip.bar(xs, counts[ok], width=bw, color=fill, edgecolor=colour, linewidth=0.6)
            if n_e * len(sets) <= 30:
                for xi, ci in zip(xs, counts[ok], strict=True):
                    strip.annotate(
                        f"{int(ci)}",
                        (xi, ci),
                        xytext=(0, 1),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                    )
        strip.set_ylabel("treated\nunits", fontsize="small")
        top = float(np.nanmax(counts)) if np.isfinite(counts).any() else 1.0
        strip.set_ylim(0, top * 1.35 + 0.5)
        strip.yaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=3, integer=True))
        strip.set_xlabel(xlabel)
    else:
        ax.set_xlabel(xlabel)
    # the legend goes under the axes, so it never covers an estimate
    handles, labels = ax.get_legend_handles_labels()
    rows = int(np.ceil(len(handles) / 2))
    extra = 0.2 * rows + 0.1
    fig.set_size_inches(fig.get_size_inches()[0], fig.get_size_inches()[1] + extra)
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=2,
        fontsize="small",
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )
    fig.tight_layout(rect=(0.0, extra / fig.get_size_inches()[1], 1.0, 1.0))
    return fig


def _rows(mask: np.ndarray) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(mask)]


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
