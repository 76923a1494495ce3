"""Convergence figures (PNG + PDF, deterministic via :func:`zonespill.figures.save_figure`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zonespill.convergence.beta import INITIAL, BetaResult
from zonespill.convergence.clubs import TransitionPaths
from zonespill.errors import InputError
from zonespill.figures import new_figure, save_figure


def plot_sigma(
    paths: pd.DataFrame | dict[str, pd.DataFrame],
    path_stem: str | os.PathLike[str],
    *,
    measure: str = "sd_log",
    ylabel: str | None = None,
    title: str | None = None,
) -> list[Path]:
    """Line plot of a :func:`~zonespill.convergence.sigma` measure over time.

    ``paths`` is one sigma frame or a mapping label → frame (e.g. with and without
    collaborating provinces). Writes ``<path_stem>.png`` and ``.pdf``; returns both paths.
    """
    frames = paths if isinstance(paths, dict) else {measure: paths}
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, frame in frames.items():
        if measure not in frame.columns:
            raise InputError("measure not in sigma frame", source="plot_sigma", rows="all", column=measure)
        ax.plot(frame.index.to_numpy(), frame[measure].to_numpy(dtype=float), marker="o", ms=3, label=label)
    ax.set_xlabel(str(next(iter(frames.values())).index.name or "time"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel or measure)
    if title:
        ax.set_title(title)
    if len(frames) > 1:
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path_stem)


#: Keyword selections understood by ``plot_beta_scatter(label=...)``.
LABEL_SELECTIONS = ("extremes", "all")

#: A legacy ``label=<column>`` labels every point up to this many points, else the extremes.
LEGACY_LABEL_ALL_MAX = 40


def _point_style(n: int) -> tuple[float, float]:
    """Marker area and alpha for ``n`` points: full size up to ~150, shrinking like 1/sqrt(n)."""
    f = min(1.0, float(np.sqrt(150.0 / max(n, 1))))
    return max(3.0, 18.0 * f), max(0.3, min(0.9, 0.9 * float(np.sqrt(300.0 / max(n, 1)))))


def _label_selection(
    cross_section: pd.DataFrame,
    label: str | Sequence[str] | None,
    label_column: str | None,
    resid: np.ndarray,
    n_label: int,
) -> tuple[np.ndarray, list[str]]:
    """Positions of the points to label and the text of every point."""
    src = "plot_beta_scatter"
    if isinstance(label, str) and label not in LABEL_SELECTIONS:
        if label not in cross_section.columns:
            raise InputError(
                f"label must be None, 'extremes', 'all', a list of ids or a column name; {label!r} is none "
                "of these",
                source=f"{src}(label=...)",
                rows="all",
                column=label,
            )
        # legacy call: label=<column> names the ids; label them all only while that stays legible
        label_column = label
        label = "all" if len(cross_section) <= LEGACY_LABEL_ALL_MAX else "extremes"
    if label_column is not None and label_column not in cross_section.columns:
        raise InputError(
            "column not found", source=f"{src}(label_column=...)", rows="all", column=label_column
        )
    ids = (
        cross_section[label_column].astype(str).tolist()
        if label_column is not None
        else [str(v) for v in cross_section.index]
    )
    n = len(ids)
    if label is None:
        return np.zeros(0, dtype=int), ids
    if isinstance(label, str) and label == "all":
        return np.arange(n), ids
    if isinstance(label, str) and label == "extremes":
        if isinstance(n_label, bool) or not isinstance(n_label, int | np.integer) or n_label < 0:
            raise InputError(
                f"n_label must be an integer >= 0, got {n_label!r}", source=f"{src}(n_label=...)"
            )
        finite = np.flatnonzero(np.isfinite(resid))
        # largest |residual| first; ties broken by position, so the choice is deterministic
        order = finite[np.lexsort((finite, -np.abs(resid[finite])))]
        return np.sort(order[: int(n_label)]), ids
    wanted = [str(v) for v in label]
    where = {u: k for k, u in enumerate(ids)}
    unknown = [u for u in wanted if u not in where]
    if unknown:
        raise InputError(
            f"ids to label not found: {unknown[:10]}{' …' if len(unknown) > 10 else ''}",
            source=f"{src}(label=...)",
            rows="all",
            column=label_column or "index",
        )
    return np.array(sorted({where[u] for u in wanted}), dtype=int), ids


def _place_labels(
    ax: Any, xs: np.ndarray, ys: np.ndarray, resid: np.ndarray, chosen: np.ndarray, ids: list[str]
) -> None:
    """Annotate the chosen points, each at the first offset whose text box overlaps no earlier
    label (greedy, largest |residual| first; deterministic), leader lines to the points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # an Agg canvas measures text (the figure is built without pyplot, on a bare canvas)
    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()  # after tight_layout: fixes the axis limits
    renderer = canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list[Any] = []
    order = sorted(chosen.tolist(), key=lambda i: (-abs(resid[i]) if np.isfinite(resid[i]) else 0.0, i))
    size = 6 if len(chosen) > 12 else 7
    for i in order:
        up = not np.isfinite(resid[i]) or resid[i] >= 0
        # away from the line first, then further out, then the other side
        rings = [
            (8, 10),
            (-8, 10),
            (16, 24),
            (-16, 24),
            (24, 2),
            (-24, 2),
            (8, 40),
            (-8, 40),
            (30, 56),
            (-30, 56),
        ]
        cands = [(dx, dy if up else -dy) for dx, dy in rings] + [(dx, -dy if up else dy) for dx, dy in rings]
        best: tuple[float, tuple[int, int]] | None = None
        for dx, dy in cands:
            ann = _annotate(ax, ids[i], xs[i], ys[i], dx, dy, size)
            box = ann.get_window_extent(renderer)
            ann.remove()
            inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
            clash = sum(_overlap(box, b) for b in placed) + (0.0 if inside else 1e9)
            if best is None or clash < best[0]:
                best = (clash, (dx, dy))
            if clash == 0:
                break
        assert best is not None
        ann = _annotate(ax, ids[i], xs[i], ys[i], *best[1], size)
        placed.append(ann.get_window_extent(renderer))


