"""Pipeline steps: one typed public function per Snakemake rule.

Each function reads its inputs, calls the library, and writes its outputs atomically.
The CLI (``python -m zonespill <step>``) is a thin wrapper; the functions can be called
directly from Python without Snakemake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from zonespill import contract as C
from zonespill import geography, indicators
from zonespill.errors import ConfigError, InputError
from zonespill.ingest import (
    SourceSpec,
    Vintage,
    apply_deflator,
    check_balance,
    drop_records_json,
    ingest_collaborations,
    ingest_flows,
    ingest_panel,
    ingest_regions,
    ingest_zones,
    read_canonical,
    write_canonical,
)
from zonespill.io import read_parquet, write_csv, write_json, write_parquet
from zonespill.weights import SpatialWeights

log = logging.getLogger("zonespill")


# --------------------------------------------------------------------------- ingest
def ingest_regions_step(options: Mapping[str, Any], *, out: Path) -> pd.DataFrame:
    """Validate the regions source and write ``regions.parquet``."""
    spec = SourceSpec.from_config(options, key="inputs.regions")
    regions = ingest_regions(
        spec,
        parent_code_length=options.get("parent_code_length"),
        derive_parents=options.get("derive_parents"),
    )
    write_canonical(out, regions, "regions")
    log.info("regions: %d rows (%s)", len(regions), regions["level"].value_counts().to_dict())
    return regions


def _vintages(options: Mapping[str, Any]) -> dict[str, Vintage]:
    raw = options.get("gdp_vintages") or {}
    if not raw:
        col = (options.get("columns") or {}).get("gdp", "gdp")
        return {"given": Vintage("given", col, C.YEAR_MIN, C.YEAR_MAX)}
    out = {}
    for name, v in raw.items():
        try:
            out[name] = Vintage(str(name), str(v["column"]), int(v["first_year"]), int(v["last_year"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                "each vintage needs column, first_year, last_year",
                source="config",
                column=f"inputs.panel.gdp_vintages.{name}",
            ) from exc
    return out


def write_warnings(path: Path | None, records: list[dict[str, Any]]) -> None:
    """Log each warning record and write them all (``[]`` if none) for the run summary."""
    for rec in records:
        rows = rec["rows"][:10]
        log.warning("%s, row(s) %s, column '%s': %s", rec["source"], rows, rec["column"], rec["message"])
    if path is not None:
        write_json(path, records)


def ingest_panel_step(
    options: Mapping[str, Any],
    *,
    regions: Path,
    out: Path,
    analysis: Mapping[str, Any] | None = None,
    drops: Path | None = None,
    deflator: Mapping[str, Any] | None = None,
    plausibility: Mapping[str, Any] | None = None,
    warnings: Path | None = None,
) -> pd.DataFrame:
    """Validate the panel, select the configured GDP vintage, write ``panel.parquet``.

    Unknown region codes follow ``inputs.panel.unknown_regions`` and balance over the
    analysis years ``inputs.panel.balance``; every dropped or kept-incomplete unit is
    listed in ``drops`` (default ``panel_drops.json`` next to ``out``) and the log.
    Plausibility warnings (bounds: the top-level ``plausibility`` config section) go to
    the log and, with ``warnings``, to a JSON record the run summary reads.
    """
    spec = SourceSpec.from_config(options, key="inputs.panel")
    vintages = _vintages(options)
    vintage = str(options.get("vintage", next(iter(vintages))))
    records: list[C.DropRecord] = []
    warn_records: list[dict[str, Any]] = []
    covariates = dict(options.get("covariates") or {})
    if deflator and "column" in deflator:
        covariates["price_index"] = str(deflator["column"])
    reg = read_canonical(regions, "regions")
    panel = ingest_panel(
        spec,
        regions=reg,
        vintages=vintages,
        vintage=vintage,
        covariates=covariates or None,
        unknown_regions=str(options.get("unknown_regions", "error")),
        drops=records,
        plausibility=C.Plausibility.from_options(plausibility),
        records=warn_records,
    )
    write_warnings(warnings, warn_records)
    if deflator:
        panel = apply_deflator(panel, deflator, regions=reg, panel_source=str(spec.path))
        log.info("panel: %s", panel["price_basis"].iloc[0])
    years = _balance_years(panel, vintages.get(vintage), analysis or {})
    _check_years_in_data(panel, *years)  # a window outside the data is a config error, not a balance one
    panel, record = check_balance(
        panel,
        years=years,
        rule=str(options.get("balance", "error")),
        required=["gdp", "population", *(["price_index"] if deflator else [])],
        source=str(spec.path),
    )
    if record is not None:
        records.append(record)
    if panel.empty:
        raise InputError(
            "no panel unit is left after the configured drops (see the drops record)",
            source=str(spec.path),
            rows="all",
        )
    for rec in records:
        log.warning("panel: %s: %s", rec.reason, "; ".join(rec.detail[:20]))
    write_json(Path(drops) if drops else Path(out).parent / "panel_drops.json", drop_records_json(records))
    write_canonical(out, panel, "panel")
    log.info(
        "panel: %d rows, %d regions, years %d-%d",
        len(panel),
        panel["region_id"].nunique(),
        panel["year"].min(),
        panel["year"].max(),
    )
    return panel


def _balance_years(
    panel: pd.DataFrame, vintage: Vintage | None, analysis: Mapping[str, Any]
) -> tuple[int, int]:
    """Analysis years if configured, else the panel's years within the chosen vintage."""
    first, last = int(panel["year"].min()), int(panel["year"].max())
    if vintage is not None:
        first, last = max(first, vintage.first_year), min(last, vintage.last_year)
    return int(analysis.get("first_year", first)), int(analysis.get("last_year", last))


def _ingest_region_keyed(
    options: Mapping[str, Any], table: str, reader: Callable[..., pd.DataFrame], regions: Path
) -> tuple[pd.DataFrame, list[C.DropRecord]]:
    """Read ``inputs.<table>`` (zones, flows) with ``reader``; unknown codes follow ``unknown_regions``."""
    spec = SourceSpec.from_config(options, key=f"inputs.{table}")
    records: list[C.DropRecord] = []
    frame = reader(
        spec,
        regions=read_canonical(regions, "regions"),
        unknown_regions=str(options.get("unknown_regions", "error")),
        drops=records,
    )
    return frame, records


