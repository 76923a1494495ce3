"""Callaway & Sant'Anna (2021) group-time ATTs, their aggregations and inference.

Re-implementation (vectorised numpy, no per-unit loops) of R ``did::att_gt`` / ``aggte`` for
balanced panels, with the outcome-regression, IPW and doubly-robust 2×2 estimators of
Sant'Anna & Zhao (2020) as in R ``DRDID`` (``reg_did_panel``, ``std_ipw_did_panel``,
``drdid_panel``).  Equations: ``docs/methods/did.md``; conventions: ``docs/decisions/did.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from zonespill.did._bootstrap import _TINY, multiplier_bootstrap, seed_to_int
from zonespill.did._panel import ClusterSpec, WidePanel, cluster_meat, n_clusters, psd_diag_sqrt, to_wide
from zonespill.did._pretrend import PreTrendTest, joint_wald
from zonespill.did._support import check_min_units, cohort_support, thin_notes
from zonespill.did.inference import (
    NAN_OUT,
    BootWeights,
    InferenceKind,
    InferenceOut,
    check_inference_args,
    method_label,
    multiplier_t,
    permutations,
    possible_note,
    ri_from_stats,
)
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


def _two_by_two(dy: np.ndarray, D: np.ndarray, X: np.ndarray | None, method: str,
                trim_level: float = 0.995, diag: dict[str, float] | None = None) -> tuple[float, np.ndarray]:
    """ATT and influence function (length n1, DRDID scaling) of one 2×2 panel comparison.

    IPW/DR: controls with propensity score ≥ ``trim_level`` get zero weight (DRDID's trimming);
    ``diag`` (if given) receives the overlap diagnostics of the comparison.
    """
    n1 = len(D)
    Nt = D.sum()
    diag = {} if diag is None else diag
    if X is None or method == "reg":
        diag["max_w_share"] = 1.0 / float(n1 - Nt) if X is None else float("nan")
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
    ps = np.minimum(ps, 1 - 1e-6)  # as DRDID
    asy_ps = ((D - ps)[:, None] * X) @ hess
    # DRDID trimming: controls with p >= trim_level get no weight (treated are never trimmed)
    keep = (D == 1) | (ps < trim_level)
    w_t = D
    w_c = keep * ps * (1 - D) / (1 - ps)
    c = D == 0
    diag.update(ps_max_control=float(ps[c].max()), n_trimmed=float((c & ~keep).sum()),
                ps_mass_low=float((ps < 0.01).mean()), ps_mass_high=float((ps > 0.99).mean()),
                max_w_share=float(w_c.max() / w_c.sum()) if w_c.sum() > 0 else float("nan"))
    if w_c.sum() <= 0:
        raise EstimationError("no control weight left after propensity trimming")
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
    # chosen inference method (issue 11 part 2): p-value and CI of the overall estimate
    pvalue: float = float("nan")
    ci: tuple[float, float] = (float("nan"), float("nan"))
    method: str = "analytic (normal)"
    inference_possible: bool = True
    notes: tuple[str, ...] = ()
    # event study (kind="dynamic"): covariance of the event-time estimates, indexed by e
    vcov: pd.DataFrame | None = None
    # True when the overall estimate uses a thin (g,t) cell (include_thin_cells=True) or has none
    thin_overall: bool = False

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
    pretrend: PreTrendTest | WaldTest | None
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
    # small-sample inference (issue 11 part 2)
    inference: str = "analytic"
    boot_weights: str = "rademacher"
    inference_draws: int = 0
    inference_seed: int = 0
    refit: Callable[[np.ndarray, bool], CallawaySantAnnaResult] | None = field(default=None, repr=False)
    _ri_cache: dict[str, tuple[np.ndarray, np.ndarray, bool]] = field(default_factory=dict, repr=False)
    # RI fast path (no covariates): ATT(g,t) column under a permuted assignment from cohort sums
    ri_att: Callable[[np.ndarray, bool], np.ndarray] | None = field(default=None, repr=False)
    # identification / overlap diagnostics (issue 11 parts 3, 4)
    min_units_per_side: int = 2
    include_thin_cells: bool = False
    trim_level: float = 0.995
    notes: tuple[str, ...] = ()

    @property
    def cells(self) -> pd.DataFrame:
        """Support of every (g,t) cell: ``cohort, time, e, n_treated, n_control, thin, used, status``."""
        cols = ["cohort", "time", "n_treated", "n_control", "thin", "used", "status"]
        out = self.att_gt[[c for c in cols if c in self.att_gt]].copy()
        out.insert(2, "e", (out["time"] - out["cohort"]).astype(np.int64))
        return out

    @property
    def cohort_support(self) -> pd.DataFrame:
        """Per cohort: treated units and the fewest/most control units over its (g,t) cells."""
        return cohort_support(self.cells)

    @property
    def thin_cells(self) -> pd.DataFrame:
        """(g,t) cells with fewer than ``min_units_per_side`` units on a side."""
        c = self.cells
        return c[c["thin"]].reset_index(drop=True) if "thin" in c else c.iloc[:0]

    @property
    def overlap(self) -> pd.DataFrame:
        """Overlap diagnostics per (g,t) cell (IPW/DR with covariates; NaN otherwise)."""
        cols = ["cohort", "time", "ps_max_control", "n_trimmed", "ps_mass_low", "ps_mass_high",
                "max_w_share"]
        return self.att_gt[[c for c in cols if c in self.att_gt]].copy()

    @property
    def pvalue(self) -> float:
        """p-value of the overall ATT (``aggregate('simple')``) from the chosen inference method."""
        return self.aggregate("simple").pvalue

    @property
    def ci(self) -> tuple[float, float]:
        """(1 − α) CI of the overall ATT from the chosen inference method."""
        return self.aggregate("simple").ci

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
            how = f" ({p.note})" if isinstance(p, PreTrendTest) else ""
            lines.append(f"  pre-trend Wald{how}: W = {p.stat:.4f}, df = {p.df}, p = {p.pvalue:.5f}")
        lines.extend(f"  note: {n}" for n in self.notes)
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
        # unidentified (NaN) cells and, unless include_thin_cells, thin cells are not aggregated
        use = tab["used"].to_numpy(dtype=bool) if "used" in tab else np.ones(len(tab), dtype=bool)
        tab = tab[use]
        g = tab["cohort"].to_numpy(dtype=float)
        t = tab["time"].to_numpy(dtype=float)
        att = tab["att"].to_numpy(dtype=float)
        inf = self.influence[:, use]
        n = inf.shape[0]
        if not (g <= t).any():
            nan = float("nan")
            return CSAggregate(kind=kind, att=nan, se=nan, table=pd.DataFrame(), crit_val=nan,
                               alpha=self.alpha, inference="analytic", pvalue=nan,
                               notes=(*self.notes, "no identified post-treatment (g,t) cell to aggregate"),
                               thin_overall=True)
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
            has = np.array([bool(((g == gv) & (gv <= t)).any()) for gv in glist])
            wg = (g[: len(glist)] if _did212_group_wif else glist)[has]
            glist, pgg = glist[has], pgg[has]  # cohorts without an aggregated post cell drop out
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
            G = self.unit_cohort
            ind = (G[:, None] == wg[None, :]).astype(float) - pgg[None, :]
            S = pgg.sum()
            wif = ind / S - ind.sum(axis=1, keepdims=True) * (pgg / S**2)[None, :]
            psi_o = np.column_stack(cols) @ (pgg / S) + wif @ ga
        else:
            key = "time"
            for tv in np.unique(t[t >= g.min()]):
                idx = np.flatnonzero((t == tv) & (g <= t))
                if not len(idx):
                    continue
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
        est_all = np.array([*ests, overall])
        outs, label = self._inference_outs(kind, all_inf, est_all, se_all, levels)
        if key is not None:
            table = pd.DataFrame({key: levels, "att": ests, "se": se_all[:-1]})
            table["ci_lower"] = [o.ci[0] for o in outs[:-1]]
            table["ci_upper"] = [o.ci[1] for o in outs[:-1]]
            table["pvalue"] = [o.pvalue for o in outs[:-1]]
            if self.n_boot:
                table["cband_lower"] = table["att"] - crit * table["se"]
                table["cband_upper"] = table["att"] + crit * table["se"]
        if key is not None and "n_treated" in tab:
            lv_of = {"e": t - g, "cohort": g, "time": t}[key]
            post = np.ones(len(g), dtype=bool) if key == "e" else g <= t
            ntr = tab["n_treated"].to_numpy()
            thin_c = tab["thin"].to_numpy(dtype=bool)
            red = np.max if key == "cohort" else np.sum
            table["n_treated"] = [int(red(ntr[(lv_of == lv) & post])) for lv in levels]
            table["thin"] = [bool(thin_c[(lv_of == lv) & post].any()) for lv in levels]
        thin_overall = bool(tab["thin"].to_numpy(dtype=bool)[g <= t].any()) if "thin" in tab else False
        vcov = None
        if kind == "dynamic" and cols:
            Vd = cluster_meat(np.column_stack(cols), self.clusters) / n**2
            vcov = pd.DataFrame(Vd, index=pd.Index(np.asarray(levels, dtype=int), name="e"),
                                columns=pd.Index(np.asarray(levels, dtype=int), name="e"))
        treated_cl = (len(np.unique(self.clusters[0][self.unit_cohort > 0])) if self.clusters
                      else int((self.unit_cohort > 0).sum()))
        note = possible_note(treated_cl, outs[-1].min_pvalue if self.inference != "analytic" else 0.0,
                             self.alpha)
        return CSAggregate(kind=kind, att=overall, se=float(se_all[-1]), table=table, crit_val=crit,
                           alpha=self.alpha, inference="bootstrap" if self.n_boot else "analytic",
                           pvalue=outs[-1].pvalue, ci=outs[-1].ci, method=label,
                           inference_possible=note is None,
                           notes=((note,) if note else ()) + self.notes, vcov=vcov,
                           thin_overall=thin_overall)

    def _agg_estimates(self, kind: str, levels: list[float]) -> np.ndarray:
        """Point estimates [rows at ``levels``..., overall] of an aggregation (no inference; NaN
        for a missing level): the fast path for randomisation inference."""
        tab = self.att_gt
        if "used" in tab:  # same cells as aggregate()
            tab = tab[tab["used"].to_numpy(dtype=bool)]
        g = tab["cohort"].to_numpy(dtype=float)
        t = tab["time"].to_numpy(dtype=float)
        att = tab["att"].to_numpy(dtype=float)
        glist = np.array(sorted(self.cohort_sizes))
        pgg = np.array([self.cohort_sizes[k] for k in glist], dtype=float)
        pg = pgg[np.searchsorted(glist, g)]

        def wmean(idx: np.ndarray) -> float:
            return float((att[idx] * pg[idx]).sum() / pg[idx].sum()) if len(idx) else float("nan")

        if kind == "simple":
            return np.array([wmean(np.flatnonzero(g <= t))])
        if kind == "dynamic":
            rows = [wmean(np.flatnonzero(t - g == lv)) for lv in levels]
            allv = [wmean(np.flatnonzero(t - g == ev)) for ev in np.unique(t - g) if ev >= 0]
            return np.array([*rows, float(np.mean(allv))])
        if kind == "group":
            th = {gv: float(att[(g == gv) & (gv <= t)].mean()) for gv in glist}
            rows = [th.get(lv, float("nan")) for lv in levels]
            return np.array([*rows, float(sum(th[gv] * w for gv, w in zip(glist, pgg, strict=True))
                                          / pgg.sum())])
        rows = [wmean(np.flatnonzero((t == lv) & (g <= t))) for lv in levels]
        allv = [wmean(np.flatnonzero((t == tv) & (g <= t))) for tv in np.unique(t[t >= g.min()])]
        return np.array([*rows, float(np.mean(allv))])

    def _inference_outs(self, kind: str, all_inf: np.ndarray, est: np.ndarray, se: np.ndarray,
                        levels: list[float]) -> tuple[list[InferenceOut], str]:
        """p-values and CIs of [rows..., overall] from the chosen inference method."""
        z = float(stats.norm.ppf(1 - self.alpha / 2))
        if self.inference == "analytic":
            outs = []
            for e, s in zip(est, se, strict=True):
                p = float(2 * stats.norm.sf(abs(e / s))) if s > 0 else float("nan")
                outs.append(InferenceOut(pvalue=p, ci=(e - z * s, e + z * s), stat=e / s if s > 0 else np.nan,
                                         n_draws=0, enumerated=False, min_pvalue=0.0))
            label = "bootstrap SEs (normal)" if self.n_boot else "analytic (normal)"
            return outs, label
        if self.inference == "wild":
            if len(self.clusters) > 1:
                raise InputError("inference='wild' supports one clustering dimension", source="cluster")
            cl = self.clusters[0] if self.clusters else None
            res = multiplier_t(all_inf, est, cl, n_boot=self.inference_draws, weights=self.boot_weights,
                               seed=self.inference_seed, alpha=self.alpha)
            outs = [o if o is not None else NAN_OUT for o in res]
            ok = [o for o in outs if o.n_draws]
            G = len(np.unique(cl)) if cl is not None else all_inf.shape[0]
            label = method_label("wild-multiplier", n_draws=ok[0].n_draws if ok else 0,
                                 weights=self.boot_weights, enumerated=bool(ok and ok[0].enumerated), G=G)
            return outs, label
        # randomisation inference: refit under permuted cohorts (cached per aggregation kind)
        assert self.refit is not None
        fast = self.ri_att

        def agg(gp: np.ndarray, on_treatment: bool) -> np.ndarray:
            if fast is not None:  # same cells, same flags: only the ATT(g,t) column changes
                tab = self.att_gt.assign(att=fast(gp, on_treatment))
                return replace(self, att_gt=tab)._agg_estimates(kind, levels)
            assert self.refit is not None
            return self.refit(gp, on_treatment)._agg_estimates(kind, levels)

        if kind not in self._ri_cache:
            perms, exact = permutations(self.unit_cohort, self.inference_draws, self.inference_seed)
            Ay, Ad = [], []
            for gp in perms:
                Ay.append(agg(gp, False))
                Ad.append(agg(gp, True))
            self._ri_cache[kind] = (np.array(Ay), np.array(Ad), exact)
        Ay_, Ad_, exact = self._ri_cache[kind]
        td = agg(self.unit_cohort, True)
        post = np.array([lv >= 0 for lv in levels] + [True]) if kind == "dynamic" \
            else np.ones(len(est), dtype=bool)
        outs = ri_from_stats(est, td, Ay_, Ad_, exact=exact, alpha=self.alpha, post=post)
        return outs, method_label("ri", n_draws=Ay_.shape[0], enumerated=exact)


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
    inference: InferenceKind = "analytic",
    boot_weights: BootWeights = "rademacher",
    trim_level: float = 0.995,
    min_units_per_side: int = 2,
    include_thin_cells: bool = False,
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
        Multiplier-bootstrap draws (Rademacher weights); None = analytic SEs.  With
        ``inference="wild"``/``"ri"`` also the number of bootstrap draws / permutations
        (default 9999 / 999).
    seed : int or numpy Generator, optional
    alpha : float
    inference : {"analytic", "wild", "ri"}
        Method behind every ``.pvalue``/``.ci`` (of the result and its aggregations): normal;
        cluster multiplier bootstrap-t (full enumeration when 2^G ≤ draws under Rademacher
        weights); or randomisation inference permuting cohorts across units (sizes kept).
    boot_weights : {"rademacher", "webb"}
        Weights of the ``"wild"`` bootstrap-t.
    trim_level : float
        IPW/DR: control units with propensity score ≥ ``trim_level`` get zero weight (DRDID's
        trimming, default 0.995); overlap diagnostics per cell in ``.overlap`` and ``.notes``.
    min_units_per_side : int
        A (g,t) cell with fewer treated or control units is thin: flagged, excluded from
        aggregation unless ``include_thin_cells``, and named in ``.notes``.
    include_thin_cells : bool
        Aggregate thin cells too (still flagged).

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
    check_inference_args(inference, n_boot, boot_weights)
    panel = to_wide(data, outcome=outcome, unit=unit, time=time, cohort=cohort,
                    covariates=covariates, cluster=cluster)
    if not 0.5 < trim_level <= 1:
        raise InputError("trim_level must be in (0.5, 1]", source="trim_level")
    opts = dict(control_group=control_group, method=method, base_period=base_period,
                anticipation=anticipation, alpha=alpha, trim_level=float(trim_level),
                min_units_per_side=check_min_units(min_units_per_side),
                include_thin_cells=bool(include_thin_cells))
    # with inference="wild"/"ri", n_boot counts that method's draws; SEs stay analytic
    res = _fit(panel, n_boot=n_boot if inference == "analytic" else None, seed=seed,
               **opts)  # type: ignore[arg-type]
    if inference == "analytic":
        return res
    draws = int(n_boot) if n_boot else (9999 if inference == "wild" else 999)
    inf_seed = seed_to_int(seed)
    refit = None
    if inference == "ri":
        times = panel.times
        d_obs = ((panel.cohort[:, None] > 0) & (times[None, :] >= panel.cohort[:, None])).astype(float)
        kept = _prepare_cohorts(panel, anticipation)[1]

        def refit(g_kept: np.ndarray, on_treatment: bool) -> CallawaySantAnnaResult:
            g_all = panel.cohort.copy()
            g_all[kept] = g_kept
            p2 = replace(panel, cohort=g_all, Y=d_obs if on_treatment else panel.Y)
            return _fit(p2, n_boot=None, seed=None, **opts)  # type: ignore[arg-type]

        # permute the cohorts of the estimation sample as coded there (0 = never treated in sample)
    ri_att = None
    if inference == "ri" and panel.X is None:
        ri_att = _ri_att_fast(panel, res, d_obs[kept], kept)
    return replace(res, inference=inference, boot_weights=boot_weights, inference_draws=draws,
                   inference_seed=inf_seed, refit=refit, ri_att=ri_att)


def _ri_att_fast(panel: WidePanel, res: CallawaySantAnnaResult, d_kept: np.ndarray,
                 kept: np.ndarray) -> Callable[[np.ndarray, bool], np.ndarray]:
    """ATT(g,t) of the unconditional 2×2s (no covariates: mean change of the cohort minus mean
    change of its control cohorts) under a permuted cohort assignment, from cohort × period sums.

    With cohort sizes kept, every cell's control set is the same union of cohorts and every cell's
    support flags are unchanged, so only the cohort sums move: O(N·T) per assignment instead of a
    full refit (identical estimates up to rounding; checked against the refit in the tests)."""
    tl = panel.times
    delta = res.anticipation
    Yk = panel.Y[kept]
    G0 = res.unit_cohort
    vals, counts = np.unique(G0, return_counts=True)  # incl. 0; the multiset is permutation invariant
    n_c = counts.astype(float)
    coh = res.att_gt["cohort"].to_numpy(dtype=float)
    ti = np.searchsorted(tl, res.att_gt["time"].to_numpy(dtype=float))
    bb = np.empty(len(coh), dtype=np.int64)
    for k, (gv, t_i) in enumerate(zip(coh, ti, strict=True)):
        pre = np.flatnonzero(tl + delta < gv)
        bb[k] = (int(pre[-1]) if res.base_period == "universal"
                 else t_i - 1 if gv > tl[t_i] else int(pre[-1]))
    if res.control_group == "never":
        ctrl = np.broadcast_to(vals[None, :] == 0, (len(coh), len(vals)))
    else:
        ref = np.where(res.base_period == "universal", tl[np.maximum(ti, bb)], tl[ti])
        later = (ref[:, None] + delta < vals[None, :]) & (coh[:, None] != vals[None, :])
        ctrl = (vals[None, :] == 0) | later
    ctrl_f = ctrl.astype(float)
    n_ctrl = ctrl_f @ n_c
    tr_idx = np.searchsorted(vals, coh)
    base_cell = ti == bb
    nan_cell = ~np.isfinite(res.att_gt["att"].to_numpy(dtype=float))

    def att(g_kept: np.ndarray, on_treatment: bool) -> np.ndarray:
        Y = d_kept if on_treatment else Yk
        code = np.searchsorted(vals, g_kept)
        S = np.asarray(sp.csr_matrix((np.ones(len(code)), (code, np.arange(len(code)))),
                                     shape=(len(vals), len(code))) @ Y)
        dS = S[:, ti] - S[:, bb]  # cohorts × cells: summed change over each cell's two periods
        out = dS[tr_idx, np.arange(len(coh))] / n_c[tr_idx] - (ctrl_f * dS.T).sum(axis=1) / np.where(
            n_ctrl > 0, n_ctrl, 1.0)
        out[base_cell] = 0.0
        out[nan_cell] = np.nan
        return out

    return att


def _fit(
    panel: WidePanel,
    *,
    control_group: str,
    method: str,
    base_period: str,
    anticipation: int,
    n_boot: int | None,
    seed: int | np.random.Generator | None,
    alpha: float,
    trim_level: float = 0.995,
    min_units_per_side: int = 2,
    include_thin_cells: bool = False,
) -> CallawaySantAnnaResult:
    """ATT(g,t) on a validated wide panel (see :func:`callaway_santanna`)."""
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
    n_tr = np.zeros(K, dtype=np.int64)
    n_co = np.zeros(K, dtype=np.int64)
    status = [""] * K
    diag_cols = ("ps_max_control", "n_trimmed", "ps_mass_low", "ps_mass_high", "max_w_share")
    diags = {c: np.full(K, np.nan) for c in diag_cols}
    for k, (gv, ti, b) in enumerate(pairs):
        treated = gv == G
        if control_group == "never":
            ctrl = G == 0
        else:
            ref = tl[max(ti, b)] if base_period == "universal" else tl[ti]
            ctrl = (G == 0) | ((ref + anticipation < G) & (gv != G))
        n_tr[k], n_co[k] = int(treated.sum()), int(ctrl.sum())
        if ti == b:
            continue  # universal base period: normalised to zero
        # an unidentified cell becomes NaN with a message (as R did), never an abort of the fit
        if not ctrl.any():
            att[k] = np.nan
            status[k] = f"no valid control units (control_group='{control_group}')"
            continue
        sub = treated | ctrl
        dy = Y[sub, ti] - Y[sub, b]
        D = treated[sub].astype(float)
        Xs = None
        if X is not None:
            Xs = np.column_stack([np.ones(int(sub.sum())), X[sub, min(ti, b), :]])
        diag: dict[str, float] = {}
        try:
            a, psi = _two_by_two(dy, D, Xs, method, trim_level=trim_level, diag=diag)
        except (EstimationError, np.linalg.LinAlgError) as exc:
            att[k] = np.nan
            status[k] = str(exc)
            continue
        for c, v in diag.items():
            diags[c][k] = v
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
    se[np.isnan(att)] = np.nan
    table = pd.DataFrame({"cohort": cohorts, "time": times, "att": att, "se": se})
    table["ci_lower"] = table["att"] - z * table["se"]
    table["ci_upper"] = table["att"] + z * table["se"]
    if n_boot:
        table["cband_lower"] = table["att"] - crit * table["se"]
        table["cband_upper"] = table["att"] + crit * table["se"]
    thin = (n_tr < min_units_per_side) | (n_co < min_units_per_side)
    identified = np.isfinite(att)
    table["n_treated"] = n_tr
    table["n_control"] = n_co
    table["thin"] = thin
    table["used"] = identified & (include_thin_cells | ~thin)
    table["status"] = status
    for c in diag_cols:
        table[c] = diags[c]

    notes = _cs_notes(table, min_units_per_side, include_thin_cells, trim_level)
    # pre-trend test: pre-treatment cells t < g − δ only (anticipation cells are not pre-periods),
    # identified and not thin; singular covariance → pseudo-inverse with its rank (always reported)
    is_pre = times < cohorts - anticipation
    pre_idx = np.flatnonzero(is_pre & table["used"].to_numpy() & ~np.isnan(se))
    antic = tuple(f"(g={c:g}, t={t:g})" for c, t in zip(cohorts, times, strict=True)
                  if c - anticipation <= t < c) if anticipation else ()
    thin_pre = tuple(f"(g={c:g}, t={t:g}) thin" for c, t, th, ok in
                     zip(cohorts, times, thin, identified, strict=True)
                     if c - anticipation > t and th and ok and not include_thin_cells)
    pretrend = joint_wald(att[pre_idx], V[np.ix_(pre_idx, pre_idx)],
                          labels=[(float(cohorts[i]), float(times[i])) for i in pre_idx],
                          excluded=antic + thin_pre,
                          n_clusters=n_clusters(clusters, n), name="ATT(g,t) cells")
    return CallawaySantAnnaResult(
        att_gt=table, pretrend=pretrend, cohort_sizes=cohort_sizes, n_units=n, dropped_units=dropped,
        control_group=control_group, method=method, base_period=base_period, anticipation=int(anticipation),
        alpha=alpha, n_boot=int(n_boot) if n_boot else None, crit_val=crit, influence=inf,
        unit_cohort=G, clusters=clusters, boot_seed=boot_seed, min_units_per_side=min_units_per_side,
        include_thin_cells=include_thin_cells, trim_level=trim_level, notes=tuple(notes))


OVERLAP_WARN_SHARE = 0.5  # a control holding more than this share of the IPW weight is reported


def _cs_notes(table: pd.DataFrame, min_units: int, include_thin: bool, trim_level: float) -> list[str]:
    """Notes on unidentified cells, thin cells, propensity trimming and concentrated weights."""
    notes = []
    bad = table[table["status"] != ""]
    for r in bad.itertuples():
        notes.append(f"Callaway-Sant'Anna: ATT(g={r.cohort:g}, t={r.time:g}) not identified: {r.status} "
                     "(reported as NaN, not aggregated)")
    cells = table.assign(e=(table["time"] - table["cohort"]).astype(np.int64))
    notes += thin_notes(cells[table["status"] == ""], min_units=min_units, include_thin=include_thin,
                        estimator="Callaway-Sant'Anna")
    trimmed = table[table["n_trimmed"] > 0]
    if len(trimmed):
        notes.append(f"Callaway-Sant'Anna: propensity trimming at {trim_level:g} dropped "
                     f"{int(trimmed['n_trimmed'].sum())} control unit-cell(s) in {len(trimmed)} "
                     "(g,t) cell(s)")
    conc = table[table["max_w_share"] > OVERLAP_WARN_SHARE]
    if len(conc):
        worst = conc.iloc[int(np.argmax(conc["max_w_share"].to_numpy()))]
        notes.append(f"Callaway-Sant'Anna: weak overlap — in {len(conc)} (g,t) cell(s) one control unit "
                     f"holds more than {OVERLAP_WARN_SHARE:.0%} of the control weight (max "
                     f"{worst['max_w_share']:.0%} at g={worst['cohort']:g}, t={worst['time']:g})")
    return notes

