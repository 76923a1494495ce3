"""Regression-based staggered DiD estimators: TWFE, Sun & Abraham (2021), Borusyak–Jaravel–Spiess
(2024) imputation, and the Goodman-Bacon (2021) decomposition.

TWFE and Sun–Abraham are fixed-effects OLS fits done by pyfixest (which reproduces fixest's
cluster-robust small-sample corrections); the imputation estimator and the Bacon decomposition are
written here (closed-form two-way fixed-effects algebra, vectorised).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyfixest as pf

from zonespill.did._panel import (
    ClusterSpec,
    _rows,
    check_columns,
    cluster_columns,
    cluster_meat,
    cohort_column,
    n_clusters,
    numeric_column,
    psd_diag_sqrt,
    to_wide,
)
from zonespill.did._pretrend import PreTrendTest, joint_wald
from zonespill.did._results import DiDResult, event_vcov, nan_if_tiny, with_ci
from zonespill.did._support import cell_table, check_min_units, event_support, thin_notes
from zonespill.did.inference import (
    BootWeights,
    InferenceKind,
    attach,
    bjs_maker,
    bjs_ri,
    bjs_wild,
    check_inference_args,
    event_maker,
    method_label,
    regression_inference,
    sunab_maker,
    treated_clusters,
    twfe_maker,
)
from zonespill.errors import EstimationError, InputError
from zonespill.twoway import TwoWayFE


# ----------------------------------------------------------------------------------------------
# shared preparation
# ----------------------------------------------------------------------------------------------
def _long(
    data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str, cluster: ClusterSpec,
    anticipation: int = 0,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Validated long frame with safe column names (zy, zu, zt, zg, zc0, zc1)."""
    ccols = cluster_columns(cluster)
    check_columns(data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort,
                         **{f"cluster[{i}]": c for i, c in enumerate(ccols)}})
    if data[unit].isna().any():
        raise InputError("missing unit ids", source="data", rows=_rows(data[unit].isna().to_numpy()),
                         column=unit)
    df = pd.DataFrame({
        "zy": numeric_column(data, outcome),
        "zu": pd.factorize(data[unit], sort=True)[0],
        "zt": numeric_column(data, time),
        "zg": cohort_column(data, cohort),
    })
    dup = df.duplicated(["zu", "zt"], keep=False).to_numpy()
    if dup.any():
        raise InputError(f"duplicate ({unit}, {time}) rows", source="data", rows=_rows(dup), column=time)
    varies = df.groupby("zu")["zg"].transform("nunique").to_numpy() > 1
    if varies.any():
        raise InputError("cohort varies within unit", source="data", rows=_rows(varies), column=cohort)
    names = []
    for i, c in enumerate(ccols):
        codes = pd.factorize(data[c], sort=True)[0]
        if (codes < 0).any():
            raise InputError("missing cluster ids", source="data", rows=_rows(codes < 0), column=c)
        df[f"zc{i}"] = codes
        names.append(f"zc{i}")
    if not names:
        names = ["zu"]
    # cohorts first treated after the last observed period are never treated within the sample
    # (with anticipation δ: only cohorts whose anticipation starts after the sample)
    df.loc[df["zg"] - anticipation > df["zt"].max(), "zg"] = 0.0
    return df, tuple(names)


def _vcov_arg(cnames: tuple[str, ...]) -> dict[str, str]:
    return {"CRV1": "+".join(cnames)}


def _vcov_label(cluster: ClusterSpec, unit: str) -> str:
    cols = cluster_columns(cluster) or (unit,)
    kind = "two-way clustered" if len(cols) == 2 else "clustered"
    return f"{kind} by {' & '.join(cols)} (CRV1, fixest default small-sample correction)"


def _drop_always_treated(df: pd.DataFrame, anticipation: int = 0) -> tuple[pd.DataFrame, int]:
    t1 = df["zt"].min()
    always = (df["zg"] > 0) & (df["zg"] - anticipation <= t1)
    return df.loc[~always].reset_index(drop=True), int(df.loc[always, "zu"].nunique())


def _check_anticipation(anticipation: int) -> int:
    if isinstance(anticipation, bool) or not isinstance(anticipation, int | np.integer) or anticipation < 0:
        raise InputError("anticipation must be a non-negative integer", source="anticipation")
    return int(anticipation)


