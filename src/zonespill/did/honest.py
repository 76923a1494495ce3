"""HonestDiD sensitivity analysis (Rambachan & Roth 2023) for any event study with a covariance.

``honest_did(event_study, kind="smoothness", m=[...])`` gives the optimal fixed-length confidence
interval (FLCI) under Δ^SD(M): the slope of the differential trend changes by at most M between
consecutive periods.  ``kind="relative_magnitudes"`` gives R's C-LF confidence set under Δ^RM(M̄)
(post-period differences at most M̄ × the largest pre-period difference): the Andrews–Roth–Pakes
conditional test with the least-favourable hybrid, inverted on R's grid (1000 points on ±20 SD of
θ̂ around 0), union over the location and sign of the largest pre-period difference.

Conventions are R HonestDiD's (``findOptimalFLCI``): the affine estimator
``θ̂ = l_pre'β̂_pre + l'β̂_post`` with pre-period weights written in "w-space" (cumulative sums),
worst-case bias ``M·(c(l) + Σ_k |Σ_{j≤k} w_j|)`` subject to ``Σ w = Σ_s s·l_s``; the half-length
``cv_α(bias/sd)·sd`` is minimised over the estimator's standard deviation ``h``.  ``cv_α(μ)`` is the
(1 − α) quantile of |N(μ, 1)|; R approximates it from 10^6 normal draws after ``set.seed(0)``, and
so do we (R's Mersenne-Twister seeding and inversion normals are reproduced exactly, see
:func:`r_rnorm`) so that the bounds equal R's, not just approximate them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special

from zonespill.errors import InputError

HonestKind = Literal["relative_magnitudes", "smoothness"]

_R_DRAWS = 10**6
_COARSE = 10  # Δ^RM grid: coarse step before refining the ends (sets are intervals in practice)


# ----------------------------------------------------------------------------------------------
# R's rnorm after set.seed(seed) (Mersenne-Twister, inversion) — for R's simulated quantiles
# ----------------------------------------------------------------------------------------------
def r_rnorm(n: int, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); rnorm(n)`` of R ≥ 3.6 (Mersenne-Twister, Inversion): R scrambles the seed
    with the LCG s ← 69069 s + 1 (50 times, then once per state word), and each normal uses two
    uniforms, ``qnorm(((int)(2^27 u1) + u2) / 2^27)``."""
    s = seed & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    key = np.empty(625, dtype=np.uint32)
    for j in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        key[j] = s
    bg = np.random.MT19937(0)
    bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    raw = bg.random_raw(2 * n).astype(np.float64) * 2.3283064365386963e-10
    i2_32m1 = 2.328306437080797e-10
    raw = np.where(raw <= 0.0, 0.5 * i2_32m1, raw)
    raw = np.where(1.0 - raw <= 0.0, 1.0 - 0.5 * i2_32m1, raw)
    big = 134217728.0
    u = np.floor(big * raw[0::2]) + raw[1::2]
    return np.asarray(special.ndtri(u / big))


@lru_cache(maxsize=4)
def _r_draws_sorted(seed: int) -> np.ndarray:
    return np.sort(r_rnorm(_R_DRAWS, seed))


def _kth_abs(z: np.ndarray, mu: float, k: int) -> float:
    """k-th smallest (0-based) of |z + μ| for sorted z, without forming the array: merge-select
    between A = −(z + μ) on z < −μ (ascending when read backwards) and B = z + μ on z ≥ −μ."""
    j0 = int(np.searchsorted(z, -mu, side="left"))
    na, nb = j0, len(z) - j0

    def a(i: int) -> float:
        return float(-(z[j0 - 1 - i] + mu))

    def b(j: int) -> float:
        return float(z[j0 + j] + mu)

    lo, hi = max(0, k + 1 - nb), min(k + 1, na)
    while lo < hi:  # i = elements taken from A among the k + 1 smallest
        i = (lo + hi) // 2
        j = k + 1 - i
        if j > 0 and i < na and b(j - 1) > a(i):
            lo = i + 1
        else:
            hi = i
    i, j = lo, k + 1 - lo
    return max(a(i - 1) if i > 0 else -np.inf, b(j - 1) if j > 0 else -np.inf)


def qfoldednormal(p: float, mu: float, seed: int = 0) -> float:
    """R HonestDiD's ``.qfoldednormal``: type-7 quantile of |Z + μ| over R's 10^6 draws
    (``set.seed(seed)``), by order-statistic selection on the sorted draws."""
    z = _r_draws_sorted(seed)
    h = (len(z) - 1) * p
    k = int(np.floor(h))
    lo = _kth_abs(z, mu, k)
    if h == k:
        return lo
    return lo + (h - k) * (_kth_abs(z, mu, k + 1) - lo)


