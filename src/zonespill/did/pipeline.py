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
from zonespill.study.schema import section_defaults

log = logging.getLogger("zonespill")

#: Defaults of the ``did`` config section, read from the schema (the one source of defaults).
DEFAULTS: dict[str, Any] = section_defaults("did")

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


def _common_notes(
    ry: pd.DataFrame,
    settings: D.EstimatorSettings,
    *,
    units: str,
    labels: Any = None,
    n_clusters: int | tuple[int, int] | None = None,
    treated: Mapping[str, int] | None = None,
    covariates: bool = False,
) -> list[str]:
    """Sample line, vintage, estimator lines, then warnings computed from the numbers of clusters
    and treated units (nothing about the sample size is hard-coded)."""
    from zonespill.study.notes import few_treated_note, small_sample_note
    from zonespill.study.spec import Labels

    lab = labels if labels is not None else Labels("province", "provinces")
    n = ry["region_id"].nunique()
    boot = (
        f"multiplier bootstrap ({settings.n_boot} Rademacher draws, seed derived from master_seed)"
        if settings.n_boot
        else "analytic influence-function SEs"
    )
    lo, hi = n_clusters if isinstance(n_clusters, tuple) else (n_clusters or n, n_clusters or n)
    few = small_sample_note(int(lo), "clusters")
    if few and lo != hi:
        few = few.replace(f"{lo} clusters", f"{lo}–{hi} clusters per row", 1)
    warnings = [
        few,
        few_treated_note(dict(treated or {}), lab.plural),
    ]
    return [
        f"Sample: {lab.count(n)}, {int(ry['year'].min())}–{int(ry['year'].max())}; {units}.",
        vintage_note(ry),
        f"CS = Callaway–Sant'Anna ATT(g,t) ({settings.method.upper()}"
        + ("; " if covariates else ", no covariates, so DR = REG = IPW; ")
        + f"{settings.base_period} base period; anticipation {settings.anticipation}), overall ATT = "
        f"simple aggregation; CS SEs: {boot}.",
        "BJS = Borusyak–Jaravel–Spiess imputation ATT (equal weights on treated observations), conservative "
        "SEs; SA = Sun–Abraham interaction-weighted ATT (never-treated controls); TWFE = static two-way "
        "fixed effects β (CRV1). Treatment is absorbing from the first treatment year.",
        *[w for w in warnings if w],
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
    labelled: bool = False,
) -> Any:
    from zonespill.tables import RegressionTable

    coefs, fail_notes = D.estimates_frames(results)
    models = list(model_order) if labelled else [D.ESTIMATOR_LABELS[m] for m in model_order]
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
#: The estimator keys a declared DiD column may name (``cs`` follows ``control_group``).
COLUMN_ESTIMATORS: dict[str, str] = {
    "cs_notyet": D.CS_NOTYET,
    "cs_never": D.CS_NEVER,
    "bjs": D.BJS,
    "sa": D.SA,
    "twfe": D.TWFE,
}
_COVARIATE_ESTIMATORS = (D.CS_NOTYET, D.CS_NEVER, D.TWFE)


def _declared_d1(table_id: str) -> dict[str, Any]:
    """D1 / D2 as the bundled declaration states them (for callers without a declaration)."""
    outcome = OUTCOMES[table_id][0]
    return {
        "id": table_id,
        "outcome": outcome,
        "treatments": list(D.REGION_TIES),
        "columns": [{"estimator": e} for e in ("cs", "bjs", "sa", "twfe")],
        "event_study": table_id == "D1",
        "figure_prefix": "FD1",
        "cluster": "unit",
        "covariates": [],
    }


