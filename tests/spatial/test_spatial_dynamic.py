"""Dynamic spatial panel (Yu, de Jong and Lee 2008): likelihood, bias formula, simulation, impacts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.errors import InputError
from zonespill.simulation.spatial import dynamic_sdm_panel as simulate_dynamic
from zonespill.simulation.spatial import random_knn_weights as knn_weights
from zonespill.spatial import fit_panel
from zonespill.spatial._dynamic import bias_vector, dynamic_design
from zonespill.spatial._engine import make_objective

from .conftest import lattice_weights

KW = {"y": "y", "x": ["x1"], "unit": "unit", "time": "year"}


def _complement(m: int) -> np.ndarray:
    J = np.eye(m) - np.full((m, m), 1.0 / m)
    vals, vecs = np.linalg.eigh(J)
    return vecs[:, vals > 0.5]


def _dense_conc_loglik(
    df: pd.DataFrame, W: np.ndarray, rho: float, effects: str, lee_yu: bool, sdm: bool
) -> float:
    """Concentrated Gaussian log-likelihood of the explicitly transformed dynamic model."""
    d = df.sort_values(["year", "unit"])
    T0, n = d.year.nunique(), W.shape[0]
    Y = d.y.to_numpy().reshape(T0, n)
    X = d.x1.to_numpy().reshape(T0, n)
    y, ylag, x = Y[1:], Y[:-1], X[1:]
    Tu = T0 - 1
    regs = [ylag, ylag @ W.T, x] + ([x @ W.T] if sdm else [])
    unit_fx = effects in ("individual", "twoways")
    time_fx = effects in ("time", "twoways")
    FT = np.eye(Tu)  # no unit effects: nothing removed over time
    if unit_fx:  # orthonormal F_T (T - 1 columns) or the demeaning projector J_T (T columns)
        FT = _complement(Tu) if lee_yu else np.eye(Tu) - np.full((Tu, Tu), 1.0 / Tu)
    Fn = _complement(n) if time_fx else np.eye(n)
    Ws = Fn.T @ W @ Fn
    ys = FT.T @ y @ Fn
    Zs = np.stack([FT.T @ r @ Fn for r in regs], axis=2)
    Ts, ns = ys.shape
    A = np.eye(ns) - rho * Ws
    yv = (ys @ A.T).ravel()
    Zv = Zs.reshape(Ts * ns, -1)
    b = np.linalg.lstsq(Zv, yv, rcond=None)[0]
    e = yv - Zv @ b
    # demeaning keeps T rows (N = n_eff * T, YDL's direct approach); the orthonormal F_T keeps T - 1
    T_eff = Tu - 1 if (unit_fx and lee_yu) else Tu
    N = T_eff * ns
    s2 = e @ e / N
    return float(-N / 2 * np.log(2 * np.pi * s2) - N / 2 + T_eff * np.linalg.slogdet(A)[1])


@pytest.mark.parametrize(
    ("effects", "lee_yu"),
    [("individual", False), ("individual", True), ("time", False), ("twoways", False), ("twoways", True)],
)
@pytest.mark.parametrize("model", ["sar", "sdm"])
def test_dynamic_likelihood_equals_dense_evaluation(effects: str, lee_yu: bool, model: str) -> None:
    w = lattice_weights(4)
    df = simulate_dynamic(w, 6, theta=0.2, burn=30, seed=4)
    design, _, _ = dynamic_design(
        df, w, model=model, effects=effects, lee_yu=lee_yu, durbin=None, w_ids=None, **KW
    )
    obj = make_objective(design, has_rho=True, has_lam=False)
    Wd = w.matrix.toarray()
    for rho in (-0.5, 0.1, 0.45):
        assert obj.conc(rho, 0.0) == pytest.approx(
            _dense_conc_loglik(df, Wd, rho, effects, lee_yu, model == "sdm"), rel=1e-11
        )
    res = fit_panel(
        df, w, model=model, effects=effects, lee_yu=lee_yu, dynamic=True, bias_correction=False, **KW
    )
    assert list(res.params.index[:2]) == ["y_lag", "W_y_lag"]
    assert res.loglik == pytest.approx(
        _dense_conc_loglik(df, Wd, float(res.params["rho"]), effects, lee_yu, model == "sdm"), rel=1e-10
    )


@pytest.mark.parametrize(
    ("effects", "lee_yu"), [("individual", False), ("twoways", False), ("twoways", True)]
)
def test_bias_vector_equals_dense_matrix_formula(effects: str, lee_yu: bool) -> None:
    """Eigenvalue traces against Yu-de Jong-Lee's matrix expressions with explicit J_n."""
    w = knn_weights(12, 3, seed=2)
    Wd = w.matrix.toarray()
    n, T, p = 12, 7, 3
    g, dl, rho, s2 = 0.45, 0.15, 0.25, 0.8
    time_fx = effects == "twoways"
    J = np.eye(n) - np.full((n, n), 1.0 / n) if time_fx else np.eye(n)
    S_inv = np.linalg.inv(np.eye(n) - rho * Wd)
    A = S_inv @ (g * np.eye(n) + dl * Wd)
    Phi = np.linalg.inv(np.eye(n) - A)
    G = Wd @ S_inv
    n_eff = n - 1 if time_fx else n
    T_eff = T - 1 if lee_yu else T
    want = np.zeros(p + 2)
    want[0] = np.trace(J @ Phi @ S_inv)
    want[1] = np.trace(J @ Wd @ Phi @ S_inv)
    want[p] = g * np.trace(J @ G @ Phi @ S_inv) + dl * np.trace(J @ G @ Wd @ Phi @ S_inv)
    want[p] += (T_eff - (T - 1)) * np.trace(J @ G)
    want[p + 1] = (n_eff * T_eff - n_eff * (T - 1)) / (2 * s2)
    from zonespill.spatial._spectrum import Spectrum

    got = bias_vector(
        Spectrum(w.matrix),
        gamma=g,
        delta_=dl,
        rho=rho,
        sigma2=s2,
        p=p,
        T=T,
        N_eff=n_eff * T_eff,
        T_eff=T_eff,
        unit_projection=time_fx,
        unit_effects=True,
    )
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    if not lee_yu:  # YDL's direct approach: a_rho includes tr(G), a_sigma2 = n / (2 sigma2)
        assert want[p + 1] == pytest.approx(n_eff / (2 * s2))