# ----------------------------------------------------------------------------------------------
# event-study input
# ----------------------------------------------------------------------------------------------
def event_study_arrays(event_study: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(event times, estimates, covariance) of an event study with ``.vcov`` indexed by e.

    Accepts a CS ``aggregate("dynamic")`` (table ``e, att``), an event-study DiDResult (table
    ``e, estimate``) or any object with ``.table`` and ``.vcov``.  Event times whose variance is zero
    (the normalised reference period of a universal base period) are dropped, as R's
    ``honest_did`` drops e = −1.
    """
    V = getattr(event_study, "vcov", None)
    tab = getattr(event_study, "table", None)
    if V is None or tab is None or "e" not in tab:
        raise InputError("honest_did needs an event study: an object with .table (column e) and .vcov "
                         "(covariance indexed by e)", source="event_study")
    col = "att" if "att" in tab else "estimate"
    est = pd.Series(tab[col].to_numpy(dtype=float), index=tab["e"].to_numpy(dtype=int))
    Vd = V.copy()
    Vd.index = Vd.index.astype(int)
    Vd.columns = Vd.columns.astype(int)
    e = np.array(sorted(int(x) for x in Vd.index if x in est.index))
    Vm = Vd.loc[e, e].to_numpy(dtype=float)
    ok = np.diag(Vm) > 0
    e, Vm = e[ok], Vm[np.ix_(ok, ok)]
    b = est.loc[e].to_numpy(dtype=float)
    if not np.isfinite(b).all() or not np.isfinite(Vm).all():
        raise InputError("event-study estimates or covariance contain NaN", source="event_study")
    return e, b, Vm


def _split(e: np.ndarray, target: str | int) -> tuple[int, int, np.ndarray]:
    pre = int((e < 0).sum())
    post = int((e >= 0).sum())
    if pre < 1 or post < 1:
        raise InputError("honest_did needs at least one pre-period (e < 0) and one post-period "
                         "(e >= 0) estimate", source="event_study")
    if pre > 1 and not np.array_equal(e[:pre], np.arange(-pre - 1, -1)):
        raise InputError(f"pre-periods must be consecutive and end at e = -2 (reference e = -1); got "
                         f"{e[:pre].tolist()}", source="event_study")
    epost = e[pre:]
    if target == "average":
        lvec = np.full(post, 1.0 / post)
    else:
        if not isinstance(target, int | np.integer) or int(target) not in set(epost.tolist()):
            raise InputError(f"target must be 'average' or a post-period event time in "
                             f"{epost.tolist()}", source="target")
        lvec = (epost == int(target)).astype(float)
    return pre, post, lvec


# ----------------------------------------------------------------------------------------------
# Δ^SD: optimal FLCI
# ----------------------------------------------------------------------------------------------
class _FLCI:
    """Affine estimators of θ = l'τ_post indexed by pre-period weights w (w-space)."""

    def __init__(self, sigma: np.ndarray, pre: int, post: int, lvec: np.ndarray) -> None:
        K = pre
        self.K = K
        Spre = sigma[:K, :K]
        Sprepost = sigma[:K, K:]
        Spost = float(lvec @ sigma[K:, K:] @ lvec)
        W2L = np.eye(K)
        if K > 1:
            W2L[np.arange(1, K), np.arange(K - 1)] = -1.0
        self.W2L = W2L
        self.Aq = W2L.T @ Spre @ W2L
        self.al = 2.0 * W2L.T @ Sprepost @ lvec
        self.c = Spost
        s = np.arange(1, post + 1)
        self.total = float(s @ lvec)
        self.const = sum(abs(float(np.arange(1, k + 1) @ lvec[post - k:])) for k in range(1, post + 1)) \
            - self.total
        self.L = np.tril(np.ones((K, K)))

    def var(self, w: np.ndarray) -> float:
        return float(w @ self.Aq @ w + self.al @ w + self.c)

    def bias(self, w: np.ndarray) -> float:
        return float(self.const + np.abs(self.L @ w).sum())

    def min_var(self) -> np.ndarray:
        """Minimum-variance w subject to Σw = total (closed form KKT)."""
        K = self.K
        kkt = np.zeros((K + 1, K + 1))
        kkt[:K, :K] = 2 * self.Aq
        kkt[:K, K] = 1.0
        kkt[K, :K] = 1.0
        rhs = np.concatenate([-self.al, [self.total]])
        return np.linalg.lstsq(kkt, rhs, rcond=None)[0][:K]

    def w_min_bias(self) -> np.ndarray:
        w = np.zeros(self.K)
        w[-1] = self.total
        return w

    def min_bias_given_h(self, h: float, w0: np.ndarray) -> tuple[float, np.ndarray]:
        """min bias(w) s.t. Σw = total, var(w) ≤ h² (convex; SLSQP on (U, w) with U ≥ |Lw|)."""
        K = self.K
        L = self.L
        scale = max(abs(self.total), 1.0)

        def obj(x: np.ndarray) -> float:
            return float(x[:K].sum()) / scale

        def jac(x: np.ndarray) -> np.ndarray:
            return np.concatenate([np.ones(K), np.zeros(K)]) / scale

        h2 = h * h
        cons: Any = [
            {"type": "eq", "fun": lambda x: np.array([x[K:].sum() - self.total]),
             "jac": lambda x: np.concatenate([np.zeros(K), np.ones(K)])[None, :]},
            {"type": "ineq", "fun": lambda x: np.concatenate([x[:K] - L @ x[K:], x[:K] + L @ x[K:]]),
             "jac": lambda x: np.block([[np.eye(K), -L], [np.eye(K), L]])},
            {"type": "ineq", "fun": lambda x: np.array([(h2 - self.var(x[K:])) / h2]),
             "jac": lambda x: np.concatenate([np.zeros(K),
                                              -(2 * self.Aq @ x[K:] + self.al) / h2])[None, :]},
        ]
        x0 = np.concatenate([np.abs(L @ w0) + 1e-12, w0])
        res = optimize.minimize(obj, x0, jac=jac, constraints=cons,  # type: ignore[call-overload]
                                method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000})
        w = res.x[K:]
        return self.bias(w), w


