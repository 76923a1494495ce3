"""Model internals: equivalences, ordering, impacts, cross-section, sparse path, LM tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import zonespill.spatial._spectrum as spectrum_mod
from zonespill.spatial import fit_cross_section, fit_panel, lm_tests
from zonespill.spatial._data import demean, spatial_lag
from zonespill.spatial.lmtests import lm_statistics
from zonespill.weights import SpatialWeights

from .conftest import lattice_weights, simulate_panel

KW = {"y": "y", "x": ["x1", "x2"], "unit": "unit", "time": "year"}


def test_row_order_and_weights_form_do_not_matter(panel49: pd.DataFrame, w49: SpatialWeights) -> None:
    a = fit_panel(panel49, w49, model="sdm", **KW)
    perm = list(reversed(w49.ids))
    w_perm = w49.reorder(perm)
    b = fit_panel(panel49.sample(frac=1.0, random_state=2), w_perm.to_dense_frame(), model="sdm", **KW)
    c = fit_panel(panel49, w_perm.matrix, w_ids=list(w_perm.ids), model="sdm", **KW)
    # The maximiser of a likelihood evaluated in floating point is located only to about
    # sqrt(machine eps) (the profile is flat to rounding there: both logliks agree to 1e-12 while
    # rho moves by ~5e-8 with the summation order), so estimates agree to 1e-6, not to 1e-9.
    pd.testing.assert_series_equal(a.params, b.params, rtol=2e-6)
    pd.testing.assert_series_equal(a.bse, c.bse, rtol=2e-6)
    assert a.loglik == pytest.approx(c.loglik, rel=1e-12)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)


def test_sdm_is_sar_with_lagged_regressors(panel49: pd.DataFrame, w49: SpatialWeights) -> None:
    df = panel49.sort_values(["year", "unit"]).copy()
    M = w49.matrix
    for v in ("x1", "x2"):
        df[f"W_{v}"] = np.concatenate([M @ g[v].to_numpy() for _, g in df.groupby("year", sort=True)])
    sdm = fit_panel(panel49, w49, model="sdm", **KW)
    sar = fit_panel(df, w49, y="y", x=["x1", "x2", "W_x1", "W_x2"], unit="unit", time="year", model="sar")
    pd.testing.assert_series_equal(sdm.params, sar.params, rtol=1e-8)
    pd.testing.assert_series_equal(sdm.bse, sar.bse, rtol=1e-8)
    slx = fit_panel(panel49, w49, model="slx", durbin=["x2"], **KW)
    ols = np.linalg.lstsq(
        demean(np.stack([df.x1, df.x2, df.W_x2], 1).reshape(6, 49, 3), "twoways").reshape(-1, 3),
        demean(df.y.to_numpy().reshape(6, 49), "twoways").ravel(),
        rcond=None,
    )[0]
    np.testing.assert_allclose(slx.params[["x1", "x2", "W_x2"]].to_numpy(), ols, rtol=1e-10)


def test_sdm_recovers_truth_and_impacts_are_exact(w49: SpatialWeights) -> None:
    df = simulate_panel(w49, 30, rho=0.4, theta=(0.3, 0.2), seed=5)
    r = fit_panel(df, w49, model="sdm", **KW)
    assert r.params["rho"] == pytest.approx(0.4, abs=4 * r.bse["rho"])
    imp = r.impacts(n_sim=300, seed=1)
    M = w49.matrix.toarray()
    Ainv = np.linalg.inv(np.eye(49) - r.params["rho"] * M)
    for v in ("x1", "x2"):
        S = Ainv @ (r.params[v] * np.eye(49) + r.params[f"W_{v}"] * M)
        assert imp.loc[v, "direct"] == pytest.approx(np.mean(np.diag(S)), rel=1e-10)
        assert imp.loc[v, "total"] == pytest.approx(
            (r.params[v] + r.params[f"W_{v}"]) / (1 - r.params["rho"]), rel=1e-10
        )
        assert imp.loc[v, "indirect"] == pytest.approx(S.sum(axis=1).mean() - np.mean(np.diag(S)), rel=1e-9)
        assert imp.loc[v, ["se_direct", "se_indirect", "se_total"]].gt(0).all()


def test_slx_and_sdem_impacts_are_beta_and_theta(panel49: pd.DataFrame, w49: SpatialWeights) -> None:
    for model in ("slx", "sdem"):
        r = fit_panel(panel49, w49, model=model, **KW)
        imp = r.impacts()
        for v in ("x1", "x2"):
            assert imp.loc[v, "direct"] == pytest.approx(r.params[v])
            assert imp.loc[v, "indirect"] == pytest.approx(r.params[f"W_{v}"])
            assert imp.loc[v, "se_direct"] == pytest.approx(r.bse[v])
            assert imp.loc[v, "se_indirect"] == pytest.approx(r.bse[f"W_{v}"])
            cov = r.vcov.loc[v, f"W_{v}"]
            assert imp.loc[v, "se_total"] == pytest.approx(
                np.sqrt(r.bse[v] ** 2 + r.bse[f"W_{v}"] ** 2 + 2 * cov)
            )


def test_loglik_comparable_and_frames(panel49: pd.DataFrame, w49: SpatialWeights) -> None:
    fits = {m: fit_panel(panel49, w49, model=m, **KW) for m in ("sar", "sem", "sdm", "sdem", "slx", "sac")}
    assert fits["sdm"].loglik >= fits["sar"].loglik - 1e-9  # nested
    assert fits["sdm"].loglik >= fits["slx"].loglik - 1e-9
    assert fits["sdem"].loglik >= fits["sem"].loglik - 1e-9
    assert fits["sac"].loglik >= max(fits["sar"].loglik, fits["sem"].loglik) - 1e-7
    f = fits["sac"].to_frame()
    assert list(f.columns) == ["estimate", "se", "z", "pvalue"]
    assert "rho" in f.index and "lambda" in f.index
    assert "SAC" in fits["sac"].summary()


def test_sparse_path_matches_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    w = lattice_weights(20, queen=True)
    df = simulate_panel(w, 5, rho=0.4, lam=0.0, theta=(0.2, 0.1), seed=3)
    dense = {m: fit_panel(df, w, model=m, **KW) for m in ("sdm", "sem", "sac")}
    monkeypatch.setattr(spectrum_mod, "EIGEN_MAX_N", 100)
    for m, d in dense.items():
        s = fit_panel(df, w, model=m, **KW)
        assert s.info["logdet"] == "sparse LU"
        # the maximiser is only resolved to ~sqrt(eps * |loglik| / information) ~ 1e-8 in double
        # precision, and the two log-determinants round differently
        assert ((s.params - d.params).abs() < 1e-5 * d.bse).all()
        np.testing.assert_allclose(s.bse, d.bse, rtol=0.01)
        assert s.loglik == pytest.approx(d.loglik, rel=1e-10)
        if m == "sdm":
            np.testing.assert_allclose(
                s.impacts(n_sim=50)[["direct", "indirect", "total"]],
                d.impacts(n_sim=50)[["direct", "indirect", "total"]],
                rtol=1e-4,
            )


@pytest.mark.parametrize("model", ["sar", "sem"])
def test_cross_section_matches_spreg(model: str) -> None:
    spreg = pytest.importorskip("spreg")
    libpysal = pytest.importorskip("libpysal")
    w = lattice_weights(9)
    rng = np.random.default_rng(4)
    n = w.n
    X = rng.normal(size=(n, 2))
    M = w.matrix.toarray()
    e = rng.normal(size=n)
    y = (
        np.linalg.solve(np.eye(n) - 0.5 * M, 1 + X @ [1.0, -1.0] + e)
        if model == "sar"
        else 1 + X @ [1.0, -1.0] + np.linalg.solve(np.eye(n) - 0.5 * M, e)
    )
    df = pd.DataFrame({"unit": list(w.ids), "y": y, "a": X[:, 0], "b": X[:, 1]}).sample(
        frac=1, random_state=1
    )
    r = fit_cross_section(df, w, y="y", x=["a", "b"], unit="unit", model=model)
    pw = libpysal.weights.WSP(w.matrix).to_W()
    pw.transform = "o"
    if model == "sar":
        ref = spreg.ML_Lag(y[:, None], X, pw, method="full")
        par = np.r_[ref.betas.ravel()]
        ours = r.params[["const", "a", "b", "rho"]].to_numpy()
    else:
        ref = spreg.ML_Error(y[:, None], X, pw, method="full")
        par = np.r_[ref.betas.ravel()]
        ours = r.params[["const", "a", "b", "lambda"]].to_numpy()
    np.testing.assert_allclose(ours, par, rtol=1e-5)
    np.testing.assert_allclose(
        r.bse.to_numpy()[[0, 1, 2, 3]], np.asarray(ref.std_err)[[0, 1, 2, 3]], rtol=1e-3
    )
    assert r.loglik == pytest.approx(float(ref.logll), rel=1e-6)


def test_lm_statistics_match_spreg_cross_section() -> None:
    spreg = pytest.importorskip("spreg")
    libpysal = pytest.importorskip("libpysal")
    w = lattice_weights(8)
    rng = np.random.default_rng(9)
    X = np.column_stack([np.ones(64), rng.normal(size=(64, 2))])
    y = np.linalg.solve(np.eye(64) - 0.3 * w.matrix.toarray(), X @ [1, 1, -1] + rng.normal(size=64))
    ours = lm_statistics(y[None, :], X[None, :, :], w.matrix, n_periods=1)
    pw = libpysal.weights.WSP(w.matrix).to_W()
    pw.transform = "o"
    ref = spreg.OLS(y[:, None], X[:, 1:], w=pw, spat_diag=True)
    assert ours.loc["LM lag", "statistic"] == pytest.approx(ref.lm_lag[0], rel=1e-8)
    assert ours.loc["LM error", "statistic"] == pytest.approx(ref.lm_error[0], rel=1e-8)
    assert ours.loc["robust LM lag", "statistic"] == pytest.approx(ref.rlm_lag[0], rel=1e-8)
    assert ours.loc["robust LM error", "statistic"] == pytest.approx(ref.rlm_error[0], rel=1e-8)


def test_lm_tests_panel(panel49: pd.DataFrame, w49: SpatialWeights) -> None:
    t = lm_tests(panel49, w49, effects="twoways", **KW)
    assert list(t.index) == ["LM lag", "LM error", "robust LM lag", "robust LM error"]
    assert t.loc["LM lag", "pvalue"] < 0.01  # the DGP has rho = 0.4
    assert ((t.pvalue >= 0) & (t.pvalue <= 1)).all()


def test_islands_are_allowed_and_mean_no_lag() -> None:
    w = lattice_weights(6)
    M = w.matrix.tolil()
    M[0, :] = 0
    M[:, 0] = 0
    wi = SpatialWeights(w.ids, sp.csr_matrix(M), "given", "with island")
    assert wi.islands == ("r000",)
    df = simulate_panel(wi, 5, rho=0.3, seed=2)
    r = fit_panel(df, wi, model="sar", **KW)
    assert np.isfinite(r.params).all()
    lag = spatial_lag(wi.matrix, np.ones((2, 36)))
    assert (lag[:, 0] == 0).all()
