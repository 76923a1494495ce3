"""Pipeline steps of the DiD part of the paper: tables D1-D5 and figures FD1 (one function per rule).

Each step reads the spine's Parquet/JSON outputs, runs the designs of :mod:`zonespill.did.designs`
and writes only through :func:`zonespill.tables.write_table` and :mod:`zonespill.figures`.
Options come from the optional ``did`` config section (defaults in :data:`DEFAULTS`).
"""

from __future__ import annotations

import logging
import re
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
        if settings.n_boot and settings.small_sample == "analytic"
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
        "fixed effects β (CRV1). Treatment is absorbing from the first treatment year"
        + (
            f"; anticipation δ = {settings.anticipation}: every estimator (CS, BJS, SA, TWFE) dates "
            f"treatment from G − {settings.anticipation}."
            if settings.anticipation
            else "."
        ),
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
    term_labels: Mapping[str, str] | None = None,
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
        term_labels=term_labels,
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
#: the comparison units of each estimator (the "Controls" row of the DiD tables)
CONTROL_GROUPS: dict[str, str] = {
    D.CS_NOTYET: "not yet treated",
    D.CS_NEVER: "never treated",
    D.BJS: "untreated obs.",
    D.SA: "never treated",
    D.TWFE: "all (static)",
}


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

    base = D.estimate_base(sample, est)
    try:
        if not sample.cohort_sizes():
            raise EstimationError("no treated cohort with a pre-treatment year in the sample")
        missing = sample.data[list(covariates)].isna().any(axis=1)
        if missing.any():
            bad = sorted(set(sample.data.loc[missing, D.UNIT]))
            raise EstimationError(f"covariate(s) missing for unit(s) {bad[:10]}")
        if est == D.TWFE:
            att, se = _twfe_covariates(sample, covariates, settings.alpha)
            n_tr = sum(sample.cohort_sizes().values())
            from scipy import stats as _st

            p = float(2 * _st.norm.sf(abs(att / se))) if se > 0 else float("nan")
            return D.Estimate(**base, att=att, se=se, pvalue=p, inference="analytic",
                              inference_label="CRV1 (normal; no wild bootstrap with covariates)",
                              inference_possible=n_tr >= 2, n_treated=n_tr, n_control=sample.n_never())
        small = settings.small_sample
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
            inference=small,  # type: ignore[arg-type]
            boot_weights=settings.boot_weights,  # type: ignore[arg-type]
            min_units_per_side=settings.min_units_per_side,
            include_thin_cells=settings.include_thin_cells,
        )
        return D.cs_estimate(res, base, event_study=event_study)
    except D._FAIL as exc:
        if isinstance(exc, InputError):
            raise
        return D.Estimate(**base, reason=D._short(exc))


