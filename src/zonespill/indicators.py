"""Spillover-direction indicators: region-year and pair-year tables, and the zone panel.

Formulas are written down in ``docs/indicators.md``. In short, with collaborations
``c = (s_c, r_c, d_c, a_c, b_c)`` (giver, receiver, declared direction, start and end
year; an open end counts as active through the last analysis year):

* active_c(t) = 1{a_c ≤ t ≤ b_c};
* region roles: forward_giver (s_c of a forward tie), forward_receiver (r_c of a forward
  tie), reverse_giver (the core that hosts a reverse enclave, s_c), reverse_receiver (the
  periphery that initiates it, r_c), reverse (either reverse role), two_way (either end of
  a two-way tie), any (any role);
* n_K(i, t) = number of active ties in which region i plays role K; active_K = 1{n_K > 0};
  first_K(i) = min a_c over ties where i plays K (0 = never);
* partner_log_gap(i, t) = mean over distinct active partners j of (ln y_jt − ln y_it);
* nb_share_active(i, t) = Σ_j w_ij · active_any(j, t) with row-standardised W.

Province-level analysis maps each endpoint to its province (via ``parent_id``); ties
whose two endpoints fall in the same province are kept at the native level in the
pair-year table but do not create province-level ties (they are counted in the log).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zonespill.errors import InputError
from zonespill.geography import centroids, haversine_km
from zonespill.weights import SpatialWeights

ROLES = (
    "forward_giver",
    "forward_receiver",
    "reverse_giver",
    "reverse_receiver",
    "reverse",
    "two_way",
    "any",
)


def province_of(regions: pd.DataFrame) -> dict[str, str]:
    """Map every region id to its province id by walking ``parent_id`` upwards."""
    parent = dict(zip(regions["region_id"].astype(str), regions["parent_id"].astype("string"), strict=True))
    level = dict(zip(regions["region_id"].astype(str), regions["level"].astype(str), strict=True))
    out: dict[str, str] = {}
    for rid in parent:
        cur, steps = rid, 0
        while level.get(cur) != "province":
            nxt = parent.get(cur)
            if nxt is None or pd.isna(nxt) or steps > 10:
                break
            cur, steps = str(nxt), steps + 1
        if level.get(cur) == "province":
            out[rid] = cur
    return out


def region_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """GDP per capita, its log and growth (never across a vintage change or a gap).

    gdp is in 100 million yuan and population in 10,000 persons, so
    gdp_pc = gdp · 10^8 / (population · 10^4) yuan per person.
    """
    out = panel[["region_id", "year", "gdp", "population", "vintage"]].copy()
    out["gdp"] = out["gdp"].astype("float64")
    out["population"] = out["population"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["gdp_pc"] = out["gdp"] * 1e8 / (out["population"] * 1e4)
        out.loc[~(out["population"] > 0), "gdp_pc"] = np.nan
        out["log_gdp_pc"] = np.log(out["gdp_pc"])
    out = out.sort_values(["region_id", "year"], kind="mergesort").reset_index(drop=True)
    prev = out.groupby("region_id", sort=False)[["year", "log_gdp_pc", "vintage"]].shift(1)
    same = (prev["year"] == out["year"] - 1) & (
        prev["vintage"].astype("string") == out["vintage"].astype("string")
    ).fillna(False)
    out["growth"] = np.where(same, out["log_gdp_pc"] - prev["log_gdp_pc"], np.nan)
    return out


def zone_panel(
    zones: pd.DataFrame, *, region_ids: list[str], years: range, province_map: dict[str, str] | None = None
) -> pd.DataFrame:
    """Region-year counts of approved zones by level and type and cumulative approved area.

    A zone counts from its approval year on. Zone hosts below the province level are
    mapped to their province when ``province_map`` is given.
    """
    z = zones.copy()
    host = z["region_id"].astype(str)
    if province_map is not None:
        host = host.map(lambda r: province_map.get(r, r))
    z["host"] = host
    z = z[z["host"].isin(region_ids)]
    grid = pd.MultiIndex.from_product(
        [sorted(region_ids), list(years)], names=["region_id", "year"]
    ).to_frame(index=False)
    year_arr = grid["year"].to_numpy()
    cols: dict[str, np.ndarray] = {}

    def cumulative(mask: pd.Series, weight: pd.Series | None = None) -> np.ndarray:
        sub = z[mask]
        vals = np.zeros(len(grid))
        w = (
            (weight[mask] if weight is not None else pd.Series(1.0, index=sub.index))
            .fillna(0.0)
            .astype(float)
        )
        by = pd.DataFrame({"host": sub["host"], "y": sub["approval_year"].astype(int), "w": w})
        agg = by.groupby(["host", "y"], as_index=False)["w"].sum()
        region_arr = grid["region_id"].to_numpy()
        for host_id, yr, val in zip(agg["host"], agg["y"], agg["w"], strict=True):
            vals[(region_arr == host_id) & (year_arr >= yr)] += float(val)
        return vals

    all_rows = pd.Series(True, index=z.index)
    cols["zones_total"] = cumulative(all_rows)
    for lvl in ("national", "provincial"):
        cols[f"zones_{lvl}"] = cumulative(z["level"] == lvl)
    for typ in sorted(z["type"].dropna().unique()):
        cols[f"zones_type_{typ}"] = cumulative(z["type"] == typ)
    cols["zone_area_ha"] = cumulative(
        all_rows, pd.to_numeric(z["area_ha"], errors="coerce").astype("float64")
    )
    for name, vals in cols.items():
        grid[name] = vals if name == "zone_area_ha" else vals.astype("int64")
    return grid


@dataclass(frozen=True)
class ProvinceTies:
    """Collaborations mapped to provinces, with the ties dropped at that level."""

    ties: pd.DataFrame
    same_province: tuple[str, ...]
    outside_panel: tuple[str, ...]


def province_ties(
    collaborations: pd.DataFrame, regions: pd.DataFrame, *, analysis_ids: list[str]
) -> ProvinceTies:
    """Map each collaboration's endpoints to provinces for province-level analysis."""
    pmap = province_of(regions)
    c = collaborations.copy()
    c["source_province"] = c["source_id"].astype(str).map(pmap)
    c["target_province"] = c["target_id"].astype(str).map(pmap)
    unmapped = c["source_province"].isna() | c["target_province"].isna()
    if unmapped.any():
        raise InputError(
            "collaboration endpoint has no province (check parent_id in the regions table)",
            source="collaborations",
            rows=c.index[unmapped].tolist(),
            column="source_id/target_id",
        )
    same = c["source_province"] == c["target_province"]
    outside = ~(c["source_province"].isin(analysis_ids) & c["target_province"].isin(analysis_ids))
    keep = ~same & ~outside
    return ProvinceTies(
        ties=c[keep].reset_index(drop=True),
        same_province=tuple(c.loc[same, "collab_id"].astype(str)),
        outside_panel=tuple(c.loc[outside & ~same, "collab_id"].astype(str)),
    )


