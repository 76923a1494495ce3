"""Exact least squares on two-way (unit + time) fixed effects, balanced or not.

The normal equations of :math:`y_{it} = \\alpha_i + \\beta_t + e_{it}` are singular by
construction: in every connected component of the unit–time observation graph one constant can
be moved between the α's and the β's.  Inverting them with a pseudo-inverse is numerically
fragile — the zero eigenvalue of the Schur complement comes out as ±1e-12 and gets inverted,
which silently breaks the normal equations.  Here the indeterminacy is removed *exactly*: one
time effect per connected component is fixed at zero (the first period of the component), the
remaining Schur complement is symmetric positive definite and is solved by Cholesky, followed by
one step of iterative refinement.  Fitted values, residuals and any identified linear
combination do not depend on the normalisation.

:class:`TwoWayFE` is the solver; :func:`twoway_demean` is the within transformation (residuals of
the two-way projection) for any panel layout.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from zonespill.errors import EstimationError


def _codes(x: np.ndarray, n: int | None) -> tuple[np.ndarray, int]:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError("codes must be one-dimensional")
    if n is None:
        _, x = np.unique(x, return_inverse=True)
        return x.astype(np.int64), int(x.max()) + 1 if len(x) else 0
    x = x.astype(np.int64)
    if len(x) and (x.min() < 0 or x.max() >= n):
        raise ValueError("codes out of range")
    return x, int(n)


class TwoWayFE:
    """Least squares on unit and time dummies for a set of observations.

    Parameters
    ----------
    units, times : array of int (n_obs,)
        Integer codes ``0..n_units-1`` / ``0..n_times-1`` of each observation (any labels when
        ``n_units``/``n_times`` are omitted: they are then factorised).
    n_units, n_times : int, optional
        Number of unit / time effects (effects without observations are set to zero).

    Attributes
    ----------
    n_components : int
        Connected components of the unit–time graph (one normalisation each).
    unit_component, time_component : array of int
        Component of each unit / time (-1 when it has no observation).
    rank : int
        Rank of the dummy matrix, ``n_units_observed + n_times_observed − n_components``.
    """

    def __init__(self, units: np.ndarray, times: np.ndarray, *, n_units: int | None = None,
                 n_times: int | None = None) -> None:
        u, nu = _codes(units, n_units)
        t, nt = _codes(times, n_times)
        if len(u) != len(t):
            raise ValueError("units and times must have the same length")
        self.units, self.times, self.n_units, self.n_times = u, t, nu, nt
        self.cu = np.bincount(u, minlength=nu).astype(float)
        self.ct = np.bincount(t, minlength=nt).astype(float)
        self.B = sp.csr_matrix((np.ones(len(u)), (u, t)), shape=(nu, nt))
        self.B.sum_duplicates()
        # bipartite unit–time graph: node i = unit i, node nu + s = period s
        rows = np.concatenate([u, nu + t])
        cols = np.concatenate([nu + t, u])
        graph = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(nu + nt, nu + nt))
        _, lab = connected_components(graph, directed=False)
        lab_u, lab_t = lab[:nu].copy(), lab[nu:].copy()
        lab_u[self.cu == 0] = -1
        lab_t[self.ct == 0] = -1
        comps = np.unique(lab_t[lab_t >= 0])
        self.n_components = len(comps)
        self.unit_component, self.time_component = lab_u, lab_t
        self.rank = int((self.cu > 0).sum() + (self.ct > 0).sum() - self.n_components)
        # eliminate the larger side, keep a dense SPD system on the smaller side
        self._swap = nt > nu
        if self._swap:
            A, cA, cS, labS = self.B.T.tocsr(), self.ct, self.cu, lab_u
        else:
            A, cA, cS, labS = self.B, self.cu, self.ct, lab_t
        self._A, self._cA, self._cS = A, cA, cS
        self._inv_cA = np.divide(1.0, cA, out=np.zeros_like(cA), where=cA > 0)
        ref = np.zeros(len(cS), dtype=bool)  # one grounded effect per component (its first)
        for c in comps:
            ref[np.flatnonzero(labS == c)[0]] = True
        self._free = np.flatnonzero((cS > 0) & ~ref)
        S = sp.diags(cS) - A.T @ sp.diags(self._inv_cA) @ A
        Sf = np.asarray(S.todense())[np.ix_(self._free, self._free)]
        try:
            self._chol = sla.cho_factor(Sf, lower=True) if len(self._free) else None
        except np.linalg.LinAlgError as exc:  # pragma: no cover - impossible after grounding
            raise EstimationError("two-way fixed-effects system is singular after normalisation") from exc

    # -- normal equations ------------------------------------------------------------------------
    def _apply(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Left-hand side of the normal equations, Z'Z [a; b]."""
        return self.cu[:, None] * a + self.B @ b, self.B.T @ a + self.ct[:, None] * b

    def _solve_once(self, ru: np.ndarray, rt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rA, rS = (rt, ru) if self._swap else (ru, rt)
        rhs = rS - self._A.T @ (rA * self._inv_cA[:, None])
        s = np.zeros_like(rS)
        if self._chol is not None:
            s[self._free] = sla.cho_solve(self._chol, rhs[self._free])
        a_ = (rA - self._A @ s) * self._inv_cA[:, None]
        return (s, a_) if self._swap else (a_, s)

    def solve(self, ru: np.ndarray, rt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Solve ``[diag(cu) B; B' diag(ct)] [a; b] = [ru; rt]`` under the normalisation.

        ``ru`` is ``n_units × m`` (or ``n_units``), ``rt`` ``n_times × m``.  The right-hand side
        must be consistent (component sums of ``ru`` and ``rt`` equal), as it is for ``Z'y``.
        """
        vec = np.ndim(ru) == 1
        ru2 = np.asarray(ru, dtype=float).reshape(self.n_units, -1)
        rt2 = np.asarray(rt, dtype=float).reshape(self.n_times, -1)
        a, b = self._solve_once(ru2, rt2)
        lu, lt = self._apply(a, b)  # one step of iterative refinement
        da, db = self._solve_once(ru2 - lu, rt2 - lt)
        a, b = a + da, b + db
        return (a[:, 0], b[:, 0]) if vec else (a, b)

    def fit(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit and time effects of ``y`` (n_obs or n_obs × m) under the normalisation."""
        y = np.asarray(y, dtype=float)
        y2 = y.reshape(len(self.units), -1)
        ru = np.zeros((self.n_units, y2.shape[1]))
        rt = np.zeros((self.n_times, y2.shape[1]))
        np.add.at(ru, self.units, y2)
        np.add.at(rt, self.times, y2)
        a, b = self.solve(ru, rt)
        return (a[:, 0], b[:, 0]) if y.ndim == 1 else (a, b)

    def predict(self, a: np.ndarray, b: np.ndarray, units: np.ndarray | None = None,
                times: np.ndarray | None = None) -> np.ndarray:
        """``a[unit] + b[time]`` at the fitting observations or at given (integer-coded) ones."""
        u = self.units if units is None else np.asarray(units, dtype=np.int64)
        t = self.times if times is None else np.asarray(times, dtype=np.int64)
        return np.asarray(a[u] + b[t])

    def residuals(self, y: np.ndarray) -> np.ndarray:
        """``y`` minus its two-way projection (the within transformation)."""
        a, b = self.fit(y)
        return np.asarray(y, dtype=float) - self.predict(a, b)

    def identified(self, units: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Whether ``α_unit + β_time`` is identified (both observed, same component)."""
        cu = self.unit_component[np.asarray(units, dtype=np.int64)]
        ct = self.time_component[np.asarray(times, dtype=np.int64)]
        return np.asarray((cu >= 0) & (cu == ct))


def twoway_demean(values: np.ndarray, units: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Residuals of ``values`` (n_obs or n_obs × k) on unit and time dummies, exactly.

    Works for unbalanced panels and disconnected unit–time graphs (one normalisation per
    component); balanced panels give the textbook ``x − x̄_i − x̄_t + x̄``.
    """
    return TwoWayFE(units, times).residuals(values)