def _annotate(ax: Any, text: str, x: float, y: float, dx: int, dy: int, size: int) -> Any:
    return ax.annotate(
        text,
        (x, y),
        xytext=(dx, dy),
        textcoords="offset points",
        fontsize=size,
        ha="left" if dx > 0 else "right",
        va="bottom" if dy > 0 else "top",
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.3"},
        zorder=5,
    )


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return float(w * h) if w > 0 and h > 0 else 0.0


def beta_scatter_figure(
    cross_section: pd.DataFrame,
    *,
    result: BetaResult | None = None,
    x: str = INITIAL,
    y: str = "growth",
    label: str | Sequence[str] | None = None,
    groups: str | None = None,
    group_order: list[str] | None = None,
    title: str | None = None,
    label_column: str | None = None,
    n_label: int = 8,
    xlabel: str = "initial log level",
    ylabel: str = "average annual log growth",
) -> Figure:
    """The figure of :func:`plot_beta_scatter`, not saved (same arguments but ``path_stem``)."""
    for col in (x, y):
        if col not in cross_section.columns:
            raise InputError("column not found", source="plot_beta_scatter", rows="all", column=col)
    xs = cross_section[x].to_numpy(dtype=float)
    ys = cross_section[y].to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if result is not None and "const" in result.params.index:
        const, slope = float(result.params["const"]), float(result.b)
    elif ok.sum() >= 2:
        slope, const = (float(v) for v in np.polyfit(xs[ok], ys[ok], 1))
    else:
        const, slope = np.nan, np.nan
    resid = ys - (const + slope * xs)
    chosen, ids = _label_selection(cross_section, label, label_column, resid, n_label)
    size, alpha = _point_style(len(xs))
    edge = "white" if len(xs) <= 300 else "none"
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    if groups is None:
        ax.scatter(xs, ys, s=size, alpha=alpha, edgecolors=edge, linewidths=0.3)
    else:
        if groups not in cross_section.columns:
            raise InputError("column not found", source="plot_beta_scatter", rows="all", column=groups)
        g = cross_section[groups].astype(str).to_numpy()
        present = set(g.tolist())
        order = [c for c in (group_order or sorted(present)) if c in present]
        order += sorted(present - set(order))
        markers = "osD^vP*X"
        for k, cat in enumerate(order):
            mask = g == cat
            ax.scatter(
                xs[mask],
                ys[mask],
                s=size,
                alpha=alpha,
                color=f"C{k % 10}",
                marker=markers[k % len(markers)],
                edgecolors=edge,
                linewidths=0.3,
                label=f"{cat} (n={int(mask.sum())})",
            )
    if np.isfinite(slope) and ok.any():
        grid = np.linspace(xs[ok].min(), xs[ok].max(), 50)
        fit_label = "fitted line" if result is not None and "const" in result.params.index else "OLS fit"
        ax.plot(
            grid, const + slope * grid, color="black", lw=1, label=fit_label if groups is not None else None
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if groups is not None:
        leg = ax.legend(frameon=False, fontsize=7, markerscale=max(1.0, float(np.sqrt(18.0 / size))))
        for h in leg.legend_handles:
            if h is not None:
                h.set_alpha(1.0)  # the legend shows the colour, not the point transparency
    if title:
        ax.set_title(title)
    by_residual = isinstance(label, str) and (
        label == "extremes" or (label not in LABEL_SELECTIONS and len(xs) > LEGACY_LABEL_ALL_MAX)
    )
    if by_residual:
        ax.text(
            0.99,
            0.01,
            f"labelled: {len(chosen)} largest |residuals| from the line",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=6,
            color="0.3",
        )
    fig.tight_layout()
    if len(chosen):
        # ring the labelled points so the text can be traced to its point in a dense cloud
        ax.scatter(
            xs[chosen],
            ys[chosen],
            s=max(size, 12.0) * 2.2,
            facecolors="none",
            edgecolors="black",
            linewidths=0.7,
            zorder=4,
        )
        _place_labels(ax, xs, ys, resid, chosen, ids)
    return fig


def plot_beta_scatter(
    cross_section: pd.DataFrame,
    path_stem: str | os.PathLike[str],
    *,
    result: BetaResult | None = None,
    x: str = INITIAL,
    y: str = "growth",
    label: str | Sequence[str] | None = None,
    groups: str | None = None,
    group_order: list[str] | None = None,
    title: str | None = None,
    label_column: str | None = None,
    n_label: int = 8,
    xlabel: str = "initial log level",
    ylabel: str = "average annual log growth",
) -> list[Path]:
    """Scatter of average growth on the initial log level, with the fitted line.

    ``cross_section`` has columns ``x`` and ``y``; ``groups`` colours points by category
    (legend in ``group_order``, default sorted, with counts). The line is ``result``'s when
    given, else the OLS fit of ``y`` on ``x`` (used also to rank residuals).

    Which points carry a text label (legible from 30 to 3,000 points):

    ``label=None``
        none;
    ``label="extremes"``
        the ``n_label`` points with the largest absolute residual from the line (a note on the
        figure says so);
    ``label="all"``
        every point (only sensible for a few dozen);
    ``label=[id, ...]``
        exactly those ids (values of ``label_column``, or of the index when it is ``None``;
        an unknown id is an error);
    ``label="<column>"`` (earlier API)
        the column holding the ids; every point while there are at most
        :data:`LEGACY_LABEL_ALL_MAX`, else the extremes.

    Marker size and transparency shrink with the number of points; labelled points are ringed.
    Writes ``<path_stem>.png`` and ``.pdf``; returns both paths.
    """
    fig = beta_scatter_figure(
        cross_section,
        result=result,
        x=x,
        y=y,
        label=label,
        groups=groups,
        group_order=group_order,
        title=title,
        label_column=label_column,
        n_label=n_label,
        xlabel=xlabel,
        ylabel=ylabel,
    )
    return save_figure(fig, path_stem)


def _club_sort_key(club: object) -> tuple[int, float, str]:
    try:
        return (0, float(club), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, 0.0, str(club))


def transition_paths_figure(
    paths: TransitionPaths,
    *,
    clubs_only: bool = True,
    title: str | None = None,
    xlabel: str = "time",
    ylabel: str = "relative transition h",
) -> Figure:
    """The figure of :func:`plot_transition_paths`, not saved."""
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    clubs = sorted(paths.clubs["club"].unique().tolist(), key=_club_sort_key)
    colour = {c: f"C{k % 10}" for k, c in enumerate(clubs)}
    if not clubs_only:
        units = paths.units
        n_units = int(units["unit"].nunique())
        # faint unit lines (thinner and lighter as units multiply), coloured by club
        f = min(1.0, float(np.sqrt(30.0 / max(n_units, 1))))
        lw, alpha = max(0.2, 0.8 * f), max(0.06, 0.7 * f)
        club_of = units.groupby("unit", sort=True)["club"].first() if "club" in units.columns else None
        for u, g in units.groupby("unit", sort=True):
            c = club_of.get(u) if club_of is not None else None
            col = colour.get(c, "0.6") if c is not None and not pd.isna(c) else "0.6"
            ax.plot(g["time"].to_numpy(), g["h"].to_numpy(dtype=float), lw=lw, alpha=alpha, color=col)
        if club_of is not None and club_of.isna().any():
            ax.plot([], [], color="0.6", lw=1, label=f"in no club (n={int(club_of.isna().sum())})")
    for club in clubs:
        g = paths.clubs[paths.clubs["club"] == club]
        n = int(g["n"].iloc[0])
        ax.plot(
            g["time"].to_numpy(),
            g["h"].to_numpy(dtype=float),
            color=colour[club],
            lw=1.8 if not clubs_only else 1.4,
            label=f"Club {club} (n={n})" + ("" if clubs_only else ", mean"),
        )
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if clubs or not clubs_only:
        # many clubs: legend outside the axes in columns instead of covering the paths
        many = len(clubs) > 6
        ax.legend(
            frameon=False,
            fontsize=6 if many else 7,
            ncol=1 + len(clubs) // 12,
            loc="upper left" if many else "best",
            bbox_to_anchor=(1.01, 1.0) if many else None,
        )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_transition_paths(
    paths: TransitionPaths,
    path_stem: str | os.PathLike[str],
    *,
    clubs_only: bool = True,
    title: str | None = None,
    xlabel: str = "time",
    ylabel: str = "relative transition h",
) -> list[Path]:
    """Relative transition paths: club averages (default), or every unit as a faint line
    coloured by its club with the club averages on top (``clubs_only=False``; line width and
    opacity shrink with the number of units, so 3,000 paths stay a readable band)."""
    fig = transition_paths_figure(paths, clubs_only=clubs_only, title=title, xlabel=xlabel, ylabel=ylabel)
    return save_figure(fig, path_stem)


def plot_message(path_stem: str | os.PathLike[str], *, title: str, message: str) -> list[Path]:
    """A figure that only states why a plot could not be drawn (e.g. too few periods for clubs)."""
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    return save_figure(fig, path_stem)
