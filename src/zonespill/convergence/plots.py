"""Convergence figures (PNG + PDF, deterministic via :func:`zonespill.figures.save_figure`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
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


def plot_beta_scatter(
    cross_section: pd.DataFrame,
    path_stem: str | os.PathLike[str],
    *,
    result: BetaResult | None = None,
    x: str = INITIAL,
    y: str = "growth",
    label: str | None = None,
    groups: str | None = None,
    group_order: list[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """Scatter of average growth on the initial log level, with the fitted OLS line if given.

    ``cross_section`` has columns ``x`` and ``y`` (and optionally ``label`` to annotate points,
    ``groups`` to colour points by category — legend in ``group_order``, default sorted).
    """
    for col in (x, y):
        if col not in cross_section.columns:
            raise InputError("column not found", source="plot_beta_scatter", rows="all", column=col)
    xs = cross_section[x].to_numpy(dtype=float)
    ys = cross_section[y].to_numpy(dtype=float)
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    if groups is None:
        ax.scatter(xs, ys, s=14)
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
                s=18,
                color=f"C{k % 10}",
                marker=markers[k % len(markers)],
                label=f"{cat} (n={int(mask.sum())})",
            )
        ax.legend(frameon=False, fontsize=7)
    if label is not None:
        for xi, yi, txt in zip(xs, ys, cross_section[label].astype(str), strict=True):
            ax.annotate(txt, (xi, yi), fontsize=6, xytext=(2, 2), textcoords="offset points")
    if result is not None and "const" in result.params.index:
        grid = np.linspace(xs.min(), xs.max(), 50)
        ax.plot(grid, result.params["const"] + result.b * grid, color="black", lw=1)
    ax.set_xlabel("initial log level")
    ax.set_ylabel("average annual log growth")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path_stem)


def plot_transition_paths(
    paths: TransitionPaths,
    path_stem: str | os.PathLike[str],
    *,
    clubs_only: bool = True,
    title: str | None = None,
) -> list[Path]:
    """Relative transition paths: club averages (default) or every unit, coloured by club."""
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    if clubs_only:
        for club, g in paths.clubs.groupby("club", sort=True):
            n = int(g["n"].iloc[0])
            ax.plot(g["time"].to_numpy(), g["h"].to_numpy(dtype=float), label=f"Club {club} (n={n})")
        ax.legend(frameon=False, fontsize=7)
    else:
        for _, g in paths.units.groupby("unit", sort=True):
            ax.plot(g["time"].to_numpy(), g["h"].to_numpy(dtype=float), lw=0.6, alpha=0.7)
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.set_xlabel("time")
    ax.set_ylabel("relative transition h")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path_stem)


def plot_message(path_stem: str | os.PathLike[str], *, title: str, message: str) -> list[Path]:
    """A figure that only states why a plot could not be drawn (e.g. too few periods for clubs)."""
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    return save_figure(fig, path_stem)
