"""Geography: centroids, distances and spatial weights built from region polygons.

Contiguity comes from libpysal (queen: regions sharing at least one boundary vertex);
k-nearest-neighbour and inverse-distance weights use great-circle distances between
centroids (haversine, Earth radius 6371.0088 km). Islands — units without a contiguous
neighbour, e.g. Hainan among the provinces — are handled by an explicit rule:

``nearest``
    link each island to its ``k`` nearest units by centroid distance, symmetrically
    (the link is added to both rows), and record which links were added;
``drop``
    remove islands from the weights (and so from every spatial model);
``keep``
    keep them with an all-zero row (their spatial lag is zero);
``error``
    refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zonespill.errors import ConfigError, InputError
from zonespill.weights import SpatialWeights

IslandRule = Literal["nearest", "drop", "keep", "error"]
EARTH_RADIUS_KM = 6371.0088


def _load_geoms(wkts: Sequence[str | None], ids: Sequence[str], *, source: str) -> list[object]:
    from shapely import wkt as shapely_wkt

    geoms = []
    for rid, text in zip(ids, wkts, strict=True):
        if text is None or (isinstance(text, float) and np.isnan(text)) or pd.isna(text):
            raise InputError(f"region {rid} has no geometry", source=source, column="geometry_wkt")
        try:
            geoms.append(shapely_wkt.loads(str(text)))
        except Exception as exc:
            raise InputError(
                f"region {rid}: invalid WKT ({exc})", source=source, column="geometry_wkt"
            ) from exc
    return geoms


def centroids(regions: pd.DataFrame, *, source: str = "regions") -> pd.DataFrame:
    """Longitude/latitude of each region's polygon centroid (planar, in degrees).

    Regions with explicit ``lon``/``lat`` and no geometry keep their coordinates.
    """
    out = regions[["region_id"]].copy()
    lon = np.full(len(regions), np.nan)
    lat = np.full(len(regions), np.nan)
    has_geom = (
        regions["geometry_wkt"].notna().to_numpy()
        if "geometry_wkt" in regions
        else np.zeros(len(regions), bool)
    )
    if has_geom.any():
        geoms = _load_geoms(
            regions.loc[has_geom, "geometry_wkt"].tolist(),
            regions.loc[has_geom, "region_id"].tolist(),
            source=source,
        )
        cent = [g.centroid for g in geoms]  # type: ignore[attr-defined]
        lon[has_geom] = [c.x for c in cent]
        lat[has_geom] = [c.y for c in cent]
    if "lon" in regions and "lat" in regions:
        given = ~has_geom & regions["lon"].notna().to_numpy() & regions["lat"].notna().to_numpy()
        lon[given] = regions.loc[given, "lon"].astype(float)
        lat[given] = regions.loc[given, "lat"].astype(float)
    out["lon"] = np.round(lon, 8)
    out["lat"] = np.round(lat, 8)
    return out


def haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix_km(cent: pd.DataFrame) -> np.ndarray:
    lon = cent["lon"].to_numpy(float)
    lat = cent["lat"].to_numpy(float)
    return haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])


@dataclass(frozen=True)
class WeightsBuild:
    """Weights plus a record of how islands were treated."""

    weights: SpatialWeights
    islands: tuple[str, ...]
    added_links: tuple[tuple[str, str], ...]
    rule: str


def queen_weights(
    regions: pd.DataFrame,
    *,
    island_rule: IslandRule = "error",
    island_k: int = 1,
    row_standardise: bool = False,
    source: str = "regions",
) -> WeightsBuild:
    """Queen contiguity between the regions' polygons (libpysal), with an island rule."""
    from libpysal.weights import Queen

    ids = regions["region_id"].astype(str).tolist()
    geoms = _load_geoms(regions["geometry_wkt"].tolist(), ids, source=source)
    w = Queen.from_iterable(geoms, ids=ids, silence_warnings=True)
    pos = {u: k for k, u in enumerate(ids)}
    rows, cols = [], []
    for i, neigh in w.neighbors.items():
        for j in neigh:
            rows.append(pos[i])
            cols.append(pos[j])
    mat = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    binary = SpatialWeights(tuple(ids), mat, "binary", "queen")
    return _apply_island_rule(
        binary, regions, island_rule=island_rule, k=island_k, row_standardise=row_standardise, source=source
    )


