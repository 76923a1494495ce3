"""Input checks shared by the convergence estimators (long panel → validated frames)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from zonespill.errors import InputError

SOURCE = "convergence"


def require_columns(data: pd.DataFrame, columns: Sequence[str], *, source: str = SOURCE) -> None:
    """Raise :class:`InputError` naming the first column of ``columns`` missing from ``data``."""
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame", source=source, rows="all")
    for col in columns:
        if col not in data.columns:
            raise InputError("column not found in data", source=source, rows="all", column=col)


def bad_rows(mask: np.ndarray | pd.Series) -> list[int]:
    """1-based row numbers where ``mask`` is true."""
    return (np.flatnonzero(np.asarray(mask, dtype=bool)) + 1).tolist()


def numeric_column(
    data: pd.DataFrame, col: str, *, positive: bool = False, source: str = SOURCE
) -> np.ndarray:
    """The column as float, rejecting non-numeric, missing or non-finite (and, if asked, non-positive)."""
    raw = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(raw)
    if bad.any():
        raise InputError(
            "missing, non-numeric or infinite values", source=source, rows=bad_rows(bad), column=col
        )
    if positive and (raw <= 0).any():
        raise InputError(
            "values must be strictly positive (logs are taken)",
            source=source,
            rows=bad_rows(raw <= 0),
            column=col,
        )
    return raw


def check_unique_keys(data: pd.DataFrame, unit: str, time: str, *, source: str = SOURCE) -> None:
    """Reject duplicated (unit, time) keys."""
    dup = data.duplicated([unit, time], keep=False).to_numpy()
    if dup.any():
        raise InputError(f"duplicated ({unit}, {time}) keys", source=source, rows=bad_rows(dup), column=unit)
    for col in (unit, time):
        miss = data[col].isna().to_numpy()
        if miss.any():
            raise InputError("missing key values", source=source, rows=bad_rows(miss), column=col)


def wide_panel(
    data: pd.DataFrame, *, value: str, unit: str, time: str, positive: bool = False, source: str = SOURCE
) -> pd.DataFrame:
    """Balanced units × periods matrix (units in order of first appearance, periods sorted).

    Raises :class:`InputError` if the panel is unbalanced (a unit lacks a period).
    """
    require_columns(data, [value, unit, time], source=source)
    check_unique_keys(data, unit, time, source=source)
    vals = numeric_column(data, value, positive=positive, source=source)
    frame = pd.DataFrame({"u": data[unit].to_numpy(), "t": data[time].to_numpy(), "v": vals})
    units = pd.unique(frame["u"])
    wide = frame.pivot(index="u", columns="t", values="v").reindex(index=units)
    wide = wide.reindex(columns=sorted(wide.columns))
    holes = wide.isna().to_numpy()
    if holes.any():
        incomplete = pd.Series(holes.any(axis=1), index=wide.index)
        missing_units = [str(u) for u in wide.index[incomplete.to_numpy()]]
        rows = bad_rows(frame["u"].isin(wide.index[incomplete.to_numpy()]).to_numpy())
        raise InputError(
            "unbalanced panel: units " + ", ".join(missing_units[:10]) + " lack some periods",
            source=source,
            rows=rows,
            column=time,
        )
    wide.index.name = unit
    wide.columns.name = time
    return wide
