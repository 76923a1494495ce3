"""Flow-based direction indicators on a hand-computed flows table (docs/indicators.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from zonespill import indicators as ind
from zonespill.errors import ConfigError

from .test_levels import COLLABS, PREFS, REGIONS

YEARS = range(2005, 2007)


def _flows() -> pd.DataFrame:
    rows = [
        # origin, destination, year, kind, value
        ("110100", "120100", 2005, "inv", 30.0),
        ("120100", "110100", 2005, "inv", 10.0),
        ("110101", "120100", 2005, "inv", 10.0),  # county of 110100: adds to 110100 -> 120100
        ("110200", "120200", 2005, "inv", 5.0),
        ("11", "120100", 2005, "inv", 7.0),  # province origin: cannot be split at the prefecture level
        ("110101", "110100", 2005, "inv", 3.0),  # inside one prefecture
        ("120100", "110100", 2006, "inv", 20.0),
        ("110200", "110100", 2006, "inv", 8.0),
        ("110100", "110200", 2006, "Patents (granted)", 1.0),
    ]
    return pd.DataFrame(rows, columns=["origin_id", "destination_id", "year", "kind", "value"])


def _fl(absent: str = "zero") -> ind.FlowIndicators:
    ties = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS).active_ties
    return ind.flow_indicators(
        _flows(), REGIONS, level="prefecture", analysis_ids=PREFS, years=YEARS, absent=absent, ties=ties
    )


def test_pair_net_share_and_two_way_index_by_hand() -> None:
    fl = _fl()
    p = fl.pairs[fl.pairs.kind == "inv"].set_index(["unit_a", "unit_b", "year"])
    # 2005: F(110100->120100) = 30 + 10 (county) = 40, back 10: s = 30/50
    r = p.loc[("110100", "120100", 2005)]
    assert (r.flow_ab, r.flow_ba) == (40.0, 10.0)
    assert r.net_share_ab == pytest.approx(0.6) and r.two_way_index == pytest.approx(0.4)
    # 2006: only 120100 -> 110100: s = -1, one-way
    r = p.loc[("110100", "120100", 2006)]
    assert r.net_share_ab == -1.0 and r.two_way_index == 0.0
    # no flow either way: s undefined (not 0)
    assert math.isnan(p.loc[("110200", "120200", 2006), "net_share_ab"])
    assert p.loc[("110100", "110200", 2006), "net_share_ab"] == -1.0
    # ties between the pair: b (2006, via the county's prefecture) and d (2008, capitals)
    assert p.loc[("110100", "120100", 2005), "first_tie"] == 2006
    assert p.loc[("110100", "120100", 2005), "active_tie"] == 0
    assert p.loc[("110100", "120100", 2006), "active_tie"] == 1
    assert fl.info["above_level_or_unmapped"] == 1 and fl.info["within_one_unit"] == 1
    assert fl.info["used"] == 7 and fl.kinds["Patents (granted)"] == "patents_granted"


def test_region_in_out_and_reciprocity_by_hand() -> None:
    ry = _fl().region_year.set_index(["region_id", "year"])
    r = ry.loc[("110100", 2005)]
    assert (r.flow_out_inv, r.flow_in_inv) == (40.0, 10.0)
    assert r.flow_net_out_share_inv == pytest.approx(0.6) and r.flow_two_way_inv == pytest.approx(0.4)
    # reciprocity: sum over partners of 2 min(F_ij, F_ji) / sum of F_ij + F_ji = 2*10 / 50
    assert r.flow_reciprocity_inv == pytest.approx(0.4)
    r = ry.loc[("110100", 2006)]
    assert (r.flow_out_inv, r.flow_in_inv) == (0.0, 28.0) and r.flow_reciprocity_inv == 0.0
    assert ry.loc[("120100", 2005), "flow_net_out_share_inv"] == pytest.approx(-0.6)
    r = ry.loc[("120200", 2006)]
    assert (
        r.flow_in_inv == 0.0 and math.isnan(r.flow_net_out_share_inv) and math.isnan(r.flow_reciprocity_inv)
    )
    # the patents kind covers 2006 only: 2005 is missing, not zero
    assert math.isnan(ry.loc[("110100", 2005), "flow_out_patents_granted"])
    assert ry.loc[("110100", 2006), "flow_out_patents_granted"] == 1.0


def test_absent_rows_as_missing() -> None:
    fl = _fl("missing")
    p = fl.pairs[fl.pairs.kind == "inv"].set_index(["unit_a", "unit_b", "year"])
    assert math.isnan(p.loc[("110100", "120100", 2006), "flow_ab"])
    assert math.isnan(p.loc[("110100", "120100", 2006), "net_share_ab"])
    with pytest.raises(ConfigError, match=r"inputs\.flows\.absent"):
        _fl("guess")


def test_tie_pair_year_gets_giver_to_receiver_shares() -> None:
    t = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS)
    panel = pd.DataFrame(
        [
            {"region_id": r, "year": y, "gdp": 1.0, "population": 1.0, "vintage": "v"}
            for r in PREFS
            for y in YEARS
        ]
    )
    ry = ind.region_panel(panel)
    py = ind.add_flows_to_pair_year(ind.pair_year(COLLABS, REGIONS, ry, years=YEARS, ties=t), _fl())
    py = py.set_index(["tie_id", "year"])
    # tie b: reverse enclave; giver = host core 110100 (county 110101), receiver = initiating periphery
    assert py.loc[("b", 2005), "flow_gr_inv"] == 40.0 and py.loc[("b", 2005), "flow_rg_inv"] == 10.0
    assert py.loc[("b", 2005), "flow_net_share_inv"] == pytest.approx(0.6)
    assert py.loc[("b", 2006), "flow_net_share_inv"] == -1.0  # all flow periphery -> core
    # tie c runs 110100 -> 110200: the dyad's stored direction is reversed relative to the tie
    assert py.loc[("c", 2006), "flow_gr_inv"] == 0.0 and py.loc[("c", 2006), "flow_rg_inv"] == 8.0
    # tie a (110100 -> 120200): no flow rows at all, zeros within covered years, share undefined
    assert py.loc[("a", 2005), "flow_gr_inv"] == 0.0 and np.isnan(py.loc[("a", 2005), "flow_net_share_inv"])
