"""Small seeded spatial panels for the spatial tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from zonespill.weights import SpatialWeights


def lattice_weights(side: int, *, queen: bool = False, row: bool = True) -> SpatialWeights:
    """Rook/queen contiguity on a ``side x side`` grid, ids ``r000``… (optionally row-standardised)."""
    n = side * side
    rows, cols = [], []
    for i in range(side):
        for j in range(side):
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    if (di, dj) == (0, 0) or (not queen and di != 0 and dj != 0):
                        continue
                    a, b = i + di, j + dj
                    if 0 <= a < side and 0 <= b < side:
                        rows.append(i * side + j)
                        cols.append(a * side + b)
    C = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    w = SpatialWeights(tuple(f"r{k:03d}" for k in range(n)), C, "binary", "lattice")
    return w.row_standardise() if row else w


def simulate_panel(
    W: SpatialWeights,
    T: int,
    *,
    rho: float = 0.4,
    lam: float = 0.0,
    beta=(1.0, -0.5),
    theta=(0.0, 0.0),
    sigma: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Draw a two-way fixed-effects panel from the SDM/SAC data-generating process."""
    rng = np.random.default_rng(seed)
    n = W.n
    M = W.matrix.toarray()
    A = np.linalg.inv(np.eye(n) - rho * M)
    B = np.linalg.inv(np.eye(n) - lam * M)
    mu = rng.normal(size=n)
    alpha = rng.normal(size=T)
    out = []
    for t in range(T):
        X = rng.normal(size=(n, len(beta))) + 0.5 * mu[:, None]
        u = B @ rng.normal(scale=sigma, size=n)
        yt = A @ (X @ np.asarray(beta) + M @ X @ np.asarray(theta) + mu + alpha[t] + u)
        out.append(
            pd.DataFrame({"unit": list(W.ids), "year": 2000 + t, "y": yt, "x1": X[:, 0], "x2": X[:, 1]})
        )
    return pd.concat(out, ignore_index=True)


@pytest.fixture(scope="session")
def w49() -> SpatialWeights:
    return lattice_weights(7)


@pytest.fixture(scope="session")
def panel49(w49: SpatialWeights) -> pd.DataFrame:
    return simulate_panel(w49, 6, rho=0.4, theta=(0.3, 0.2), seed=11)

