"""Lee-Yu (2010) transformation: likelihood equals a direct dense evaluation; bias removal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.spatial import fit_panel
from zonespill.spatial._api import panel_design
from zonespill.spatial._engine import make_objective

from .conftest import lattice_weights, simulate_panel

KW = {"y": "y", "x": ["x1", "x2"], "unit": "unit", "time": "year"}


def _orthonormal_complement(m: int) -> np.ndarray:
    """``m x (m-1)`` orthonormal basis of the vectors orthogonal to ones (eigenvectors of J_m)."""
    J = np.eye(m) - np.full((m, m), 1.0 / m)
    vals, vecs = np.linalg.eigh(J)
    return vecs[:, vals > 0.5]


def _direct_loglik(
    df: pd.DataFrame, W: np.ndarray, ids: list[str], rho: float, lam: float, effects: str
) -> float:
    """Gaussian log-likelihood of the explicitly transformed model, concentrated in beta and s2."""
    d = df.sort_values(["year", "unit"])
    T, n = d.year.nunique(), len(ids)
    Y = d.y.to_numpy().reshape(T, n)
    X = d[["x1", "x2"]].to_numpy().reshape(T, n, 2)
    FT = _orthonormal_complement(T) if effects in ("individual", "twoways") else np.eye(T)
    Fn = _orthonormal_complement(n) if effects in ("time", "twoways") else np.eye(n)
    Ws = Fn.T @ W @ Fn
    Ys = FT.T @ Y @ Fn  # (T*, n*)
    Xs = np.einsum("ts,tnk,nm->smk", FT, X, Fn)
    Ts, ns = Ys.shape
    A = np.eye(ns) - rho * Ws
    B = np.eye(ns) - lam * Ws
    yv = np.concatenate([B @ A @ Ys[t] for t in range(Ts)])
    Xv = np.concatenate([B @ Xs[t] for t in range(Ts)])
    beta = np.linalg.lstsq(Xv, yv, rcond=None)[0]
    e = yv - Xv @ beta
    N = Ts * ns
    s2 = e @ e / N
    _, ldA = np.linalg.slogdet(A)
    _, ldB = np.linalg.slogdet(B)
    return float(-N / 2 * np.log(2 * np.pi * s2) - N / 2 + Ts * (ldA + ldB))


@pytest.mark.parametrize("effects", ["individual", "time", "twoways"])
@pytest.mark.parametrize("model", ["sar", "sem", "sac"])
def test_lee_yu_likelihood_equals_direct_evaluation(effects: str, model: str) -> None:
    w = lattice_weights(4)  # 16 units
    df = simulate_panel(w, 4, rho=0.3, lam=0.2, seed=8)
    design, *_ = panel_design(df, w, model=model, effects=effects, lee_yu=True, **KW)
    has_rho, has_lam = model in ("sar", "sac"), model in ("sem", "sac")
    obj = make_objective(design, has_rho=has_rho, has_lam=has_lam)
    for rho, lam in [(0.35, -0.2), (-0.4, 0.6), (0.1, 0.1)]:
        r_, l_ = (rho if has_rho else 0.0), (lam if has_lam else 0.0)
        direct = _direct_loglik(df, w.matrix.toarray(), list(w.ids), r_, l_, effects)
        assert obj.conc(r_, l_) == pytest.approx(direct, rel=1e-11)
    res = fit_panel(df, w, model=model, effects=effects, lee_yu=True, **KW)
    n_eff = {"individual": 16 * 3, "time": 15 * 4, "twoways": 15 * 3}[effects]
    assert res.info["N_eff"] == n_eff
    r_, l_ = res.params.get("rho", 0.0), res.params.get("lambda", 0.0)
    assert res.loglik == pytest.approx(
        _direct_loglik(df, w.matrix.toarray(), list(w.ids), r_, l_, effects), rel=1e-10
    )


def test_lee_yu_removes_bias_small_t() -> None:
    """Seeded Monte Carlo, two-way FE SAR, n = 49, T = 3, rho = 0.4, sigma2 = 1."""
    w = lattice_weights(7)
    reps = 150
    est = {False: [], True: []}
    for s in range(reps):
        df = simulate_panel(w, 3, rho=0.4, theta=(0.0, 0.0), sigma=1.0, seed=1000 + s)
        for ly in (False, True):
            r = fit_panel(df, w, model="sar", effects="twoways", lee_yu=ly, **KW)
            est[ly].append((r.params["rho"], r.sigma2))
    naive, ly = np.array(est[False]), np.array(est[True])
    se_s2 = ly[:, 1].std(ddof=1) / np.sqrt(reps)
    # direct demeaning: sigma2 biased by about (n-1)(T-1)/(nT) = 0.65
    assert naive[:, 1].mean() < 0.75
    assert abs(ly[:, 1].mean() - 1.0) < 3 * se_s2 + 0.02
    # rho: Lee-Yu closer to the truth
    assert abs(ly[:, 0].mean() - 0.4) < abs(naive[:, 0].mean() - 0.4)
    assert abs(ly[:, 0].mean() - 0.4) < 3 * ly[:, 0].std(ddof=1) / np.sqrt(reps) + 0.01
