"""Log-determinants, parameter bounds and traces of ``W (I - r W)^{-1}``.

Two regimes, switched at :data:`EIGEN_MAX_N` units:

* ``n <= EIGEN_MAX_N`` (dense, exact): eigenvalues of ``W`` give
  ``log|I - rW| = sum log|1 - r w_i|`` and ``tr(W(I - rW)^{-1}) = sum w_i / (1 - r w_i)``;
  the information-matrix traces use the dense inverse.
* ``n > EIGEN_MAX_N`` (sparse, no dense ``n x n`` array is ever built):
  ``log|I - rW|`` from a sparse LU factorisation (``scipy.sparse.linalg.splu``, sum of
  ``log|U_ii|``; exact up to rounding). ``tr(G)`` and ``tr(G^2)`` from the power series
  ``G = sum_j r^(j-1) W^j`` with ``tr(W^j)`` exact for ``j <= 4`` (sparse products) and
  Hutchinson estimates (Rademacher probes, fixed seed) for ``j >= 5``; ``tr(G'G)`` and the
  SARAR cross traces by Hutchinson probes through the LU solves. Every stochastic trace
  carries its Monte-Carlo standard error (``trace_se``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from zonespill.errors import EstimationError

EIGEN_MAX_N = 5000  # dense n×n: 200 MB; eigenvalues of W at n = 2,850 take ~4 s (docs/decisions/spatial.md)
N_PROBES = 64
EXACT_POWERS = 4
SEED = 20240607


def _solve_factory(M: sp.csc_matrix) -> Any:
    return spla.splu(M, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})


_SPECTRA: dict[bytes, Spectrum] = {}
_SPECTRA_KEEP = 4


def spectrum_of(W: Any) -> Spectrum:
    """The :class:`Spectrum` of ``W``, shared by every fit on the same matrix in one process.

    A table fits several models on one W (static, Lee–Yu, jackknife halves, dynamic); the dense
    eigenvalues cost seconds at a few thousand units, so they are computed once. Keyed by a hash
    of the matrix's entries (not its identity); the few most recent matrices are kept.
    """
    import hashlib

    M = sp.csr_matrix(W, dtype=float)
    M.sort_indices()
    h = hashlib.sha256()
    for part in (np.asarray(M.shape, dtype=np.int64), M.indptr.astype(np.int64), M.indices.astype(np.int64),
                 M.data):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(str(EIGEN_MAX_N).encode())  # the regime (dense / sparse) is part of the key
    key = h.digest()
    if key not in _SPECTRA:
        if len(_SPECTRA) >= _SPECTRA_KEEP:
            _SPECTRA.pop(next(iter(_SPECTRA)))
        _SPECTRA[key] = Spectrum(M)
    return _SPECTRA[key]


class Spectrum:
    """Spectral facts about one weights matrix, shared by all estimators.

    Parameters
    ----------
    W
        ``n x n`` sparse weights (used as given).
    """

    def __init__(self, W: sp.csr_matrix) -> None:
        self.W = sp.csr_matrix(W, dtype=float)
        self.n = self.W.shape[0]
        self.dense = self.n <= EIGEN_MAX_N
        self._ldet_cache: dict[float, float] = {}
        self._lu_cache: dict[float, Any] = {}
        self._powers: dict[int, float] = {}
        self._power_se: dict[int, float] = {}
        self._probes: np.ndarray | None = None
        rs = np.asarray(self.W.sum(axis=1)).ravel()
        self.row_sums = rs
        self.row_standardised = bool(np.allclose(rs[rs != 0], 1.0, atol=1e-12, rtol=0))
        self.no_islands = bool(np.all(rs != 0))
        if self.dense:
            self.Wd = self.W.toarray()
            self.ev = np.linalg.eigvals(self.Wd)
            re = self.ev.real
            lo = 1.0 / re.min() if re.min() < -1e-12 else -np.inf
            hi = 1.0 / re.max() if re.max() > 1e-12 else np.inf
            self.bounds = (max(lo, -1e3), min(hi, 1e3))
            self.bounds_method = "eigenvalues (1/min Re, 1/max Re)"
        else:
            self.bounds, self.bounds_method = self._sparse_bounds()

    # ------------------------------------------------------------------ bounds
    def _sparse_bounds(self) -> tuple[tuple[float, float], str]:
        """``(-1/r, 1/r)`` with ``r`` the largest absolute row sum (>= spectral radius).

        A subset of the admissible interval, exact at the upper end for row-standardised W
        (largest eigenvalue 1). Lanczos for the extreme eigenvalues of a large grid-like W
        converges very slowly (minutes at n = 100k), so it is not attempted.
        """
        r = float(abs(self.W).sum(axis=1).max())
        how = "Gershgorin (±1/max absolute row sum), a subset of the admissible interval"
        return (-1.0 / r, 1.0 / r), how

    # ------------------------------------------------------------------ log-determinant
    def lu(self, r: float) -> Any:
        key = float(r)
        if key not in self._lu_cache:
            if len(self._lu_cache) > 2:
                self._lu_cache.clear()
            A = (sp.identity(self.n, format="csc") - key * self.W).tocsc()
            self._lu_cache[key] = _solve_factory(A)
        return self._lu_cache[key]

    def ldet(self, r: float) -> float:
        """``log|I - rW|``."""
        key = float(r)
        if key == 0.0:
            return 0.0
        if key in self._ldet_cache:
            return self._ldet_cache[key]
        if self.dense:
            val = float(np.sum(np.log(1.0 - key * self.ev)).real)
        else:
            lu = self.lu(key)
            val = float(np.sum(np.log(np.abs(lu.U.diagonal()))))
        self._ldet_cache[key] = val
        return val

    # ------------------------------------------------------------------ solves
    def solver(self, r: float) -> Callable[[np.ndarray], np.ndarray]:
        """Function returning ``(I - rW)^{-1} v`` for ``v`` of shape (n,) or (n, m)."""
        if r == 0.0:
            return lambda v: np.array(v, dtype=float, copy=True)
        if self.dense:
            import scipy.linalg as sla

            f = sla.lu_factor(np.eye(self.n) - r * self.Wd, check_finite=False)  # a third of an inverse
            return lambda v: sla.lu_solve(f, np.asarray(v, dtype=float), check_finite=False)
        lu = self.lu(r)
        return lambda v: lu.solve(np.asarray(v, dtype=float))

    def solver_t(self, r: float) -> Callable[[np.ndarray], np.ndarray]:
        """Function returning ``(I - rW)^{-T} v``."""
        if r == 0.0:
            return lambda v: np.array(v, dtype=float, copy=True)
        if self.dense:
            AinvT = np.linalg.inv(np.eye(self.n) - r * self.Wd).T
            return lambda v: AinvT @ v
        lu = self.lu(r)
        return lambda v: lu.solve(np.asarray(v, dtype=float), trans="T")

    # ------------------------------------------------------------------ traces of W^j
    def _probe_matrix(self) -> np.ndarray:
        if self._probes is None:
            rng = np.random.default_rng(SEED)
            self._probes = rng.choice(np.array([-1.0, 1.0]), size=(self.n, N_PROBES))
        return self._probes

    def power_traces(self, J: int) -> tuple[np.ndarray, np.ndarray]:
        """``tr(W^j)`` for ``j = 1..J`` and their Monte-Carlo standard errors."""
        have = max(self._powers) if self._powers else 0
        if have < J:
            W = self.W
            if not self._powers:
                self._powers[1] = float(W.diagonal().sum())
                W2 = (W @ W).tocsr()
                self._powers[2] = float(W2.diagonal().sum())
                self._powers[3] = float(W2.multiply(W.T).sum())
                self._powers[4] = float(W2.multiply(W2.T).sum())
                for j in range(1, EXACT_POWERS + 1):
                    self._power_se[j] = 0.0
                have = EXACT_POWERS
            if have < J:
                Z = self._probe_matrix()
                V = Z.copy()
                for _ in range(EXACT_POWERS):
                    V = W @ V
                for j in range(EXACT_POWERS + 1, J + 1):
                    V = W @ V
                    if j <= have:
                        continue
                    q = np.einsum("ij,ij->j", Z, V)
                    self._powers[j] = float(q.mean())
                    self._power_se[j] = float(q.std(ddof=1) / np.sqrt(q.size))
        t = np.array([self._powers[j] for j in range(1, J + 1)])
        s = np.array([self._power_se[j] for j in range(1, J + 1)])
        return t, s

    @staticmethod
    def series_length(r: float, tol: float = 1e-13, cap: int = 3000) -> int:
        a = abs(r)
        if a < 1e-12:
            return EXACT_POWERS
        return int(min(cap, max(EXACT_POWERS + 1, np.ceil(np.log(tol) / np.log(a)) + 2)))

    def trG(self, r: float) -> tuple[float, float]:
        """``tr(W (I - rW)^{-1})`` and its Monte-Carlo standard error (0 when exact)."""
        if self.dense:
            return float(np.sum(self.ev / (1.0 - r * self.ev)).real), 0.0
        J = self.series_length(r)
        t, s = self.power_traces(J)
        w = r ** np.arange(J)
        return float(w @ t), float(np.sqrt(np.sum((w * s) ** 2)))

    def trG2(self, r: float) -> tuple[float, float]:
        """``tr((W (I - rW)^{-1})^2)`` and its Monte-Carlo standard error."""
        if self.dense:
            g = self.ev / (1.0 - r * self.ev)
            return float(np.sum(g * g).real), 0.0
        J = self.series_length(r) + 1
        t, s = self.power_traces(J)
        j = np.arange(1, J + 1)
        w = np.where(j >= 2, (j - 1) * np.power(r, np.maximum(j - 2, 0)), 0.0)
        return float(w @ t), float(np.sqrt(np.sum((w * s) ** 2)))

    # ------------------------------------------------------------------ impacts helpers
    def mean_inverse_rowsum(self, r: float, v: np.ndarray) -> float:
        """``mean((I - rW)^{-1} v)`` (exact solve)."""
        return float(np.mean(self.solver(r)(v)))

    def power_means(self, v: np.ndarray, J: int) -> np.ndarray:
        """``mean(W^j v)`` for ``j = 0..J``."""
        out = np.empty(J + 1)
        cur = np.asarray(v, dtype=float)
        for j in range(J + 1):
            out[j] = cur.mean()
            cur = self.W @ cur
        return out


def check_interior(name: str, value: float, bounds: tuple[float, float]) -> None:
    """Raise :class:`EstimationError` when an ML spatial parameter sits on its bound."""
    lo, hi = bounds
    width = min(hi - lo, 4.0)
    tol = 1e-6 * width
    if value - lo <= tol or hi - value <= tol:
        raise EstimationError(
            f"ML estimate of {name} = {value:.8g} is on the boundary of its admissible interval "
            f"({lo:.6g}, {hi:.6g}); the likelihood has no interior maximum, results are not usable"
        )