def _column_settings(
    options: Mapping[str, Any], column: Mapping[str, Any], inference: str | None
) -> D.EstimatorSettings:
    merged = {**options, **(column.get("options") or {})}
    for k in ("n_boot", "boot_weights"):  # column keys over the table's options
        if column.get(k) is not None:
            merged[k] = column[k]
    inf = column.get("inference") or inference or merged.get("inference")
    if inf == "analytic":
        merged["n_boot"] = 0  # 0, not None: None falls back to the schema default
    elif inf == "bootstrap" and not merged.get("n_boot"):
        merged["n_boot"] = 999
    if inf in ("analytic", "bootstrap", "wild", "ri"):
        merged["inference"] = inf
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
    pair_year: Path | None = None,
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
    ry, base_notes = with_baseline_columns(ry, table)
    py = read_parquet(pair_year) if pair_year is not None and Path(pair_year).exists() else None
    paths: list[Path] = []
    figures.use_agg()
    results: list[D.Estimate] = []
    sample_notes: list[str] = []
    terms: list[str] = []
    models: list[str] = []
    stats_rows: dict[str, dict[str, str]] = {}
    treated: dict[str, int] = {}
    never: dict[str, int] = {}
    programmes: dict[str, pd.DataFrame] = {}
    row_info: dict[str, dict[str, D.Estimate]] = {}
    fig_notes: list[str] = []
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
                never[sample.name] = sample.n_never()
                if tie in D.REGION_TIES and py is not None:
                    programmes[sample.name] = cohort_programmes(sample, py, tie)
            clusters.add(
                sample.n_units if cluster in (None, "unit") else int(sample.data[str(cluster)].nunique())
            )
            # one seed per table × column × row (column j: reordering rows keeps each column's draws)
            seed = derive_seed(int(master_seed), "did", tid, f"column{j}", tie)
            draw = bool(table.get("event_study")) and first_cs
            if est == D.CS_NEVER and sample.n_never() < settings.min_units_per_side:
                r = D.Estimate(
                    **D.estimate_base(sample, est),
                    reason=f"only {lab.count(sample.n_never())} never treated"
                    f" (fewer than min_units_per_side = {settings.min_units_per_side}): no never-treated "
                    "comparison",
                )
            else:
                r = _estimate_column(sample, est, settings, covariates, seed=seed, event_study=False)
            results.append(dataclasses_replace_estimator(r, label))
            row_info.setdefault(sample.name, {})[label] = r
            if draw:
                fig_id = f"{table.get('figure_prefix', 'FD1')}_{tie}"
                paths += _event_study_figure(
                    sample, est, settings, options, covariates, seed=seed,
                    stem=Path(figure_dir) / fig_id,
                    title=f"Event study (CS): {variable_label(lab, outcome)}, {sample.name}",
                    ylabel=f"ATT on {variable_label(lab, outcome)}",
                    fig_notes=fig_notes,
                )
                drawn.add(fig_id)
            log.info("%s %s %s: att=%s se=%s %s", tid, tie, est, r.att, r.se, r.reason or "")
        cs_like = est in (D.CS_NOTYET, D.CS_NEVER)
        controls = CONTROL_GROUPS[est]
        se = (
            ("bootstrap" if settings.n_boot and settings.small_sample == "analytic" else "analytic IF")
            if cs_like
            else {D.BJS: "BJS conservative"}.get(est, "CRV1")
        )
        stats_rows[label] = {"Controls": controls, "SE": se, "p-values": _method_short(settings, est,
                                                                                       covariates)}
        if covariates:
            stats_rows[label]["Covariates"] = ", ".join(covariates)
        if cluster not in (None, "unit"):
            stats_rows[label]["Cluster"] = str(cluster)
    outcome_text = ", ".join(dict.fromkeys(variable_label(lab, o) for o in outcomes))
    first_settings = _column_settings(options, table["columns"][0], table.get("inference"))
    term_labels = {
        name: f"{name} [{treated.get(name, 0)} tr. / {never.get(name, 0)} never]" for name in terms
    }
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
        *base_notes,
        f"Row labels: [treated {lab.plural} in the estimation sample / never-treated {lab.plural}] "
        "(cohorts below).",
        *sample_notes,
        *_programme_notes(programmes, terms),
        *_inference_notes(row_info, models, lab=lab, alpha=first_settings.alpha),
        *_pretrend_notes(row_info, models, anticipation=first_settings.anticipation),
        *_diagnostic_notes(row_info),
        *fig_notes,
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
        term_labels=term_labels,
    )
    if all(not r.ok for r in results):
        status.skip(
            "no estimator could be estimated on any treatment: "
            + "; ".join(sorted({r.reason or "" for r in results}))
        )
    paths += write_table(tbl, outdir, provenance_hash=phash, formats=formats)
    return paths


_METHOD_SHORT = {"wild": "WCR bootstrap-t", "ri": "randomisation", "analytic": "normal"}


def _method_short(settings: D.EstimatorSettings, est: str, covariates: Sequence[str]) -> str:
    """Stats-row name of the method behind a column's p-values and stars."""
    kind = settings.small_sample
    if est == D.TWFE and covariates:
        return "normal (CRV1)"
    if kind == "wild" and est in (D.CS_NOTYET, D.CS_NEVER):
        return "multiplier bootstrap-t"
    return _METHOD_SHORT[kind]


def _strip_clusters(label: str) -> str:
    import re

    return re.sub(r"; \d+ clusters\)", ")", label)


