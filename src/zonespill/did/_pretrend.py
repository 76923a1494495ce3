"""Joint pre-trend tests that always report (issue 11 part 5).

A Wald test of H0: every pre-treatment coefficient is zero.  When the covariance of the leads is
singular (few units, collinear leads) the test does not disappear: it uses the Moore–Penrose
pseudo-inverse, tests the rank-r subspace the data identify (χ²(r)) and says so.  Components of
the leads in the null space of their covariance (estimated with zero variance but non-zero) are
reported as well: such a lead cannot be tested and is named in the note.
Anticipation periods are never part of the test (they are not pre-treatment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PreTrendTest:
    """Joint test of H0: all pre-treatment effects (leads) are zero.

    Attributes
    ----------
    stat : float
        Wald statistic ``b' V⁻ b`` (NaN when nothing can be tested).
    df : int
        Degrees of freedom = rank of the leads' covariance used.
    pvalue : float
        χ²(df) p-value.
    method : str
        ``"wald"`` (full-rank inverse) or ``"wald-pinv"`` (pseudo-inverse, rank < number of leads)
        or ``"none"`` (no testable lead), followed by the estimator's own test name when relevant.
    n_leads : int
        Number of lead coefficients entering the test.
    rank : int
        Rank of their covariance (= ``df``).
    leads : tuple
        Labels of the leads tested (event times or (g, t) cells).
    excluded : tuple
        Labels left out as anticipation periods or thin cells.
    pvalue_f : float
        ``F(df, G − 1)`` p-value of ``stat / df`` with G clusters (finite-sample version), NaN when
        G is unknown.
    note : str
        Plain-language description (which inverse, rank, exclusions).
    """

    stat: float
    df: int
    pvalue: float
    method: str
    n_leads: int
    rank: int
    leads: tuple[object, ...] = ()
    excluded: tuple[object, ...] = ()
    pvalue_f: float = float("nan")
    note: str = ""


def joint_wald(b: np.ndarray, V: np.ndarray, *, labels: Sequence[object] = (),
               excluded: Sequence[object] = (), n_clusters: int | None = None,
               name: str = "leads", rtol: float = 1e-10) -> PreTrendTest:
    """Wald test of ``b = 0`` with covariance ``V``, full rank or by pseudo-inverse."""
    b = np.asarray(b, dtype=float).ravel()
    V = np.asarray(V, dtype=float).reshape(len(b), len(b))
    ok = np.isfinite(b) & np.isfinite(np.diag(V))
    labs = list(labels) if len(labels) == len(b) else list(range(len(b)))
    dropped_nan = [labs[i] for i in np.flatnonzero(~ok)]
    b, V = b[ok], V[np.ix_(ok, ok)]
    labs = [labs[i] for i in np.flatnonzero(ok)]
    k = len(b)
    excl = tuple(excluded) + tuple(dropped_nan)
    if k == 0:
        return PreTrendTest(stat=float("nan"), df=0, pvalue=float("nan"), method="none", n_leads=0,
                            rank=0, leads=(), excluded=excl,
                            note=f"no pre-treatment {name} to test")
    Vs = (V + V.T) / 2
    w, Q = np.linalg.eigh(Vs)
    tol = rtol * max(float(w.max()), 0.0) * k
    pos = w > tol
    r = int(pos.sum())
    if r == 0:
        return PreTrendTest(stat=float("nan"), df=0, pvalue=float("nan"), method="none", n_leads=k,
                            rank=0, leads=tuple(labs), excluded=excl,
                            note=f"the {k} pre-treatment {name} all have zero estimated variance: untestable")
    z = Q[:, pos].T @ b
    stat = float((z**2 / w[pos]).sum())
    method = "wald" if r == k else "wald-pinv"
    p = float(stats.chi2.sf(stat, r))
    pf = float("nan")
    if n_clusters is not None and n_clusters > 1:
        pf = float(stats.f.sf(stat / r, r, n_clusters - 1))
    note = f"joint Wald test of {k} pre-treatment {name}"
    if r < k:
        null = Q[:, ~pos].T @ b
        resid = float(np.abs(null).max()) if null.size else 0.0
        note += (f": covariance singular, Moore–Penrose pseudo-inverse of rank {r} (χ²({r}) on the "
                 f"identified subspace)")
        if resid > 1e-8 * max(1.0, float(np.abs(b).max())):
            note += f"; the leads have a non-zero component ({resid:.3g}) with zero estimated variance"
    if excl:
        note += f"; excluded: {', '.join(str(x) for x in excl)}"
    return PreTrendTest(stat=stat, df=r, pvalue=p, method=method, n_leads=k, rank=r, leads=tuple(labs),
                        excluded=excl, pvalue_f=pf, note=note)