def ingest_zones_step(options: Mapping[str, Any], *, regions: Path, out: Path) -> pd.DataFrame:
    zones, records = _ingest_region_keyed(options, "zones", ingest_zones, regions)
    for rec in records:
        log.warning("zones: %s: %s (rows %s)", rec.reason, "; ".join(rec.detail), list(rec.rows))
    write_canonical(out, zones, "zones")
    log.info("zones: %d rows", len(zones))
    return zones


def ingest_collaborations_step(
    options: Mapping[str, Any], *, regions: Path, out: Path, drops: Path, warnings: Path | None = None
) -> pd.DataFrame:
    spec = SourceSpec.from_config(options, key="inputs.collaborations")
    records: list[dict[str, Any]] = []
    collabs, dropped = ingest_collaborations(
        spec,
        regions=read_canonical(regions, "regions"),
        missing_start_year=str(options.get("missing_start_year", "error")),
        unknown_regions=str(options.get("unknown_regions", "error")),
        records=records,
    )
    write_warnings(warnings, records)
    write_json(drops, drop_records_json(dropped, detail_key="ids"))
    write_canonical(out, collabs, "collaborations")
    for d in dropped:
        log.warning("dropped %d row(s) of %s: %s (rows %s)", len(d.rows), d.source, d.reason, list(d.rows))
    log.info("collaborations: %d rows (%s)", len(collabs), collabs["direction"].value_counts().to_dict())
    return collabs


def ingest_flows_step(
    options: Mapping[str, Any], *, regions: Path, out: Path, drops: Path | None = None
) -> pd.DataFrame:
    """Validate the flows table; unknown codes follow ``inputs.flows.unknown_regions``."""
    flows, records = _ingest_region_keyed(options, "flows", ingest_flows, regions)
    for rec in records:
        log.warning("flows: %s: %s", rec.reason, "; ".join(rec.detail[:20]))
    write_json(Path(drops) if drops else Path(out).parent / "flows_drops.json", drop_records_json(records))
    write_canonical(out, flows, "flows")
    log.info("flows: %d rows, kinds %s", len(flows), sorted(flows["kind"].astype(str).unique()))
    return flows


# --------------------------------------------------------------------------- geography
def _analysis_regions(regions: pd.DataFrame, panel: pd.DataFrame, level: str) -> pd.DataFrame:
    """The panel's regions at the analysis level; an error says at which level the panel is."""
    if level not in indicators.ANALYSIS_LEVELS:
        raise ConfigError(
            f"unknown analysis level {level!r} (use {', '.join(indicators.ANALYSIS_LEVELS)})",
            source="config",
            column="analysis.level",
        )
    ids = set(panel["region_id"].astype(str))
    sub = regions[(regions["level"] == level) & regions["region_id"].isin(ids)]
    if len(sub) < 2:
        found = regions.loc[regions["region_id"].isin(ids), "level"].astype(str).value_counts().to_dict()
        usable = [str(lv) for lv, n in found.items() if n >= 2 and lv != level]
        hint = (
            f"set analysis.level to the level of the panel's regions ({', '.join(usable)})"
            if usable
            else "a regional analysis needs at least two regions"
        )
        raise ConfigError(
            f"the panel has {len(sub)} region(s) at level '{level}' (its regions by level: {found}); {hint}",
            source="config",
            column="analysis.level",
        )
    other = sorted(ids - set(sub["region_id"].astype(str)))
    if other:
        log.warning(
            "%d panel region(s) are not at the %s level and are left out of the analysis: %s",
            len(other),
            level,
            ", ".join(other[:20]),
        )
    return sub.sort_values("region_id", kind="mergesort").reset_index(drop=True)


def weights_step(
    weights_options: Mapping[str, Any],
    analysis_options: Mapping[str, Any],
    *,
    regions: Path,
    panel: Path,
    out: Path,
    meta: Path,
) -> SpatialWeights:
    """Build the analysis-level weights and write them as an edge list (i, j, w)."""
    reg = read_canonical(regions, "regions")
    pan = read_canonical(panel, "panel")
    level = str(analysis_options.get("level", "province"))
    units = _analysis_regions(reg, pan, level)
    kind = str(weights_options.get("kind", "queen"))
    row_std = bool(weights_options.get("row_standardise", True))
    if kind == "queen":
        build = geography.queen_weights(
            units,
            island_rule=weights_options.get("islands", "error"),
            island_k=int(weights_options.get("island_k", 1)),
            row_standardise=row_std,
        )
    elif kind == "knn":
        build = geography.knn_weights(units, k=int(weights_options.get("k", 4)), row_standardise=row_std)
    elif kind == "file":
        build = _weights_from_file(weights_options, units, row_std)
    elif kind == "distance":
        build = geography.inverse_distance_weights(
            units,
            power=float(weights_options.get("distance_power", 1.0)),
            cutoff_km=weights_options.get("distance_cutoff_km"),
            row_standardise=row_std,
        )
    else:
        raise ConfigError(
            f"unknown weights kind {kind!r} (queen, knn, distance, file)",
            source="config",
            column="weights.kind",
        )
    edges = build.weights.to_edge_list()
    write_parquet(out, edges)
    write_json(
        meta,
        {
            "kind": build.weights.kind,
            "transform": build.weights.transform,
            "n": build.weights.n,
            "ids": list(build.weights.ids),
            "islands": list(build.islands),
            "island_rule": build.rule,
            "added_links": [list(x) for x in build.added_links],
            "links": int(build.weights.matrix.nnz),
        },
    )
    if build.islands:
        log.warning(
            "islands %s handled by rule %r; added links %s", build.islands, build.rule, build.added_links
        )
    return build.weights


