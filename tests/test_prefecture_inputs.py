"""The second CI configuration (.test/prefecture): prefecture-level spine from a user's files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from zonespill.config import validate_config
from zonespill.steps import run_spine

REPO = Path(__file__).resolve().parents[1]
PREF = REPO / ".test" / "prefecture"


@pytest.fixture(scope="module")
def pref_spine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pref")
    shutil.copytree(PREF / "data", tmp / "data")
    config = yaml.safe_load((PREF / "config.yaml").read_text(encoding="utf-8"))
    for name in ("regions", "panel", "zones", "collaborations", "flows"):
        config["inputs"][name]["path"] = str(tmp / "data" / Path(config["inputs"][name]["path"]).name)
    validate_config(config)
    return run_spine(config, tmp / "results")


def test_prefecture_spine_has_ties_at_the_prefecture_level(pref_spine: dict[str, Path]) -> None:
    summary = json.loads(pref_spine["summary"].read_text(encoding="utf-8"))
    assert summary["level"] == "prefecture" and summary["regions"] == 26
    assert summary["ties"] == 8 and summary["tie_mapping"]["mapped_to_capital"] == 2
    assert summary["ties_by_direction"] == {"forward": 5, "reverse": 1, "two_way": 2}
    assert summary["price_basis"] == "real (base 2005, provincial CPI; panel column cpi)"
    ry = pd.read_parquet(pref_spine["region_year"])
    assert ry["region_id"].str.len().eq(6).all() and ry["region_id"].nunique() == 26
    assert ry["active_any"].sum() > 0 and ry["zones_complete"].eq(1).all()
    # the capital rule: province 11 gives via 110100 from 2005 (its own pref-level tie from 2004)
    assert ry.loc[ry.region_id == "110100", "first_forward_giver"].iloc[0] == 2004
    assert ry.loc[ry.region_id == "460100", "first_forward_receiver"].iloc[0] == 2005
    assert {"ntl", "flow_two_way_investment", "flow_reciprocity_patents"} <= set(ry.columns)
    w = json.loads(pref_spine["weights_meta"].read_text(encoding="utf-8"))
    assert w["n"] == 26 and w["islands"] == []  # the island province's two prefectures are neighbours


def test_prefecture_flows_reach_the_pair_tables(pref_spine: dict[str, Path]) -> None:
    py = pd.read_parquet(pref_spine["pair_year"])
    rev = py[(py.direction == "reverse") & (py.year >= 2007)]
    # the reverse enclave's flows run from the initiating periphery to the host core
    assert (rev["flow_net_share_investment"] < 0).all()
    fp = pd.read_parquet(pref_spine["flow_pair_year"])
    two_way = fp[(fp.kind == "investment") & (fp.unit_a == "130100") & (fp.unit_b == "220100")]
    before = two_way.loc[two_way.year < 2006, "two_way_index"].mean()
    after = two_way.loc[two_way.year.between(2006, 2011), "two_way_index"].mean()
    assert after > before + 0.3
    assert (two_way.loc[two_way.year == 2006, "first_tie"] == 2006).all()