def _apply_island_rule(
    w: SpatialWeights,
    regions: pd.DataFrame,
    *,
    island_rule: str,
    k: int,
    row_standardise: bool,
    source: str,
    column: str = "geometry_wkt",
) -> WeightsBuild:
    islands = w.islands
    added: list[tuple[str, str]] = []
    if islands:
        if island_rule == "error":
            raise InputError(
                f"island(s) without contiguous neighbours: {', '.join(islands)}; choose an island rule "
                "(nearest, drop, keep) in config weights.islands",
                source=source,
                column=column,
            )
        if island_rule == "nearest":
            cent = centroids(regions.set_index("region_id").loc[list(w.ids)].reset_index(), source=source)
            dist = distance_matrix_km(cent)
            np.fill_diagonal(dist, np.inf)
            mat = w.matrix.tolil()
            for isl in islands:
                i = w.ids.index(isl)
                for j in np.argsort(dist[i], kind="stable")[:k]:
                    mat[i, j] = 1.0
                    mat[j, i] = 1.0
                    added.append((isl, w.ids[int(j)]))
            w = SpatialWeights(w.ids, mat.tocsr(), w.transform, w.kind + f"+nearest({k}) for islands")
        elif island_rule == "drop":
            w = w.drop_islands()
        elif island_rule == "keep":
            pass
        else:
            raise ConfigError(
                f"unknown island rule {island_rule!r}", source="config", column="weights.islands"
            )
    if row_standardise:
        w = w.row_standardise()
    return WeightsBuild(w, islands, tuple(added), island_rule)


def knn_weights(
    regions: pd.DataFrame, *, k: int, row_standardise: bool = True, source: str = "regions"
) -> WeightsBuild:
    """k nearest neighbours by great-circle centroid distance (ties broken by id order)."""
    if k < 1 or k >= len(regions):
        raise ConfigError(f"k must be between 1 and {len(regions) - 1}", source="config", column="weights.k")
    cent = centroids(regions, source=source)
    dist = distance_matrix_km(cent)
    np.fill_diagonal(dist, np.inf)
    n = len(regions)
    nbrs = np.argsort(dist, axis=1, kind="stable")[:, :k]
    mat = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), nbrs.ravel())), shape=(n, n))
    w = SpatialWeights(tuple(regions["region_id"].astype(str)), mat, "binary", f"knn(k={k})")
    return WeightsBuild(w.row_standardise() if row_standardise else w, (), (), "none")


def inverse_distance_weights(
    regions: pd.DataFrame,
    *,
    power: float = 1.0,
    cutoff_km: float | None = None,
    row_standardise: bool = True,
    source: str = "regions",
) -> WeightsBuild:
    """w_ij = d_ij^(-power) for d_ij ≤ cutoff (all pairs if no cutoff)."""
    cent = centroids(regions, source=source)
    dist = distance_matrix_km(cent)
    np.fill_diagonal(dist, np.inf)
    with np.errstate(divide="ignore"):
        dense = np.where(np.isfinite(dist), dist ** (-power), 0.0)
    if cutoff_km is not None:
        dense[dist > cutoff_km] = 0.0
    w = SpatialWeights(
        tuple(regions["region_id"].astype(str)),
        sp.csr_matrix(dense),
        "distance",
        f"inverse distance^{power:g}" + (f" ≤ {cutoff_km:g} km" if cutoff_km else ""),
    )
    return WeightsBuild(w.row_standardise() if row_standardise else w, w.islands, (), "none")