def _user_cohort(ry: pd.DataFrame, treatment: str, key: str) -> pd.Series:
    """First treatment year per row (0 = never) of a user treatment column.

    ``first_<name>`` is used as given; a 0/1 column is absorbing from its first 1; any other
    numeric column is read as the first-treatment year (constant within a unit, 0/blank = never).
    """
    from zonespill.errors import ConfigError

    if f"first_{treatment}" in ry.columns:
        return pd.to_numeric(ry[f"first_{treatment}"], errors="coerce").fillna(0)
    if treatment not in ry.columns:
        raise ConfigError(
            f"treatment {treatment!r} is neither a tie type ({', '.join(D.REGION_TIES)}) nor a "
            "region_year column",
            source="config",
            column=key,
        )
    vals = pd.to_numeric(ry[treatment], errors="coerce")
    if set(vals.dropna().unique()) <= {0, 1}:
        first = ry["year"].where(vals == 1).groupby(ry["region_id"]).transform("min")
        return first.fillna(0)
    per_unit = vals.groupby(ry["region_id"]).nunique()
    varying = per_unit[per_unit > 1].index.astype(str).tolist()
    if varying:
        raise ConfigError(
            f"treatment column {treatment!r} is neither 0/1 nor a first-treatment year constant within "
            f"units (varies in {varying[:10]})",
            source="config",
            column=key,
        )
    return vals.groupby(ry["region_id"]).transform("max").fillna(0)


def _with_columns(sample: D.Sample, ry: pd.DataFrame, extra: Sequence[str], cluster: str | None) -> D.Sample:
    """The sample with covariate / cluster columns of region_year merged in (by unit and year)."""
    import dataclasses

    if not extra:
        return sample if cluster is None else dataclasses.replace(sample, cluster=cluster)
    cols = pd.DataFrame(
        {D.UNIT: ry["region_id"].astype(str), D.TIME: ry["year"].astype(int), **{c: ry[c] for c in extra}}
    )
    data = sample.data.merge(cols, on=[D.UNIT, D.TIME], how="left", validate="one_to_one")
    return dataclasses.replace(sample, data=data, cluster=cluster)


def _twfe_covariates(sample: D.Sample, covariates: Sequence[str], alpha: float) -> tuple[float, float]:
    """Static TWFE β with covariates: y ~ D + X | unit + year, CRV1 by the sample's cluster."""
    import pyfixest as pf

    d = sample.data.copy()
    d["_treated"] = ((d[D.G] > 0) & (d[D.TIME] >= d[D.G])).astype(float)
    cl = sample.cluster or D.UNIT
    fit = pf.feols(
        f"{D.Y} ~ _treated + {' + '.join(covariates)} | {D.UNIT} + {D.TIME}", data=d, vcov={"CRV1": cl}
    )
    if "_treated" not in fit.coef().index:
        from zonespill.errors import EstimationError

        raise EstimationError("the treatment indicator is collinear with the fixed effects and covariates")
    return float(fit.coef()["_treated"]), float(fit.se()["_treated"])


def _estimate_column(
    sample: D.Sample,
    est: str,
    settings: D.EstimatorSettings,
    covariates: Sequence[str],
    *,
    seed: int,
    event_study: bool,
) -> D.Estimate:
    """One declared column on one treatment row (covariates only where the estimator takes them)."""
    if not covariates:
        return D.estimate(sample, est, settings, seed=seed, event_study=event_study)
    from zonespill.did.callaway import callaway_santanna
    from zonespill.errors import EstimationError, InputError

    base: dict[str, Any] = {
        "design": sample.name,
        "estimator": est,
        "n_obs": len(sample.data),
        "n_units": sample.n_units,
    }
    try:
        if not sample.cohort_sizes():
            raise EstimationError("no treated cohort with a pre-treatment year in the sample")
        missing = sample.data[list(covariates)].isna().any(axis=1)
        if missing.any():
            bad = sorted(set(sample.data.loc[missing, D.UNIT]))
            raise EstimationError(f"covariate(s) missing for unit(s) {bad[:10]}")
        if est == D.TWFE:
            att, se = _twfe_covariates(sample, covariates, settings.alpha)
            return D.Estimate(**base, att=att, se=se)
        res = callaway_santanna(
            sample.data,
            outcome=D.Y,
            unit=D.UNIT,
            time=D.TIME,
            cohort=D.G,
            control_group="notyet" if est == D.CS_NOTYET else "never",
            method=settings.method,  # type: ignore[arg-type]
            covariates=list(covariates),
            base_period=settings.base_period,  # type: ignore[arg-type]
            anticipation=settings.anticipation,
            cluster=sample.cluster,
            n_boot=settings.n_boot,
            seed=seed if settings.n_boot else None,
            alpha=settings.alpha,
        )
        simple = res.aggregate("simple")
        es = D._cs_event_study(res) if event_study else None
        p = res.pretrend.pvalue if res.pretrend is not None else None
        return D.Estimate(**base, att=simple.att, se=simple.se, event_study=es, pretrend_p=p)
    except D._FAIL as exc:
        if isinstance(exc, InputError):
            raise
        return D.Estimate(**base, reason=D._short(exc))