def _regression_cells(
    df: pd.DataFrame, treated: np.ndarray, control: np.ndarray, *, min_units: int, include_thin: bool,
    estimator: str,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Support of every treated (g, t) cell of a long frame: treated units of g at t against the
    ``control`` observations at t.  Unless ``include_thin``, the treated observations of thin cells
    are dropped from the frame (so they enter no estimate); returns (frame, cells, notes)."""
    g = df["zg"].to_numpy()
    t = df["zt"].to_numpy()
    keys = pd.DataFrame({"g": g[treated], "t": t[treated]}).value_counts().sort_index()
    ctrl_t = pd.Series(t[control]).value_counts()
    ck = np.array(keys.index.tolist(), dtype=float).reshape(-1, 2)
    n_co = ctrl_t.reindex(ck[:, 1]).fillna(0).to_numpy(dtype=np.int64)
    cells = cell_table(ck[:, 0], ck[:, 1], keys.to_numpy(), n_co, min_units=min_units,
                       include_thin=include_thin)
    notes = thin_notes(cells, min_units=min_units, include_thin=include_thin, estimator=estimator)
    if not include_thin:
        thin = cells.loc[cells["thin"], ["cohort", "time"]]
        bad = treated & pd.MultiIndex.from_arrays([g, t]).isin(
            pd.MultiIndex.from_arrays([thin["cohort"].to_numpy(), thin["time"].to_numpy()]))
        if bad.any():
            df = df.loc[~bad].reset_index(drop=True)
    return df, cells, notes


def _leads_test(table: pd.DataFrame, V: np.ndarray, leads: np.ndarray, excluded: tuple[int, ...],
                cn: tuple[str, ...], df: pd.DataFrame, name: str) -> PreTrendTest:
    """Joint Wald test of the event-time leads (rows ``leads`` of ``table`` with covariance V)."""
    G = min(int(df[c].nunique()) for c in cn)
    return joint_wald(table["estimate"].to_numpy()[leads], V[np.ix_(leads, leads)],
                      labels=[int(e) for e in table["e"].to_numpy()[leads]], excluded=excluded,
                      n_clusters=G, name=name)


def _event_rows_support(df: pd.DataFrame, rel: np.ndarray, evs: list[int], control: np.ndarray,
                        min_units: int) -> pd.DataFrame:
    """Per event time: units with that event dummy, fewest control units over its periods, thin."""
    t = df["zt"].to_numpy()
    ctrl_t = pd.Series(t[control]).value_counts()
    rows = []
    for e in evs:
        m = rel == e
        nt = int(df.loc[m, "zu"].nunique())
        nc = int(ctrl_t.reindex(np.unique(t[m])).fillna(0).min()) if m.any() else 0
        rows.append((e, nt, nc, nt < min_units or nc < min_units))
    return pd.DataFrame(rows, columns=["e", "n_treated", "n_control", "thin"])


def _cohort_sizes(df: pd.DataFrame) -> dict[float, int]:
    u = df.drop_duplicates("zu")
    u = u[u["zg"] > 0]
    sizes = u.groupby("zg").size()
    return {float(k): int(v) for k, v in zip(sizes.index.to_numpy(), sizes.to_numpy(), strict=True)}


def _feols(fml: str, df: pd.DataFrame, cnames: tuple[str, ...]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, data=df, vcov=_vcov_arg(cnames))


def _coefs(fit: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    names = [str(c) for c in fit._coefnames]
    return names, np.asarray(fit.coef().to_numpy(), dtype=float), np.asarray(fit._vcov, dtype=float)


def _ename(e: int) -> str:
    return f"e_m{-e}" if e < 0 else f"e_p{e}"


# ----------------------------------------------------------------------------------------------
# TWFE
# ----------------------------------------------------------------------------------------------
def twfe(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    event_study: bool = False,
    cluster: ClusterSpec = None,
    alpha: float = 0.05,
    anticipation: int = 0,
    min_units_per_side: int = 2,
    include_thin_cells: bool = False,
    inference: InferenceKind = "analytic",
    n_boot: int | None = None,
    boot_weights: BootWeights = "rademacher",
    seed: int | np.random.Generator | None = None,
) -> DiDResult:
    r"""Two-way fixed-effects DiD (static, optionally also the event study).

    Static: :math:`y_{it} = \alpha_i + \lambda_t + \beta D_{it} + \varepsilon_{it}`,
    :math:`D_{it} = 1\{G_i > 0, t \ge G_i\}`.  Event study:
    :math:`y_{it} = \alpha_i + \lambda_t + \sum_{e \ne -1} \beta_e 1\{t - G_i = e\} + \varepsilon_{it}`
    (never-treated units have no event dummies).  Cluster-robust CRV1 SEs with fixest's default
    small-sample correction (by ``unit`` unless ``cluster`` is given; two columns = two-way).

    Parameters
    ----------
    data : DataFrame
    outcome, unit, time, cohort : str
    event_study : bool
        Also estimate the event-study coefficients (``table`` rows ``e``).
    cluster : str or (str, str), optional
    alpha : float

    anticipation : int
        δ ≥ 0: treatment timing shifted to ``G − δ`` (D = 1{t ≥ G − δ}); the event study omits
        e = −δ − 1 and reports the anticipation effects e = −δ…−1.
    min_units_per_side : int
        A treated (g, t) cell with fewer than this many treated units of g at t, or untreated
        units at t, is thin.
    include_thin_cells : bool
        Keep the treated observations of thin cells (flagged) instead of dropping them.

    Returns
    -------
    DiDResult
        ``att``/``se`` = static β; ``table`` = static row or event-time rows (with
        ``n_treated, n_control, thin``); ``cells``; ``pretrend`` = joint Wald test of the event-study
        leads e < −δ − 1 (always computed).
    """
    check_inference_args(inference, n_boot, boot_weights)
    delta = _check_anticipation(anticipation)
    m_units = check_min_units(min_units_per_side)
    df, cn = _long(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster,
                   anticipation=delta)
    df["zD"] = ((df["zg"] > 0) & (df["zt"] >= df["zg"] - delta)).astype(float)
    D = df["zD"].to_numpy() > 0
    df, cells, notes = _regression_cells(df, D, ~D, min_units=m_units, include_thin=include_thin_cells,
                                         estimator="TWFE")
    if df["zD"].nunique() < 2:
        if D.any() and (~D).any():
            where = ", ".join(f"g={c:g}/t={t:g}" for c, t in zip(cells["cohort"], cells["time"], strict=True))
            raise EstimationError(f"every treated (g,t) cell is thin (fewer than {m_units} unit(s) on a "
                                  f"side: {where}); not estimable without include_thin_cells=True")
        raise EstimationError("treatment dummy does not vary: no treated or no untreated observations")
    fit = _feols("zy ~ zD | zu + zt", df, cn)
    _names, b, V = _coefs(fit)
    att, se = float(b[0]), float(np.sqrt(V[0, 0]))
    post = cells[cells["e"] >= -delta]
    pu = post[post["used"]]
    table = pd.DataFrame({"term": ["D"], "estimate": [att], "se": [se],
                          "n_treated": [int(pu["n_treated"].sum())],
                          "n_control": [int(pu["n_control"].min()) if len(pu) else 0],
                          "thin": [bool(pu.empty or pu["thin"].any())]})
    # event study (always fitted: its leads give the pre-trend test); reference e = −δ − 1
    ref = -1 - delta
    rel = np.where(df["zg"] > 0, df["zt"] - df["zg"], np.nan)
    evs = sorted(int(e) for e in np.unique(rel[~np.isnan(rel)]) if e != ref)
    cols = [_ename(e) for e in evs]
    # one concat, not one insert per dummy (no fragmented-frame PerformanceWarning)
    dummies = pd.DataFrame({_ename(e): (rel == e).astype(float) for e in evs}, index=df.index)
    df = pd.concat([df, dummies], axis=1)
    keep: list[int] = []
    pretrend = joint_wald(np.zeros(0), np.zeros((0, 0)), excluded=tuple(range(-delta, 0)),
                          name="event-study leads (TWFE)")
    if cols:
        fit2 = _feols("zy ~ " + " + ".join(cols) + " | zu + zt", df, cn)
        n2, b2, V2 = _coefs(fit2)
        pos = {c: i for i, c in enumerate(n2)}
        keep = [e for e in evs if _ename(e) in pos]
        ix = [pos[_ename(e)] for e in keep]
        es = pd.DataFrame({"e": keep, "estimate": b2[ix], "se": np.sqrt(np.diag(V2)[ix])})
        pretrend = _leads_test(es, V2[np.ix_(ix, ix)], np.flatnonzero(np.array(keep) < ref),
                               tuple(range(-delta, 0)), cn, df, "event-study leads (TWFE)")
        if event_study:
            sup = _event_rows_support(df, rel, keep, np.isnan(rel) | (rel == ref), m_units)
            table = es.merge(sup, on="e", how="left")
    if delta:
        notes.append(f"TWFE: anticipation δ = {delta}: treatment dated from G − {delta}")
    res = DiDResult(estimator="TWFE", att=att, se=se, table=with_ci(table, alpha),
                     cohort_sizes=_cohort_sizes(df), n_obs=len(df), n_units=int(df["zu"].nunique()),
                     dropped_units=0, vcov_type=_vcov_label(cluster, unit), alpha=alpha,
                     cells=cells, min_units_per_side=m_units, include_thin_cells=include_thin_cells,
                     thin_overall=bool(pu.empty or pu["thin"].any()),
                     notes=tuple(notes), anticipation=delta, pretrend=pretrend)
    if event_study and cols:  # covariance of the event-time estimates (HonestDiD input)
        res = replace(res, vcov=event_vcov(V2[np.ix_(ix, ix)], keep))
    # small-sample inference on the same regressions (static; event study rows)
    designs: list[tuple[Any, np.ndarray]] = [(twfe_maker(delta), np.array([True]))]
    if event_study:
        designs.append((event_maker(keep), np.array(keep) >= -delta))
    return regression_inference(res, df, cn, designs, inference=inference, n_boot=n_boot,
                                boot_weights=boot_weights, seed=seed, anticipation=delta)


# ----------------------------------------------------------------------------------------------
# Sun & Abraham
# ----------------------------------------------------------------------------------------------
def sun_abraham(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    ref_period: int = -1,
    cluster: ClusterSpec = None,
    alpha: float = 0.05,
    anticipation: int = 0,
    min_units_per_side: int = 2,
    include_thin_cells: bool = False,
    inference: InferenceKind = "analytic",
    n_boot: int | None = None,
    boot_weights: BootWeights = "rademacher",
    seed: int | np.random.Generator | None = None,
) -> DiDResult:
    r"""Sun & Abraham (2021) interaction-weighted event study (as fixest ``sunab``).

    Fully interacted regression on cohort × relative-period dummies (reference period
    ``ref_period`` omitted for every cohort; never-treated units have none):

    .. math:: y_{it} = \alpha_i + \lambda_t + \sum_{g}\sum_{e \ne -1} \delta_{g,e} 1\{G_i=g, t-g=e\}
              + \varepsilon_{it}

    Event-time effects :math:`\hat\beta_e = \sum_g \hat\delta_{g,e} N_{g,e}/\sum_g N_{g,e}` and the
    overall ATT averages all :math:`\hat\delta_{g,e}, e\ge0` with weights :math:`N_{g,e}` (the
    number of observations in each cell), as ``aggregate(m, agg = "ATT")``.  SEs by the delta
    method from the cluster-robust covariance (fixest default small-sample correction).

    Parameters
    ----------
    data : DataFrame
    outcome, unit, time, cohort : str
    ref_period : int
    cluster : str or (str, str), optional
    alpha : float
    anticipation : int
        δ ≥ 0: treatment timing shifted to ``G − δ``; the omitted period becomes
        ``ref_period − δ`` and e = −δ…−1 are anticipation effects (not in the ATT, not leads).
    min_units_per_side : int
        A cohort × period cell with fewer treated units, or fewer control units (never treated, or
        in their own reference period) at that period, is thin.
    include_thin_cells : bool
        Keep thin cells in the aggregates (flagged) instead of excluding them.

    Returns
    -------
    DiDResult
        ``table``: rows ``e`` (event-time effects, with ``n_treated, n_control, thin``);
        ``extra["cohort"]`` per-cohort ATTs and ``extra["cells"]`` the cohort × period coefficients
        (with ``n_treated, n_control, thin, used``); ``cells``; ``pretrend`` = joint Wald test of the
        aggregated event-time leads e < ref_period − δ.
    """
    check_inference_args(inference, n_boot, boot_weights)
    delta = _check_anticipation(anticipation)
    m_units = check_min_units(min_units_per_side)
    ref = int(ref_period) - delta
    df, cn = _long(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster,
                   anticipation=delta)
    df, dropped = _drop_always_treated(df, anticipation=delta)
    if not (df["zg"] == 0).any():
        cs = sorted(df.loc[df["zg"] > 0, "zg"].unique())
        raise EstimationError(f"cohorts {[f'{c:g}' for c in cs]} have no never-treated control units; "
                              "Sun-Abraham needs a never-treated (or after-sample) cohort")
    tr = df["zg"] > 0
    rel = np.where(tr, df["zt"] - df["zg"], np.nan)
    cells = (pd.DataFrame({"g": df["zg"][tr], "e": rel[tr]})
             .query("e != @ref").value_counts().sort_index().reset_index(name="n"))
    dummies = {f"c{int(g)}_{_ename(int(e))}": ((df["zg"] == g) & (rel == e)).astype(float)
               for g, e in zip(cells["g"], cells["e"], strict=True)}
    cols = list(dummies)
    # one concat, not one insert per cell (no fragmented-frame PerformanceWarning)
    df = pd.concat([df, pd.DataFrame(dummies, index=df.index)], axis=1)
    fit = _feols("zy ~ " + " + ".join(cols) + " | zu + zt", df, cn)
    names, b, V = _coefs(fit)
    pos = {c: i for i, c in enumerate(names)}
    ok = np.array([c in pos for c in cols])
    cells = cells.loc[ok].reset_index(drop=True)
    cols = [c for c, k in zip(cols, ok, strict=True) if k]
    ix = np.array([pos[c] for c in cols])
    b, V = b[ix], V[np.ix_(ix, ix)]
    cells["estimate"] = b
    cells["se"] = np.sqrt(np.diag(V))
    # support: treated units of the cell vs units with no dummy at its period (never treated, or
    # in their own reference period)
    ctrl_t = pd.Series(df["zt"].to_numpy()[(df["zg"] == 0).to_numpy() | (rel == ref)]).value_counts()
    sup = cell_table(cells["g"].to_numpy(), (cells["g"] + cells["e"]).to_numpy(), cells["n"].to_numpy(),
                     ctrl_t.reindex((cells["g"] + cells["e"]).to_numpy()).fillna(0).to_numpy(),
                     min_units=m_units, include_thin=include_thin_cells)
    for c in ("n_treated", "n_control", "thin", "used"):
        cells[c] = sup[c].to_numpy()
    used = cells["used"].to_numpy()

    def weights(mask: np.ndarray) -> np.ndarray:
        w = np.where(mask & used, cells["n"].to_numpy(dtype=float), 0.0)
        return w / w.sum() if w.sum() > 0 else np.full(len(w), np.nan)

    def combo(mask: np.ndarray) -> tuple[float, float]:
        w = weights(mask)
        return float(w @ b), float(np.sqrt(w @ V @ w))

    evs = sorted(cells["e"].unique())
    rows = [(e, *combo((cells["e"] == e).to_numpy())) for e in evs]
    table = pd.DataFrame(rows, columns=["e", "estimate", "se"])
    table["e"] = table["e"].astype(int)
    table = table.merge(event_support(sup), on="e", how="left")
    att, se = combo((cells["e"] >= 0).to_numpy())
    Wr = np.vstack([weights((cells["e"] == e).to_numpy()) for e in evs]) if evs else np.zeros((0, len(b)))
    lead_rows = np.flatnonzero((table["e"].to_numpy() < ref) & np.isfinite(Wr).all(axis=1))
    Wl = Wr[lead_rows]
    pretrend = _leads_test(table, np.zeros((len(table), len(table))), np.zeros(0, dtype=np.int64),
                           tuple(range(-delta, 0)), cn, df, "aggregated event-time leads (Sun-Abraham)")
    if len(lead_rows):
        Vt = np.zeros((len(table), len(table)))
        Vt[np.ix_(lead_rows, lead_rows)] = Wl @ V @ Wl.T
        pretrend = _leads_test(table, Vt, lead_rows, tuple(range(-delta, 0)), cn, df,
                               "aggregated event-time leads (Sun-Abraham)")
    post = sup[sup["e"] >= 0]
    notes = thin_notes(sup, min_units=m_units, include_thin=include_thin_cells, estimator="Sun-Abraham")
    if delta:
        notes.append(f"Sun-Abraham: anticipation δ = {delta}: reference period e = {ref}; "
                     f"e = {-delta}…−1 are anticipation effects")
    coh = pd.DataFrame([(g, *combo(((cells["g"] == g) & (cells["e"] >= 0)).to_numpy()))
                        for g in sorted(cells["g"].unique())], columns=["cohort", "estimate", "se"])
    res = DiDResult(estimator="Sun-Abraham", att=att, se=se, table=with_ci(table, alpha),
                     cohort_sizes=_cohort_sizes(df), n_obs=len(df), n_units=int(df["zu"].nunique()),
                     dropped_units=dropped, vcov_type=_vcov_label(cluster, unit), alpha=alpha,
                     extra={"cohort": with_ci(coh, alpha), "cells": with_ci(cells, alpha)},
                     cells=sup, min_units_per_side=m_units, include_thin_cells=include_thin_cells,
                     thin_overall=bool(post[post["used"]].empty or post.loc[post["used"], "thin"].any()),
                     notes=tuple(notes), anticipation=delta, pretrend=pretrend)
    if evs:  # covariance of the event-time estimates (HonestDiD input)
        okr = np.asarray(np.isfinite(Wr).all(axis=1), dtype=bool)
        res = replace(res, vcov=event_vcov(Wr[okr] @ V @ Wr[okr].T,
                                           [int(e) for e, k in zip(evs, okr.tolist(), strict=True) if k]))
    sa_cells = [(float(g), int(e)) for g, e in zip(cells["g"], cells["e"], strict=True)]
    sa_rows = [int(e) for e in table["e"]]
    return regression_inference(res, df, cn, [(sunab_maker(sa_cells, sa_rows, used=used),
                                               np.array([True] + [e >= -delta for e in sa_rows]))],
                                inference=inference, n_boot=n_boot,
                                boot_weights=boot_weights, seed=seed, anticipation=delta)


# ----------------------------------------------------------------------------------------------
# Borusyak, Jaravel & Spiess imputation
# ----------------------------------------------------------------------------------------------
def imputation(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    horizons: bool = True,
    cluster: ClusterSpec = None,
    alpha: float = 0.05,
    anticipation: int = 0,
    min_units_per_side: int = 2,
    include_thin_cells: bool = False,
    leave_out: bool = True,
    pretrend_leads: int | None = None,
    inference: InferenceKind = "analytic",
    n_boot: int | None = None,
    boot_weights: BootWeights = "rademacher",
    seed: int | np.random.Generator | None = None,
) -> DiDResult:
    r"""Borusyak, Jaravel & Spiess (2024) imputation estimator with their conservative SEs.

    1. On untreated observations :math:`\Omega_0` (never treated and not yet treated, i.e.
       :math:`t < G_i - \delta` with δ = ``anticipation``) fit
       :math:`y_{it} = \alpha_i + \beta_t + \varepsilon_{it}` (exact solve: :mod:`zonespill.twoway`).
    2. Impute :math:`\hat\tau_{it} = y_{it} - \hat\alpha_i - \hat\beta_t` on treated observations.
    3. Estimand :math:`\hat\tau_w = \sum_{it \in \Omega_1} w_{it}\hat\tau_{it}` (static ATT:
       :math:`w = 1/N_1` over :math:`t \ge G_i`; horizon h: equal weights on observations with
       :math:`t - G_i = h`, including the anticipation horizons :math:`-\delta \le h < 0`).

    Variance (BJS Theorem 3, conservative): :math:`\hat\sigma^2_w = \sum_c (\sum_{it\in c}
    v_{it}\tilde\varepsilon_{it})^2` with :math:`v = w` on :math:`\Omega_1`,
    :math:`v = -Z_0(Z_0'Z_0)^{-1}Z_1'w` on :math:`\Omega_0`; :math:`\tilde\varepsilon` is the
    first-stage residual on :math:`\Omega_0` and :math:`\hat\tau_{it} - \bar\tau_{g,e}` on
    :math:`\Omega_1`, :math:`\bar\tau_{g,e}` the :math:`v^2`-weighted mean within cohort × horizon.
    With ``leave_out=True`` (default, BJS 2024 Appendix A.6) the mean leaves out the observation's
    own unit so that small cells do not understate the variance (the same ε̃ for every clustering,
    so two-way inclusion–exclusion stays consistent); where nothing is left the mean is 0.
    Clusters: ``unit`` by default; two columns = two-way (inclusion–exclusion).

    Parameters
    ----------
    data : DataFrame
        Long panel (balance not required).
    outcome, unit, time, cohort : str
    horizons : bool
        Also estimate the effect at every horizon e ≥ −δ (``table`` rows).
    cluster : str or (str, str), optional
    alpha : float
    anticipation : int
        δ ≥ 0: observations from ``G − δ`` on are treated (not used in the first stage).
    min_units_per_side : int
        A (g, t) cell with fewer treated units of g at t, or fewer untreated units at t, is thin.
    include_thin_cells : bool
        Keep thin cells in the estimands (flagged) instead of excluding them.
    leave_out : bool
        Leave-out residuals for the conservative variance (see above).
    pretrend_leads : int, optional
        Number of leads in the BJS pre-test (default: every pre-period event time below −δ but
        the earliest, which is the reference).
    inference : {"analytic", "wild", "ri"}
        ``"wild"``: wild cluster restricted bootstrap-t of the BJS t-statistic under the
        homogeneous-effect null (τ_it = τ0 on the estimand's treated observations; each horizon its
        own), the BJS estimate and SE recomputed on every draw (:func:`~zonespill.did.inference.bjs_wild`);
        ``"ri"``: cohorts permuted across units (:func:`~zonespill.did.inference.bjs_ri`).
    n_boot, boot_weights, seed
        Draws / permutations (default 9999 / 999), Rademacher or Webb weights, seed.

    Returns
    -------
    DiDResult
        ``cells`` (support per (g,t)), ``table`` with ``n_treated, n_control, thin`` per horizon,
        ``pretrend`` (BJS 2024 Test 1: leads on untreated observations, cluster-robust Wald),
        ``extra["pretrend"]`` the lead coefficients.

    Raises
    ------
    EstimationError
        A cohort treated in a period without untreated observations (no valid controls).
    """
    delta = _check_anticipation(anticipation)
    m_units = check_min_units(min_units_per_side)
    check_inference_args(inference, n_boot, boot_weights)
    df, cn = _long(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster,
                   anticipation=delta)
    df, dropped = _drop_always_treated(df, anticipation=delta)
    u = pd.factorize(df["zu"], sort=True)[0]
    tcode, tvals = pd.factorize(df["zt"], sort=True)
    n_u, n_t = int(u.max()) + 1, len(tvals)
    g = df["zg"].to_numpy()
    tt = df["zt"].to_numpy()
    treated = ((g > 0) & (tt >= g - delta))
    if not treated.any():
        raise EstimationError("no treated observations")
    y = df["zy"].to_numpy()
    o0 = ~treated
    # exact two-way solve (one normalisation per connected component; no pseudo-inverse)
    fe = TwoWayFE(u[o0], tcode[o0], n_units=n_u, n_times=n_t)
    no_ctrl_t = np.flatnonzero(fe.ct == 0)
    bad = treated & np.isin(tcode, no_ctrl_t)
    if bad.any():
        gs = sorted(df.loc[bad, "zg"].unique())
        ts = sorted(df.loc[bad, "zt"].unique())
        raise EstimationError(f"cohort(s) {[f'{g:g}' for g in gs]} have no valid (untreated) control "
                              f"observations in period(s) {[f'{t:g}' for t in ts]}")
    no_unit = treated & (fe.cu[u] == 0)
    if no_unit.any():  # pragma: no cover - excluded by dropping always-treated units
        raise EstimationError("units without untreated periods")
    unident = treated & ~fe.identified(u, tcode)
    if unident.any():
        raise EstimationError(
            f"{int(unident.sum())} treated observation(s) cannot be imputed: their unit and period are "
            "not connected through untreated observations (unit and time effects not jointly "
            "identified)")
    a, b = fe.fit(y[o0])
    resid = y - (a[u] + b[tcode])  # τ̂ on Ω1, ε̂ on Ω0
    ev = np.where(treated, tt - g, np.nan)
    # identification support per (g, t) cell: treated units of g at t vs untreated units at t
    tr_idx = np.flatnonzero(treated)
    cell_codes, cell_keys = pd.factorize(pd.MultiIndex.from_arrays([g[tr_idx], tt[tr_idx]]), sort=True)
    ck = np.array(cell_keys.tolist(), dtype=float).reshape(-1, 2)
    n_tr = np.bincount(cell_codes, minlength=len(ck))
    n_co = fe.ct[np.searchsorted(tvals.to_numpy(dtype=float), ck[:, 1])].astype(np.int64)
    cells = cell_table(ck[:, 0], ck[:, 1], n_tr, n_co, min_units=m_units, include_thin=include_thin_cells)
    used = np.zeros(len(df), dtype=bool)
    used[tr_idx] = cells["used"].to_numpy()[cell_codes]
    # weights: static (e >= 0) + one per horizon (incl. anticipation horizons); only used cells
    labels: list[str | int] = ["ATT"]
    cols = [used & (ev >= 0)]
    if horizons:
        for h in np.unique(ev[treated]):
            labels.append(int(h))
            cols.append(used & (ev == h))
    M = np.column_stack(cols).astype(float)
    cnt = M.sum(axis=0)
    Wm = np.divide(M, cnt, out=np.zeros_like(M), where=cnt > 0)
    est = Wm[treated].T @ resid[treated]
    w1u = np.zeros((n_u, Wm.shape[1]))
    np.add.at(w1u, u[treated], Wm[treated])
    w1t = np.zeros((n_t, Wm.shape[1]))
    np.add.at(w1t, tcode[treated], Wm[treated])
    ga, gb = fe.solve(w1u, w1t)
    v = Wm.copy()
    v[o0] = -(ga[u[o0]] + gb[tcode[o0]])
    clusters = [df[c].to_numpy() for c in cn]
    eps = np.repeat(resid[:, None], v.shape[1], axis=1)
    eps[treated] = resid[treated][:, None] - _bjs_cell_means(
        cell_codes, u[treated] if leave_out else None, v[treated], resid[treated])
    scores = v * eps
    var = np.diag(cluster_meat(scores, clusters))
    se = nan_if_tiny(np.sqrt(np.maximum(var, 0)))
    est = np.where(cnt > 0, est, np.nan)
    se = np.where(cnt > 0, se, np.nan)
    ev_support = event_support(cells.assign(e=cells["e"]))
    if horizons:
        table = pd.DataFrame({"e": labels[1:], "estimate": est[1:], "se": se[1:]})
        table = table.merge(ev_support, on="e", how="left")
    else:
        post = cells[cells["e"] >= 0]
        pu = post[post["used"]]
        table = pd.DataFrame({"term": ["ATT"], "estimate": est[:1], "se": se[:1],
                              "n_treated": [int(pu["n_treated"].sum())],
                              "n_control": [int(pu["n_control"].min()) if len(pu) else 0],
                              "thin": [bool(pu.empty or pu["thin"].any())]})
    post = cells[cells["e"] >= 0]
    thin_overall = bool(post[post["used"]].empty or post.loc[post["used"], "thin"].any())
    notes = thin_notes(cells, min_units=m_units, include_thin=include_thin_cells, estimator="BJS imputation")
    pre, pre_tab = _bjs_pretest(df, u, tcode, o0, y, delta, pretrend_leads, clusters)
    if delta:
        notes.append(f"BJS imputation: anticipation δ = {delta}: observations from G − {delta} on are "
                     "treated (horizons −δ…−1 are anticipation effects, not in the static ATT)")
    res = DiDResult(estimator="BJS imputation", att=float(est[0]), se=float(se[0]),
                     table=with_ci(table, alpha), cohort_sizes=_cohort_sizes(df), n_obs=len(df),
                     n_units=n_u, dropped_units=dropped,
                     vcov_type=_vcov_label(cluster, unit).replace(
                         "CRV1, fixest default small-sample correction",
                         "BJS conservative" + (", leave-out" if leave_out else "")),
                     alpha=alpha, extra={"pretrend": pre_tab}, cells=cells, min_units_per_side=m_units,
                     include_thin_cells=include_thin_cells, thin_overall=thin_overall,
                     notes=tuple(notes), anticipation=delta, pretrend=pre)
    if horizons:  # covariance of the horizon estimates (HonestDiD input; BJS has no pre-periods)
        okh = cnt[1:] > 0
        Vh = cluster_meat(scores, clusters)[1:, 1:]
        res = replace(res, vcov=event_vcov(Vh[np.ix_(okh, okh)],
                                           [int(h) for h, k in zip(labels[1:], okh, strict=True) if k]))
    if inference == "wild":  # WCR under the homogeneous-effect null (not the dummy regression)
        return _bjs_wild(res, df, cn, y, u, tcode, treated, Wm, v, cell_codes, tr_idx, fe,
                         leave_out=leave_out, n_boot=n_boot, boot_weights=boot_weights, seed=seed)
    bjs_h = [int(h) for h in labels[1:]] if horizons else None
    bjs_post = np.array([True] + [h >= -delta for h in bjs_h or []])
    used_cells = {(float(a), int(b)) for a, b, k in zip(cells["cohort"], cells["e"], cells["used"],
                                                       strict=True) if k}
    if inference == "ri":  # one two-way solve per permutation, no dummy per treated observation
        return _bjs_ri(res, df, cn, y, u, tcode, fe, delta=delta, horizons=bjs_h, used=used_cells,
                       n_boot=n_boot, seed=seed)
    return regression_inference(res, df, cn, [(bjs_maker(bjs_h, anticipation=delta, used=used_cells),
                                               bjs_post)],
                                inference=inference, n_boot=n_boot,
                                boot_weights=boot_weights, seed=seed, anticipation=delta)


def _bjs_wild(res: DiDResult, df: pd.DataFrame, cn: tuple[str, ...], y: np.ndarray, u: np.ndarray,
              tcode: np.ndarray, treated: np.ndarray, Wm: np.ndarray, v: np.ndarray,
              cell_codes: np.ndarray, tr_idx: np.ndarray, fe: TwoWayFE, *, leave_out: bool,
              n_boot: int | None, boot_weights: str,
              seed: int | np.random.Generator | None) -> DiDResult:
    """Attach :func:`~zonespill.did.inference.bjs_wild` p-values and CIs (overall, then rows)."""
    from zonespill.did._bootstrap import seed_to_int

    if len(cn) > 1:
        raise InputError("inference='wild' supports one clustering dimension", source="cluster")
    cell = np.full(len(y), -1, dtype=np.int64)
    cell[tr_idx] = cell_codes
    cl = df[cn[0]].to_numpy()
    B = int(n_boot) if n_boot is not None else 9999
    outs, _ = bjs_wild(y, u, tcode, treated, Wm, v, cell, cl, fe0=fe, leave_out=leave_out, n_boot=B,
                       boot_weights=boot_weights, seed=seed_to_int(seed), alpha=res.alpha)
    G = len(np.unique(cl))
    label = method_label("wild-bjs", n_draws=outs[0].n_draws or B, weights=boot_weights,
                             enumerated=outs[0].enumerated, G=G)
    g_unit = np.zeros(int(u.max()) + 1)
    g_unit[u] = df["zg"].to_numpy(dtype=float)
    return attach(res, "wild", outs, label=label, n_treated_clusters=treated_clusters(g_unit, u, cl))


def _bjs_ri(res: DiDResult, df: pd.DataFrame, cn: tuple[str, ...], y: np.ndarray, u: np.ndarray,
            tcode: np.ndarray, fe: TwoWayFE, *, delta: int, horizons: list[int] | None,
            used: set[tuple[float, int]], n_boot: int | None,
            seed: int | np.random.Generator | None) -> DiDResult:
    """Attach :func:`~zonespill.did.inference.bjs_ri` p-values and CIs (overall, then rows)."""
    from zonespill.did._bootstrap import seed_to_int

    if len(cn) > 1:
        raise InputError("inference='ri' supports one clustering dimension", source="cluster")
    B = int(n_boot) if n_boot is not None else 999
    g_obs = df["zg"].to_numpy(dtype=float)
    outs = bjs_ri(y, u, tcode, df["zt"].to_numpy(dtype=float), g_obs, fe0=fe, anticipation=delta,
                  horizons=horizons, used=used, n_perm=B, seed=seed_to_int(seed), alpha=res.alpha)
    label = method_label("ri", n_draws=outs[0].n_draws, enumerated=outs[0].enumerated)
    cl = df[cn[0]].to_numpy()
    g_unit = np.zeros(int(u.max()) + 1)
    g_unit[u] = g_obs
    return attach(res, "ri", outs, label=label, n_treated_clusters=treated_clusters(g_unit, u, cl))


def _bjs_cell_means(cell: np.ndarray, group: np.ndarray | None, v1: np.ndarray,
                    tau: np.ndarray) -> np.ndarray:
    """v²-weighted mean of τ̂ within each cohort × period cell, per estimand column; leaving out
    the observation's own ``group`` (cluster) when given.  0 where no other observation remains."""
    k = v1.shape[1]
    n_c = int(cell.max()) + 1
    num = np.zeros((n_c, k))
    den = np.zeros((n_c, k))
    np.add.at(num, cell, v1**2 * tau[:, None])
    np.add.at(den, cell, v1**2)
    if group is None:
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)[cell]
    cg = pd.factorize(pd.MultiIndex.from_arrays([cell, group]))[0]
    n_cg = int(cg.max()) + 1
    num_g = np.zeros((n_cg, k))
    den_g = np.zeros((n_cg, k))
    np.add.at(num_g, cg, v1**2 * tau[:, None])
    np.add.at(den_g, cg, v1**2)
    rest_num = num[cell] - num_g[cg]
    rest_den = den[cell] - den_g[cg]
    ok = rest_den > 1e-12 * np.maximum(den[cell], 1e-300)
    return np.divide(rest_num, rest_den, out=np.zeros_like(rest_num), where=ok)


