r"""Monte Carlo study of the estimators on simulated prefecture panels (SIMULATED DATA).

Each replication draws one panel from :mod:`zonespill.simulation.dgp` (the real prefecture map and
pairings, simulated growth with known truth), applies the DiD estimators and the spatial
panel model, and records for every *estimator × estimand* the estimate, its standard error,
the normal :math:`1-\alpha` confidence interval and the true value. :func:`summarise`
turns the replications into bias, RMSE, coverage and the ratio of the mean standard error
to the Monte Carlo standard deviation of the estimates (table M1).

Data-generating process
-----------------------
The growth model of :mod:`zonespill.simulation.dgp` with the true parameters of
:class:`~zonespill.simulation.dgp.SimParams` (overridable with the ``params`` option):

.. math::

    g_t = (I - \rho W)^{-1}\bigl(\alpha + \delta_t + b\,y_{t-1}
          + \textstyle\sum_K \tau_K D_{K,t} + \gamma s_t + \varepsilon_t\bigr).

The *treatment* studied by the DiD estimators is one tie type (default
``forward_receiver``): its cohort is the first year of that tie.

Estimands
---------
``att_total``
    ATT of the whole programme on the *switchers* of the treatment: the mean, over
    unit-years with :math:`D_{it}=1` of units first treated inside the sample window
    (``start_year < G_i <= last year``; units already treated in the first year have no
    pre-period and are excluded, as Callaway–Sant'Anna does), of
    :math:`g_{it} - g^0_{it}`, where :math:`g^0` is the growth of the *same replication*
    (same shocks) simulated with every :math:`\tau_K = 0` and :math:`\gamma = 0`, i.e. in a
    world without any tie. It therefore includes the spatial multiplier
    :math:`(I-\rho W)^{-1}`, the unit's own other tie types, spillovers from treated
    neighbours and the dynamic feedback through the lagged level (:math:`b\,\Delta y_{t-1}`).
    With :math:`\rho = \gamma = 0`, no other tie types and :math:`b = 0` it equals
    :math:`\tau_{\text{treatment}}`. It varies slightly across replications (the feedback
    depends on the draws); each replication is compared with its own value.
``tau``
    The structural direct effect :math:`\tau_{\text{treatment}}` of the growth equation.
    DiD estimators are biased for it whenever :math:`\rho \ne 0` or spillovers reach the
    controls; the spatial model estimates it directly.
``rho``, ``beta``
    The spatial lag :math:`\rho` and the convergence coefficient :math:`b`, estimated by the
    spatial panel models (two-way fixed effects, regressors: lagged log level, every tie
    indicator with within variation, spillover exposure). With unit fixed effects and a
    short panel the coefficient of the lagged level carries the Nickell-type bias of
    dynamic panels; the study measures it.

Estimators (``did_estimators`` / ``spatial_models`` options)
-------------------------------------------------------------
``twfe`` (static TWFE, unit-clustered SEs), ``cs_notyet`` / ``cs_never``
(Callaway–Sant'Anna, doubly robust without covariates, simple aggregation, analytic SEs or
multiplier bootstrap with ``cs_n_boot`` draws), ``bjs_imputation`` (Borusyak–Jaravel–Spiess,
static ATT), ``sun_abraham``; ``sar`` and ``sdm`` (ML, two-way fixed effects, row-standardised
queen ``W`` after the island rule). An estimator that cannot run in a replication is recorded
with a missing estimate and its error message (column ``error``); :func:`summarise` counts
those as ``n_failed``.

Seeds
-----
The study seed is ``derive_seed(master_seed, "montecarlo")``; replication ``r`` is
``simulate_panel(seed=study_seed, replication=r)``, i.e. draws from
``SeedSequence(study_seed, spawn_key=(r,))``. The Callaway–Sant'Anna bootstrap of replication
``r`` (if any) uses ``derive_seed(master_seed, "montecarlo", "cs-bootstrap", r)``. Nothing
depends on how replications are split into chunks: replication ``r`` goes to chunk
``r mod n_chunks`` and :func:`summarise` sorts the rows before aggregating, so one chunk or
any number of chunks give byte-identical summaries.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.errors import ConfigError, InputError, ZonespillError
from zonespill.provenance import derive_seed
from zonespill.simulation.dgp import (
    TIE_TYPES,
    Geography,
    SimParams,
    prefecture_geography,
    prefecture_pairs,
    simulate_panel,
)
from zonespill.study.schema import section_defaults

__all__ = [
    "CHUNK_COLUMNS",
    "DEFAULTS",
    "DID_ESTIMATORS",
    "SPATIAL_MODELS",
    "SUMMARY_COLUMNS",
    "chunk_replications",
    "m1_table",
    "resolve_options",
    "run_chunk",
    "study_seed",
    "summarise",
    "summary_step",
]

#: Default options (the ``montecarlo`` config section), read from the schema (the one source of defaults).
DEFAULTS: dict[str, Any] = section_defaults("montecarlo")

#: DiD estimators, in table order.
DID_ESTIMATORS: tuple[str, ...] = ("twfe", "cs_notyet", "cs_never", "bjs_imputation", "sun_abraham")
#: Spatial panel models, in table order.
SPATIAL_MODELS: tuple[str, ...] = ("sar", "sdm")
#: Estimands, in table order.
ESTIMANDS: tuple[str, ...] = ("att_total", "tau", "rho", "beta")

#: Columns of a chunk frame (one row per replication × estimator × estimand).
CHUNK_COLUMNS: tuple[str, ...] = (
    "replication",
    "estimator",
    "estimand",
    "estimate",
    "se",
    "ci_lower",
    "ci_upper",
    "truth",
    "error",
    "n_units",
    "n_pairs",
)
#: Columns of the :func:`summarise` frame.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "estimator",
    "estimand",
    "truth",
    "n_reps",
    "n_failed",
    "mean_estimate",
    "bias",
    "rmse",
    "sd_estimate",
    "mean_se",
    "se_ratio",
    "coverage",
)


# ----------------------------------------------------------------------------- options
def resolve_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``options`` over :data:`DEFAULTS` and check them.

    Parameters
    ----------
    options
        The ``montecarlo`` config section, plus ``master_seed`` (top-level config key; 0
        when absent).

    Returns
    -------
    dict
        Every key of :data:`DEFAULTS` plus ``master_seed``; ``params`` is a
        :class:`~zonespill.simulation.dgp.SimParams`.

    Raises
    ------
    ConfigError
        Unknown key, or a value of the wrong type or out of range (names the key).
    """
    src = "config: montecarlo"
    unknown = sorted(set(options) - set(DEFAULTS) - {"master_seed"})
    if unknown:
        raise ConfigError(f"unknown montecarlo option(s) {unknown}", source=src, column=unknown[0])
    out: dict[str, Any] = {**DEFAULTS, **{k: v for k, v in options.items() if k != "master_seed"}}
    seed = options.get("master_seed", 0)
    for key, value, low in (
        ("master_seed", seed, 0),
        ("replications", out["replications"], 1),
        ("chunks", out["chunks"], 1),
        ("n_periods", out["n_periods"], 3),
        ("start_year", out["start_year"], 1),
        ("cs_n_boot", out["cs_n_boot"], 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < low:
            raise ConfigError(f"must be an integer >= {low}, got {value!r}", source=src, column=key)
    out["master_seed"] = int(seed)
    if not isinstance(out["alpha"], int | float) or not 0 < float(out["alpha"]) < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {out['alpha']!r}", source=src, column="alpha")
    out["alpha"] = float(out["alpha"])
    if out["treatment"] not in TIE_TYPES:
        raise ConfigError(f"treatment must be one of {TIE_TYPES}", source=src, column="treatment")
    for key, allowed in (("did_estimators", DID_ESTIMATORS), ("spatial_models", SPATIAL_MODELS)):
        chosen = out[key]
        if isinstance(chosen, str) or not isinstance(chosen, Sequence):
            raise ConfigError("must be a list", source=src, column=key)
        bad = [c for c in chosen if c not in allowed]
        if bad:
            raise ConfigError(f"unknown {bad}; choose from {list(allowed)}", source=src, column=key)
        # table order, no duplicates
        out[key] = [a for a in allowed if a in set(chosen)]
    if not out["did_estimators"] and not out["spatial_models"]:
        raise ConfigError("no estimator selected", source=src, column="did_estimators")
    for key in ("census_columns", "pairings_columns", "params"):
        if not isinstance(out[key], Mapping):
            raise ConfigError("must be a mapping", source=src, column=key)
    known = {f.name for f in fields(SimParams)}
    bad_params = sorted(set(out["params"]) - known)
    if bad_params:
        raise ConfigError(f"unknown true parameter(s) {bad_params}", source=src, column="params")
    try:
        out["params"] = SimParams(**{k: float(v) for k, v in out["params"].items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid true parameters: {exc}", source=src, column="params") from None
    return out


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS/OpenMP to one thread (``threadpoolctl``, when installed).

    Dense eigenvalues and solves of a few hundred units are fastest single-threaded (an
    oversubscribed two-core machine is ~50x slower with two BLAS threads), and one thread
    makes every floating-point reduction independent of the machine's core count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with the pinned stack
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def study_seed(master_seed: int) -> int:
    """Seed of the Monte Carlo study: ``derive_seed(master_seed, "montecarlo")``."""
    return derive_seed(master_seed, "montecarlo")


def chunk_replications(replications: int, chunk: int, n_chunks: int) -> list[int]:
    """Replication numbers of ``chunk``: ``r`` with ``r mod n_chunks == chunk``.

    Raises
    ------
    InputError
        If ``chunk`` is not in ``0 .. n_chunks - 1``.
    """
    if n_chunks < 1 or not 0 <= chunk < n_chunks:
        raise InputError(f"chunk {chunk} not in 0..{n_chunks - 1}", source="chunk")
    return list(range(chunk, replications, n_chunks))


# ----------------------------------------------------------------------------- inputs
def _load_design(
    opts: Mapping[str, Any], census_csv: Path, pairings_csv: Path
) -> tuple[Geography, pd.DataFrame]:
    geo = prefecture_geography(census_csv, island_rule=opts["island_rule"], columns=opts["census_columns"])
    pairs, _skipped = prefecture_pairs(
        pairings_csv, geo.regions, province_rule=opts["province_rule"], columns=opts["pairings_columns"]
    )
    return geo, pairs


# ----------------------------------------------------------------------------- estimators
def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _did_fit(
    name: str, panel: pd.DataFrame, cohort: str, opts: Mapping[str, Any], r: int
) -> tuple[float, float]:
    from zonespill import did

    common: dict[str, Any] = {"outcome": "growth", "unit": "region_id", "time": "year", "cohort": cohort}
    if name == "twfe":
        res: Any = did.twfe(panel, **common)
    elif name in ("cs_notyet", "cs_never"):
        n_boot = int(opts["cs_n_boot"]) or None
        seed = derive_seed(opts["master_seed"], "montecarlo", "cs-bootstrap", r) if n_boot else None
        res = did.callaway_santanna(
            panel,
            **common,
            control_group="notyet" if name == "cs_notyet" else "never",
            n_boot=n_boot,
            seed=seed,
        )
    elif name == "bjs_imputation":
        res = did.imputation(panel, **common, horizons=False)
    else:
        res = did.sun_abraham(panel, **common)
    return float(res.att), float(res.se)


def _within_varying(panel: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    """Columns that keep variation after two-way demeaning and are not collinear (greedy, in order)."""
    kept: list[str] = []
    basis = np.empty((len(panel), 0))
    unit = panel["region_id"].to_numpy()
    year = panel["year"].to_numpy()
    for col in cols:
        x = panel[col].to_numpy(dtype=float)
        s = pd.Series(x)
        dm = (
            x
            - s.groupby(unit).transform("mean").to_numpy()
            - s.groupby(year).transform("mean").to_numpy()
            + x.mean()
        )
        if basis.shape[1]:
            coef, *_ = np.linalg.lstsq(basis, dm, rcond=None)
            dm = dm - basis @ coef
        if np.sqrt(np.mean(dm**2)) > 1e-8:
            kept.append(col)
            basis = np.column_stack([basis, dm])
    return kept


def _spatial_fit(
    model: str, panel: pd.DataFrame, geo: Geography, treatment: str
) -> dict[str, tuple[float, float]]:
    from zonespill.spatial import fit_panel

    candidates = ["log_y_lag", *[f"d_{k}" for k in TIE_TYPES], "spill"]
    x = _within_varying(panel, candidates)
    if "log_y_lag" not in x:
        raise ZonespillError("lagged log level has no within variation")
    W = geo.weights.row_standardise()
    res = fit_panel(
        panel, W, y="growth", x=x, unit="region_id", time="year", model=cast(Any, model), effects="twoways"
    )
    out = {
        "rho": (float(res.params["rho"]), float(res.bse["rho"])),
        "beta": (float(res.params["log_y_lag"]), float(res.bse["log_y_lag"])),
    }
    d = f"d_{treatment}"
    if d in x:
        out["tau"] = (float(res.params[d]), float(res.bse[d]))
    return out


def _guarded(fn: Callable[[], Any]) -> tuple[Any, str]:
    """``(fn(), "")``, or ``(None, reason)`` when the estimator cannot run on this draw."""
    try:
        return fn(), ""
    except (ZonespillError, np.linalg.LinAlgError, ValueError, ArithmeticError) as exc:
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def _row(
    r: int, estimator: str, estimand: str, est: float, se: float, truth: float, z: float, error: str = ""
) -> dict[str, Any]:
    return {
        "replication": r,
        "estimator": estimator,
        "estimand": estimand,
        "estimate": est,
        "se": se,
        "ci_lower": est - z * se,
        "ci_upper": est + z * se,
        "truth": truth,
        "error": error,
    }


def _empty_chunk() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in CHUNK_COLUMNS})
    return frame.astype(_CHUNK_DTYPES)


_CHUNK_DTYPES = {
    "replication": "int64",
    "estimator": "string",
    "estimand": "string",
    "error": "string",
    "n_units": "int64",
    "n_pairs": "int64",
}


def _replication_rows(
    r: int, geo: Geography, pairs: pd.DataFrame, opts: Mapping[str, Any], seed: int
) -> list[dict[str, Any]]:
    params: SimParams = opts["params"]
    treatment: str = opts["treatment"]
    sim = {
        "n_periods": int(opts["n_periods"]),
        "start_year": int(opts["start_year"]),
        "seed": seed,
        "replication": r,
    }
    actual = simulate_panel(geo, pairs, params=params, **sim).panel
    no_ties = replace(params, spillover=0.0, **{f"tau_{k}": 0.0 for k in TIE_TYPES})
    counterfactual = simulate_panel(geo, pairs, params=no_ties, **sim).panel
    first, last = int(opts["start_year"]), int(opts["start_year"]) + int(opts["n_periods"]) - 1
    cohort = f"cohort_{treatment}"
    g = actual[cohort].to_numpy()
    switchers = (g > first) & (g <= last) & (actual[f"d_{treatment}"].to_numpy() == 1)
    effect = actual["growth"].to_numpy() - counterfactual["growth"].to_numpy()
    truths = {
        "att_total": float(effect[switchers].mean()) if switchers.any() else math.nan,
        "tau": float(params.tau()[treatment]),
        "rho": float(params.rho),
        "beta": float(params.beta),
    }
    z = _z(opts["alpha"])
    rows: list[dict[str, Any]] = []

    for name in opts["did_estimators"]:
        fit, err = _guarded(functools.partial(_did_fit, name, actual, cohort, opts, r))
        est, se = fit if fit is not None else (math.nan, math.nan)
        for estimand in ("att_total", "tau"):
            rows.append(_row(r, name, estimand, est, se, truths[estimand], z, err))
    for model in opts["spatial_models"]:
        fits, err = _guarded(functools.partial(_spatial_fit, model, actual, geo, treatment))
        for estimand in ("tau", "rho", "beta"):
            if fits is not None and estimand in fits:
                est, se = fits[estimand]
                why = ""
            else:
                est, se = math.nan, math.nan
                why = err or f"d_{treatment} has no within variation"
            rows.append(_row(r, model, estimand, est, se, truths[estimand], z, why))
    return rows


# ----------------------------------------------------------------------------- public API
def run_chunk(
    options: Mapping[str, Any],
    *,
    census_csv: str | Path,
    pairings_csv: str | Path,
    chunk: int,
    n_chunks: int,
) -> pd.DataFrame:
    """Run the replications of one chunk (SIMULATED DATA).

    Parameters
    ----------
    options
        The ``montecarlo`` config section plus ``master_seed`` (see :data:`DEFAULTS` and
        :func:`resolve_options`).
    census_csv, pairings_csv
        Prefecture polygons and pairings (columns as :func:`zonespill.simulation.dgp.prefecture_geography`
        and :func:`~zonespill.simulation.dgp.prefecture_pairs` expect, or renamed with the
        ``census_columns`` / ``pairings_columns`` options, mappings canonical -> file column).
    chunk, n_chunks
        This chunk's number (``0 .. n_chunks - 1``) and the number of chunks; the chunk runs
        replications ``r`` with ``r mod n_chunks == chunk`` (see :func:`chunk_replications`).

    Returns
    -------
    DataFrame
        :data:`CHUNK_COLUMNS`, one row per replication × estimator × estimand, sorted by
        replication then table order of estimator and estimand. ``error`` is empty when the
        estimator ran, else the reason (estimate and se missing).
    """
    opts = resolve_options(options)
    reps = chunk_replications(int(opts["replications"]), int(chunk), int(n_chunks))
    if not reps:
        return _empty_chunk()
    geo, pairs = _load_design(opts, Path(census_csv), Path(pairings_csv))
    seed = study_seed(opts["master_seed"])
    with _one_blas_thread():
        rows = [row for r in reps for row in _replication_rows(r, geo, pairs, opts, seed)]
    frame = pd.DataFrame(rows).assign(n_units=len(geo.regions), n_pairs=len(pairs))
    frame = frame.loc[:, list(CHUNK_COLUMNS)].astype(_CHUNK_DTYPES)
    return _sorted(frame, ["replication"])


def _order_key(values: pd.Series, order: Sequence[str]) -> pd.Series:
    pos = {name: i for i, name in enumerate(order)}
    return values.astype(str).map(lambda v: pos.get(v, len(pos)))


def _sorted(frame: pd.DataFrame, lead: Sequence[str]) -> pd.DataFrame:
    keys = frame.assign(
        _est=_order_key(frame["estimator"], (*DID_ESTIMATORS, *SPATIAL_MODELS)),
        _mand=_order_key(frame["estimand"], ESTIMANDS),
    )
    by = [*lead, "_est", "estimator", "_mand", "estimand"]
    if "replication" in frame.columns and "replication" not in lead:
        by.append("replication")
    keys = keys.sort_values(by, kind="mergesort")
    return keys.drop(columns=["_est", "_mand"]).reset_index(drop=True)


def summarise(chunks: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Bias, RMSE, coverage and SE calibration per estimator × estimand.

    Parameters
    ----------
    chunks
        Frames from :func:`run_chunk`, in any order and any split of the replications.

    Returns
    -------
    DataFrame
        :data:`SUMMARY_COLUMNS`, sorted by estimator then estimand (table order). Over the
        ``n_reps`` replications with a finite estimate and SE: ``truth`` = mean true value,
        ``bias`` = mean(estimate − truth), ``rmse`` = sqrt(mean((estimate − truth)²)),
        ``sd_estimate`` = standard deviation of the estimates (ddof = 1; missing with one
        replication), ``mean_se`` = mean reported SE, ``se_ratio`` = mean_se / sd_estimate,
        ``coverage`` = share of replications whose interval holds the truth. ``n_failed``
        counts replications where the estimator did not run.

    Raises
    ------
    InputError
        A replication appears twice for the same estimator and estimand.
    """
    frames = [c for c in chunks if len(c)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in SUMMARY_COLUMNS})
    data = pd.concat([c.loc[:, list(CHUNK_COLUMNS)] for c in frames], ignore_index=True)
    dup = data.duplicated(["replication", "estimator", "estimand"], keep=False)
    if dup.any():
        raise InputError(
            "replication appears in more than one chunk",
            source="montecarlo chunks",
            rows=(np.flatnonzero(dup.to_numpy()) + 1).tolist(),
            column="replication",
        )
    data = _sorted(data, [])
    out = []
    for (estimator, estimand), grp in data.groupby(["estimator", "estimand"], sort=False, observed=True):
        est = grp["estimate"].to_numpy(float)
        se = grp["se"].to_numpy(float)
        truth = grp["truth"].to_numpy(float)
        ok = np.isfinite(est) & np.isfinite(se) & np.isfinite(truth)
        n = int(ok.sum())
        e, s, t = est[ok], se[ok], truth[ok]
        lo, hi = grp["ci_lower"].to_numpy(float)[ok], grp["ci_upper"].to_numpy(float)[ok]
        sd = float(np.std(e, ddof=1)) if n > 1 else math.nan
        mean_se = float(np.mean(s)) if n else math.nan
        out.append(
            {
                "estimator": str(estimator),
                "estimand": str(estimand),
                "truth": float(np.mean(truth[np.isfinite(truth)])) if np.isfinite(truth).any() else math.nan,
                "n_reps": n,
                "n_failed": int(len(grp) - n),
                "mean_estimate": float(np.mean(e)) if n else math.nan,
                "bias": float(np.mean(e - t)) if n else math.nan,
                "rmse": float(np.sqrt(np.mean((e - t) ** 2))) if n else math.nan,
                "sd_estimate": sd,
                "mean_se": mean_se,
                "se_ratio": mean_se / sd if n > 1 and sd > 0 else math.nan,
                "coverage": float(np.mean((lo <= t) & (t <= hi))) if n else math.nan,
            }
        )
    summary = pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))
    summary = summary.astype(
        {"estimator": "string", "estimand": "string", "n_reps": "int64", "n_failed": "int64"}
    )
    return _sorted(summary, [])


# ----------------------------------------------------------------------------- table M1
_ESTIMATOR_LABELS = {
    "twfe": "TWFE (static)",
    "cs_notyet": "Callaway-Sant'Anna, not-yet-treated",
    "cs_never": "Callaway-Sant'Anna, never-treated",
    "bjs_imputation": "BJS imputation",
    "sun_abraham": "Sun-Abraham",
    "sar": "Spatial SAR, two-way FE",
    "sdm": "Spatial SDM, two-way FE",
}
_ESTIMAND_LABELS = {
    "att_total": "ATT (total programme effect)",
    "tau": "tau (direct effect)",
    "rho": "rho (spatial lag)",
    "beta": "beta (convergence)",
}


def m1_table(summary: pd.DataFrame, opts: Mapping[str, Any], *, n_units: int, n_pairs: int) -> Any:
    """Table M1 (a :class:`zonespill.tables.PlainTable`) from a :func:`summarise` frame."""
    from zonespill.tables import PlainTable

    frame = pd.DataFrame(
        {
            "Estimator": [_ESTIMATOR_LABELS.get(str(v), str(v)) for v in summary["estimator"]],
            "Estimand": [_ESTIMAND_LABELS.get(str(v), str(v)) for v in summary["estimand"]],
            "Truth": summary["truth"].to_numpy(float),
            "Bias": summary["bias"].to_numpy(float),
            "RMSE": summary["rmse"].to_numpy(float),
            "SD(est.)": summary["sd_estimate"].to_numpy(float),
            "Mean SE": summary["mean_se"].to_numpy(float),
            "SE/SD": summary["se_ratio"].to_numpy(float),
            "Coverage": summary["coverage"].to_numpy(float),
            "R": summary["n_reps"].to_numpy("int64"),
            "Failed": summary["n_failed"].to_numpy("int64"),
        }
    )
    p: SimParams = opts["params"]
    last = int(opts["start_year"]) + int(opts["n_periods"]) - 1
    true_params = ", ".join(f"{k} = {v:g}" for k, v in asdict(p).items())
    level = round(100 * (1 - float(opts["alpha"])))
    notes = (
        f"SIMULATED DATA: growth simulated on the prefecture map {Path(str(opts['census_csv'])).name} and "
        f"the pairings {Path(str(opts['pairings_csv'])).name}; nothing here is an estimate about China.",
        f"DGP: g_t = (I - rho W)^-1 (alpha + delta_t + b y_(t-1) + sum_K tau_K D_K,t + gamma s_t + e_t); "
        f"{n_units} prefectures, queen W row-standardised (islands: {opts['island_rule']}), {n_pairs} pairs "
        f"(province codes: {opts['province_rule']}), years {int(opts['start_year'])}-{last} "
        f"(T = {int(opts['n_periods'])}).",
        f"True parameters: {true_params}.",
        f"Treatment for DiD: first year of a {opts['treatment']} tie (absorbing). ATT (total programme "
        "effect) = mean over treated unit-years of units first treated inside the window of growth minus the "
        "growth of "
        "the same draw without any tie (all tau and gamma = 0): includes the spatial multiplier, own other "
        "ties, spillovers and the feedback through the lagged level. tau = structural direct effect.",
        "Spatial models: ML, two-way FE (demeaning), regressors lagged log level, tie indicators with within "
        "variation, spillover exposure; beta = coefficient of the lagged log level (Nickell-type bias with "
        "unit FE and short T is part of what is measured).",
        f"Bias = mean(estimate - truth); RMSE; SD(est.) = Monte Carlo SD of the estimates; Mean SE = mean "
        f"reported SE; Coverage = share of normal {level}% intervals holding the truth. DiD SEs: TWFE and "
        "BJS clustered by prefecture, Callaway-Sant'Anna analytic"
        + (f" (multiplier bootstrap, {int(opts['cs_n_boot'])} draws)" if int(opts["cs_n_boot"]) else "")
        + "; spatial SEs from the ML information matrix.",
        f"R = {int(opts['replications'])} replications (split into chunk jobs, replication r in chunk r mod "
        "chunks; results do not depend on the split). Seeds: study seed = derive_seed(master_seed, "
        f"'montecarlo') with master_seed = {int(opts['master_seed'])}; replication r draws from "
        "SeedSequence(study seed, spawn_key=(r,)).",
        "Small-sample caveat: with few replications the Monte Carlo error of coverage is about "
        "sqrt(0.95 x 0.05 / R); read bias relative to SD(est.)/sqrt(R).",
    )
    digits = {"Truth": 4, "Bias": 4, "RMSE": 4, "SD(est.)": 4, "Mean SE": 4, "SE/SD": 2, "Coverage": 2}
    return PlainTable(
        frame,
        table_id="M1",
        title="Monte Carlo: bias, RMSE and coverage of the estimators",
        notes=notes,
        digits=digits,
    )


def summary_step(
    options: Mapping[str, Any],
    *,
    chunks: Sequence[Path],
    provenance: Path,
    summary_out: Path,
    outdir: Path,
    formats: Sequence[str],
) -> list[Path]:
    """Read the chunk files, write the summary Parquet and table M1 (provenance-stamped).

    Returns
    -------
    list of Path
        The summary file followed by the table files.
    """
    from zonespill import provenance as prov
    from zonespill.io import read_parquet, write_parquet
    from zonespill.tables import write_table

    opts = resolve_options(options)
    if len(chunks) != int(opts["chunks"]):
        raise InputError(f"expected {opts['chunks']} chunk files, got {len(chunks)}", source="chunks")
    frames = [read_parquet(p) for p in chunks]
    summary = summarise(frames)
    design = pd.concat(
        [f.loc[:, ["n_units", "n_pairs"]] for f in frames], ignore_index=True
    ).drop_duplicates()
    if len(design) != 1:
        raise InputError("chunks come from different designs (n_units / n_pairs differ)", source="chunks")
    table = m1_table(
        summary, opts, n_units=int(design["n_units"].iloc[0]), n_pairs=int(design["n_pairs"].iloc[0])
    )
    write_parquet(summary_out, summary)
    paths = write_table(table, outdir, provenance_hash=prov.read_provenance_hash(provenance), formats=formats)
    return [Path(summary_out), *paths]


def few_clusters_step(
    options: Mapping[str, Any],
    *,
    provenance: Path,
    master_seed: int,
    outdir: Path,
    formats: Sequence[str],
    table_id: str = "M2",
    title: str | None = None,
) -> list[Path]:
    """Table of the few-cluster Monte Carlo: rejection of the true effect and coverage per method.

    Rows with a single treated cluster say "inference not possible" and carry no coverage verdict.
    """
    from zonespill import provenance as prov
    from zonespill.did.fewclusters import DEFAULT_DESIGNS, FewClusterDesign, few_cluster_study
    from zonespill.tables import PlainTable, write_table

    opts = dict(options.get("few_clusters") or {})
    reps, n_boot, n_perm = (
        int(opts.get("reps", 500)),
        int(opts.get("n_boot", 999)),
        int(opts.get("n_perm", 199)),
    )
    seed = prov.derive_seed(int(master_seed), "montecarlo", "few_clusters")
    alpha = float(options.get("alpha", 0.05))
    res = few_cluster_study(
        [FewClusterDesign(g, k) for g, k in DEFAULT_DESIGNS],
        reps=reps,
        n_boot=n_boot,
        n_perm=n_perm,
        alpha=alpha,
        seed=seed,
    )
    labels = {
        "analytic": "analytic (CRV1, normal)",
        "wild": "wild cluster bootstrap-t (WCR)",
        "ri": "randomisation inference",
    }
    frame = pd.DataFrame(
        {
            "clusters": res["G"].astype(int),
            "treated clusters": res["n_treated"].astype(int),
            "method": res["method"].map(labels),
            f"rejection of the truth at {alpha:g}": res["rejection"],
            "coverage": [
                c if ok else float("nan") for c, ok in zip(res["coverage"], res["possible"], strict=True)
            ],
            "verdict": [
                "inference not possible (1 treated cluster): no coverage claim"
                if not ok
                else ("within [0.90, 0.99]" if 0.90 <= c <= 0.99 else "outside [0.90, 0.99]")
                for c, ok in zip(res["coverage"], res["possible"], strict=True)
            ],
        }
    )
    notes = [
        "SIMULATED DATA. TWFE DiD, one unit per cluster, 8 periods, adoption at period 5 in the treated "
        f"clusters, true effect 0, AR(1) errors (rho 0.5) within cluster; {reps} replications per design.",
        f"wild: restricted wild cluster bootstrap-t (Rademacher; full enumeration when 2^G <= {n_boot}, "
        f"else {n_boot} draws); RI: {n_perm} permutations of the treated clusters (sharp null); "
        "analytic: CRV1 with normal critical values, as printed by default elsewhere.",
        "With one treated cluster no method gives valid inference: such rows carry no coverage (blank) "
        "and no table of this project stars an estimate resting on one treated cluster.",
        f"Seed derived from master_seed ({int(master_seed)}) and the labels montecarlo/few_clusters.",
    ]
    table = PlainTable(
        frame,
        table_id=table_id,
        title=title or "Monte Carlo: DiD inference with few treated clusters",
        notes=notes,
        digits=3,
    )
    return write_table(table, outdir, provenance_hash=prov.read_provenance_hash(provenance), formats=formats)