def _column_settings(
    options: Mapping[str, Any], column: Mapping[str, Any], inference: str | None
) -> D.EstimatorSettings:
    merged = {**options, **(column.get("options") or {})}
    inf = column.get("inference") or inference
    if inf == "analytic":
        merged["n_boot"] = 0  # 0, not None: None falls back to the schema default
    elif inf == "bootstrap" and not merged.get("n_boot"):
        merged["n_boot"] = 999
    return _settings(merged)


def staggered_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    figure_dir: Path,
    formats: tuple[str, ...],
    master_seed: int,
    table: Mapping[str, Any],
    labels: Any = None,
) -> list[Path]:
    """A declared staggered-DiD table: rows = treatments, columns = specifications (estimator,
    outcome, covariates, cluster, sample, options); with ``event_study`` one CS event-study figure
    ``<figure_prefix>_<treatment>`` per row."""
    from zonespill import figures
    from zonespill.errors import ConfigError
    from zonespill.provenance import derive_seed
    from zonespill.steps import _labels, variable_label
    from zonespill.study import status
    from zonespill.study.sample import apply_sample, require_columns
    from zonespill.tables import write_table

    lab = _labels(labels)
    tid = str(table["id"])
    key = f"study.tables.{tid}"
    ry, phash = _read_inputs(region_year, provenance)
    paths: list[Path] = []
    figures.use_agg()
    results: list[D.Estimate] = []
    sample_notes: list[str] = []
    pre_notes: list[str] = []
    terms: list[str] = []
    models: list[str] = []
    stats_rows: dict[str, dict[str, str]] = {}
    treated: dict[str, int] = {}
    clusters: set[int] = set()
    filters: list[str] = []
    drawn: set[str] = set()
    outcomes: list[str] = []
    used: set[str] = set()
    for j, column in enumerate(table["columns"]):
        ckey = f"{key}.columns.{j}"
        settings = _column_settings(options, column, table.get("inference"))
        name = str(column.get("estimator") or "cs")
        est = (
            (D.CS_NOTYET if settings.control_group == "notyet" else D.CS_NEVER)
            if name == "cs"
            else COLUMN_ESTIMATORS.get(name)
        )
        if est is None:
            raise ConfigError(
                f"{name!r} is not a DiD estimator ({['cs', *COLUMN_ESTIMATORS]})",
                source="config",
                column=f"{ckey}.estimator",
            )
        covariates = list(column.get("covariates", table.get("covariates")) or [])
        if covariates and est not in _COVARIATE_ESTIMATORS:
            raise ConfigError(
                f"estimator {name!r} takes no covariates (use cs, cs_notyet, cs_never or twfe)",
                source="config",
                column=f"{ckey}.covariates",
            )
        outcome = str(column.get("outcome") or table["outcome"])
        outcomes.append(outcome)
        cluster = column.get("cluster", table.get("cluster", "unit"))
        extra_cols = [*covariates, *([cluster] if cluster not in (None, "unit") else [])]
        require_columns(ry, [outcome, *extra_cols], key=ckey)
        data, fnotes = apply_sample(ry, column.get("sample", table.get("sample")), key=f"{ckey}.sample")
        filters += [f for f in fnotes if f not in filters]
        label = str(column.get("name") or D.ESTIMATOR_LABELS[est])
        if label in models:
            label = f"({j + 1}) {label}"
        models.append(label)
        first_cs = est in (D.CS_NOTYET, D.CS_NEVER) and not any(
            str(c.get("estimator") or "cs").startswith("cs") for c in table["columns"][:j]
        )
        for tie in table["treatments"]:
            tkey = f"{key}.treatments"
            if tie in D.REGION_TIES:
                d_tie, tname = data, tie
            else:
                d_tie, tname = data.assign(**{"first__user": _user_cohort(data, tie, tkey)}), "_user"
            sample = D.region_sample(
                d_tie,
                tie=tname,
                outcome=outcome,
                anticipation=settings.anticipation,
                name=D.TIE_LABELS.get(tie, tie),
            )
            sample = _with_columns(
                sample, d_tie, extra_cols, None if cluster in (None, "unit") else str(cluster)
            )
            used.update(sample.data[D.UNIT].astype(str))
            if sample.name not in terms:
                terms.append(sample.name)
                sample_notes.append(sample.describe())
                treated[sample.name] = sum(sample.cohort_sizes().values())
            clusters.add(
                sample.n_units if cluster in (None, "unit") else int(sample.data[str(cluster)].nunique())
            )
            seed = derive_seed(int(master_seed), "did", tid, tie)
            draw = bool(table.get("event_study")) and first_cs
            r = _estimate_column(sample, est, settings, covariates, seed=seed, event_study=draw)
            results.append(dataclasses_replace_estimator(r, label))
            if est in (D.CS_NOTYET, D.CS_NEVER) and first_cs and r.ok:
                pre_notes.append(f"{sample.name} {_p_text(r.pretrend_p)}")
            if draw:
                fig_id = f"{table.get('figure_prefix', 'FD1')}_{tie}"
                stem = Path(figure_dir) / fig_id
                what = variable_label(lab, outcome)
                title = f"Event study (CS): {what}, {sample.name}"
                if r.ok and r.event_study is not None and len(r.event_study):
                    paths += figures.plot_event_study(
                        r.event_study, title=title, path_stem=stem, ylabel=f"ATT on {what}"
                    )
                else:
                    paths += _not_estimable_figure(title, r.reason or "no event-time effects", stem)
                drawn.add(fig_id)
            log.info("%s %s %s: att=%s se=%s %s", tid, tie, est, r.att, r.se, r.reason or "")
        cs_like = est in (D.CS_NOTYET, D.CS_NEVER)
        controls = {
            D.CS_NOTYET: "not yet treated",
            D.CS_NEVER: "never treated",
            D.BJS: "untreated obs.",
            D.SA: "never treated",
            D.TWFE: "all (static)",
        }[est]
        se = (
            ("bootstrap" if settings.n_boot else "analytic IF")
            if cs_like
            else {D.BJS: "BJS conservative"}.get(est, "CRV1")
        )
        stats_rows[label] = {"Controls": controls, "SE": se}
        if covariates:
            stats_rows[label]["Covariates"] = ", ".join(covariates)
        if cluster not in (None, "unit"):
            stats_rows[label]["Cluster"] = str(cluster)
    outcome_text = ", ".join(dict.fromkeys(variable_label(lab, o) for o in outcomes))
    first_settings = _column_settings(options, table["columns"][0], table.get("inference"))
    cluster_text = {None: "no clustering", "unit": f"SEs clustered by {lab.singular}"}.get(
        table.get("cluster", "unit"), f"SEs clustered by {table.get('cluster')}"
    )
    notes = [
        f"Outcome: {outcome_text}. Rows: treatment = first year the {lab.singular} holds a tie of that type "
        f"({lab.singular}-level ties from the pairings; 'any tie' includes ties of unknown direction) "
        "or the first year of a declared treatment column.",
        *_common_notes(
            ry[ry["region_id"].astype(str).isin(used)] if used else ry,
            first_settings,
            covariates=any(c.get("covariates", table.get("covariates")) for c in table["columns"]),
            units=cluster_text,
            labels=lab,
            n_clusters=(min(clusters), max(clusters)) if clusters else 0,
            treated=treated,
        ),
        *([f"Sample: {'; '.join(filters)}."] if filters else []),
        *sample_notes,
        "CS pre-trend Wald test p-values (H0: all pre-treatment ATT(g,t) = 0): " + "; ".join(pre_notes) + "."
        if pre_notes
        else "CS pre-trend test: not available.",
        *[lab.text(n) for n in table.get("notes") or ()],
    ]
    missing_figs = [f for f in table.get("figures") or () if f not in drawn]
    for fig in missing_figs:  # a declared figure this table could not draw: say so in the figure itself
        paths += _not_estimable_figure(fig, "no CS event study for this treatment", Path(figure_dir) / fig)
    tbl = _regression_table(
        results,
        table_id=tid,
        title=lab.text(str(table.get("title") or "")) or f"Staggered DiD: {outcome_text}",
        notes=notes,
        model_order=models,
        term_order=terms,
        stats=_stats_labelled(stats_rows),
        labelled=True,
    )
    if all(not r.ok for r in results):
        status.skip(
            "no estimator could be estimated on any treatment: "
            + "; ".join(sorted({r.reason or "" for r in results}))
        )
    paths += write_table(tbl, outdir, provenance_hash=phash, formats=formats)
    return paths


