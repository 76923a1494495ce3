"""DiD designs of the paper on small synthetic data with known effects (zonespill.did.designs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from zonespill.did import designs as D
from zonespill.errors import InputError
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


def _pid(a: str, b: str, units: tuple[str, ...] = ("11", "12", "13", "14")) -> int:
    return units.index(a) * len(units) + units.index(b)


def test_dyadic_panel_by_hand() -> None:
    ry, collab = _pair_inputs()
    p = D.dyadic_panel(ry, collab)
    assert p["pair"].dtype == np.int64  # integer pair ids, not strings
    assert p["pair"].nunique() == 6 and len(p) == 6 * len(YEARS)
    assert (p["pair"] == p["prov_a"].cat.codes.astype(int) * 4 + p["prov_b"].cat.codes.astype(int)).all()
    row = p[(p["pair"] == _pid("11", "12")) & (p["year"] == 2003)].iloc[0]
    assert row["abs_gap"] == pytest.approx(1.0) and row["initial_gap"] == pytest.approx(1.0)
    assert p[(p["pair"] == _pid("11", "12")) & (p["year"] == 2008)]["abs_gap"].iloc[0] == pytest.approx(1.5)
    assert p[(p["pair"] == _pid("11", "14")) & (p["year"] == 2010)]["abs_gap"].iloc[0] == pytest.approx(7.0)
    never = p.drop_duplicates("pair").set_index(["prov_a", "prov_b"])["first_pooled"]
    assert {(str(a), str(b)): v for (a, b), v in never.items()} == {
        ("11", "12"): 2005,
        ("11", "13"): 0,
        ("11", "14"): 0,
        ("12", "13"): 0,
        ("12", "14"): 2010,
        ("13", "14"): 1996,
    }
    assert p.equals(p.sort_values(["pair", "year"]))


def test_pair_sample_exclusions_and_clusters() -> None:
    ry, collab = _pair_inputs()
    p = D.dyadic_panel(ry, collab)
    fwd = D.pair_sample(p, direction="forward")
    assert set(fwd.data["unit"]) == {
        _pid(*x) for x in (("11", "12"), ("12", "14"), ("11", "13"), ("11", "14"), ("12", "13"))
    }
    assert fwd.cohort_sizes() == {2007: 1, 2010: 1}
    rev = D.pair_sample(p, direction="reverse")  # 13-14 tied in 1996: before the sample
    assert rev.dropped[0][0] == 1 and rev.cohort_sizes() == {}
    assert fwd.cluster == ("prov_a", "prov_b")
    assert set(fwd.data["prov_a"]) <= {"11", "12", "13"}
    restricted = D.pair_sample(p, direction="pooled", max_initial_gap=2.0)
    assert _pid("11", "14") not in set(restricted.data["unit"])  # never-tied control with initial gap 7
    r = D.estimate(fwd, D.TWFE, D.EstimatorSettings())
    # both cohorts are singletons: thin cells are not estimated by default (issue 11 part 3)
    assert not r.ok and r.reason is not None and "thin" in r.reason


def test_candidate_bands_equal_the_sample_restriction() -> None:
    ry, collab = _pair_inputs()
    full = D.dyadic_panel(ry, collab)
    cand = D.candidate_pairs(ry, collab, max_initial_gap=2.0, controls="all")
    # tied pairs (11-12, 12-14, 13-14) always kept; never-tied 11-13 (gap 3), 11-14 (7), 12-13 (2)
    assert sorted(cand.ids.tolist()) == sorted(
        _pid(*x) for x in (("11", "12"), ("12", "13"), ("12", "14"), ("13", "14"))
    )
    assert cand.n_tied == 3 and cand.n_band == 1 and cand.rows == 4 * len(YEARS)
    small = D.dyadic_panel(ry, collab, candidates=cand)
    for direction in D.PAIR_DIRECTIONS:
        a = D.pair_sample(full, direction=direction, max_initial_gap=2.0).data
        b = D.pair_sample(small, direction=direction).data
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    dist = np.array([[0, 100, 900, 50], [100, 0, 80, 700], [900, 80, 0, 60], [50, 700, 60, 0]], dtype=float)
    near = D.candidate_pairs(ry, collab, distance_matrix=dist, max_distance_km=90, controls="all")
    assert _pid("11", "14") in near.ids and _pid("12", "13") in near.ids and _pid("11", "13") not in near.ids
    panel = D.dyadic_panel(ry, collab, candidates=near)
    assert panel.loc[panel["pair"] == _pid("11", "14"), "distance_km"].eq(50).all()


def _many_units(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"{100 + i}" for i in range(n)]
    ry = pd.DataFrame(
        [
            {"region_id": r, "year": t, "log_gdp_pc": float(v) + 0.01 * (t - 2003)}
            for r, v in zip(ids, rng.normal(size=n), strict=True)
            for t in YEARS
        ]
    )
    src = rng.choice(n, size=12)
    tgt = (src + 1 + rng.choice(n - 1, size=12)) % n
    collab = pd.DataFrame(
        {
            "tie_id": [f"t{k}" for k in range(12)],
            "source_unit": [ids[i] for i in src],
            "target_unit": [ids[j] for j in tgt],
            "in_analysis": 1,
            "same_unit": 0,
            "direction": "forward",
            "start_year": 2008,
        }
    )
    return ry, collab


def test_sampled_control_pairs_are_seeded_and_keep_every_tie() -> None:
    ry, collab = _many_units(60)
    tied = D.pair_cohorts(collab, sorted(ry["region_id"].unique()))
    a = D.candidate_pairs(ry, collab, controls="sample", controls_per_tie=5, seed=7)
    b = D.candidate_pairs(ry, collab, controls="sample", controls_per_tie=5, seed=7)
    c = D.candidate_pairs(ry, collab, controls="sample", controls_per_tie=5, seed=8)
    assert np.array_equal(a.ids, b.ids) and not np.array_equal(a.ids, c.ids)
    assert a.n_tied == len(tied) and int(a.tied.sum()) == len(tied)
    assert a.n_pairs == len(tied) * 6 and a.n_all_pairs == 60 * 59 // 2
    assert a.seed == 7 and any("seed 7" in n and "5 per tied pair" in n for n in a.notes)
    panel = D.dyadic_panel(ry, collab, candidates=a)
    assert panel["pair"].nunique() == a.n_pairs and (
        panel.groupby("pair")["first_pooled"].max() > 0
    ).sum() == len(tied)
    with pytest.raises(InputError, match="seed"):
        D.candidate_pairs(ry, collab, controls="sample")


def test_memory_estimate_is_checked_before_building() -> None:
    from zonespill.errors import ConfigError

    ry, collab = _many_units(60)
    n_rows = 60 * 59 // 2 * len(YEARS)
    per_row = D.pair_bytes_per_row(len(YEARS))
    assert per_row == D.PAIR_BYTES_FIXED + D.PAIR_BYTES_PER_EVENT_TIME * (2 * len(YEARS) - 2)
    limit = D.PAIR_BASE_GIB + 0.5 * n_rows * per_row / 2**30
    with pytest.raises(ConfigError, match="pair_max_memory_gib") as err:
        D.candidate_pairs(ry, collab, controls="all", max_memory_gib=limit)
    assert f"{n_rows:,} rows" in str(err.value) and "pair_controls" in str(err.value)
    # auto: all pairs when they fit, a sample (recorded) when they do not
    assert D.candidate_pairs(ry, collab, max_memory_gib=10.0, seed=1).n_pairs == 60 * 59 // 2
    auto = D.candidate_pairs(ry, collab, max_memory_gib=limit, seed=1, controls_per_tie=3)
    assert auto.controls == "sample" and auto.n_pairs == auto.n_tied * 4
    assert any("pair_controls: auto" in n for n in auto.notes)
    # auto shrinks the sample to fit the limit (and says so); explicit sampling does not
    tight = D.PAIR_BASE_GIB + (auto.n_tied * 3) * len(YEARS) * per_row / 2**30
    fit = D.candidate_pairs(ry, collab, max_memory_gib=tight, seed=1, controls_per_tie=3)
    assert fit.n_pairs == fit.n_tied * 3 and fit.memory_gib <= tight
    assert any("2 instead of pair_controls_per_tie = 3" in n for n in fit.notes)
    with pytest.raises(ConfigError, match="pair_max_memory_gib"):
        D.candidate_pairs(ry, collab, controls="sample", max_memory_gib=tight, seed=1, controls_per_tie=3)


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


# ---------------------------------------------------------------------------------------------- panics
class PanicException(BaseException):
    """Stands in for pyo3_runtime.PanicException (a Rust panic; derives from BaseException)."""


def test_estimator_panic_becomes_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    sample = D.region_sample(_region_year(FIRST), tie="any", outcome="log_gdp_pc")

    def boom(*args: object, **kwargs: object) -> None:
        raise PanicException("called `Option::unwrap()` on a `None` value")

    monkeypatch.setattr(D, "twfe", boom)
    r = D.estimate(sample, D.TWFE, D.EstimatorSettings())
    assert not r.ok and r.reason is not None
    assert "panicked" in r.reason and "Option::unwrap()" in r.reason
    assert D.estimate(sample, D.BJS, D.EstimatorSettings()).ok  # the other columns still run

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(D, "twfe", interrupt)
    with pytest.raises(KeyboardInterrupt):
        D.estimate(sample, D.TWFE, D.EstimatorSettings())
