"""Sigma and beta convergence: closed forms and statsmodels OLS."""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from zonespill.convergence import beta, panel_beta, sigma
from zonespill.errors import EstimationError, InputError


def test_sigma_closed_form() -> None:
    df = pd.DataFrame({"r": ["a", "b", "a", "b"], "t": [1, 1, 2, 2], "y": [1.0, math.e, 1.0, 3.0]})
    out = sigma(df, value="y", unit="r", time="t")
    # period 1: logs 0 and 1 → population SD 0.5
    assert out.loc[1, "sd_log"] == pytest.approx(0.5, rel=1e-15)
    mu = (1 + math.e) / 2
    assert out.loc[1, "cv"] == pytest.approx(((math.e - 1) / 2) / mu, rel=1e-14)
    # period 2: levels 1, 3 → mean 2; Gini = |1-3|·2 / (2·4·2) = 0.25
    assert out.loc[2, "gini"] == pytest.approx(0.25, rel=1e-15)
    theil = 0.5 * (0.5 * math.log(0.5) + 1.5 * math.log(1.5))
    assert out.loc[2, "theil"] == pytest.approx(theil, rel=1e-14)
    assert list(out["n"]) == [2, 2]
    # sample SD with ddof=1: factor sqrt(2)
    out1 = sigma(df, value="y", unit="r", time="t", ddof=1)
    assert out1.loc[1, "sd_log"] == pytest.approx(0.5 * math.sqrt(2), rel=1e-14)
    # log=False: the column is already in logs
    dl = df.assign(y=np.log(df["y"]))
    pd.testing.assert_frame_equal(sigma(dl, value="y", unit="r", time="t", log=False), out, rtol=1e-12)


def test_sigma_equal_values_and_errors() -> None:
    df = pd.DataFrame({"r": list("abc"), "t": [5, 5, 5], "y": [2.0, 2.0, 2.0]})
    out = sigma(df, value="y", unit="r", time="t")
    assert out.loc[5, ["sd_log", "cv", "theil", "gini"]].abs().max() == 0
    with pytest.raises(InputError, match="positive"):
        sigma(df.assign(y=[1.0, 0.0, 2.0]), value="y", unit="r", time="t")
    with pytest.raises(InputError, match="duplicated"):
        sigma(pd.concat([df, df]), value="y", unit="r", time="t")


def _cross_section(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y0 = np.exp(rng.normal(9, 0.5, n))
    x = rng.normal(size=n)
    g = 0.1 - 0.01 * np.log(y0) + 0.002 * x + rng.normal(0, 0.003, n)
    T = 10
    y1 = y0 * np.exp(g * T)
    units = [f"p{i:02d}" for i in range(n)]
    return pd.concat(
        [
            pd.DataFrame({"unit": units, "year": 2000, "y": y0, "x": x}),
            pd.DataFrame({"unit": units, "year": 2010, "y": y1, "x": 0.0}),
        ],
        ignore_index=True,
    )


def test_beta_exact_on_deterministic_data() -> None:
    df = _cross_section()
    y0 = df.loc[df.year == 2000, "y"].to_numpy()
    b_true = -0.02
    y1 = y0 * np.exp((0.2 + b_true * np.log(y0)) * 10)
    df.loc[df.year == 2010, "y"] = y1
    res = beta(df, value="y", unit="unit", time="year", start=2000, end=2010)
    assert res.params["log_initial"] == pytest.approx(b_true, rel=1e-10)
    assert res.params["const"] == pytest.approx(0.2, rel=1e-10)
    assert res.speed == pytest.approx(-math.log(1 + 10 * b_true) / 10, rel=1e-10)
    assert res.half_life == pytest.approx(math.log(2) / res.speed, rel=1e-14)


@pytest.mark.parametrize("cov_type", ["HC1", "nonrobust", "HC3"])
def test_beta_matches_statsmodels(cov_type: str) -> None:
    df = _cross_section(seed=1)
    res = beta(
        df, value="y", unit="unit", time="year", start=2000, end=2010, covariates=["x"], cov_type=cov_type
    )
    a = df[df.year == 2000].set_index("unit")
    b = df[df.year == 2010].set_index("unit")
    g = (np.log(b["y"]) - np.log(a["y"])) / 10
    X = sm.add_constant(pd.DataFrame({"log_initial": np.log(a["y"]), "x": a["x"]}))
    ref = sm.OLS(g, X).fit(cov_type=cov_type)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-12)
    assert res.nobs == 40 and res.cov_type == cov_type
    frame = res.to_frame(model="(1)")
    assert list(frame.columns) == ["model", "term", "estimate", "se", "pvalue"]
    assert set(res.stats_frame()["stat"]) >= {"N", "SE type", "Speed", "Half-life"}
    assert "log_initial" in res.summary()


def test_beta_drops_incomplete_units_and_validates() -> None:
    df = _cross_section()
    df = df[~((df.unit == "p03") & (df.year == 2010))]
    res = beta(df, value="y", unit="unit", time="year", start=2000, end=2010)
    assert res.nobs == 39 and res.extra["dropped"] == ["p03"]
    with pytest.raises(InputError):
        beta(df, value="y", unit="unit", time="year", start=2010, end=2000)
    with pytest.raises(InputError):
        beta(df, value="y", unit="unit", time="year", start=2000, end=2010, cov_type="HAC")
    with pytest.raises(InputError):
        beta(df, value="y", unit="unit", time="year", start=2000, end=2010, spatial=("sdm", None))
    with pytest.raises(EstimationError):
        beta(df[df.unit.isin(["p01", "p02"])], value="y", unit="unit", time="year", start=2000, end=2010)


