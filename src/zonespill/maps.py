"""Map of the analysis regions with collaboration ties drawn as directed arcs.

Regions are filled (light greys, so the arcs stay visible) by their average annual growth of
the outcome over the analysis window. Each tie is a curved arc from the giver's unit to the
receiver's unit with an arrowhead at the receiver, coloured by its declared direction:
forward, reverse, two-way (arrowheads at both ends) or unknown. Ties of one pair in opposite
orientations bend to opposite sides, so A→B and B→A never sit on top of each other.

Readable from a few dozen to thousands of ties: duplicate ties of one (giver, receiver,
direction) are merged into one arc whose width grows with the number of ties, and the
width, transparency and arrowhead size of all arcs shrink with the number of arcs drawn.
``aggregate=`` can further merge units into groups (e.g. counties into provinces) before
drawing. Drawn with matplotlib only (polygons from the WKT in the regions table), saved as
PNG + PDF deterministically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonespill.errors import InputError
from zonespill.geography import centroids
from zonespill.io import read_parquet

#: Okabe–Ito colours (distinguishable with the common colour-vision deficiencies).
DIRECTION_COLOURS = {"forward": "#0072B2", "reverse": "#D55E00", "two_way": "#009E73", "unknown": "#7f7f7f"}

#: Legend text per direction: what the arrow means.
DIRECTION_LABELS = {
    "forward": "forward (centre → periphery)",
    "reverse": "reverse (host core → initiating periphery)",
    "two_way": "two-way (both directions)",
    "unknown": "direction unknown",
}

#: Arrow style per direction; two-way ties carry a head at both ends.
ARROW_STYLES = {"forward": "-|>", "reverse": "-|>", "two_way": "<|-|>", "unknown": "-|>"}

#: Number of arcs at which width/alpha/head size are at their full (reference) values.
_REFERENCE_ARCS = 60


@dataclass(frozen=True)
class ArcStyle:
    """Width, transparency and arrowhead size for a map with ``n_arcs`` arcs."""

    linewidth: float
    alpha: float
    head: float

    @classmethod
    def for_count(cls, n_arcs: int) -> ArcStyle:
        # shrink with the square root of the number of arcs, so the ink on the map grows
        # roughly like sqrt(n) instead of n; floors keep every arc visible
        f = min(1.0, math.sqrt(_REFERENCE_ARCS / max(int(n_arcs), 1)))
        return cls(linewidth=max(0.25, 1.4 * f), alpha=max(0.15, 0.9 * f), head=max(3.0, 11.0 * f))


def _polygon_rings(wkt_text: str) -> list[np.ndarray]:
    from shapely import wkt as shapely_wkt

    geom = shapely_wkt.loads(wkt_text)
    polys = list(getattr(geom, "geoms", [geom]))
    return [np.asarray(p.exterior.coords) for p in polys if hasattr(p, "exterior")]


class _ArrowLegendHandler:
    """Legend entry drawn as a small arrow of the handle's style and colour."""

    def legend_artist(self, legend: Any, orig_handle: Any, fontsize: float, handlebox: Any) -> Any:
        from matplotlib.patches import FancyArrowPatch

        x0, y0 = handlebox.xdescent, handlebox.ydescent
        w, h = handlebox.width, handlebox.height
        patch = FancyArrowPatch(
            (x0, y0 + h / 2),
            (x0 + w, y0 + h / 2),
            arrowstyle=orig_handle.get_arrowstyle(),
            mutation_scale=orig_handle.get_mutation_scale(),
            color=orig_handle.get_edgecolor(),
            linewidth=orig_handle.get_linewidth(),
            transform=handlebox.get_transform(),
        )
        handlebox.add_artist(patch)
        return patch


