"""Callaway & Sant'Anna (2021) group-time ATTs, their aggregations and inference.

Re-implementation (vectorised numpy, no per-unit loops) of R ``did::att_gt`` / ``aggte`` for
balanced panels, with the outcome-regression, IPW and doubly-robust 2×2 estimators of
Sant'Anna & Zhao (2020) as in R ``DRDID`` (``reg_did_panel``, ``std_ipw_did_panel``,
``drdid_panel``).  Equations: ``docs/methods/did.md``; conventions: ``docs/decisions/did.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.did._bootstrap import _TINY, multiplier_bootstrap, seed_to_int
from zonespill.did._panel import ClusterSpec, WidePanel, cluster_meat, psd_diag_sqrt, to_wide
from zonespill.errors import EstimationError, InputError

AggKind = Literal["simple", "dynamic", "group", "calendar"]


# ----------------------------------------------------------------------------------------------
# 2×2 estimators (DRDID panel versions); each returns (att, influence function on the subset)
# ----------------------------------------------------------------------------------------------
def _logit(X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logit MLE by Newton–Raphson; returns fitted probabilities and (X'WX/n)^{-1}."""
    n, k = X.shape
    beta = np.zeros(k)
    pbar = D.mean()
    beta[0] = np.log(pbar / (1 - pbar)) if np.allclose(X[:, 0], 1.0) else 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        H = X.T @ (X * (p * (1 - p))[:, None])
        step = np.linalg.solve(H, X.T @ (D - p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-13 * (1 + np.max(np.abs(beta))):
            break
    else:  # pragma: no cover - pathological separation
        raise EstimationError("propensity-score logit did not converge")
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    H = X.T @ (X * (p * (1 - p))[:, None]) / n
    return p, np.linalg.inv(H)


def _ols_controls(X: np.ndarray, dy: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS of Δy on X among controls: fitted values for all, asymptotic linear representation."""
    n = len(D)
    c = D == 0
    Xc = X[c]
    XtX = Xc.T @ Xc
    if 1.0 / np.linalg.cond(XtX) < np.finfo(float).eps:
        raise EstimationError("control-group outcome regression is singular")
    beta = np.linalg.solve(XtX, Xc.T @ dy[c])
    fit = X @ beta
    asy = ((1 - D) * (dy - fit))[:, None] * X @ np.linalg.inv(XtX / n)
    return fit, asy


def _two_by_two(dy: np.ndarray, D: np.ndarray, X: np.ndarray | None, method: str) -> tuple[float, np.ndarray]:
    """ATT and influence function (length n1, DRDID scaling) of one 2×2 panel comparison."""
    n1 = len(D)
    Nt = D.sum()
    if X is None:  # intercept only: all three estimators reduce to the difference of mean changes
        mt = dy[D == 1].mean()
        mc = dy[D == 0].mean()
        inf = n1 * (D * (dy - mt) / Nt - (1 - D) * (dy - mc) / (n1 - Nt))
        return float(mt - mc), inf
    if method == "reg":
        fit, asy_ols = _ols_controls(X, dy, D)
        eta_t = np.mean(D * dy) / np.mean(D)
        eta_c = np.mean(D * fit) / np.mean(D)
        inf_t = (D * dy - D * eta_t) / np.mean(D)
        inf_c = (D * fit - D * eta_c + asy_ols @ np.mean(D[:, None] * X, axis=0)) / np.mean(D)
        return float(eta_t - eta_c), inf_t - inf_c
    ps, hess = _logit(X, D)
    if ps.max() >= 0.999:
        raise EstimationError("overlap violated (propensity score ≥ 0.999)")
    asy_ps = ((D - ps)[:, None] * X) @ hess
    ps = np.minimum(ps, 1 - 1e-16)
    w_t = D
    w_c = ps * (1 - D) / (1 - ps)
    if method == "ipw":
        eta_t = np.mean(w_t * dy) / np.mean(w_t)
        eta_c = np.mean(w_c * dy) / np.mean(w_c)
        inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
        M2 = np.mean((w_c * (dy - eta_c))[:, None] * X, axis=0)
        inf_c = (w_c * dy - w_c * eta_c + asy_ps @ M2) / np.mean(w_c)
        return float(eta_t - eta_c), inf_t - inf_c
    fit, asy_ols = _ols_controls(X, dy, D)
    r = dy - fit
    eta_t = np.mean(w_t * r) / np.mean(w_t)
    eta_c = np.mean(w_c * r) / np.mean(w_c)
    inf_t = (w_t * r - w_t * eta_t - asy_ols @ np.mean(w_t[:, None] * X, axis=0)) / np.mean(w_t)
    M2 = np.mean((w_c * (r - eta_c))[:, None] * X, axis=0)
    M3 = np.mean(w_c[:, None] * X, axis=0)
    inf_c = (w_c * r - w_c * eta_c + asy_ps @ M2 - asy_ols @ M3) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WaldTest:
    """Wald test of H0: all pre-treatment ATT(g,t) = 0 (R did's ``W`` / ``Wpval``)."""

    stat: float
    df: int
    pvalue: float


@dataclass(frozen=True)
class CSAggregate:
    """An aggregation of ATT(g,t) (R did ``aggte``).

    ``att``/``se`` are the overall summary; ``table`` has one row per event time ``e``, cohort or
    calendar period with ``att, se, ci_lower, ci_upper`` (and ``cband_lower, cband_upper`` with
    the bootstrap sup-t critical value ``crit_val`` when bootstrapped).
    """

    kind: str
    att: float
    se: float
    table: pd.DataFrame
    crit_val: float
    alpha: float
    inference: str

    def to_frame(self) -> pd.DataFrame:
        """Overall row followed by the disaggregated rows."""
        key = {"dynamic": "e", "group": "cohort", "calendar": "time"}.get(self.kind)
        z = stats.norm.ppf(1 - self.alpha / 2)
        top = pd.DataFrame({"row": ["overall"], "att": [self.att], "se": [self.se],
                            "ci_lower": [self.att - z * self.se], "ci_upper": [self.att + z * self.se]})
        if key is None:
            return top
        body = self.table.rename(columns={key: "level"}).assign(row=key)
        return pd.concat([top, body], ignore_index=True)

    def summary(self) -> str:
        """Plain-text summary."""
        lines = [f"Callaway-Sant'Anna aggregation: {self.kind}  ({self.inference} SEs)",
                 f"  overall ATT = {self.att:.6f}  (se {self.se:.6f})"]
        if len(self.table):
            lines.append(self.table.to_string(index=False, float_format=lambda v: f"{v:.6f}"))
        return "\n".join(lines)


@dataclass(frozen=True)
class CallawaySantAnnaResult:
    """Group-time average treatment effects ATT(g,t) with influence functions for aggregation."""

    att_gt: pd.DataFrame
    pretrend: WaldTest | None
    cohort_sizes: dict[float, int]
    n_units: int
    dropped_units: int
    control_group: str
    method: str
    base_period: str
    anticipation: int
    alpha: float
    n_boot: int | None
    crit_val: float
    influence: np.ndarray = field(repr=False)
    unit_cohort: np.ndarray = field(repr=False)
    clusters: tuple[np.ndarray, ...] = field(repr=False)
    boot_seed: int | None = field(repr=False)

    @property
    def att(self) -> float:
        """Overall ATT (``aggregate('simple')``)."""
        return self.aggregate("simple").att

    @property
    def se(self) -> float:
        """Standard error of the overall ATT."""
        return self.aggregate("simple").se

    def to_frame(self) -> pd.DataFrame:
        """The ATT(g,t) table."""
        return self.att_gt.copy()

    def summary(self) -> str:
        """Plain-text summary."""
        inf = "bootstrap" if self.n_boot else "analytic"
        lines = [f"Callaway-Sant'Anna ATT(g,t): control={self.control_group}, method={self.method}, "
                 f"base_period={self.base_period}, anticipation={self.anticipation}, {inf} SEs",
                 f"  units: {self.n_units} (dropped already-treated: {self.dropped_units}); "
                 f"treated per cohort: {self.cohort_sizes}",
                 self.att_gt.to_string(index=False, float_format=lambda v: f"{v:.6f}")]
        if self.pretrend is not None:
            p = self.pretrend
            lines.append(f"  pre-trend Wald: W = {p.stat:.4f}, df = {p.df}, p = {p.pvalue:.5f}")
        return "\n".join(lines)

    # -- aggregation ---------------------------------------------------------------------------
    def _se(self, inf: np.ndarray) -> np.ndarray:
        n = inf.shape[0]
        se = psd_diag_sqrt(cluster_meat(inf, self.clusters)) / n
        se[~(se > _TINY)] = np.nan
        return se

    def _wif_att(self, idx: np.ndarray, groups: np.ndarray, pg: np.ndarray, att: np.ndarray) -> np.ndarray:
        """Influence of estimating the cohort-share weights, already multiplied by the ATTs (n,).

        ``wif_i = Σ_k [1{G_i=g_k} − p_k] att_k / Σp − (Σ_k [1{G_i=g_k} − p_k]) Σ_k p_k att_k / (Σp)²``.
        """
        G = self.unit_cohort
        S = pg[idx].sum()
        pa = float((pg[idx] * att[idx]).sum())
        a_by_g = pd.Series(att[idx]).groupby(groups[idx]).sum()
        c_by_g = pd.Series(np.ones(len(idx))).groupby(groups[idx]).sum()
        a_i = pd.Series(G).map(a_by_g).fillna(0.0).to_numpy()
        c_i = pd.Series(G).map(c_by_g).fillna(0.0).to_numpy()
        return (a_i - pa) / S - (c_i - pg[idx].sum()) * pa / S**2

    def aggregate(self, kind: AggKind = "simple", *, _did212_group_wif: bool = False) -> CSAggregate:
        """Aggregate ATT(g,t) as R ``did::aggte(type=kind)`` (with ``na.rm``; no balancing).

        Parameters
        ----------
        kind : {"simple", "dynamic", "group", "calendar"}
            simple: θ = Σ_{g≤t} P(G=g) ATT(g,t) / Σ_{g≤t} P(G=g); dynamic: θ(e) = Σ_g w_g ATT(g,g+e),
            overall = mean of θ(e) for e ≥ 0; group: θ(g) = mean_{t≥g} ATT(g,t), overall
            Σ_g P(G=g) θ(g) / Σ P(G=g); calendar: θ(t) = Σ_{g≤t} w_g ATT(g,t), overall mean over t.

        Returns
        -------
        CSAggregate
        """
        if kind not in ("simple", "dynamic", "group", "calendar"):
            raise InputError("kind must be simple, dynamic, group or calendar", source="kind")
        tab = self.att_gt
        g = tab["cohort"].to_numpy(dtype=float)
        t = tab["time"].to_numpy(dtype=float)
        att = tab["att"].to_numpy(dtype=float)
        inf = self.influence
        n = inf.shape[0]
        glist = np.array(sorted(self.cohort_sizes))
        pgg = np.array([self.cohort_sizes[k] for k in glist], dtype=float) / n
        pg = pgg[np.searchsorted(glist, g)]

        def agg(idx: np.ndarray, w: np.ndarray, wif: bool) -> tuple[float, np.ndarray]:
            est = float((att[idx] * w).sum())
            psi = inf[:, idx] @ w
            if wif:
                psi = psi + self._wif_att(idx, g, pg, att)
            return est, psi

        cols: list[np.ndarray] = []
        levels: list[float] = []
        ests: list[float] = []
        if kind == "simple":
            keep = np.flatnonzero(g <= t)
            overall, psi_o = agg(keep, pg[keep] / pg[keep].sum(), True)
            key = None
        elif kind == "dynamic":
            key = "e"
            e = t - g
            for ev in np.unique(e):
                idx = np.flatnonzero(e == ev)
                est, psi = agg(idx, pg[idx] / pg[idx].sum(), True)
                levels.append(ev)
                ests.append(est)
                cols.append(psi)
            pos = np.array(levels) >= 0
            overall = float(np.mean(np.array(ests)[pos]))
            psi_o = np.column_stack(cols)[:, pos].mean(axis=1)
        elif kind == "group":
            key = "cohort"
            for gv in glist:
                idx = np.flatnonzero((g == gv) & (gv <= t))
                est, psi = agg(idx, np.full(len(idx), 1.0 / len(idx)), False)
                levels.append(gv)
                ests.append(est)
                cols.append(psi)
            ga = np.array(ests)
            overall = float((ga * pgg).sum() / pgg.sum())
            # did >= 2.1.3 / csdid convention: weights' influence uses the cohorts themselves.
            # did 2.1.2 indexed the ATT(g,t) cohort vector by 1..#cohorts instead (reproducible with
            # the private flag, used only to show where the reference numbers come from).
            wg = g[: len(glist)] if _did212_group_wif else glist
            G = self.unit_cohort
            ind = (G[:, None] == wg[None, :]).astype(float) - pgg[None, :]
            S = pgg.sum()
            wif = ind / S - ind.sum(axis=1, keepdims=True) * (pgg / S**2)[None, :]
            psi_o = np.column_stack(cols) @ (pgg / S) + wif @ ga
        else:
            key = "time"
            for tv in np.unique(t[t >= g.min()]):
                idx = np.flatnonzero((t == tv) & (g <= t))
                est, psi = agg(idx, pg[idx] / pg[idx].sum(), True)
                levels.append(tv)
                ests.append(est)
                cols.append(psi)
            overall = float(np.mean(ests))
            psi_o = np.column_stack(cols).mean(axis=1)

        all_inf = np.column_stack([*cols, psi_o]) if cols else psi_o[:, None]
        z = float(stats.norm.ppf(1 - self.alpha / 2))
        crit = z
        if self.n_boot:
            assert self.boot_seed is not None
            bo = multiplier_bootstrap(all_inf, n_boot=self.n_boot, seed=self.boot_seed,
                                      clusters=self.clusters, alpha=self.alpha, band_cols=len(cols))
            if cols:
                crit = bo.crit_val
            se_all = bo.se
        else:
            se_all = self._se(all_inf)
        table = pd.DataFrame()
        if key is not None:
            table = pd.DataFrame({key: levels, "att": ests, "se": se_all[:-1]})
            table["ci_lower"] = table["att"] - z * table["se"]
            table["ci_upper"] = table["att"] + z * table["se"]
            if self.n_boot:
                table["cband_lower"] = table["att"] - crit * table["se"]
                table["cband_upper"] = table["att"] + crit * table["se"]
        return CSAggregate(kind=kind, att=overall, se=float(se_all[-1]), table=table, crit_val=crit,
                           alpha=self.alpha, inference="bootstrap" if self.n_boot else "analytic")


# ----------------------------------------------------------------------------------------------
# estimator
# ----------------------------------------------------------------------------------------------
def _prepare_cohorts(panel: WidePanel, anticipation: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Recode cohorts after the sample as never treated, drop already-treated units."""
    times = panel.times
    G = panel.cohort.copy()
    G[times[-1] + anticipation < G] = 0.0
    keep = ~((G > 0) & (times[0] + anticipation >= G))
    return G, keep, int((~keep).sum())


def callaway_santanna(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    control_group: Literal["never", "notyet"] = "never",
    method: Literal["dr", "ipw", "reg"] = "dr",
    covariates: Sequence[str] | None = None,
    base_period: Literal["varying", "universal"] = "varying",
    anticipation: int = 0,
    cluster: ClusterSpec = None,
    n_boot: int | None = None,
    seed: int | np.random.Generator | None = None,
    alpha: float = 0.05,
) -> CallawaySantAnnaResult:
    r"""Callaway & Sant'Anna (2021) group-time average treatment effects on a balanced panel.

    For cohort g (first treated period) and period t, with base period b (g − δ − 1 for post periods;
    t − 1 for pre periods under ``base_period="varying"``; g − δ − 1 always under ``"universal"``):

    .. math::
        ATT(g,t) = E[Y_t - Y_b \mid G=g] - E[Y_t - Y_b \mid C=1]

    where C is never treated (``control_group="never"``) or not yet treated by max(t, b) + δ
    (``"notyet"``).  With covariates the 2×2 is the outcome-regression (``"reg"``), normalised IPW
    (``"ipw"``) or doubly-robust (``"dr"``) estimator of Sant'Anna & Zhao (2020), as R DRDID.
    Units already treated in the first period are dropped; cohorts after the last period are
    treated as never treated.

    Parameters
    ----------
    data : DataFrame
        Long balanced panel (one row per unit and period).
    outcome, unit, time, cohort : str
        Column names; ``cohort`` is the first treated period, 0 or missing for never treated.
    control_group : {"never", "notyet"}
    method : {"dr", "ipw", "reg"}
    covariates : sequence of str, optional
        Covariates (taken from the earlier of the two periods of each 2×2, as R did).
    base_period : {"varying", "universal"}
    anticipation : int
        Number of anticipation periods δ.
    cluster : str or (str, str), optional
        Cluster the influence-function SEs by one column or two (Cameron–Gelbach–Miller
        inclusion–exclusion on the IF cluster sums). Must be constant within unit.
    n_boot : int, optional
        Multiplier-bootstrap draws (Rademacher weights); None = analytic SEs.
    seed : int or numpy Generator, optional
    alpha : float

    Returns
    -------
    CallawaySantAnnaResult
        ``.att_gt`` (cohort, time, att, se, ci_lower, ci_upper [, cband_lower, cband_upper]),
        ``.aggregate(kind)``, ``.pretrend``, ``.cohort_sizes``.

    Raises
    ------
    InputError
        Bad arguments, unbalanced panel, varying cohort.
    EstimationError
        A cohort without valid controls (or without a pre-treatment period).
    """
    if control_group not in ("never", "notyet"):
        raise InputError("control_group must be 'never' or 'notyet'", source="control_group")
    if method not in ("dr", "ipw", "reg"):
        raise InputError("method must be 'dr', 'ipw' or 'reg'", source="method")
    if base_period not in ("varying", "universal"):
        raise InputError("base_period must be 'varying' or 'universal'", source="base_period")
    if not isinstance(anticipation, int | np.integer) or anticipation < 0:
        raise InputError("anticipation must be a non-negative integer", source="anticipation")
    if n_boot is not None and (not isinstance(n_boot, int | np.integer) or n_boot < 2):
        raise InputError("n_boot must be an integer >= 2 or None", source="n_boot")
    if not 0 < alpha < 1:
        raise InputError("alpha must be in (0, 1)", source="alpha")
    panel = to_wide(data, outcome=outcome, unit=unit, time=time, cohort=cohort,
                    covariates=covariates, cluster=cluster)
    G_all, keep, dropped = _prepare_cohorts(panel, anticipation)
    Y = panel.Y[keep]
    G = G_all[keep]
    X = panel.X[keep] if panel.X is not None else None
    clusters = tuple(c[keep] for c in panel.clusters)
    tl = panel.times
    n, T = Y.shape
    glist = np.unique(G[G > 0])
    if len(glist) == 0:
        raise EstimationError("no treated cohort in the data")
    if control_group == "never" and not (G == 0).any():
        raise EstimationError("no never-treated units: use control_group='notyet'")
    cohort_sizes = {float(gv): int((gv == G).sum()) for gv in glist}

    t_idx = range(1, T) if base_period == "varying" else range(T)
    pairs: list[tuple[float, int, int]] = []
    for gv in glist:
        pre = np.flatnonzero(tl + anticipation < gv)
        if len(pre) == 0:
            raise EstimationError(f"cohort {gv:g} has no pre-treatment period")
        for ti in t_idx:
            b = int(pre[-1]) if base_period == "universal" else ti - 1 if gv > tl[ti] else int(pre[-1])
            pairs.append((float(gv), ti, b))

    K = len(pairs)
    inf = np.zeros((n, K), order="F")
    att = np.zeros(K)
    for k, (gv, ti, b) in enumerate(pairs):
        if ti == b:
            continue  # universal base period: normalised to zero
        treated = gv == G
        if control_group == "never":
            ctrl = G == 0
        else:
            ref = tl[max(ti, b)] if base_period == "universal" else tl[ti]
            ctrl = (G == 0) | ((ref + anticipation < G) & (gv != G))
        if not ctrl.any():
            raise EstimationError(
                f"cohort {gv:g} has no valid control units in period {tl[ti]:g} "
                f"(control_group='{control_group}')")
        sub = treated | ctrl
        dy = Y[sub, ti] - Y[sub, b]
        D = treated[sub].astype(float)
        Xs = None
        if X is not None:
            Xs = np.column_stack([np.ones(int(sub.sum())), X[sub, min(ti, b), :]])
        try:
            a, psi = _two_by_two(dy, D, Xs, method)
        except EstimationError as exc:
            raise EstimationError(f"cohort {gv:g}, period {tl[ti]:g}: {exc}") from exc
        att[k] = a
        inf[sub, k] = psi * (n / sub.sum())

    cohorts = np.array([p[0] for p in pairs])
    times = np.array([tl[p[1]] for p in pairs])
    meat = cluster_meat(inf, clusters)
    V = meat / n**2
    se = psd_diag_sqrt(V)
    se[~(se > _TINY)] = np.nan
    z = float(stats.norm.ppf(1 - alpha / 2))
    boot_seed = None
    crit = z
    if n_boot:
        boot_seed = seed_to_int(seed)
        bo = multiplier_bootstrap(inf, n_boot=int(n_boot), seed=boot_seed, clusters=clusters, alpha=alpha)
        ok = ~np.isnan(se)
        se[ok] = bo.se[ok]
        crit = bo.crit_val
    table = pd.DataFrame({"cohort": cohorts, "time": times, "att": att, "se": se})
    table["ci_lower"] = table["att"] - z * table["se"]
    table["ci_upper"] = table["att"] + z * table["se"]
    if n_boot:
        table["cband_lower"] = table["att"] - crit * table["se"]
        table["cband_upper"] = table["att"] + crit * table["se"]

    pre_idx = np.flatnonzero((cohorts > times) & ~np.isnan(se))
    pretrend = None
    if len(pre_idx):
        Vp = V[np.ix_(pre_idx, pre_idx)]
        if 1.0 / np.linalg.cond(Vp) > np.finfo(float).eps:
            ap = att[pre_idx]
            W = float(ap @ np.linalg.solve(Vp, ap))
            pretrend = WaldTest(stat=W, df=len(pre_idx), pvalue=float(stats.chi2.sf(W, len(pre_idx))))
    return CallawaySantAnnaResult(
        att_gt=table, pretrend=pretrend, cohort_sizes=cohort_sizes, n_units=n, dropped_units=dropped,
        control_group=control_group, method=method, base_period=base_period, anticipation=int(anticipation),
        alpha=alpha, n_boot=int(n_boot) if n_boot else None, crit_val=crit, influence=inf,
        unit_cohort=G, clusters=clusters, boot_seed=boot_seed)