def _panel(n: int = 15, T: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    mu = rng.normal(0, 0.3, n)
    for i in range(n):
        ly = 9 + mu[i]
        for t in range(T):
            rows.append({"unit": f"r{i}", "year": 2000 + t, "y": math.exp(ly), "z": rng.normal()})
            ly = ly + 0.05 + 0.02 * mu[i] - 0.1 * (ly - 9) + rng.normal(0, 0.02)
    return pd.DataFrame(rows)


def _dummies_ols(df: pd.DataFrame, effects: str) -> tuple[Any, pd.DataFrame]:
    d = df.sort_values(["unit", "year"]).copy()
    d["ly"] = np.log(d["y"])
    d["log_lag"] = d.groupby("unit")["ly"].shift(1)
    d["growth"] = d["ly"] - d["log_lag"]
    d = d.dropna(subset=["growth"])
    X = d[["log_lag", "z"]].copy()
    if effects in ("twoways", "individual"):
        X = X.join(pd.get_dummies(d["unit"], drop_first=True, dtype=float))
    if effects in ("twoways", "time"):
        X = X.join(pd.get_dummies(d["year"], drop_first=True, prefix="y", dtype=float))
    X = sm.add_constant(X)
    return sm.OLS(d["growth"], X), d


@pytest.mark.parametrize("effects", ["twoways", "individual", "time"])
def test_panel_beta_coefficients_equal_dummy_ols(effects: str) -> None:
    df = _panel()
    res = panel_beta(df, value="y", unit="unit", time="year", effects=effects, covariates=["z"], cluster=None)
    model, _ = _dummies_ols(df, effects)
    ref = model.fit()
    assert res.params["log_lag"] == pytest.approx(ref.params["log_lag"], rel=1e-9)
    assert res.params["z"] == pytest.approx(ref.params["z"], rel=1e-9)
    # classical SEs with all fixed effects counted as parameters
    assert res.bse["log_lag"] == pytest.approx(ref.bse["log_lag"], rel=1e-8)
    assert res.nobs == 15 * 9
    assert res.speed == pytest.approx(-math.log(1 + res.params["log_lag"]), rel=1e-14)


def test_panel_beta_clustered_pooled_matches_statsmodels() -> None:
    df = _panel(seed=2)
    res = panel_beta(df, value="y", unit="unit", time="year", effects="none", covariates=["z"])
    model, d = _dummies_ols(df, "none")
    ref = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(d["unit"])[0]})
    np.testing.assert_allclose(
        res.params[["const", "log_lag", "z"]], ref.params[["const", "log_lag", "z"]], rtol=1e-9
    )
    np.testing.assert_allclose(
        res.bse[["const", "log_lag", "z"]], ref.bse[["const", "log_lag", "z"]], rtol=1e-8
    )
    assert res.extra["Clusters"] == 15


def test_panel_beta_skips_gaps() -> None:
    df = _panel()
    df = df[~((df.unit == "r0") & (df.year == 2004))]
    res = panel_beta(df, value="y", unit="unit", time="year")
    assert res.nobs == 15 * 9 - 2  # the growth into and out of the gap are not formed


class _FakeSpatialResult:
    def __init__(self, names: list[str]) -> None:
        self.params = pd.Series(np.arange(len(names), dtype=float) / 10 - 0.05, index=names)
        self.bse = pd.Series(0.01, index=names)


def test_spatial_calls_follow_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, Any] = {}

    def fit_cross_section(
        data: pd.DataFrame, W: Any, *, y: str, x: list[str], unit: str, model: str, w_ids: Any = None
    ) -> _FakeSpatialResult:
        calls["cs"] = (list(data.columns), y, x, unit, model)
        return _FakeSpatialResult(["const", *x, "lambda" if model == "sem" else "rho"])

    def fit_panel(
        data: pd.DataFrame, W: Any, *, y: str, x: list[str], unit: str, time: str, model: str, effects: str
    ) -> _FakeSpatialResult:
        calls["panel"] = (y, x, unit, time, model, effects)
        return _FakeSpatialResult([*x, "rho"])

    fake = types.ModuleType("zonespill.spatial")
    fake.fit_cross_section = fit_cross_section  # type: ignore[attr-defined]
    fake.fit_panel = fit_panel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zonespill.spatial", fake)
    df = _cross_section()
    res = beta(df, value="y", unit="unit", time="year", start=2000, end=2010, spatial=("sem", "W"))
    assert calls["cs"][1:] == ("growth", ["log_initial"], "unit", "sem")
    assert "lambda" in res.params.index and res.model == "sem"
    assert res.pvalues.notna().all()
    pres = panel_beta(_panel(), value="y", unit="unit", time="year", spatial=("sdm", "W"))
    assert calls["panel"] == ("growth", ["log_lag"], "unit", "year", "sdm", "twoways")
    assert pres.b == pres.params["log_lag"]
