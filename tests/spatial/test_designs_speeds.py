"""S1/S3: speeds from impacts and the half-panel jackknife SDM column."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from zonespill.convergence.jackknife import split_panel_jackknife
from zonespill.spatial import designs, fit_panel
from zonespill.weights import SpatialWeights

from .conftest import lattice_weights
from .test_designs import synthetic_region_year


@pytest.fixture(scope="module")
def W() -> SpatialWeights:
    return lattice_weights(5)


@pytest.fixture(scope="module")
def sample(W: SpatialWeights) -> designs.GrowthSample:
    return designs.growth_sample(synthetic_region_year(W, T=12, seed=3), W)


def _stats(d: designs.RegressionDesign, label: str) -> pd.Series:
    return d.stats[d.stats["model"] == label].set_index("stat")["value"]


def test_jackknife_column_is_the_split_panel_jackknife(sample: designs.GrowthSample) -> None:
    d = designs.sdm_design(sample, lee_yu=(False,), jackknife=True, seed=4)
    f = next(x for x in d.fits if x.jackknife)
    assert f.ok and f.label == "SDM, jackknife"
    assert f.result is not None
    regs = [t for t in f.result.x_names]

    def est(frame: pd.DataFrame) -> object:
        return fit_panel(frame, sample.W, y="growth", x=regs, unit="region_id", time="year", model="sdm",
                         effects="twoways", durbin=[t for t in sample.durbin if t in regs])

    jk = split_panel_jackknife(sample.data, est, time="year", se="full")
    got = d.coefs[d.coefs["model"] == "SDM, jackknife"].set_index("term")["estimate"]
    for term in got.index:
        assert got[term] == pytest.approx(float(jk.params[term]), rel=1e-10, abs=1e-12)
    st = _stats(d, "SDM, jackknife")
    assert st["Bias correction"] == "half-panel jackknife"
    assert st["Speed from"] == "total impact at the corrected estimates"
    # speed from the total impact at the corrected estimates, with the full fit's covariance
    imp = f.result.impacts(n_sim=1000, seed=4).loc[designs.LAG, "total"]
    if 1 + imp > 0 and -math.log(1 + imp) > 0:
        assert st["Speed (per year)"].startswith(f"{-math.log(1 + imp):.4f} ")


def test_s1_and_s3_speeds_use_the_chosen_impact(sample: designs.GrowthSample) -> None:
    for effect in ("total", "direct"):
        d1 = designs.sdm_design(sample, lee_yu=(False,), speed_effect=effect, seed=9)
        d3 = designs.impacts_design(d1.fits, n_sim=1000, seed=9, speed_effect=effect)
        sdm = next(f for f in d1.fits if f.label == "SDM")
        assert sdm.result is not None
        imp = sdm.result.impacts(n_sim=1000, seed=9).loc[designs.LAG, effect]
        lam = -math.log(1 + imp)
        for d in (d1, d3):
            st = _stats(d, "SDM")
            assert st["Speed from"] == f"{effect} impact"
            assert st["Speed (per year)"].startswith(f"{lam:.4f} ")
        assert abs(imp - float(sdm.result.params[designs.LAG])) > 1e-6  # the impact, not b


def test_jackknife_leaves_out_regressors_without_variation_in_a_half(W: SpatialWeights) -> None:
    ry = synthetic_region_year(W, T=12, seed=3)
    # a tie that switches on only in the last years: no within variation in the first half
    ry["active_two_way"] = (ry["year"] >= ry["year"].max() - 1).astype(int) * (ry["region_id"] == W.ids[0])
    s = designs.growth_sample(ry, W)
    assert "active_two_way" in s.regressors
    d = designs.sdm_design(s, lee_yu=(False,), jackknife=True)
    f = next(x for x in d.fits if x.jackknife)
    assert f.ok and f.result is not None and "active_two_way" not in f.result.x_names
    assert any("SDM, jackknife: left out" in n and "two-way" in n for n in d.notes)


def test_dynamic_column_is_the_bias_corrected_dynamic_panel_in_growth_terms(
    sample: designs.GrowthSample,
) -> None:
    d = designs.sdm_design(sample, lee_yu=(False,), dynamic=True, se_type="qml", seed=2)
    f = next(x for x in d.fits if x.dynamic)
    assert f.ok and f.label == "SDM, dynamic" and f.result is not None
    xs = [r for r in sample.regressors if r != designs.LAG]
    level = sample.data.assign(lv=sample.data[designs.LAG] + sample.data["growth"])
    ref = fit_panel(level, sample.W, y="lv", x=xs, unit="region_id", time="year", model="sdm",
                    effects="twoways", durbin=[r for r in sample.durbin if r in xs], dynamic=True,
                    bias_correction=True, se_type="qml")
    got = d.coefs[d.coefs["model"] == "SDM, dynamic"].set_index("term")
    assert got.loc[designs.LAG, "estimate"] == pytest.approx(float(ref.params["y_lag"]) - 1, rel=1e-10)
    assert got.loc[designs.LAG, "se"] == pytest.approx(float(ref.bse["y_lag"]), rel=1e-10)
    theta = float(ref.params["W_y_lag"] + ref.params["rho"])
    V = ref.vcov.loc[["W_y_lag", "rho"], ["W_y_lag", "rho"]].to_numpy()
    assert got.loc[f"W_{designs.LAG}", "estimate"] == pytest.approx(theta, rel=1e-10)
    assert got.loc[f"W_{designs.LAG}", "se"] == pytest.approx(math.sqrt(V.sum()), rel=1e-10)
    st = _stats(d, "SDM, dynamic")
    assert st["Bias correction"].startswith("Yu–de Jong–Lee")
    imp = ref.impact("y_lag", "total", horizon="short", n_sim=1000, seed=2)
    assert st["Speed (per year)"].startswith(f"{-math.log(imp.estimate):.4f} ")
    # S3: short-run impacts of the lag shifted by one, long-run impacts of the other regressors
    d3 = designs.impacts_design(d.fits, n_sim=1000, seed=2)
    rows = d3.coefs[d3.coefs["model"] == "SDM, dynamic"].set_index("term")["estimate"]
    assert rows[f"{designs.LAG}:total"] == pytest.approx(imp.estimate - 1, rel=1e-10)
    long = ref.impact(xs[0], "total", horizon="long", n_sim=1000, seed=2)
    assert rows[f"{xs[0]}:total:long"] == pytest.approx(long.estimate, rel=1e-10)


@pytest.mark.parametrize("se_type", ["ml", "qml", "cluster"])
def test_se_type_reaches_the_spatial_columns(sample: designs.GrowthSample, se_type: str) -> None:
    d = designs.sdm_design(sample, lee_yu=(False,), se_type=se_type)
    ref = fit_panel(sample.data, sample.W, y="growth", x=list(sample.regressors), unit="region_id",
                    time="year", model="sdm", effects="twoways", durbin=list(sample.durbin),
                    se_type=se_type, cluster="region_id" if se_type == "cluster" else None)
    got = d.coefs[d.coefs["model"] == "SDM"].set_index("term")["se"]
    for t in got.index:
        assert got[t] == pytest.approx(float(ref.bse[t]), rel=1e-10)
    assert _stats(d, "SDM")["SE"].startswith(designs.SE_TYPES[se_type])