def _inference_notes(
    rows: Mapping[str, Mapping[str, D.Estimate]], models: Sequence[str], *, lab: Any, alpha: float
) -> list[str]:
    """Which method gives each column's p-values, clusters and treated units per row, and every
    estimate printed without a star with the reason."""
    methods: dict[str, set[str]] = {}
    for per in rows.values():
        for m, r in per.items():
            if r.ok and r.inference_label and np.isfinite(r.pvalue) and r.inference_possible:
                methods.setdefault(m, set()).add(_strip_clusters(r.inference_label))
    out = []
    if methods:
        out.append(
            "Stars only from the p-value of each column's inference method: "
            + "; ".join(f"{m}: {' / '.join(sorted(v))}" for m, v in methods.items())
            + ". No star where inference is not possible (fewer than 2 treated clusters, or the "
            f"smallest attainable p-value ≥ {alpha:g}) or the estimate rests only on thin cells."
        )
    support = []
    for name, per in rows.items():
        ok = [r for r in per.values() if r.ok]
        if not ok:
            continue
        ncl = {r.n_clusters or r.n_units for r in ok}
        ntr = {r.n_treated for r in ok if r.n_treated is not None}
        support.append(
            f"{name} {'/'.join(str(x) for x in sorted(ncl))} clusters, "
            f"{'/'.join(str(x) for x in sorted(ntr))} treated"
        )
    if support:
        out.append(f"Clusters and treated {lab.plural} used per row (by column where they differ): "
                   + "; ".join(support) + ".")
    nostar = [
        f"{name}, {m}: {r.no_star_reason()}"
        for name, per in rows.items()
        for m, r in per.items()
        if r.no_star_reason()
    ]
    if nostar:
        out.append("No star: " + "; ".join(nostar) + ".")
    # the bootstrap-t studentises with the regression's own CRV1 SE; the printed SE can be another
    # (BJS conservative, CS influence function): say so where the two disagree about significance
    from scipy import stats as _st

    clash = [
        f"{name}, {m}: p = {r.pvalue:.3f} vs |estimate/SE| = {abs(r.att / r.se):.2f}"
        for name, per in rows.items()
        for m, r in per.items()
        if r.starred and r.se > 0 and (r.pvalue < 0.1) != (2 * _st.norm.sf(abs(r.att / r.se)) < 0.1)
    ]
    if clash:
        out.append("The printed SE and the star can disagree: the p-value comes from the column's "
                   "resampling method (a bootstrap-t studentises with its regression's own CRV1 SE; "
                   "randomisation inference uses no SE), not from estimate/SE ("
                   + "; ".join(clash) + ").")
    bjs = {r.inference for per in rows.values() for r in per.values()
           if r.ok and (r.estimator == D.BJS or r.estimator.startswith("BJS"))}
    if "wild" in bjs:
        out.append("BJS wild bootstrap: restricted wild cluster bootstrap-t under the null that every "
                   "treated observation has the same effect τ0 (treated residuals resampled; the BJS "
                   "estimate and its conservative SE recomputed on every draw; CI by test inversion). "
                   "Null rejection at 5 % in simulation: 3–6 % (benchmarks/bjs_wild_null.py).")
    if "ri" in bjs:
        out.append("BJS p-values by randomisation inference: cohort assignments permuted across units "
                   "(cohort sizes kept), sharp null of no effect.")
    n_tests = sum(1 for per in rows.values() for r in per.values() if r.starred)
    if n_tests > 1:
        out.append(f"{n_tests} estimates are tested in this table; p-values are not adjusted for "
                   "multiple testing.")
    return out


def _pretrend_text(pre: Any) -> str:
    if pre is None:
        return "no test (estimator returned none)"
    if not np.isfinite(pre.pvalue):
        return f"not testable ({pre.note})"
    p = "< 0.001" if pre.pvalue < 0.001 else f"{pre.pvalue:.3f}"
    how = pre.method if pre.method == "wald" else f"{pre.method}, rank {pre.rank}"
    return f"p {p} ({how}, {pre.n_leads} leads)"


def _pretrend_notes(
    rows: Mapping[str, Mapping[str, D.Estimate]], models: Sequence[str], *, anticipation: int
) -> list[str]:
    """The joint pre-trend test of every estimator on every row (never a silent n/a)."""
    parts = []
    for name, per in rows.items():
        cells = [f"{m} {_pretrend_text(r.pretrend)}" for m, r in per.items() if r.ok]
        if cells:
            parts.append(f"{name}: " + ", ".join(cells))
    if not parts:
        return []
    excl = f"; anticipation periods e = −{anticipation}…−1 excluded" if anticipation else ""
    return [
        "Pre-trend joint tests (H0: all pre-treatment effects = 0; CS: pre-period ATT(g,t); BJS: "
        "Test 1 leads on untreated observations; SA/TWFE: event-study leads; χ² Wald, by "
        f"pseudo-inverse of the stated rank where the covariance is singular{excl}) — "
        + "; ".join(parts) + "."
    ]


