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

The analysis runs at one level (``province``, ``prefecture`` or ``county``). Each pairing
endpoint is mapped to that level by :func:`analysis_ties`: an endpoint below it goes to
its ancestor (via ``parent_id``); an endpoint above it follows the configured rule
(``capital``: one descendant, ``all_children``: one tie per descendant, ``drop``). Ties
whose two endpoints fall in the same analysis unit stay in the pair-year table but create
no region-year role; every mapping, expansion and drop is listed in the tie record.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from zonespill.errors import ConfigError, InputError
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


# --------------------------------------------------------------------------- levels
#: Region levels from the coarsest to the finest; an analysis runs at one of the first three.
LEVEL_ORDER = ("province", "prefecture", "county", "zone")
ANALYSIS_LEVELS = ("province", "prefecture", "county")
ABOVE_RULES = ("capital", "all_children", "drop")

#: The tie vocabulary: each role's function and the spillover direction the seed article
#: (Wang & Liang 2023) gives it. Column names keep the giver/receiver convention of the
#: collaborations table (giver = ``source_id``).
ROLE_INFO: dict[str, dict[str, str]] = {
    "forward_giver": {
        "function": "core that sends capital, projects and management to a park in the periphery",
        "spillover": "sender (core → periphery)",
    },
    "forward_receiver": {
        "function": "periphery that receives the forward enclave",
        "spillover": "receiver (core → periphery)",
    },
    "reverse_giver": {
        "function": "host core: hosts the periphery's R&D/incubation enclave",
        "spillover": "receiver of the periphery → core spillover (information, incremental know-how)",
    },
    "reverse_receiver": {
        "function": "initiating periphery: sets up the enclave inside the core",
        "spillover": "sender (periphery → core); brings incubated projects home",
    },
    "reverse": {"function": "either reverse-enclave role", "spillover": "periphery → core"},
    "two_way": {"function": "partner in a two-way (symbiotic) collaboration", "spillover": "both directions"},
    "any": {"function": "any role, including ties of unknown direction", "spillover": "any"},
}


def _hierarchy(regions: pd.DataFrame) -> tuple[dict[str, str | None], dict[str, str]]:
    ids = regions["region_id"].astype(str).tolist()
    parents = regions["parent_id"].astype("string").tolist()
    parent: dict[str, str | None] = {
        r: (None if p is None or pd.isna(p) else str(p)) for r, p in zip(ids, parents, strict=True)
    }
    level = dict(zip(ids, regions["level"].astype(str), strict=True))
    return parent, level


def ancestor_at(regions: pd.DataFrame, level: str) -> dict[str, str]:
    """Map every region at or below ``level`` to its region at ``level`` (itself if at it)."""
    parent, lvl = _hierarchy(regions)
    out: dict[str, str] = {}
    for rid in parent:
        cur: str | None = rid
        for _ in range(len(LEVEL_ORDER) + 8):
            if cur is None or lvl.get(cur) == level:
                break
            cur = parent.get(cur)
        if cur is not None and lvl.get(cur) == level:
            out[rid] = cur
    return out


def descendants_at(regions: pd.DataFrame, level: str) -> dict[str, list[str]]:
    """Map every region above ``level`` to its descendants at ``level``, sorted by code."""
    out: dict[str, list[str]] = {}
    parent, _ = _hierarchy(regions)
    for rid, anc in ancestor_at(regions, level).items():
        if rid != anc:
            continue
        cur = parent.get(rid)
        for _ in range(len(LEVEL_ORDER) + 8):
            if cur is None:
                break
            out.setdefault(cur, []).append(rid)
            cur = parent.get(cur)
    return {k: sorted(v) for k, v in out.items()}


def _rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


