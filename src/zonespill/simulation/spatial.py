"""Seeded spatial designs with known truth, shared by the spatial tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zonespill.weights import SpatialWeights


def random_knn_weights(n: int, k: int = 4, *, seed: int = 0) -> SpatialWeights:
    """Row-standardised ``k``-nearest-neighbour weights on ``n`` seeded random points of the unit
    square (Euclidean; ids ``u000``…). For real regions use :func:`zonespill.geography.knn_weights`."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(size=(n, 2))
    d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    nb = np.argsort(d2, axis=1)[:, :k]
    C = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), nb.ravel())), shape=(n, n))
    return SpatialWeights(tuple(f"u{i:03d}" for i in range(n)), C, "binary", "knn").row_standardise()


def dynamic_sdm_panel(
    W: SpatialWeights,
    T: int,
    *,
    rho: float = 0.3,
    gamma: float = 0.5,
    delta: float = 0.1,
    beta: float = 1.0,
    theta: float = 0.0,
    sigma: float = 1.0,
    burn: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Dynamic SDM with unit and period effects, started at its stationary distribution.

    ``y_t = rho W y_t + gamma y_{t-1} + delta W y_{t-1} + x_t beta + W x_t theta + mu + alpha_t + e_t``
    with ``x_t`` normal and correlated with ``mu``; ``burn`` periods are discarded so the first
    kept period is (to rounding) a draw from the stationary distribution given the effects.
    Returns ``T`` periods (years 2000…; the first one serves as the lag), columns ``unit, year, y, x1``.
    """
    rng = np.random.default_rng(seed)
    n = W.n
    M = W.matrix.toarray()
    Sinv = np.linalg.inv(np.eye(n) - rho * M)
    A = Sinv @ (gamma * np.eye(n) + delta * M)
    mu = rng.normal(size=n)
    alpha = rng.normal(size=burn + T)
    yv = np.zeros(n)
    out = []
    for t in range(burn + T):
        x = rng.normal(size=n) + 0.5 * mu
        yv = A @ yv + Sinv @ (beta * x + theta * (M @ x) + mu + alpha[t] + rng.normal(scale=sigma, size=n))
        if t >= burn:
            out.append(pd.DataFrame({"unit": list(W.ids), "year": 2000 + t - burn, "y": yv, "x1": x}))
    return pd.concat(out, ignore_index=True)