class _Frontier:
    """The whole bias–variance frontier of :class:`_FLCI` by the lasso homotopy (exact).

    In cumulative-sum coordinates v = L·w the bias is const + Σ|v_k| with v_K = Σw fixed, and the
    variance a convex quadratic q(u) in u = v_1…v_{K−1}; the estimators with the least bias for a
    given variance are the lasso solutions u(λ) = argmin q(u) + λ‖u‖₁, λ from ‖∇q(0)‖_∞ (u = 0: the
    least-bias estimator) down to 0 (the least-variance one). u(λ) is piecewise linear in λ, so
    one pass over its breakpoints gives b(h) for every h by solving a quadratic on one segment —
    no numerical optimisation per h, and the same frontier serves every M.
    """

    def __init__(self, f: _FLCI) -> None:
        K = f.K
        D = np.eye(K)
        if K > 1:
            D[np.arange(1, K), np.arange(K - 1)] = -1.0  # w = D v (D = L⁻¹)
        P = D.T @ f.Aq @ D
        r = D.T @ f.al
        t = f.total
        self.D, self.t, self.f = D, t, f
        self.Q = P[:-1, :-1]
        self.g = 2 * t * P[:-1, -1] + r[:-1]
        self.q0 = float(t * t * P[-1, -1] + r[-1] * t + f.c)
        self.segments: list[tuple[float, float, np.ndarray, np.ndarray, np.ndarray]] = []
        self._trace()

    def _trace(self) -> None:
        Q, g = self.Q, self.g
        n = len(g)
        if n == 0 or not np.any(g):
            return
        tol = 1e-12 * max(1.0, float(np.abs(g).max()))
        lam = float(np.abs(g).max())
        j0 = int(np.argmax(np.abs(g)))
        active, signs = [j0], [-float(np.sign(g[j0]))]
        for _ in range(8 * n + 8):
            A = np.array(active)
            QA = Q[np.ix_(A, A)]
            if np.linalg.cond(QA) > 1e12:
                raise np.linalg.LinAlgError("singular pre-period covariance on the frontier")
            p = -0.5 * np.linalg.solve(QA, g[A])
            q = -0.5 * np.linalg.solve(QA, np.array(signs))
            grad_a = 2 * Q[:, A] @ p + g  # gradient off the active set: a + λ·b
            grad_b = 2 * Q[:, A] @ q
            nxt, event = 0.0, None
            for j in range(n):
                if j in active:
                    continue
                for side in (1.0, -1.0):
                    den = side - grad_b[j]
                    if abs(den) > 1e-15:
                        lj = grad_a[j] / den
                        if tol < lj < lam - tol and lj > nxt:
                            nxt, event = lj, ("join", j, -side)
            for i, (pi, qi) in enumerate(zip(p, q, strict=True)):
                if abs(qi) > 1e-15:
                    li = -pi / qi
                    if tol < li < lam - tol and li > nxt:
                        nxt, event = li, ("leave", i, 0.0)
            self.segments.append((lam, nxt, A, p, q))
            if event is None:
                return
            kind, idx, sgn = event
            if kind == "join":
                active.append(int(idx))
                signs.append(float(sgn))
            else:
                del active[int(idx)]
                del signs[int(idx)]
                if not active:
                    return
            lam = nxt
        raise np.linalg.LinAlgError("lasso homotopy did not terminate")

    def _u(self, seg: tuple[float, float, np.ndarray, np.ndarray, np.ndarray], lam: float) -> np.ndarray:
        _, _, A, p, q = seg
        u = np.zeros(len(self.g))
        u[A] = p + lam * q
        return u

    def _var(self, u: np.ndarray) -> float:
        return float(u @ self.Q @ u + self.g @ u + self.q0)

    def at(self, h: float) -> tuple[float, np.ndarray]:
        """(least worst-case bias, its pre-period weights w) among estimators with SD ≤ h."""
        h2 = h * h
        u = np.zeros(len(self.g))
        if self.segments and self._var(u) > h2:
            for seg in self.segments:
                hi, lo = seg[0], seg[1]
                if self._var(self._u(seg, lo)) <= h2:
                    lam = optimize.brentq(lambda x, seg=seg: self._var(self._u(seg, x)) - h2, lo, hi,
                                          xtol=1e-15 * max(hi, 1.0), rtol=4 * np.finfo(float).eps)
                    u = self._u(seg, lam)
                    break
            else:
                u = self._u(self.segments[-1], self.segments[-1][1])
        w = self.D @ np.concatenate([u, [self.t]])
        return self.f.bias(w), w


