"""The data contract: canonical tables, their keys, column types and allowed values.

Every canonical table has exactly one key, checked (unique, non-null) whenever a table
is read from a user file and whenever it is written or read back by a pipeline step.
Violations raise :class:`~zonespill.errors.InputError` naming the file, the row(s) and
the column. Row numbers are spreadsheet row numbers: the header is row 1, so the first
data row is row 2 (for files with extra header rows, the offset is added).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from zonespill.errors import InputError

Kind = Literal["string", "int", "float", "category"]

DIRECTIONS = ("forward", "reverse", "two_way", "unknown")
REGION_LEVELS = ("province", "prefecture", "county", "zone")
ZONE_LEVELS = ("national", "provincial", "other")


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


@dataclass(frozen=True)
class TableContract:
    """A canonical table: its key and its typed columns.

    Extra numeric columns are allowed where ``extra_numeric`` is true (panel covariates).
    """

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    extra_numeric: bool = False
    description: str = ""

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


YEAR_MIN, YEAR_MAX = 1900, 2100

REGIONS = TableContract(
    "regions",
    key=("region_id",),
    columns=(
        Column("region_id", "string", description="region code (string; GB codes keep leading structure)"),
        Column("name", "string", nullable=True),
        Column("level", "category", allowed=REGION_LEVELS),
        Column("parent_id", "string", nullable=True, description="region_id of the parent, if any"),
        Column("geometry_wkt", "string", required=False, nullable=True, description="polygon as WKT"),
        Column("lon", "float", required=False, nullable=True, minimum=-180, maximum=180),
        Column("lat", "float", required=False, nullable=True, minimum=-90, maximum=90),
    ),
    description="regions at every level (provinces, prefectures, ...) with optional geometry",
)

PANEL = TableContract(
    "panel",
    key=("region_id", "year"),
    columns=(
        Column("region_id", "string"),
        Column("year", "int", minimum=YEAR_MIN, maximum=YEAR_MAX),
        Column("gdp", "float", nullable=True, minimum=0, description="nominal GDP of the chosen vintage"),
        Column("population", "float", nullable=True, minimum=0, description="year-end resident population"),
        Column(
            "vintage", "string", nullable=True, description="GDP vintage label; growth never crosses a change"
        ),
    ),
    extra_numeric=True,
    description="region-year panel in long format (unbalanced allowed, declared)",
)

ZONES = TableContract(
    "zones",
    key=("zone_id",),
    columns=(
        Column("zone_id", "string"),
        Column("zone_code", "string", required=False, nullable=True),
        Column("name", "string", nullable=True),
        Column("region_id", "string", description="host region"),
        Column("level", "category", allowed=ZONE_LEVELS),
        Column("type", "string", nullable=True),
        Column("approval_year", "int", minimum=YEAR_MIN, maximum=YEAR_MAX),
        Column("area_ha", "float", nullable=True, minimum=0),
    ),
    description="catalogue of development zones",
)

COLLABORATIONS = TableContract(
    "collaborations",
    key=("collab_id",),
    columns=(
        Column("collab_id", "string"),
        Column(
            "source_id",
            "string",
            description="giver: the more developed side (host core for reverse enclaves)",
        ),
        Column("target_id", "string", description="receiver"),
        Column("start_year", "int", minimum=YEAR_MIN, maximum=YEAR_MAX),
        Column("end_year", "int", nullable=True, minimum=YEAR_MIN, maximum=YEAR_MAX),
        Column("programme", "string"),
        Column("direction", "category", allowed=DIRECTIONS),
        Column("level", "string", required=False, nullable=True),
        Column("confidence", "string", required=False, nullable=True),
    ),
    description="cross-regional pairings, co-built parks and enclaves",
)

FLOWS = TableContract(
    "flows",
    key=("origin_id", "destination_id", "year", "kind"),
    columns=(
        Column("origin_id", "string"),
        Column("destination_id", "string"),
        Column("year", "int", minimum=YEAR_MIN, maximum=YEAR_MAX),
        Column("kind", "string"),
        Column("value", "float", minimum=0),
    ),
    description="optional directed flows (investment, patents, technology contracts, ...)",
)

WEIGHTS = TableContract(
    "weights",
    key=("i", "j"),
    columns=(
        Column("i", "string"),
        Column("j", "string", nullable=True),
        Column("w", "float", minimum=0),
    ),
    description="sparse spatial weights edge list",
)

CONTRACTS: dict[str, TableContract] = {
    c.name: c for c in (REGIONS, PANEL, ZONES, COLLABORATIONS, FLOWS, WEIGHTS)
}


def _rows(mask: np.ndarray | pd.Series, row_offset: int) -> list[int]:
    return (np.flatnonzero(np.asarray(mask)) + row_offset).tolist()


def coerce_and_validate(
    frame: pd.DataFrame,
    contract: TableContract,
    *,
    source: str,
    row_offset: int = 2,
    year_range: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Check ``frame`` against ``contract`` and return it with canonical dtypes.

    Parameters
    ----------
    frame
        Table with canonical column names (after the user's column mapping).
    contract
        The canonical table's contract.
    source
        File (or argument) named in error messages.
    row_offset
        Spreadsheet row number of the first data row (2 for a one-line header).
    year_range
        Optional ``(first, last)`` allowed for ``year``-like columns of this table.

    Raises
    ------
    InputError
        On any violation; nothing is modified in place.
    """
    if len(frame) == 0:
        raise InputError(f"the {contract.name} table is empty (no data rows)", source=source, rows="all")
    out = pd.DataFrame(index=frame.index)
    for col in contract.columns:
        if col.name not in frame.columns:
            if col.required:
                raise InputError(
                    f"required column of the {contract.name} table is missing "
                    f"(found: {', '.join(map(str, frame.columns))})",
                    source=source,
                    column=col.name,
                )
            continue
        out[col.name] = _coerce_column(frame[col.name], col, source=source, row_offset=row_offset)
        _check_values(out[col.name], col, source=source, row_offset=row_offset, year_range=year_range)
    if contract.extra_numeric:
        for name in frame.columns:
            if name in out.columns:
                continue
            extra = Column(str(name), "float", nullable=True)
            out[str(name)] = _coerce_column(frame[name], extra, source=source, row_offset=row_offset)
    check_key(out, contract, source=source, row_offset=row_offset)
    return out.reset_index(drop=True)