def _weights_from_file(
    options: Mapping[str, Any], units: pd.DataFrame, row_std: bool
) -> geography.WeightsBuild:
    """User-supplied edge list (i, j, w): ids must match the analysis regions exactly."""
    from zonespill.ingest import map_columns, read_source

    spec = SourceSpec.from_config(options.get("file") or {}, key="weights.file")
    src = str(spec.path)
    frame = map_columns(read_source(spec), spec, C.WEIGHTS)
    edges = C.coerce_and_validate(frame, C.WEIGHTS, source=src, row_offset=spec.first_data_row)
    ids = units["region_id"].astype(str).tolist()
    try:
        w = SpatialWeights.from_edge_list(edges, ids=ids, source=src, kind="file")
    except Exception as exc:
        if isinstance(exc, ConfigError) or not hasattr(exc, "rows"):
            raise
        rows = [r + spec.first_data_row - 1 for r in exc.rows] if isinstance(exc.rows, list) else exc.rows  # type: ignore[attr-defined]
        from zonespill.errors import InputError

        raise InputError(exc.reason, source=src, rows=rows, column=exc.column) from None  # type: ignore[attr-defined]
    listed = set(edges["i"].astype(str)) | set(edges["j"].dropna().astype(str))
    absent = [u for u in ids if u not in listed]
    if absent:
        from zonespill.errors import InputError

        raise InputError(
            f"analysis region(s) {absent[:10]} do not appear in the weights file",
            source=src,
            rows="all",
            column="i",
        )
    return geography._apply_island_rule(
        w,
        units,
        island_rule=str(options.get("islands", "error")),
        k=int(options.get("island_k", 1)),
        row_standardise=row_std,
        source=src,
        column="j",
    )


def read_weights(edges: Path, meta: Path | None = None) -> SpatialWeights:
    frame = read_parquet(edges)
    ids = None
    transform: Any = "given"
    kind = "given"
    if meta is not None and Path(meta).exists():
        info = json.loads(Path(meta).read_text(encoding="utf-8"))
        ids, transform, kind = info["ids"], info["transform"], info["kind"]
    return SpatialWeights.from_edge_list(frame, ids=ids, source=str(edges), transform=transform, kind=kind)


# --------------------------------------------------------------------------- indicators
def map_ties(
    collaborations: pd.DataFrame,
    regions: pd.DataFrame,
    panel: pd.DataFrame,
    analysis_options: Mapping[str, Any],
    *,
    source: str = "collaborations",
) -> tuple[indicators.AnalysisTies, list[str], range]:
    """The collaborations mapped to the analysis level (``analysis`` config section), the analysis
    unit ids and the analysis years: the one mapping behind the indicators (and any recoded
    tie coding of a robustness table)."""
    level = str(analysis_options.get("level", "province"))
    units = _analysis_regions(regions, panel, level)
    first = int(analysis_options.get("first_year", int(panel["year"].min())))
    last = int(analysis_options.get("last_year", int(panel["year"].max())))
    if first > last:
        raise ConfigError("first_year is after last_year", source="config", column="analysis.first_year")
    _check_years_in_data(panel, first, last)
    ids = units["region_id"].astype(str).tolist()
    pairing_rules = analysis_options.get("pairings") or {}
    capitals = pairing_rules.get("capitals", "lowest_code")
    ties = indicators.analysis_ties(
        collaborations,
        regions,
        level=level,
        analysis_ids=ids,
        above=str(pairing_rules.get("above", "capital")),
        capitals=capitals if isinstance(capitals, Mapping) else None,
        source=source,
    )
    return ties, ids, range(first, last + 1)


def indicators_step(
    analysis_options: Mapping[str, Any],
    *,
    regions: Path,
    panel: Path,
    zones: Path,
    collaborations: Path,
    weights: Path,
    weights_meta: Path,
    region_year_out: Path,
    pair_year_out: Path,
    summary_out: Path,
    ties_record_out: Path | None = None,
    flows: Path | None = None,
    flow_pair_year_out: Path | None = None,
) -> None:
    """Region-year and pair-year spillover-direction indicators at the analysis level.

    Writes the tie record (every pairing's mapping, expansion or drop) to
    ``ties_record_out`` (default: ``ties_record.csv`` next to the summary).
    """
    reg = read_canonical(regions, "regions")
    pan = read_canonical(panel, "panel")
    zon = read_canonical(zones, "zones")
    col = read_canonical(collaborations, "collaborations")
    w = read_weights(weights, weights_meta)
    level = str(analysis_options.get("level", "province"))
    ties, ids, years = map_ties(col, reg, pan, analysis_options, source=str(collaborations))
    first, last = years[0], years[-1]
    pairing_rules = analysis_options.get("pairings") or {}
    capitals = pairing_rules.get("capitals", "lowest_code")
    record_path = Path(ties_record_out) if ties_record_out else Path(summary_out).parent / "ties_record.csv"
    write_csv(record_path, ties.record)
    counts = ties.counts()
    log.info("ties at the %s level: %s (record: %s)", level, counts, record_path)
    for rec in ties.record[ties.record["action"] == "dropped"].itertuples():
        log.warning("pairing %s dropped: %s", rec.collab_id, rec.detail)
    for cid in ties.expanded:
        n = int((ties.record["collab_id"] == cid).sum())
        log.warning("pairing %s expanded to %d %s-level ties (rule: all_children)", cid, n, level)
    if counts["ties"] == 0 and not bool(analysis_options.get("expect_no_ties", False)):
        raise ConfigError(
            f"no collaboration tie reaches the {level}-level analysis: {ties.why_none()}; the tie record "
            f"{record_path} lists every pairing. Set analysis.expect_no_ties: true if this is intended",
            source="config",
            column="analysis.level",
        )
    placement = indicators.place_zones(zon, reg, level=level)
    if placement.info.get("note"):
        log.warning("zones: %s", placement.info["note"])
    pan_units = pan[pan["region_id"].isin(ids)]
    ry = indicators.region_year(
        pan_units,
        ties.active_ties,
        weights=w,
        zones=placement.zones,
        years=years,
        zones_incomplete=placement.incomplete,
    )
    py = indicators.pair_year(col, reg, ry, years=years, ties=ties)
    flow_info: dict[str, Any] | None = None
    if flows is not None:
        fl = indicators.flow_indicators(
            read_canonical(flows, "flows"),
            reg,
            level=level,
            analysis_ids=ids,
            years=years,
            absent=str((analysis_options.get("flows") or {}).get("absent", "zero")),
            ties=ties.active_ties,
        )
        ry = ry.merge(fl.region_year, on=["region_id", "year"], how="left", validate="one_to_one")
        py = indicators.add_flows_to_pair_year(py, fl)
        flow_out = Path(flow_pair_year_out or Path(summary_out).parent / "flow_pair_year.parquet")
        write_parquet(flow_out, fl.pairs)
        flow_info = {**fl.info, "pair_year": flow_out.name}
        left_out = {
            k: v
            for k, v in fl.info.items()
            if k
            in (
                "above_level_or_unmapped",
                "outside_analysis_regions",
                "within_one_unit",
                "outside_analysis_years",
            )
            and v
        }
        if left_out:
            log.warning("flows left out of the %s-level indicators (row counts): %s", level, left_out)
    write_parquet(region_year_out, ry)
    write_parquet(pair_year_out, py)
    active = ties.active_ties
    summary: dict[str, Any] = {
        "level": level,
        "regions": len(ids),
        "years": [first, last],
        "collaborations": len(col),
        "ties": counts["ties"],
        "price_basis": str(ry["price_basis"].iloc[0]) if len(ry) else "nominal",
        "tie_mapping": {
            "above_rule": str(pairing_rules.get("above", "capital")),
            "capitals": "config" if isinstance(capitals, Mapping) else str(capitals),
            **counts,
            "record": record_path.name,
        },
        "same_unit_ties": list(ties.same_unit),
        "dropped_pairings": list(ties.dropped),
        "expanded_pairings": list(ties.expanded),
        "ties_outside_analysis_regions": list(ties.outside_panel),
        "ties_by_direction": {k: int(v) for k, v in active["direction"].value_counts().sort_index().items()},
        "zones": placement.info,
        "roles": indicators.ROLE_INFO,
    }
    if flow_info is not None:
        summary["flows"] = flow_info
    if level == "province":  # names kept for readers of earlier summaries
        summary["province_level_ties"] = counts["ties"]
        summary["same_province_ties_excluded_at_province_level"] = list(ties.same_unit)
    write_json(summary_out, summary)
    log.info(
        "region_year %s, pair_year %s; %d same-%s ties kept only in the pair-year table",
        ry.shape,
        py.shape,
        len(ties.same_unit),
        level,
    )


