"""Half-panel jackknife (Dhaene–Jochmans 2015) of the panel growth regression."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zonespill.convergence import panel_beta, split_panel_jackknife
from zonespill.convergence.jackknife import half_panel_splits, half_panel_weights, linear_fe_pieces
from zonespill.convergence.simulate import simulate_growth_panel
from zonespill.errors import EstimationError, InputError

JK = "half_panel_jackknife"


def _b(df: pd.DataFrame, **kw: Any) -> pd.Series:
    return panel_beta(df, value="y", unit="unit", time="year", **kw).params


def _years(df: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """Levels lo..hi: growth periods lo+1..hi (each half conditions on its own initial level)."""
    return df[(df.year >= lo) & (df.year <= hi)]


def _with_cov(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return df.assign(z=rng.normal(size=len(df)))


def test_splits_even_and_odd() -> None:
    assert half_panel_splits([1, 2, 3, 4]) == [([1, 2], [3, 4])]
    assert half_panel_splits([1, 2, 3, 4, 5]) == [([1, 2, 3], [4, 5]), ([1, 2], [3, 4, 5])]
    w = half_panel_weights(list(range(7)))
    assert [x for _, x in w] == [2.0, -0.25, -0.25, -0.25, -0.25]
    assert sum(x for _, x in w) == pytest.approx(1.0)
    with pytest.raises(EstimationError, match="at least 4"):
        half_panel_splits([1, 2, 3])


@pytest.mark.parametrize("effects", ["twoways", "individual"])
def test_even_T_equals_manual_half_panels(effects: str) -> None:
    df = _with_cov(simulate_growth_panel(12, 10, -0.05, seed=3), seed=4)
    kw: dict[str, Any] = {"effects": effects, "covariates": ["z"]}
    full = _b(df, **kw)
    h1 = _b(_years(df, 2000, 2005), **kw)  # growth 2001..2005
    h2 = _b(_years(df, 2005, 2010), **kw)  # growth 2006..2010
    res = panel_beta(df, value="y", unit="unit", time="year", bias_correction=JK, **kw)
    manual = 2 * full - (h1 + h2) / 2
    pd.testing.assert_series_equal(res.params, manual, rtol=1e-8, check_names=False)
    assert res.extra["log_lag uncorrected"] == pytest.approx(full["log_lag"], rel=1e-10)
    assert res.extra["Growth periods"] == 10
    np.testing.assert_allclose(res.extra["log_lag half panels"], [h1["log_lag"], h2["log_lag"]], rtol=1e-8)
    assert "log_lag half panels" not in set(res.stats_frame()["stat"])
    assert "jackknife" in res.cov_type


def test_odd_T_averages_four_half_panels() -> None:
    df = simulate_growth_panel(10, 9, -0.05, seed=5)  # growth 2001..2009
    full = _b(df)["log_lag"]
    halves = [
        _b(_years(df, 2000, 2005))["log_lag"],  # 2001..2005
        _b(_years(df, 2005, 2009))["log_lag"],  # 2006..2009
        _b(_years(df, 2000, 2004))["log_lag"],  # 2001..2004
        _b(_years(df, 2004, 2009))["log_lag"],  # 2005..2009
    ]
    res = panel_beta(df, value="y", unit="unit", time="year", bias_correction=JK)
    assert res.b == pytest.approx(2 * full - float(np.mean(halves)), rel=1e-8)


@pytest.mark.parametrize("fe", [["u", "t"], ["u"], ["t"]])
def test_influence_reproduces_pyfixest_crv1(fe: list[str]) -> None:
    """The per-cluster pieces behind the jackknife SE give fixest's CRV1 on the full fit."""
    import pyfixest as pf

    from zonespill.convergence.beta import _fixest_k

    rng = np.random.default_rng(0)
    n, T = 12, 8
    d = pd.DataFrame(
        {"u_": np.repeat([f"u{i}" for i in range(n)], T), "t_": np.tile([str(t) for t in range(T)], n)}
    )
    d["x"], d["z"] = rng.normal(size=len(d)), rng.normal(size=len(d))
    d["growth"] = 0.3 * d.x + rng.normal(size=len(d)) + np.repeat(rng.normal(size=n), T)
    d["cl_"] = d.u_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("growth ~ x + z | " + " + ".join(f"{f}_" for f in fe), data=d, vcov={"CRV1": "cl_"})
    g = pd.factorize(d.cl_)[0]
    pieces = linear_fe_pieces(
        d.growth.to_numpy(), d[["x", "z"]].to_numpy(), [pd.factorize(d[f"{f}_"])[0] for f in fe], g, n
    )
    effects = {("u", "t"): "twoways", ("u",): "individual", ("t",): "time"}[tuple(fe)]
    K = _fixest_k(d, effects, "cl_", 2)
    N = len(d)
    V = n / (n - 1) * (N - 1) / (N - K) * pieces.influence.T @ pieces.influence
    np.testing.assert_allclose(pieces.coef, fit.coef().to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(V)), fit.se().to_numpy(), rtol=1e-8)


