"""Pipeline steps: one typed public function per Snakemake rule.

Each function reads its inputs, calls the library, and writes its outputs atomically.
The CLI (``python -m zonespill <step>``) is a thin wrapper; the functions can be called
directly from Python without Snakemake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonespill import contract as C
from zonespill import geography, indicators
from zonespill.errors import ConfigError
from zonespill.ingest import (
    SourceSpec,
    Vintage,
    ingest_collaborations,
    ingest_flows,
    ingest_panel,
    ingest_regions,
    ingest_zones,
    read_canonical,
    write_canonical,
)
from zonespill.io import read_parquet, write_json, write_parquet
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
    plausibility: Mapping[str, Any] | None = None,
    warnings: Path | None = None,
) -> pd.DataFrame:
    """Validate the panel, select the configured GDP vintage, write ``panel.parquet``.

    Plausibility warnings (bounds: the top-level ``plausibility`` config section) go to
    the log and, with ``warnings``, to a JSON record the run summary reads.
    """
    spec = SourceSpec.from_config(options, key="inputs.panel")
    vintages = _vintages(options)
    records: list[dict[str, Any]] = []
    panel = ingest_panel(
        spec,
        regions=read_canonical(regions, "regions"),
        vintages=vintages,
        vintage=str(options.get("vintage", next(iter(vintages)))),
        covariates=options.get("covariates"),
        plausibility=C.Plausibility.from_options(plausibility),
        records=records,
    )
    write_warnings(warnings, records)
    write_canonical(out, panel, "panel")
    log.info(
        "panel: %d rows, %d regions, years %d-%d",
        len(panel),
        panel["region_id"].nunique(),
        panel["year"].min(),
        panel["year"].max(),
    )
    return panel


def ingest_zones_step(options: Mapping[str, Any], *, regions: Path, out: Path) -> pd.DataFrame:
    spec = SourceSpec.from_config(options, key="inputs.zones")
    zones = ingest_zones(spec, regions=read_canonical(regions, "regions"))
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
        records=records,
    )
    write_warnings(warnings, records)
    write_json(
        drops,
        [
            {
                "table": d.table,
                "source": d.source,
                "rows": list(d.rows),
                "reason": d.reason,
                "ids": list(d.detail),
            }
            for d in dropped
        ],
    )
    write_canonical(out, collabs, "collaborations")
    for d in dropped:
        log.warning("dropped %d row(s) of %s: %s (rows %s)", len(d.rows), d.source, d.reason, list(d.rows))
    log.info("collaborations: %d rows (%s)", len(collabs), collabs["direction"].value_counts().to_dict())
    return collabs


def ingest_flows_step(options: Mapping[str, Any], *, regions: Path, out: Path) -> pd.DataFrame:
    spec = SourceSpec.from_config(options, key="inputs.flows")
    flows = ingest_flows(spec, regions=read_canonical(regions, "regions"))
    write_canonical(out, flows, "flows")
    return flows


# --------------------------------------------------------------------------- geography
def _analysis_regions(regions: pd.DataFrame, panel: pd.DataFrame, level: str) -> pd.DataFrame:
    ids = set(panel["region_id"].astype(str))
    sub = regions[(regions["level"] == level) & regions["region_id"].isin(ids)]
    if len(sub) < 2:
        from zonespill.errors import ConfigError

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
) -> None:
    """Region-year and pair-year spillover-direction indicators."""
    reg = read_canonical(regions, "regions")
    pan = read_canonical(panel, "panel")
    zon = read_canonical(zones, "zones")
    col = read_canonical(collaborations, "collaborations")
    w = read_weights(weights, weights_meta)
    level = str(analysis_options.get("level", "province"))
    units = _analysis_regions(reg, pan, level)
    first = int(analysis_options.get("first_year", int(pan["year"].min())))
    last = int(analysis_options.get("last_year", int(pan["year"].max())))
    if first > last:
        raise ConfigError("first_year is after last_year", source="config", column="analysis.first_year")
    _check_years_in_data(pan, first, last)
    years = range(first, last + 1)
    ids = units["region_id"].astype(str).tolist()
    ties = indicators.province_ties(col, reg, analysis_ids=ids)
    pmap = indicators.province_of(reg)
    zon = zon.assign(region_id=zon["region_id"].astype(str).map(lambda r: pmap.get(r, r)))
    pan_units = pan[pan["region_id"].isin(ids)]
    ry = indicators.region_year(pan_units, ties.ties, weights=w, zones=zon, years=years)
    py = indicators.pair_year(col, reg, ry, years=years)
    write_parquet(region_year_out, ry)
    write_parquet(pair_year_out, py)
    write_json(
        summary_out,
        {
            "regions": len(ids),
            "years": [first, last],
            "collaborations": len(col),
            "province_level_ties": len(ties.ties),
            "same_province_ties_excluded_at_province_level": list(ties.same_province),
            "ties_outside_analysis_regions": list(ties.outside_panel),
            "ties_by_direction": {
                k: int(v) for k, v in ties.ties["direction"].value_counts().sort_index().items()
            },
        },
    )
    log.info(
        "region_year %s, pair_year %s; %d same-province ties kept only at native level",
        ry.shape,
        py.shape,
        len(ties.same_province),
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
def table_descriptives_step(
    *, region_year: Path, provenance: Path, outdir: Path, formats: tuple[str, ...]
) -> list[Path]:
    """T1: descriptive statistics of the province panel."""
    from zonespill import provenance as prov
    from zonespill.tables import PlainTable, write_table

    ry = read_region_year(region_year)
    variables = [
        ("gdp_pc", "GDP per capita (yuan)"),
        ("log_gdp_pc", "log GDP per capita"),
        ("growth", "growth of log GDP p.c."),
        ("population", "population (10,000)"),
        ("zones_total", "approved zones (cumulative)"),
        ("zones_national", "approved zones: State Council"),
        ("zone_area_ha", "approved zone area (ha)"),
        ("n_forward_giver", "active ties: forward giver"),
        ("n_forward_receiver", "active ties: forward receiver"),
        ("n_reverse", "active ties: reverse (either role)"),
        ("n_two_way", "active ties: two-way"),
        ("partner_log_gap", "partner log income gap"),
        ("nb_share_active", "share of neighbours with a tie"),
    ]
    rows = []
    for var, label in variables:
        s = ry[var].astype("float64").dropna()
        rows.append(
            {
                "variable": label,
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
        f"Sample: {n_units} provinces, {int(ry['year'].min())}–{int(ry['year'].max())} (region-years).",
        vintage_note(ry),
        "GDP per capita = GDP / year-end resident population (computed; the source column is blank).",
        "Zones: 2018 national catalogue; a zone counts from its approval year on "
        "(zones abolished before 2018 are "
        "not in the catalogue).",
        "Ties: province-level ties from the bundled pairings; "
        "within-province ties are excluded at this level.",
        "SD is the sample standard deviation (ddof = 1).",
    )
    table = PlainTable(
        frame, table_id="T1", title="Descriptive statistics, province panel", notes=notes, digits=3
    )
    return write_table(table, outdir, provenance_hash=prov.read_provenance_hash(provenance), formats=formats)


def sigma_frame(ry: pd.DataFrame) -> pd.DataFrame:
    """Cross-sectional dispersion of log GDP per capita by year (via zonespill.convergence.sigma)."""
    from zonespill.convergence import sigma

    sub = ry.dropna(subset=["gdp_pc"])
    frame = sigma(sub, value="gdp_pc", unit="region_id", time="year", log=True)
    if "year" not in frame.columns:
        frame = frame.rename_axis("year").reset_index()
    return frame


def table_sigma_step(
    *, region_year: Path, provenance: Path, outdir: Path, figure_stem: Path, formats: tuple[str, ...]
) -> list[Path]:
    """T2: sigma convergence (SD of log GDP per capita by year) and its figure."""
    from zonespill import figures
    from zonespill import provenance as prov
    from zonespill.tables import PlainTable, write_table

    ry = read_region_year(region_year)
    frame = sigma_frame(ry)
    notes = (
        f"Sample: {ry['region_id'].nunique()} provinces with GDP and population in the year.",
        vintage_note(ry),
        "sd_log: standard deviation of log GDP per capita across provinces (unweighted); "
        "cv: coefficient of variation of GDP per capita; theil, gini: unweighted inequality indices.",
    )
    table = PlainTable(
        frame, table_id="T2", title="Sigma convergence of provincial GDP per capita", notes=notes
    )
    paths = write_table(table, outdir, provenance_hash=prov.read_provenance_hash(provenance), formats=formats)
    figures.use_agg()
    ycol = "sd_log" if "sd_log" in frame.columns else frame.columns[1]
    paths += figures.plot_lines(
        frame,
        "year",
        [ycol],
        title="Sigma convergence: SD of log GDP per capita",
        ylabel="SD of log GDP per capita",
        path_stem=figure_stem,
    )
    return paths


def twfe_growth_models(ry: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """T3 models: growth on lagged log level and tie indicators, two-way FE, clustered by province.

    growth_it = β ln y_i,t−1 + Σ_K γ_K active_K,it + α_i + δ_t + ε_it
    """
    from linearmodels.panel import PanelOLS

    d = ry.sort_values(["region_id", "year"]).copy()
    prev = d.groupby("region_id")[["year", "log_gdp_pc"]].shift(1)
    d["lag_log_gdp_pc"] = np.where(prev["year"] == d["year"] - 1, prev["log_gdp_pc"], np.nan)
    d = d.dropna(subset=["growth", "lag_log_gdp_pc"]).set_index(["region_id", "year"])
    specs = {
        "(1)": ["lag_log_gdp_pc"],
        "(2)": ["lag_log_gdp_pc", "active_any"],
        "(3)": [
            "lag_log_gdp_pc",
            "active_forward_giver",
            "active_forward_receiver",
            "active_reverse",
            "active_two_way",
        ],
    }
    coefs, stats = [], []
    for name, xs in specs.items():
        usable = [x for x in xs if d[x].astype(float).std() > 0]
        dropped = [x for x in xs if x not in usable]
        model = PanelOLS(
            d["growth"].astype(float),
            d[usable].astype(float),
            entity_effects=True,
            time_effects=True,
            drop_absorbed=True,
        )
        res = model.fit(cov_type="clustered", cluster_entity=True)
        for term in res.params.index:
            coefs.append(
                {
                    "model": name,
                    "term": term,
                    "estimate": float(res.params[term]),
                    "se": float(res.std_errors[term]),
                    "pvalue": float(res.pvalues[term]),
                }
            )
        stats += [
            {"model": name, "stat": "N", "value": str(int(res.nobs))},
            {"model": name, "stat": "Provinces", "value": str(int(res.entity_info["total"]))},
            {"model": name, "stat": "R² (within, two-way)", "value": f"{res.rsquared:.3f}"},
            {"model": name, "stat": "Fixed effects", "value": "province, year"},
            {"model": name, "stat": "SE", "value": "clustered by province"},
        ]
        if dropped:
            stats.append({"model": name, "stat": "Dropped (no variation)", "value": ", ".join(dropped)})
    return pd.DataFrame(coefs), pd.DataFrame(stats)


def table_twfe_step(
    *, region_year: Path, provenance: Path, outdir: Path, formats: tuple[str, ...]
) -> list[Path]:
    """T3: two-way FE growth regressions with tie indicators by direction."""
    from zonespill import provenance as prov
    from zonespill.tables import RegressionTable, write_table

    ry = read_region_year(region_year)
    coefs, stats = twfe_growth_models(ry)
    labels = {
        "lag_log_gdp_pc": "log GDP p.c. (t−1)",
        "active_any": "any active tie",
        "active_forward_giver": "forward giver",
        "active_forward_receiver": "forward receiver",
        "active_reverse": "reverse (either role)",
        "active_two_way": "two-way",
    }
    notes = (
        "Dependent variable: annual growth of log GDP per capita. Linear two-way fixed effects (linearmodels "
        f"PanelOLS), standard errors clustered by province "
        f"(few clusters: {ry['region_id'].nunique()} — interpret "
        "p-values with care).",
        vintage_note(ry),
        "Tie indicators: 1 if the province has an active tie in that role in the year (bundled pairings).",
    )
    table = RegressionTable.from_long(
        coefs,
        stats,
        table_id="T3",
        title="Growth, initial income and collaboration ties (two-way FE)",
        notes=notes,
        term_labels=labels,
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
        "weights": out / "weights/weights.parquet",
        "weights_meta": out / "weights/weights.json",
        "region_year": out / "indicators/region_year.parquet",
        "pair_year": out / "indicators/pair_year.parquet",
        "summary": out / "indicators/summary.json",
    }
    inputs = config["inputs"]
    ingest_regions_step(inputs["regions"], out=paths["regions"])
    ingest_panel_step(
        inputs["panel"],
        regions=paths["regions"],
        out=paths["panel"],
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
    )
    return paths