def _check_years_in_data(pan: pd.DataFrame, first: int, last: int) -> None:
    """The analysis window must lie inside the years that have the outcome (chosen GDP vintage)."""
    have = pan.loc[pan["gdp"].notna(), "year"].astype("int64")
    lo, hi = int(have.min()), int(have.max())
    if first < lo:
        raise ConfigError(
            f"{first} is before the first year with GDP data ({lo}; the chosen vintage covers {lo}–{hi})",
            source="config",
            column="analysis.first_year",
        )
    if last > hi:
        raise ConfigError(
            f"{last} is after the last year with GDP data ({hi}; the chosen vintage covers {lo}–{hi})",
            source="config",
            column="analysis.last_year",
        )


# --------------------------------------------------------------------------- provenance
def provenance_step(
    config: Mapping[str, Any], *, inputs: Mapping[str, Path], out: Path, repo_dir: Path
) -> str:
    from zonespill import provenance as prov

    seeds = {"master_seed": int(config.get("master_seed", 0))}
    record = prov.build_provenance(inputs=inputs, config=config, seeds=seeds, repo_dir=repo_dir)
    prov.write_provenance(out, record)
    return prov.provenance_hash(record)


def merge_section(
    options: Mapping[str, Any] | None, defaults: Mapping[str, Any], section: str
) -> tuple[dict[str, Any], Any]:
    """A config section merged over its ``defaults`` (unknown keys rejected), and the raw
    ``master_seed`` it carried (0 if none; check it with :func:`check_master_seed`)."""
    opts = dict(options or {})
    seed = opts.pop("master_seed", 0)
    unknown = sorted(set(opts) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown {section} option(s) {unknown}; known: {sorted(defaults)}",
            source="config",
            column=section,
        )
    return {**defaults, **opts}, seed


def check_master_seed(seed: Any) -> int:
    """``seed`` if it is a non-negative integer, else a config error naming ``master_seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(
            f"master_seed must be a non-negative integer, got {seed!r}", source="config", column="master_seed"
        )
    return seed


def read_region_year(region_year: Path) -> pd.DataFrame:
    """Read ``region_year.parquet`` written by the indicators step, re-checking its key."""
    ry = read_parquet(region_year)
    C.check_key(ry, C.TableContract("region_year", ("region_id", "year"), ()), source=str(region_year))
    return ry


def vintage_note(ry: pd.DataFrame) -> str:
    """Table note naming the GDP vintage(s) of the rows used."""
    vint = sorted(set(ry["vintage"].dropna().astype(str)))
    names = ", ".join(vint) or "n/a"
    return f"GDP vintage: {names} (one consistent series; growth never crosses a vintage break)."


def price_basis(ry: pd.DataFrame) -> str:
    """``"nominal"`` or ``"real (base Y, index)"``: region_year's ``price_basis`` (nominal when absent)."""
    if "price_basis" not in ry.columns:
        return "nominal"
    vals = sorted(set(ry["price_basis"].dropna().astype(str)))
    return "; ".join(vals) if vals else "nominal"


def price_note(ry: pd.DataFrame) -> str:
    """Table note: are the money values nominal or real (and if real, base year and index)."""
    basis = price_basis(ry)
    if basis.startswith("real"):
        return (
            f"GDP per capita: {basis} — deflated by the given price index; growth rates and levels are in "
            "constant prices."
        )
    return (
        "GDP per capita: nominal (current prices; no deflator given in inputs.deflator). Year effects remove "
        "a common (national) price trend, not differences in regional price levels or inflation; levels and "
        "cross-sectional averages of growth include inflation."
    )