def flci(betahat: np.ndarray, sigma: np.ndarray, pre: int, post: int, lvec: np.ndarray, M: float,
         alpha: float = 0.05, seed: int = 0,
         frontier: dict[float, tuple[float, np.ndarray]] | None = None) -> tuple[float, float]:
    """Optimal FLCI for l'τ_post under Δ^SD(M) (R ``findOptimalFLCI``).

    ``frontier`` caches the smallest bias at each variance bound h (it does not depend on M):
    pass the same dict for several M of one event study and target to reuse it.
    """
    f = _FLCI(sigma, pre, post, lvec)
    w_mv = f.min_var()
    h_min = float(np.sqrt(f.var(w_mv)))
    h0 = float(np.sqrt(f.var(f.w_min_bias())))
    cache: dict[float, tuple[float, np.ndarray]] = frontier if frontier is not None else {}
    try:
        path: _Frontier | None = _Frontier(f)
    except np.linalg.LinAlgError:  # singular pre-period covariance: numerical optimisation per h
        path = None

    def solve(h: float) -> tuple[float, np.ndarray]:
        if h not in cache:
            if h <= h_min * (1 + 1e-12):
                cache[h] = (f.bias(w_mv), w_mv)
            elif path is not None:
                cache[h] = path.at(h)
            else:
                start = w_mv if not cache else min(cache.items(), key=lambda kv: abs(kv[0] - h))[1][1]
                cache[h] = f.min_bias_given_h(h, start)
        return cache[h]

    def half(h: float) -> float:
        b, _ = solve(h)
        return qfoldednormal(1 - alpha, M * b / h, seed) * h

    if M == 0 or h0 <= h_min:
        hstar = h_min
    else:
        r = optimize.minimize_scalar(half, bounds=(h_min, h0), method="bounded",
                                     options={"xatol": 1e-10 * h0})
        hstar = float(r.x)
        for h in (h_min, h0):  # the optimum may sit on a bound
            if half(h) < half(hstar):
                hstar = h
    _, w = solve(hstar)
    lpre = f.W2L @ w
    center = float(lpre @ betahat[:pre] + lvec @ betahat[pre:])
    hl = half(hstar)
    return center - hl, center + hl


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------
def honest_did(
    event_study: Any,
    *,
    kind: HonestKind = "smoothness",
    m: Sequence[float] = (0.0,),
    target: str | int = "average",
    alpha: float = 0.05,
    _frontier: dict[float, tuple[float, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """HonestDiD robust confidence sets for an event study.

    Parameters
    ----------
    event_study
        An event-study aggregate with ``.table`` (column ``e``) and ``.vcov`` (covariance of the
        event-time estimates indexed by e), e.g. ``callaway_santanna(...,
        base_period="universal").aggregate("dynamic")``.  Pre-periods e = −K−1…−2 (reference
        e = −1, dropped if present with zero variance), post-periods e ≥ 0.
    kind : {"smoothness", "relative_magnitudes"}
        Δ^SD(M) (optimal FLCI, R's default for ``createSensitivityResults``) or Δ^RM(M̄).
    m : sequence of float
        Values of M (smoothness) or M̄ (relative magnitudes).
    target : "average" or int
        θ = the average of the post-period effects, or the effect at one event time e ≥ 0.
    alpha : float

    Returns
    -------
    DataFrame
        Columns ``m, lb, ub`` (plus ``method``, ``kind`` and ``at_grid_edge``): one row per value
        of ``m``. ``at_grid_edge`` (relative magnitudes) is true where the accepted set reaches an
        end of the test-inversion grid (±20 SD of θ̂, as R): the set is then at least that wide and
        the bound printed is the grid's end, not a bound of the set.
    """
    if kind not in ("smoothness", "relative_magnitudes"):
        raise InputError("kind must be 'smoothness' or 'relative_magnitudes'", source="kind")
    if not 0 < alpha < 1:
        raise InputError("alpha must be in (0, 1)", source="alpha")
    ms = [float(x) for x in m]
    if any(not np.isfinite(x) or x < 0 for x in ms):
        raise InputError("m must be non-negative numbers", source="m")
    e, b, V = event_study_arrays(event_study)
    pre, post, lvec = _split(e, target)
    rows = []
    if kind == "smoothness":
        frontier = _frontier if _frontier is not None else {}
        for M in ms:
            lb, ub = flci(b, V, pre, post, lvec, M, alpha, frontier=frontier)
            rows.append({"m": M, "lb": lb, "ub": ub, "method": "FLCI", "kind": "smoothness",
                         "at_grid_edge": False})
    else:
        for M in ms:
            lb, ub = rm_confidence_set(b, V, pre, post, lvec, M, alpha)
            edge = 20 * float(np.sqrt(lvec @ V[pre:, pre:] @ lvec)) * (1 - 1e-12)
            rows.append({"m": M, "lb": lb, "ub": ub, "method": "C-LF", "kind": "relative_magnitudes",
                         "at_grid_edge": bool(np.isfinite(lb) and (lb <= -edge or ub >= edge))})
    return pd.DataFrame(rows, columns=["m", "lb", "ub", "method", "kind", "at_grid_edge"])


def honest_breakdown(
    event_study: Any,
    *,
    kind: HonestKind = "smoothness",
    target: str | int = "average",
    alpha: float = 0.05,
    m_max: float | None = None,
    tol: float = 1e-6,
) -> float:
    """Breakdown value: the smallest M (or M̄) whose robust confidence set contains 0.

    0.0 when the M = 0 set already contains 0 (no significant effect to break); ``inf`` when the
    set excludes 0 up to ``m_max`` (default: 100 × the largest event-time standard error for
    smoothness).  Bisection to ``tol`` relative to ``m_max`` (the sets are nested in M).
    """
    _, _, V = event_study_arrays(event_study)
    sd = float(np.sqrt(np.diag(V)).max())
    hi = float(m_max) if m_max is not None else 100.0 * sd

    frontier: dict[float, tuple[float, np.ndarray]] = {}  # Δ^SD bias–variance frontier, shared over M

    def covers(M: float) -> bool:
        r = honest_did(event_study, kind=kind, m=[M], target=target, alpha=alpha, _frontier=frontier).iloc[0]
        return bool(r["lb"] <= 0 <= r["ub"])

    if covers(0.0):
        return 0.0
    if not covers(hi):
        return float("inf")
    lo = 0.0
    while hi - lo > tol * max(hi, 1e-300):
        mid = 0.5 * (lo + hi)
        if covers(mid):
            hi = mid
        else:
            lo = mid
    return hi


# ----------------------------------------------------------------------------------------------
# Δ^RM: ARP conditional / least-favourable hybrid test (Andrews, Roth & Pakes 2023), R's algorithm
# ----------------------------------------------------------------------------------------------
def _create_A_RM(K: int, P: int, Mbar: float, s: int, max_positive: bool) -> np.ndarray:
    """Δ^RM(M̄) restricted to "the largest pre-period difference is the one at s (sign)":
    |δ_{r+1} − δ_r| ≤ (M̄ for post rows) × ±(δ_{s+1} − δ_s), δ_0 = 0 (column dropped)."""
    n = K + P
    At = np.zeros((n, n + 1))
    for r in range(n):
        At[r, r], At[r, r + 1] = -1.0, 1.0
    v = np.zeros(n + 1)
    v[K + s - 1], v[K + s] = -1.0, 1.0  # R's (numPrePeriods+s):(numPrePeriods+1+s), 1-based
    if not max_positive:
        v = -v
    UB = np.vstack([np.tile(v, (K, 1)), np.tile(Mbar * v, (P, 1))])
    A = np.vstack([At - UB, -At - UB])
    A = A[(A * A).sum(axis=1) > 1e-10]
    return np.delete(A, K, axis=1)


def _construct_gamma(lvec: np.ndarray) -> np.ndarray:
    """Invertible Γ with first row l' (pivot columns of [l, I], as R's RREF construction)."""
    B = np.column_stack([lvec, np.eye(len(lvec))])
    cols: list[int] = []
    for j in range(B.shape[1]):
        if np.linalg.matrix_rank(B[:, [*cols, j]], tol=1e-12) > len(cols):
            cols.append(j)
        if len(cols) == len(lvec):
            break
    return B[:, cols].T


def _eta_lp(y: np.ndarray, X: np.ndarray, sd: np.ndarray) -> tuple[float, np.ndarray, bool]:
    """min η s.t. sd·η + Xδ ≥ y (δ free): η̂ and the dual weights λ ≥ 0 (Σλ sd = 1, X'λ = 0)."""
    k = X.shape[1]
    c = np.zeros(1 + k)
    c[0] = 1.0
    res = optimize.linprog(c, A_ub=-np.column_stack([sd, X]), b_ub=-y, bounds=[(None, None)] * (1 + k),
                           method="highs")
    if res.status != 0 or res.fun is None:
        return float("nan"), np.zeros(len(y)), False
    return float(res.fun), -np.asarray(res.ineqlin.marginals), True


class _EtaLP:
    """The LP of :func:`_eta_lp` for many right-hand sides ``y`` with the same ``X`` and ``sd``.

    Its dual, max λ'y s.t. Z'λ = e₁, λ ≥ 0 (Z = [sd, X]), has a feasible set that does not depend on
    ``y``: an optimal basis B found for one ``y`` (λ_B = Z_B⁻ᵀe₁ ≥ 0) is a feasible start for every
    other ``y``. Each new ``y`` starts from the known basis with the largest λ'y and runs primal
    simplex pivots on the dual (Bland's rule, so it cannot cycle) until the primal solution
    Z_B⁻¹y_B satisfies every constraint — the optimality certificate. The answer is the LP optimum,
    not an approximation; HiGHS solves the first ``y`` and any case where the pivots stall
    (ill-conditioned or degenerate bases).
    """

    _MAX_PIVOTS = 200

    def __init__(self, X: np.ndarray, sd: np.ndarray) -> None:
        self.X, self.sd = X, sd
        self.Z = np.column_stack([sd, X])
        self.k1 = self.Z.shape[1]
        self.e1 = np.zeros(self.k1)
        self.e1[0] = 1.0
        self.rows: list[np.ndarray] = []  # known optimal (dual feasible) bases
        self.lams: list[np.ndarray] = []

    def _keep(self, rows: np.ndarray, lam: np.ndarray) -> None:
        self.rows.append(np.sort(rows))
        self.lams.append(lam)

    def _highs(self, y: np.ndarray) -> tuple[float, np.ndarray, bool]:
        eta, lam, ok = _eta_lp(y, self.X, self.sd)
        if ok:
            rows = np.flatnonzero(lam > 1e-9)
            if len(rows) == self.k1 and np.linalg.cond(self.Z[rows]) < 1e10:
                self._keep(rows, lam)
        return eta, lam, ok

    def _pivot(self, y: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray] | None:
        """Simplex on the dual from the feasible basis ``rows``; None if it stalls. The most
        violated constraint enters (Dantzig) for the first pivots, then Bland's lowest-index rule,
        which cannot cycle."""
        Z, M = self.Z, self.Z.shape[0]
        B = list(rows)
        scale = 1e-9 * (1.0 + float(np.abs(y).max()))
        for it in range(self._MAX_PIVOTS):
            try:
                Binv = np.linalg.inv(Z[B])
            except np.linalg.LinAlgError:
                return None
            x = Binv @ y[B]  # primal (η, δ) of this basis
            lamB = Binv[0]  # dual weights: Z_Bᵀ λ_B = e₁
            viol = y - Z @ x  # reduced costs of the dual; > 0: constraint violated
            viol[B] = 0.0
            if viol.max() <= scale:
                if lamB.min() < -1e-9:
                    return None  # the start was not dual feasible after all (rounding)
                lam = np.zeros(M)
                lam[B] = np.maximum(lamB, 0.0)
                return float(x[0]), lam
            j = int(np.argmax(viol)) if it < 50 else int(np.flatnonzero(viol > scale)[0])
            d = Binv.T @ Z[j]  # λ_B decreases by t·d as λ_j rises by t
            pos = d > 1e-12
            if not pos.any():
                return None  # dual unbounded: cannot happen for a feasible primal; let HiGHS say
            ratio = np.where(pos, lamB / np.where(pos, d, 1.0), np.inf)
            ties = np.flatnonzero(ratio <= ratio.min() + 1e-15)
            leave = min(ties, key=lambda i: B[i])  # lowest row index leaves (Bland)
            B[leave] = j
        return None

    def solve(self, y: np.ndarray) -> tuple[float, np.ndarray, bool]:
        """As :func:`_eta_lp` for one right-hand side."""
        if not self.rows:
            return self._highs(y)
        start = int(np.argmax([lam @ y for lam in self.lams]))
        got = self._pivot(y, self.rows[start])
        if got is None:
            return self._highs(y)
        eta, lam = got
        rows = np.flatnonzero(lam > 0)
        if len(rows) == self.k1 and not any(np.array_equal(np.sort(rows), r) for r in self.rows[-50:]):
            self._keep(rows, lam)
        return eta, lam, True

    def etas(self, Y: np.ndarray) -> np.ndarray:
        """η̂ for every row of ``Y`` (NaN where the LP fails)."""
        return np.array([self.solve(y)[0] for y in Y])


def _lf_cv(X: np.ndarray, sigma: np.ndarray, kappa: float, sims: int = 1000, seed: int = 0) -> float:
    """R's least-favourable critical value: (1 − κ) quantile of η over ``sims`` draws of
    N(0, Σ) made as R's ``mvtnorm::rmvnorm`` (eigen square root, row-filled ``rnorm``)."""
    p = sigma.shape[0]
    lam, V = np.linalg.eigh(sigma)
    root = (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T
    xi = r_rnorm(sims * p, seed).reshape(sims, p) @ root
    sd = np.sqrt(np.diag(sigma))
    one = X.shape[1] == 1
    etas = _eta_1d(xi / sd, X[:, 0] / sd) if one else _EtaLP(X, sd).etas(xi)
    etas = etas[np.isfinite(etas)]
    return float(np.quantile(etas, 1 - kappa))


def _eta_1d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min_δ max_j (a_j − b_j δ) for each row of ``a`` (one nuisance parameter): the minimum of a
    convex piecewise-linear function sits at a crossing of two lines with slopes of opposite sign
    (or is unbounded: −inf), so it is the smallest envelope value over those crossings."""
    neg, pos = np.flatnonzero(b < 0), np.flatnonzero(b > 0)
    if len(neg) == 0 or len(pos) == 0:
        return np.full(a.shape[0], -np.inf)
    Jm, Lm = np.meshgrid(neg, pos, indexing="ij")
    J, L = Jm.ravel(), Lm.ravel()
    d = (a[:, J] - a[:, L]) / (b[J] - b[L])[None, :]  # crossing points, draws × pairs
    env = (a[:, :, None] - b[None, :, None] * d[:, None, :]).max(axis=1)
    return env.min(axis=1)


def _max_program(s_T: np.ndarray, gamma: np.ndarray, sigma: np.ndarray, W: np.ndarray,
                 c: float) -> tuple[float, np.ndarray]:
    f = s_T + (sigma @ gamma) / float(gamma @ sigma @ gamma) * c
    beq = np.zeros(W.shape[1])
    beq[0] = 1.0
    res = optimize.linprog(-f, A_eq=W.T, b_eq=beq, bounds=[(0, None)] * len(f), method="highs")
    if res.status != 0 or res.x is None or res.fun is None:
        return float("nan"), np.zeros(len(f))
    return -float(res.fun), np.asarray(res.x)


def _vlo_vup_dual(eta: float, s_T: np.ndarray, gamma: np.ndarray, sigma: np.ndarray,
                  W: np.ndarray) -> tuple[float, float]:
    """Truncation points by R's bisection on the dual LP (degenerate / rank-deficient case)."""
    tol_c, tol_eq = 1e-6, 1e-6
    sB = float(np.sqrt(gamma @ sigma @ gamma))
    low0, high0 = min(-100.0, eta - 20 * sB), max(100.0, eta + 20 * sB)
    bvec = (sigma @ gamma) / float(gamma @ sigma @ gamma)

    def check(c: float) -> tuple[bool, np.ndarray]:
        val, x = _max_program(s_T, gamma, sigma, W, c)
        return bool(np.isfinite(val) and abs(c - val) <= tol_eq), x

    def eps0(x: float) -> float:
        return 0.0 if abs(x) < np.finfo(float).eps ** 0.75 else x

    ok, _ = check(eta)
    if not ok:
        return eta, np.inf
    out = []
    for up in (True, False):
        start = high0 if up else low0
        ok, x = check(start)
        if ok:
            out.append(np.inf if up else -np.inf)
            continue
        dif, iters = 0.0, 1
        mid = eps0(float(x @ s_T)) / (1 - float(x @ bvec))
        while True:
            ok, x = check(mid)
            if ok:
                break
            iters += 1
            if iters >= 10:
                dif = tol_c + 1
                break
            mid = eps0(float(x @ s_T)) / (1 - float(x @ bvec))
        lo, hi = (eta, mid) if up else (mid, eta)
        while dif > tol_c and iters < 10000:
            iters += 1
            mid = (lo + hi) / 2
            if check(mid)[0] == up:
                lo = mid
            else:
                hi = mid
            dif = hi - lo
        out.append(mid)
    return out[1], out[0]


def _arp_test(y: np.ndarray, X: np.ndarray, sigma: np.ndarray, alpha: float, kappa: float,
              lf_cv: float | None, solver: _EtaLP | None = None) -> bool:
    """R's ``.lp_conditional_test_fn`` (hybrid "LF" when ``lf_cv`` is given, else "ARP"):
    True = reject."""
    M, k = X.shape
    sd = np.sqrt(np.diag(sigma))
    eta, lam, ok = solver.solve(y) if solver is not None else _eta_lp(y, X, sd)
    if not ok:
        return False
    if lf_cv is not None:
        mod = (alpha - kappa) / (1 - kappa)
        if eta > lf_cv:
            return True
    else:
        mod = alpha
    B = lam > 1e-6
    degenerate = int(B.sum()) != k + 1
    XB = X[B]
    full = min(XB.shape) > 0 and np.linalg.matrix_rank(XB) == min(XB.shape)
    if degenerate or not full:
        W = np.column_stack([sd, X])
        gs = float(lam @ sigma @ lam)
        s_T = y - (sigma @ lam) * float(lam @ y) / gs
        vlo, vup = _vlo_vup_dual(eta, s_T, lam, sigma, W)
        if abs(gs) < np.finfo(float).eps:
            return eta > 0
        sB = np.sqrt(gs)
        stat = eta / sB
        zlo = vlo / sB
        zup = (min(vup, lf_cv) if lf_cv is not None else vup) / sB
    else:
        Bc = ~B
        SB = np.linalg.inv(np.column_stack([sd[B], XB]))
        I = np.eye(M)
        Gam = np.column_stack([sd[Bc], X[Bc]]) @ SB @ I[B] - I[Bc]
        vB = (SB[0] @ I[B])
        s2 = float(vB @ sigma @ vB)
        sB = np.sqrt(s2)
        rho = Gam @ sigma @ vB / s2
        mm = (-Gam @ y) / rho + float(vB @ y)
        vlo = float(mm[rho > 0].max()) if (rho > 0).any() else -np.inf
        vup = float(mm[rho < 0].min()) if (rho < 0).any() else np.inf
        stat = eta / sB
        zlo = vlo / sB
        zup = (min(vup, lf_cv) if lf_cv is not None else vup) / sB
    if not (zlo <= stat <= zup):
        return False
    from scipy.stats import truncnorm

    cval = max(0.0, float(truncnorm.ppf(1 - mod, zlo, zup)))
    return bool(stat > cval)


def rm_confidence_set(betahat: np.ndarray, sigma: np.ndarray, pre: int, post: int, lvec: np.ndarray,
                      Mbar: float, alpha: float = 0.05, hybrid: bool = True,
                      grid_points: int = 1000) -> tuple[float, float]:
    """Δ^RM(M̄) confidence set for l'τ_post as R ``computeConditionalCS_DeltaRM`` (C-LF by default,
    post-period moments only, grid of ``grid_points`` on ±20 SD(θ̂) around 0): (min, max) of the
    accepted grid points, NaN if none."""
    if post < 2:
        raise InputError("relative_magnitudes needs at least two post-periods here (R's one-post-period "
                         "no-nuisance branch is not implemented)", source="event_study")
    K, P = pre, post
    sd_theta = float(np.sqrt(lvec @ sigma[K:, K:] @ lvec))
    grid = np.linspace(-20 * sd_theta, 20 * sd_theta, grid_points)
    accept = np.zeros(grid_points, dtype=bool)
    Gam = _construct_gamma(lvec)
    kappa = alpha / 10
    for s in range(-(K - 1), 1):
        for sign in (True, False):
            A = _create_A_RM(K, P, Mbar, s, sign)
            rows = np.flatnonzero((A[:, K:] != 0).any(axis=1))
            AGi = A[:, K:] @ np.linalg.inv(Gam)
            a1, X = AGi[:, 0], AGi[:, 1:]
            Y = A @ betahat
            SY = A @ sigma @ A.T
            Xr, Sr = X[rows], SY[np.ix_(rows, rows)]
            lf = _lf_cv(Xr, Sr, kappa) if hybrid else None
            cache: dict[int, bool] = {}
            solver = _EtaLP(Xr, np.sqrt(np.diag(Sr)))

            def acc(i: int, Y: np.ndarray = Y, a1: np.ndarray = a1, Xr: np.ndarray = Xr,
                    Sr: np.ndarray = Sr, lf: float | None = lf, cache: dict[int, bool] = cache,
                    rows: np.ndarray = rows, solver: _EtaLP = solver) -> bool:
                if i not in cache:
                    cache[i] = not _arp_test((Y - a1 * grid[i])[rows], Xr, Sr, alpha, kappa, lf, solver)
                return cache[i]

            # coarse scan, then every grid point next to the first/last accepted coarse point
            coarse = sorted({*range(0, grid_points, _COARSE), grid_points - 1})
            hit = [i for i in coarse if acc(i)]
            if not hit:
                continue
            first, last = hit[0], hit[-1]
            lo_i = next((i for i in range(max(first - _COARSE + 1, 0), first) if acc(i)), first)
            hi_i = next((i for i in range(min(last + _COARSE - 1, grid_points - 1), last, -1) if acc(i)),
                        last)
            accept[lo_i] = accept[hi_i] = True
    if not accept.any():
        return float("nan"), float("nan")
    return float(grid[accept].min()), float(grid[accept].max())
