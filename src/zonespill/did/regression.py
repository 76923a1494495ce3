"""Regression-based staggered DiD estimators: TWFE, Sun & Abraham (2021), Borusyak–Jaravel–Spiess
(2024) imputation, and the Goodman-Bacon (2021) decomposition.

TWFE and Sun–Abraham are fixed-effects OLS fits done by pyfixest (which reproduces fixest's
cluster-robust small-sample corrections); the imputation estimator and the Bacon decomposition are
written here (closed-form two-way fixed-effects algebra, vectorised).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyfixest as pf
import scipy.sparse as sp

from zonespill.did._panel import (
    ClusterSpec,
    _rows,
    check_columns,
    cluster_columns,
    cluster_meat,
    cohort_column,
    numeric_column,
    to_wide,
)
from zonespill.did._results import DiDResult, nan_if_tiny, with_ci
from zonespill.errors import EstimationError, InputError


# ----------------------------------------------------------------------------------------------
# shared preparation
# ----------------------------------------------------------------------------------------------
def _long(
    data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str, cluster: ClusterSpec
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
    df.loc[df["zg"] > df["zt"].max(), "zg"] = 0.0
    return df, tuple(names)


def _vcov_arg(cnames: tuple[str, ...]) -> dict[str, str]:
    return {"CRV1": "+".join(cnames)}


def _vcov_label(cluster: ClusterSpec, unit: str) -> str:
    cols = cluster_columns(cluster) or (unit,)
    kind = "two-way clustered" if len(cols) == 2 else "clustered"
    return f"{kind} by {' & '.join(cols)} (CRV1, fixest default small-sample correction)"


def _drop_always_treated(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    t1 = df["zt"].min()
    always = (df["zg"] > 0) & (df["zg"] <= t1)
    return df.loc[~always].reset_index(drop=True), int(df.loc[always, "zu"].nunique())


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

    Returns
    -------
    DiDResult
        ``att``/``se`` = static β; ``table`` = static row or event-time rows.
    """
    df, cn = _long(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster)
    df["zD"] = ((df["zg"] > 0) & (df["zt"] >= df["zg"])).astype(float)
    if df["zD"].nunique() < 2:
        raise EstimationError("treatment dummy does not vary: no treated or no untreated observations")
    fit = _feols("zy ~ zD | zu + zt", df, cn)
    _names, b, V = _coefs(fit)
    att, se = float(b[0]), float(np.sqrt(V[0, 0]))
    table = pd.DataFrame({"term": ["D"], "estimate": [att], "se": [se]})
    if event_study:
        rel = np.where(df["zg"] > 0, df["zt"] - df["zg"], np.nan)
        evs = sorted(int(e) for e in np.unique(rel[~np.isnan(rel)]) if e != -1)
        cols = [_ename(e) for e in evs]
        # one concat, not one insert per dummy (no fragmented-frame PerformanceWarning)
        dummies = pd.DataFrame({_ename(e): (rel == e).astype(float) for e in evs}, index=df.index)
        df = pd.concat([df, dummies], axis=1)
        fit2 = _feols("zy ~ " + " + ".join(cols) + " | zu + zt", df, cn)
        n2, b2, V2 = _coefs(fit2)
        pos = {c: i for i, c in enumerate(n2)}
        keep = [e for e in evs if _ename(e) in pos]
        ix = [pos[_ename(e)] for e in keep]
        table = pd.DataFrame({"e": keep, "estimate": b2[ix], "se": np.sqrt(np.diag(V2)[ix])})
    return DiDResult(estimator="TWFE", att=att, se=se, table=with_ci(table, alpha),
                     cohort_sizes=_cohort_sizes(df), n_obs=len(df), n_units=int(df["zu"].nunique()),
                     dropped_units=0, vcov_type=_vcov_label(cluster, unit), alpha=alpha)


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

    Returns
    -------
    DiDResult
        ``table``: rows ``e`` (event-time effects); ``extra["cohort"]`` per-cohort ATTs and
        ``extra["cells"]`` the cohort × period coefficients.
    """
    df, cn = _long(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster)
    df, dropped = _drop_always_treated(df)
    if not (df["zg"] == 0).any():
        cs = sorted(df.loc[df["zg"] > 0, "zg"].unique())
        raise EstimationError(f"cohorts {[f'{c:g}' for c in cs]} have no never-treated control units; "
                              "Sun-Abraham needs a never-treated (or after-sample) cohort")
    tr = df["zg"] > 0
    rel = np.where(tr, df["zt"] - df["zg"], np.nan)
    cells = (pd.DataFrame({"g": df["zg"][tr], "e": rel[tr]})
             .query("e != @ref_period").value_counts().sort_index().reset_index(name="n"))
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

    def combo(mask: np.ndarray) -> tuple[float, float]:
        w = np.where(mask, cells["n"].to_numpy(dtype=float), 0.0)
        w = w / w.sum()
        return float(w @ b), float(np.sqrt(w @ V @ w))

    rows = [(e, *combo((cells["e"] == e).to_numpy())) for e in sorted(cells["e"].unique())]
    table = pd.DataFrame(rows, columns=["e", "estimate", "se"])
    table["e"] = table["e"].astype(int)
    att, se = combo((cells["e"] >= 0).to_numpy())
    coh = pd.DataFrame([(g, *combo(((cells["g"] == g) & (cells["e"] >= 0)).to_numpy()))
                        for g in sorted(cells["g"].unique())], columns=["cohort", "estimate", "se"])
    return DiDResult(estimator="Sun-Abraham", att=att, se=se, table=with_ci(table, alpha),
                     cohort_sizes=_cohort_sizes(df), n_obs=len(df), n_units=int(df["zu"].nunique()),
                     dropped_units=dropped, vcov_type=_vcov_label(cluster, unit), alpha=alpha,
                     extra={"cohort": with_ci(coh, alpha), "cells": with_ci(cells, alpha)})


# ----------------------------------------------------------------------------------------------
# Borusyak, Jaravel & Spiess imputation
# ----------------------------------------------------------------------------------------------
class _TwoWayFE:
    """Normal equations of y = α_u + β_t on a set of observations, solved by the T × T Schur
    complement (exact, O(obs + T³))."""

    def __init__(self, u: np.ndarray, t: np.ndarray, n_u: int, n_t: int) -> None:
        self.u, self.t = u, t
        self.cu = np.bincount(u, minlength=n_u).astype(float)
        self.ct = np.bincount(t, minlength=n_t).astype(float)
        self.B = sp.csr_matrix((np.ones(len(u)), (u, t)), shape=(n_u, n_t))
        inv_cu = np.divide(1.0, self.cu, out=np.zeros_like(self.cu), where=self.cu > 0)
        self.inv_cu = inv_cu
        S = np.diag(self.ct) - np.asarray((self.B.T @ sp.diags(inv_cu) @ self.B).todense())
        self.S_pinv = np.linalg.pinv(S)

    def solve(self, ru: np.ndarray, rt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Solve [diag(cu) B; B' diag(ct)] [a; b] = [ru; rt] (ru: n_u × m, rt: n_t × m)."""
        b = self.S_pinv @ (rt - self.B.T @ (ru * self.inv_cu[:, None]))
        a = (ru - self.B @ b) * self.inv_cu[:, None]
        return a, b


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
) -> DiDResult:
    r"""Borusyak, Jaravel & Spiess (2024) imputation estimator with their conservative SEs.

    1. On untreated observations :math:`\Omega_0` (never treated and not yet treated) fit
       :math:`y_{it} = \alpha_i + \beta_t + \varepsilon_{it}`.
    2. Impute :math:`\hat\tau_{it} = y_{it} - \hat\alpha_i - \hat\beta_t` on treated observations.
    3. Estimand :math:`\hat\tau_w = \sum_{it \in \Omega_1} w_{it}\hat\tau_{it}` (static ATT:
       :math:`w = 1/N_1`; horizon h: equal weights on observations with :math:`t - G_i = h`).

    Variance (BJS Theorem 3, conservative): :math:`\hat\sigma^2_w = \sum_c (\sum_{it\in c}
    v_{it}\tilde\varepsilon_{it})^2` with :math:`v = w` on :math:`\Omega_1`,
    :math:`v = -Z_0(Z_0'Z_0)^{-1}Z_1'w` on :math:`\Omega_0`; :math:`\tilde\varepsilon` is the
    first-stage residual on :math:`\Omega_0` and :math:`\hat\tau_{it} - \bar\tau_{g,e}` on
    :math:`\Omega_1`, :math:`\bar\tau_{g,e}` the :math:`v^2`-weighted mean within cohort × horizon.
    Clusters: ``unit`` by default; two columns = two-way (inclusion–exclusion).

    Parameters
    ----------
    data : DataFrame
        Long panel (balance not required).
    outcome, unit, time, cohort : str
    horizons : bool
        Also estimate the effect at every horizon e ≥ 0 (``table`` rows).
    cluster : str or (str, str), optional
    alpha : float

    Returns
    -------
    DiDResult

    Raises
    ------
    EstimationError
        A cohort treated in a period without untreated observations (no valid controls).
    """
    df, cn = _long(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster)
    df, dropped = _drop_always_treated(df)
    u = pd.factorize(df["zu"], sort=True)[0]
    tcode, tvals = pd.factorize(df["zt"], sort=True)
    n_u, n_t = int(u.max()) + 1, len(tvals)
    treated = ((df["zg"] > 0) & (df["zt"] >= df["zg"])).to_numpy()
    if not treated.any():
        raise EstimationError("no treated observations")
    y = df["zy"].to_numpy()
    o0 = ~treated
    fe = _TwoWayFE(u[o0], tcode[o0], n_u, n_t)
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
    ru = np.bincount(u[o0], weights=y[o0], minlength=n_u)[:, None]
    rt = np.bincount(tcode[o0], weights=y[o0], minlength=n_t)[:, None]
    a, b = fe.solve(ru, rt)
    fitted = a[u, 0] + b[tcode, 0]
    resid = y - fitted  # τ̂ on Ω1, ε̂ on Ω0
    g = df["zg"].to_numpy()
    ev = np.where(treated, df["zt"].to_numpy() - g, np.nan)
    # weights: static + one per horizon
    labels: list[str | int] = ["ATT"]
    W = [treated / treated.sum()]
    if horizons:
        for h in np.unique(ev[treated]):
            m = treated & (ev == h)
            labels.append(int(h))
            W.append(m / m.sum())
    Wm = np.column_stack(W)  # obs × m, zero on Ω0
    est = Wm[treated].T @ resid[treated]
    w1u = np.zeros((n_u, Wm.shape[1]))
    np.add.at(w1u, u[treated], Wm[treated])
    w1t = np.zeros((n_t, Wm.shape[1]))
    np.add.at(w1t, tcode[treated], Wm[treated])
    ga, gb = fe.solve(w1u, w1t)
    v = Wm.copy()
    v[o0] = -(ga[u[o0]] + gb[tcode[o0]])
    # ε̃ on Ω1: τ̂ minus its v²-weighted mean within cohort × horizon (per estimand)
    cell = pd.factorize(pd.MultiIndex.from_arrays([g[treated], ev[treated]]))[0]
    v1 = v[treated]
    num = np.zeros((cell.max() + 1, v1.shape[1]))
    den = np.zeros_like(num)
    np.add.at(num, cell, v1**2 * resid[treated][:, None])
    np.add.at(den, cell, v1**2)
    tbar = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    eps = np.repeat(resid[:, None], v.shape[1], axis=1)
    eps[treated] = resid[treated][:, None] - tbar[cell]
    scores = v * eps
    clusters = [df[c].to_numpy() for c in cn]
    var = np.diag(cluster_meat(scores, clusters))
    se = nan_if_tiny(np.sqrt(np.maximum(var, 0)))
    if horizons:
        table = pd.DataFrame({"e": labels[1:], "estimate": est[1:], "se": se[1:]})
    else:
        table = pd.DataFrame({"term": ["ATT"], "estimate": est[:1], "se": se[:1]})
    return DiDResult(estimator="BJS imputation", att=float(est[0]), se=float(se[0]),
                     table=with_ci(table, alpha), cohort_sizes=_cohort_sizes(df), n_obs=len(df),
                     n_units=n_u, dropped_units=dropped,
                     vcov_type=_vcov_label(cluster, unit).replace(
                         "CRV1, fixest default small-sample correction", "BJS conservative"),
                     alpha=alpha)


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