_UNIDENTIFIED = re.compile(
    r"Callaway-Sant'Anna: ATT\(g=(?P<g>[^,]+), t=(?P<t>[^)]+)\) not identified: "
    r"(?P<why>.*?) \(reported as NaN"
)


def _diagnostic_notes(rows: Mapping[str, Mapping[str, D.Estimate]]) -> list[str]:
    """Thin / unidentified cells, trimming and overlap notes of the estimators, once per row."""
    out: list[str] = []
    thin: list[str] = []
    for name, per in rows.items():
        seen: list[str] = []
        cells = [f"{m} {', '.join(r.thin_cells)}" for m, r in per.items() if r.ok and r.thin_cells]
        if cells:
            thin.append(f"{name}: " + "; ".join(cells))
        unident: dict[tuple[str, str], list[str]] = {}
        for r in per.values():
            for n in r.notes:
                # thin cells are summarised above; 'inference not possible' goes to the no-star note
                if n.startswith("inference not possible") or "have fewer than" in n or n in seen:
                    continue
                if "no identified post-treatment" in n:
                    continue
                m = _UNIDENTIFIED.match(n)
                if m:  # one line per cohort and reason, not one per cell
                    unident.setdefault((m["g"], m["why"]), []).append(m["t"])
                    continue
                seen.append(n)
        out += [f"{name} — {n.rstrip('.')}." for n in seen]
        if unident:
            out.append(f"{name} — CS: ATT(g,t) not identified (not aggregated): " + "; ".join(
                f"g={g}, t={', '.join(dict.fromkeys(ts))} ({why})" for (g, why), ts in unident.items()) + ".")
    if thin:
        head = ("Thin (g,t) cells (fewer than the minimum number of units on a side; excluded from "
                "every aggregate and never starred unless include_thin_cells) by cohort — ")
        out.insert(0, head + " | ".join(thin) + ".")
    return out


