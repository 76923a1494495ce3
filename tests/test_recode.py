"""Tie-coding scenarios (zonespill.recode)."""

from __future__ import annotations

import pandas as pd
import pytest

from zonespill.errors import ConfigError
from zonespill.recode import apply_recode, parse_scenarios


def _collabs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "collab_id": ["C1", "C2", "C3", "C4"],
            "source_id": ["31", "44", "44", "11"],
            "target_id": ["23", "23", "22", "15"],
            "start_year": [2017, 2017, 2017, 1996],
            "end_year": [float("nan"), float("nan"), 2020.0, float("nan")],
            "programme": ["ne_east_2017", "ne_east_2017", "ne_east_2017", "east_west_1996"],
            "direction": ["two_way", "two_way", "forward", "forward"],
            "level": ["province-province"] * 3 + ["park"],
            "confidence": ["high"] * 4,
        }
    )


def test_recode_sets_direction_records_each_change_and_leaves_input_untouched() -> None:
    rules = parse_scenarios(
        {"ne_forward": [{"match": {"programme": "ne_east_2017"}, "set": {"direction": "forward"}}]}
    )
    original = _collabs()
    out, record = apply_recode(original, rules["ne_forward"], scenario="ne_forward")
    assert out["direction"].tolist() == ["forward", "forward", "forward", "forward"]
    # C3 was already forward: only real changes are recorded
    assert record[["collab_id", "column", "old", "new"]].values.tolist() == [
        ["C1", "direction", "two_way", "forward"],
        ["C2", "direction", "two_way", "forward"],
    ]
    assert original["direction"].tolist() == ["two_way", "two_way", "forward", "forward"]


def test_recode_drop_and_rules_apply_in_order() -> None:
    rules = parse_scenarios(
        {
            "s": [
                {"match": {"level": "park"}, "drop": True},
                {"match": {"source_id": "44", "direction": "two_way"}, "set": {"direction": "reverse"}},
            ]
        }
    )
    out, record = apply_recode(_collabs(), rules["s"], scenario="s")
    assert out["collab_id"].tolist() == ["C1", "C2", "C3"]
    assert out.set_index("collab_id").loc["C2", "direction"] == "reverse"
    assert set(record["new"]) == {"dropped", "reverse"}


@pytest.mark.parametrize(
    ("recode", "message"),
    [
        (
            {"s": [{"match": {"programme": "typo"}, "set": {"direction": "forward"}}]},
            r"recode\.s\[0\]': no collab",
        ),
        (
            {"s": [{"match": {"programme": "ne_east_2017"}, "set": {"direction": "both"}}]},
            r"set\.direction': 'both'",
        ),
        ({"s": [{"match": {"colour": "red"}, "set": {"direction": "forward"}}]}, "cannot select on"),
        ({"s": [{"match": {"programme": "ne_east_2017"}}]}, "exactly one of 'set'"),
        (
            {"s": [{"match": {"programme": "ne_east_2017"}, "set": {"direction": "forward"}, "drop": True}]},
            "exactly one",
        ),
        ({"s": []}, "non-empty list"),
        (
            {"s": [{"match": {"collab_id": "C3"}, "set": {"start_year": 2021}}]},
            "start year is after the end year",
        ),
        ({"s": [{"match": {"collab_id": "C3"}, "set": {"start_year": 2021.5}}]}, "integer year"),
    ],
)
def test_bad_recode_rules_name_the_config_key(recode: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        for name, rules in parse_scenarios(recode).items():
            apply_recode(_collabs(), rules, scenario=name)
