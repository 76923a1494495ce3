"""DiD designs of the paper on small synthetic data with known effects (zonespill.did.designs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from zonespill.did import designs as D
from zonespill.weights import SpatialWeights

YEARS = list(range(2003, 2013))
TIES = ("forward_giver", "forward_receiver", "reverse", "two_way", "any")


def _region_year(
    first: dict[str, int], effect: float = 0.1, noise: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    """Province panel y = α_i + λ_t + effect · 1{0 < first_i ≤ t} (+ noise); the same cohorts for all K."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, (rid, g) in enumerate(sorted(first.items())):
        for t in YEARS:
            d = float(0 < g <= t)
            y = 9.0 + 0.05 * k + 0.03 * (t - 2003) + effect * d + noise * rng.standard_normal()
            row = {"region_id": rid, "year": t, "log_gdp_pc": y, "vintage": "syn"}
            for K in TIES:
                row[f"first_{K}"] = g
                row[f"active_{K}"] = int(d)
            rows.append(row)
    ry = pd.DataFrame(rows)
    ry["growth"] = ry.groupby("region_id")["log_gdp_pc"].diff()
    return ry


FIRST = {
    "11": 2006,
    "12": 2006,
    "13": 2006,
    "14": 2009,
    "15": 2009,
    "16": 2009,
    "17": 1996,
    "18": 1996,
    "21": 0,
    "22": 0,
    "23": 0,
    "24": 0,
}


def test_region_sample_drops_presample_units_and_counts_cohorts() -> None:
    s = D.region_sample(_region_year(FIRST), tie="forward_giver", outcome="log_gdp_pc")
    assert s.n_units == 10
    assert s.cohort_sizes() == {2006: 3, 2009: 3}
    assert s.n_never() == 4
    assert s.dropped[0][0] == 2
    text = s.describe()
    assert "2006 (3), 2009 (3)" in text and "excluded 2 provinces first tied in or before 2003" in text


def test_growth_sample_starts_after_first_year() -> None:
    s = D.region_sample(_region_year(FIRST), tie="two_way", outcome="growth")
    assert (s.first_year, s.last_year) == (2004, 2012)
    assert s.data["y"].notna().all()


@pytest.mark.parametrize("est", [D.CS_NOTYET, D.CS_NEVER, D.BJS, D.SA, D.TWFE])
def test_homogeneous_effect_is_recovered_by_every_estimator(est: str) -> None:
    s = D.region_sample(_region_year(FIRST, noise=1e-3, seed=3), tie="reverse", outcome="log_gdp_pc")
    r = D.estimate(s, est, D.EstimatorSettings(n_boot=99), seed=1)
    assert r.ok, r.reason
    assert r.att == pytest.approx(0.1, abs=5e-3)
    assert np.isfinite(r.se) and r.se > 0


def test_event_study_has_uniform_bands() -> None:
    s = D.region_sample(_region_year(FIRST, noise=1e-2, seed=4), tie="any", outcome="log_gdp_pc")
    r = D.estimate(s, D.CS_NOTYET, D.EstimatorSettings(n_boot=199), seed=7, event_study=True)
    es = r.event_study
    assert es is not None and {"e", "att", "se", "uniform_lower", "uniform_upper"} <= set(es.columns)
    assert (es["uniform_lower"] <= es["ci_lower"] + 1e-12).all()
    post = es[es["e"] >= 0]
    assert np.allclose(post["att"], 0.1, atol=0.02)


def test_no_valid_controls_becomes_a_reason_not_an_exception() -> None:
    first = {"11": 2006, "12": 2006, "13": 2008, "14": 2008}  # no never-treated, last cohort has no controls
    s = D.region_sample(_region_year(first), tie="any", outcome="log_gdp_pc")
    for est in (D.SA, D.BJS):
        r = D.estimate(s, est, D.EstimatorSettings(n_boot=None))
        assert not r.ok and r.reason and np.isnan(r.att)
    # CS degrades cell by cell (as R did): the 2008 cells are NaN, the 2006 cells still identified
    r = D.estimate(s, D.CS_NOTYET, D.EstimatorSettings(n_boot=None))
    assert r.att == pytest.approx(0.1, abs=1e-6)
    frame, notes = D.estimates_frames([D.estimate(s, D.SA, D.EstimatorSettings())])
    assert frame.empty and notes and notes[0].startswith("not estimable: any tie")


def test_no_treated_cohort_is_reported() -> None:
    first = {"11": 1996, "12": 0, "13": 0}
    s = D.region_sample(_region_year(first), tie="any", outcome="log_gdp_pc")
    r = D.estimate(s, D.TWFE, D.EstimatorSettings())
    assert not r.ok and "no treated cohort" in str(r.reason)


# ---------------------------------------------------------------------------------------------- dyadic
def _pair_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """4 provinces with constant incomes 1, 2, 4, 8 (logs) and known collaborations."""
    logs = {"11": 1.0, "12": 2.0, "13": 4.0, "14": 8.0}
    ry = pd.DataFrame(
        [
            {"region_id": r, "year": t, "log_gdp_pc": v + (0.5 if (r == "12" and t >= 2007) else 0.0)}
            for r, v in logs.items()
            for t in YEARS
        ]
    )
    collab = pd.DataFrame(
        {
            "collab_id": ["a", "b", "c", "d", "e"],
            "source_province": ["12", "11", "13", "11", "12"],
            "target_province": ["11", "12", "14", "11", "14"],
            "direction": ["forward", "two_way", "reverse", "forward", "forward"],
            "start_year": [2007, 2005, 1996, 2004, 2010],
            "same_province": [0, 0, 0, 1, 0],
            "year": 2003,
        }
    )
    return ry, collab


