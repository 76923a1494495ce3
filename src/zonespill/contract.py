"""The data contract: canonical tables, their keys, column types and allowed values.

Every canonical table has exactly one key, checked (unique, non-null) whenever a table
is read from a user file and whenever it is written or read back by a pipeline step.
Violations raise :class:`~zonespill.errors.InputError` naming the file, the row(s) and
the column. Row numbers are spreadsheet row numbers: the header is row 1, so the first
data row is row 2 (for files with extra header rows, the offset is added).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    positive: bool = False  # strictly > 0 (levels that are logged downstream)


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
        Column(
            "gdp",
            "float",
            nullable=True,
            minimum=0,
            positive=True,
            description="nominal GDP of the chosen vintage (> 0: it is logged)",
        ),
        Column(
            "population",
            "float",
            nullable=True,
            minimum=0,
            positive=True,
            description="year-end resident population (> 0: GDP per capita is logged)",
        ),
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


def reject_rows(
    mask: np.ndarray | pd.Series, reason: str, *, source: str, column: str | None = None, row_offset: int = 1
) -> None:
    """Raise :class:`InputError` naming every row where ``mask`` is true (row number = position +
    ``row_offset``, the file's numbering); nothing when no row is."""
    if mask.any():
        raise InputError(reason, source=source, rows=_rows(mask, row_offset), column=column)


def coerce_and_validate(
    frame: pd.DataFrame,
    contract: TableContract,
    *,
    source: str,
    row_offset: int = 2,
    year_range: tuple[int, int] | None = None,
    source_columns: Mapping[str, str] | None = None,
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
    source_columns
        Canonical name → the column's name in the user's file, so messages name the
        column the user sees (``gdp_vB_nbs2023``, not ``gdp``). Identity where absent.

    Raises
    ------
    InputError
        On any violation; nothing is modified in place.
    """
    if len(frame) == 0:
        raise InputError(f"the {contract.name} table is empty (no data rows)", source=source, rows="all")
    names = dict(source_columns or {})
    columns: dict[str, pd.Series] = {}
    for col in contract.columns:
        if col.name not in frame.columns:
            if col.required:
                raise InputError(
                    f"required column of the {contract.name} table is missing "
                    f"(found: {', '.join(map(str, frame.columns))})",
                    source=source,
                    column=names.get(col.name, col.name),
                )
            continue
        shown = replace(col, name=names.get(col.name, col.name))
        columns[col.name] = _coerce_column(frame[col.name], shown, source=source, row_offset=row_offset)
        _check_values(columns[col.name], shown, source=source, row_offset=row_offset, year_range=year_range)
    if contract.extra_numeric:
        for name in frame.columns:
            if name in columns:
                continue
            extra = Column(names.get(str(name), str(name)), "float", nullable=True)
            columns[str(name)] = _coerce_column(frame[name], extra, source=source, row_offset=row_offset)
    # One concat instead of column-by-column inserts (no fragmented-frame PerformanceWarning).
    out = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=frame.index)
    check_key(out, contract, source=source, row_offset=row_offset, source_columns=names)
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
    reject_rows(infinite, "value is infinite", source=source, row_offset=row_offset, column=col.name)
    if col.kind == "int":
        huge = (values.abs() > 2**53).fillna(False)
        reject_rows(huge, "whole number out of range", source=source, row_offset=row_offset, column=col.name)
        frac = values.notna() & (values != np.round(values))
        reject_rows(
            frac, "value must be a whole number", source=source, row_offset=row_offset, column=col.name
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
    if not col.nullable:
        reject_rows(
            missing,
            "missing value in a required column",
            source=source,
            row_offset=row_offset,
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
        if col.positive:
            reject_rows(
                (values <= 0).fillna(False),
                "value must be > 0 (the level is logged; 0 or a negative value has no logarithm)",
                source=source,
                row_offset=row_offset,
                column=col.name,
            )
        if lo is not None:
            reject_rows(
                (values < lo).fillna(False),
                f"value below the minimum {lo:g}",
                source=source,
                row_offset=row_offset,
                column=col.name,
            )
        if hi is not None:
            reject_rows(
                (values > hi).fillna(False),
                f"value above the maximum {hi:g}",
                source=source,
                row_offset=row_offset,
                column=col.name,
            )


def check_key(
    frame: pd.DataFrame,
    contract: TableContract,
    *,
    source: str,
    row_offset: int = 2,
    source_columns: Mapping[str, str] | None = None,
) -> None:
    """Raise unless ``contract.key`` is present, non-null and unique in ``frame``.

    ``source_columns`` (canonical → file column) makes messages name the user's columns.
    """
    names = dict(source_columns or {})
    for name in contract.key:
        if name not in frame.columns:
            raise InputError(
                f"key column of the {contract.name} table is missing",
                source=source,
                column=names.get(name, name),
            )
        reject_rows(
            frame[name].isna(),
            "missing value in a key column",
            source=source,
            row_offset=row_offset,
            column=names.get(name, name),
        )
    dup = frame.duplicated(subset=list(contract.key), keep=False)
    if dup.any():
        first = [
            v.item() if isinstance(v, np.generic) else v for v in frame.loc[dup, list(contract.key)].iloc[0]
        ]
        shown = [names.get(k, k) for k in contract.key]
        raise InputError(
            f"duplicate key {tuple(first)} (the key {', '.join(shown)} must be unique)",
            source=source,
            rows=_rows(dup, row_offset),
            column=",".join(shown),
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


def _col(names: Mapping[str, str], name: str) -> str:
    return names.get(name, name)


def check_collaboration_content(
    collabs: pd.DataFrame,
    *,
    source: str,
    rows: Sequence[int] | np.ndarray,
    source_columns: Mapping[str, str] | None = None,
) -> list[dict[str, object]]:
    """Content checks of a collaborations table (in file order, ``rows`` = spreadsheet rows).

    * Two rows with the same endpoints, programme and start year are the same tie entered
      twice (a generated ``collab_id`` cannot catch it): rejected, naming both rows.
    * The same pair within one programme with contradictory directions (different
      direction, or the same one-way direction with giver and receiver swapped) in
      overlapping years: rejected, naming both rows. ``unknown`` contradicts nothing.
    * The same contradiction across programmes is legitimate (different schemes can
      describe the same pair differently); it is returned as records to be logged.
    """
    names = dict(source_columns or {})
    row_no = np.asarray(rows, dtype=np.int64)
    key = ["source_id", "target_id", "programme", "start_year"]
    dup = collabs.duplicated(subset=key, keep=False).to_numpy()
    if dup.any():
        first = collabs.loc[dup, key].iloc[0]
        same = (collabs[key] == first).all(axis=1).to_numpy()
        shown = ", ".join(_col(names, k) for k in key)
        raise InputError(
            f"duplicate collaboration: the same {shown} "
            f"({first['source_id']} → {first['target_id']}, {first['programme']}, {first['start_year']}) "
            "appears more than once; a tie entered twice would be counted twice",
            source=source,
            rows=row_no[same].tolist(),
            column=shown,
        )
    a = collabs["source_id"].astype(str).to_numpy()
    b = collabs["target_id"].astype(str).to_numpy()
    direction = collabs["direction"].astype(str).to_numpy()
    start = collabs["start_year"].astype("float64").to_numpy()
    end = collabs["end_year"].astype("float64").fillna(np.inf).to_numpy()
    programme = collabs["programme"].astype(str).to_numpy()
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    # Oriented signature: one-way directions keep who gives; symmetric ones do not.
    oriented = np.isin(direction, ("forward", "reverse"))
    signature = np.where(oriented, direction + ":" + a + ">" + b, direction)
    records: list[dict[str, object]] = []
    frame = pd.DataFrame({"lo": lo, "hi": hi, "pos": np.arange(len(collabs))})
    for _, group in frame.groupby(["lo", "hi"], sort=True):
        if len(group) < 2:
            continue
        pos = group["pos"].to_numpy()
        for x in range(len(pos)):
            for y in range(x + 1, len(pos)):
                i, j = pos[x], pos[y]
                if "unknown" in (direction[i], direction[j]) or signature[i] == signature[j]:
                    continue
                if max(start[i], start[j]) > min(end[i], end[j]):
                    continue  # no common year: a tie may change nature over time
                what = (
                    f"{a[i]} → {b[i]} {direction[i]} (row {row_no[i]}) vs "
                    f"{a[j]} → {b[j]} {direction[j]} (row {row_no[j]}) in overlapping years"
                )
                if programme[i] == programme[j]:
                    raise InputError(
                        f"contradictory directions for the same pair within programme "
                        f"{programme[i]!r}: {what}",
                        source=source,
                        rows=[int(row_no[i]), int(row_no[j])],
                        column=_col(names, "direction"),
                    )
                records.append(
                    {
                        "check": "direction_across_programmes",
                        "source": source,
                        "rows": [int(row_no[i]), int(row_no[j])],
                        "column": _col(names, "direction"),
                        "message": f"the same pair has different directions in programmes "
                        f"{programme[i]!r} and {programme[j]!r}: {what} (kept: both are legitimate)",
                    }
                )
    return records


@dataclass(frozen=True)
class Plausibility:
    """Bounds of the plausibility checks on the panel (warnings, never errors).

    ``population_unit`` is how many persons one unit of the population column holds
    (10,000 for the bundled data); population in persons must lie in
    ``[min_population, max_population]`` and the annual growth of GDP per capita (ratio
    ``y_t / y_{t-1} - 1``) in ``[min_growth, max_growth]``.
    """

    population_unit: float = 10_000.0
    min_population: float = 1_000.0
    max_population: float = 2.0e9
    min_growth: float = -0.5
    max_growth: float = 1.0

    @classmethod
    def from_options(cls, options: Mapping[str, object] | None) -> Plausibility:
        opts = dict(options or {})
        unknown = sorted(set(opts) - set(cls.__dataclass_fields__))
        if unknown:
            from zonespill.errors import ConfigError

            raise ConfigError(
                f"unknown plausibility bound(s) {unknown}",
                source="config",
                column=f"plausibility.{unknown[0]}",
            )
        return cls(**{k: float(v) for k, v in opts.items()})  # type: ignore[arg-type]


def plausibility_warnings(
    panel: pd.DataFrame,
    bounds: Plausibility,
    *,
    source: str,
    rows: Sequence[int] | np.ndarray,
    source_columns: Mapping[str, str] | None = None,
) -> list[dict[str, object]]:
    """Implausible units or values in a validated panel (file order; ``rows`` = spreadsheet rows)."""
    names = dict(source_columns or {})
    row_no = np.asarray(rows, dtype=np.int64)
    out: list[dict[str, object]] = []

    def record(check: str, mask: np.ndarray, column: str, message: str) -> None:
        if mask.any():
            out.append(
                {
                    "check": check,
                    "source": source,
                    "rows": row_no[mask].tolist(),
                    "column": column,
                    "message": message,
                }
            )

    if "population" in panel:
        persons = panel["population"].astype("float64").to_numpy(na_value=np.nan) * bounds.population_unit
        with np.errstate(invalid="ignore"):
            low = persons < bounds.min_population
            high = persons > bounds.max_population
        unit = f"{bounds.population_unit:g} persons per unit"
        record(
            "population_units",
            high,
            _col(names, "population"),
            f"population above {bounds.max_population:g} persons at the declared unit ({unit}): "
            "is the column in persons rather than the declared unit? (set plausibility.population_unit)",
        )
        record(
            "population_units",
            low,
            _col(names, "population"),
            f"population below {bounds.min_population:g} persons at the declared unit ({unit})",
        )
    if {"gdp", "population"} <= set(panel.columns):
        order = np.lexsort(
            (panel["year"].astype("int64").to_numpy(), panel["region_id"].astype(str).to_numpy())
        )
        d = panel.iloc[order]
        gdp_pc = d["gdp"].astype("float64").to_numpy(na_value=np.nan) / d["population"].astype(
            "float64"
        ).to_numpy(na_value=np.nan)
        region = d["region_id"].astype(str).to_numpy()
        year = d["year"].astype("int64").to_numpy()
        consecutive = np.zeros(len(d), dtype=bool)
        consecutive[1:] = (region[1:] == region[:-1]) & (year[1:] == year[:-1] + 1)
        growth = np.full(len(d), np.nan)
        growth[1:] = gdp_pc[1:] / gdp_pc[:-1] - 1.0
        growth[~consecutive] = np.nan
        with np.errstate(invalid="ignore"):
            bad_sorted = (growth < bounds.min_growth) | (growth > bounds.max_growth)
        bad = np.zeros(len(d), dtype=bool)
        bad[order] = bad_sorted
        if bad.any():
            examples = ", ".join(f"{g:+.3g}" for g in growth[bad_sorted][:3])
            record(
                "per_capita_growth",
                bad,
                _col(names, "gdp"),
                f"annual growth of GDP per capita outside [{bounds.min_growth:g}, {bounds.max_growth:g}] "
                f"(e.g. {examples}): a unit change or a typo?",
            )
    return out


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
                rng = f"{'(' if c.positive else '['}{lo}, {hi}]"
            lines.append(
                f"| {c.name} | {c.kind} | {'yes' if c.required else 'no'} | {'yes' if c.nullable else 'no'} "
                f"| {rng} | {c.description} |"
            )
        if contract.extra_numeric:
            lines.append("")
            lines.append("Further columns are allowed and must be numeric (covariates).")
        lines.append("")
    lines += [
        "## Content rules (beyond types and keys)",
        "",
        "- `panel`: GDP (every vintage column) and population must be > 0 — they are logged.",
        "- `collaborations`: two rows with the same endpoints, programme and start year are one tie",
        "  entered twice and are rejected (both rows named); the same pair within one programme with",
        "  contradictory directions in overlapping years is rejected (both rows named); across",
        "  programmes it is recorded in `canonical/collaborations_warnings.json`. When the regions",
        "  table has provinces, every endpoint must reach one through `parent_id`.",
        "- Plausibility (warnings, never errors; bounds in the `plausibility` config section):",
        "  population units and annual growth of GDP per capita, written to",
        "  `canonical/panel_warnings.json` and the step log.",
        "- Excel formula cells without a saved value are rejected (they would read as empty);",
        "  Stata value-labelled variables are read as codes unless `value_labels: labels`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regenerates docs/data_contract.md
    import sys

    sys.stdout.write(contract_markdown() + "\n")
