"""Robust spatial standard errors: QML sandwich (Lee 2004) and cluster-robust."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.errors import InputError
from zonespill.spatial import fit_cross_section, fit_panel
from zonespill.spatial._api import panel_design
from zonespill.spatial._robust import score_contributions

from .conftest import lattice_weights, simulate_panel

KW = {"y": "y", "x": ["x1", "x2"], "unit": "unit", "time": "year"}


def _complement(m: int) -> np.ndarray:
    J = np.eye(m) - np.full((m, m), 1.0 / m)
    vals, vecs = np.linalg.eigh(J)
    return vecs[:, vals > 0.5]


def _dense_loglik(df: pd.DataFrame, W: np.ndarray, theta: np.ndarray, effects: str, lee_yu: bool) -> float:
    """Full log-likelihood of the SARAR panel at (beta, rho, lambda, s2), explicit transformations."""
    d = df.sort_values(["year", "unit"])
    T, n = d.year.nunique(), W.shape[0]
    Y = d.y.to_numpy().reshape(T, n)
    X = d[["x1", "x2"]].to_numpy().reshape(T, n, 2)
    unit_fx, time_fx = effects in ("individual", "twoways"), effects in ("time", "twoways")
    if lee_yu:
        FT = _complement(T) if unit_fx else np.eye(T)
        Fn = _complement(n) if time_fx else np.eye(n)
        T_eff = FT.shape[1]
    else:  # splm-style demeaning: projectors, lags of the demeaned data with W itself
        FT = np.eye(T) - np.full((T, T), 1.0 / T) if unit_fx else np.eye(T)
        Fn = np.eye(n) - np.full((n, n), 1.0 / n) if time_fx else np.eye(n)
        T_eff = T
    Ws = Fn.T @ W @ Fn if lee_yu else W
    Ys = FT.T @ Y @ Fn
    Xs = np.einsum("ts,tnk,nm->smk", FT, X, Fn)
    b, r, lam, s2 = theta[:2], theta[2], theta[3], theta[4]
    m = Ws.shape[0]
    A, B = np.eye(m) - r * Ws, np.eye(m) - lam * Ws
    e = np.concatenate([B @ (A @ Ys[t] - Xs[t] @ b) for t in range(Ys.shape[0])])
    N = T_eff * m
    return float(
        -N / 2 * np.log(2 * np.pi * s2)
        + T_eff * (np.linalg.slogdet(A)[1] + np.linalg.slogdet(B)[1])
        - e @ e / (2 * s2)
    )


@pytest.mark.parametrize(
    ("effects", "lee_yu"), [("individual", False), ("twoways", False), ("twoways", True)]
)
def test_score_contributions_sum_to_the_gradient(effects: str, lee_yu: bool) -> None:
    w = lattice_weights(4)
    df = simulate_panel(w, 4, rho=0.3, lam=0.2, seed=3)
    design, *_ = panel_design(df, w, model="sac", effects=effects, lee_yu=lee_yu, **KW)
    Wd = w.matrix.toarray()
    theta = np.array([0.8, -0.3, 0.25, -0.15, 0.7])  # away from the MLE: the gradient is not zero
    psi = score_contributions(design, theta[:2], theta[2], theta[3], theta[4], has_rho=True, has_lam=True)
    h = 1e-6
    num = np.array(
        [
            (
                _dense_loglik(df, Wd, theta + h * e, effects, lee_yu)
                - _dense_loglik(df, Wd, theta - h * e, effects, lee_yu)
            )
            / (2 * h)
            for e in np.eye(5)
        ]
    )
    np.testing.assert_allclose(psi.sum(axis=0), num, rtol=1e-6, atol=1e-6)
    assert np.abs(num).max() > 1.0


@pytest.mark.slow
def test_qml_equals_ml_under_iid_normal_errors() -> None:
    w = lattice_weights(15)  # n = 225, T = 12: N = 2700
    df = simulate_panel(w, 12, rho=0.4, theta=(0.3, 0.2), seed=21)
    ml = fit_panel(df, w, model="sdm", **KW)
    qml = fit_panel(df, w, model="sdm", se_type="qml", **KW)
    assert ml.se_type == "ml" and qml.se_type == "qml"
    pd.testing.assert_series_equal(ml.params, qml.params)
    np.testing.assert_allclose(qml.bse / ml.bse, 1.0, atol=0.07)
    cs = simulate_panel(w, 1, rho=0.4, seed=2).drop(columns="year")
    a = fit_cross_section(cs, w, y="y", x=["x1", "x2"], unit="unit", model="sar")
    b = fit_cross_section(cs, w, y="y", x=["x1", "x2"], unit="unit", model="sar", se_type="qml")
    np.testing.assert_allclose(b.bse / a.bse, 1.0, atol=0.2)  # n = 225 only


def _hand_cluster_se(df: pd.DataFrame, W: np.ndarray, res, clusters: np.ndarray) -> np.ndarray:
    """Cross-section SAR with intercept: Info^-1 (sum_g s_g s_g') Info^-1 * G/(G-1), by explicit loops.

    ``df`` rows are in the weights' unit order.
    """
    d = df
    y = d.y.to_numpy()
    X = np.column_stack([np.ones(len(y)), d[["x1", "x2"]].to_numpy()])
    n = len(y)
    b = res.params[["const", "x1", "x2"]].to_numpy()
    r = float(res.params["rho"])
    s2 = res.sigma2
    Ainv = np.linalg.inv(np.eye(n) - r * W)
    G = W @ Ainv
    e = y - r * W @ y - X @ b
    g = G @ X @ b
    scores = np.zeros((n, 5))
    for i in range(n):
        scores[i, :3] = X[i] * e[i] / s2
        cross = sum((G[i, j] + G[j, i]) * e[j] for j in range(i))
        scores[i, 3] = (g[i] * e[i] + G[i, i] * (e[i] ** 2 - s2) + e[i] * cross) / s2
        scores[i, 4] = (e[i] ** 2 - s2) / (2 * s2**2)
    info = np.zeros((5, 5))
    info[:3, :3] = X.T @ X / s2
    info[:3, 3] = info[3, :3] = X.T @ g / s2
    info[3, 3] = np.trace(G @ G) + np.trace(G.T @ G) + g @ g / s2
    info[3, 4] = info[4, 3] = np.trace(G) / s2
    info[4, 4] = n / (2 * s2**2)
    groups = sorted(set(clusters))
    S = np.array([scores[clusters == c].sum(axis=0) for c in groups])
    Gc = len(groups)
    Vi = np.linalg.inv(info)
    V = Vi @ (S.T @ S) @ Vi * Gc / (Gc - 1)
    return np.sqrt(np.diag(V))[:4]


def test_cluster_se_equals_hand_computed_score_outer_product() -> None:
    w = lattice_weights(3)  # n = 9
    cs = simulate_panel(w, 1, rho=0.3, seed=5).drop(columns="year")
    cs["region"] = ["a", "a", "b", "b", "c", "c", "c", "d", "d"]
    res = fit_cross_section(cs, w, y="y", x=["x1", "x2"], unit="unit", se_type="cluster", cluster="region")
    assert res.se_type == "cluster" and res.info["n_clusters"] == 4
    want = _hand_cluster_se(cs, w.matrix.toarray(), res, cs.region.to_numpy())
    np.testing.assert_allclose(res.bse[["const", "x1", "x2", "rho"]].to_numpy(), want, rtol=1e-9)
    # the same labels given as an array, rows shuffled
    shuffled = cs.sample(frac=1.0, random_state=1)
    res2 = fit_cross_section(
        shuffled, w, y="y", x=["x1", "x2"], unit="unit", se_type="cluster", cluster=shuffled.region.to_numpy()
    )
    pd.testing.assert_series_equal(res.bse, res2.bse, rtol=1e-8)


def test_cluster_by_observation_is_qml_times_g_over_g_minus_1(w49, panel49) -> None:
    q = fit_panel(panel49, w49, model="sar", se_type="qml", **KW)
    c = fit_panel(panel49, w49, model="sar", se_type="cluster", cluster=np.arange(len(panel49)), **KW)
    G = len(panel49)
    np.testing.assert_allclose(c.bse, q.bse * np.sqrt(G / (G - 1)), rtol=1e-10)
    u = fit_panel(panel49, w49, model="sar", se_type="cluster", cluster="unit", **KW)
    assert u.info["n_clusters"] == 49 and "cluster-robust" in u.info["se_note"]
    assert "se_type=cluster" in u.summary()


def test_se_type_input_errors(w49, panel49) -> None:
    with pytest.raises(InputError, match="se_type"):
        fit_panel(panel49, w49, model="sar", se_type="hc1", **KW)
    with pytest.raises(InputError, match="needs cluster"):
        fit_panel(panel49, w49, model="sar", se_type="cluster", **KW)
    with pytest.raises(InputError, match="only used with"):
        fit_panel(panel49, w49, model="sar", cluster="unit", **KW)
    with pytest.raises(InputError, match="cluster column"):
        fit_panel(panel49, w49, model="sar", se_type="cluster", cluster="nope", **KW)
    with pytest.raises(InputError, match="one label per data row"):
        fit_panel(panel49, w49, model="sar", se_type="cluster", cluster=[1, 2, 3], **KW)
    bad = panel49.assign(c=np.where(np.arange(len(panel49)) == 7, None, "a"))
    with pytest.raises(InputError, match="missing cluster label"):
        fit_panel(bad, w49, model="sar", se_type="cluster", cluster="c", **KW)


@pytest.mark.slow
def test_qml_covers_better_under_heteroskedasticity() -> None:
    """SAR panel, n = 49, T = 8, errors with sd 0.2 + 1.5 |x1|: ML SEs of beta1 are too small."""
    w = lattice_weights(7)
    M = w.matrix.toarray()
    Ainv = np.linalg.inv(np.eye(49) - 0.3 * M)
    cover = {"ml": [], "qml": []}
    for s in range(150):
        rng = np.random.default_rng(500 + s)
        rows = []
        mu = rng.normal(size=49)
        for t in range(8):
            X = rng.normal(size=(49, 2))
            e = rng.normal(size=49) * (0.2 + 1.5 * np.abs(X[:, 0]))
            y = Ainv @ (X @ np.array([1.0, -0.5]) + mu + t * 0.1 + e)
            rows.append(pd.DataFrame({"unit": list(w.ids), "year": t, "y": y, "x1": X[:, 0], "x2": X[:, 1]}))
        df = pd.concat(rows, ignore_index=True)
        for se in ("ml", "qml"):
            r = fit_panel(df, w, model="sar", se_type=se, **KW)
            cover[se].append(abs(r.params["x1"] - 1.0) < 1.96 * r.bse["x1"])
    ml, qml = np.mean(cover["ml"]), np.mean(cover["qml"])
    assert ml < 0.88  # the information-matrix SEs undercover
    assert qml >= 0.9 and qml > ml + 0.05