@dataclass(frozen=True)
class AnalysisTies:
    """Collaborations mapped to the analysis level, with a record of every mapping.

    ``ties`` holds one row per analysis-level tie (``tie_id`` = ``collab_id`` unless the
    pairing was expanded by ``all_children``), including ties inside one unit
    (``same_unit = 1``) and ties with an end outside the analysis regions
    (``in_analysis = 0``); :attr:`active_ties` keeps those that create region-year roles.
    ``record`` has one row per collaboration and resulting tie (or drop): ``collab_id,
    tie_id, source_id, target_id, source_level, target_level, source_unit, target_unit,
    action, detail``.
    """

    ties: pd.DataFrame
    record: pd.DataFrame
    level: str

    @property
    def active_ties(self) -> pd.DataFrame:
        keep = (self.ties["same_unit"] == 0) & (self.ties["in_analysis"] == 1)
        return self.ties[keep].reset_index(drop=True)

    def _ids(self, action: str) -> tuple[str, ...]:
        sub = self.record[self.record["action"] == action]
        return tuple(dict.fromkeys(sub["collab_id"].astype(str)))

    @property
    def same_unit(self) -> tuple[str, ...]:
        return tuple(self.ties.loc[self.ties["same_unit"] == 1, "tie_id"].astype(str))

    @property
    def outside_panel(self) -> tuple[str, ...]:
        sub = self.ties[(self.ties["same_unit"] == 0) & (self.ties["in_analysis"] == 0)]
        return tuple(sub["tie_id"].astype(str))

    @property
    def dropped(self) -> tuple[str, ...]:
        return self._ids("dropped")

    @property
    def expanded(self) -> tuple[str, ...]:
        sub = self.record[self.record["detail"].astype(str).str.contains("all_children")]
        return tuple(dict.fromkeys(sub["collab_id"].astype(str)))

    def counts(self) -> dict[str, int]:
        return {
            "collaborations": int(self.record["collab_id"].nunique()),
            "ties": len(self.active_ties),
            "same_unit": len(self.same_unit),
            "outside_analysis_regions": len(self.outside_panel),
            "dropped_above_level": len(self.dropped),
            "expanded_all_children": len(self.expanded),
            "mapped_to_capital": int(self.record["detail"].astype(str).str.contains("capital").sum()),
            "mapped_to_ancestor": int(self.record["detail"].astype(str).str.contains("ancestor").sum()),
        }

    def why_none(self) -> str:
        """Plain-language reasons why no tie reaches the analysis (for the error message)."""
        c = self.counts()
        parts = [f"{c['collaborations']} collaboration(s) read"]
        if c["dropped_above_level"]:
            parts.append(
                f"{c['dropped_above_level']} dropped because an endpoint is above the {self.level} level "
                "(rule analysis.pairings.above: drop; use capital or all_children)"
            )
        if c["same_unit"]:
            parts.append(f"{c['same_unit']} fall inside one {self.level} (no between-unit tie)")
        if c["outside_analysis_regions"]:
            ex = ", ".join(self.outside_panel[:5])
            parts.append(
                f"{c['outside_analysis_regions']} have an end that is not a {self.level} of the panel "
                f"(e.g. {ex}; is the panel at the {self.level} level?)"
            )
        return "; ".join(parts)


