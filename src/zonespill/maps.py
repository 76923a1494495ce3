"""Map of the analysis regions with collaboration ties drawn by direction.

Regions are filled by their average annual growth of log GDP per capita over the analysis
window; each province-level tie is a line between the two provinces' centroids, coloured
by its declared direction (forward, reverse, two-way). Drawn with matplotlib only
(polygons from the WKT in the regions table), saved as PNG + PDF deterministically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zonespill.geography import centroids
from zonespill.io import read_parquet

DIRECTION_COLOURS = {"forward": "#1f77b4", "reverse": "#d62728", "two_way": "#2ca02c", "unknown": "#7f7f7f"}


def _polygon_rings(wkt_text: str) -> list[np.ndarray]:
    from shapely import wkt as shapely_wkt

    geom = shapely_wkt.loads(wkt_text)
    polys = list(getattr(geom, "geoms", [geom]))
    return [np.asarray(p.exterior.coords) for p in polys if hasattr(p, "exterior")]


def plot_tie_map(
    regions: pd.DataFrame,
    region_year: pd.DataFrame,
    pair_year: pd.DataFrame,
    *,
    path_stem: Path,
    title: str,
) -> list[Path]:
    """Draw the map and write ``<path_stem>.png`` and ``.pdf``; returns the paths."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    from zonespill import figures

    figures.use_agg()
    ids = sorted(region_year["region_id"].astype(str).unique())
    sub = regions[regions["region_id"].astype(str).isin(ids)].sort_values("region_id").reset_index(drop=True)
    growth = region_year.groupby("region_id")["growth"].mean().reindex(sub["region_id"].astype(str))
    norm = Normalize(vmin=float(np.nanmin(growth)), vmax=float(np.nanmax(growth)))
    cmap = plt.get_cmap("YlOrBr")
    verts, colours = [], []
    for rid, text in zip(sub["region_id"].astype(str), sub["geometry_wkt"], strict=True):
        if text is None or pd.isna(text):
            continue
        for ring in _polygon_rings(str(text)):
            verts.append(ring)
            g = growth.get(rid, np.nan)
            colours.append(cmap(norm(g)) if np.isfinite(g) else (0.9, 0.9, 0.9, 1.0))
    fig, ax = plt.subplots(figsize=(8.0, 6.4))
    ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="white", linewidths=0.4))
    cent = centroids(sub).set_index("region_id")
    lon = {str(k): float(v) for k, v in cent["lon"].items()}
    lat = {str(k): float(v) for k, v in cent["lat"].items()}
    ties = (
        pair_year[(pair_year["same_province"] == 0)]
        .drop_duplicates(["source_province", "target_province", "direction"])
        .sort_values(["direction", "source_province", "target_province"])
    )
    for rec in ties.itertuples(index=False):
        a, b = str(rec.source_province), str(rec.target_province)
        if a not in lon or b not in lon:
            continue
        ax.plot(
            [lon[a], lon[b]],
            [lat[a], lat[b]],
            color=DIRECTION_COLOURS.get(str(rec.direction), "#7f7f7f"),
            linewidth=1.1,
            alpha=0.8,
        )
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, shrink=0.6, label="mean annual growth of log GDP per capita")
    handles = [
        Line2D([0], [0], color=c, lw=2, label=d.replace("_", "-"))
        for d, c in DIRECTION_COLOURS.items()
        if d in set(ties["direction"].astype(str))
    ]
    ax.legend(handles=handles, loc="lower left", title="tie direction", frameon=False)
    paths = figures.save_figure(fig, path_stem)
    plt.close(fig)
    return paths


def tie_map_step(*, regions: Path, region_year: Path, pair_year: Path, path_stem: Path) -> list[Path]:
    """Pipeline step: read the canonical tables and draw figure F2."""
    reg = read_parquet(regions)
    ry = read_parquet(region_year)
    py = read_parquet(pair_year)
    first, last = int(ry["year"].min()), int(ry["year"].max())
    return plot_tie_map(
        reg,
        ry,
        py,
        path_stem=path_stem,
        title=f"Growth {first}–{last} and collaboration ties by direction",
    )