def _role_rows(ties: pd.DataFrame) -> pd.DataFrame:
    """One row per (tie, province, role)."""
    parts = []
    for direction, src_role, tgt_role in (
        ("forward", "forward_giver", "forward_receiver"),
        ("reverse", "reverse_giver", "reverse_receiver"),
        ("two_way", "two_way", "two_way"),
        ("unknown", None, None),
    ):
        sub = ties[ties["direction"] == direction]
        for side, role, partner in (
            ("source_province", src_role, "target_province"),
            ("target_province", tgt_role, "source_province"),
        ):
            base = pd.DataFrame(
                {
                    "collab_id": sub["collab_id"].astype(str),
                    "region_id": sub[side].astype(str),
                    "partner_id": sub[partner].astype(str),
                    "start_year": sub["start_year"].astype(int),
                    "end_year": sub["end_year"].astype("Float64"),
                }
            )
            roles = [role] if role else []
            if direction == "reverse":
                roles.append("reverse")
            roles.append("any")
            for r in roles:
                parts.append(base.assign(role=r))
    if not parts:
        return pd.DataFrame(
            columns=["collab_id", "region_id", "partner_id", "start_year", "end_year", "role"]
        )
    return pd.concat(parts, ignore_index=True)


def region_year(
    panel: pd.DataFrame,
    ties: pd.DataFrame,
    *,
    weights: SpatialWeights,
    zones: pd.DataFrame | None = None,
    years: range | None = None,
) -> pd.DataFrame:
    """The region-year indicator table (see module docstring and docs/indicators.md)."""
    base = region_panel(panel)
    if years is not None:
        base = base[base["year"].isin(list(years))].reset_index(drop=True)
    ids = sorted(base["region_id"].astype(str).unique())
    roles = _role_rows(ties)
    year_arr = base["year"].to_numpy()
    rid_arr = base["region_id"].astype(str).to_numpy()
    for role in ROLES:
        sub = roles[roles["role"] == role]
        n = np.zeros(len(base), dtype=np.int64)
        first: dict[str, int] = {}
        ends = sub["end_year"].astype("Float64").fillna(np.inf).astype(float).to_numpy()
        for rid, start, end in zip(
            sub["region_id"].astype(str), sub["start_year"].astype(int), ends, strict=True
        ):
            n += (rid_arr == rid) & (year_arr >= start) & (year_arr <= end)
            first[rid] = min(first.get(rid, 10**6), int(start))
        base[f"n_{role}"] = n
        base[f"active_{role}"] = (n > 0).astype(np.int64)
        base[f"first_{role}"] = [first.get(r, 0) for r in rid_arr]
    # partner income gap: mean over distinct active partners of (partner − own) log income
    logy = base.set_index(["region_id", "year"])["log_gdp_pc"]
    any_roles = roles[roles["role"] == "any"]
    gaps = np.full(len(base), np.nan)
    for k, (rid, yr) in enumerate(zip(rid_arr, year_arr, strict=True)):
        act = any_roles[
            (any_roles["region_id"] == rid)
            & (any_roles["start_year"] <= yr)
            & (any_roles["end_year"].isna() | (any_roles["end_year"] >= yr))
        ]
        partners = sorted(set(act["partner_id"]))
        if not partners:
            continue
        own = logy.get((rid, yr), np.nan)
        vals = [logy.get((p, yr), np.nan) - own for p in partners]
        vals = [v for v in vals if np.isfinite(v)]
        if vals:
            gaps[k] = float(np.mean(vals))
    base["partner_log_gap"] = gaps
    # W-weighted share of neighbours with an active tie
    w = weights.reorder([i for i in weights.ids if i in set(ids)])
    if not w.is_row_standardised:
        w = w.row_standardise()
    share = np.full(len(base), np.nan)
    active = (
        base.pivot(index="region_id", columns="year", values="active_any")
        .reindex(list(w.ids))
        .fillna(0)
        .to_numpy()
    )
    lag = w.matrix @ active
    col_of = {y: k for k, y in enumerate(sorted(base["year"].unique()))}
    row_of = {u: k for k, u in enumerate(w.ids)}
    for k, (rid, yr) in enumerate(zip(rid_arr, year_arr, strict=True)):
        if rid in row_of:
            share[k] = lag[row_of[rid], col_of[yr]]
    base["nb_share_active"] = share
    if zones is not None:
        zp = zone_panel(
            zones, region_ids=ids, years=range(int(base["year"].min()), int(base["year"].max()) + 1)
        )
        base = base.merge(zp, on=["region_id", "year"], how="left", validate="one_to_one")
    return base.sort_values(["region_id", "year"], kind="mergesort").reset_index(drop=True)