def _bjs_pretest(df: pd.DataFrame, u: np.ndarray, tcode: np.ndarray, o0: np.ndarray, y: np.ndarray,
                 delta: int, leads: int | None,
                 clusters: list[np.ndarray]) -> tuple[PreTrendTest, pd.DataFrame]:
    """BJS (2024) Test 1: on untreated observations regress y on unit and time effects plus lead
    dummies 1{t − G_i = −δ − k}, k = 1..K, and test the leads jointly (cluster-robust CR1 Wald)."""
    g = df["zg"].to_numpy()[o0]
    e = np.where(g > 0, df["zt"].to_numpy()[o0] - g, np.nan)
    avail = sorted({int(x) for x in e[~np.isnan(e)]}, reverse=True)  # −δ−1, −δ−2, …
    excluded = tuple(range(-delta, 0))
    empty = pd.DataFrame(columns=["e", "estimate", "se"])
    if leads is not None and (isinstance(leads, bool) or not isinstance(leads, int | np.integer)
                              or leads < 1):
        raise InputError("pretrend_leads must be a positive integer or None", source="pretrend_leads")
    K = len(avail) - 1 if leads is None else min(int(leads), len(avail))
    if K < 1:
        return joint_wald(np.zeros(0), np.zeros((0, 0)), excluded=excluded, name="leads (BJS test)"), empty
    evs = avail[:K]
    L = np.column_stack([(e == k).astype(float) for k in evs])
    fe = TwoWayFE(u[o0], tcode[o0])
    Lr = fe.residuals(L)
    yr = fe.residuals(y[o0])
    keep = np.linalg.norm(Lr, axis=0) > 1e-10 * np.sqrt(len(yr))
    evs = [k for k, ok in zip(evs, keep, strict=True) if ok]
    Lr = Lr[:, keep]
    if not evs:
        return joint_wald(np.zeros(0), np.zeros((0, 0)), excluded=excluded, name="leads (BJS test)"), empty
    XtX_inv = np.linalg.pinv(Lr.T @ Lr)
    beta = XtX_inv @ (Lr.T @ yr)
    res = yr - Lr @ beta
    cl = [c[o0] for c in clusters]
    meat = cluster_meat(Lr * res[:, None], cl)
    n = len(yr)
    G = n_clusters(cl, n)
    k = len(evs)
    # CR1: G/(G−1) × (n−1)/(n−K), K = leads + period effects (unit effects are nested in clusters)
    n_fe_t = int((fe.ct > 0).sum()) - 1
    V = XtX_inv @ meat @ XtX_inv * (G / max(G - 1, 1)) * ((n - 1) / max(n - k - n_fe_t, 1))
    test = joint_wald(beta, V, labels=evs, excluded=excluded, n_clusters=G, name="leads (BJS test)")
    tab = pd.DataFrame({"e": evs, "estimate": beta, "se": psd_diag_sqrt(V)})
    return test, tab


