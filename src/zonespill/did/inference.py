"""Small-sample inference for the DiD estimators: wild cluster restricted bootstrap-t (WCR),
cluster multiplier bootstrap-t (Callaway–Sant'Anna) and randomisation inference (RI).

Why here and not in the estimators: every estimator reduces to either a linear regression after
projecting out unit and time fixed effects (TWFE, Sun–Abraham, BJS as the regression on one dummy
per treated observation) or an influence function (CS), so one WCR and one multiplier-t routine
serve all of them, and RI only needs each estimator's linear weights on the outcome.

WCR (Cameron–Gelbach–Miller 2008; Roodman et al. 2019 "fast and wild", type 11):
for ``H0: R'β = r`` in ``y = Xβ + u`` (X with the fixed effects already projected out, Frisch–Waugh),
restricted residuals ``ũ``, bootstrap ``y* = Xβ̃ + ũ∘v`` with one weight per cluster, statistic
``t* = (R'β* − r)/se*(CRV1)``.  Everything is affine in ``d = R'β̂ − r``, so p-values for any
``r`` (and the confidence set by test inversion) reuse one set of draws.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonespill.errors import EstimationError, InputError

InferenceKind = Literal["analytic", "wild", "ri"]
BootWeights = Literal["rademacher", "webb"]

_WEBB = np.sqrt(np.array([3.0, 2.0, 1.0, 1.0, 2.0, 3.0]) / 2.0) * np.array([-1, -1, -1, 1, 1, 1])
_REL_TIE = 1e-9  # |t*| within this relative distance of |t| counts as a tie (exact-arithmetic equality)


def check_inference_args(inference: str, n_boot: int | None, boot_weights: str) -> None:
    """Validate the shared keyword arguments (InputError naming the argument)."""
    if inference not in ("analytic", "wild", "ri"):
        raise InputError("inference must be 'analytic', 'wild' or 'ri'", source="inference")
    if boot_weights not in ("rademacher", "webb"):
        raise InputError("boot_weights must be 'rademacher' or 'webb'", source="boot_weights")
    if n_boot is not None and (isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer)
                               or n_boot < 2):
        raise InputError("n_boot must be an integer >= 2 or None", source="n_boot")


@dataclass(frozen=True)
class InferenceOut:
    """p-value and (1 − α) confidence interval of one estimate from a finite-sample method."""

    pvalue: float
    ci: tuple[float, float]
    stat: float
    n_draws: int
    enumerated: bool
    min_pvalue: float  # smallest p-value the method can produce with these draws

    @property
    def possible(self) -> bool:
        """False when even the most extreme outcome cannot be rejected at the level used."""
        return bool(self.min_pvalue < 1.0)


# ----------------------------------------------------------------------------------------------
# fixed-effect projection (exact Frisch–Waugh: demean by unit, then regress on demeaned periods)
# ----------------------------------------------------------------------------------------------
class FEProjector:
    """Residual maker of unit and time fixed effects on a (possibly unbalanced) panel."""

    def __init__(self, unit: np.ndarray, time: np.ndarray) -> None:
        self.u = np.asarray(unit)
        self.t = np.asarray(time)
        self.n_u = int(self.u.max()) + 1
        cnt = np.bincount(self.u, minlength=self.n_u).astype(float)
        self.inv_cnt = 1.0 / cnt
        T = int(self.t.max()) + 1
        Td = np.zeros((len(self.t), T))
        Td[np.arange(len(self.t)), self.t] = 1.0
        Td = self._demean_unit(Td[:, 1:])
        # orthonormal basis of the unit-demeaned period dummies (rank-revealing: unbalanced panels)
        if Td.shape[1]:
            # orthonormal basis from the (T−1) × (T−1) Gram matrix (an N × T SVD costs seconds at
            # county scale); rank: eigenvalues > 1e-12 × the largest (rounding leaves ~1e-16 on
            # directions that are exactly collinear, e.g. in unbalanced panels)
            lam, V = np.linalg.eigh(Td.T @ Td)
            keep = lam > lam.max() * 1e-12
            self.Q = Td @ (V[:, keep] / np.sqrt(lam[keep]))
        else:
            self.Q = np.zeros((len(self.t), 0))

    def _demean_unit(self, M: np.ndarray) -> np.ndarray:
        import scipy.sparse as sp

        if not hasattr(self, "_Ut"):  # unit-sum operator (sparse product: no slow ufunc.at)
            self._Ut = sp.csr_matrix((np.ones(len(self.u)), (self.u, np.arange(len(self.u)))),
                                     shape=(self.n_u, len(self.u)))
        sums = np.asarray(self._Ut @ M)
        return M - (sums * self.inv_cnt[:, None])[self.u]

    def lowrank(self, X: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
        """The projection of ``X`` (N × k) as sparse minus low rank: ``(Xw, Q, C)`` with
        ``self(X) = Xw − Q C'``, Xw the unit-demeaned X (sparse when X is, e.g. dummies) and Q the
        N × (T−1) period basis — lets the WCR work with k-dimensional cluster sums at O(nnz)."""
        import scipy.sparse as sp

        Xs = (sp.csr_matrix(X, dtype=float) if sp.issparse(X)
              else sp.csr_matrix(np.asarray(X, dtype=float).reshape(len(self.u), -1)))
        self._demean_unit(np.zeros((len(self.u), 0)))  # builds the unit-sum operator
        means = sp.diags(self.inv_cnt) @ (self._Ut @ Xs)
        Xw = (Xs - self._Ut.T @ means).tocsr()
        C = np.asarray(Xw.T @ self.Q)
        return Xw, self.Q, C

    def __call__(self, M: np.ndarray) -> np.ndarray:
        """Residuals of the columns of ``M`` (N × k, or N) on unit and time dummies."""
        one = M.ndim == 1
        M2 = np.asarray(M, dtype=float).reshape(len(self.u), -1)
        Mu = self._demean_unit(M2)
        out = Mu - self.Q @ (self.Q.T @ Mu)
        return out[:, 0] if one else out


# ----------------------------------------------------------------------------------------------
# bootstrap weights
# ----------------------------------------------------------------------------------------------
def draw_weights(G: int, n_boot: int, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """G × B weight matrix; Rademacher with 2^G ≤ n_boot enumerates all 2^G sign vectors."""
    if kind == "rademacher" and G < 63 and n_boot >= 2**G:
        v = np.array(list(itertools.product([-1.0, 1.0], repeat=G))).T
        return v, True
    if kind == "rademacher":
        return rng.integers(0, 2, size=(G, n_boot)).astype(float) * 2.0 - 1.0, False
    return _WEBB[rng.integers(0, 6, size=(G, n_boot))], False


NAN_OUT = InferenceOut(pvalue=float("nan"), ci=(float("nan"), float("nan")), stat=float("nan"), n_draws=0,
                       enumerated=False, min_pvalue=float("nan"))


def _cluster_codes(cluster: np.ndarray) -> tuple[np.ndarray, int]:
    _, codes = np.unique(np.asarray(cluster), return_inverse=True)
    return codes, int(codes.max()) + 1


def _csum(x: np.ndarray, codes: np.ndarray, G: int) -> np.ndarray:
    """Cluster sums of the rows of x (N or N × k)."""
    if x.ndim == 1:
        return np.bincount(codes, weights=x, minlength=G)
    out = np.zeros((G, x.shape[1]))
    np.add.at(out, codes, x)
    return out


def _invert(pfun: Callable[[float], float], scale: float, alpha: float) -> tuple[float, float]:
    """Confidence set {d : p(d) > α} around d = 0 (where p = 1) by bracketing and bisection on each
    side; ±inf when the test never rejects within 1e4 scales."""
    out = []
    for sgn in (1.0, -1.0):
        lo, hi = 0.0, scale
        while pfun(sgn * hi) > alpha:
            lo, hi = hi, hi * 2.0
            if hi > 1e4 * scale:
                hi = np.inf
                break
        if np.isfinite(hi):
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if pfun(sgn * mid) > alpha:
                    lo = mid
                else:
                    hi = mid
                if hi - lo <= 1e-12 * max(scale, abs(hi)):
                    break
            out.append(sgn * 0.5 * (lo + hi))
        else:
            out.append(sgn * np.inf)
    return out[0], out[1]


# ----------------------------------------------------------------------------------------------
# wild cluster restricted bootstrap-t
# ----------------------------------------------------------------------------------------------
class _WCRInvert:
    """p-value and test-inversion CI shared by every WCR bootstrap-t (one tie convention)."""

    estimate: float
    se: float
    n0: np.ndarray
    enumerated: bool

    def tstats(self, d: float) -> tuple[float, np.ndarray]:  # pragma: no cover - overridden
        raise NotImplementedError

    def pvalue_at(self, d: float) -> float:
        """Two-sided p-value: share of draws with |t*| > |t| (ties in exact arithmetic excluded)."""
        t, tb = self.tstats(d)
        return float(np.mean(np.abs(tb) > abs(t) * (1 + _REL_TIE)))

    def out(self, alpha: float, *, r: float = 0.0) -> InferenceOut:
        """p-value of H0: R'β = r and the (1 − α) WCR confidence interval by test inversion."""
        d0 = self.estimate - r
        p = self.pvalue_at(d0)
        dl, du = _invert(self.pvalue_at, self.se, alpha)
        B = self.n0.shape[0]
        return InferenceOut(pvalue=p, ci=(self.estimate - dl, self.estimate - du),
                            stat=d0 / self.se, n_draws=B, enumerated=self.enumerated,
                            min_pvalue=2.0 / B if self.enumerated else 0.0)