def _coerce_column(series: pd.Series, col: Column, *, source: str, row_offset: int) -> pd.Series:
    raw = series
    if col.kind in ("string", "category"):
        text = raw.astype("string").str.strip()
        text = text.mask(text == "", pd.NA)
        return text
    as_text = raw.astype("string").str.strip()
    blank = as_text.isna() | (as_text == "")
    numeric = pd.to_numeric(as_text.mask(blank, None), errors="coerce")
    not_number = numeric.isna() & ~blank
    if not_number.any():
        examples = ", ".join(repr(v) for v in as_text[not_number].head(3).tolist())
        raise InputError(
            f"value is not a number ({examples})",
            source=source,
            rows=_rows(not_number, row_offset),
            column=col.name,
        )
    values = numeric.astype("float64")
    infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
    if infinite.any():
        raise InputError(
            "value is infinite", source=source, rows=_rows(infinite, row_offset), column=col.name
        )
    if col.kind == "int":
        huge = (values.abs() > 2**53).fillna(False)
        if huge.any():
            raise InputError(
                "whole number out of range", source=source, rows=_rows(huge, row_offset), column=col.name
            )
        frac = values.notna() & (values != np.round(values))
        if frac.any():
            raise InputError(
                "value must be a whole number", source=source, rows=_rows(frac, row_offset), column=col.name
            )
        return values.astype("Int64")
    return values.astype("Float64")


