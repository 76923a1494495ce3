"""Pipeline steps of the DiD part of the paper: tables D1-D5 and figures FD1 (one function per rule).

Each step reads the spine's Parquet/JSON outputs, runs the designs of :mod:`zonespill.did.designs`
and writes only through :func:`zonespill.tables.write_table` and :mod:`zonespill.figures`.
Options come from the optional ``did`` config section (defaults in :data:`DEFAULTS`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonespill.did import designs as D
from zonespill.io import read_parquet
from zonespill.steps import read_region_year, vintage_note

log = logging.getLogger("zonespill")

#: Defaults of the ``did`` config section.
DEFAULTS: dict[str, Any] = {
    "control_group": "notyet",  # CS controls in D1/D2/D4-spillover: notyet | never
    "cs_method": "dr",  # dr | reg | ipw (no covariates: all three coincide)
    "base_period": "varying",  # varying | universal
    "anticipation": 0,
    "n_boot": 999,  # multiplier-bootstrap draws for CS (0/null = analytic SEs, no uniform bands)
    "alpha": 0.05,
    "pair_max_distance_km": None,  # D3: keep only control pairs within this centroid distance
    "pair_max_initial_gap": None,  # D3: keep only control pairs with |log gap| in the first year <= this
    "exposure_threshold": 0.0,  # D4: exposed = W-weighted share of treated neighbours > threshold
}

#: Figures FD1: one per region-level tie type.
FIGURE_TIES: tuple[str, ...] = D.REGION_TIES
REGION_ESTIMATORS: tuple[str, ...] = (D.CS_NOTYET, D.BJS, D.SA, D.TWFE)
PAIR_ESTIMATORS: tuple[str, ...] = (D.CS_NOTYET, D.CS_NEVER, D.BJS, D.TWFE)
SPILL_TIES: tuple[str, ...] = ("forward_giver", "forward_receiver", "reverse", "two_way", "any")
OUTCOMES: dict[str, tuple[str, str]] = {
    "D1": ("log_gdp_pc", "log GDP per capita"),
    "D2": ("growth", "growth of log GDP per capita"),
}


def _opt(options: Mapping[str, Any], key: str) -> Any:
    value = options.get(key, DEFAULTS[key])
    return DEFAULTS[key] if value is None and DEFAULTS[key] is not None else value


def _settings(options: Mapping[str, Any]) -> D.EstimatorSettings:
    merged = {k: _opt(options, k) for k in DEFAULTS}
    return D.EstimatorSettings.from_options(merged)


def _cs_label(settings: D.EstimatorSettings) -> str:
    return D.CS_NOTYET if settings.control_group == "notyet" else D.CS_NEVER


def _read_inputs(region_year: Path, provenance: Path) -> tuple[pd.DataFrame, str]:
    from zonespill import provenance as prov

    return read_region_year(region_year), prov.read_provenance_hash(provenance)


def _p_text(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "n/a (pre-period covariance singular or no pre-period cells)"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _common_notes(ry: pd.DataFrame, settings: D.EstimatorSettings, *, units: str) -> list[str]:

    n = ry["region_id"].nunique()
    boot = (
        f"multiplier bootstrap ({settings.n_boot} Rademacher draws, seed derived from master_seed)"
        if settings.n_boot
        else "analytic influence-function SEs"
    )
    return [
        f"Small sample: {n} provinces, {int(ry['year'].min())}–{int(ry['year'].max())}; {units}. "
        "Few clusters and few treated units per cohort: interpret SEs and p-values with care.",
        vintage_note(ry),
        f"CS = Callaway–Sant'Anna ATT(g,t) ({settings.method.upper()}, no covariates, so DR = REG = IPW; "
        f"{settings.base_period} base period; anticipation {settings.anticipation}), overall ATT = "
        f"simple aggregation; CS SEs: {boot}.",
        "BJS = Borusyak–Jaravel–Spiess imputation ATT (equal weights on treated observations), conservative "
        "SEs; SA = Sun–Abraham interaction-weighted ATT (never-treated controls); TWFE = static two-way "
        "fixed effects β (CRV1). Treatment is absorbing from the first tie year.",
    ]


def _regression_table(
    results: Sequence[D.Estimate],
    *,
    table_id: str,
    title: str,
    notes: Sequence[str],
    model_order: Sequence[str],
    term_order: Sequence[str],
    stats: pd.DataFrame | None = None,
) -> Any:
    from zonespill.tables import RegressionTable

    coefs, fail_notes = D.estimates_frames(results)
    models = [D.ESTIMATOR_LABELS[m] for m in model_order]
    if coefs.empty:  # nothing estimable: keep the table (with its notes) rather than fail the run
        fail_notes.append("No estimator could be estimated on any design; cells are empty.")
        coefs = pd.DataFrame({"model": models, "term": term_order[0], "estimate": np.nan, "se": np.nan})
    # keep every estimator column and every design row; blank where nothing was estimable (see notes)
    blanks = [{"model": m, "term": term_order[0]} for m in models if m not in set(coefs["model"])]
    blanks += [{"model": models[0], "term": t} for t in term_order if t not in set(coefs["term"])]
    blanks = [b for b in blanks if not ((coefs["model"] == b["model"]) & (coefs["term"] == b["term"])).any()]
    if blanks:
        extra = pd.DataFrame(blanks).assign(estimate=np.nan, se=np.nan).drop_duplicates(["model", "term"])
        coefs = pd.concat([coefs, extra], ignore_index=True)
    if stats is not None:
        stats = stats[stats["model"].isin(models)]
    return RegressionTable.from_long(
        coefs,
        stats,
        table_id=table_id,
        title=title,
        notes=[*notes, *fail_notes],
        model_order=models,
        term_order=list(term_order),
    )


def _stats(rows: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    out = [
        {"model": D.ESTIMATOR_LABELS[m], "stat": s, "value": v} for m, d in rows.items() for s, v in d.items()
    ]
    return pd.DataFrame(out, columns=["model", "stat", "value"])


def _not_estimable_figure(title: str, reason: str, path_stem: Path) -> list[Path]:
    from zonespill import figures

    fig = figures.new_figure()
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, f"not estimable:\n{reason}", ha="center", va="center", wrap=True, fontsize="small")
    return figures.save_figure(fig, path_stem)


# --------------------------------------------------------------------------- D1, D2, FD1
def region_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    figure_dir: Path,
    formats: tuple[str, ...],
    master_seed: int,
) -> list[Path]:
    """D1 (log GDP p.c.) and D2 (growth): staggered DiD by tie type, four estimators side by side;
    FD1_<tie>: CS event studies of log GDP p.c. with pointwise CIs and sup-t uniform bands."""
    from zonespill import figures
    from zonespill.provenance import derive_seed
    from zonespill.tables import write_table

    ry, phash = _read_inputs(region_year, provenance)
    settings = _settings(options)
    cs = _cs_label(settings)
    estimators = (cs, *REGION_ESTIMATORS[1:])
    paths: list[Path] = []
    figures.use_agg()
    for table_id, (outcome, label) in OUTCOMES.items():
        results: list[D.Estimate] = []
        sample_notes: list[str] = []
        pre_notes: list[str] = []
        terms = []
        for tie in D.REGION_TIES:
            sample = D.region_sample(ry, tie=tie, outcome=outcome, anticipation=settings.anticipation)
            terms.append(sample.name)
            sample_notes.append(sample.describe())
            seed = derive_seed(int(master_seed), "did", table_id, tie)
            for est in estimators:
                r = D.estimate(sample, est, settings, seed=seed, event_study=(table_id == "D1" and est == cs))
                results.append(r)
                if est == cs and r.ok:
                    pre_notes.append(f"{sample.name} {_p_text(r.pretrend_p)}")
                if table_id == "D1" and est == cs:
                    stem = Path(figure_dir) / f"FD1_{tie}"
                    title = f"Event study (CS): {label}, {sample.name}"
                    if r.ok and r.event_study is not None and len(r.event_study):
                        paths += figures.plot_event_study(
                            r.event_study, title=title, path_stem=stem, ylabel=f"ATT on {label}"
                        )
                    else:
                        paths += _not_estimable_figure(title, r.reason or "no event-time effects", stem)
                log.info("%s %s %s: att=%s se=%s %s", table_id, tie, est, r.att, r.se, r.reason or "")
        notes = [
            f"Outcome: {label}. Rows: treatment = first year the province holds a tie of that type "
            "(province-level ties from the pairings; 'any tie' includes ties of unknown direction).",
            *_common_notes(ry, settings, units="SEs clustered by province"),
            *sample_notes,
            "CS pre-trend Wald test p-values (H0: all pre-treatment ATT(g,t) = 0): "
            + "; ".join(pre_notes)
            + "."
            if pre_notes
            else "CS pre-trend test: not available.",
        ]
        stats = _stats(
            {
                cs: {
                    "Controls": "not yet treated" if cs == D.CS_NOTYET else "never treated",
                    "SE": "bootstrap" if settings.n_boot else "analytic IF",
                },
                D.BJS: {"Controls": "untreated obs.", "SE": "BJS conservative"},
                D.SA: {"Controls": "never treated", "SE": "CRV1"},
                D.TWFE: {"Controls": "all (static)", "SE": "CRV1"},
            }
        )
        table = _regression_table(
            results,
            table_id=table_id,
            title=f"Staggered DiD by tie type: {label}",
            notes=notes,
            model_order=estimators,
            term_order=terms,
            stats=stats,
        )
        paths += write_table(table, outdir, provenance_hash=phash, formats=formats)
    return paths


# --------------------------------------------------------------------------- D3
def pair_distances(regions: Path, provinces: Sequence[str]) -> pd.DataFrame:
    """Great-circle distance between province centroids for all unordered pairs (prov_a < prov_b)."""
    from zonespill.geography import centroids, distance_matrix_km
    from zonespill.ingest import read_canonical

    reg = read_canonical(regions, "regions")
    ids = sorted(map(str, provinces))
    sub = reg[reg["region_id"].astype(str).isin(ids)].copy()
    sub["region_id"] = sub["region_id"].astype(str)
    sub = sub.drop_duplicates("region_id").set_index("region_id").reindex(ids).reset_index()
    dist = distance_matrix_km(centroids(sub))
    ia, ib = np.triu_indices(len(ids), k=1)
    arr = np.array(ids, dtype=object)
    return pd.DataFrame({"prov_a": arr[ia], "prov_b": arr[ib], "distance_km": dist[ia, ib]})


def pairs_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    pair_year: Path,
    regions: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """D3: pair-level convergence DiD, y = |ln y_a − ln y_b|, by direction and pooled."""
    from zonespill.tables import write_table

    ry, phash = _read_inputs(region_year, provenance)
    py = read_parquet(pair_year)
    settings = _settings(options)
    max_d = options.get("pair_max_distance_km")
    max_g = options.get("pair_max_initial_gap")
    dist = (
        pair_distances(regions, sorted(ry["region_id"].astype(str).unique())) if max_d is not None else None
    )
    panel = D.dyadic_panel(ry, py, distances=dist)
    results: list[D.Estimate] = []
    sample_notes: list[str] = []
    terms = []
    for direction in D.PAIR_DIRECTIONS:
        sample = D.pair_sample(
            panel,
            direction=direction,
            anticipation=settings.anticipation,
            max_distance_km=max_d,
            max_initial_gap=max_g,
        )
        terms.append(sample.name)
        sample_notes.append(sample.describe())
        for est in PAIR_ESTIMATORS:
            r = D.estimate(sample, est, settings, bootstrap=False)
            results.append(r)
            log.info("D3 %s %s: att=%s se=%s %s", direction, est, r.att, r.se, r.reason or "")
    n_pairs = panel["pair"].nunique()
    restr = []
    if max_d is not None:
        restr.append(f"centroid distance ≤ {float(max_d):g} km")
    if max_g is not None:
        restr.append(f"initial |log gap| ≤ {float(max_g):g}")
    notes = [
        f"Outcome: |ln GDP p.c. of province a − ln GDP p.c. of province b| for all {n_pairs} unordered "
        "province pairs × years; a negative ATT means collaboration narrows the income gap.",
        "Treated pairs: province pairs with a collaboration (from pair_year; within-province ties excluded), "
        "cohort = earliest start year of a tie in the row's direction (pooled: any direction). Controls: "
        "never-collaborating pairs"
        + (f" restricted to {' and '.join(restr)}" if restr else " (unrestricted)")
        + "; CS (not yet treated) also uses later-tied pairs of the same row.",
        *_common_notes(ry, settings, units="SEs two-way clustered by both partner provinces")[:2],
        "CS: Callaway–Sant'Anna simple aggregation, analytic influence-function SEs with two-way "
        "(Cameron–Gelbach–Miller) clustering on province a and province b; BJS conservative SEs and TWFE "
        "CRV1 with the same two-way clustering. Two-way clustering by partner position is not full "
        "dyadic-robust clustering (pairs sharing a province in different positions are treated as "
        "independent).",
        *sample_notes,
    ]
    stats = _stats(
        {
            D.CS_NOTYET: {"Controls": "not yet + never tied", "SE": "2-way IF"},
            D.CS_NEVER: {"Controls": "never tied", "SE": "2-way IF"},
            D.BJS: {"Controls": "untreated obs.", "SE": "2-way BJS"},
            D.TWFE: {"Controls": "all (static)", "SE": "2-way CRV1"},
        }
    )
    table = _regression_table(
        results,
        table_id="D3",
        title="Pair-level convergence DiD: collaboration and the absolute log income gap",
        notes=notes,
        model_order=PAIR_ESTIMATORS,
        term_order=terms,
        stats=stats,
    )
    return write_table(table, outdir, provenance_hash=phash, formats=formats)


# --------------------------------------------------------------------------- D4
def spillover_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    weights: Path,
    weights_meta: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
    master_seed: int,
) -> list[Path]:
    """D4: direct ATT with low-exposure controls and spillover ATT on never-treated provinces."""
    from zonespill.provenance import derive_seed
    from zonespill.steps import read_weights
    from zonespill.tables import write_table

    ry, phash = _read_inputs(region_year, provenance)
    W = read_weights(weights, weights_meta)
    settings = _settings(options)
    thr = float(_opt(options, "exposure_threshold"))
    cs = _cs_label(settings)
    estimators = (
        (D.CS_NEVER, cs, D.BJS, D.SA, D.TWFE) if cs != D.CS_NEVER else (D.CS_NEVER, D.BJS, D.SA, D.TWFE)
    )
    results: list[D.Estimate] = []
    sample_notes: list[str] = []
    terms = []
    for tie in SPILL_TIES:
        direct, spill = D.spillover_samples(
            ry, W, tie=tie, outcome="log_gdp_pc", threshold=thr, anticipation=settings.anticipation
        )
        for sample in (direct, spill):
            terms.append(sample.name)
            sample_notes.append(sample.describe())
            seed = derive_seed(int(master_seed), "did", "D4", sample.name)
            for est in estimators:
                if sample is direct and est == D.CS_NOTYET:
                    continue  # the direct estimand needs the clean never-treated controls
                r = D.estimate(sample, est, settings, seed=seed)
                results.append(r)
                log.info("D4 %s %s: att=%s se=%s %s", sample.name, est, r.att, r.se, r.reason or "")
    w_kind = W.kind
    notes = [
        "Outcome: log GDP per capita. Exposure E_K(i,t) = Σ_j w_ij 1{province j first tied (type K) by t}, "
        f"spatial weights W: {w_kind}, row-standardised (the W-weighted share of treated neighbours); "
        f"exposed = E > {thr:g}.",
        "direct: treated cohorts of table D1 against only the never-treated provinces whose exposure stays "
        f"≤ {thr:g} in every year (CS with never-treated controls; BJS/SA/TWFE on the same sample): the "
        "ATT of holding a tie with the controls' spillover exposure held at (near) zero.",
        "spillover: never-treated provinces only; cohort = first year exposure exceeds the threshold, "
        "controls = never-treated provinces not (yet) exposed: the ATT of becoming exposed to treated "
        "neighbours for provinces without a tie of that type.",
        *_common_notes(ry, settings, units="SEs clustered by province"),
        *sample_notes,
    ]
    stats_rows: dict[str, dict[str, str]] = {
        D.CS_NEVER: {
            "Controls": "never treated / not exposed",
            "SE": "bootstrap" if settings.n_boot else "IF",
        },
        D.BJS: {"Controls": "untreated obs.", "SE": "BJS conservative"},
        D.SA: {"Controls": "never treated", "SE": "CRV1"},
        D.TWFE: {"Controls": "all (static)", "SE": "CRV1"},
    }
    if cs == D.CS_NOTYET:
        stats_rows[D.CS_NOTYET] = {
            "Controls": "not yet exposed (spillover rows)",
            "SE": "bootstrap" if settings.n_boot else "IF",
        }
    table = _regression_table(
        results,
        table_id="D4",
        title="Spillover exposure: direct and spillover ATTs on log GDP per capita",
        notes=notes,
        model_order=estimators,
        term_order=terms,
        stats=_stats(stats_rows),
    )
    return write_table(table, outdir, provenance_hash=phash, formats=formats)


# --------------------------------------------------------------------------- D5
def bacon_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """D5: Goodman-Bacon decomposition of the static TWFE of the any-tie design (log GDP p.c.)."""
    from zonespill.tables import PlainTable, write_table

    ry, phash = _read_inputs(region_year, provenance)
    rows, notes = D.bacon_table(ry, tie="any", outcome="log_gdp_pc")
    if rows.empty:
        rows = pd.DataFrame(
            {
                "sample": ["—"],
                "type": ["not estimable"],
                "treated": [""],
                "control": [""],
                "estimate": [np.nan],
                "weight": [np.nan],
            }
        )
    all_notes = [
        "Outcome: log GDP per capita; treatment: first year the province holds any tie (absorbing). "
        "Each row is one 2×2 DiD of timing groups (cohort = first tie year; 'always' = tied in or before "
        "the first analysis year; 'never' = no tie); weights sum to one within a sample.",
        *notes,
        vintage_note(ry),
        f"Small sample: {ry['region_id'].nunique()} provinces; a large weight on comparisons against "
        "'always treated' provinces is the forbidden-comparison problem that the staggered estimators of "
        "D1 avoid.",
    ]
    table = PlainTable(
        rows,
        table_id="D5",
        title="Goodman-Bacon decomposition of the TWFE DiD (any tie)",
        notes=all_notes,
        digits={"estimate": 4, "weight": 4},
    )
    return write_table(table, outdir, provenance_hash=phash, formats=formats)