def test_analytic_se_close_to_delete_one_unit_jackknife() -> None:
    """Linearised CRV1 of the jackknife vs the (nonlinear) delete-one-unit jackknife of it."""
    df = simulate_growth_panel(20, 8, -0.1, seed=11)
    res = panel_beta(df, value="y", unit="unit", time="year", bias_correction=JK)
    d = df.sort_values(["unit", "year"]).assign(ly=lambda f: np.log(f.y))
    d["log_lag"] = d.groupby("unit")["ly"].shift(1)
    d["growth"] = d["ly"] - d["log_lag"]
    d = d.dropna()

    def within(frame: pd.DataFrame) -> pd.Series:
        fe = [pd.factorize(frame.unit)[0], pd.factorize(frame.year)[0]]
        g = pd.factorize(frame.unit)[0]
        p = linear_fe_pieces(frame.growth.to_numpy(), frame[["log_lag"]].to_numpy(), fe, g, int(g.max()) + 1)
        return pd.Series(p.coef, index=["log_lag"])

    gen = split_panel_jackknife(d, within, time="year", unit="unit", se="unit_jackknife")
    assert gen.params["log_lag"] == pytest.approx(res.b, rel=1e-8)
    # delete-one-cluster jackknife ~ CRV3 >= CRV1 in small samples; same order of magnitude
    ratio = gen.bse["log_lag"] / res.bse["log_lag"]
    assert 0.9 < ratio < 1.5, ratio
    assert gen.se_method == "unit_jackknife"
    assert len(gen.halves) == 2 and list(gen.halves["weight"]) == [-0.5, -0.5]


def test_errors() -> None:
    df = simulate_growth_panel(5, 3, -0.05, seed=0)
    with pytest.raises(EstimationError, match="at least 4"):
        panel_beta(df, value="y", unit="unit", time="year", bias_correction=JK)
    with pytest.raises(InputError, match="bias_correction"):
        panel_beta(df, value="y", unit="unit", time="year", bias_correction="ab")  # type: ignore[arg-type]
    with pytest.raises(EstimationError, match=r"\.params"):
        split_panel_jackknife(simulate_growth_panel(5, 6, -0.05, seed=0), lambda d: 1.0, time="year")


def test_far_from_steady_state_is_nearly_unbiased_single_draw() -> None:
    """Documented behaviour: with a large initial dispersion the within estimator is close
    to the truth (little to correct)."""
    df = simulate_growth_panel(31, 20, -0.02, seed=2, start_sd=5.0)
    res = panel_beta(df, value="y", unit="unit", time="year")
    assert abs(res.b + 0.02) < 0.01