def _check_values(
    series: pd.Series,
    col: Column,
    *,
    source: str,
    row_offset: int,
    year_range: tuple[int, int] | None,
) -> None:
    missing = series.isna()
    if not col.nullable and missing.any():
        raise InputError(
            "missing value in a required column",
            source=source,
            rows=_rows(missing, row_offset),
            column=col.name,
        )
    present = series[~missing]
    if col.allowed is not None:
        bad = ~series.isin(col.allowed) & ~missing
        if bad.any():
            examples = ", ".join(sorted({repr(v) for v in series[bad].head(5)}))
            raise InputError(
                f"value {examples} not allowed (allowed: {', '.join(col.allowed)})",
                source=source,
                rows=_rows(bad, row_offset),
                column=col.name,
            )
    if col.kind in ("int", "float") and len(present):
        lo, hi = col.minimum, col.maximum
        if year_range is not None and col.name in ("year", "start_year", "approval_year"):
            lo, hi = year_range
        values = series.astype("float64")
        if lo is not None:
            bad = (values < lo).fillna(False)
            if bad.any():
                raise InputError(
                    f"value below the minimum {lo:g}",
                    source=source,
                    rows=_rows(bad, row_offset),
                    column=col.name,
                )
        if hi is not None:
            bad = (values > hi).fillna(False)
            if bad.any():
                raise InputError(
                    f"value above the maximum {hi:g}",
                    source=source,
                    rows=_rows(bad, row_offset),
                    column=col.name,
                )


def check_key(frame: pd.DataFrame, contract: TableContract, *, source: str, row_offset: int = 2) -> None:
    """Raise unless ``contract.key`` is present, non-null and unique in ``frame``."""
    for name in contract.key:
        if name not in frame.columns:
            raise InputError(
                f"key column of the {contract.name} table is missing", source=source, column=name
            )
        null = frame[name].isna()
        if null.any():
            raise InputError(
                "missing value in a key column", source=source, rows=_rows(null, row_offset), column=name
            )
    dup = frame.duplicated(subset=list(contract.key), keep=False)
    if dup.any():
        first = frame.loc[dup, list(contract.key)].iloc[0].tolist()
        raise InputError(
            f"duplicate key {tuple(first)} (the key {', '.join(contract.key)} must be unique)",
            source=source,
            rows=_rows(dup, row_offset),
            column=",".join(contract.key),
        )


def check_references(
    values: pd.Series,
    known: Sequence[str] | pd.Index | pd.Series,
    *,
    source: str,
    column: str,
    what: str,
    row_offset: int = 2,
) -> None:
    """Referential integrity: every non-missing value must be a known id."""
    known_set = set(map(str, known))
    bad = values.notna() & ~values.astype("string").isin(known_set)
    if bad.any():
        codes = sorted(set(values[bad].astype(str)))
        raise InputError(
            f"unknown {what} code(s) {', '.join(codes[:10])}{' …' if len(codes) > 10 else ''} "
            "(not in the regions table)",
            source=source,
            rows=_rows(bad, row_offset),
            column=column,
        )


@dataclass(frozen=True)
class DropRecord:
    """Rows removed by an explicit, configured rule (never silently)."""

    table: str
    source: str
    rows: tuple[int, ...]
    reason: str
    detail: tuple[str, ...] = field(default=())


def contract_markdown() -> str:
    """Render every contract as Markdown (used to generate docs/data_contract.md)."""
    lines = ["# Data contract (generated from `zonespill.contract`)", ""]
    for contract in CONTRACTS.values():
        lines += [f"## `{contract.name}` — key ({', '.join(contract.key)})", "", contract.description, ""]
        lines += [
            "| column | type | required | missing allowed | allowed values / range | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for c in contract.columns:
            rng = ", ".join(c.allowed) if c.allowed else ""
            if c.minimum is not None or c.maximum is not None:
                lo = "" if c.minimum is None else f"{c.minimum:g}"
                hi = "" if c.maximum is None else f"{c.maximum:g}"
                rng = f"[{lo}, {hi}]"
            lines.append(
                f"| {c.name} | {c.kind} | {'yes' if c.required else 'no'} | {'yes' if c.nullable else 'no'} "
                f"| {rng} | {c.description} |"
            )
        if contract.extra_numeric:
            lines.append("")
            lines.append("Further columns are allowed and must be numeric (covariates).")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regenerates docs/data_contract.md
    import sys

    sys.stdout.write(contract_markdown() + "\n")