def weights_note(W: SpatialWeights, meta: Path | None) -> str:
    """Table note describing the spine's weights, including how islands were handled."""
    info = (
        json.loads(Path(meta).read_text(encoding="utf-8")) if meta is not None and Path(meta).exists() else {}
    )
    links = info.get("added_links") or []
    islands = info.get("islands") or []
    text = f"Weights: the spine's {W.kind} matrix ({W.transform} transform, {W.n} provinces), used as given"
    if islands:
        added = ", ".join(f"{a}→{b}" for a, b in links) or "none"
        rule = info.get("island_rule")
        text += f"; island(s) {', '.join(islands)} handled by rule '{rule}' (added link(s): {added})"
    return text + "."


# --------------------------------------------------------------------------- tables T1-T3
#: Rows of T1 when no declaration names them (the bundled declaration lists the same).
T1_VARIABLES: tuple[str, ...] = (
    "gdp_pc",
    "log_gdp_pc",
    "growth",
    "population",
    "zones_total",
    "zones_national",
    "zone_area_ha",
    "n_forward_giver",
    "n_forward_receiver",
    "n_reverse",
    "n_two_way",
    "partner_log_gap",
    "nb_share_active",
)


def _labels(labels: Any) -> Any:
    from zonespill.study.spec import Labels

    return labels if labels is not None else Labels(singular="unit", plural="units")


def variable_label(labels: Any, name: str) -> str:
    """A column's label: ``study.variables`` first, then the library's derived-column labels."""
    from zonespill.vocabulary import DERIVED_LABELS

    lab = _labels(labels)
    if name in lab.variables:
        return str(lab.variable(name))
    return DERIVED_LABELS.get(name, name)


def table_descriptives_step(
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
    variables: Sequence[str] | None = None,
    labels: Any = None,
    table_id: str = "T1",
    title: str | None = None,
    extra_notes: Sequence[str] = (),
) -> list[Path]:
    """T1: descriptive statistics of the analysis panel (rows: the declared ``variables``)."""
    from zonespill import provenance as prov
    from zonespill.study.sample import require_columns
    from zonespill.tables import PlainTable, write_table

    lab = _labels(labels)
    ry = read_region_year(region_year)
    names = list(variables or T1_VARIABLES)
    require_columns(ry, names, key=f"study.tables.{table_id}.variables")
    rows = []
    for var in names:
        s = ry[var].astype("float64").dropna()
        rows.append(
            {
                "variable": variable_label(lab, var),
                "N": len(s),
                "mean": s.mean(),
                "sd": s.std(ddof=1),
                "min": s.min(),
                "median": s.median(),
                "max": s.max(),
            }
        )
    frame = pd.DataFrame(rows)
    n_units = ry["region_id"].nunique()
    notes = (
        f"Sample: {lab.count(n_units)}, {int(ry['year'].min())}–{int(ry['year'].max())} (region-years).",
        price_note(ry),
        vintage_note(ry),
        "Output per capita = output / year-end resident population (computed from the panel).",
        "Zones: a zone counts from its approval year on (zones abolished before the catalogue year "
        "are not in the catalogue).",
        f"Ties: {lab.singular}-level ties from the pairings; "
        f"within-{lab.singular} ties are excluded at this level.",
        "SD is the sample standard deviation (ddof = 1).",
        *extra_notes,
    )
    table = PlainTable(
        frame,
        table_id=table_id,
        title=title or f"Descriptive statistics, {lab.singular} panel",
        notes=notes,
        digits=3,
    )
    return write_table(table, outdir, provenance_hash=prov.read_provenance_hash(provenance), formats=formats)


def sigma_frame(ry: pd.DataFrame, outcome: str = "gdp_pc") -> pd.DataFrame:
    """Cross-sectional dispersion of the log of ``outcome`` by year (via zonespill.convergence.sigma)."""
    from zonespill.convergence import sigma

    sub = ry.dropna(subset=[outcome])
    frame = sigma(sub, value=outcome, unit="region_id", time="year", log=True)
    if "year" not in frame.columns:
        frame = frame.rename_axis("year").reset_index()
    return frame


def table_sigma_step(
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    figure_stem: Path,
    formats: tuple[str, ...],
    outcome: str = "gdp_pc",
    labels: Any = None,
    table_id: str = "T2",
    title: str | None = None,
) -> list[Path]:
    """T2: sigma convergence (SD of the log outcome by year) and its figure."""
    from zonespill import figures
    from zonespill import provenance as prov
    from zonespill.study.sample import require_columns
    from zonespill.tables import PlainTable, write_table

    lab = _labels(labels)
    ry = read_region_year(region_year)
    require_columns(ry, [outcome], key=f"study.tables.{table_id}.outcome")
    frame = sigma_frame(ry, outcome)
    what = variable_label(lab, outcome)
    bare = lab.variable(outcome, with_unit=False) if outcome in lab.variables else what
    notes = (
        f"Sample: {lab.count(ry['region_id'].nunique())} with {bare} in the year.",
        price_note(ry),
        vintage_note(ry),
        f"sd_log: standard deviation of log {bare} across {lab.plural} (unweighted); "
        f"cv: coefficient of variation of {bare}; theil, gini: unweighted inequality indices.",
    )
    table = PlainTable(
        frame,
        table_id=table_id,
        title=title or f"Sigma convergence of {bare} across {lab.plural}",
        notes=notes,
    )
    paths = write_table(table, outdir, provenance_hash=prov.read_provenance_hash(provenance), formats=formats)
    figures.use_agg()
    ycol = "sd_log" if "sd_log" in frame.columns else frame.columns[1]
    paths += figures.plot_lines(
        frame,
        "year",
        [ycol],
        title=f"Sigma convergence: SD of log {bare}",
        ylabel=f"SD of log {bare}",
        path_stem=figure_stem,
    )
    return paths