# ----------------------------------------------------------------------------------------------
# Goodman-Bacon decomposition
# ----------------------------------------------------------------------------------------------
def bacon_decomposition(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: ClusterSpec = None,
) -> DiDResult:
    r"""Goodman-Bacon (2021) decomposition of the static TWFE coefficient (balanced panel).

    :math:`\hat\beta^{DD} = \sum_{k \ne U} s_{kU}\hat\beta_{kU} + \sum_{k<l}
    (s^k_{kl}\hat\beta^k_{kl} + s^l_{kl}\hat\beta^l_{kl})` with each 2×2 a difference of mean
    changes between a treated and a control timing group over the comparison window and the
    weights of Goodman-Bacon's eq. (10) (shares of units n, shares of treated periods D̄ and the
    variance of the two-way-demeaned treatment dummy).  Units treated at or before the first period
    form the "always treated" group.

    Returns
    -------
    DiDResult
        ``to_frame()`` columns ``type, treated, control, estimate, weight``; ``att`` = Σ weight ×
        estimate (= the TWFE coefficient), ``se`` = the TWFE cluster-robust SE.
    """
    panel = to_wide(data, outcome=outcome, unit=unit, time=time, cohort=cohort)
    Y, tl = panel.Y, panel.times
    n, T = Y.shape
    g = panel.cohort.copy()
    g[g > tl[-1]] = 0.0
    g[(g > 0) & (g <= tl[0])] = tl[0]  # always treated
    D = (g[:, None] > 0) & (tl[None, :] >= g[:, None])
    Df = D.astype(float)
    Dt = Df - Df.mean(axis=1, keepdims=True) - Df.mean(axis=0, keepdims=True) + Df.mean()
    VD = float((Dt**2).mean())
    if VD <= 0:
        raise EstimationError("treatment dummy has no variation after removing unit and time effects")
    groups = np.unique(g)
    share = {float(k): float((g == k).mean()) for k in groups}
    dbar = {float(k): (float((tl >= k).mean()) if k > 0 else 0.0) for k in groups}
    ybar = {float(k): Y[g == k].mean(axis=0) for k in groups}

    def dd(k: float, c: float, window: np.ndarray, post: np.ndarray) -> float:
        pre = window & ~post
        diff = ybar[k] - ybar[c]
        return float(diff[post].mean() - diff[pre].mean())

    def label(k: float) -> str:
        if k == 0:
            return "never"
        if k == tl[0]:
            return "always"
        return f"{k:g}"

    rows: list[tuple[str, str, str, float, float]] = []
    timing = [float(k) for k in groups if k > tl[0]]
    allw = np.ones(T, dtype=bool)
    if 0.0 in share:
        for k in timing:
            nk, nu = share[k], share[0.0]
            s = (nk + nu) ** 2 * (nk / (nk + nu)) * (nu / (nk + nu)) * dbar[k] * (1 - dbar[k]) / VD
            rows.append(("Treated vs Untreated", label(k), "never", dd(k, 0.0, allw, tl >= k), s))
    early = sorted(float(k) for k in groups if k > 0)
    for i, k in enumerate(early):  # k earlier (or always treated), l later
        for l in early[i + 1:]:
            nk, nl = share[k], share[l]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[l]
            if k > tl[0]:
                s_k = (((nk + nl) * (1 - dl)) ** 2 * nkl * (1 - nkl) * ((dk - dl) / (1 - dl))
                       * ((1 - dk) / (1 - dl)) / VD)
                rows.append(("Earlier vs Later Treated", label(k), label(l),
                             dd(k, l, tl < l, (tl >= k) & (tl < l)), s_k))
            s_l = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk) / VD
            typ = "Later vs Always Treated" if k == tl[0] else "Later vs Earlier Treated"
            rows.append((typ, label(l), label(k), dd(l, k, tl >= k, tl >= l), s_l))
    table = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight"])
    tw = twfe(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster)
    return DiDResult(estimator="Bacon decomposition", att=float((table["estimate"] * table["weight"]).sum()),
                     se=tw.se, table=table, cohort_sizes={float(k): int((g == k).sum()) for k in timing},
                     n_obs=n * T, n_units=n, dropped_units=0, vcov_type=tw.vcov_type,
                     extra={"twfe": tw.table})
