"""C2/C3 speeds with intervals, speeds from impacts, reference groups and the jackknife column."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from tests.convergence.test_designs import synthetic_region_year

from zonespill.convergence import designs
from zonespill.convergence.beta import INITIAL, LAG, panel_beta
from zonespill.convergence.speed import convergence_speed
from zonespill.spatial import fit_cross_section
from zonespill.weights import SpatialWeights


def _ring(ids: list[str]) -> SpatialWeights:
    n = len(ids)
    M = np.zeros((n, n))
    for i in range(n):
        M[i, (i + 1) % n] = M[i, (i - 1) % n] = 0.5
    return SpatialWeights.from_frame(pd.DataFrame(M, index=ids, columns=ids), transform="row")


def _stats(des: designs.RegressionDesign, model: str) -> pd.Series:
    return des.stats[des.stats["model"] == model].set_index("stat")["value"]


def test_c2_speed_rows_are_the_delta_method_of_b() -> None:
    ry = synthetic_region_year()
    des = designs.beta_design(ry, designs.ever_ties(ry, end_year=2022), start=2003, end=2022)
    row = des.coefs[(des.coefs["model"] == "(1)") & (des.coefs["term"] == INITIAL)].iloc[0]
    b, se, T = float(row["estimate"]), float(row["se"]), 19
    lam = -math.log(1 + T * b) / T
    se_lam = se / (1 + T * b)
    st = _stats(des, "(1)")
    assert st["Speed (per year)"] == f"{lam:.4f} ({se_lam:.4f})"
    lo, hi = lam - 1.959963984540054 * se_lam, lam + 1.959963984540054 * se_lam
    assert st["Speed, 95 % CI"] == f"[{lo:.4f}, {hi:.4f}]"
    assert st["Half-life (years)"] == f"{math.log(2) / lam:.1f}"
    hl = st["Half-life, 95 % CI"]
    assert hl.endswith("unbounded") == (lo <= 0)


def test_unbounded_half_life_interval_is_said() -> None:
    sp = convergence_speed(-0.001, 0.01)
    rows = dict(designs.speed_stat_rows(sp, "b"))
    assert rows["Half-life, 95 % CI"].endswith("∞) unbounded")


def test_sar_speed_comes_from_the_total_or_direct_impact() -> None:
    ry = synthetic_region_year()
    ever = designs.ever_ties(ry, end_year=2022)
    ids = sorted(ry["region_id"].unique())
    W = _ring(ids)
    for effect in ("total", "direct"):
        des = designs.beta_design(ry, ever, start=2003, end=2022, W=W, speed_effect=effect, seed=5)
        st = _stats(des, "(5) SAR")
        assert st["Speed from"] == f"{effect} impact"
        cs = des.data
        assert cs is not None
        fit = fit_cross_section(cs.reset_index()[["region_id", "growth", INITIAL]], W, y="growth",
                                x=[INITIAL], unit="region_id", model="sar")
        imp = fit.impacts(n_sim=1000, seed=5).loc[INITIAL]
        lam = -math.log(1 + 19 * imp[effect]) / 19
        assert st["Speed (per year)"].startswith(f"{lam:.4f} ")
        sel = (des.coefs["model"] == "(5) SAR") & (des.coefs["term"] == INITIAL)
        b = float(des.coefs.loc[sel, "estimate"].iloc[0])
        # the impact, not the coefficient
        assert abs(imp[effect] - b) > 1e-6


def test_small_reference_group_refused_or_centred() -> None:
    ry = synthetic_region_year()
    ever = designs.ever_ties(ry, end_year=2022)
    n_ref = int((ever[[f"ever_{k}" for k in designs.TIE_TYPES]].sum(axis=1) == 0).sum())
    des = designs.beta_design(ry, ever, start=2003, end=2022, min_reference_units=n_ref + 1,
                              small_reference="refuse")
    assert "(3)" not in set(des.coefs["model"])
    assert any("Interaction columns not estimated" in n and f"has {n_ref} unit" in n for n in des.notes)
    ok = designs.beta_design(ry, ever, start=2003, end=2022, min_reference_units=max(n_ref, 1))
    assert "(3)" in set(ok.coefs["model"])
    assert any(f"{n_ref} provinces in none" in n for n in ok.notes)
    with pytest.raises(designs.ConfigError, match="small_reference"):
        designs.reference_policy(ever.reset_index(), ["ever_two_way"], minimum=99, policy="drop")


def test_c3_jackknife_column_is_panel_beta_with_the_correction() -> None:
    ry = synthetic_region_year()
    des = designs.panel_design(ry, W=None)
    jk = panel_beta(des.data, value="gdp_pc", unit="region_id", time="year", effects="twoways",
                    bias_correction="half_panel_jackknife")
    got = des.coefs[(des.coefs["model"] == "(6) FE, jackknife") & (des.coefs["term"] == LAG)].iloc[0]
    assert got["estimate"] == pytest.approx(jk.b, rel=1e-12)
    assert got["se"] == pytest.approx(float(jk.bse[LAG]), rel=1e-12)
    assert _stats(des, "(6) FE, jackknife")["Bias correction"].startswith("half-panel jackknife")
    note = designs.nickell_note(des, ry, full="(1)", corrected="(6) FE, jackknife")
    _y0, sd0, _y1, sd1 = designs.dispersion_change(ry)
    far = abs(sd1 / sd0 - 1) >= designs.TRANSITION_SD_CHANGE
    assert ("far from a stationary distribution" in note) == far
    assert ("close to a stationary distribution" in note) == (not far)
    assert f"{jk.b:.3f} corrected" in note


def test_c3_sdm_speed_uses_impacts_at_the_corrected_estimates() -> None:
    ry = synthetic_region_year()
    W = _ring(sorted(ry["region_id"].unique()))
    des = designs.panel_design(ry, W=W, seed=3)
    st4, st7 = _stats(des, "(4) SDM"), _stats(des, "(7) SDM, jackknife")
    assert st4["Speed from"] == "total impact"
    assert st7["Speed from"] == "total impact at the corrected estimates"
    fit = designs.panel_spatial_fit(des.data, [], W, "sdm")
    tot = float(fit.impacts(n_sim=1000, seed=3).loc[LAG, "total"])
    assert st4["Speed (per year)"].startswith(f"{-math.log(1 + tot):.4f} ")
    b4 = float(des.coefs[(des.coefs["model"] == "(4) SDM") & (des.coefs["term"] == LAG)]["estimate"].iloc[0])
    assert b4 == pytest.approx(float(fit.params[LAG]), rel=1e-9)


def test_c3_dynamic_column_and_qml_standard_errors() -> None:
    ry = synthetic_region_year()
    W = _ring(sorted(ry["region_id"].unique()))
    des = designs.panel_design(ry, W=W, spatial_se_type="qml", dynamic=True, seed=1)
    covs = [c for c in des.coefs.loc[des.coefs["model"] == "(2)", "term"] if c != LAG]
    fit = designs.dynamic_fit(des.data, covs, W, se_type="qml")
    got = des.coefs[des.coefs["model"] == "(8) SDM, dynamic"].set_index("term")
    assert got.loc[LAG, "estimate"] == pytest.approx(float(fit.params["y_lag"]) - 1, rel=1e-10)
    assert got.loc[f"W_{LAG}", "estimate"] == pytest.approx(
        float(fit.params["W_y_lag"] + fit.params["rho"]), rel=1e-10
    )
    sdm = designs.panel_spatial_fit(des.data, [], W, "sdm", se_type="qml")
    g4 = des.coefs[des.coefs["model"] == "(4) SDM"].set_index("term")
    assert g4.loc[LAG, "se"] == pytest.approx(float(sdm.bse[LAG]), rel=1e-10)
    assert _stats(des, "(4) SDM")["SE type"] == "QML sandwich (Lee 2004)"
    assert _stats(des, "(8) SDM, dynamic")["Bias correction"] == "Yu–de Jong–Lee (2008)"


def test_c2_spatial_columns_use_the_declared_se_type() -> None:
    ry = synthetic_region_year()
    W = _ring(sorted(ry["region_id"].unique()))
    ever = designs.ever_ties(ry, end_year=2022)
    des = designs.beta_design(ry, ever, start=2003, end=2022, W=W, spatial_se_type="qml")
    assert des.data is not None
    ref = fit_cross_section(des.data.reset_index()[["region_id", "growth", INITIAL]], W, y="growth",
                            x=[INITIAL], unit="region_id", model="sem", se_type="qml")
    got = des.coefs[des.coefs["model"] == "(4) SEM"].set_index("term")["se"]
    assert got[INITIAL] == pytest.approx(float(ref.bse[INITIAL]), rel=1e-10)
    assert _stats(des, "(4) SEM")["SE type"] == "QML sandwich (Lee 2004)"