def dataclasses_replace_estimator(r: D.Estimate, label: str) -> D.Estimate:
    """The estimate with its column label as estimator (so two columns of one estimator stay apart)."""
    import dataclasses

    return dataclasses.replace(r, estimator=label)


def _stats_labelled(rows: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    out = [{"model": m, "stat": s, "value": v} for m, d in rows.items() for s, v in d.items()]
    return pd.DataFrame(out, columns=["model", "stat", "value"])


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
    """D1 (log GDP p.c.) and D2 (growth) as the bundled declaration states them (see
    :func:`staggered_step`); FD1_<tie>: CS event studies with pointwise CIs and sup-t bands."""
    from zonespill.study.spec import Labels

    labels = Labels(singular="province", plural="provinces")
    paths: list[Path] = []
    for table_id in OUTCOMES:
        paths += staggered_step(
            options,
            region_year=region_year,
            provenance=provenance,
            outdir=outdir,
            figure_dir=figure_dir,
            formats=formats,
            master_seed=master_seed,
            table=_declared_d1(table_id),
            labels=labels,
        )
    return paths


# --------------------------------------------------------------------------- D3
def pair_distances(regions: Path, provinces: Sequence[str]) -> pd.DataFrame:
    """Great-circle distance between province centroids for all unordered pairs (prov_a < prov_b)."""
    ids = sorted(map(str, provinces))
    dist = _unit_distances(regions, ids)
    ia, ib = np.triu_indices(len(ids), k=1)
    arr = np.array(ids, dtype=object)
    return pd.DataFrame({"prov_a": arr[ia], "prov_b": arr[ib], "distance_km": dist[ia, ib]})


def _unit_distances(regions: Path, ids: Sequence[str]) -> np.ndarray:
    """Great-circle distances between the centroids of ``ids`` (in that order)."""
    from zonespill.geography import centroids, distance_matrix_km
    from zonespill.ingest import read_canonical

    reg = read_canonical(regions, "regions")
    sub = reg[reg["region_id"].astype(str).isin(set(ids))].copy()
    sub["region_id"] = sub["region_id"].astype(str)
    sub = sub.drop_duplicates("region_id").set_index("region_id").reindex(list(ids)).reset_index()
    return np.asarray(distance_matrix_km(centroids(sub)))


def _distance_matrix(regions: Path, ry: pd.DataFrame) -> np.ndarray:
    """Distances between the analysis units in the sorted order of the dyadic panel."""
    ids = sorted(ry.dropna(subset=["log_gdp_pc"])["region_id"].astype(str).unique())
    return _unit_distances(regions, ids)


def pairs_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    pair_year: Path,
    regions: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
    master_seed: int = 0,
) -> list[Path]:
    """D3: pair-level convergence DiD, y = |ln y_a − ln y_b|, by direction and pooled.

    The dyadic panel holds the candidate pairs of :func:`zonespill.did.designs.candidate_pairs`
    (options ``pair_controls``, ``pair_controls_per_tie``, ``pair_max_distance_km``,
    ``pair_max_initial_gap``, ``pair_max_memory_gib``); sampling seeds derive from ``master_seed``.
    """
    from zonespill.provenance import derive_seed
    from zonespill.study.notes import small_sample_note
    from zonespill.tables import write_table

    ry, phash = _read_inputs(region_year, provenance)
    py = read_parquet(pair_year)
    settings = _settings(options)
    max_d = options.get("pair_max_distance_km")
    max_g = options.get("pair_max_initial_gap")
    seed = derive_seed(int(master_seed), "did", "D3", "control-pairs")
    cand = D.candidate_pairs(
        ry,
        py,
        distance_matrix=_distance_matrix(regions, ry) if max_d is not None else None,
        max_distance_km=max_d,
        max_initial_gap=max_g,
        controls=str(_opt(options, "pair_controls")),
        controls_per_tie=int(_opt(options, "pair_controls_per_tie")),
        seed=seed,
        max_memory_gib=float(_opt(options, "pair_max_memory_gib")),
    )
    log.info(
        "D3: %d of %d pairs × %d years (controls: %s), estimated %.2f GiB",
        cand.n_pairs,
        cand.n_all_pairs,
        cand.n_years,
        cand.controls,
        cand.memory_gib,
    )
    panel = D.dyadic_panel(ry, py, candidates=cand)
    results: list[D.Estimate] = []
    sample_notes: list[str] = []
    terms = []
    for direction in D.PAIR_DIRECTIONS:
        # the distance / initial-gap bands were applied when the candidate pairs were chosen
        sample = D.pair_sample(panel, direction=direction, anticipation=settings.anticipation)
        terms.append(sample.name)
        sample_notes.append(sample.describe())
        for est in PAIR_ESTIMATORS:
            r = D.estimate(sample, est, settings, bootstrap=False)
            results.append(r)
            log.info("D3 %s %s: att=%s se=%s %s", direction, est, r.att, r.se, r.reason or "")
    n_pairs = panel["pair"].nunique()
    del panel
    restr = []
    if max_d is not None:
        restr.append(f"centroid distance ≤ {float(max_d):g} km")
    if max_g is not None:
        restr.append(f"initial |log gap| ≤ {float(max_g):g}")
    if cand.controls == "sample":
        restr.append("a seeded random sample (below)")
    notes = [
        "Outcome: |ln GDP p.c. of province a − ln GDP p.c. of province b| for "
        + (f"all {n_pairs}" if n_pairs == cand.n_all_pairs else f"{n_pairs} of the {cand.n_all_pairs}")
        + " unordered province pairs × years; a negative ATT means collaboration narrows the income gap.",
        "Treated pairs: province pairs with a collaboration (from pair_year; within-province ties excluded), "
        "cohort = earliest start year of a tie in the row's direction (pooled: any direction). Controls: "
        "never-collaborating pairs"
        + (f" restricted to {' and '.join(restr)}" if restr else " (unrestricted)")
        + "; CS (not yet treated) also uses later-tied pairs of the same row.",
        *_common_notes(ry, settings, units="SEs two-way clustered by both partner provinces")[:2],
        *[
            w
            for w in [small_sample_note(int(ry["region_id"].nunique()), "clusters per partner dimension")]
            if w
        ],
        "CS: Callaway–Sant'Anna simple aggregation, analytic influence-function SEs with two-way "
        "(Cameron–Gelbach–Miller) clustering on province a and province b; BJS conservative SEs and TWFE "
        "CRV1 with the same two-way clustering. Two-way clustering by partner position is not full "
        "dyadic-robust clustering (pairs sharing a province in different positions are treated as "
        "independent).",
        *cand.notes,
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


# --------------------------------------------------------------------------- tie-coding sensitivity
def _recode_summary(record: pd.DataFrame, collabs: pd.DataFrame) -> str:
    """One line per rule: how many collaborations it changed or dropped, and how (from the record)."""
    if record.empty:
        return "no collaboration changed"
    parts = []
    prog = (
        collabs.set_index(collabs["collab_id"].astype(str))["programme"] if "programme" in collabs else None
    )
    for (rule, column), grp in record.groupby(["rule", "column"], sort=False):
        ids = list(dict.fromkeys(grp["collab_id"].astype(str)))
        what = (
            "dropped"
            if column == "*"
            else f"{column} "
            + ", ".join(f"{o} → {n}" for (o, n), _ in grp.groupby(["old", "new"], sort=True))
        )
        progs = sorted({str(prog.get(i)) for i in ids}) if prog is not None else []
        parts.append(
            f"{rule}: {len(ids)} collaboration(s) {what}"
            + (f" (programme {', '.join(progs)})" if progs else "")
            + f" [{', '.join(ids[:12])}{', …' if len(ids) > 12 else ''}]"
        )
    return "; ".join(parts)


def recode_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    panel: Path,
    regions: Path,
    collaborations: Path,
    weights: Path,
    weights_meta: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
    master_seed: int,
    table: Mapping[str, Any],
    recode: Mapping[str, Any] | None,
    analysis: Mapping[str, Any] | None = None,
    labels: Any = None,
) -> list[Path]:
    """Main DiD estimates under alternative tie codings (a declared ``recode`` table, e.g. D7).

    For the baseline coding and every scenario of ``inputs.collaborations.recode``
    (:mod:`zonespill.recode`): the scenario's collaborations are mapped to the analysis level and
    turned into region-year tie indicators by the same functions as the indicators step
    (:func:`zonespill.steps.map_ties`, :func:`zonespill.indicators.region_year`); then the table's
    columns (default: CS and TWFE) are estimated on every treatment row as in the staggered table
    ``main`` (default D1: same outcome, samples and seeds). Rows: treatment × coding.
    """
    from zonespill import indicators
    from zonespill.errors import ConfigError
    from zonespill.ingest import read_canonical
    from zonespill.provenance import derive_seed
    from zonespill.recode import apply_recode, parse_scenarios
    from zonespill.steps import _labels, map_ties, read_weights, variable_label
    from zonespill.study import status
    from zonespill.tables import write_table

    lab = _labels(labels)
    tid = str(table["id"])
    _ry, phash = _read_inputs(region_year, provenance)
    scenarios = parse_scenarios(recode)
    reg = read_canonical(regions, "regions")
    pan = read_canonical(panel, "panel")
    col = read_canonical(collaborations, "collaborations")
    W = read_weights(weights, weights_meta)
    settings = _settings(options)
    outcome = str(table.get("outcome") or "log_gdp_pc")
    treatments = list(table.get("treatments") or D.REGION_TIES)
    main = str(table.get("main") or "D1")
    names = [str(c.get("estimator") or "cs") for c in table.get("columns") or ()] or ["cs", "twfe"]
    ests = []
    for j, name in enumerate(names):
        est = _cs_label(settings) if name == "cs" else COLUMN_ESTIMATORS.get(name)
        if est is None:
            raise ConfigError(
                f"{name!r} is not a DiD estimator ({['cs', *COLUMN_ESTIMATORS]})",
                source="config",
                column=f"study.tables.{tid}.columns.{j}.estimator",
            )
        ests.append(est)
    codings: list[tuple[str, pd.DataFrame, pd.DataFrame]] = [("baseline", col, pd.DataFrame())]
    for name, rules in scenarios.items():
        recoded, record = apply_recode(col, rules, scenario=name)
        codings.append((name, recoded, record))
    results: list[D.Estimate] = []
    terms: list[str] = []
    sample_notes: list[str] = []
    coding_notes: list[str] = []
    for name, collabs, record in codings:
        ties, ids, years = map_ties(collabs, reg, pan, analysis or {}, source=f"{collaborations} ({name})")
        units = pan[pan["region_id"].astype(str).isin(ids)]
        ry = indicators.region_year(units, ties.active_ties, weights=W, years=years)
        by_dir = ties.active_ties["direction"].value_counts().sort_index()
        coding_notes.append(
            f"{name}: "
            + ("the coding of the input file" if record.empty else _recode_summary(record, col))
            + f"; {len(ties.active_ties)} ties ("
            + ", ".join(f"{k} {int(v)}" for k, v in by_dir.items())
            + ")."
        )
        for tie in treatments:
            if tie not in D.REGION_TIES:
                raise ConfigError(
                    f"treatment {tie!r} is not a tie type ({', '.join(D.REGION_TIES)})",
                    source="config",
                    column=f"study.tables.{tid}.treatments",
                )
            sample = D.region_sample(
                ry,
                tie=tie,
                outcome=outcome,
                anticipation=settings.anticipation,
                name=f"{D.TIE_LABELS.get(tie, tie)} [{name}]",
            )
            terms.append(sample.name)
            sample_notes.append(sample.describe())
            seed = derive_seed(int(master_seed), "did", main, tie)  # the main table's seeds
            for est in ests:
                r = D.estimate(sample, est, settings, seed=seed)
                results.append(r)
                log.info("%s %s %s: att=%s se=%s %s", tid, sample.name, est, r.att, r.se, r.reason or "")
    what = variable_label(lab, outcome)
    notes = [
        f"Outcome: {what}. Each row re-estimates the main staggered DiD ({main}) on the tie indicators "
        "of one tie coding: the scenario's collaborations are mapped to the "
        f"{lab.singular} level and turned into first-tie years exactly as in the indicators step; "
        "'baseline' is the coding of the input file.",
        "Tie codings (inputs.collaborations.recode; every changed collaboration is listed): "
        + " ".join(coding_notes),
        *(
            []
            if scenarios
            else ["No alternative coding is declared (inputs.collaborations.recode): only the baseline rows."]
        ),
        *_common_notes(ry, settings, units=f"SEs clustered by {lab.singular}", labels=lab),
        *sample_notes,
        *[lab.text(n) for n in table.get("notes") or ()],
    ]
    controls = {
        D.CS_NOTYET: "not yet treated",
        D.CS_NEVER: "never treated",
        D.BJS: "untreated obs.",
        D.SA: "never treated",
        D.TWFE: "all (static)",
    }
    stats = _stats({e: {"Controls": controls[e]} for e in ests})
    tbl = _regression_table(
        results,
        table_id=tid,
        title=lab.text(str(table.get("title") or "")) or "Main estimates under alternative tie codings",
        notes=notes,
        model_order=ests,
        term_order=terms,
        stats=stats,
    )
    if all(not r.ok for r in results):
        status.skip("no estimator could be estimated under any tie coding")
    return write_table(tbl, outdir, provenance_hash=phash, formats=formats)