def analysis_ties(
    collaborations: pd.DataFrame,
    regions: pd.DataFrame,
    *,
    level: str,
    analysis_ids: list[str],
    above: str = "capital",
    capitals: Mapping[str, str] | None = None,
    source: str = "collaborations",
) -> AnalysisTies:
    """Map each collaboration's endpoints to the analysis ``level``.

    An endpoint below the level goes to its ancestor at the level. An endpoint above it
    follows ``above``: ``capital`` (the descendant given in ``capitals``, else the one with
    the lowest code — the capital in the GB/T 2260 scheme), ``all_children`` (one tie per
    descendant at the level; with both ends above, every combination) or ``drop``.
    """
    if level not in ANALYSIS_LEVELS:
        raise ConfigError(f"unknown analysis level {level!r}", source="config", column="analysis.level")
    if above not in ABOVE_RULES:
        raise ConfigError(
            f"must be one of {', '.join(ABOVE_RULES)}", source="config", column="analysis.pairings.above"
        )
    _, lvl = _hierarchy(regions)
    anc = ancestor_at(regions, level)
    desc = descendants_at(regions, level)
    prov = ancestor_at(regions, "province")
    caps = {str(k): str(v) for k, v in (capitals or {}).items()}
    for parent_id, child in caps.items():
        if child not in desc.get(parent_id, []):
            raise ConfigError(
                f"capital {child} of {parent_id} is not a {level} inside {parent_id}",
                source="config",
                column=f"analysis.pairings.capitals.{parent_id}",
            )
    ids = set(map(str, analysis_ids))
    tie_rows: list[dict[str, object]] = []
    rec_rows: list[dict[str, object]] = []
    unmapped: list[tuple[str, str]] = []
    for rec in collaborations.to_dict("records"):
        cid = str(rec["collab_id"])
        options: list[list[tuple[str, str]]] = []
        drop_reason = ""
        for end in ("source_id", "target_id"):
            rid = str(rec[end])
            rl = lvl.get(rid, "?")
            if rl == level:
                options.append([(rid, "native")])
            elif _rank(rl) > _rank(level):
                if rid not in anc:
                    unmapped.append((cid, rid))
                    options.append([])
                else:
                    options.append([(anc[rid], f"{end}: ancestor of {rid}")])
            else:
                below = desc.get(rid, [])
                if not below:
                    unmapped.append((cid, rid))
                    options.append([])
                elif above == "drop":
                    drop_reason = f"{end} {rid} is a {rl}, above the analysis level (rule: drop)"
                    options.append([])
                elif above == "capital":
                    how = "config" if rid in caps else "lowest code"
                    options.append([(caps.get(rid, below[0]), f"{end}: capital of {rid} ({how})")])
                else:
                    options.append([(d, f"{end}: all_children of {rid}") for d in below])
        base = {
            "collab_id": cid,
            "source_id": str(rec["source_id"]),
            "target_id": str(rec["target_id"]),
            "source_level": lvl.get(str(rec["source_id"]), "?"),
            "target_level": lvl.get(str(rec["target_id"]), "?"),
        }
        if drop_reason or not options[0] or not options[1]:
            if drop_reason:
                rec_rows.append(
                    {
                        **base,
                        "tie_id": pd.NA,
                        "source_unit": pd.NA,
                        "target_unit": pd.NA,
                        "action": "dropped",
                        "detail": drop_reason,
                    }
                )
            continue
        combos = [(s, t) for s in options[0] for t in options[1]]
        for (su, s_how), (tu, t_how) in combos:
            tie_id = cid if len(combos) == 1 else f"{cid}:{su}>{tu}"
            same = su == tu
            inside = su in ids and tu in ids
            how = "; ".join(h for h in (s_how, t_how) if h != "native") or "native"
            action = "same_unit" if same else ("tie" if inside else "outside_analysis_regions")
            tie_rows.append(
                {
                    "collab_id": cid,
                    "tie_id": tie_id,
                    "source_unit": su,
                    "target_unit": tu,
                    "source_province": prov.get(su, pd.NA),
                    "target_province": prov.get(tu, pd.NA),
                    "mapping": how,
                    "same_unit": int(same),
                    "in_analysis": int(inside and not same),
                }
            )
            rec_rows.append(
                {
                    **base,
                    "tie_id": tie_id,
                    "source_unit": su,
                    "target_unit": tu,
                    "action": action,
                    "detail": how,
                }
            )
    if unmapped:
        shown = ", ".join(f"{c} ({r})" for c, r in unmapped[:10])
        raise InputError(
            f"collaboration endpoint(s) have no region at the {level} level in the regions table "
            f"(check parent_id and level): {shown}",
            source=source,
            column="source_id/target_id",
        )
    new_cols = [
        "collab_id",
        "tie_id",
        "source_unit",
        "target_unit",
        "source_province",
        "target_province",
        "mapping",
        "same_unit",
        "in_analysis",
    ]
    mapped = pd.DataFrame(tie_rows, columns=new_cols)
    for c in new_cols[:-2]:
        mapped[c] = mapped[c].astype("string")
    for c in ("same_unit", "in_analysis"):
        mapped[c] = mapped[c].astype(np.int64)
    base_cols = [c for c in collaborations.columns if c not in new_cols[1:]]
    # merge keeps the collaborations' dtypes and the order of their rows
    ties = (
        collaborations[base_cols]
        .assign(collab_id=collaborations["collab_id"].astype("string"))
        .merge(mapped, on="collab_id", how="inner", validate="one_to_many")
    )
    record = pd.DataFrame(
        rec_rows,
        columns=[
            "collab_id",
            "tie_id",
            "source_id",
            "target_id",
            "source_level",
            "target_level",
            "source_unit",
            "target_unit",
            "action",
            "detail",
        ],
    ).astype("string")
    return AnalysisTies(ties.reset_index(drop=True), record, level)


