"""Per-observation score contributions and sandwich (QML / cluster-robust) covariances.

The spatial score is not a sum of independent per-observation terms: the derivative with respect
to ``rho`` (``lambda``) contains the quadratic form ``e' G e`` (``e' H e``). Following Kelejian and
Prucha (2001) it is split, period by period and in the units' order, into martingale differences

    psi_it = [G_ii (e_it^2 - c_T s2) + e_it sum_{j<i} (G_ij + G_ji) e_jt] / s2

whose sum is the exact score and whose outer products estimate its variance under independent,
possibly heteroskedastic and non-normal errors. Under iid errors the expectation of the meat
``sum psi psi'`` is Lee's (2004) ``Sigma + Omega`` (normal information plus the third/fourth-moment
terms), so the sandwich is his QML covariance. See ``docs/methods/spatial_dynamic.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from zonespill.errors import InputError
from zonespill.spatial._engine import Design
from zonespill.spatial._spectrum import EIGEN_MAX_N

SE_TYPES = ("ml", "qml", "cluster")


def lag_matrix(d: Design) -> np.ndarray:
    """Dense spatial-lag operator of the transformed model (``J_n W`` under the cross-unit transformation)."""
    if not d.spec.dense:
        raise InputError(
            f"robust standard errors and the dynamic model need n <= {EIGEN_MAX_N} units (dense path); "
            f"this W has {d.spec.n}",
            source="W",
        )
    Wd = d.spec.Wd
    if d.unit_projection:
        return Wd - Wd.mean(axis=0, keepdims=True)
    return Wd


def residuals_at(d: Design, delta: np.ndarray, r: float, lam: float) -> np.ndarray:
    """``e_t = B(lam) (y_t - r L y_t - Z_t delta)`` as a ``(T, n)`` array."""
    Lm = lag_matrix(d)
    u = d.y - r * (d.y @ Lm.T) - np.einsum("tnk,k->tn", d.Z, delta)
    return u - lam * (u @ Lm.T) if lam != 0.0 else u


def score_contributions(
    d: Design,
    delta: np.ndarray,
    r: float,
    lam: float,
    s2: float,
    *,
    has_rho: bool,
    has_lam: bool,
) -> np.ndarray:
    """Martingale-difference score contributions, shape ``(T * n, k)``, order ``(delta, rho, lambda, s2)``.

    Rows are time-major (period, then unit in the weights' order). Their column sums equal the
    analytic gradient of the full log-likelihood at the given parameters.
    """
    Lm = lag_matrix(d)
    n = Lm.shape[0]
    T = d.y.shape[0]
    eye = np.eye(n)
    Bm = eye - lam * Lm
    e = residuals_at(d, delta, r, lam)
    c_T = d.T_eff / T  # splits T_eff tr(.) evenly over the T transformed periods
    c_N = d.N_eff / (T * n)
    BZ = d.Z - lam * np.einsum("ij,tjk->tik", Lm, d.Z) if lam != 0.0 else d.Z
    cols = [(BZ * e[..., None]).reshape(T * n, -1) / s2]

    def quad(M: np.ndarray) -> np.ndarray:
        low = np.tril(M + M.T, -1)
        return np.diag(M)[None, :] * (e * e - c_T * s2) + e * (e @ low.T)

    if has_rho:
        # G = L (I - rL)^-1 = (I - rL)^-1 L: one LU solve; with lam = 0, B = I and Gd = G
        G = np.linalg.solve(eye - r * Lm, Lm) if r != 0.0 else Lm
        BG = Bm @ G if lam != 0.0 else G
        Gd = np.linalg.solve(Bm.T, BG.T).T if lam != 0.0 else G  # B G B^-1
        mu = np.einsum("tnk,k->tn", d.Z, delta)
        g = mu @ BG.T
        cols.append(((g * e + quad(Gd)) / s2).reshape(T * n, 1))
    if has_lam:
        H = np.linalg.solve(Bm, Lm)  # L B^-1 = B^-1 L
        cols.append((quad(H) / s2).reshape(T * n, 1))
    cols.append(((e * e - c_N * s2) / (2 * s2 * s2)).reshape(T * n, 1))
    return np.concatenate(cols, axis=1)


def sandwich(Info: np.ndarray, psi: np.ndarray, clusters: np.ndarray | None) -> tuple[np.ndarray, int]:
    """``Info^-1 B Info^-1`` with ``B`` the outer product of (cluster sums of) ``psi``.

    With clusters the meat is scaled by ``G / (G - 1)`` (as Stata and fixest). Returns the full
    covariance over ``(params, sigma2)`` and the number of clusters (rows when ``clusters`` is None).
    """
    if clusters is None:
        meat = psi.T @ psi
        n_groups = psi.shape[0]
    else:
        codes, uniq = pd.factorize(pd.Series(clusters), sort=True)
        n_groups = len(uniq)
        if n_groups < 2:
            raise InputError("cluster-robust standard errors need at least two clusters", source="cluster")
        S = np.zeros((n_groups, psi.shape[1]))
        np.add.at(S, codes, psi)
        meat = S.T @ S * n_groups / (n_groups - 1)
    Vi = np.linalg.inv(Info)
    V = Vi @ meat @ Vi
    return 0.5 * (V + V.T), n_groups


def cluster_grid(
    data: pd.DataFrame,
    cluster: object,
    *,
    unit: str,
    time: str | None,
    units: Sequence[str],
    times: Sequence[object],
) -> np.ndarray:
    """Cluster labels laid out as the model's ``(T, n)`` arrays (time-major, weights' unit order).

    ``cluster`` is a column name of ``data`` or an array with one label per row of ``data``.
    """
    if isinstance(cluster, str):
        if cluster not in data.columns:
            raise InputError("cluster column not found in data", source="cluster", column=cluster)
        lab = data[cluster].reset_index(drop=True)
    else:
        arr = np.asarray(cluster, dtype=object)
        if arr.ndim != 1 or len(arr) != len(data):
            raise InputError(
                f"cluster= must be a column name or one label per data row ({len(data)}), "
                f"got shape {arr.shape}",
                source="cluster",
            )
        lab = pd.Series(arr)
    miss = lab.isna().to_numpy()
    if miss.any():
        raise InputError(
            "missing cluster label",
            source="cluster",
            rows=(np.flatnonzero(miss) + 1).tolist(),
            column=str(cluster) if isinstance(cluster, str) else "cluster",
        )
    df = data.reset_index(drop=True)
    upos = {u: i for i, u in enumerate(units)}
    ui = df[unit].astype(str).map(upos).to_numpy(dtype=np.int64)
    if time is None:
        ti = np.zeros(len(df), dtype=np.int64)
    else:
        tpos = {t: i for i, t in enumerate(times)}
        ti = np.array([tpos[t] for t in df[time]], dtype=np.int64)
    grid = np.empty((len(times), len(units)), dtype=object)
    grid[ti, ui] = lab.to_numpy()
    return grid


def check_se_type(se_type: str, cluster: object) -> None:
    if se_type not in SE_TYPES:
        raise InputError(f"se_type must be one of {SE_TYPES}, got {se_type!r}", source="se_type")
    if se_type == "cluster" and cluster is None:
        raise InputError(
            "se_type='cluster' needs cluster= (a column name or one label per row)", source="cluster"
        )
    if se_type != "cluster" and cluster is not None:
        raise InputError("cluster= is only used with se_type='cluster'", source="cluster")
