"""Native-level analysis: pairings mapped to the analysis level by the configured rules."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from zonespill import indicators as ind
from zonespill.errors import ConfigError, InputError
from zonespill.weights import SpatialWeights

REGIONS = pd.DataFrame(
    {
        "region_id": ["11", "12", "110100", "110200", "120100", "120200", "110101"],
        "name": list("ABabcdx"),
        "level": ["province"] * 2 + ["prefecture"] * 4 + ["county"],
        "parent_id": [pd.NA, pd.NA, "11", "11", "12", "12", "110100"],
        "lon": [0.0, 1.0, 0.0, 0.2, 1.0, 1.2, 0.01],
        "lat": [0.0] * 7,
    }
)
PREFS = ["110100", "110200", "120100", "120200"]
COLLABS = pd.DataFrame(
    {
        "collab_id": ["a", "b", "c", "d"],
        "source_id": ["11", "110101", "110100", "11"],
        "target_id": ["120200", "120100", "110200", "12"],
        "start_year": pd.array([2005, 2006, 2007, 2008], dtype="Int64"),
        "end_year": pd.array([pd.NA] * 4, dtype="Int64"),
        "programme": ["p"] * 4,
        "direction": ["forward", "reverse", "two_way", "forward"],
    }
)


def _pairs(t: ind.AnalysisTies) -> dict[str, tuple[str, str]]:
    return {str(r.tie_id): (str(r.source_unit), str(r.target_unit)) for r in t.ties.itertuples()}


def test_capital_rule_maps_above_and_ancestor_maps_below() -> None:
    t = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS, above="capital")
    assert _pairs(t) == {
        "a": ("110100", "120200"),  # province 11 -> its lowest-code prefecture
        "b": ("110100", "120100"),  # county 110101 -> its prefecture
        "c": ("110100", "110200"),  # native
        "d": ("110100", "120100"),  # both provinces -> both capitals
    }
    rec = t.record.set_index("collab_id")
    assert "capital of 11 (lowest code)" in rec.loc["a", "detail"]
    assert "ancestor of 110101" in rec.loc["b", "detail"]
    assert rec.loc["c", "detail"] == "native"
    assert len(t.active_ties) == 4 and t.counts()["mapped_to_capital"] == 2


def test_explicit_capitals_and_bad_capital() -> None:
    t = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS, capitals={"11": "110200"})
    assert _pairs(t)["a"] == ("110200", "120200")
    assert _pairs(t)["d"] == ("110200", "120100")
    with pytest.raises(ConfigError, match=r"analysis\.pairings\.capitals\.11"):
        ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS, capitals={"11": "120100"})


def test_all_children_expands_and_records_every_tie() -> None:
    t = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS, above="all_children")
    pairs = _pairs(t)
    assert pairs["a:110100>120200"] == ("110100", "120200") and pairs["a:110200>120200"] == (
        "110200",
        "120200",
    )
    assert sum(k.startswith("d:") for k in pairs) == 4  # 2 x 2 children
    assert set(t.expanded) == {"a", "d"}
    assert (t.record["collab_id"] == "d").sum() == 4
    assert len(t.active_ties) == 2 + 1 + 1 + 4


def test_drop_rule_records_the_drops() -> None:
    t = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS, above="drop")
    assert t.dropped == ("a", "d")
    assert list(t.ties["collab_id"]) == ["b", "c"]
    assert "above the analysis level (rule: drop)" in t.record.set_index("collab_id").loc["a", "detail"]
    assert "dropped because an endpoint is above" in t.why_none()


def test_province_level_maps_up_and_flags_same_unit() -> None:
    t = ind.analysis_ties(COLLABS, REGIONS, level="province", analysis_ids=["11", "12"])
    assert t.same_unit == ("c",)
    assert _pairs(t)["b"] == ("11", "12")
    assert list(t.active_ties["collab_id"]) == ["a", "b", "d"]


def test_outside_panel_and_unmapped_endpoints() -> None:
    t = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=["110100", "110200"])
    assert set(t.outside_panel) == {"a", "b", "d"} and list(t.active_ties["collab_id"]) == ["c"]
    orphan = pd.concat(
        [
            REGIONS,
            pd.DataFrame(
                {
                    "region_id": ["999900"],
                    "name": ["o"],
                    "level": ["prefecture"],
                    "parent_id": [pd.NA],
                    "lon": [5.0],
                    "lat": [5.0],
                }
            ),
        ],
        ignore_index=True,
    )
    bad = COLLABS.assign(target_id=["999900", "120100", "110200", "12"])
    with pytest.raises(InputError, match=r"no region at the province level.*a \(999900\)"):
        ind.analysis_ties(bad, orphan, level="province", analysis_ids=["11", "12"])


def test_zones_count_where_the_host_maps_and_are_missing_not_zero_otherwise() -> None:
    zones = pd.DataFrame(
        {
            "zone_id": ["z1", "z2", "z3"],
            "region_id": ["11", "110200", "110101"],
            "level": ["national"] * 3,
            "type": ["etdz"] * 3,
            "approval_year": [2000, 2000, 2000],
            "area_ha": [1.0, 2.0, 3.0],
        }
    )
    placed = ind.place_zones(zones, REGIONS, level="prefecture")
    assert dict(zip(placed.zones.zone_id, placed.zones.region_id, strict=True)) == {
        "z2": "110200",
        "z3": "110100",
    }
    assert placed.incomplete == ("110100", "110200")
    assert placed.info["hosted_above_level"] == 1 and "zones_complete = 0" in str(placed.info["note"])
    panel = pd.DataFrame(
        [{"region_id": r, "year": 2005, "gdp": 1.0, "population": 1.0, "vintage": "v"} for r in PREFS]
    )
    w = SpatialWeights(tuple(PREFS), sp.csr_matrix(np.ones((4, 4)) - np.eye(4)), "binary")
    t = ind.analysis_ties(COLLABS, REGIONS, level="prefecture", analysis_ids=PREFS)
    ry = ind.region_year(
        panel,
        t.active_ties,
        weights=w,
        zones=placed.zones,
        years=range(2005, 2006),
        zones_incomplete=placed.incomplete,
    ).set_index("region_id")
    assert math.isnan(ry.loc["110100", "zones_total"]) and ry.loc["110100", "zones_complete"] == 0
    assert ry.loc["120100", "zones_total"] == 0 and ry.loc["120100", "zones_complete"] == 1
    assert ry.loc["110100", "n_forward_giver"] == 1  # tie a (from 2005) via the capital


def _prefecture_config(tiny: tuple[Path, dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
    """The tiny data with the panel split into prefectures (each prefecture = its province's values)."""
    tmp, cfg = tiny
    path = Path(cfg["inputs"]["panel"]["path"])
    p = pd.read_csv(path, dtype=str)
    rows = [r.assign(code=r["code"] + h + "00") for h in ("01", "02") for _, r in [(0, p)]]
    pd.concat(rows, ignore_index=True).to_csv(path, index=False)
    cfg["analysis"]["level"] = "prefecture"
    return tmp, cfg


def test_spine_at_prefecture_level_gives_ties(tiny: tuple[Path, dict[str, Any]]) -> None:
    from zonespill.steps import run_spine

    tmp, cfg = _prefecture_config(tiny)
    paths = run_spine(cfg, tmp / "results")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["level"] == "prefecture" and summary["regions"] == 14
    assert summary["ties"] == 5 and summary["tie_mapping"]["mapped_to_capital"] == 3
    assert summary["zones"]["hosted_above_level"] == 14
    ry = pd.read_parquet(paths["region_year"])
    assert ry["zones_total"].isna().all() and (ry["zones_complete"] == 0).all()
    assert ry.loc[ry.region_id == "110100", "active_forward_giver"].max() == 1
    record = pd.read_csv(paths["ties_record"], dtype=str)
    assert set(record["action"]) == {"tie"} and len(record) == 5
    py = pd.read_parquet(paths["pair_year"])
    assert py["source_unit"].isin(ry["region_id"]).all()


def test_zero_ties_is_an_error_that_says_why(tiny: tuple[Path, dict[str, Any]]) -> None:
    from zonespill.steps import run_spine

    tmp, cfg = _prefecture_config(tiny)
    pairs = Path(cfg["inputs"]["collaborations"]["path"])
    pd.read_csv(pairs, dtype=str).iloc[[0, 1, 3]].to_csv(pairs, index=False)  # province-province only
    cfg["analysis"]["pairings"] = {"above": "drop"}
    with pytest.raises(
        ConfigError, match=r"no collaboration tie reaches the prefecture-level analysis.*3 dropped"
    ):
        run_spine(cfg, tmp / "results")
    cfg["analysis"]["expect_no_ties"] = True
    paths = run_spine(cfg, tmp / "results2")
    assert json.loads(paths["summary"].read_text(encoding="utf-8"))["ties"] == 0


def test_panel_at_another_level_is_named(tiny: tuple[Path, dict[str, Any]]) -> None:
    from zonespill.steps import run_spine

    tmp, cfg = tiny
    cfg["analysis"]["level"] = "prefecture"  # the tiny panel is province-level
    expected = r"0 region\(s\) at level 'prefecture'.*'province': 7.*set analysis.level"
    with pytest.raises(ConfigError, match=expected):
        run_spine(cfg, tmp / "results")
    shutil.rmtree(tmp / "results", ignore_errors=True)
