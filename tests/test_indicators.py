"""Indicators on a hand-computed example (3 provinces, 4 years)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from zonespill import indicators as ind
from zonespill.weights import SpatialWeights

REGIONS = pd.DataFrame(
    {
        "region_id": ["11", "12", "13", "110100", "110200", "130100"],
        "name": list("ABCabc"),
        "level": ["province"] * 3 + ["prefecture"] * 3,
        "parent_id": [pd.NA, pd.NA, pd.NA, "11", "11", "13"],
        "lon": [0.0, 1.0, 2.0, 0.1, 0.2, 2.1],
        "lat": [0.0, 0.0, 0.0, 0.1, 0.2, 0.1],
    }
)
YEARS = range(2005, 2009)


def panel() -> pd.DataFrame:
    rows = []
    for k, rid in enumerate(["11", "12", "13"]):
        for t in YEARS:
            # GDP in 100m yuan, population in 10k: gdp_pc = gdp * 1e4 / pop
            rows.append(
                {
                    "region_id": rid,
                    "year": t,
                    "gdp": float(10 * (k + 1) * (1 + 0.1 * (t - 2005))),
                    "population": 100.0,
                    "vintage": "v1" if t < 2008 or rid != "13" else "v2",
                }
            )
    return pd.DataFrame(rows)


COLLABS = pd.DataFrame(
    {
        "collab_id": ["c1", "c2", "c3", "c4"],
        "source_id": ["11", "130100", "12", "110100"],
        "target_id": ["12", "110100", "13", "110200"],
        "start_year": [2005, 2006, 2007, 2005],
        "end_year": pd.array([2006, pd.NA, pd.NA, pd.NA], dtype="Int64"),
        "programme": ["p"] * 4,
        "direction": ["forward", "reverse", "two_way", "forward"],
    }
)

# path graph 11 - 12 - 13, row-standardised
W = SpatialWeights(
    ("11", "12", "13"), sp.csr_matrix(np.array([[0, 1, 0], [0.5, 0, 0.5], [0, 1, 0]], dtype=float)), "row"
)


def test_region_panel_growth_never_crosses_vintage_or_gaps() -> None:
    rp = ind.region_panel(panel())
    a = rp[rp.region_id == "11"].set_index("year")
    assert a.loc[2005, "gdp_pc"] == pytest.approx(10 * 1e4 / 100)
    assert math.isnan(a.loc[2005, "growth"])
    assert a.loc[2006, "growth"] == pytest.approx(math.log(1.1))
    c = rp[rp.region_id == "13"].set_index("year")
    assert math.isnan(c.loc[2008, "growth"])  # vintage changes v1 -> v2
    gap = panel()
    gap = gap[~((gap.region_id == "12") & (gap.year == 2006))]
    b = ind.region_panel(gap).query("region_id == '12'").set_index("year")
    assert math.isnan(b.loc[2007, "growth"])  # previous year missing


def test_province_ties_drop_within_province_pairs() -> None:
    ties = ind.province_ties(COLLABS, REGIONS, analysis_ids=["11", "12", "13"])
    assert ties.same_province == ("c4",)
    assert list(ties.ties.collab_id) == ["c1", "c2", "c3"]
    assert ties.ties.set_index("collab_id").loc["c2", ["source_province", "target_province"]].tolist() == [
        "13",
        "11",
    ]


def test_region_year_roles_counts_first_years_gaps_and_exposure() -> None:
    ties = ind.province_ties(COLLABS, REGIONS, analysis_ids=["11", "12", "13"]).ties
    ry = ind.region_year(panel(), ties, weights=W, years=YEARS).set_index(["region_id", "year"])
    # c1 forward 11 -> 12, 2005-2006
    assert ry.loc[("11", 2005), "active_forward_giver"] == 1
    assert ry.loc[("11", 2007), "active_forward_giver"] == 0
    assert ry.loc[("12", 2006), "n_forward_receiver"] == 1
    assert ry.loc[("12", 2005), "first_forward_receiver"] == 2005
    # c2 reverse: host core 13 (giver) and periphery 11 (receiver), from 2006
    assert ry.loc[("13", 2006), "active_reverse_giver"] == 1
    assert ry.loc[("11", 2006), "active_reverse_receiver"] == 1
    assert ry.loc[("11", 2005), "active_reverse"] == 0 and ry.loc[("11", 2006), "active_reverse"] == 1
    assert ry.loc[("11", 2008), "first_reverse"] == 2006
    # c3 two-way 12 <-> 13 from 2007: both ends get two_way
    assert ry.loc[("12", 2007), "active_two_way"] == 1 and ry.loc[("13", 2007), "active_two_way"] == 1
    assert ry.loc[("12", 2005), "first_two_way"] == 2007
    assert ry.loc[("13", 2005), "first_forward_giver"] == 0
    # n_any counts ties: 12 in 2006 has c1 only; in 2007 c3 only (c1 ended 2006)
    assert ry.loc[("12", 2006), "n_any"] == 1 and ry.loc[("12", 2007), "n_any"] == 1
    # partner gap of 11 in 2006: partners 12 (c1) and 13 (c2): mean of ln(2) and ln(3)
    assert ry.loc[("11", 2006), "partner_log_gap"] == pytest.approx((math.log(2) + math.log(3)) / 2)
    # exposure: 12's neighbours 11 and 13 (w = .5 each); in 2005 only 11 is active
    assert ry.loc[("12", 2005), "nb_share_active"] == pytest.approx(0.5)
    assert ry.loc[("12", 2006), "nb_share_active"] == pytest.approx(1.0)
    assert ry.loc[("11", 2005), "nb_share_active"] == pytest.approx(1.0)  # neighbour 12 active via c1


def test_pair_year_active_flags_gap_and_distance() -> None:
    ry = ind.region_year(
        panel(),
        ind.province_ties(COLLABS, REGIONS, analysis_ids=["11", "12", "13"]).ties,
        weights=W,
        years=YEARS,
    )
    py = ind.pair_year(COLLABS, REGIONS, ry, years=YEARS).set_index(["collab_id", "year"])
    assert py.loc[("c1", 2006), "active"] == 1 and py.loc[("c1", 2007), "active"] == 0
    assert py.loc[("c2", 2005), "active"] == 0 and py.loc[("c2", 2008), "active"] == 1
    assert py.loc[("c1", 2005), "log_gap"] == pytest.approx(math.log(1 / 2))
    assert py.loc[("c1", 2005), "abs_log_gap"] == pytest.approx(math.log(2))
    assert py.loc[("c4", 2005), "same_province"] == 1
    assert py.loc[("c1", 2005), "distance_km"] == pytest.approx(111.195, abs=0.01)


def test_zone_panel_counts_from_approval_year() -> None:
    zones = pd.DataFrame(
        {
            "zone_id": ["z1", "z2", "z3"],
            "region_id": ["11", "110100", "12"],
            "level": ["national", "provincial", "national"],
            "type": ["etdz", "hitech", "etdz"],
            "approval_year": [2006, 2007, 1990],
            "area_ha": [10.0, 5.0, pd.NA],
        }
    )
    zp = ind.zone_panel(
        zones, region_ids=["11", "12"], years=YEARS, province_map=ind.province_of(REGIONS)
    ).set_index(["region_id", "year"])
    assert zp.loc[("11", 2005), "zones_total"] == 0
    assert zp.loc[("11", 2006), "zones_total"] == 1
    assert zp.loc[("11", 2007), "zones_total"] == 2  # the prefecture-hosted zone maps to province 11
    assert zp.loc[("11", 2007), "zones_type_hitech"] == 1
    assert zp.loc[("11", 2008), "zone_area_ha"] == pytest.approx(15.0)
    assert zp.loc[("12", 2005), "zones_national"] == 1
    assert zp.loc[("12", 2005), "zone_area_ha"] == 0.0  # missing area counts as 0 ha, the zone still counts


def test_vectorised_counts_and_gaps_match_a_direct_loop() -> None:
    """n_K, first_K and partner_log_gap against a plain loop over ties on random data."""
    rng = np.random.default_rng(11)
    ids = [f"{k:02d}" for k in range(8)]
    years = range(2000, 2008)
    rows = [
        {"region_id": r, "year": t, "gdp": float(rng.uniform(1, 9)), "population": 1.0, "vintage": "v"}
        for r in ids
        for t in years
        if rng.random() > 0.1
    ]
    pan = pd.DataFrame(rows)
    m = 25
    src, tgt = rng.choice(ids, m), rng.choice(ids, m)
    keep = src != tgt
    ends = [int(e) if rng.random() < 0.5 else pd.NA for e in rng.integers(2001, 2009, m)]
    ties = pd.DataFrame(
        {
            "collab_id": [f"c{k}" for k in range(m)],
            "source_unit": src,
            "target_unit": tgt,
            "start_year": rng.integers(1998, 2008, m),
            "end_year": pd.array(ends, dtype="Int64"),
            "direction": rng.choice(["forward", "reverse", "two_way", "unknown"], m),
        }
    )[keep]
    w = SpatialWeights(tuple(ids), sp.csr_matrix(np.ones((8, 8)) - np.eye(8)), "binary")
    ry = ind.region_year(pan, ties, weights=w, years=years).set_index(["region_id", "year"])
    logy = ry["log_gdp_pc"]
    for (rid, t), rec in ry.iterrows():
        act = [
            c
            for c in ties.itertuples()
            if rid in (c.source_unit, c.target_unit)
            and c.start_year <= t
            and (pd.isna(c.end_year) or t <= c.end_year)
        ]
        assert rec["n_any"] == len(act)
        fwd_giver = [c for c in act if c.direction == "forward" and c.source_unit == rid]
        assert rec["n_forward_giver"] == len(fwd_giver)
        starts = [c.start_year for c in ties.itertuples() if rid in (c.source_unit, c.target_unit)]
        assert rec["first_any"] == (min(starts) if starts else 0)
        partners = {c.target_unit if c.source_unit == rid else c.source_unit for c in act}
        gaps = [logy.get((p, t), np.nan) - logy[(rid, t)] for p in partners]
        gaps = [g for g in gaps if np.isfinite(g)]
        if gaps:
            assert rec["partner_log_gap"] == pytest.approx(np.mean(gaps))
        else:
            assert math.isnan(rec["partner_log_gap"])