@dataclass(frozen=True)
class WCRQuad(_WCRInvert):
    """A WCR bootstrap-t stored by its sufficient statistics: with ``d = θ̂ − θ0`` every draw has
    ``t*(d) = (n0 + d·n1) / sqrt(q00 + 2d·q01 + d²·q11)`` (the squared bootstrap SE is quadratic
    in d), so p-values and test inversion need O(B) memory, not the G × B score matrices."""

    estimate: float
    se: float
    n0: np.ndarray
    n1: np.ndarray
    q00: np.ndarray
    q01: np.ndarray
    q11: np.ndarray
    enumerated: bool

    def tstats(self, d: float) -> tuple[float, np.ndarray]:
        """Observed t and bootstrap t* at ``d = θ̂ − θ0``."""
        den = np.sqrt(np.maximum(self.q00 + 2.0 * d * self.q01 + d * d * self.q11, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            tb = (self.n0 + d * self.n1) / den
        return d / self.se, tb



def _one_blas_thread() -> Any:
    """BLAS limited to one thread: the bootstrap's products are many small ones, where thread
    start-up and oversubscription (shared cores) cost more than they save (5× measured)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def wcr_setup(
    X: np.ndarray,
    y: np.ndarray,
    cluster: np.ndarray,
    R: np.ndarray,
    *,
    n_boot: int,
    weights: str = "rademacher",
    seed: int | None = None,
) -> WCRQuad:
    """Set up the WCR bootstrap of ``R'β`` in ``y = Xβ + u`` clustered by ``cluster``.

    ``X`` must already have any fixed effects projected out.  Small-sample factor
    ``G/(G−1)·(N−1)/(N−k)`` (k = columns of X), as ``wildboottest`` / boottest; it cancels in the
    bootstrap p-value.
    """
    R = np.asarray(R, dtype=float).ravel()
    w = wcr_setup_many(X, y, cluster, R[:, None], n_boot=n_boot, weights=weights, seed=seed)[0]
    if w is None:
        raise EstimationError("cluster-robust standard error is zero (no variation to bootstrap)")
    return w


def wcr_setup_many(
    X: np.ndarray | None,
    y: np.ndarray,
    cluster: np.ndarray,
    R: np.ndarray,
    *,
    n_boot: int,
    weights: str = "rademacher",
    seed: int | None = None,
    chunk: int = 1024,
    X_lowrank: tuple[Any, np.ndarray, np.ndarray] | None = None,
) -> list[WCRQuad | None]:
    """:func:`wcr_setup` for every column of ``R`` (k × m), one set of weight draws for all (None
    for a column that is zero or has a zero cluster-robust SE).

    Per column the bootstrap scores ``Z0 + d·Z1`` (G × B) are reduced, chunk by chunk of draws, to
    their quadratic sums (:class:`WCRQuad`), and products are ordered G×k·(k×B) (never G × G):
    memory O(k·B + G·chunk), not O(m·G·B).  ``X_lowrank = (Xs, Q, C)`` gives X as
    ``Xs − Q C'`` (``Xs`` sparse, Q N × r; :meth:`FEProjector.lowrank`), ``X`` then unused: every
    cluster sum X_g'w_g is a sparse product plus a rank-r term, never an N × k array.
    """
    import scipy.sparse as sp

    Xs: Any
    if X_lowrank is not None:
        Xs, Ql, Cl = X_lowrank
    else:
        if X is None:
            raise InputError("wcr_setup_many needs X or X_lowrank", source="X")
        Xd = np.asarray(X, dtype=float)
        Xs = Xd[:, None] if Xd.ndim == 1 else Xd
        Ql = np.zeros((Xs.shape[0], 0))
        Cl = np.zeros((Xs.shape[1], 0))
    y = np.asarray(y, dtype=float)
    R = np.asarray(R, dtype=float)
    N, k = Xs.shape
    codes, G = _cluster_codes(cluster)
    if G < 2:
        raise EstimationError("the wild cluster bootstrap needs at least 2 clusters")
    rows = np.arange(N)

    def xmul(a: np.ndarray) -> np.ndarray:  # X a
        return np.asarray(Xs @ a) - Ql @ (Cl.T @ a)

    def xtmul(z: np.ndarray) -> np.ndarray:  # X'z
        return np.asarray(Xs.T @ z) - Cl @ (Ql.T @ z)

    XsQ = np.asarray(Xs.T @ Ql)
    XtX0: Any = Xs.T @ Xs
    XtX = (XtX0.toarray() if hasattr(XtX0, "toarray") else np.asarray(XtX0)) - XsQ @ Cl.T - Cl @ XsQ.T \
        + Cl @ (Ql.T @ Ql) @ Cl.T
    try:
        cho = np.linalg.cholesky(XtX)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("regressors are collinear after removing unit and time effects") from exc

    def solve(b: np.ndarray) -> np.ndarray:
        return np.linalg.solve(cho.T, np.linalg.solve(cho, b))

    def csums(wt: np.ndarray) -> tuple[Any, np.ndarray]:
        """Cluster sums of X weighted by wt, G × k, as (sparse-or-dense part, G × r part)."""
        Gw = sp.csr_matrix((wt, (codes, rows)), shape=(G, N))
        return Gw @ Xs, np.asarray(Gw @ Ql)

    def at_mul(cs: tuple[Any, np.ndarray], M: np.ndarray) -> np.ndarray:  # (G × k) @ M
        return np.asarray(cs[0] @ M) - cs[1] @ (Cl.T @ M)

    def a_mul(cs: tuple[Any, np.ndarray], V: np.ndarray) -> np.ndarray:  # (k × G) @ V
        return np.asarray(cs[0].T @ V) - Cl @ (cs[1].T @ V)

    bhat = solve(xtmul(y))
    uhat = y - xmul(bhat)
    ssc = G / (G - 1) * (N - 1) / (N - k)
    v, enum = draw_weights(G, n_boot, weights, np.random.default_rng(seed))
    B = v.shape[1]
    A = solve(R)  # k × m
    out: list[WCRQuad | None] = []
    with _one_blas_thread():
        P0 = solve(a_mul(csums(uhat), v))  # (X'X)⁻¹ S0 v, k × B: shared by every column
        for j in range(R.shape[1]):
            a = A[:, j]
            denR = float(R[:, j] @ a)
            if not denR > 0:
                out.append(None)
                continue
            q = xmul(a)  # R'(X'X)^{-1} X_i'
            c0 = _csum(q * uhat, codes, G)
            se = float(np.sqrt(ssc * (c0**2).sum()))
            if not se > 1e-12 * max(1.0, float(np.abs(q).max()) * float(np.abs(y).max())):
                out.append(None)  # zero cluster-robust SE (e.g. a singleton cell): nothing to bootstrap
                continue
            c1 = _csum(q * q, codes, G) / denR
            Aq = csums(q)  # X_g'q_g
            P1 = solve(a_mul(Aq, v)) / denR  # k × B
            q00 = np.empty(B)
            q01 = np.empty(B)
            q11 = np.empty(B)
            for s0 in range(0, B, chunk):
                sl = slice(s0, min(s0 + chunk, B))
                V = v[:, sl]
                Z0 = c0[:, None] * V - at_mul(Aq, P0[:, sl])
                Z1 = c1[:, None] * V - at_mul(Aq, P1[:, sl])
                q00[sl] = ssc * (Z0 * Z0).sum(axis=0)
                q01[sl] = ssc * (Z0 * Z1).sum(axis=0)
                q11[sl] = ssc * (Z1 * Z1).sum(axis=0)
            out.append(WCRQuad(estimate=float(R[:, j] @ bhat), se=se, n0=c0 @ v, n1=c1 @ v, q00=q00,
                               q01=q01, q11=q11, enumerated=enum))
    return out


# ----------------------------------------------------------------------------------------------
# cluster multiplier bootstrap-t on influence functions (Callaway–Sant'Anna)
# ----------------------------------------------------------------------------------------------
def multiplier_t(
    inf: np.ndarray,
    est: np.ndarray,
    cluster: np.ndarray | None,
    *,
    n_boot: int,
    weights: str,
    seed: int,
    alpha: float,
) -> list[InferenceOut | None]:
    """Bootstrap-t on cluster sums of influence functions, one result per column (None where the
    column has no variation).

    With cluster sums ``S_c`` and weights ``V_c``: ``t* = Σ_c V_c S_c / sqrt(Σ_c (V_c S_c − mean)²)``,
    observed ``t = n θ̂ / sqrt(Σ_c (S_c − mean)²)``; p = share of |t*| ≥ |t|, CI = θ̂ ± q(|t*|) se.
    """
    inf = np.asarray(inf, dtype=float)
    if inf.ndim == 1:
        inf = inf[:, None]
    n, K = inf.shape
    if cluster is None:
        S = inf
    else:
        codes, G0 = _cluster_codes(cluster)
        S = _csum(inf, codes, G0)
    G = S.shape[0]
    v, enum = draw_weights(G, n_boot, weights, np.random.default_rng(seed))
    B = v.shape[1]
    out: list[InferenceOut | None] = []
    for j in range(K):
        s = S[:, j]
        sc = s - s.mean()
        ss = float(np.sqrt((sc**2).sum()))
        if not ss > 1e-12 * max(1.0, float(np.abs(s).max())):
            out.append(None)
            continue
        se = ss / n
        t = float(est[j]) / se
        P = s[:, None] * v
        num = P.sum(axis=0)
        den = np.sqrt(((P - P.mean(axis=0)) ** 2).sum(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            tb = np.abs(num / den)
        tb = np.where(np.isfinite(tb), tb, 0.0)
        p = float(np.mean(tb >= abs(t) * (1 - _REL_TIE)))
        q = float(np.quantile(tb, 1 - alpha, method="inverted_cdf"))
        out.append(InferenceOut(pvalue=p, ci=(float(est[j]) - q * se, float(est[j]) + q * se), stat=t,
                                n_draws=B, enumerated=enum, min_pvalue=0.0))
    return out


# ----------------------------------------------------------------------------------------------
# randomisation inference (permute cohorts across units, cohort sizes kept)
# ----------------------------------------------------------------------------------------------
def n_assignments(cohort_by_unit: np.ndarray) -> int:
    """Number of distinct cohort assignments with the observed cohort sizes (multinomial)."""
    _, counts = np.unique(cohort_by_unit, return_counts=True)
    total = math.factorial(int(counts.sum()))
    for c in counts:
        total //= math.factorial(int(c))
    return total


def _enumerate(cohort_by_unit: np.ndarray) -> np.ndarray:
    """All distinct arrangements of the cohort multiset (rows)."""
    vals, counts = np.unique(cohort_by_unit, return_counts=True)
    n = len(cohort_by_unit)
    rows: list[np.ndarray] = []

    def rec(free: list[int], k: int, cur: np.ndarray) -> None:
        if k == len(vals) - 1:
            c = cur.copy()
            c[free] = vals[k]
            rows.append(c)
            return
        for pick in itertools.combinations(free, int(counts[k])):
            c = cur.copy()
            c[list(pick)] = vals[k]
            rest = [i for i in free if i not in pick]
            rec(rest, k + 1, c)

    rec(list(range(n)), 0, np.zeros(n, dtype=float))
    return np.array(rows)


def permutations(cohort_by_unit: np.ndarray, n_perm: int, seed: int) -> tuple[np.ndarray, bool]:
    """Cohort assignments to evaluate: all distinct ones when there are at most ``n_perm``
    (exact RI; includes the observed one), else ``n_perm`` random permutations (observed added
    separately by the caller)."""
    g = np.asarray(cohort_by_unit, dtype=float)
    if n_assignments(g) <= n_perm:
        return _enumerate(g), True
    rng = np.random.default_rng(seed)
    return np.array([rng.permutation(g) for _ in range(n_perm)]), False


def ri_inference(
    weights_fn: Callable[[np.ndarray], np.ndarray],
    cohort_by_unit: np.ndarray,
    y: np.ndarray,
    d_obs: np.ndarray,
    *,
    n_perm: int,
    seed: int,
    alpha: float,
    post: np.ndarray,
) -> list[InferenceOut]:
    """RI for m linear estimates ``θ̂ = A(g)'y`` (``weights_fn(g)`` → N × m).

    Sharp null of a constant effect τ0 on treated observations: ``T_π(τ0) = A_π'y − τ0 A_π'D_obs``;
    p(τ0) = share of assignments with ``|T_π| ≥ |T_obs|`` (exact enumeration when the number of
    distinct assignments ≤ ``n_perm``; else (1 + #)/(1 + n_perm)).  CI by inverting p(τ0) for
    estimates with ``post`` true (effects); pre-period estimates get the p-value of τ0 = 0 only.
    """
    g_obs = np.asarray(cohort_by_unit, dtype=float)
    A_obs = weights_fn(g_obs)
    m = A_obs.shape[1]
    perms, exact = permutations(g_obs, n_perm, seed)
    Ay = np.empty((len(perms), m))
    Ad = np.empty((len(perms), m))
    for i, gp in enumerate(perms):
        A = weights_fn(gp)
        Ay[i] = y @ A
        Ad[i] = d_obs @ A
    ok = np.abs(A_obs).max(axis=0) > 0
    return ri_from_stats(np.where(ok, y @ A_obs, np.nan), d_obs @ A_obs, Ay, Ad, exact=exact,
                         alpha=alpha, post=post)


def ri_from_stats(
    ty: np.ndarray,
    td: np.ndarray,
    Ay: np.ndarray,
    Ad: np.ndarray,
    *,
    exact: bool,
    alpha: float,
    post: np.ndarray,
) -> list[InferenceOut]:
    """RI p-values and CIs from the estimates on y (``Ay``, assignments × m) and on the observed
    treatment indicator (``Ad``) under each assignment; ``ty``/``td`` the observed ones (NaN in
    ``ty``: degenerate estimate)."""
    res = []
    n_draw = Ay.shape[0]
    for j in range(len(ty)):
        if not np.isfinite(ty[j]) or not np.isfinite(Ay[:, j]).all():
            res.append(NAN_OUT)
            continue

        def pfun(tau: float, j: int = j) -> float:
            tobs = abs(ty[j] - tau * td[j])
            tp = np.abs(Ay[:, j] - tau * Ad[:, j])
            hits = float(np.sum(tp >= tobs - 1e-10 * (abs(ty[j]) + abs(tau) + 1e-300)))
            return hits / n_draw if exact else (1.0 + hits) / (1.0 + n_draw)

        p = pfun(0.0)
        minp = 1.0 / n_draw if exact else 1.0 / (1.0 + n_draw)
        if post[j]:
            scale = float(np.std(Ay[:, j])) or 1.0
            # p(τ0) is 1 at τ0 = θ̂ (T_obs = 0 there): invert around it in d = θ̂ − τ0
            dl, du = _invert(lambda d, j=j: pfun(ty[j] - d), scale, alpha)  # type: ignore[misc]
            lo, hi = sorted((float(ty[j] - dl), float(ty[j] - du)))
        else:
            lo = hi = float("nan")
        res.append(InferenceOut(pvalue=p, ci=(lo, hi), stat=float(ty[j]), n_draws=n_draw,
                                enumerated=exact, min_pvalue=minp))
    return res


def method_label(kind: str, *, n_draws: int = 0, weights: str = "rademacher", enumerated: bool = False,
                 G: int | None = None) -> str:
    """Human-readable name of the inference method (for table notes)."""
    if kind == "analytic":
        return "analytic (normal)"
    how = (f"full enumeration of 2^{G} = {n_draws} sign vectors" if enumerated
           else f"{n_draws} {weights.capitalize()} draws")
    if kind == "wild":
        return f"wild cluster restricted bootstrap-t (WCR11, {how}; {G} clusters)"
    if kind == "wild-multiplier":
        return f"cluster multiplier bootstrap-t ({how}; {G} clusters)"
    if kind == "wild-bjs":
        return ("wild cluster restricted bootstrap-t of the BJS imputation t-statistic (homogeneous-effect "
                f"null imposed; {how}; {G} clusters)")
    how = "exact over all" if enumerated else "random"
    return f"randomisation inference ({how} {n_draws} cohort assignments across units)"


# ----------------------------------------------------------------------------------------------
# regression estimators as linear designs (for WCR and RI)
# ----------------------------------------------------------------------------------------------
Builder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LinearDesign:
    """An estimator written as ``θ̂ = R'β̂`` in ``y = Zγ + X(g)β + u`` (Z: unit and time dummies).

    ``build(g_unit)`` returns the regressors ``X`` (N × k, before the fixed-effect projection) and
    ``R`` (k × m) for a cohort assignment ``g_unit`` (one cohort per unit, 0 = never treated);
    column j of ``R`` is reported estimate j.  ``post[j]``: estimate j is a treatment effect
    (RI inverts it for a confidence interval).
    """

    build: Builder
    unit: np.ndarray  # N integer unit codes 0..n_u-1
    time: np.ndarray  # N integer period codes
    y: np.ndarray
    d_obs: np.ndarray  # observed treatment indicator (RI sharp null)
    cluster: np.ndarray
    g_unit: np.ndarray
    post: np.ndarray
    # the same regressors as a scipy sparse matrix (when the maker has one): fast WCR / RI
    build_sparse: Callable[[np.ndarray], tuple[Any, np.ndarray]] | None = None


def linear_weights(design: LinearDesign, proj: FEProjector, g_unit: np.ndarray) -> np.ndarray:
    """N × m weights A with θ̂ = A'y for cohort assignment ``g_unit``."""
    X, R = design.build(g_unit)
    Xp = proj(X)
    XtX = Xp.T @ Xp
    return Xp @ np.linalg.solve(XtX, R)


def linear_inference(
    design: LinearDesign,
    kind: str,
    *,
    n_boot: int,
    weights: str,
    seed: int,
    alpha: float,
) -> list[InferenceOut]:
    """WCR (``kind="wild"``) or RI (``kind="ri"``) for every estimate of a linear design."""
    with _one_blas_thread():  # tall-skinny products: threads cost 10-100× on shared cores
        return _linear_inference(design, kind, n_boot=n_boot, weights=weights, seed=seed, alpha=alpha)


def _linear_inference(design: LinearDesign, kind: str, *, n_boot: int, weights: str, seed: int,
                      alpha: float) -> list[InferenceOut]:
    proj = FEProjector(design.unit, design.time)
    if kind == "wild":
        X, R = (design.build_sparse or design.build)(design.g_unit)
        tests = wcr_setup_many(None, proj(design.y), design.cluster, R, n_boot=n_boot,
                               weights=weights, seed=seed, X_lowrank=proj.lowrank(X))
        return [w.out(alpha) if w is not None else NAN_OUT for w in tests]
    m = design.post.shape[0]
    if design.build_sparse is not None:
        return _ri_sparse(design, proj, n_perm=n_boot, seed=seed, alpha=alpha)

    def wfn(g: np.ndarray) -> np.ndarray:
        A = linear_weights(design, proj, g)
        if A.shape[1] != m:  # pragma: no cover - guarded by builders on balanced panels
            raise EstimationError("randomisation inference: a permuted assignment changes the set of "
                                  "estimated effects (unbalanced panel); use inference='wild'")
        return A

    return ri_inference(wfn, design.g_unit, design.y, design.d_obs, n_perm=n_boot, seed=seed,
                        alpha=alpha, post=design.post)


def _ri_sparse(design: LinearDesign, proj: FEProjector, *, n_perm: int, seed: int,
               alpha: float) -> list[InferenceOut]:
    """:func:`ri_inference` for a design with sparse regressors: per assignment only the k × k
    normal matrix of the FE-projected regressors (unit demeaning by sparse sums, the period part
    through the rank-(T−1) basis) and X'(My, Md) — no N × k array, no N × m weights."""
    assert design.build_sparse is not None
    m = design.post.shape[0]
    MZ = proj(np.column_stack([design.y, design.d_obs]))
    proj._demean_unit(np.zeros((len(design.y), 0)))  # builds the unit-sum operator
    Ut, inv, Q = proj._Ut, proj.inv_cnt, proj.Q
    invUtQ = inv[:, None] * np.asarray(Ut @ Q)

    def thetas(g_unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xr, R = design.build_sparse(g_unit)  # type: ignore[misc]
        if R.shape[1] != m:  # pragma: no cover - guarded by builders on balanced panels
            raise EstimationError("randomisation inference: a permuted assignment changes the set of "
                                  "estimated effects (unbalanced panel); use inference='wild'")
        UX = (Ut @ Xr).tocsc()
        XtX = np.asarray((Xr.T @ Xr - UX.T @ (UX.multiply(inv[:, None]))).todense())
        C = np.asarray(Xr.T @ Q) - np.asarray(UX.T @ invUtQ)
        XtX -= C @ C.T
        return R.T @ np.linalg.solve(XtX, np.asarray(Xr.T @ MZ)), R

    with _one_blas_thread():
        th_obs, R_obs = thetas(design.g_unit)
        perms, exact = permutations(design.g_unit, n_perm, seed)
        Ay = np.empty((len(perms), m))
        Ad = np.empty((len(perms), m))
        for i, gp in enumerate(perms):
            th, _ = thetas(gp)
            Ay[i], Ad[i] = th[:, 0], th[:, 1]
    ok = np.abs(R_obs).max(axis=0) > 0
    return ri_from_stats(np.where(ok, th_obs[:, 0], np.nan), th_obs[:, 1], Ay, Ad, exact=exact,
                         alpha=alpha, post=design.post)


def _unit_cohorts(unit: np.ndarray, g_obs: np.ndarray) -> np.ndarray:
    n_u = int(unit.max()) + 1
    g = np.zeros(n_u)
    g[unit] = g_obs
    return g


def design_from_long(
    df: pd.DataFrame,
    cluster_col: str,
    make: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    post: np.ndarray,
    *,
    anticipation: int = 0,
) -> LinearDesign:
    """Linear design on a regression long frame (columns zy, zu, zt, zg and the cluster column);
    ``make(g_obs, t, unit)`` → (X, R) given every observation's cohort; treated observations
    (RI's sharp null) are t ≥ G − δ."""
    unit = pd.factorize(df["zu"], sort=True)[0]
    time = pd.factorize(df["zt"], sort=True)[0]
    t = df["zt"].to_numpy(dtype=float)
    g_obs = df["zg"].to_numpy(dtype=float)
    d = ((g_obs > 0) & (t >= g_obs - anticipation)).astype(float)

    def build(g_unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return make(g_unit[unit], t, unit)

    sparse_make = getattr(make, "sparse", None)
    build_sparse = None
    if sparse_make is not None:
        def build_sparse(g_unit: np.ndarray) -> tuple[Any, np.ndarray]:
            return sparse_make(g_unit[unit], t, unit)  # type: ignore[no-any-return]

    return LinearDesign(build=build, unit=unit, time=time, y=df["zy"].to_numpy(dtype=float), d_obs=d,
                        cluster=df[cluster_col].to_numpy(), g_unit=_unit_cohorts(unit, g_obs),
                        post=np.asarray(post, dtype=bool), build_sparse=build_sparse)


def twfe_static_maker(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TWFE: X = D_it = 1{G > 0, t ≥ G}, R = 1."""
    return ((g > 0) & (t >= g)).astype(float)[:, None], np.ones((1, 1))


@dataclass(frozen=True)
class _Maker:
    """A regressor builder ``(g, t, unit) → (X, R)`` with the same X as a sparse matrix
    (``.sparse``): the WCR and RI use the sparse form at scale, the dense one stays the reference."""

    dense: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    sparse: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[Any, np.ndarray]]

    def __call__(self, g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.dense(g, t, unit)


def _dummies(col: np.ndarray, k: int) -> Any:
    """N × k sparse 0/1 matrix with a one at (i, col[i]) where col[i] ≥ 0."""
    import scipy.sparse as sp

    r = np.flatnonzero(col >= 0)
    return sp.csr_matrix((np.ones(len(r)), (r, col[r])), shape=(len(col), k))


def twfe_maker(anticipation: int = 0) -> Callable[[np.ndarray, np.ndarray, np.ndarray],
                                                  tuple[np.ndarray, np.ndarray]]:
    """TWFE with treatment dated from G − δ: X = 1{G > 0, t ≥ G − δ}, R = 1."""
    def make(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ((g > 0) & (t >= g - anticipation)).astype(float)[:, None], np.ones((1, 1))

    def make_sp(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[Any, np.ndarray]:
        return _dummies(np.where((g > 0) & (t >= g - anticipation), 0, -1), 1), np.ones((1, 1))
    return _Maker(make, make_sp)


def event_maker(evs: list[int]) -> Callable[[np.ndarray, np.ndarray, np.ndarray],
                                           tuple[np.ndarray, np.ndarray]]:
    """TWFE event study: one dummy per event time in ``evs``; R = identity."""
    def make(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = np.where(g > 0, t - g, np.nan)
        X = np.column_stack([(rel == e).astype(float) for e in evs])
        return X, np.eye(len(evs))

    ev_arr = np.array(evs, dtype=float)
    order = np.argsort(ev_arr)

    def make_sp(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[Any, np.ndarray]:
        rel = np.where(g > 0, t - g, np.nan)
        pos = np.clip(np.searchsorted(ev_arr[order], rel), 0, max(len(evs) - 1, 0))
        col = order[pos] if len(evs) else np.zeros(len(g), dtype=np.int64)
        hit = (g > 0) & (ev_arr[col] == rel) if len(evs) else np.zeros(len(g), dtype=bool)
        return _dummies(np.where(hit, col, -1), len(evs)), np.eye(len(evs))
    return _Maker(make, make_sp)


def sunab_maker(cells: list[tuple[float, int]], rows: list[int], *,
                used: np.ndarray | None = None) -> Callable[
        [np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Sun–Abraham: cohort × event-time dummies; R = [overall (e ≥ 0), one column per row e], each
    weighting cells by their number of observations (fixest ``aggregate``), over the cells flagged
    in ``used`` (all by default)."""
    ce = np.array([c[1] for c in cells])
    ok = np.ones(len(cells), dtype=bool) if used is None else np.asarray(used, dtype=bool)

    def weights(n_cell: np.ndarray) -> np.ndarray:
        n = np.where(ok, n_cell, 0.0)
        M = np.column_stack([np.where(ce >= 0, n, 0.0)] + [np.where(ce == e, n, 0.0) for e in rows])
        cnt = M.sum(axis=0)
        return np.divide(M, cnt, out=np.zeros_like(M), where=cnt > 0)

    def make(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = np.where(g > 0, t - g, np.nan)
        X = np.column_stack([((g == cg) & (rel == e)).astype(float) for cg, e in cells])
        return X, weights(X.sum(axis=0))

    look = pd.Series(np.arange(len(cells)), index=pd.MultiIndex.from_arrays(
        [np.array([float(c[0]) for c in cells]), np.array([int(c[1]) for c in cells], dtype=np.int64)]))

    def make_sp(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[Any, np.ndarray]:
        col = np.full(len(g), -1, dtype=np.int64)
        tr = np.flatnonzero(g > 0)
        if len(cells) and len(tr):
            keys = pd.MultiIndex.from_arrays([g[tr].astype(float), np.rint(t[tr] - g[tr]).astype(np.int64)])
            col[tr] = look.reindex(keys).fillna(-1).to_numpy(dtype=np.int64)
        X = _dummies(col, len(cells))
        return X, weights(np.asarray(X.sum(axis=0)).ravel())
    return _Maker(make, make_sp)


def bjs_maker(
    horizons: list[int] | None,
    *,
    anticipation: int = 0,
    used: set[tuple[float, int]] | None = None,
) -> Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """BJS imputation as OLS with one dummy per treated observation (t ≥ G − δ; its coefficient is
    the imputed effect y − α̂_i − β̂_t with the fixed effects fitted on untreated observations);
    R = the estimand weights: static ATT (e ≥ 0), then each horizon in ``horizons``, restricted to
    the (cohort, event time) cells in ``used`` when given (thin cells excluded by the estimator)."""
    def make(g: np.ndarray, t: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tr = np.flatnonzero((g > 0) & (t >= g - anticipation))
        X = np.zeros((len(g), len(tr)))
        X[tr, np.arange(len(tr))] = 1.0
        ev = (t - g)[tr]
        ok = np.ones(len(tr), dtype=bool)
        if used is not None:
            ok = np.array([(float(a), int(b)) in used for a, b in zip(g[tr], ev, strict=True)], dtype=bool)
        cols = [ok & (ev >= 0)] + ([ok & (ev == h) for h in horizons] if horizons else [])
        M = np.column_stack(cols).astype(float)
        cnt = M.sum(axis=0)
        return X, np.divide(M, cnt, out=np.zeros_like(M), where=cnt > 0)
    return make


def treated_clusters(g_unit: np.ndarray, unit: np.ndarray, cluster: np.ndarray) -> int:
    """Number of clusters that contain an ever-treated unit."""
    g_obs = g_unit[unit]
    return len(np.unique(np.asarray(cluster)[g_obs > 0]))


def possible_note(n_treated_clusters: int, min_pvalue: float, alpha: float) -> str | None:
    """Why finite-sample inference is not possible here (None if it is)."""
    if n_treated_clusters < 2:
        return (f"inference not possible: {n_treated_clusters} treated cluster(s); cluster-robust, wild "
                "bootstrap and randomisation p-values are not valid with a single treated cluster")
    if np.isnan(min_pvalue):
        return "inference not possible: the estimate has no sampling variation to resample"
    if not min_pvalue < alpha:
        return (f"inference not possible: the smallest attainable p-value is {min_pvalue:.3g} "
                f">= alpha = {alpha:g}")
    return None


def attach(
    res: Any,
    kind: str,
    outs: list[InferenceOut],
    *,
    label: str,
    n_treated_clusters: int,
    row_outs: list[InferenceOut] | None = None,
) -> Any:
    """Copy of a DiDResult with the overall p-value/CI from ``outs[0]``, the table's ``pvalue``,
    ``ci_lower``, ``ci_upper`` from ``row_outs`` (or ``outs[1:]``) and the method named."""
    o = outs[0]
    rows = row_outs if row_outs is not None else outs[1:]
    table = res.table.copy()
    if not rows and "term" in table.columns and len(table) == 1:
        rows = [o]  # static table: its one row is the overall estimate
    if rows and len(rows) == len(table):
        table["pvalue"] = [r.pvalue for r in rows]
        table["ci_lower"] = [r.ci[0] for r in rows]
        table["ci_upper"] = [r.ci[1] for r in rows]
    note = possible_note(n_treated_clusters, o.min_pvalue, res.alpha)
    extra: dict[str, Any] = {}
    if hasattr(res, "notes"):  # identification notes (issue 11 part 3) carry the reason too
        extra["notes"] = tuple(res.notes) + ((note,) if note else ())
    return replace(res, table=table, inference=kind, inference_label=label,
                   inference_pvalue=o.pvalue, inference_ci=o.ci, inference_possible=note is None,
                   **extra)


def regression_inference(
    res: Any,
    df: pd.DataFrame,
    cnames: tuple[str, ...],
    designs: list[tuple[Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                        np.ndarray]],
    *,
    inference: str,
    n_boot: int | None,
    boot_weights: str,
    seed: int | np.random.Generator | None,
    anticipation: int = 0,
) -> Any:
    """Run WCR or RI on the estimator's regression(s) and attach the results to ``res``.

    ``designs``: (maker, post flags) per regression; their estimates, concatenated, are
    [overall, table rows...].
    """
    from zonespill.did._bootstrap import seed_to_int

    if inference == "analytic":
        return res
    if len(cnames) > 1:
        raise InputError(f"inference='{inference}' supports one clustering dimension", source="cluster")
    B = int(n_boot) if n_boot is not None else (9999 if inference == "wild" else 999)
    s = seed_to_int(seed)
    outs: list[InferenceOut] = []
    design = None
    for make, post in designs:
        design = design_from_long(df, cnames[0], make, post, anticipation=anticipation)
        outs += linear_inference(design, inference, n_boot=B, weights=boot_weights, seed=s,
                                 alpha=res.alpha)
    assert design is not None
    G = len(np.unique(design.cluster))
    label = method_label(inference, n_draws=outs[0].n_draws, weights=boot_weights,
                         enumerated=outs[0].enumerated, G=G)
    return attach(res, inference, outs, label=label,
                  n_treated_clusters=treated_clusters(design.g_unit, design.unit, design.cluster))


# ----------------------------------------------------------------------------------------------
# BJS imputation: WCR bootstrap-t under the homogeneous-effect null (issue 11, open part)
# ----------------------------------------------------------------------------------------------
_CHUNK = 256  # bootstrap draws processed at once: memory O(G × chunk), never N × B


def _wild_chunks(G: int, n_boot: int, kind: str, seed: int | None,
                 chunk: int = _CHUNK) -> tuple[list[np.ndarray] | None, bool, int]:
    """Enumerated sign vectors (Rademacher, 2^G ≤ n_boot) as column chunks, or None for random
    draws (then :func:`_random_chunks` regenerates them from ``seed``); with the number of draws."""
    if kind == "rademacher" and G < 63 and n_boot >= 2**G:
        v, _ = draw_weights(G, n_boot, kind, np.random.default_rng(0))
        return [v[:, s:s + chunk] for s in range(0, v.shape[1], chunk)], True, v.shape[1]
    return None, False, int(n_boot)


def _random_chunks(G: int, n_boot: int, kind: str, seed: int | None, chunk: int = _CHUNK):  # type: ignore[no-untyped-def]
    """The same G × n_boot random weights, column chunk by chunk, for every call with ``seed``."""
    rng = np.random.default_rng(seed)
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        if kind == "rademacher":
            yield rng.integers(0, 2, size=(G, b)).astype(float) * 2.0 - 1.0
        else:
            yield _WEBB[rng.integers(0, 6, size=(G, b))]


def _time_schur(fe: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Solver of the period block of two-way normal equations after eliminating the units,
    ``(diag(c_t) − B'D⁻¹B) b = r``, one period per connected component grounded at zero (Cholesky
    of the small T × T system; the right-hand side must be consistent, as Z'x is)."""
    import scipy.linalg as sla

    Dinv = np.divide(1.0, fe.cu, out=np.zeros_like(fe.cu), where=fe.cu > 0)
    S = np.diag(fe.ct) - np.asarray((fe.B.T @ (fe.B.multiply(Dinv[:, None]))).todense())
    lab = fe.time_component
    ground = np.zeros(len(lab), dtype=bool)
    for c in np.unique(lab[lab >= 0]):
        ground[np.flatnonzero(lab == c)[0]] = True
    free = np.flatnonzero((fe.ct > 0) & ~ground)
    cho = sla.cho_factor(S[np.ix_(free, free)], lower=True) if len(free) else None

    def solve(r: np.ndarray) -> np.ndarray:
        out = np.zeros_like(r, dtype=float)
        if cho is not None:
            out[free] = sla.cho_solve(cho, np.asfortranarray(r[free]))
        return out

    return solve


def bjs_wild(
    y: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    treated: np.ndarray,
    weights: np.ndarray,
    a: np.ndarray,
    cell: np.ndarray,
    cluster: np.ndarray,
    *,
    fe0: Any,
    leave_out: bool,
    n_boot: int,
    boot_weights: str = "rademacher",
    seed: int | None = None,
    alpha: float = 0.05,
    chunk: int = _CHUNK,
) -> tuple[list[InferenceOut], list[WCRQuad | None]]:
    """Wild cluster restricted bootstrap-t for BJS imputation estimates under the homogeneous-effect
    null ``H0: τ_it = τ0`` on every treated observation the estimand weights (its support S).

    Restricted model: ``y = α_i + β_t + τ0·1{it ∈ S} + ε`` fitted on Ω0 ∪ S (treated observations
    outside S, e.g. other horizons, keep free effects), restricted residuals ``ε̃`` (treated
    observations of S included) and ``y* = y − ε̃ + v_g ε̃``.  On each y* the BJS estimate
    ``τ̂* = a'y*`` (``a`` = the imputation weights: ``w`` on Ω1, ``−Z0(Z0'Z0)⁻Z1'w`` on Ω0) and its
    BJS conservative cluster SE (first-stage residuals on Ω0; τ̂_it minus the v²-weighted
    [leave-out] cohort × period mean on Ω1; no small-sample factor, as the analytic SE) give
    ``t* = (τ̂* − τ0)/SE*``.  Numerator and scores are linear in y*, hence in τ0: the squared SE*
    is quadratic in τ0, so one pass over the draws gives p(τ0) for every τ0 (:class:`WCRQuad`)
    and the CI by test inversion.  Everything runs on sparse cluster/cell/FE aggregates plus one
    two-way solve per chunk of draws: no N × B or N × |Ω1| dense arrays.

    Parameters
    ----------
    y, unit, time, treated : arrays (N,)
        Outcome, integer unit and period codes (those of ``fe0``), treated indicator (Ω1).
    weights : (N, m)
        Estimand weights w (zero outside Ω1 and outside each estimand's cells).
    a : (N, m)
        Imputation weights (τ̂ = a'y).
    cell : (N,)
        Cohort × period cell code of every treated observation (any value elsewhere).
    cluster : (N,)
        One clustering dimension.
    fe0 : TwoWayFE
        First-stage solver on the untreated observations (``n_units``/``n_times`` = all codes).
    leave_out : bool
        Leave-out cell means (as the analytic SE).

    Returns
    -------
    (list of InferenceOut, list of WCRQuad or None)
        One per estimand column (NaN result where the column has no support or a zero SE).
    """
    import scipy.sparse as sp

    from zonespill.twoway import TwoWayFE

    y = np.asarray(y, dtype=float)
    unit = np.asarray(unit, dtype=np.int64)
    time = np.asarray(time, dtype=np.int64)
    treated = np.asarray(treated, dtype=bool)
    weights = np.asarray(weights, dtype=float).reshape(len(y), -1)
    a = np.asarray(a, dtype=float).reshape(len(y), -1)
    N, m = weights.shape
    codes, G = _cluster_codes(cluster)
    if G < 2:
        raise EstimationError("the wild cluster bootstrap needs at least 2 clusters")
    n_u, n_t = int(fe0.n_units), int(fe0.n_times)
    o0 = ~treated
    u0, t0, g0 = unit[o0], time[o0], codes[o0]
    rows = np.arange(N)
    Gam_T = sp.csr_matrix((np.ones(N), (codes, rows)), shape=(G, N))
    enum_chunks, enumerated, B = _wild_chunks(G, n_boot, boot_weights, seed, chunk)
    Dinv = np.divide(1.0, fe0.cu, out=np.zeros(n_u), where=fe0.cu > 0)
    Dinv_m = sp.diags(Dinv)
    DinvB = (Dinv_m @ fe0.B).tocsr()
    schur = _time_schur(fe0)

    def csr(r: np.ndarray, c: np.ndarray, d: np.ndarray, shape: tuple[int, int]) -> Any:
        return sp.csr_matrix((d, (r, c)), shape=shape)

    outs: list[InferenceOut] = []
    tests: list[WCRQuad | None] = []
    with _one_blas_thread():  # many small products: one thread is faster
        for j in range(m):
            w = weights[:, j]
            S = treated & (w != 0)
            aj = a[:, j]
            if not S.any():
                outs.append(NAN_OUT)
                tests.append(None)
                continue
            # -- restricted fit on Ω0 ∪ S of (y, D_S): residuals e (of y) and f (of D_S), 0 elsewhere
            om = o0 | S
            fes = TwoWayFE(unit[om], time[om], n_units=n_u, n_times=n_t)
            DS = S.astype(float)
            ca, cb = fes.fit(np.column_stack([y[om], DS[om]]))
            e = np.zeros(N)
            f = np.zeros(N)
            fit = ca[unit[om]] + cb[time[om]]
            e[om] = y[om] - fit[:, 0]
            f[om] = DS[om] - fit[:, 1]
            # -- BJS score map s(z) = Γ'(a ∘ ε̃(z)), written as s(z) = M'z − M'Z θ(z_Ω0) with
            #    M = diag(α)Γ − diag(w²)Ψ Q' (Ψ: cells, Q: cluster × cell leave-out coefficients)
            cs, ncell_codes = np.unique(np.asarray(cell)[S], return_inverse=True)
            n_cell = len(cs)
            w2 = w[S] ** 2
            Wc = np.bincount(ncell_codes, weights=w2, minlength=n_cell)
            if leave_out:
                Dn = Wc[ncell_codes] - w2
                ok = Dn > 1e-12 * np.maximum(Wc[ncell_codes], 1e-300)
            else:
                Dn = Wc[ncell_codes]
                ok = Dn > 0
            coef = np.divide(aj[S], Dn, out=np.zeros(int(S.sum())), where=ok)
            alpha_v = aj.copy()
            if leave_out:
                alpha_v[S] += coef * w2
            uS, tS, gS = unit[S], time[S], codes[S]
            Q = csr(gS, ncell_codes, coef, (G, n_cell))
            A_u = csr(codes, unit, alpha_v, (G, n_u))
            A_t = csr(codes, time, alpha_v, (G, n_t))
            C_u = csr(ncell_codes, uS, w2, (n_cell, n_u))
            C_t = csr(ncell_codes, tS, w2, (n_cell, n_t))
            Psi_T = csr(ncell_codes, np.flatnonzero(S), w2, (n_cell, N))

            def MZ(th_u: np.ndarray, th_t: np.ndarray) -> np.ndarray:
                return np.asarray(A_u @ th_u + A_t @ th_t - Q @ (C_u @ th_u + C_t @ th_t))  # noqa: B023

            def scores(z: np.ndarray) -> np.ndarray:
                th_u, th_t = fe0.fit(z[o0])
                return np.asarray(Gam_T @ (alpha_v[:, None] * z) - Q @ (Psi_T @ z)) - MZ(th_u, th_t)  # noqa: B023

            base = scores(np.column_stack([y, DS]))
            s_obs, h = base[:, 0], base[:, 1]
            se = float(np.sqrt((s_obs**2).sum()))
            est = float(aj @ y)
            if not se > 1e-12 * max(1.0, float(np.abs(aj).max()) * float(np.abs(y).max())):
                outs.append(NAN_OUT)
                tests.append(None)
                continue
            c_e = np.asarray(Gam_T @ (aj * e))
            c_f = np.asarray(Gam_T @ (aj * f))

            # K_x v = s(r(x ∘ Γv)) in closed form: the unit effects of the first-stage solve are
            # eliminated exactly (θ_u = D⁻¹(r_u − Bθ_t)), leaving a sparse part and a rank-T part
            # (T = periods), so a chunk of draws costs sparse products and G × T × chunk flops.
            Pt = np.asarray((A_u @ DinvB).todense())
            Lt = np.asarray(A_t.todense()) - Pt - np.asarray((Q @ (C_t - C_u @ DinvB)).todense())

            def K_parts(x: np.ndarray) -> tuple[Any, Any, np.ndarray]:
                Y_u = csr(u0, g0, x[o0], (n_u, G))
                Y_t = csr(t0, g0, x[o0], (n_t, G))
                DY = Dinv_m @ Y_u
                Sx = sp.diags(np.asarray(Gam_T @ (alpha_v * x))) - A_u @ DY  # noqa: B023
                Rx = csr(ncell_codes, gS, w2 * x[S], (n_cell, G)) - C_u @ DY  # noqa: B023
                Tx = schur(np.asarray((Y_t - fe0.B.T @ DY).todense()))
                return Sx.tocsr(), Rx.tocsr(), Tx

            def Kv(parts: tuple[Any, Any, np.ndarray], V: np.ndarray) -> np.ndarray:
                Sx, Rx, Tx = parts
                return np.asarray(Sx @ V - Q @ (Rx @ V)) - Lt @ (Tx @ V)  # noqa: B023

            Ke_parts, Kf_parts = K_parts(e), K_parts(f)

            n0l: list[np.ndarray] = []
            n1l: list[np.ndarray] = []
            q00l: list[np.ndarray] = []
            q01l: list[np.ndarray] = []
            q11l: list[np.ndarray] = []
            chunks = (enum_chunks if enum_chunks is not None
                      else _random_chunks(G, B, boot_weights, seed, chunk))
            for V in chunks:
                F = Kv(Kf_parts, V) - h[:, None]
                Z0 = Kv(Ke_parts, V) - est * F
                nf = c_f @ V
                n0l.append(c_e @ V - est * nf)
                n1l.append(nf)
                q00l.append((Z0 * Z0).sum(axis=0))
                q01l.append((Z0 * F).sum(axis=0))
                q11l.append((F * F).sum(axis=0))
            wq = WCRQuad(estimate=est, se=se, n0=np.concatenate(n0l), n1=np.concatenate(n1l),
                         q00=np.concatenate(q00l), q01=np.concatenate(q01l), q11=np.concatenate(q11l),
                         enumerated=enumerated)
            tests.append(wq)
            outs.append(wq.out(alpha))
    return outs, tests


def bjs_ri(
    y: np.ndarray,
    unit: np.ndarray,
    tcode: np.ndarray,
    t: np.ndarray,
    g_obs: np.ndarray,
    *,
    fe0: Any,
    anticipation: int,
    horizons: list[int] | None,
    used: set[tuple[float, int]],
    n_perm: int,
    seed: int,
    alpha: float,
) -> list[InferenceOut]:
    """Randomisation inference for the BJS imputation estimates (static ATT, then ``horizons``):
    cohorts permuted across units (sizes kept; :func:`permutations`), the estimate recomputed
    under each assignment by one two-way solve on its untreated observations — no dummy per
    treated observation.  Statistic and sharp null as :func:`ri_inference` (estimates on y and on
    the observed treatment indicator); only the (cohort, event time) cells in ``used`` (the
    observed fit's) enter, as in the estimator.

    On a balanced panel the period block of the first-stage normal equations depends only on the
    cohort sizes, so it is factorised once (``fe0``: the observed first stage); otherwise each
    assignment gets its own exact :class:`~zonespill.twoway.TwoWayFE`.
    """
    from zonespill.twoway import TwoWayFE

    y = np.asarray(y, dtype=float)
    unit = np.asarray(unit, dtype=np.int64)
    tcode = np.asarray(tcode, dtype=np.int64)
    t = np.asarray(t, dtype=float)
    g_obs = np.asarray(g_obs, dtype=float)
    n_u, n_t = int(fe0.n_units), int(fe0.n_times)
    N = len(y)
    d_obs = ((g_obs > 0) & (t >= g_obs - anticipation)).astype(float)
    Y2 = np.column_stack([y, d_obs])
    g_unit = _unit_cohorts(unit, g_obs)
    H = list(horizons) if horizons else []
    m = 1 + len(H)
    cohorts = np.unique(g_unit[g_unit > 0])
    e_min = int(np.floor(t.min() - cohorts.max())) if len(cohorts) else 0
    e_max = int(np.ceil(t.max() - cohorts.min())) if len(cohorts) else 0
    ok_tab = np.zeros((len(cohorts), e_max - e_min + 1), dtype=bool)
    h_tab = np.full(e_max - e_min + 1, -1, dtype=np.int64)
    for (cg, ce) in used:
        ci = np.searchsorted(cohorts, cg)
        if ci < len(cohorts) and cohorts[ci] == cg and e_min <= ce <= e_max:
            ok_tab[ci, ce - e_min] = True
    for k, h in enumerate(H):
        if e_min <= h <= e_max:
            h_tab[h - e_min] = k
    balanced = n_u * n_t == N
    schur = _time_schur(fe0) if balanced else None

    def estimates(gu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(m × 2) estimates on (y, d_obs) and (m,) counts under cohort assignment ``gu``."""
        g = gu[unit]
        tr = (g > 0) & (t >= g - anticipation)
        o0 = ~tr
        u0, t0 = unit[o0], tcode[o0]
        cu = np.bincount(u0, minlength=n_u).astype(float)
        ct = np.bincount(t0, minlength=n_t)
        if (cu[unit[tr]] == 0).any() or (ct[tcode[tr]] == 0).any():
            raise EstimationError("randomisation inference: a permuted cohort assignment leaves treated "
                                  "observations without untreated observations of their unit or period "
                                  "(unbalanced panel); use inference='wild'")
        if schur is not None:
            ru = np.column_stack([np.bincount(u0, weights=Y2[o0, k], minlength=n_u) for k in range(2)])
            rt = np.column_stack([np.bincount(t0, weights=Y2[o0, k], minlength=n_t) for k in range(2)])
            q = ru / cu[:, None]
            rhs = rt - np.column_stack([np.bincount(t0, weights=q[u0, k], minlength=n_t) for k in range(2)])
            b = schur(rhs)
            Bb = np.column_stack([np.bincount(u0, weights=b[t0, k], minlength=n_u) for k in range(2)])
            a = (ru - Bb) / cu[:, None]
        else:
            fe = TwoWayFE(u0, t0, n_units=n_u, n_times=n_t)
            if not fe.identified(unit[tr], tcode[tr]).all():
                raise EstimationError("randomisation inference: a permuted cohort assignment leaves "
                                      "treated observations unidentified (disconnected panel); use "
                                      "inference='wild'")
            a, b = fe.fit(Y2[o0])
        it = np.flatnonzero(tr)
        tau = Y2[it] - a[unit[it]] - b[tcode[it]]
        ev = np.rint(t[it] - g[it]).astype(np.int64) - e_min
        ok = ok_tab[np.searchsorted(cohorts, g[it]), ev]
        cnt = np.zeros(m)
        est = np.zeros((m, 2))
        st = ok & (ev + e_min >= 0)
        cnt[0] = st.sum()
        est[0] = tau[st].sum(axis=0)
        if H:
            hk = h_tab[ev]
            sel = ok & (hk >= 0)
            cnt[1:] = np.bincount(hk[sel], minlength=len(H))
            for k in range(2):
                est[1:, k] = np.bincount(hk[sel], weights=tau[sel, k], minlength=len(H))
        est = np.divide(est, cnt[:, None], out=np.zeros_like(est), where=cnt[:, None] > 0)
        return est, cnt

    with _one_blas_thread():
        est_obs, cnt_obs = estimates(g_unit)
        perms, exact = permutations(g_unit, n_perm, seed)
        Ay = np.empty((len(perms), m))
        Ad = np.empty((len(perms), m))
        for i, gp in enumerate(perms):
            e_p, _ = estimates(gp)
            Ay[i], Ad[i] = e_p[:, 0], e_p[:, 1]
    post = np.array([True] + [h >= -anticipation for h in H])
    return ri_from_stats(np.where(cnt_obs > 0, est_obs[:, 0], np.nan), est_obs[:, 1], Ay, Ad, exact=exact,
                         alpha=alpha, post=post)