def test_pair_cohorts_by_hand() -> None:
    _ry, collab = _pair_inputs()
    c = D.pair_cohorts(collab, ["11", "12", "13", "14"]).set_index(["prov_a", "prov_b"])
    assert list(c.index) == [("11", "12"), ("12", "14"), ("13", "14")]
    assert c.loc[("11", "12")].to_dict() == {
        "first_forward": 2007,
        "first_reverse": 0,
        "first_two_way": 2005,
        "first_pooled": 2005,
    }
    assert c.loc[("13", "14"), "first_reverse"] == 1996
    assert c.loc[("12", "14"), "first_forward"] == 2010


def test_dyadic_panel_by_hand() -> None:
    ry, collab = _pair_inputs()
    p = D.dyadic_panel(ry, collab)
    assert p["pair"].nunique() == 6 and len(p) == 6 * len(YEARS)
    row = p[(p["pair"] == "11-12") & (p["year"] == 2003)].iloc[0]
    assert row["abs_gap"] == pytest.approx(1.0) and row["initial_gap"] == pytest.approx(1.0)
    assert p[(p["pair"] == "11-12") & (p["year"] == 2008)]["abs_gap"].iloc[0] == pytest.approx(1.5)
    assert p[(p["pair"] == "11-14") & (p["year"] == 2010)]["abs_gap"].iloc[0] == pytest.approx(7.0)
    never = p.drop_duplicates("pair").set_index("pair")["first_pooled"]
    assert never.to_dict() == {
        "11-12": 2005,
        "11-13": 0,
        "11-14": 0,
        "12-13": 0,
        "12-14": 2010,
        "13-14": 1996,
    }


def test_pair_sample_exclusions_and_clusters() -> None:
    ry, collab = _pair_inputs()
    p = D.dyadic_panel(ry, collab)
    fwd = D.pair_sample(p, direction="forward")
    assert set(fwd.data["unit"]) == {"11-12", "12-14", "11-13", "11-14", "12-13"}
    assert fwd.cohort_sizes() == {2007: 1, 2010: 1}
    rev = D.pair_sample(p, direction="reverse")  # 13-14 tied in 1996: before the sample
    assert rev.dropped[0][0] == 1 and rev.cohort_sizes() == {}
    assert fwd.cluster == ("prov_a", "prov_b")
    restricted = D.pair_sample(p, direction="pooled", max_initial_gap=2.0)
    assert "11-14" not in set(restricted.data["unit"])  # never-tied control with initial gap 7
    r = D.estimate(fwd, D.TWFE, D.EstimatorSettings())
    # both cohorts are singletons: thin cells are not estimated by default (issue 11 part 3)
    assert not r.ok and r.reason is not None and "thin" in r.reason


# ---------------------------------------------------------------------------------------------- exposure
def _line_weights(ids: list[str]) -> SpatialWeights:
    n = len(ids)
    m = np.zeros((n, n))
    for i in range(n - 1):
        m[i, i + 1] = m[i + 1, i] = 1.0
    m = m / m.sum(axis=1, keepdims=True)
    return SpatialWeights(ids=tuple(ids), matrix=sp.csr_matrix(m), transform="row", kind="line")


def test_exposure_by_hand() -> None:
    first = {"11": 0, "12": 2006, "13": 0, "14": 2009}
    ry = _region_year(first)
    e = D.exposure(ry, _line_weights(["11", "12", "13", "14"]), tie="any").set_index(["region_id", "year"])
    assert e.loc[("11", 2005), "exposure"] == 0.0 and e.loc[("11", 2006), "exposure"] == 1.0
    assert e.loc[("13", 2008), "exposure"] == 0.5 and e.loc[("13", 2009), "exposure"] == 1.0
    assert e.loc[("14", 2012), "exposure"] == 0.0


def test_spillover_samples() -> None:
    ids = [str(i) for i in range(11, 19)]
    first = dict.fromkeys(ids, 0) | {"12": 2006, "16": 2009}
    ry = _region_year(first)
    direct, spill = D.spillover_samples(ry, _line_weights(ids), tie="two_way", outcome="log_gdp_pc")
    # never-treated neighbours of 12 (11, 13) and of 16 (15, 17) are exposed; 14 and 18 stay clean
    assert set(direct.data["unit"]) == {"12", "16", "14", "18"}
    assert spill.cohort_sizes() == {2006: 2, 2009: 2}
    assert set(spill.data["unit"]) == {"11", "13", "14", "15", "17", "18"}


def test_bacon_weights_sum_to_one_per_sample() -> None:
    rows, notes = D.bacon_table(_region_year(FIRST, noise=1e-2), tie="any")
    sums = rows.groupby("sample")["weight"].sum()
    assert len(sums) == 2 and np.allclose(sums, 1.0)
    assert (rows["control"] == "always").any()
    assert len(notes) == 2
