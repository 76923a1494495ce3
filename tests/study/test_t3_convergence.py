"""T3 (declared panel_ols): speeds with intervals and the half-panel jackknife column."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.convergence.test_designs import synthetic_region_year

from zonespill.convergence.beta import panel_beta
from zonespill.errors import ConfigError
from zonespill.steps import _speed_statistics, panel_ols_results, price_basis, price_note


def _ry():
    ry = synthetic_region_year().sort_values(["region_id", "year"]).reset_index(drop=True)
    ry["growth"] = ry.groupby("region_id")["log_gdp_pc"].diff()
    return ry


def test_jackknife_column_and_speed_rows() -> None:
    ry = _ry()
    cols = [
        {"name": "(1)", "regressors": ["lag_log_gdp_pc"]},
        {"name": "(2) jk", "regressors": ["lag_log_gdp_pc"], "bias_correction": "half_panel_jackknife"},
    ]
    results, _ = panel_ols_results(ry, columns=cols)
    ref = panel_beta(
        ry, value="gdp_pc", unit="region_id", time="year", bias_correction="half_panel_jackknife"
    )
    jk = results[1].tidy().set_index("term")
    assert jk.loc["lag_log_gdp_pc", "estimate"] == pytest.approx(ref.b, rel=1e-12)
    assert jk.loc["lag_log_gdp_pc", "std_error"] == pytest.approx(float(ref.bse.iloc[0]), rel=1e-12)
    plain = results[0].tidy().set_index("term").loc["lag_log_gdp_pc"]
    st0 = _speed_statistics(results[0], "growth")
    lam = -math.log(1 + plain["estimate"])
    assert st0["speed"] == f"{lam:.4f} ({plain['std_error'] / (1 + plain['estimate']):.4f})"
    assert st0["speed_from"] == "b (coefficient)"
    st1 = _speed_statistics(results[1], "growth")
    assert st1["speed_from"] == "b (coefficient, bias-corrected)"
    assert _speed_statistics(results[0], "log_gdp_pc") == {}


def test_jackknife_column_needs_growth_on_the_lagged_level() -> None:
    ry = _ry()
    bad = [{"name": "(1)", "regressors": ["active_any"], "bias_correction": "half_panel_jackknife"}]
    with pytest.raises(ConfigError, match="bias_correction"):
        panel_ols_results(ry, columns=bad)


def test_price_basis_note() -> None:
    ry = _ry()
    assert price_basis(ry) == "nominal" and "nominal" in price_note(ry)
    ry["price_basis"] = "real (base 2010, CPI)"
    assert price_note(ry).startswith("GDP per capita: real (base 2010, CPI)")
    assert np.isfinite(ry["growth"].iloc[1])
