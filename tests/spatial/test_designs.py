"""Designs of the spatial tables (S1-S4) on small synthetic region_year panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.errors import EstimationError
from zonespill.spatial import designs
from zonespill.weights import SpatialWeights

from .conftest import lattice_weights

TIES = designs.TIES


def synthetic_region_year(
    W: SpatialWeights,
    *,
    T: int = 20,
    rho: float = 0.4,
    beta: float = -0.08,
    gamma: tuple[float, ...] = (0.04, -0.03, 0.02, 0.05),
    theta_lag: float = 0.03,
    sigma: float = 0.02,
    seed: int = 0,
    first_year: int = 2003,
) -> pd.DataFrame:
    """region_year-like frame whose growth follows a two-way FE spatial Durbin process.

    g_t = rho W g_t + beta ln y_{t-1} + Σ gamma_K a_K + theta_lag W ln y_{t-1} + mu + alpha_t + e_t,
    ln y_t = ln y_{t-1} + g_t. Tie indicators switch on at random years and stay on.
    """
    rng = np.random.default_rng(seed)
    n = W.n
    M = W.matrix.toarray()
    A = np.linalg.inv(np.eye(n) - rho * M)
    mu = rng.normal(scale=0.05, size=n)
    level = rng.normal(9.5, 0.5, size=n)
    start = {k: rng.integers(first_year, first_year + T + 5, size=n) for k in TIES}
    rows = [
        {"region_id": u, "year": first_year, "log_gdp_pc": level[i], "growth": np.nan}
        | {k: int(start[k][i] <= first_year) for k in TIES}
        for i, u in enumerate(W.ids)
    ]
    for t in range(1, T):
        year = first_year + t
        a = np.column_stack([(start[k] <= year).astype(float) for k in TIES])
        alpha = rng.normal(scale=0.02)
        rhs = beta * level + a @ np.asarray(gamma) + theta_lag * (M @ level) + mu + alpha
        g = A @ (rhs + rng.normal(scale=sigma, size=n))
        level = level + g
        for i, u in enumerate(W.ids):
            rows.append(
                {"region_id": u, "year": year, "log_gdp_pc": level[i], "growth": g[i]}
                | {k: int(a[i, j]) for j, k in enumerate(TIES)}
            )
    out = pd.DataFrame(rows)
    out["vintage"] = "synthetic"
    return out


@pytest.fixture(scope="module")
def W() -> SpatialWeights:
    return lattice_weights(7)  # rook: the more informative design for rho at n = 49


@pytest.fixture(scope="module")
def ry(W: SpatialWeights) -> pd.DataFrame:
    return synthetic_region_year(W, T=20, seed=1)


def test_lagged_level_uses_previous_calendar_year_only() -> None:
    frame = pd.DataFrame(
        {
            "region_id": ["a", "a", "a", "b", "b"],
            "year": [2001, 2002, 2004, 2001, 2002],
            "log_gdp_pc": [1, 2, 4, 5, 6],
        }
    )
    out = designs.add_lagged_level(frame).set_index(["region_id", "year"])[designs.LAG]
    assert np.isnan(out[("a", 2001)]) and out[("a", 2002)] == 1
    assert np.isnan(out[("a", 2004)])  # 2003 missing: no bridging over the gap
    assert out[("b", 2002)] == 5


def test_growth_sample_is_balanced_and_drops_incomplete_years(ry: pd.DataFrame, W: SpatialWeights) -> None:
    sample = designs.growth_sample(ry, W)
    assert sample.years == tuple(range(2004, 2023)) and sample.n == 49 and sample.T == 19
    assert len(sample.data) == 49 * 19
    # first rows of the data follow the order of W within each year
    assert list(sample.data["region_id"].iloc[:49]) == list(W.ids)
    gap = ry[~((ry["region_id"] == W.ids[0]) & (ry["year"] == 2010))]
    s2 = designs.growth_sample(gap, W)
    assert 2010 not in s2.years and 2011 not in s2.years  # the growth year and the next lag are lost
    assert any("2010, 2011" in n for n in s2.notes)


def test_growth_sample_refuses_missing_province_and_short_panels(ry: pd.DataFrame, W: SpatialWeights) -> None:
    with pytest.raises(EstimationError, match="no rows"):
        designs.growth_sample(ry[ry["region_id"] != W.ids[5]], W)
    with pytest.raises(EstimationError, match="fewer than two years"):
        designs.growth_sample(ry, W, first_year=2003, last_year=2004)


def test_constant_and_absorbed_regressors_are_dropped_with_a_note(
    ry: pd.DataFrame, W: SpatialWeights
) -> None:
    d = ry.copy()
    d["active_reverse"] = 0
    d["active_two_way"] = (d["year"] >= 2012).astype(int)  # a pure year effect
    sample = designs.growth_sample(d, W)
    assert "active_reverse" not in sample.regressors and "active_two_way" not in sample.regressors
    reasons = dict(sample.dropped)
    assert reasons["active_reverse"] == "constant"
    assert "absorbed" in reasons["active_two_way"]
    assert any("left out of every model" in n for n in sample.notes)


def test_sdm_design_recovers_rho_and_beta(ry: pd.DataFrame, W: SpatialWeights) -> None:
    sample = designs.growth_sample(ry, W)
    design = designs.sdm_design(sample, lee_yu=(False, True))
    assert [f.label for f in design.fits] == ["SDM", "SDM, Lee–Yu", "SAR"]
    assert all(f.ok for f in design.fits) and not design.notes
    est = design.coefs.set_index(["model", "term"])["estimate"]
    # rho = 0.4 recovered roughly; direct demeaning is biased towards zero, Lee-Yu less so
    assert abs(est[("SDM, Lee–Yu", "rho")] - 0.4) < 0.08
    assert 0.25 < est[("SDM", "rho")] < est[("SDM, Lee–Yu", "rho")]
    for label in ("SDM", "SDM, Lee–Yu"):
        assert abs(est[(label, designs.LAG)] - (-0.08)) < 0.02
        assert abs(est[(label, f"W_{designs.LAG}")] - 0.03) < 0.05
        assert abs(est[(label, "active_two_way")] - 0.05) < 0.02
    stats = design.stats.set_index(["model", "stat"])["value"]
    assert stats[("SDM", "N (province-years)")] == str(49 * 19)
    assert stats[("SDM, Lee–Yu", "Effective N")] == str(48 * 18)
    assert stats[("SDM", "GDP vintage")] == "synthetic"
    order = designs.s1_term_order(design.coefs, sample.regressors)
    assert order[0] == designs.LAG and order[-1] == "rho"


def test_impacts_are_seeded_and_consistent(ry: pd.DataFrame, W: SpatialWeights) -> None:
    sample = designs.growth_sample(ry, W)
    fits = designs.sdm_design(sample, lee_yu=(False,)).fits
    a = designs.impacts_design(fits, n_sim=200, seed=11)
    b = designs.impacts_design(fits, n_sim=200, seed=11)
    pd.testing.assert_frame_equal(a.coefs, b.coefs)
    c = a.coefs.set_index("term")["estimate"]
    lag = designs.LAG
    assert c[f"{lag}:total"] == pytest.approx(c[f"{lag}:direct"] + c[f"{lag}:indirect"])
    sdm = fits[0].result
    assert sdm is not None
    p = sdm.params
    # row-standardised W: total = (beta + theta) / (1 - rho)
    assert c[f"{lag}:total"] == pytest.approx((p[lag] + p[f"W_{lag}"]) / (1 - p["rho"]), rel=1e-8)
    assert set(a.coefs["model"]) == {"SDM"}  # SAR gets no impacts column


def test_lm_and_comparison_designs(ry: pd.DataFrame, W: SpatialWeights) -> None:
    sample = designs.growth_sample(ry, W)
    frame, why = designs.lm_design(sample)
    assert why is None and frame is not None
    assert list(frame["test"]) == ["LM lag", "robust LM lag", "LM error", "robust LM error"]
    assert frame.set_index("test").loc["LM lag", "p-value"] < 0.01  # rho = 0.4 is detected
    comp, notes, _fits = designs.comparison_design(sample)
    assert list(comp.index) == ["Two-way FE (no spatial terms)", "SAR", "SEM", "SDM", "SDEM", "SLX"]
    assert comp.loc["SDM", "parameters"] == len(sample.regressors) * 2 + 2
    assert comp.loc["SAR", "df"] == len(sample.regressors)
    assert np.isnan(comp.loc["SDEM", "LR vs SDM"]) and np.isnan(comp.loc["SDM", "LR vs SDM"])
    assert comp.loc["SDM", "AIC"] == pytest.approx(-2 * comp.loc["SDM", "log-likelihood"] + 2 * (2 * 5 + 2))
    assert 0.25 < comp.loc["SDM", "ρ"] < 0.5
    assert any("LR vs SDM" in n for n in notes)


def test_failed_models_become_notes_not_nan(ry: pd.DataFrame, W: SpatialWeights) -> None:
    # weights with an island: the Lee-Yu cross-unit transformation refuses, the column is left out
    M = W.matrix.tolil()
    M[0, :] = 0
    isl = SpatialWeights(W.ids, M.tocsr(), "row", "lattice with island")
    sample = designs.growth_sample(ry, isl)
    design = designs.sdm_design(sample, lee_yu=(False, True))
    assert [f.ok for f in design.fits] == [True, False, True]
    assert "SDM, Lee–Yu" not in set(design.coefs["model"])
    assert design.notes and design.notes[0].startswith("SDM, Lee–Yu not estimated: ")
    assert np.isfinite(design.coefs[["estimate", "se"]].to_numpy()).all()
    imp = designs.impacts_design(design.fits, n_sim=50, seed=1)
    assert any("no impacts" in n for n in imp.notes)
