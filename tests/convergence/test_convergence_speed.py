"""Speeds and half-lives with intervals; reference-group check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from zonespill.convergence import (
    check_reference_group,
    convergence_speed,
    panel_beta,
    speed_from_impacts,
)
from zonespill.convergence.simulate import simulate_growth_panel
from zonespill.errors import ConfigError, EstimationError, InputError


def test_delta_method_closed_form() -> None:
    b, se = -0.05, 0.01
    r = convergence_speed(b, se)
    lam = -math.log(0.95)
    assert r.speed == pytest.approx(lam, rel=1e-14)
    assert r.se_speed == pytest.approx(se / 0.95, rel=1e-14)
    z = stats.norm.ppf(0.975)
    assert r.speed_lo == pytest.approx(lam - z * se / 0.95, rel=1e-12)
    assert r.half_life == pytest.approx(math.log(2) / lam, rel=1e-14)
    assert r.se_half_life == pytest.approx(math.log(2) * (se / 0.95) / lam**2, rel=1e-12)
    # half-life interval = inverted speed interval
    assert r.half_life_lo == pytest.approx(math.log(2) / r.speed_hi, rel=1e-14)
    assert r.half_life_hi == pytest.approx(math.log(2) / r.speed_lo, rel=1e-14)
    assert not r.unbounded and r.note == ""
    assert list(r.to_frame().columns)[:3] == ["b", "se_b", "horizon"]
    assert "half-life" in r.describe()


def test_issue_c2_example_is_unbounded() -> None:
    """C2 (3): b = -0.020 (0.018) over 18 years printed 'half-life 27.9'; the speed interval
    includes negative values, so the half-life interval has no upper bound."""
    r = convergence_speed(-0.020, 0.018, horizon=18)
    assert r.half_life == pytest.approx(math.log(2) * 18 / -math.log(1 - 18 * 0.02), rel=1e-12)
    assert r.speed_lo < 0 < r.speed_hi
    assert r.unbounded and math.isinf(r.half_life_hi) and math.isfinite(r.half_life_lo)
    assert "unbounded" in r.note and "unbounded" in r.describe()


def test_non_convergence_and_impossible_speed() -> None:
    r = convergence_speed(0.01, 0.002)
    assert r.speed < 0 and math.isinf(r.half_life) and r.unbounded
    assert math.isinf(r.half_life_lo) and math.isinf(r.half_life_hi)
    bad = convergence_speed(-0.2, 0.01, horizon=10)  # 1 + Tb = -1
    assert math.isnan(bad.speed) and "<= 0" in bad.note
    with pytest.raises(InputError):
        convergence_speed(-0.02)
    with pytest.raises(InputError):
        convergence_speed(-0.02, 0.01, level=95)


def test_simulation_draws_percentile() -> None:
    rng = np.random.default_rng(1)
    draws = rng.normal(-0.05, 0.01, 20_000)
    r = convergence_speed(-0.05, draws=draws)
    # lambda is decreasing in b: its quantiles are the transformed opposite quantiles of b
    q = np.quantile(draws, [0.025, 0.975])
    assert r.speed_lo == pytest.approx(-math.log(1 + q[1]), rel=1e-3)
    assert r.speed_hi == pytest.approx(-math.log(1 + q[0]), rel=1e-3)
    delta = convergence_speed(-0.05, 0.01)
    assert r.se_speed == pytest.approx(delta.se_speed, rel=0.03)
    assert r.method.startswith("simulation")


def test_speed_from_impacts_issue_c3_example() -> None:
    """C3 (4): total impact -0.042 -> half-life 16.2 years (not the coefficient's 7.7)."""
    imp = pd.DataFrame(
        {
            "direct": [-0.084],
            "indirect": [0.042],
            "total": [-0.042],
            "se_direct": [0.01],
            "se_total": [0.015],
        },
        index=pd.Index(["log_lag"], name="term"),
    )
    r = speed_from_impacts(imp)
    assert r.half_life == pytest.approx(16.2, abs=0.05)
    assert r.se_b == 0.015
    d = speed_from_impacts(imp, effect="direct")
    assert d.b == -0.084
    with pytest.raises(InputError):
        speed_from_impacts(imp, effect="indirect")
    with pytest.raises(InputError):
        speed_from_impacts(imp, term="x")


def test_beta_result_speed_interval() -> None:
    df = simulate_growth_panel(15, 10, -0.1, seed=3)
    res = panel_beta(df, value="y", unit="unit", time="year")
    r = res.speed_interval()
    assert r.speed == pytest.approx(res.speed, rel=1e-14)
    assert r.se_b == pytest.approx(res.bse["log_lag"])


def test_reference_group_check() -> None:
    d = pd.DataFrame(
        {
            "prov": ["a", "b", "c", "d", "e", "a", "b"],
            "ever_fw": [1, 0, 0, 1, 0, 1, 0],
            "ever_tw": [0, 1, 0, 0, 0, 0, 0],
        }
    )
    assert check_reference_group(d, ["ever_fw", "ever_tw"], unit="prov", minimum=2) == ["c", "e"]
    with pytest.raises(EstimationError, match=r"has 2 unit\(s\): c, e; fewer than the minimum 3"):
        check_reference_group(d, ["ever_fw", "ever_tw"], unit="prov", minimum=3)
    with pytest.raises(ConfigError, match=r"convergence\.min_reference_units"):
        check_reference_group(
            d.assign(ever_x=[0, 0, 1, 0, 0, 0, 0]),
            ["ever_fw", "ever_tw", "ever_x"],
            unit="prov",
            config_key="convergence.min_reference_units",
            names={"e": "Hainan"},
        )
    # time-varying indicators: a unit is in a group if active in any row
    with pytest.raises(EstimationError, match="Hainan"):
        check_reference_group(
            d.assign(ever_tw=[0, 1, 1, 0, 0, 0, 0]),
            ["ever_fw", "ever_tw"],
            unit="prov",
            minimum=2,
            names={"e": "Hainan"},
        )
    with pytest.raises(InputError, match="0/1"):
        check_reference_group(d.assign(ever_fw=[1, None, 0, 1, 0, 1, 0]), ["ever_fw"], unit="prov")


def test_speed_from_real_spatial_impacts() -> None:
    spatial = pytest.importorskip("zonespill.spatial")
    ids = [f"r{i:03d}" for i in range(12)]
    W = np.zeros((12, 12))
    for i in range(12):
        W[i, (i - 1) % 12] = W[i, (i + 1) % 12] = 0.5
    df = simulate_growth_panel(12, 8, -0.1, seed=4)
    d = df.sort_values(["unit", "year"]).assign(ly=lambda f: np.log(f.y))
    d["log_lag"] = d.groupby("unit")["ly"].shift(1)
    d["growth"] = d["ly"] - d["log_lag"]
    fit = spatial.fit_panel(
        d.dropna().reset_index(drop=True),
        pd.DataFrame(W, ids, ids),
        y="growth",
        x=["log_lag"],
        unit="unit",
        time="year",
        model="sar",
    )
    table = fit.impacts(n_sim=500, seed=1)
    r = speed_from_impacts(table)
    assert r.b == pytest.approx(float(table.loc["log_lag", "total"]))
    assert r.speed == pytest.approx(-math.log(1 + r.b), rel=1e-14)
