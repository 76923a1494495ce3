"""Tie-coding scenarios: alternative codings of the collaboration table for robustness tables.

A coding decision (e.g. the NE–East 2017 programme coded two-way because of its "mutual benefit"
wording) can drive a headline result. A scenario is a list of rules; each rule selects rows of
the canonical collaborations table by exact values of some columns and either sets new values
(``direction``, ``start_year``, ``end_year``, ``programme``) or drops the rows. Every change is
recorded; a rule that selects nothing is an error (a typo must not silently leave the coding as
it was).

Config (``inputs.collaborations.recode``)::

    recode:
      ne_east_forward:                 # scenario name
        - match: {programme: ne_east_2017}
          set: {direction: forward}
      no_enclaves:
        - match: {level: park}
          drop: true
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from zonespill.contract import DIRECTIONS
from zonespill.errors import ConfigError

__all__ = ["MATCH_COLUMNS", "SET_COLUMNS", "RecodeRule", "apply_recode", "parse_scenarios"]

#: Columns a rule may select on.
MATCH_COLUMNS: tuple[str, ...] = (
    "collab_id",
    "source_id",
    "target_id",
    "programme",
    "direction",
    "level",
    "confidence",
    "start_year",
)
#: Columns a rule may set.
SET_COLUMNS: tuple[str, ...] = ("direction", "start_year", "end_year", "programme")


@dataclass(frozen=True)
class RecodeRule:
    """One rule of a scenario; ``key`` is its dotted config key (for messages)."""

    key: str
    match: tuple[tuple[str, str], ...]
    set: tuple[tuple[str, Any], ...] = ()
    drop: bool = False


def _rule(raw: Any, key: str) -> RecodeRule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config key '{key}': a rule is a mapping with 'match' and 'set' or 'drop: true'")
    unknown = set(raw) - {"match", "set", "drop"}
    if unknown:
        raise ConfigError(
            f"config key '{key}': unknown field(s) {sorted(unknown)}; allowed: match, set, drop"
        )
    match = raw.get("match")
    if not isinstance(match, Mapping) or not match:
        raise ConfigError(f"config key '{key}.match': give at least one column to select rows by")
    bad = sorted(set(match) - set(MATCH_COLUMNS))
    if bad:
        raise ConfigError(
            f"config key '{key}.match': cannot select on {bad}; columns: {', '.join(MATCH_COLUMNS)}"
        )
    drop = raw.get("drop", False)
    if not isinstance(drop, bool):
        raise ConfigError(f"config key '{key}.drop': must be true or false, got {drop!r}")
    new = raw.get("set") or {}
    if not isinstance(new, Mapping):
        raise ConfigError(f"config key '{key}.set': must be a mapping of column: value")
    if drop == bool(new):
        raise ConfigError(f"config key '{key}': give exactly one of 'set' (new values) or 'drop: true'")
    bad = sorted(set(new) - set(SET_COLUMNS))
    if bad:
        raise ConfigError(f"config key '{key}.set': cannot set {bad}; columns: {', '.join(SET_COLUMNS)}")
    if "direction" in new and new["direction"] not in DIRECTIONS:
        raise ConfigError(
            f"config key '{key}.set.direction': {new['direction']!r} is not one of {', '.join(DIRECTIONS)}"
        )
    for year_key in ("start_year", "end_year"):
        value = new.get(year_key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"config key '{key}.set.{year_key}': must be an integer year, got {value!r}")
    return RecodeRule(
        key=key,
        match=tuple(sorted((str(k), str(v)) for k, v in match.items())),
        set=tuple(sorted(new.items())),
        drop=drop,
    )


def parse_scenarios(
    recode: Mapping[str, Any] | None, *, key: str = "inputs.collaborations.recode"
) -> dict[str, list[RecodeRule]]:
    """Validate the ``recode`` config section: scenario name -> rules."""
    if not recode:
        return {}
    if not isinstance(recode, Mapping):
        raise ConfigError(f"config key '{key}': must map scenario names to lists of rules")
    scenarios: dict[str, list[RecodeRule]] = {}
    for name, rules in recode.items():
        if not isinstance(rules, Sequence) or isinstance(rules, str) or not rules:
            raise ConfigError(f"config key '{key}.{name}': a scenario is a non-empty list of rules")
        scenarios[str(name)] = [_rule(r, f"{key}.{name}[{i}]") for i, r in enumerate(rules)]
    return scenarios


def _selected(frame: pd.DataFrame, rule: RecodeRule) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in rule.match:
        mask &= frame[column].astype("string").fillna("").to_numpy(dtype=str) == value
    return mask


def apply_recode(
    collaborations: pd.DataFrame, rules: Sequence[RecodeRule], *, scenario: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The collaborations table under one scenario, and the record of every change.

    Rules apply in order (a later rule sees the result of earlier ones). The record has one
    row per changed cell or dropped row: ``scenario, rule, collab_id, column, old, new``.
    The input frame is not modified.
    """
    out = collaborations.copy()
    records: list[dict[str, Any]] = []
    for rule in rules:
        missing = [c for c, _ in rule.match if c not in out.columns]
        if missing:
            raise ConfigError(
                f"config key '{rule.key}.match': the collaborations table has no column {missing}"
            )
        mask = _selected(out, rule)
        if not mask.any():
            wanted = ", ".join(f"{c} = {v}" for c, v in rule.match)
            raise ConfigError(
                f"config key '{rule.key}': no collaboration matches {wanted} (scenario {scenario!r})"
            )
        ids = out.loc[mask, "collab_id"].astype(str).tolist()
        if rule.drop:
            records += [
                {
                    "scenario": scenario,
                    "rule": rule.key,
                    "collab_id": i,
                    "column": "*",
                    "old": "kept",
                    "new": "dropped",
                }
                for i in ids
            ]
            out = out.loc[~mask].reset_index(drop=True)
            continue
        for column, value in rule.set:
            old = out.loc[mask, column].tolist()
            out.loc[mask, column] = value
            records += [
                {
                    "scenario": scenario,
                    "rule": rule.key,
                    "collab_id": i,
                    "column": column,
                    "old": str(o),
                    "new": str(value),
                }
                for i, o in zip(ids, old, strict=True)
                if str(o) != str(value)
            ]
        starts, ends = out["start_year"], out.get("end_year")
        if ends is not None:
            bad = ends.notna() & (ends < starts)
            if bad.any():
                raise ConfigError(
                    f"config key '{rule.key}': the recoded start year is after the end year for "
                    f"{', '.join(out.loc[bad, 'collab_id'].astype(str))}"
                )
    record = pd.DataFrame(records, columns=["scenario", "rule", "collab_id", "column", "old", "new"])
    return out, record
