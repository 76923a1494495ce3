"""Sample filters of a declared specification (``sample: {years, units, exclude_units, groups}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from zonespill.errors import ConfigError


def apply_sample(
    frame: pd.DataFrame,
    sample: Mapping[str, Any] | None,
    *,
    key: str,
    unit: str = "region_id",
    time: str = "year",
) -> tuple[pd.DataFrame, list[str]]:
    """Rows of ``frame`` inside the declared sample, and one note per filter applied.

    Unknown unit ids or group columns raise :class:`ConfigError` naming ``key`` (never an empty
    sample by accident).
    """
    if not sample:
        return frame, []
    out = frame
    notes: list[str] = []
    years = sample.get("years")
    if years:
        lo, hi = int(years[0]), int(years[1])
        if lo > hi:
            raise ConfigError(
                f"first year {lo} is after last year {hi}", source="config", column=f"{key}.years"
            )
        out = out[(out[time] >= lo) & (out[time] <= hi)]
        notes.append(f"years {lo}–{hi}")
    ids = set(frame[unit].astype(str))
    for k, keep in (("units", True), ("exclude_units", False)):
        listed = [str(u) for u in sample.get(k) or ()]
        if not listed:
            continue
        unknown = sorted(set(listed) - ids)
        if unknown:
            raise ConfigError(
                f"unit id(s) {unknown[:10]} are not in the panel", source="config", column=f"{key}.{k}"
            )
        mask = out[unit].astype(str).isin(listed)
        out = out[mask if keep else ~mask]
        notes.append(f"{'only' if keep else 'excluding'} unit(s) {', '.join(listed[:10])}")
    for col, values in (sample.get("groups") or {}).items():
        if col not in frame.columns:
            raise ConfigError(
                f"group column {col!r} is not in the panel (columns: {sorted(map(str, frame.columns))[:20]})",
                source="config",
                column=f"{key}.groups.{col}",
            )
        out = out[out[col].isin(list(values))]
        notes.append(f"{col} in {list(values)}")
    if out.empty:
        raise ConfigError("the declared sample has no rows", source="config", column=key)
    return out.copy(), notes


def require_columns(frame: pd.DataFrame, columns: list[str], *, key: str) -> None:
    """Every named column exists in the panel (else a ConfigError naming the key and the column)."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ConfigError(
            f"column(s) {absent} are not in region_year (available: {sorted(map(str, frame.columns))})",
            source="config",
            column=key,
        )