def test_dynamic_input_errors() -> None:
    w = lattice_weights(3)
    df = simulate_dynamic(w, 4, burn=5, seed=1)
    with pytest.raises(InputError, match="sar' or 'sdm"):
        fit_panel(df, w, model="sem", dynamic=True, **KW)
    with pytest.raises(InputError, match="only applies to the dynamic"):
        fit_panel(df, w, model="sar", bias_correction=True, **KW)
    with pytest.raises(InputError, match="bias_correction"):
        fit_panel(df, w, model="sar", dynamic=True, bias_correction="jackknife", **KW)
    gap = df[df.year != 2002]
    with pytest.raises(InputError, match="equally spaced"):
        fit_panel(gap, w, model="sar", dynamic=True, **KW)
    with pytest.raises(InputError, match="three periods"):
        fit_panel(df[df.year < 2002], w, model="sar", dynamic=True, **KW)
    bin_w = lattice_weights(3, row=False)
    with pytest.raises(InputError, match="row-standardised"):
        fit_panel(df, bin_w, model="sar", dynamic=True, effects="twoways", **KW)


def test_dynamic_impacts_short_and_long_run() -> None:
    w = knn_weights(20, 4, seed=3)
    df = simulate_dynamic(w, 12, theta=0.3, seed=8, burn=50)
    r = fit_panel(df, w, model="sdm", dynamic=True, **KW)
    assert r.dynamic and r.info["bias_correction"] == "ydl"
    Wd = w.matrix.toarray()
    g, dl, rho, b, th = (float(r.params[k]) for k in ("y_lag", "W_y_lag", "rho", "x1", "W_x1"))
    S_long = np.linalg.inv((1 - g) * np.eye(20) - (rho + dl) * Wd) @ (b * np.eye(20) + th * Wd)
    S_short = np.linalg.inv(np.eye(20) - rho * Wd) @ (b * np.eye(20) + th * Wd)
    for horizon, S in (("long", S_long), ("short", S_short)):
        d = r.impact("x1", "direct", horizon=horizon, n_sim=200, seed=1)
        t = r.impact("x1", "total", horizon=horizon, n_sim=200, seed=1)
        i = r.impact("x1", "indirect", horizon=horizon, method="delta")
        assert d.estimate == pytest.approx(np.mean(np.diag(S)), rel=1e-10)
        assert t.estimate == pytest.approx(S.sum() / 20, rel=1e-10)
        assert i.estimate == pytest.approx(t.estimate - d.estimate, rel=1e-10)
        assert t.ci_low < t.estimate < t.ci_high and t.draws is not None and len(t.draws) == t.n_draws_used
    # short-run impact of y_lag is (I - rho W)^-1 (gamma I + delta W)
    S_lag = np.linalg.inv(np.eye(20) - rho * Wd) @ (g * np.eye(20) + dl * Wd)
    assert r.impact("y_lag", "total", method="delta").estimate == pytest.approx(S_lag.sum() / 20, rel=1e-10)
    with pytest.raises(InputError):
        r.impact("y_lag", horizon="long")