@pytest.mark.slow
def test_simulation_stationary_start_bias_removed() -> None:
    """n = 31, T = 20, b = -0.02, stationary start: |bias| of the jackknife <= 1/4 of the
    within estimator's; coverage of the 95 % interval (small study; benchmarks/ has the full one)."""
    b0, R = -0.02, 40
    est, jk, cov_fe, cov_jk = [], [], 0, 0
    for r in range(R):
        df = simulate_growth_panel(31, 20, b0, seed=1000 + r)
        a = panel_beta(df, value="y", unit="unit", time="year")
        j = panel_beta(df, value="y", unit="unit", time="year", bias_correction=JK)
        est.append(a.b)
        jk.append(j.b)
        cov_fe += abs(a.b - b0) < 1.96 * a.bse["log_lag"]
        cov_jk += abs(j.b - b0) < 1.96 * j.bse["log_lag"]
    bias_fe, bias_jk = np.mean(est) - b0, np.mean(jk) - b0
    assert bias_fe < -0.1  # the Nickell bias the issue reports
    assert abs(bias_jk) <= 0.25 * abs(bias_fe)
    assert cov_fe / R < 0.2
    assert cov_jk / R >= 0.8
    assert math.isfinite(bias_jk)


def _ring_weights(n: int) -> pd.DataFrame:
    ids = [f"r{i:03d}" for i in range(n)]
    W = np.zeros((n, n))
    for i in range(n):
        W[i, (i - 1) % n] = W[i, (i + 1) % n] = 0.5
    return pd.DataFrame(W, index=ids, columns=ids)


def test_wraps_spatial_fit_panel() -> None:
    """The generic jackknife takes zonespill.spatial.fit_panel as the estimator."""
    spatial = pytest.importorskip("zonespill.spatial")
    n, T = 16, 6
    W = _ring_weights(n)
    rng = np.random.default_rng(7)
    ids = list(W.index)
    d = pd.DataFrame({"unit": np.tile(ids, T), "year": np.repeat(np.arange(T), n)})
    d["x"] = rng.normal(size=len(d))
    d["y"] = 0.5 * d["x"] + rng.normal(size=len(d))

    def est(frame: pd.DataFrame) -> Any:
        return spatial.fit_panel(frame, W, y="y", x=["x"], unit="unit", time="year", model="sar")

    res = split_panel_jackknife(d, est, time="year")
    full = est(d).params
    h1 = est(d[d.year < 3].reset_index(drop=True)).params
    h2 = est(d[d.year >= 3].reset_index(drop=True)).params
    pd.testing.assert_series_equal(res.params, 2 * full - (h1 + h2) / 2, rtol=1e-10, check_names=False)
    pd.testing.assert_series_equal(res.bse, est(d).bse.astype(float), check_names=False)
    assert set(res.params.index) == {"x", "rho"}
    frame = res.to_frame()
    assert list(frame.columns) == ["term", "estimate", "se", "estimate_uncorrected", "se_uncorrected", "bias"]


def test_panel_beta_spatial_jackknife_equals_direct_halves() -> None:
    spatial = pytest.importorskip("zonespill.spatial")
    W = _ring_weights(12)
    df = simulate_growth_panel(12, 8, -0.1, seed=9)
    res = panel_beta(df, value="y", unit="unit", time="year", spatial=("sar", W), bias_correction=JK)
    full = panel_beta(df, value="y", unit="unit", time="year", spatial=("sar", W))
    h1 = panel_beta(_years(df, 2000, 2004), value="y", unit="unit", time="year", spatial=("sar", W))
    h2 = panel_beta(_years(df, 2004, 2008), value="y", unit="unit", time="year", spatial=("sar", W))
    manual = 2 * full.params - (h1.params + h2.params) / 2
    pd.testing.assert_series_equal(res.params, manual, rtol=1e-8, check_names=False)
    pd.testing.assert_series_equal(res.bse, full.bse, check_names=False)
    assert res.extra["log_lag uncorrected"] == pytest.approx(full.b)
    assert spatial is not None