def tie_arcs(
    ties: pd.DataFrame,
    *,
    source_col: str = "source_province",
    target_col: str = "target_province",
    direction_col: str = "direction",
    aggregate: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per arc to draw: ``source, target, direction, n_ties``.

    Parameters
    ----------
    ties
        One row per tie (or tie-year: a tie is identified by ``collab_id`` when that column
        exists, else by its row). Rows whose two ends coincide (after ``aggregate``) make no
        arc and are dropped; their number is in ``attrs["self_ties"]`` of the result.
    source_col, target_col, direction_col
        Columns holding the giver unit, the receiver unit and the declared direction.
    aggregate
        Optional mapping unit → group (e.g. county → province): arcs are drawn between groups.
        Every unit at an end of a tie must be in the mapping (an error names the first missing).

    Returns
    -------
    DataFrame
        Sorted by ``n_ties`` then ids (heaviest arcs drawn last, i.e. on top).
    """
    from zonespill.tables import _require_columns

    src = "tie_arcs(ties)"
    _require_columns(ties, (source_col, target_col, direction_col), src)
    frame = ties
    # one arc per analysis-level tie (a pairing expanded to several ties keeps them all)
    key = "tie_id" if "tie_id" in frame.columns else "collab_id"
    if key in frame.columns:
        frame = frame.drop_duplicates(key)
    a = frame[source_col].astype(str).to_numpy()
    b = frame[target_col].astype(str).to_numpy()
    d = frame[direction_col].astype(str).to_numpy()
    unknown_dirs = sorted(set(d.tolist()) - set(DIRECTION_COLOURS))
    if unknown_dirs:
        row = int(np.flatnonzero(d == unknown_dirs[0])[0]) + 1
        raise InputError(
            f"unknown direction {unknown_dirs[0]!r}; expected one of {list(DIRECTION_COLOURS)}",
            source=src,
            rows=[row],
            column=direction_col,
        )
    if aggregate is not None:
        groups = {str(k): str(v) for k, v in aggregate.items()}
        for col, ends in ((source_col, a), (target_col, b)):
            missing = [i for i, u in enumerate(ends.tolist()) if u not in groups]
            if missing:
                raise InputError(
                    f"unit {ends[missing[0]]!r} is not in the aggregate mapping",
                    source=src,
                    rows=[missing[0] + 1],
                    column=col,
                )
        a = np.array([groups[u] for u in a.tolist()], dtype=object)
        b = np.array([groups[u] for u in b.tolist()], dtype=object)
    keep = a != b
    out = (
        pd.DataFrame({"source": a[keep], "target": b[keep], "direction": d[keep]})
        .groupby(["source", "target", "direction"], sort=True)
        .size()
        .rename("n_ties")
        .reset_index()
        .sort_values(["n_ties", "direction", "source", "target"], kind="stable")
        .reset_index(drop=True)
    )
    out.attrs["self_ties"] = int((~keep).sum())
    return out


def draw_tie_arcs(
    ax: Any,
    arcs: pd.DataFrame,
    positions: Mapping[str, tuple[float, float]],
    *,
    curvature: float = 0.25,
    style: ArcStyle | None = None,
) -> list[Any]:
    """Draw ``arcs`` (from :func:`tie_arcs`) on ``ax``; returns the arrow patches in row order.

    Each patch carries ``gid = "<direction>:<source>-><target>"``. Arcs whose ends have no
    position are skipped; the caller learns which from the returned patches' gids.
    Arc width grows with ``log2(1 + n_ties)`` relative to the single-tie width.
    """
    from matplotlib.patches import FancyArrowPatch

    st = style or ArcStyle.for_count(len(arcs))
    patches = []
    for rec in arcs.itertuples(index=False):
        a, b, d, n = str(rec.source), str(rec.target), str(rec.direction), int(rec.n_ties)  # type: ignore[arg-type]
        if a not in positions or b not in positions:
            continue
        width = st.linewidth * (1.0 + math.log2(n))
        patch = FancyArrowPatch(
            positions[a],
            positions[b],
            connectionstyle=f"arc3,rad={curvature}",
            arrowstyle=ARROW_STYLES[d],
            mutation_scale=st.head * (1.0 + 0.3 * math.log2(n)),
            linewidth=width,
            color=DIRECTION_COLOURS[d],
            alpha=st.alpha,
            shrinkA=2.0,
            shrinkB=2.0,
            zorder=3,
        )
        patch.set_gid(f"{d}:{a}->{b}")
        # add_artist, not add_patch: add_patch recomputes the data limits from every arc's
        # path (seconds at thousands of arcs); the limits come from the end points below
        ax.add_artist(patch)
        patch.set_clip_path(ax.patch)
        patches.append(patch)
    if patches:
        # data limits: the end points and each arc's apex (arc3 bends by rad/2 of the chord at
        # its middle, measured in display space; equal to data space on an equal-aspect map)
        xy = np.array(
            [
                [*positions[str(r.source)], *positions[str(r.target)]]
                for r in arcs.itertuples()
                if str(r.source) in positions and str(r.target) in positions
            ]
        )
        mid = (xy[:, :2] + xy[:, 2:]) / 2
        d = xy[:, 2:] - xy[:, :2]
        apex = mid + 0.5 * curvature * np.column_stack([d[:, 1], -d[:, 0]])
        ax.update_datalim(np.vstack([xy[:, :2], xy[:, 2:], apex]))
    return patches


def plot_tie_map(
    regions: pd.DataFrame,
    region_year: pd.DataFrame,
    pair_year: pd.DataFrame,
    *,
    path_stem: Path,
    title: str,
    source_col: str = "source_province",
    target_col: str = "target_province",
    aggregate: Mapping[str, str] | None = None,
    curvature: float = 0.25,
    fill_col: str = "growth",
    fill_label: str = "mean annual growth of log GDP per capita",
    exclude_same_unit: bool = True,
    panels: Literal["single", "direction"] = "single",
) -> list[Path]:
    """Draw the map and write ``<path_stem>.png`` and ``.pdf``; returns the paths.

    Keyword arguments beyond ``path_stem``/``title`` (all optional):

    ``source_col`` / ``target_col``
        Columns of ``pair_year`` with the giver / receiver unit at the analysis level.
    ``aggregate``
        Mapping unit → group to draw arcs between groups (group positions are the mean of
        their members' centroids); see :func:`tie_arcs`.
    ``curvature``
        Bend of the arcs (``arc3`` radius; 0 = straight).
    ``fill_col`` / ``fill_label``
        Column of ``region_year`` whose unit mean fills the polygons, and its colour-bar label.
    ``exclude_same_unit``
        Drop ties inside one unit (``same_unit == 1`` with the analysis-level endpoints
        ``source_unit``/``target_unit``, else ``same_province == 1``) when that column exists.
    ``panels``
        ``"single"`` (one map) or ``"direction"``: one small map per direction present (for
        thousands of ties, where one map would overplot).
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.patches import FancyArrowPatch

    from zonespill import figures

    if panels not in ("single", "direction"):
        raise InputError(
            f"panels must be 'single' or 'direction', got {panels!r}", source="plot_tie_map(panels=...)"
        )
    if fill_col not in region_year.columns:
        raise InputError(
            "fill column not found", source="plot_tie_map(region_year)", rows="all", column=fill_col
        )
    figures.use_agg()
    ids = sorted(region_year["region_id"].astype(str).unique())
    sub = regions[regions["region_id"].astype(str).isin(ids)].sort_values("region_id").reset_index(drop=True)
    fill = region_year.groupby(region_year["region_id"].astype(str))[fill_col].mean()
    fill = fill.reindex(sub["region_id"].astype(str))
    finite = fill.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    norm = Normalize(
        vmin=float(finite.min()) if len(finite) else 0.0, vmax=float(finite.max()) if len(finite) else 1.0
    )
    # light sequential greys: the fill informs without competing with the coloured arcs
    cmap = LinearSegmentedColormap.from_list("zs_fill", ["#f7f7f7", "#969696"])
    verts, colours = [], []
    for rid, text in zip(sub["region_id"].astype(str), sub["geometry_wkt"], strict=True):
        if text is None or pd.isna(text):
            continue
        for ring in _polygon_rings(str(text)):
            verts.append(ring)
            g = fill.get(rid, np.nan)
            colours.append(cmap(norm(g)) if np.isfinite(g) else (1.0, 1.0, 1.0, 1.0))
    edge = 0.4 if len(verts) <= 200 else 0.1
    cent = centroids(sub).set_index("region_id")
    pos: dict[str, tuple[float, float]] = {
        str(k): (float(x), float(y)) for k, x, y in zip(cent.index, cent["lon"], cent["lat"], strict=True)
    }
    ties = pair_year
    same = "same_unit" if source_col == "source_unit" and "same_unit" in ties.columns else "same_province"
    if exclude_same_unit and same in ties.columns:
        ties = ties[ties[same] == 0]
    arcs = tie_arcs(ties, source_col=source_col, target_col=target_col, aggregate=aggregate)
    if aggregate is not None:
        members: dict[str, list[tuple[float, float]]] = {}
        for unit, group in aggregate.items():
            if str(unit) in pos:
                members.setdefault(str(group), []).append(pos[str(unit)])
        pos = {
            g: (float(np.mean([p[0] for p in m])), float(np.mean([p[1] for p in m])))
            for g, m in members.items()
        }
    present = [d for d in DIRECTION_COLOURS if d in set(arcs["direction"])]
    if panels == "direction" and len(present) > 1:
        # one small map per direction: at thousands of ties each direction stays legible
        groups = [(d, arcs[arcs["direction"] == d]) for d in present]
        ncols = 2
        nrows = (len(groups) + 1) // 2
        fig = figures.new_figure((8.0, 3.4 * nrows + 1.4))
        axes = [fig.add_subplot(nrows, ncols, k + 1) for k in range(len(groups))]
        fig.suptitle(title)
    else:
        groups = [("", arcs)]
        fig = figures.new_figure((8.0, 7.2))
        axes = [fig.add_subplot()]
        axes[0].set_title(title)
    patches = []
    for ax, (d, sub_arcs) in zip(axes, groups, strict=True):
        ax.add_collection(
            PolyCollection(verts, facecolors=colours, edgecolors="white", linewidths=edge, zorder=1)
        )
        patches += draw_tie_arcs(ax, sub_arcs, pos, curvature=curvature)
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.set_axis_off()
        if d:
            ax.set_title(f"{DIRECTION_LABELS[d]}: {int(sub_arcs['n_ties'].sum())} ties", fontsize="small")
    from matplotlib.cm import ScalarMappable

    # fixed layout: maps on the left, colour bar at the right, legend at the bottom
    bottom = (1.1 + 0.18 * ((len(DIRECTION_COLOURS) + 1) // 2)) / float(fig.get_size_inches()[1])
    fig.subplots_adjust(left=0.02, right=0.84, top=0.93, bottom=bottom, wspace=0.05, hspace=0.15)
    cax = fig.add_axes((0.87, bottom + 0.15 * (0.93 - bottom), 0.022, 0.7 * (0.93 - bottom)))
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, label=fill_label)
    drawn = pd.Series([str(p.get_gid()).split(":", 1)[0] for p in patches], dtype=object)
    counts = drawn.value_counts()
    ties_by_dir = arcs.groupby("direction")["n_ties"].sum()
    handles = [
        FancyArrowPatch(
            (0, 0),
            (1, 0),
            arrowstyle=ARROW_STYLES[d],
            color=c,
            mutation_scale=10,
            linewidth=1.6,
            label=f"{DIRECTION_LABELS[d]}: {int(ties_by_dir.get(d, 0))} ties",
        )
        for d, c in DIRECTION_COLOURS.items()
        if d in counts.index
    ]
    legend_title = "tie direction (arrow: giver → receiver)"
    if (arcs["n_ties"] > 1).any():
        legend_title += "\narc width grows with the number of ties"
    missing = len(arcs) - len(patches)
    if missing or not handles:
        # say on the figure what is not drawn rather than leave it out silently
        legend_title += (
            f"\n{missing} of {len(arcs)} arcs not drawn (an end has no map position)"
            if missing
            else "\nno ties to draw"
        )
    # below the maps, so it never hides arcs
    fig.legend(
        handles=handles,
        handler_map={FancyArrowPatch: _ArrowLegendHandler()},
        loc="lower center",
        ncol=2,
        title=legend_title,
        frameon=False,
        fontsize="small",
        title_fontsize="small",
    )
    paths = figures.save_figure(fig, path_stem)
    return paths


def tie_map_step(*, regions: Path, region_year: Path, pair_year: Path, path_stem: Path) -> list[Path]:
    """Pipeline step: read the canonical tables and draw figure F2."""
    reg = read_parquet(regions)
    ry = read_parquet(region_year)
    py = read_parquet(pair_year)
    first, last = int(ry["year"].min()), int(ry["year"].max())
    # the analysis-level endpoints (any level); older pair tables only have province endpoints
    native = {"source_unit", "target_unit"} <= set(py.columns)
    return plot_tie_map(
        reg,
        ry,
        py,
        path_stem=path_stem,
        title=f"Growth {first}–{last} and collaboration ties by direction",
        source_col="source_unit" if native else "source_province",
        target_col="target_unit" if native else "target_province",
    )


__all__: Sequence[str] = (
    "ARROW_STYLES",
    "DIRECTION_COLOURS",
    "DIRECTION_LABELS",
    "ArcStyle",
    "draw_tie_arcs",
    "plot_tie_map",
    "tie_arcs",
    "tie_map_step",
)