def region_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """GDP per capita, its log and growth (never across a vintage change or a gap).

    gdp is in 100 million yuan and population in 10,000 persons, so
    gdp_pc = gdp · 10^8 / (population · 10^4) yuan per person. With a ``price_index``
    column (100 in the base year) ``gdp_pc`` and everything derived from it are real,
    ``gdp_pc_nominal`` keeps the nominal value, and ``price_basis`` says which.
    """
    real = "price_index" in panel.columns
    extra = ["price_index", "price_basis"] if real else []
    base_cols = ["region_id", "year", "gdp", "population", "vintage", *extra]
    # covariates and the other GDP vintages ride along so that a declared table can use them
    carried = [c for c in panel.columns if c not in base_cols]
    out = panel[[*base_cols, *carried]].copy()
    out["gdp"] = out["gdp"].astype("float64")
    out["population"] = out["population"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["gdp_pc"] = out["gdp"] * 1e8 / (out["population"] * 1e4)
        out.loc[~(out["population"] > 0), "gdp_pc"] = np.nan
        out["gdp_pc_nominal"] = out["gdp_pc"]
        if real:
            out["gdp_pc"] = out["gdp_pc_nominal"] * 100.0 / out["price_index"].astype("float64")
        else:
            out["price_basis"] = "nominal"
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
    cols: dict[str, np.ndarray] = {}
    year_arr = np.asarray(sorted(years), dtype=np.int64)
    row_of = {r: k for k, r in enumerate(sorted(region_ids))}

    def cumulative(mask: pd.Series, weight: pd.Series | None = None) -> np.ndarray:
        sub = z[mask]
        w = (
            (weight[mask] if weight is not None else pd.Series(1.0, index=sub.index))
            .fillna(0.0)
            .astype(float)
        )
        # a zone counts from the first listed year at or after its approval on
        pos = np.searchsorted(year_arr, sub["approval_year"].astype(int).to_numpy(), side="left")
        rows = np.array([row_of[h] for h in sub["host"]], dtype=np.int64)
        keep = pos < len(year_arr)
        mat = np.zeros((len(row_of), len(year_arr)))
        np.add.at(mat, (rows[keep], pos[keep]), w.to_numpy(dtype=float)[keep])
        return np.cumsum(mat, axis=1).ravel()

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
class ZonePlacement:
    """Zones whose host maps to the analysis level, and the units whose counts are incomplete."""

    zones: pd.DataFrame
    incomplete: tuple[str, ...]
    info: dict[str, object]


def place_zones(zones: pd.DataFrame, regions: pd.DataFrame, *, level: str) -> ZonePlacement:
    """Move each zone to its host's unit at ``level``.

    A zone hosted at or below the level counts in its ancestor at the level. A zone hosted
    above it (a province-coded catalogue in a prefecture analysis) cannot be placed: the
    units below its host get ``zones_complete = 0`` and missing zone counts, not zeros.
    """
    anc = ancestor_at(regions, level)
    desc = descendants_at(regions, level)
    _, lvl = _hierarchy(regions)
    host = zones["region_id"].astype(str)
    unit = host.map(anc)
    unplaced = unit.isna()
    incomplete = sorted({d for h in host[unplaced] for d in desc.get(h, [])})
    host_levels = host.map(lambda r: lvl.get(r, "?")).value_counts().sort_index()
    info: dict[str, object] = {
        "level": level,
        "zones": len(zones),
        "placed": int((~unplaced).sum()),
        "hosted_above_level": int(unplaced.sum()),
        "host_levels": {str(k): int(v) for k, v in host_levels.items()},
        "units_with_incomplete_counts": len(incomplete),
    }
    if unplaced.any():
        info["note"] = (
            f"{int(unplaced.sum())} of {len(zones)} zones are coded at a level above the {level} "
            f"({', '.join(sorted(set(host[unplaced].map(lambda r: lvl.get(r, '?')))))}); zone counts of "
            f"the {len(incomplete)} {level} unit(s) below their hosts are missing (zones_complete = 0)"
        )
    placed = zones[~unplaced].assign(region_id=unit[~unplaced].astype("string"))
    return ZonePlacement(placed.reset_index(drop=True), tuple(incomplete), info)


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
    mapped = analysis_ties(collaborations, regions, level="province", analysis_ids=analysis_ids)
    return ProvinceTies(
        ties=mapped.active_ties,
        same_province=mapped.same_unit,
        outside_panel=mapped.outside_panel,
    )


def _role_rows(ties: pd.DataFrame) -> pd.DataFrame:
    """One row per (tie, analysis unit, role)."""
    parts = []
    for direction, src_role, tgt_role in (
        ("forward", "forward_giver", "forward_receiver"),
        ("reverse", "reverse_giver", "reverse_receiver"),
        ("two_way", "two_way", "two_way"),
        ("unknown", None, None),
    ):
        sub = ties[ties["direction"] == direction]
        src, tgt = (
            ("source_unit", "target_unit")
            if "source_unit" in ties
            else ("source_province", "target_province")
        )
        for side, role, partner in ((src, src_role, tgt), (tgt, tgt_role, src)):
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


def _active_years(roles: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Expand role rows to one row per year of ``years`` in which the tie is active."""
    cols = ["region_id", "partner_id", "role", "year"]
    if roles.empty or not years:
        return pd.DataFrame(columns=cols)
    yrs = np.asarray(years, dtype=np.int64)
    start = roles["start_year"].astype(int).to_numpy()
    end = roles["end_year"].astype("Float64").fillna(np.inf).astype(float).to_numpy()
    on = (yrs[None, :] >= start[:, None]) & (yrs[None, :] <= end[:, None])
    r, c = np.nonzero(on)
    return pd.DataFrame(
        {
            "region_id": roles["region_id"].astype(str).to_numpy()[r],
            "partner_id": roles["partner_id"].astype(str).to_numpy()[r],
            "role": roles["role"].to_numpy()[r],
            "year": yrs[c],
        }
    )


def region_year(
    panel: pd.DataFrame,
    ties: pd.DataFrame,
    *,
    weights: SpatialWeights,
    zones: pd.DataFrame | None = None,
    years: range | None = None,
    zones_incomplete: Collection[str] = (),
) -> pd.DataFrame:
    """The region-year indicator table (see module docstring and docs/indicators.md).

    ``zones`` must already be placed at the analysis level (:func:`place_zones`); units in
    ``zones_incomplete`` get missing zone counts and ``zones_complete = 0``.
    """
    base = region_panel(panel)
    reserved = {f"{p}_{r}" for r in ROLES for p in ("n", "active", "first")}
    reserved |= {"partner_log_gap", "nb_share_active", "zones_complete", "gdp_pc_nominal"}
    clash = sorted(reserved & set(panel.columns))
    if clash:
        raise InputError(
            f"panel column(s) {clash} clash with indicator names; rename them in inputs.panel.covariates",
            source="panel",
            column=clash[0],
        )
    if years is not None:
        base = base[base["year"].isin(list(years))].reset_index(drop=True)
    ids = sorted(base["region_id"].astype(str).unique())
    roles = _role_rows(ties)
    rid_arr = base["region_id"].astype(str).to_numpy()
    keys = pd.MultiIndex.from_arrays([rid_arr, base["year"].to_numpy()])
    # one row per (tie, unit, role, year in the tie's active span that the table has)
    spans = _active_years(roles, sorted(base["year"].unique()))
    for role in ROLES:
        sub = spans[spans["role"] == role]
        n = sub.groupby(["region_id", "year"]).size().reindex(keys, fill_value=0).to_numpy()
        first = roles[roles["role"] == role].groupby("region_id")["start_year"].min()
        base[f"n_{role}"] = n.astype(np.int64)
        base[f"active_{role}"] = (n > 0).astype(np.int64)
        base[f"first_{role}"] = first.reindex(rid_arr).fillna(0).astype(np.int64).to_numpy()
    # partner income gap: mean over distinct active partners of (partner − own) log income
    logy = base.set_index(["region_id", "year"])["log_gdp_pc"]
    act = spans[spans["role"] == "any"].drop_duplicates(["region_id", "partner_id", "year"])
    own = logy.reindex(pd.MultiIndex.from_arrays([act["region_id"], act["year"]])).to_numpy()
    other = logy.reindex(pd.MultiIndex.from_arrays([act["partner_id"], act["year"]])).to_numpy()
    diff = pd.Series(other - own, index=pd.MultiIndex.from_arrays([act["region_id"], act["year"]]))
    gaps = diff[np.isfinite(diff.to_numpy(dtype=float))].groupby(level=[0, 1]).mean()
    base["partner_log_gap"] = gaps.reindex(keys).to_numpy(dtype=float)
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
    rows = np.array([row_of.get(r, -1) for r in rid_arr], dtype=np.int64)
    cols = np.array([col_of[y] for y in base["year"].to_numpy()], dtype=np.int64)
    inside = rows >= 0
    share[inside] = lag[rows[inside], cols[inside]]
    base["nb_share_active"] = share
    if zones is not None:
        zp = zone_panel(
            zones, region_ids=ids, years=range(int(base["year"].min()), int(base["year"].max()) + 1)
        )
        base = base.merge(zp, on=["region_id", "year"], how="left", validate="one_to_one")
        incomplete = base["region_id"].astype(str).isin(set(map(str, zones_incomplete)))
        base["zones_complete"] = (~incomplete).astype(np.int64)
        if incomplete.any():
            # a count that misses zones coded above the analysis level is not data: NaN, not 0
            for name in zp.columns.drop(["region_id", "year"]):
                base[name] = base[name].astype("float64").mask(incomplete)
    return base.sort_values(["region_id", "year"], kind="mergesort").reset_index(drop=True)


def pair_year(
    collaborations: pd.DataFrame,
    regions: pd.DataFrame,
    region_year_table: pd.DataFrame,
    *,
    years: range,
    ties: AnalysisTies | None = None,
) -> pd.DataFrame:
    """The pair-year table: one row per analysis-level tie and year (key ``tie_id, year``).

    ``ties`` defaults to the province-level mapping of ``collaborations``. Ties inside one
    unit (``same_unit = 1``) and ties with an end outside the analysis regions
    (``in_analysis = 0``) are kept; dropped pairings are not (they are in the tie record).
    """
    if ties is None:
        ids = sorted(region_year_table["region_id"].astype(str).unique())
        ties = analysis_ties(collaborations, regions, level="province", analysis_ids=ids)
    cent = centroids(regions).set_index("region_id")
    c = ties.ties.copy()
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
        pd.MultiIndex.from_arrays([grid["source_unit"].astype(object), grid["year"]])
    ).to_numpy()
    grid["receiver_log_gdp_pc"] = logy.reindex(
        pd.MultiIndex.from_arrays([grid["target_unit"].astype(object), grid["year"]])
    ).to_numpy()
    grid["log_gap"] = grid["giver_log_gdp_pc"] - grid["receiver_log_gdp_pc"]
    grid["abs_log_gap"] = grid["log_gap"].abs()
    grid["same_province"] = (
        (grid["source_province"] == grid["target_province"]).fillna(False).astype(np.int64)
    )
    cols = [
        "tie_id",
        "collab_id",
        "year",
        "source_id",
        "target_id",
        "source_unit",
        "target_unit",
        "source_province",
        "target_province",
        "mapping",
        "programme",
        "direction",
        "level",
        "start_year",
        "end_year",
        "active",
        "same_unit",
        "in_analysis",
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
    return grid[cols].sort_values(["tie_id", "year"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- flows
FLOW_ABSENT = ("zero", "missing")


def _kind_suffix(kind: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(kind).lower()).strip("_") or "flow"


@dataclass(frozen=True)
class FlowIndicators:
    """Flow-based direction indicators at the analysis level (see docs/indicators.md).

    ``pairs``: one row per unordered unit pair ``a < b``, kind and year (``flow_ab``,
    ``flow_ba``, ``flow_total``, ``net_share_ab``, ``two_way_index`` and the pair's tie
    status); ``region_year``: per kind ``flow_out_<k>``, ``flow_in_<k>``,
    ``flow_net_out_share_<k>``, ``flow_two_way_<k>``, ``flow_reciprocity_<k>``;
    ``directed``: the directed sums F_ab by year and kind; ``info``: what was used.
    """

    pairs: pd.DataFrame
    region_year: pd.DataFrame
    directed: pd.Series
    kinds: dict[str, str]
    info: dict[str, object]


def flow_indicators(
    flows: pd.DataFrame,
    regions: pd.DataFrame,
    *,
    level: str,
    analysis_ids: list[str],
    years: range,
    absent: str = "zero",
    ties: pd.DataFrame | None = None,
) -> FlowIndicators:
    """Net flow shares, two-way indices and region in/out flows from a directed flow table.

    Flows between regions below the analysis level are summed into their units; flows with
    an end above the level (it cannot be split), outside the analysis regions, or inside one
    unit are left out and counted in ``info``. ``absent``: a (pair, year) without a row is
    a zero flow (``zero``, within the years the kind covers) or missing (``missing``).
    """
    if absent not in FLOW_ABSENT:
        raise ConfigError(
            f"must be one of {', '.join(FLOW_ABSENT)}", source="config", column="inputs.flows.absent"
        )
    anc = ancestor_at(regions, level)
    ids = set(map(str, analysis_ids))
    f = flows.copy()
    f["o"] = f["origin_id"].astype(str).map(anc)
    f["d"] = f["destination_id"].astype(str).map(anc)
    unmapped = f["o"].isna() | f["d"].isna()
    outside = ~unmapped & ~(f["o"].isin(ids) & f["d"].isin(ids))
    inner = ~unmapped & ~outside & (f["o"] == f["d"])
    yrs = set(years)
    out_years = ~f["year"].astype(int).isin(yrs)
    use = ~unmapped & ~outside & ~inner & ~out_years
    kinds = {str(k): _kind_suffix(str(k)) for k in sorted(f["kind"].astype(str).unique())}
    if len(set(kinds.values())) < len(kinds):
        raise InputError(
            f"flow kinds {sorted(kinds)} give clashing column names {sorted(kinds.values())}",
            source="flows",
            column="kind",
        )
    info: dict[str, object] = {
        "level": level,
        "rows": len(f),
        "used": int(use.sum()),
        "above_level_or_unmapped": int(unmapped.sum()),
        "outside_analysis_regions": int(outside.sum()),
        "within_one_unit": int(inner.sum()),
        "outside_analysis_years": int((out_years & ~unmapped & ~outside & ~inner).sum()),
        "absent": absent,
        "kinds": {},
    }
    g = f[use].assign(year=f.loc[use, "year"].astype(int), kind=f.loc[use, "kind"].astype(str))
    directed = g.groupby(["o", "d", "year", "kind"])["value"].sum().astype(float)
    pair_parts, ry_parts = [], []
    tie_first, tie_active = _pair_ties(ties)
    for kind, suffix in kinds.items():
        sub = directed.xs(kind, level="kind") if kind in directed.index.get_level_values("kind") else None
        if sub is None or sub.empty:
            continue
        kyears = [
            y
            for y in years
            if sub.index.get_level_values("year").min() <= y <= sub.index.get_level_values("year").max()
        ]
        info["kinds"][kind] = {  # type: ignore[index]
            "column_suffix": suffix,
            "years": [kyears[0], kyears[-1]],
            "pairs": 0,
        }
        o = sub.index.get_level_values("o").astype(str)
        d = sub.index.get_level_values("d").astype(str)
        dyads = sorted({(min(a, b), max(a, b)) for a, b in zip(o, d, strict=True)})
        info["kinds"][kind]["pairs"] = len(dyads)  # type: ignore[index]
        grid = pd.DataFrame(
            [(a, b, y) for a, b in dyads for y in kyears], columns=["unit_a", "unit_b", "year"]
        )
        fill = 0.0 if absent == "zero" else np.nan
        ab = sub.reindex(pd.MultiIndex.from_arrays([grid["unit_a"], grid["unit_b"], grid["year"]]))
        ba = sub.reindex(pd.MultiIndex.from_arrays([grid["unit_b"], grid["unit_a"], grid["year"]]))
        grid["kind"] = kind
        grid["flow_ab"] = ab.fillna(fill).to_numpy()
        grid["flow_ba"] = ba.fillna(fill).to_numpy()
        grid["flow_total"] = grid["flow_ab"] + grid["flow_ba"]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (grid["flow_ab"] - grid["flow_ba"]) / grid["flow_total"]
        grid["net_share_ab"] = share.where(grid["flow_total"] > 0)
        grid["two_way_index"] = 1.0 - grid["net_share_ab"].abs()
        key = list(zip(grid["unit_a"], grid["unit_b"], strict=True))
        grid["first_tie"] = [tie_first.get(k, 0) for k in key]
        grid["active_tie"] = [
            int(any(s <= y <= e for s, e in tie_active.get(k, ())))
            for k, y in zip(key, grid["year"], strict=True)
        ]
        pair_parts.append(grid)
        # region-year: directed totals and the dyad-based reciprocity
        grid_units = pd.MultiIndex.from_product([sorted(ids), kyears], names=["region_id", "year"])
        out_f = sub.groupby(level=["o", "year"]).sum()
        in_f = sub.groupby(level=["d", "year"]).sum()
        out_f.index.names = in_f.index.names = ["region_id", "year"]
        ry = pd.DataFrame(index=grid_units)
        ry[f"flow_out_{suffix}"] = out_f.reindex(grid_units).fillna(fill).to_numpy()
        ry[f"flow_in_{suffix}"] = in_f.reindex(grid_units).fillna(fill).to_numpy()
        tot = ry[f"flow_out_{suffix}"] + ry[f"flow_in_{suffix}"]
        with np.errstate(invalid="ignore", divide="ignore"):
            net = (ry[f"flow_out_{suffix}"] - ry[f"flow_in_{suffix}"]) / tot
        ry[f"flow_net_out_share_{suffix}"] = net.where(tot > 0)
        ry[f"flow_two_way_{suffix}"] = 1.0 - ry[f"flow_net_out_share_{suffix}"].abs()
        two_min = 2.0 * np.minimum(grid["flow_ab"], grid["flow_ba"])
        sides = pd.concat(
            [
                pd.DataFrame(
                    {"region_id": grid["unit_a"], "year": grid["year"], "m": two_min, "t": grid["flow_total"]}
                ),
                pd.DataFrame(
                    {"region_id": grid["unit_b"], "year": grid["year"], "m": two_min, "t": grid["flow_total"]}
                ),
            ]
        )
        agg = sides.groupby(["region_id", "year"])[["m", "t"]].sum(min_count=1).reindex(grid_units)
        with np.errstate(invalid="ignore", divide="ignore"):
            ry[f"flow_reciprocity_{suffix}"] = (agg["m"] / agg["t"]).where(agg["t"] > 0).to_numpy()
        ry_parts.append(ry)
    pair_cols = [
        "unit_a",
        "unit_b",
        "kind",
        "year",
        "flow_ab",
        "flow_ba",
        "flow_total",
        "net_share_ab",
        "two_way_index",
        "first_tie",
        "active_tie",
    ]
    pairs = (
        pd.concat(pair_parts, ignore_index=True)[pair_cols] if pair_parts else pd.DataFrame(columns=pair_cols)
    )
    pairs = pairs.sort_values(["unit_a", "unit_b", "kind", "year"], kind="mergesort").reset_index(drop=True)
    region = (
        pd.concat(ry_parts, axis=1)
        if ry_parts
        else pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["region_id", "year"]))
    )
    region = region.reset_index()
    return FlowIndicators(pairs, region, directed, kinds, info)


def _pair_ties(
    ties: pd.DataFrame | None,
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], list[tuple[int, float]]]]:
    """First start year and activity spells of the ties between each unordered unit pair."""
    first: dict[tuple[str, str], int] = {}
    spells: dict[tuple[str, str], list[tuple[int, float]]] = {}
    if ties is None or ties.empty:
        return first, spells
    ends = ties["end_year"].astype("Float64").fillna(np.inf).astype(float)
    for s, t, a, b in zip(
        ties["source_unit"].astype(str),
        ties["target_unit"].astype(str),
        ties["start_year"].astype(int),
        ends,
        strict=True,
    ):
        k = (min(s, t), max(s, t))
        first[k] = min(first.get(k, 10**6), int(a))
        spells.setdefault(k, []).append((int(a), float(b)))
    return first, spells


def add_flows_to_pair_year(pair_year_table: pd.DataFrame, fl: FlowIndicators) -> pd.DataFrame:
    """Per kind: flows giver → receiver and back between the tie's units, s and 1 − |s|.

    ``flow_net_share_<k> = (F_gr − F_rg) / (F_gr + F_rg)``: +1 all flow from the giver
    (declared source) to the receiver, −1 all the other way, 0 balanced.
    """
    out = pair_year_table.copy()
    covered: dict[str, Any] = fl.info["kinds"]  # type: ignore[assignment]
    for kind, suffix in fl.kinds.items():
        if kind not in covered:
            continue
        first, last = covered[kind]["years"]
        p = fl.pairs[fl.pairs["kind"] == kind].set_index(["unit_a", "unit_b", "year"])
        su = out["source_unit"].astype(str)
        tu = out["target_unit"].astype(str)
        a = np.minimum(su, tu)
        b = np.maximum(su, tu)
        idx = pd.MultiIndex.from_arrays([a, b, out["year"].astype(int)])
        fab = p["flow_ab"].reindex(idx).to_numpy()
        fba = p["flow_ba"].reindex(idx).to_numpy()
        forward = (su == a).to_numpy()
        gr = np.where(forward, fab, fba)
        rg = np.where(forward, fba, fab)
        if fl.info["absent"] == "zero":
            # a tie between analysis units with no flow row in a covered year has zero flows
            zero = (out["in_analysis"] == 1).to_numpy() & out["year"].between(first, last).to_numpy()
            gr = np.where(zero & np.isnan(gr), 0.0, gr)
            rg = np.where(zero & np.isnan(rg), 0.0, rg)
        out[f"flow_gr_{suffix}"] = gr
        out[f"flow_rg_{suffix}"] = rg
        tot = gr + rg
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(tot > 0, (gr - rg) / tot, np.nan)
        out[f"flow_net_share_{suffix}"] = s
        out[f"flow_two_way_{suffix}"] = 1.0 - np.abs(s)
    return out