def with_baseline_columns(ry: pd.DataFrame, table: Mapping[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """Build the ``baseline_<col>`` covariates a table names (``<col>`` in the first analysis year,
    constant within unit) so CS/TWFE can condition on pre-treatment levels."""
    wanted = {
        str(c)
        for spec in [table, *table.get("columns", [])]
        for c in spec.get("covariates") or ()
        if str(c).startswith("baseline_") and str(c) not in ry.columns
    }
    notes = []
    for name in sorted(wanted):
        col = name.removeprefix("baseline_")
        if col not in ry.columns:
            continue  # require_columns names the missing column
        y0 = int(ry.loc[ry[col].notna(), "year"].min())
        first = ry.loc[ry["year"] == y0].set_index(ry.loc[ry["year"] == y0, "region_id"].astype(str))[col]
        ry = ry.assign(**{name: ry["region_id"].astype(str).map(first).to_numpy()})
        notes.append(f"Covariate {name} = {col} in {y0} (baseline, constant within unit).")
    return ry, notes


def cohort_programmes(sample: D.Sample, pair_year: pd.DataFrame, tie: str) -> pd.DataFrame:
    """Programmes behind each cohort of a region-level tie design: per cohort g, the programmes of
    the ties that start in g and give its units their first tie of type ``tie``.

    Columns ``cohort, programme, n_units`` (units of the cohort with a tie of that programme)."""
    idc = "tie_id" if "tie_id" in pair_year else "collab_id"
    src, tgt = ("source_unit", "target_unit") if "source_unit" in pair_year else (
        "source_province", "target_province")
    c = pair_year.drop_duplicates(idc)
    for flag, keep in (("same_unit", 0), ("same_province", 0), ("in_analysis", 1)):
        if flag in c:
            c = c[pd.to_numeric(c[flag], errors="coerce").fillna(keep).astype(int) == keep]
    if "programme" not in c or c.empty:
        return pd.DataFrame(columns=["cohort", "programme", "n_units"])
    direction = c["direction"].astype(str)
    sides: list[pd.DataFrame] = []
    for side in (src, tgt):
        role_ok = {
            "forward_giver": (direction == "forward") & (side == src),
            "forward_receiver": (direction == "forward") & (side == tgt),
            "reverse": direction == "reverse",
            "two_way": direction == "two_way",
            "any": pd.Series(True, index=c.index),
        }.get(tie)
        if role_ok is None:
            continue
        sub = c[np.asarray(role_ok, dtype=bool)]
        sides.append(pd.DataFrame({"unit": sub[side].astype(str), "start": pd.to_numeric(
            sub["start_year"], errors="coerce"), "programme": sub["programme"].astype(str)}))
    if not sides:
        return pd.DataFrame(columns=["cohort", "programme", "n_units"])
    roles = pd.concat(sides, ignore_index=True)
    g = sample.data.drop_duplicates(D.UNIT).set_index(D.UNIT)[D.G]
    g = g[(g > 0) & (g <= sample.last_year)]
    roles = roles[roles["unit"].isin(g.index)]
    roles = roles[roles["start"].to_numpy() == g.reindex(roles["unit"]).to_numpy()]
    roles["cohort"] = g.reindex(roles["unit"]).to_numpy().astype(int)
    out = roles.drop_duplicates(["cohort", "programme", "unit"]).groupby(["cohort", "programme"]).size()
    return out.rename("n_units").reset_index().sort_values(["cohort", "n_units"], ascending=[True, False])


def _programme_notes(programmes: Mapping[str, pd.DataFrame], terms: Sequence[str]) -> list[str]:
    """Programmes behind each cohort; a cohort of ≥ 3 units where one programme accounts for more
    than two thirds of its units is flagged (its effect is that programme's)."""
    parts, flags = [], []
    for name in terms:
        tab = programmes.get(name)
        if tab is None or tab.empty:
            continue
        cohorts = []
        for g, grp in tab.groupby("cohort", sort=True):
            cohorts.append(f"{g}: " + ", ".join(f"{p} ({n})" for p, n in zip(grp["programme"], grp["n_units"],
                                                                             strict=True)))
        parts.append(f"{name} — " + "; ".join(cohorts))
    for name in terms:
        tab = programmes.get(name)
        if tab is None or tab.empty:
            continue
        for g, grp in tab.groupby("cohort", sort=True):
            size = int(grp["n_units"].sum())
            top = grp.iloc[0]
            if size >= 3 and top["n_units"] > 2 * size / 3 and len(grp) >= 1:
                flags.append(f"{name} cohort {g}: {int(top['n_units'])} of its units first tied by "
                             f"programme {top['programme']}")
    out = []
    if parts:
        out.append("Programmes behind each cohort (programme (units whose first tie of the row's type "
                   "starts with it)): " + " | ".join(parts) + ".")
    if flags:
        out.append("Cohort dominated by one programme (its ATT is largely that programme's, confounded "
                   "with whatever else hit its units then): " + "; ".join(flags) + ".")
    return out


def _event_study_figure(
    sample: D.Sample,
    est: str,
    settings: D.EstimatorSettings,
    options: Mapping[str, Any],
    covariates: Sequence[str],
    *,
    seed: int,
    stem: Path,
    title: str,
    ylabel: str,
    fig_notes: list[str],
) -> list[Path]:
    """FD1: the CS event study with the declared event base period (universal by default: every
    e is relative to g − δ − 1), reference line at the omitted period, anticipation shaded and
    treated units per event time."""
    import dataclasses

    from zonespill import figures

    base = str(_opt(options, "event_base_period"))
    es_settings = dataclasses.replace(settings, base_period=base, inference="analytic")
    r = _estimate_column(sample, est, es_settings, covariates, seed=seed, event_study=True)
    if not (r.ok and r.event_study is not None and len(r.event_study)):
        return _not_estimable_figure(title, r.reason or "no event-time effects", stem)
    es = r.event_study
    n_tr = es.set_index("e")["n_treated"] if "n_treated" in es else None
    omitted = [-1 - settings.anticipation] if base == "universal" else None
    fig_notes.append(
        f"Figure {stem.name}: CS event study, {base} base period"
        + (f" (reference e = {-1 - settings.anticipation})" if base == "universal" else "")
        + f", anticipation {settings.anticipation}; pointwise {1 - settings.alpha:.0%} CIs"
        + ("; event times with fewer than 2 treated units marked" if n_tr is not None else "") + "."
    )
    return figures.plot_event_study(
        es, title=title, path_stem=stem, ylabel=ylabel, base_period=base,  # type: ignore[arg-type]
        anticipation=settings.anticipation, omitted=omitted, n_treated=n_tr,
        min_treated=settings.min_units_per_side,
    )


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
    from zonespill.study.spec import Labels
    from zonespill.tables import write_table

    ry, phash = _read_inputs(region_year, provenance)
    W = read_weights(weights, weights_meta)
    settings = _settings(options)
    thr = float(_opt(options, "exposure_threshold"))
    cs = _cs_label(settings)
    bjs_settings = settings  # BJS's wild bootstrap imposes the homogeneous-effect null (see the notes)
    estimators = (
        (D.CS_NEVER, cs, D.BJS, D.SA, D.TWFE) if cs != D.CS_NEVER else (D.CS_NEVER, D.BJS, D.SA, D.TWFE)
    )
    results: list[D.Estimate] = []
    sample_notes: list[str] = []
    row_info: dict[str, dict[str, D.Estimate]] = {}
    terms = []
    for tie in SPILL_TIES:
        direct, spill = D.spillover_samples(
            ry, W, tie=tie, outcome="log_gdp_pc", threshold=thr, anticipation=settings.anticipation
        )
        for sample in (direct, spill):
            terms.append(sample.name)
            sample_notes.append(sample.describe())
            for est in estimators:
                if sample is direct and est == D.CS_NOTYET:
                    continue  # the direct estimand needs the clean never-treated controls
                seed = derive_seed(int(master_seed), "did", "D4", est, sample.name)
                r = D.estimate(sample, est, bjs_settings if est == D.BJS else settings, seed=seed)
                results.append(r)
                row_info.setdefault(sample.name, {})[D.ESTIMATOR_LABELS[est]] = r
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
        *_inference_notes(row_info, list(estimators), lab=Labels("province", "provinces"),
                          alpha=settings.alpha),
        *_pretrend_notes(row_info, list(estimators), anticipation=settings.anticipation),
        *_diagnostic_notes(row_info),
    ]
    stats_rows: dict[str, dict[str, str]] = {
        D.CS_NEVER: {
            "Controls": "never treated / not exposed",
            "SE": "bootstrap" if settings.n_boot and settings.small_sample == "analytic" else "IF",
        },
        D.BJS: {"Controls": "untreated obs.", "SE": "BJS conservative"},
        D.SA: {"Controls": "never treated", "SE": "CRV1"},
        D.TWFE: {"Controls": "all (static)", "SE": "CRV1"},
    }
    for est_key, row in stats_rows.items():
        row["p-values"] = _method_short(bjs_settings if est_key == D.BJS else settings, est_key, ())
    if cs == D.CS_NOTYET:
        stats_rows[D.CS_NOTYET] = {
            "Controls": "not yet exposed (spillover rows)",
            "SE": "bootstrap" if settings.n_boot and settings.small_sample == "analytic" else "IF",
            "p-values": _method_short(settings, D.CS_NOTYET, ()),
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
    stats = _stats({e: {"Controls": CONTROL_GROUPS[e]} for e in ests})
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


# --------------------------------------------------------------------------- D6 (HonestDiD)
class _EventStudy:
    """A CS event study restricted to the event times HonestDiD can use (``.table``, ``.vcov``)."""

    def __init__(self, table: pd.DataFrame, vcov: pd.DataFrame) -> None:
        self.table = table
        self.vcov = vcov


def honest_event_study(agg: Any) -> tuple[_EventStudy, str]:
    """The event study HonestDiD takes: the consecutive pre-periods ending at e = −2 (earlier
    leads separated by a gap — event times without a usable cell — are left out) and every
    post-period; the note says which event times were used."""
    from zonespill.errors import EstimationError

    tab, V = agg.table, agg.vcov
    if tab is None or tab.empty or V is None:
        raise EstimationError("no usable event-time estimate (every (g,t) cell thin or unidentified)")
    tab = tab[np.isfinite(tab["att"].to_numpy(dtype=float))]
    have = set(int(e) for e in tab["e"])
    have_var = {int(e) for e in V.index if V.loc[e, e] > 0}
    k = 2
    while -k in have and -k in have_var:
        k += 1
    pre = list(range(-k + 1, -1))
    post = sorted(e for e in have if e >= 0 and e in have_var)
    if not pre:
        raise EstimationError("no pre-period estimate at e = −2 (HonestDiD needs pre-trends)")
    if not post:
        raise EstimationError("no post-period event-time estimate")
    keep = [*pre, *post]
    dropped = sorted(e for e in have if e < -1 and e not in keep)
    sub = tab[tab["e"].astype(int).isin(keep)].sort_values("e")
    note = f"e = {pre[0]}…{post[-1]}"
    if dropped:
        note += f" (leads {dropped[0]}…{dropped[-1]} left out: not consecutive with e = −2)"
    return _EventStudy(sub.reset_index(drop=True), V.loc[keep, keep]), note


def honest_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
    table: Mapping[str, Any],
    labels: Any = None,
) -> list[Path]:
    """D6: HonestDiD (Rambachan–Roth) sensitivity of the CS event studies of the declared rows:
    robust confidence sets for the average post-period effect under smoothness (Δ^SD(M)) and
    relative-magnitude (Δ^RM(M̄)) restrictions on the post-period violation of parallel trends,
    and the breakdown values. Event studies use the ``event_base_period`` (universal) base."""
    from scipy import stats

    from zonespill.did.callaway import callaway_santanna
    from zonespill.did.honest import honest_breakdown, honest_did
    from zonespill.steps import _labels, variable_label
    from zonespill.study import status
    from zonespill.study.sample import apply_sample, require_columns
    from zonespill.tables import PlainTable, write_table

    lab = _labels(labels)
    tid = str(table["id"])
    key = f"study.tables.{tid}"
    ry, phash = _read_inputs(region_year, provenance)
    settings = _settings(options)
    base = str(_opt(options, "event_base_period"))
    m_sd = [float(x) for x in _opt(options, "honest_m")]
    m_rm = [float(x) for x in _opt(options, "honest_mbar")]
    rm_all = bool(_opt(options, "honest_rm_all"))
    skipped_rm: list[str] = []
    grid_edge = False
    outcome = str(table.get("outcome") or "log_gdp_pc")
    require_columns(ry, [outcome], key=key)
    data, filters = apply_sample(ry, table.get("sample"), key=f"{key}.sample")
    alpha = settings.alpha
    rows: list[dict[str, Any]] = []
    notes_rows: list[str] = []
    for tie in table.get("treatments") or D.REGION_TIES:
        if tie in D.REGION_TIES:
            d_tie, tname = data, tie
        else:
            user = _user_cohort(data, tie, f"{key}.treatments")
            d_tie, tname = data.assign(**{"first__user": user}), "_user"
        sample = D.region_sample(d_tie, tie=tname, outcome=outcome, anticipation=settings.anticipation,
                                 name=D.TIE_LABELS.get(tie, tie))
        row: dict[str, Any] = {"treatment": sample.name, "treated": sum(sample.cohort_sizes().values())}
        try:
            res = callaway_santanna(
                sample.data, outcome=D.Y, unit=D.UNIT, time=D.TIME, cohort=D.G,
                control_group=settings.control_group,  # type: ignore[arg-type]
                method=settings.method,  # type: ignore[arg-type]
                base_period=base,  # type: ignore[arg-type]
                anticipation=settings.anticipation, alpha=alpha,
                min_units_per_side=settings.min_units_per_side,
                include_thin_cells=settings.include_thin_cells,
            )
            es, used = honest_event_study(res.aggregate("dynamic"))
            post = es.table[es.table["e"] >= 0]
            theta = float(post["att"].mean())
            row["θ (avg. post)"] = theta
            row["pre-periods"] = int((es.table["e"] < 0).sum())
            sd = honest_did(es, kind="smoothness", m=m_sd, alpha=alpha)
            cover_m = [float(m) for m, lb, ub in zip(sd["m"], sd["lb"], sd["ub"], strict=True)
                       if lb <= 0 <= ub]
            for m, lb, ub in zip(sd["m"], sd["lb"], sd["ub"], strict=True):
                row[f"SD M={m:g}"] = f"[{lb:.3f}, {ub:.3f}]"
            # bracket the bisection by the first grid M whose set covers 0 (sets are nested in M)
            row["SD breakdown M"] = honest_breakdown(
                es, kind="smoothness", alpha=alpha, m_max=min(cover_m) if cover_m else None, tol=1e-4
            )
            # Δ^RM(0) is exact parallel trends after treatment: where θ's own CI already covers 0 the
            # breakdown M̄ is 0 and larger M̄ only widen it, so the costly sets are skipped unless asked
            z = float(stats.norm.ppf(1 - alpha / 2))
            pe = [int(e) for e in post["e"]]
            se_theta = float(np.sqrt(es.vcov.loc[pe, pe].to_numpy().mean()))
            if rm_all or abs(theta) > z * se_theta:
                rm = honest_did(es, kind="relative_magnitudes", m=m_rm, alpha=alpha)
                covered = []
                for m, lb, ub, edge in zip(rm["m"], rm["lb"], rm["ub"], rm["at_grid_edge"], strict=True):
                    row[f"RM M̄={m:g}"] = rm_interval_text(lb, ub, edge)
                    covered.append(bool(lb <= 0 <= ub))
                    grid_edge |= bool(edge)
                row["RM breakdown M̄"] = _grid_breakdown(m_rm, covered)
            else:
                row["RM breakdown M̄"] = "0"
                skipped_rm.append(f"{sample.name} (θ = {theta:.3f}, SE {se_theta:.3f})")
            notes_rows.append(f"{sample.name}: event times {used}; {len(res.cohort_sizes)} cohort(s).")
        except D._FAIL as exc:
            from zonespill.errors import InputError

            if isinstance(exc, InputError) and not str(getattr(exc, "source", "")).startswith(
                    ("event_study", "target")):
                raise
            row["note"] = f"not computed: {D._short(exc)}"
        rows.append(row)
    frame = pd.DataFrame(rows)
    if "pre-periods" in frame:
        frame["pre-periods"] = frame["pre-periods"].astype("Int64")
    if "note" not in frame:
        frame["note"] = ""
    frame["note"] = frame["note"].fillna("")
    what = variable_label(lab, outcome)
    notes = [
        f"Outcome: {what}; rows: the CS event studies of the staggered design by treatment "
        f"({settings.control_group.replace('notyet', 'not-yet')}-treated controls, {base} base period, "
        f"anticipation {settings.anticipation}; thin (g,t) cells excluded as in D1).",
        "θ = average of the post-period event-time effects. SD M: Δ^SD(M) — the post-treatment "
        "violation of parallel trends may change slope by at most M per period (M = 0: a linear "
        f"extrapolation of the pre-trend); {1 - alpha:.0%} optimal FLCI. RM M̄: Δ^RM(M̄) — post "
        "violations at most M̄ times the largest pre-period one (ARP conditional least-favourable "
        "hybrid). Rambachan & Roth (2023); bounds as R HonestDiD.",
        "Breakdown: the smallest M (M̄) whose robust confidence set contains 0; 0 = θ is not "
        "significant even under exact parallel trends of that kind; for RM it is located on the M̄ "
        f"grid {m_rm} only (each M̄ costs a conditional test).",
        *([f"Sample: {'; '.join(filters)}."] if filters else []),
        *(
            [f"RM sets not computed where θ is not significant at {alpha:g} under parallel trends "
             "(its breakdown M̄ is 0; larger M̄ only widen an interval that already contains 0; "
             "did.honest_rm_all: true computes them): " + "; ".join(skipped_rm) + "."]
            if skipped_rm
            else []
        ),
        *(
            ["≤ / ≥: the RM set reaches the end of the test-inversion grid (±20 SD of θ̂, as R "
             "HonestDiD) — it is at least that wide and may be unbounded."]
            if grid_edge
            else []
        ),
        *notes_rows,
        vintage_note(ry),
        *[lab.text(n) for n in table.get("notes") or ()],
    ]
    if frame["note"].astype(bool).all():
        status.skip("HonestDiD not computable for any row: " + "; ".join(frame["note"]))
    tbl = PlainTable(frame, table_id=tid, title=lab.text(str(table.get("title") or "")) or
                     "HonestDiD sensitivity of the event studies", notes=notes,
                     digits={c: d for c, d in (("θ (avg. post)", 3), ("SD breakdown M", 4)) if c in frame})
    return write_table(tbl, outdir, provenance_hash=phash, formats=formats)


def rm_interval_text(lb: float, ub: float, at_grid_edge: bool) -> str:
    """A Δ^RM set as printed: an end at the inversion grid's edge is marked ≤ / ≥ (the set is at
    least that wide). The grid is symmetric about 0, so the end at its edge is the larger in size."""
    lo = f"≤ {lb:.3f}" if at_grid_edge and -lb >= abs(ub) * (1 - 1e-9) else f"{lb:.3f}"
    hi = f"≥ {ub:.3f}" if at_grid_edge and ub >= abs(lb) * (1 - 1e-9) else f"{ub:.3f}"
    return f"[{lo}, {hi}]"


def _grid_breakdown(grid: Sequence[float], covered: Sequence[bool]) -> str:
    """Breakdown M̄ located on a grid (sets are nested in M̄)."""
    if not grid:
        return ""
    first = next((m for m, c in zip(grid, covered, strict=True) if c), None)
    if first is None:
        return f"> {max(grid):g}"
    below = [m for m in grid if m < first]
    return f"≤ {first:g}" if not below else f"({max(below):g}, {first:g}]"