def pair_year(
    collaborations: pd.DataFrame,
    regions: pd.DataFrame,
    region_year_table: pd.DataFrame,
    *,
    years: range,
) -> pd.DataFrame:
    """The pair-year table: one row per collaboration and analysis year (native level)."""
    pmap = province_of(regions)
    cent = centroids(regions).set_index("region_id")
    c = collaborations.copy()
    c["source_province"] = c["source_id"].astype(str).map(pmap)
    c["target_province"] = c["target_id"].astype(str).map(pmap)
    src_xy = cent.reindex(c["source_id"].astype(str).tolist())
    tgt_xy = cent.reindex(c["target_id"].astype(str).tolist())
    c["distance_km"] = haversine_km(
        src_xy["lon"].to_numpy(float),
        src_xy["lat"].to_numpy(float),
        tgt_xy["lon"].to_numpy(float),
        tgt_xy["lat"].to_numpy(float),
    ).round(3)
    grid = c.merge(pd.DataFrame({"year": list(years)}), how="cross")
    end = grid["end_year"].astype("Float64").fillna(np.inf).astype(float)
    grid["active"] = ((grid["year"] >= grid["start_year"].astype(int)) & (grid["year"] <= end)).astype(
        np.int64
    )
    logy = region_year_table.set_index(["region_id", "year"])["log_gdp_pc"]
    grid["giver_log_gdp_pc"] = logy.reindex(
        pd.MultiIndex.from_arrays([grid["source_province"], grid["year"]])
    ).to_numpy()
    grid["receiver_log_gdp_pc"] = logy.reindex(
        pd.MultiIndex.from_arrays([grid["target_province"], grid["year"]])
    ).to_numpy()
    grid["log_gap"] = grid["giver_log_gdp_pc"] - grid["receiver_log_gdp_pc"]
    grid["abs_log_gap"] = grid["log_gap"].abs()
    grid["same_province"] = (grid["source_province"] == grid["target_province"]).astype(np.int64)
    cols = [
        "collab_id",
        "year",
        "source_id",
        "target_id",
        "source_province",
        "target_province",
        "programme",
        "direction",
        "level",
        "start_year",
        "end_year",
        "active",
        "same_province",
        "giver_log_gdp_pc",
        "receiver_log_gdp_pc",
        "log_gap",
        "abs_log_gap",
        "distance_km",
    ]
    for col in cols:
        if col not in grid:
            grid[col] = pd.NA
    return grid[cols].sort_values(["collab_id", "year"], kind="mergesort").reset_index(drop=True)
