"""Pipeline steps of the spatial part of the paper (tables S1–S4).

One typed public function per Snakemake rule:

* :func:`sdm_step` — S1 (spatial Durbin growth panel without / with Lee–Yu, SAR for
  reference) and S3 (direct / indirect / total impacts of the SDM columns);
* :func:`lm_step` — S2 (LM and robust LM tests on the non-spatial two-way FE model);
* :func:`comparison_step` — S4 (SAR, SEM, SDM, SDEM, SLX: log-likelihood, AIC, ρ / λ, LR tests).

Each reads ``region_year.parquet``, the spine's weights (``weights.parquet`` + ``weights.json``)
and ``provenance.json``, calls :mod:`zonespill.spatial.designs`, and writes tables through
:func:`zonespill.tables.write_table` (atomic, byte-deterministic). Options come from the optional
``spatial`` config section plus the top-level ``master_seed``; every key has a default
(:data:`DEFAULTS`). A model that cannot be estimated is listed as ``not estimated: <reason>`` in
the notes and its column is left out; if no column at all can be shown, the table says so in
one row — the step never fails on estimation problems.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from zonespill.errors import ConfigError
from zonespill.provenance import read_provenance_hash
from zonespill.spatial import designs
from zonespill.spatial.designs import SOFT_ERRORS, GrowthSample
from zonespill.steps import (
    check_master_seed,
    merge_section,
    price_note,
    read_region_year,
    read_weights,
    vintage_note,
    weights_note,
)
from zonespill.study.schema import section_defaults

log = logging.getLogger("zonespill")

#: Defaults of the ``spatial`` config section.
#: ``first_year`` / ``last_year``: growth years (default: every year with a balanced panel);
#: ``n_sim``: draws for the simulated impact SEs (S3); ``lee_yu``: which SDM columns S1 shows
#: (``false`` = direct demeaning as splm, ``true`` = Lee–Yu 2010 transformation).
DEFAULTS: dict[str, Any] = section_defaults("spatial")  # from the schema (the one source of defaults)

SE_NOTE = (
    "Standard errors from the inverse analytic information matrix (splm's Hess = FALSE convention; "
    "σ² integrated out, no degrees-of-freedom correction); p-values and stars from the normal distribution."
)


def se_note(se_type: str) -> str:
    """The note naming the standard errors of a spatial table (``spatial.se_type``)."""
    if se_type == "ml":
        return SE_NOTE.replace("Standard errors", "Standard errors (spatial.se_type = ml)", 1) + (
            " They assume iid normal errors."
        )
    what = {
        "qml": "QML sandwich (Lee 2004): inverse information × outer product of the martingale-difference "
        "scores × inverse information, robust to non-normal and heteroskedastic errors",
        "cluster": "cluster-robust sandwich by province (score sums by province, G/(G−1) scaling), robust "
        "to any dependence within a province over time",
    }[se_type]
    return (
        f"Standard errors (spatial.se_type = {se_type}): {what}; p-values and stars from the normal "
        "distribution. Impact SEs draw from the same covariance."
    )


def spatial_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``spatial`` section merged over :data:`DEFAULTS`, plus ``master_seed`` (default 0)."""
    out, seed = merge_section(options, DEFAULTS, "spatial")
    n_sim = out["n_sim"]
    if isinstance(n_sim, bool) or not isinstance(n_sim, int) or n_sim < 2:
        raise ConfigError(
            f"spatial.n_sim must be an integer ≥ 2, got {n_sim!r}", source="config", column="spatial.n_sim"
        )
    ly = out["lee_yu"]
    if isinstance(ly, bool):
        ly = [ly]
    if not isinstance(ly, list | tuple) or not ly or not all(isinstance(v, bool) for v in ly):
        raise ConfigError(
            "spatial.lee_yu must be true, false or a non-empty list of them",
            source="config",
            column="spatial.lee_yu",
        )
    out["lee_yu"] = list(dict.fromkeys(ly))
    if out["se_type"] not in ("ml", "qml", "cluster"):
        raise ConfigError(
            f"spatial.se_type must be ml, qml or cluster, got {out['se_type']!r}",
            source="config",
            column="spatial.se_type",
        )
    if out["speed_effect"] not in ("total", "direct"):
        raise ConfigError(
            f"spatial.speed_effect must be 'total' or 'direct', got {out['speed_effect']!r}",
            source="config",
            column="spatial.speed_effect",
        )
    for key in ("first_year", "last_year"):
        v = out[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ConfigError(
                f"spatial.{key} must be a year or null, got {v!r}", source="config", column=f"spatial.{key}"
            )
    out["master_seed"] = check_master_seed(seed)
    return out


def impacts_seed(master_seed: int) -> int:
    """Seed of the impact simulation: ``derive_seed(master_seed, "spatial", "impacts")``."""
    from zonespill.provenance import derive_seed

    return derive_seed(int(master_seed), "spatial", "impacts")


# --------------------------------------------------------------------------- shared helpers
def _load(
    region_year: Path, weights: Path, weights_meta: Path, opts: Mapping[str, Any]
) -> tuple[pd.DataFrame, GrowthSample | None, str | None, Any]:
    """region_year, the balanced sample (or the reason it cannot be built) and the weights."""

    ry = read_region_year(region_year)
    W = read_weights(weights, weights_meta)
    try:
        sample = designs.growth_sample(ry, W, first_year=opts["first_year"], last_year=opts["last_year"])
    except SOFT_ERRORS as exc:
        reason = " ".join(str(getattr(exc, "reason", None) or exc).split())
        log.warning("spatial growth sample not built: %s", reason)
        return ry, None, reason, W
    log.info(
        "spatial growth sample: %d provinces × %d years (%s), regressors %s",
        sample.n,
        sample.T,
        sample.span,
        list(sample.regressors),
    )
    return ry, sample, None, W


def _vintage(ry: pd.DataFrame, sample: GrowthSample | None) -> str:

    if sample is None:
        return vintage_note(ry)
    keys = sample.data[[designs.UNIT, designs.TIME]]
    sub = ry.assign(**{designs.UNIT: ry[designs.UNIT].astype(str)}).merge(
        keys, on=[designs.UNIT, designs.TIME]
    )
    return vintage_note(sub)


def _sample_text(sample: GrowthSample) -> str:
    return (
        f"Dependent variable: annual growth of log GDP per capita, {sample.span} ({sample.n} provinces × "
        f"{sample.T} years, balanced). Regressors: log GDP per capita of the previous calendar year "
        "(spatial β-convergence) and the collaboration indicators by direction (1 if the province has an "
        "active tie in that role in the year). Province and year fixed effects."
    )


def _small_sample(sample: GrowthSample) -> str:
    return (
        f"Small sample: {sample.n} provinces and {sample.T} growth years — ML standard errors and "
        "simulated impacts are asymptotic approximations; with province effects the lagged level "
        f"carries a Nickell-type bias of order 1/T (T = {sample.T}); tie indicators rest on few "
        "switching provinces."
    )


def _not_estimated_table(table_id: str, title: str, reason: str, notes: tuple[str, ...]) -> Any:
    from zonespill.tables import PlainTable

    frame = pd.DataFrame([{"result": "not estimated", "reason": reason}])
    return PlainTable(frame, table_id=table_id, title=title, notes=(f"Not estimated: {reason}", *notes))


S1_TITLE = "Spatial Durbin growth panel: β-convergence and collaboration ties (two-way FE)"
S2_TITLE = "LM tests for spatial lag and error dependence, two-way FE growth model"
S3_TITLE = "Direct, indirect and total impacts of the spatial Durbin growth model"
S4_TITLE = "Spatial growth models compared (two-way FE, ML)"


@dataclass(frozen=True)
class _Setup:
    """What every spatial step reads first (options, panel, sample or why not, weights, notes)."""

    opts: dict[str, Any]
    ry: pd.DataFrame
    sample: GrowthSample | None
    reason: str | None
    W: Any
    key: str
    vintage: str
    wtext: str


def _prepare(
    options: Mapping[str, Any], region_year: Path, weights: Path, weights_meta: Path, provenance: Path
) -> _Setup:
    opts = spatial_options(options)
    ry, sample, reason, W = _load(region_year, weights, weights_meta, opts)
    return _Setup(
        opts,
        ry,
        sample,
        reason,
        W,
        read_provenance_hash(provenance),
        _vintage(ry, sample),
        weights_note(W, weights_meta),
    )


def _skipped(setup: _Setup, tables: Mapping[str, str], outdir: Path, formats: tuple[str, ...]) -> list[Path]:
    """The growth sample could not be built: one 'not estimated' table per id, reason recorded."""
    from zonespill.study import status
    from zonespill.tables import write_table

    assert setup.reason is not None
    status.skip(setup.reason)
    paths: list[Path] = []
    for table_id, title in tables.items():
        table = _not_estimated_table(table_id, title, setup.reason, (setup.vintage, setup.wtext))
        paths += write_table(table, outdir, provenance_hash=setup.key, formats=formats)
    return paths


# --------------------------------------------------------------------------- S1 + S3
def sdm_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    weights: Path,
    weights_meta: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """S1 (SDM without / with Lee–Yu, SAR) and S3 (impacts of the SDM columns)."""
    from zonespill.tables import RegressionTable, write_table

    setup = _prepare(options, region_year, weights, weights_meta, provenance)
    opts, sample, key, vintage, wtext = setup.opts, setup.sample, setup.key, setup.vintage, setup.wtext
    seed = impacts_seed(opts["master_seed"])
    if sample is None:
        return _skipped(setup, {"S1": S1_TITLE, "S3": S3_TITLE}, outdir, formats)

    d1 = designs.sdm_design(
        sample,
        lee_yu=opts["lee_yu"],
        jackknife=bool(opts["jackknife"]),
        dynamic=bool(opts["dynamic"]),
        speed_effect=str(opts["speed_effect"]),
        n_sim=int(opts["n_sim"]),
        seed=seed,
        se_type=str(opts["se_type"]),
    )
    price = price_note(setup.ry)
    dyn = _dynamic_text(d1.fits, opts)
    speed = _speed_text(opts, seed)
    jk = _jackknife_text(setup.ry, d1.fits, opts)
    # S1 and S3 share the sample / data notes in front and the method / caveat notes behind
    head = (_sample_text(sample), price, vintage, wtext)
    tail = (speed, *jk, *dyn, se_note(str(opts["se_type"])), _small_sample(sample), *sample.notes)
    notes1 = (
        *head,
        "SDM: spatial Durbin model (ρ on W × growth; W × rows are spatial lags of the regressors); SAR for "
        "reference (no W × regressors). ML, zonespill.spatial.fit_panel. 'SDM' removes the fixed effects by "
        "direct demeaning (splm convention; N = nT); 'SDM, Lee–Yu' by the Lee–Yu (2010) orthonormal "
        "transformation (effective N = (n−1)(T−1); removes the incidental-parameter bias of direct "
        "demeaning, notably in σ²). Log-likelihoods of Lee–Yu columns are on the transformed sample and not "
        "comparable with the others.",
        "Coefficients are not marginal effects: the direct / indirect / total impacts of the SDM are in "
        "Table S3.",
        *tail,
        *d1.notes,
    )
    paths: list[Path] = []
    if d1.coefs.empty:
        t1: Any = _not_estimated_table("S1", S1_TITLE, "no model could be estimated", notes1)
    else:
        t1 = RegressionTable.from_long(
            d1.coefs,
            d1.stats,
            table_id="S1",
            title=S1_TITLE,
            notes=notes1,
            term_labels=designs.term_labels(),
            term_order=designs.s1_term_order(d1.coefs, sample.regressors),
        )
    paths += write_table(t1, outdir, provenance_hash=key, formats=formats)

    d3 = designs.impacts_design(
        d1.fits, n_sim=int(opts["n_sim"]), seed=seed, speed_effect=str(opts["speed_effect"])
    )
    notes3 = (
        *head,
        "Impacts of the SDM (LeSage and Pace 2009): S_k = (I − ρW)⁻¹(β_k I + θ_k W); direct = mean "
        "diagonal, total = mean row sum, indirect = total − direct (spillovers to and from neighbours), "
        "evaluated at the estimates.",
        f"Standard errors: standard deviation over {int(opts['n_sim'])} draws of (ρ, β, θ) from their "
        "asymptotic normal distribution with the full analytic covariance (draws with ρ outside the "
        f"admissible interval discarded); seed {seed} = derive_seed(master_seed, 'spatial', 'impacts'), the "
        "same draws for every column. Stars from normal p-values of estimate / SE.",
        *tail,
        *(n for n in d1.notes if n.startswith(("SDM, jackknife", "SDM, dynamic"))),
        *d3.notes,
    )
    if d3.coefs.empty:
        t3: Any = _not_estimated_table("S3", S3_TITLE, "no SDM could be estimated", notes3)
    else:
        t3 = RegressionTable.from_long(
            d3.coefs,
            d3.stats,
            table_id="S3",
            title=S3_TITLE,
            notes=notes3,
            term_labels=designs.impact_labels(sample.regressors),
            term_order=designs.impact_term_order(d3.coefs, sample.regressors),
        )
    paths += write_table(t3, outdir, provenance_hash=key, formats=formats)
    return paths


def _speed_text(opts: Mapping[str, Any], seed: int) -> str:
    from zonespill.convergence.designs import speed_note

    return (
        speed_note()
        + f" Here T = 1 (annual growth); every column's speed uses the {opts['speed_effect']} impact of the "
        f"lagged level (spatial.speed_effect), {int(opts['n_sim'])} draws, seed {seed} (as in Table S3)."
    )


def _dynamic_text(fits: Any, opts: Mapping[str, Any]) -> tuple[str, ...]:
    if not opts["dynamic"]:
        return ()
    f = next((f for f in fits if f.dynamic), None)
    if f is None or f.result is None:
        return ()
    periods = f"{f.result.n_periods} periods" if f.result.n_periods else ""
    return (
        "'SDM, dynamic': the same growth SDM written as a dynamic spatial panel of the log level, "
        "ln y_t = ρW ln y_t + γ ln y_{t−1} + δ W ln y_{t−1} + Xβ + WXθ + μ + α_t (γ = 1 + b, δ = θ − ρ), "
        "estimated by QML with the Yu, de Jong and Lee (2008) bias correction (zonespill.spatial.fit_panel, "
        f"dynamic=True, bias_correction=True; {periods}, the first sample year only supplies the lag). Rows "
        "show b = γ − 1 and θ = δ + ρ (SE from the covariance of δ and ρ) to match the other columns; its "
        "speed uses the short-run impact of ln y_{t−1} on ln y_t minus 1. In Table S3 its long-run impacts "
        "((1 − γ)I − (ρ + δ)W)⁻¹(βI + θW) are listed separately (draws with non-stationary dynamics "
        "dropped).",
    )


def _jackknife_text(ry: pd.DataFrame, fits: Any, opts: Mapping[str, Any]) -> tuple[str, ...]:
    from zonespill.convergence.designs import nickell_text

    if not opts["jackknife"]:
        return (
            "No bias-corrected column (spatial.jackknife = false): with province effects the lagged level "
            "carries Nickell bias of order 1/T.",
        )
    plain = [f for f in fits if f.model == "sdm" and not (f.lee_yu or f.jackknife or f.dynamic)]
    base = plain[0] if plain else None
    corr = next((f for f in fits if f.jackknife), None)
    if corr is None or corr.result is None:
        return ()
    b_full = float(base.result.params[designs.LAG]) if base is not None and base.result is not None else None
    return (
        nickell_text(
            ry,
            full="SDM",
            corrected="'SDM, jackknife'",
            b_full=b_full,
            b_corrected=float(corr.result.params[designs.LAG]),
            se_text="SEs: inverse information matrix of the full fit (iid errors assumed); its "
            "log-likelihood and σ² are those of the full fit",
        ),
    )


# --------------------------------------------------------------------------- S2
def lm_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    weights: Path,
    weights_meta: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """S2: LM lag / error and robust variants on the non-spatial two-way FE growth model."""
    from zonespill.tables import PlainTable, write_table

    setup = _prepare(options, region_year, weights, weights_meta, provenance)
    sample, key, vintage, wtext = setup.sample, setup.key, setup.vintage, setup.wtext
    if sample is None:
        return _skipped(setup, {"S2": S2_TITLE}, outdir, formats)
    table: Any
    frame, why = designs.lm_design(sample)
    notes = (
        _sample_text(sample) + " Model tested: the same equation without spatial terms (two-way FE, direct "
        "demeaning, OLS).",
        price_note(setup.ry),
        vintage,
        wtext,
        "LM tests of Anselin et al. (1996) for the fixed-effects panel (Elhorst 2014; Debarsy and Ertur "
        "2010): residual variance e'e/(nT), lag I_T ⊗ W; each statistic χ²(1) under its null. The robust "
        "versions are robust to the presence of the other form of dependence.",
        _small_sample(sample),
        *sample.notes,
    )
    if frame is None:
        assert why is not None
        table = _not_estimated_table("S2", S2_TITLE, why, notes)
    else:
        table = PlainTable(
            frame.set_index("test"),
            table_id="S2",
            title=S2_TITLE,
            notes=notes,
            digits={"statistic": 3, "df": 0, "p-value": 4},
        )
    return write_table(table, outdir, provenance_hash=key, formats=formats)


# --------------------------------------------------------------------------- S4
def comparison_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    weights: Path,
    weights_meta: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """S4: SAR, SEM, SDM, SDEM, SLX (and the non-spatial FE model) by log-likelihood and AIC."""
    from zonespill.tables import PlainTable, write_table

    setup = _prepare(options, region_year, weights, weights_meta, provenance)
    sample, key, vintage, wtext = setup.sample, setup.key, setup.vintage, setup.wtext
    if sample is None:
        return _skipped(setup, {"S4": S4_TITLE}, outdir, formats)
    table: Any
    frame, extra, _ = designs.comparison_design(sample, se_type=str(setup.opts["se_type"]))
    notes = (
        _sample_text(sample),
        price_note(setup.ry),
        vintage,
        wtext,
        "All models: two-way FE removed by direct demeaning (N = nT), ML (zonespill.spatial.fit_panel); "
        "SAR: ρ W × growth; SEM: λ W × error; SDM: SAR + W × regressors; SDEM: SEM + W × regressors; SLX: "
        "W × regressors only. Log-likelihood: full Gaussian (constants and Jacobian), so AIC and BIC "
        "compare the models; parameters include σ² (not the fixed effects).",
        f"se(ρ), se(λ): {designs.SE_TYPES[str(setup.opts['se_type'])]} (spatial.se_type).",
        *extra,
        _small_sample(sample),
        *sample.notes,
    )
    table = PlainTable(
        frame,
        table_id="S4",
        title=S4_TITLE,
        notes=notes,
        digits={k: v for k, v in S4_DIGITS.items() if k in frame.columns},
    )
    return write_table(table, outdir, provenance_hash=key, formats=formats)


S4_DIGITS: dict[str, int] = {
    "log-likelihood": 2,
    "parameters": 0,
    "AIC": 2,
    "BIC": 2,
    "ρ": 3,
    "se(ρ)": 3,
    "λ": 3,
    "se(λ)": 3,
    "LR vs SDM": 2,
    "df": 0,
    "p-value": 4,
}