def with_lags(ry: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Add ``lag_<col>`` (value in the previous calendar year, NaN after a gap) for requested lags."""
    d = ry.sort_values(["region_id", "year"]).copy()
    for name in names:
        base = name.removeprefix("lag_")
        if name in d.columns or not name.startswith("lag_") or base not in d.columns:
            continue
        prev = d.groupby("region_id")[["year", base]].shift(1)
        d[name] = np.where(prev["year"] == d["year"] - 1, prev[base], np.nan)
    return d


#: T3's columns when no declaration names them (the bundled declaration lists the same).
T3_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "(1)", "regressors": ["lag_log_gdp_pc"]},
    {"name": "(2)", "regressors": ["lag_log_gdp_pc", "active_any"]},
    {
        "name": "(3)",
        "regressors": [
            "lag_log_gdp_pc",
            "active_forward_giver",
            "active_forward_receiver",
            "active_reverse",
            "active_two_way",
        ],
    },
)


#: glance() keys of a panel_ols column and the statistics rows they become (in this order).
PANEL_OLS_STATISTICS: tuple[tuple[str, str], ...] = (
    ("observations", "N"),
    ("units", "{Units}"),
    ("r2", "{r2}"),
    ("fixed_effects", "Fixed effects"),
    ("se", "SE"),
    ("bias_correction", "Bias correction"),
    ("sample", "Sample"),
    ("dropped", "Dropped (no variation)"),
    ("speed_from", "Speed from"),
    ("speed", "Speed (per year)"),
    ("speed_ci", "Speed, 95 % CI"),
    ("half_life", "Half-life (years)"),
    ("half_life_ci", "Half-life, 95 % CI"),
)

#: The lagged log level whose coefficient in a growth regression is the convergence coefficient b.
CONVERGENCE_TERM = "lag_log_gdp_pc"


def _speed_statistics(result: Any, outcome: str) -> dict[str, str]:
    """Speed and half-life rows of a growth-on-lagged-level column ({} for other columns)."""
    from zonespill.convergence.designs import speed_stat_rows
    from zonespill.convergence.speed import convergence_speed

    if outcome != "growth" or not result.ok:
        return {}
    tidy = result.tidy()
    row = tidy.loc[tidy["term"].astype(str) == CONVERGENCE_TERM]
    if row.empty:
        return {}
    b, se = float(row["estimate"].iloc[0]), float(row["std_error"].iloc[0])
    try:
        sp = convergence_speed(b, se)
    except InputError:
        return {}
    keys = {
        "Speed from": "speed_from",
        "Speed (per year)": "speed",
        "Speed, 95 % CI": "speed_ci",
        "Half-life (years)": "half_life",
        "Half-life, 95 % CI": "half_life_ci",
    }
    corrected = result.glance().get("bias_correction") == "half-panel jackknife"
    src = "b (coefficient" + (", bias-corrected)" if corrected else ")")
    return {keys[k]: v for k, v in speed_stat_rows(sp, src) if k in keys}


def _jackknife_column(
    d: pd.DataFrame, y: str, xs: Sequence[str], fe: Sequence[str], cl: Any, name: str, ckey: str, lab: Any
) -> Any:
    """A declared ``bias_correction: half_panel_jackknife`` column: growth on the lagged log level
    (and further regressors) by the Dhaene–Jochmans half-panel jackknife
    (:func:`zonespill.convergence.panel_beta`), SEs CRV1 of the jackknife combination."""
    from zonespill.convergence.beta import LAG, panel_beta
    from zonespill.errors import ConfigError
    from zonespill.study.protocol import adapt

    if y != "growth" or CONVERGENCE_TERM not in xs:
        raise ConfigError(
            f"a half-panel jackknife column needs outcome 'growth' and regressor '{CONVERGENCE_TERM}' "
            f"(got outcome {y!r}, regressors {list(xs)})",
            source="config",
            column=f"{ckey}.bias_correction",
        )
    if "unit" not in fe:
        raise ConfigError(
            "the jackknife corrects the bias from unit fixed effects: declare fixed_effects with 'unit'",
            source="config",
            column=f"{ckey}.fixed_effects",
        )
    covs = [x for x in xs if x != CONVERGENCE_TERM]
    effects: Literal["twoways", "individual"] = "twoways" if "year" in fe else "individual"
    cluster = "region_id" if cl == "unit" else cl
    res = panel_beta(
        d,
        value="gdp_pc",
        unit="region_id",
        time="year",
        effects=effects,
        covariates=covs,
        cluster=cluster,
        bias_correction="half_panel_jackknife",
    )
    for attr in ("params", "bse", "pvalues"):  # the lagged level under the table's term name
        series = getattr(res, attr)
        series.index = [CONVERGENCE_TERM if k == LAG else k for k in series.index]
    se_text = (
        f"clustered by {lab.singular if cl == 'unit' else cl} (CRV1 of the jackknife combination)"
        if cl is not None
        else "heteroskedasticity-robust (of the jackknife combination)"
    )
    return adapt(
        res,
        model=name,
        observations=str(int(res.nobs)),
        units=str(int(d["region_id"].nunique())),
        r2="—",
        fixed_effects=", ".join({"unit": lab.singular, "year": "year"}[f] for f in fe),
        se=se_text,
        bias_correction="half-panel jackknife",
        n_fe=len(fe),
    )


def panel_ols_results(
    ry: pd.DataFrame,
    *,
    outcome: str = "growth",
    columns: Sequence[Mapping[str, Any]] = T3_COLUMNS,
    fixed_effects: Sequence[str] = ("unit", "year"),
    cluster: str | None = "unit",
    key: str = "study.tables.T3",
    labels: Any = None,
    regressors: Sequence[str] = (),
    covariates: Sequence[str] = (),
    sample: Mapping[str, Any] | None = None,
) -> tuple[list[Any], list[str]]:
    """Linear panel models, one per declared column: outcome on regressors (+ covariates) with the
    declared fixed effects (linearmodels PanelOLS), SEs clustered by unit, by a panel column, or
    heteroskedasticity-robust (``cluster: null``). Columns inherit unset keys from the table.

    Returns one :class:`zonespill.study.protocol.Result` per column and the regressors dropped
    (no variation).
    """
    from linearmodels.panel import PanelOLS

    from zonespill.study import status
    from zonespill.study.protocol import adapt, failed
    from zonespill.study.sample import apply_sample, require_columns

    lab = _labels(labels)
    results: list[Any] = []
    all_dropped: list[str] = []
    for i, col in enumerate(columns):
        ckey = f"{key}.columns.{i}"
        name = str(col.get("name") or f"({i + 1})")
        y = str(col.get("outcome") or outcome)
        xs = [*(col.get("regressors") or regressors), *(col.get("covariates", covariates) or ())]
        fe = list(col.get("fixed_effects") or fixed_effects)
        cl = col.get("cluster", cluster)
        d = with_lags(ry, [y, *xs])
        require_columns(d, [y, *xs], key=ckey)
        d, sample_notes = apply_sample(d, col.get("sample", sample), key=f"{ckey}.sample")
        if cl not in (None, "unit"):
            require_columns(d, [str(cl)], key=f"{ckey}.cluster")
        if col.get("bias_correction"):
            results.append(_jackknife_column(d, y, xs, fe, cl, name, ckey, lab))
            continue
        d = d.dropna(subset=[y, *xs]).set_index(["region_id", "year"])
        usable = [x for x in xs if d[x].astype(float).std() > 0]
        dropped = [x for x in xs if x not in usable]
        all_dropped += [x for x in dropped if x not in all_dropped]
        if not usable:
            results.append(failed(name, f"no regressor varies ({', '.join(xs)})"))
            continue
        model = PanelOLS(
            d[y].astype(float),
            d[usable].astype(float),
            entity_effects="unit" in fe,
            time_effects="year" in fe,
            drop_absorbed=True,
        )
        if cl == "unit":
            res = model.fit(cov_type="clustered", cluster_entity=True)
            se_text = f"clustered by {lab.singular}"
        elif cl is None:
            res = model.fit(cov_type="robust")
            se_text = "heteroskedasticity-robust"
        else:
            res = model.fit(cov_type="clustered", clusters=d[[str(cl)]])
            se_text = f"clustered by {cl}"
        results.append(
            adapt(
                res,
                model=name,
                observations=str(int(res.nobs)),
                units=str(int(res.entity_info["total"])),
                r2=f"{res.rsquared:.3f}",
                fixed_effects=", ".join({"unit": lab.singular, "year": "year"}[f] for f in fe) or "none",
                se=se_text,
                sample="; ".join(sample_notes) or None,
                dropped=", ".join(dropped) or None,
                bias_correction="none" if y == "growth" and CONVERGENCE_TERM in usable else None,
                n_fe=len(fe),
            )
        )
    status.dropped_terms(all_dropped)
    return results, all_dropped


def _convergence_notes(
    ry: pd.DataFrame, cols: Sequence[Mapping[str, Any]], results: Sequence[Any], outcomes: Sequence[str]
) -> list[str]:
    """Speed and bias-correction notes of a table with growth-on-lagged-level columns."""
    from zonespill.convergence.designs import nickell_text, speed_note

    def b_of(r: Any) -> float | None:
        if not r.ok:
            return None
        t = r.tidy()
        row = t.loc[t["term"].astype(str) == CONVERGENCE_TERM]
        return None if row.empty else float(row["estimate"].iloc[0])

    growth = [
        (c, r)
        for c, r, y in zip(cols, results, outcomes, strict=True)
        if y == "growth" and b_of(r) is not None
    ]
    if not growth:
        return []
    out = [speed_note() + " Here T = 1 (annual growth)."]
    corrected = [(c, r) for c, r in growth if c.get("bias_correction")]
    plain = [(c, r) for c, r in growth if not c.get("bias_correction")]
    if not corrected:
        out.append(
            "With unit fixed effects the lagged level carries Nickell bias of order 1/T towards faster "
            f"convergence (T = {ry['year'].nunique() - 1} growth years); no bias-corrected column is "
            "declared (a column with bias_correction: half_panel_jackknife adds one)."
        )
        return out
    for c, r in corrected:
        xs = list(c.get("regressors") or ())
        same = (p for p in plain if list(p[0].get("regressors") or ()) == xs)
        base = next(same, plain[0] if plain else None)
        out.append(
            nickell_text(
                ry,
                full=base[1].model if base else "the uncorrected model",
                corrected=r.model,
                b_full=b_of(base[1]) if base else None,
                b_corrected=b_of(r),
                se_text="within regressions by pyfixest (zonespill.convergence.panel_beta); SEs: CRV1 of the "
                "jackknife combination (the per-cluster scores of the full and half-panel fits combined with "
                "the jackknife weights)",
            )
        )
    return out


def _panel_ols_statistics(results: Sequence[Any], labels: Any) -> dict[str, str]:
    lab = _labels(labels)
    n_fe = {r.glance().get("n_fe") for r in results if r.ok}
    r2 = "R² (within, two-way)" if n_fe == {2} else "R² (within)"
    units = lab.plural[:1].upper() + lab.plural[1:]
    return {k: v.replace("{Units}", units).replace("{r2}", r2) for k, v in PANEL_OLS_STATISTICS}


def panel_ols_models(
    ry: pd.DataFrame,
    *,
    outcome: str = "growth",
    columns: Sequence[Mapping[str, Any]] = T3_COLUMNS,
    fixed_effects: Sequence[str] = ("unit", "year"),
    cluster: str | None = "unit",
    key: str = "study.tables.T3",
    labels: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """:func:`panel_ols_results` as long coefficient / statistics frames (model, term, …)."""
    results, dropped = panel_ols_results(
        ry,
        outcome=outcome,
        columns=columns,
        fixed_effects=fixed_effects,
        cluster=cluster,
        key=key,
        labels=labels,
    )
    coefs = [
        {"model": r.model, "term": t.term, "estimate": t.estimate, "se": t.std_error, "pvalue": t.p_value}
        for r in results
        for t in r.tidy().itertuples(index=False)
    ]
    stats = [
        {"model": r.model, "stat": label, "value": r.glance()[k]}
        for r in results
        for k, label in _panel_ols_statistics(results, labels).items()
        if r.glance().get(k) is not None
    ]
    return (
        pd.DataFrame(coefs, columns=["model", "term", "estimate", "se", "pvalue"]),
        pd.DataFrame(stats, columns=["model", "stat", "value"]),
        dropped,
    )


def twfe_growth_models(ry: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """T3 models: growth on lagged log level and tie indicators, two-way FE, clustered by unit.

    growth_it = β ln y_i,t−1 + Σ_K γ_K active_K,it + α_i + δ_t + ε_it
    """
    from zonespill.study.spec import Labels

    coefs, stats, _ = panel_ols_models(ry, labels=Labels(singular="province", plural="provinces"))
    return coefs, stats


def table_twfe_step(
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
    outcome: str = "growth",
    columns: Sequence[Mapping[str, Any]] | None = None,
    fixed_effects: Sequence[str] = ("unit", "year"),
    cluster: str | None = "unit",
    labels: Any = None,
    table_id: str = "T3",
    title: str | None = None,
    extra_notes: Sequence[str] = (),
    regressors: Sequence[str] = (),
    covariates: Sequence[str] = (),
    sample: Mapping[str, Any] | None = None,
) -> list[Path]:
    """T3 (or any declared ``panel_ols`` table): linear panel models side by side."""
    from zonespill import provenance as prov
    from zonespill.study import status
    from zonespill.study.notes import small_sample_note
    from zonespill.tables import RegressionTable, write_table

    lab = _labels(labels)
    ry = read_region_year(region_year)
    cols = list(columns or T3_COLUMNS)
    results, _ = panel_ols_results(
        ry,
        outcome=outcome,
        columns=cols,
        fixed_effects=fixed_effects,
        cluster=cluster,
        key=f"study.tables.{table_id}",
        labels=lab,
        regressors=regressors,
        covariates=covariates,
        sample=sample,
    )
    if not any(r.ok for r in results):
        status.skip("no column could be estimated: " + "; ".join(f"{r.model}: {r.reason}" for r in results))
    from zonespill.study.protocol import adapt

    outcomes = [str(c.get("outcome") or outcome) for c in cols]
    results = [
        adapt(r, model=r.model, **cast(dict[str, Any], _speed_statistics(r, y))) if r.ok else r
        for r, y in zip(results, outcomes, strict=True)
    ]
    coefs = pd.concat([r.tidy() for r in results], ignore_index=True)
    terms = list(dict.fromkeys(coefs["term"]))
    term_labels = {t: variable_label(lab, t) for t in terms}
    ys = sorted({str(c.get("outcome") or outcome) for c in cols})
    n_clusters = int(ry["region_id"].nunique())
    se_line = {
        "unit": f"standard errors clustered by {lab.singular}",
        None: "heteroskedasticity-robust standard errors",
    }.get(cluster, f"standard errors clustered by {cluster}")
    notes = [
        f"Dependent variable: {', '.join(variable_label(lab, y) for y in ys)}. Linear fixed-effects models "
        f"(linearmodels PanelOLS), {se_line}.",
        *(
            [small_sample_note(n_clusters, lab.plural)]
            if cluster == "unit" and small_sample_note(n_clusters, lab.plural)
            else []
        ),
        price_note(ry),
        vintage_note(ry),
        f"Tie indicators: 1 if the {lab.singular} has an active tie in that role in the year.",
        *_convergence_notes(ry, cols, results, outcomes),
        *extra_notes,
    ]
    table = RegressionTable.from_results(
        results,
        table_id=table_id,
        title=title or "Growth, initial income and collaboration ties (two-way FE)",
        statistics=_panel_ols_statistics(results, lab),
        notes=notes,
        term_labels=term_labels,
    )
    return write_table(table, outdir, provenance_hash=prov.read_provenance_hash(provenance), formats=formats)


# --------------------------------------------------------------------------- whole spine without Snakemake
def run_spine(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Run ingest → weights → indicators in-process (what the DAG does, minus tables).

    Returns the paths written. Useful in notebooks and tests; the Snakemake workflow
    calls the same functions through the CLI, one per rule.
    """
    from zonespill.config import validate_config

    validate_config(config)
    out = Path(out_dir)
    paths = {
        "regions": out / "canonical/regions.parquet",
        "panel": out / "canonical/panel.parquet",
        "zones": out / "canonical/zones.parquet",
        "collaborations": out / "canonical/collaborations.parquet",
        "drops": out / "canonical/collaborations_drops.json",
        "panel_drops": out / "canonical/panel_drops.json",
        "weights": out / "weights/weights.parquet",
        "weights_meta": out / "weights/weights.json",
        "region_year": out / "indicators/region_year.parquet",
        "pair_year": out / "indicators/pair_year.parquet",
        "summary": out / "indicators/summary.json",
        "ties_record": out / "indicators/ties_record.csv",
    }
    inputs = config["inputs"]
    ingest_regions_step(inputs["regions"], out=paths["regions"])
    ingest_panel_step(
        inputs["panel"],
        regions=paths["regions"],
        out=paths["panel"],
        analysis=config["analysis"],
        drops=paths["panel_drops"],
        deflator=inputs.get("deflator"),
        plausibility=config.get("plausibility"),
        warnings=out / "canonical/panel_warnings.json",
    )
    ingest_zones_step(inputs["zones"], regions=paths["regions"], out=paths["zones"])
    ingest_collaborations_step(
        inputs["collaborations"],
        regions=paths["regions"],
        out=paths["collaborations"],
        drops=paths["drops"],
        warnings=out / "canonical/collaborations_warnings.json",
    )
    flows = None
    if "flows" in inputs:
        paths["flows"] = out / "canonical/flows.parquet"
        paths["flow_pair_year"] = out / "indicators/flow_pair_year.parquet"
        ingest_flows_step(inputs["flows"], regions=paths["regions"], out=paths["flows"])
        flows = paths["flows"]
    weights_step(
        config["weights"],
        config["analysis"],
        regions=paths["regions"],
        panel=paths["panel"],
        out=paths["weights"],
        meta=paths["weights_meta"],
    )
    indicators_step(
        config["analysis"],
        regions=paths["regions"],
        panel=paths["panel"],
        zones=paths["zones"],
        collaborations=paths["collaborations"],
        weights=paths["weights"],
        weights_meta=paths["weights_meta"],
        region_year_out=paths["region_year"],
        pair_year_out=paths["pair_year"],
        summary_out=paths["summary"],
        ties_record_out=paths["ties_record"],
        flows=flows,
        flow_pair_year_out=paths.get("flow_pair_year"),
    )
    return paths
