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