@pytest.mark.slow
@pytest.mark.parametrize(
    "truth",
    [
        {"y_lag": 0.6, "W_y_lag": 0.1, "x1": 1.0, "rho": 0.25},  # moderate persistence
        {"y_lag": 0.95, "W_y_lag": -0.2, "x1": 1.0, "rho": 0.2},  # convergence-like, near a unit root
    ],
)
def test_bias_correction_removes_most_of_the_bias(truth: dict[str, float]) -> None:
    """n = 31 (5-nearest neighbours), T = 10, stationary start, 100 replications each."""
    w = knn_weights(31, 5, seed=0)
    terms = list(truth)
    tv = np.array(list(truth.values()))
    est: dict[bool, list[np.ndarray]] = {False: [], True: []}
    cover = []
    for s in range(100):
        df = simulate_dynamic(
            w, 11, gamma=truth["y_lag"], delta=truth["W_y_lag"], rho=truth["rho"], seed=100 + s
        )
        for bc in (False, True):
            r = fit_panel(df, w, model="sar", dynamic=True, bias_correction=bc, **KW)
            est[bc].append(r.params[terms].to_numpy())
            if bc:
                cover.append(np.abs(r.params[terms].to_numpy() - tv) < 1.96 * r.bse[terms].to_numpy())
    bias_u = np.mean(est[False], axis=0) - tv
    bias_c = np.mean(est[True], axis=0) - tv
    assert abs(bias_u[0]) > 0.05  # Nickell-type bias is real at T = 10
    assert abs(bias_c[0]) <= 0.25 * abs(bias_u[0])
    cov = np.mean(cover, axis=0)
    assert cov[0] >= 0.88 and np.all(cov >= 0.85)


def test_dynamic_robust_ses_and_correction_record() -> None:
    w = knn_weights(20, 4, seed=3)
    df = simulate_dynamic(w, 10, seed=9, burn=50)
    ml = fit_panel(df, w, model="sar", dynamic=True, **KW)
    cl = fit_panel(df, w, model="sar", dynamic=True, se_type="cluster", cluster="unit", **KW)
    raw = fit_panel(df, w, model="sar", dynamic=True, bias_correction=False, **KW)
    pd.testing.assert_series_equal(ml.params, cl.params)
    assert cl.se_type == "cluster" and cl.info["n_clusters"] == 20 and not np.allclose(cl.bse, ml.bse)
    # corrected = uncorrected - estimated bias; the uncorrected fit is the bias_correction=False fit
    pd.testing.assert_series_equal(ml.info["params_uncorrected"], raw.params, check_names=False)
    np.testing.assert_allclose(ml.params, raw.params - ml.info["bias_estimate"], rtol=1e-12)
    assert ml.params["y_lag"] > raw.params["y_lag"]  # Nickell bias is downward
    assert raw.info["bias_correction"] == "none" and "se_note_dynamic" in ml.info
