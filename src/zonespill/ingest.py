"""Read user files (CSV, Parquet, Excel, Stata) into validated canonical tables.

Every input goes through the same path, the bundled China data included:

1. :func:`read_source` reads the file as text cells (CSV is decoded strictly with the
   configured encoding, so a GBK file read as UTF-8 is rejected with the row of the first
   bad byte rather than turned into mojibake);
2. the user's column mapping renames source columns to canonical names and optional
   value maps recode categories (e.g. ``国务院 → national``);
3. :func:`zonespill.contract.coerce_and_validate` types and checks every column and the key;
4. table-specific rules check referential integrity and logic (self-pairs, start after end).

Errors name the file, the spreadsheet row(s) and the column. Nothing is written unless
the whole table is valid.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonespill import contract as C
from zonespill.errors import ConfigError, InputError

FORMATS = ("csv", "parquet", "excel", "dta")


@dataclass(frozen=True)
class SourceSpec:
    """Where a table comes from and how its columns map to the canonical ones.

    Attributes
    ----------
    path
        File to read.
    format
        ``csv``, ``parquet``, ``excel`` or ``dta``; inferred from the extension if empty.
    encoding
        Text encoding of CSV files (``utf-8`` accepts a BOM). Other formats ignore it.
    sheet
        Excel sheet name or 0-based index.
    header_row
        1-based row holding the column names (Excel files with a title or merged header
        rows above the header need ``header_row: 2`` or more).
    columns
        Canonical name → source column name. Unmapped canonical names are looked up as is.
    values
        Canonical column → {source value → canonical value} recodings.
    constants
        Canonical column → constant value for every row (e.g. ``level: prefecture``).
    compose
        Canonical column → list of source columns joined with ``:`` (e.g. a zone id made
        of its catalogue code and its sequence number when the code alone is not unique).
    value_labels
        Stata files: ``codes`` (default) keeps the stored codes of labelled variables,
        ``labels`` replaces them by their value labels.
    """

    path: Path
    format: str = ""
    encoding: str = "utf-8"
    sheet: str | int = 0
    header_row: int = 1
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    compose: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    value_labels: str = "codes"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], *, key: str, base_dir: Path | None = None) -> SourceSpec:
        if not isinstance(section, Mapping) or "path" not in section:
            raise ConfigError("input section needs a 'path'", source="config", column=f"{key}.path")
        path = Path(str(section["path"]))
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        fmt = str(section.get("format") or "")
        if fmt and fmt not in FORMATS:
            raise ConfigError(
                f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})",
                source="config",
                column=f"{key}.format",
            )
        header_row = section.get("header_row", 1)
        if not isinstance(header_row, int) or isinstance(header_row, bool) or not 1 <= header_row <= 10_000:
            raise ConfigError(
                "header_row must be an integer from 1 to 10000", source="config", column=f"{key}.header_row"
            )
        columns = section.get("columns") or {}
        if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()):
            raise ConfigError(
                "columns must map canonical names to source column names",
                source="config",
                column=f"{key}.columns",
            )
        constants = section.get("constants") or {}
        compose = section.get("compose") or {}
        for name in constants:
            if name in columns or name in compose:
                raise ConfigError(
                    f"'{name}' is both a constant and mapped to a file column "
                    f"({'columns' if name in columns else 'compose'}.{name}); keep one",
                    source="config",
                    column=f"{key}.constants.{name}",
                )
        value_labels = str(section.get("value_labels", "codes"))
        if value_labels not in ("codes", "labels"):
            raise ConfigError("must be 'codes' or 'labels'", source="config", column=f"{key}.value_labels")
        return cls(
            value_labels=value_labels,
            path=path,
            format=fmt,
            encoding=str(section.get("encoding", "utf-8")),
            sheet=section.get("sheet", 0),
            header_row=header_row,
            columns=dict(columns),
            values={
                k: {str(a): str(b) for a, b in v.items()} for k, v in (section.get("values") or {}).items()
            },
            constants={k: str(v) for k, v in (section.get("constants") or {}).items()},
            compose={k: tuple(str(c) for c in v) for k, v in (section.get("compose") or {}).items()},
        )

    @property
    def resolved_format(self) -> str:
        if self.format:
            return self.format
        suffix = self.path.suffix.lower()
        return {
            ".csv": "csv",
            ".txt": "csv",
            ".tsv": "csv",
            ".parquet": "parquet",
            ".pq": "parquet",
            ".xlsx": "excel",
            ".xlsm": "excel",
            ".xls": "excel",
            ".dta": "dta",
        }.get(suffix, "csv")

    @property
    def first_data_row(self) -> int:
        return self.header_row + 1


# --------------------------------------------------------------------------- reading
def read_source(spec: SourceSpec) -> pd.DataFrame:
    """Read a file into a DataFrame of text cells (missing = ``<NA>``)."""
    src = str(spec.path)
    if not spec.path.exists():
        raise InputError("file not found", source=src)
    if spec.path.is_dir():
        raise InputError("is a directory, not a file: give the path of the table file itself", source=src)
    if spec.path.stat().st_size == 0:
        raise InputError("file is empty", source=src, rows="all")
    fmt = spec.resolved_format
    if fmt == "csv":
        frame = _read_csv(spec)
    elif fmt == "parquet":
        try:
            frame = pd.read_parquet(spec.path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(
                f"not a readable Parquet file ({type(exc).__name__}: {exc})", source=src
            ) from exc
    elif fmt == "excel":
        frame = _read_excel(spec)
    elif fmt == "dta":
        frame = _read_stata(spec)
    else:  # pragma: no cover - guarded by SourceSpec
        raise InputError(f"unknown format {fmt}", source=src)
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_header(frame, spec)
    if len(frame) == 0:
        raise InputError("file has a header but no data rows", source=src, rows="all")
    return frame


def _read_csv(spec: SourceSpec) -> pd.DataFrame:
    src = str(spec.path)
    raw = spec.path.read_bytes()
    encoding = "utf-8-sig" if spec.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else spec.encoding
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"cannot decode the file as {spec.encoding} (byte {exc.start}); set the input's 'encoding' "
            "(e.g. gbk) or convert the file to UTF-8",
            source=src,
            rows=[line],
            column="(encoding)",
        ) from exc
    except LookupError as exc:
        raise ConfigError(f"unknown encoding {spec.encoding!r}", source="config", column="encoding") from exc
    if not text.strip():
        raise InputError("file is empty", source=src, rows="all")
    import csv

    header_lines = text.splitlines()[spec.header_row - 1 : spec.header_row]
    if header_lines:
        names = [h.strip() for h in next(csv.reader(header_lines))]
        seen: set[str] = set()
        for name in names:
            if name in seen and name:
                raise InputError(
                    "duplicate column name in the header", source=src, rows=[spec.header_row], column=name
                )
            seen.add(name)
    separator = _other_separator(header_lines[0] if header_lines else "")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skiprows=spec.header_row - 1,
            sep=None if spec.path.suffix.lower() == ".tsv" else ",",
            engine="python" if spec.path.suffix.lower() == ".tsv" else "c",
        )
    except pd.errors.ParserError as exc:
        hint = (
            f"; the header is separated by {separator}: zonespill reads comma-separated files"
            if separator
            else ""
        )
        raise InputError(f"malformed CSV ({exc}){hint}", source=src) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError("file has no header", source=src, rows="all") from exc
    if separator and frame.shape[1] == 1 and spec.path.suffix.lower() != ".tsv":
        raise InputError(
            f"the file uses {separator} as separator, not commas: save it as comma-separated CSV "
            "(or as .tsv for tab-separated files)",
            source=src,
            rows=[spec.header_row],
            column="(separator)",
        )
    return frame


def _other_separator(header: str) -> str:
    """Name of the separator of a header line that holds no comma but semicolons or tabs."""
    if "," in header:
        return ""
    if ";" in header:
        return "semicolons (';')"
    if "\t" in header:
        return "tabs"
    return ""


def _read_excel(spec: SourceSpec) -> pd.DataFrame:
    src = str(spec.path)
    try:
        frame = pd.read_excel(spec.path, sheet_name=spec.sheet, header=spec.header_row - 1, dtype=object)
    except ValueError as exc:
        raise InputError(f"cannot read sheet {spec.sheet!r} ({exc})", source=src) from exc
    except Exception as exc:
        raise InputError(f"not a readable Excel file ({type(exc).__name__}: {exc})", source=src) from exc
    if spec.path.suffix.lower() in (".xlsx", ".xlsm"):
        _check_formula_cells(spec)
    return frame


def _check_formula_cells(spec: SourceSpec) -> None:
    """Reject formula cells saved without a computed value (read as empty otherwise).

    Files written by scripts (openpyxl, pandas) or never opened in a spreadsheet program
    store the formula but no cached result; reading them gives blank cells, silently.
    """
    import openpyxl

    src = str(spec.path)
    formulas = openpyxl.load_workbook(spec.path, read_only=True, data_only=False)
    values = openpyxl.load_workbook(spec.path, read_only=True, data_only=True)
    try:
        name = spec.sheet if isinstance(spec.sheet, str) else formulas.sheetnames[int(spec.sheet)]
        uncached: list[str] = []
        rows: list[int] = []
        for frow, vrow in zip(formulas[name].iter_rows(), values[name].iter_rows(), strict=False):
            for fcell, vcell in zip(frow, vrow, strict=False):
                if fcell.data_type == "f" and vcell.value is None:
                    uncached.append(f"{fcell.column_letter}{fcell.row}")
                    rows.append(int(fcell.row))
    finally:
        formulas.close()
        values.close()
    if uncached:
        more = f" … (+{len(uncached) - 10} more)" if len(uncached) > 10 else ""
        raise InputError(
            f"formula cell(s) {', '.join(uncached[:10])}{more} have no saved value (they would be read as "
            "empty); open the file in a spreadsheet program and save it, or paste the values",
            source=src,
            rows=sorted(set(rows)),
            column="(formula)",
        )


def _read_stata(spec: SourceSpec) -> pd.DataFrame:
    """Read a .dta file; labelled variables keep their codes unless ``value_labels: labels``."""
    import logging

    src = str(spec.path)
    labels = spec.value_labels == "labels"
    try:
        with pd.io.stata.StataReader(spec.path) as reader:
            has_labels = bool(reader.value_labels())
        converted = pd.read_stata(spec.path, convert_categoricals=True) if has_labels or labels else None
        frame = (
            converted
            if labels and converted is not None
            else pd.read_stata(spec.path, convert_categoricals=False)
        )
    except Exception as exc:
        raise InputError(f"not a readable Stata file ({type(exc).__name__}: {exc})", source=src) from exc
    value_labelled = (
        [str(c) for c in converted.columns if isinstance(converted[c].dtype, pd.CategoricalDtype)]
        if converted is not None
        else []
    )
    if value_labelled:
        how = (
            "their value labels (value_labels: labels)"
            if labels
            else "their numeric codes (set value_labels: labels to use the labels)"
        )
        logging.getLogger("zonespill").info(
            "%s: variable(s) %s have value labels; read as %s", src, ", ".join(value_labelled), how
        )
    return frame


def _check_header(frame: pd.DataFrame, spec: SourceSpec) -> None:
    src = str(spec.path)
    unnamed = [c for c in frame.columns if c == "" or c.startswith("Unnamed:")]
    if unnamed:
        raise InputError(
            f"header row {spec.header_row} has {len(unnamed)} empty cell(s) — merged or multi-row header? "
            "set 'header_row' to the row that holds one name per column",
            source=src,
            rows=[spec.header_row],
            column=unnamed[0],
        )
    dups = pd.Index(frame.columns)[pd.Index(frame.columns).duplicated()].tolist()
    if dups:
        raise InputError(
            "duplicate column name in the header", source=src, rows=[spec.header_row], column=dups[0]
        )


def map_columns(
    frame: pd.DataFrame, spec: SourceSpec, contract: C.TableContract, *, extra: Sequence[str] = ()
) -> pd.DataFrame:
    """Rename source columns to canonical names and apply value maps and constants."""
    src = str(spec.path)
    unknown = set(spec.columns) - set(contract.column_names) - set(extra)
    if unknown and not contract.extra_numeric:
        raise ConfigError(
            f"column mapping names unknown canonical column(s) {sorted(unknown)} for table {contract.name}",
            source="config",
            column=f"{contract.name}.columns",
        )
    out = pd.DataFrame(index=frame.index)
    wanted = list(contract.column_names) + [c for c in spec.columns if c not in contract.column_names]
    wanted += [c for c in spec.compose if c not in wanted]
    wanted += [c for c in extra if c not in wanted]
    for canon in wanted:
        if canon in spec.constants:
            if canon in frame.columns and canon not in spec.columns.values():
                section = "weights.file" if contract.name == "weights" else f"inputs.{contract.name}"
                raise ConfigError(
                    f"constant '{canon}' would silently replace the file's column '{canon}' "
                    f"({src}); drop the constant or map the column",
                    source="config",
                    column=f"{section}.constants.{canon}",
                )
            out[canon] = spec.constants[canon]
            continue
        if canon in spec.compose:
            parts = []
            for part in spec.compose[canon]:
                if part not in frame.columns:
                    raise InputError(
                        f"column not found (composing canonical '{canon}'); the file has: "
                        f"{', '.join(frame.columns)}",
                        source=src,
                        column=part,
                    )
                parts.append(frame[part].astype("string").str.strip())
            joined = parts[0]
            for extra_part in parts[1:]:
                joined = joined + ":" + extra_part
            out[canon] = joined
            continue
        source_col = spec.columns.get(canon, canon)
        if source_col not in frame.columns:
            required = canon in contract.column_names and contract.column(canon).required
            if required or canon in spec.columns or canon in extra:
                mapped = f" (mapped from canonical '{canon}')" if source_col != canon else ""
                raise InputError(
                    f"column not found{mapped}; the file has: {', '.join(frame.columns)}",
                    source=src,
                    column=source_col,
                )
            continue
        series = frame[source_col]
        if canon in spec.values:
            mapping = spec.values[canon]
            text = series.astype("string").str.strip()
            unmapped = text.notna() & ~text.isin(list(mapping))
            if unmapped.any():
                vals = sorted(set(text[unmapped].astype(str)))[:5]
                raise InputError(
                    f"value(s) {vals} have no entry in the configured value map",
                    source=src,
                    rows=(np.flatnonzero(unmapped.to_numpy()) + spec.first_data_row).tolist(),
                    column=source_col,
                )
            series = text.map(mapping)
        out[canon] = series
    return out


def source_names(spec: SourceSpec) -> dict[str, str]:
    """Canonical column → its name in the user's file (for messages)."""
    names = {k: v for k, v in spec.columns.items()}
    names.update({k: "+".join(v) for k, v in spec.compose.items()})
    return names


# --------------------------------------------------------------------------- tables
def ingest_regions(
    spec: SourceSpec,
    *,
    parent_code_length: int | None = None,
    derive_parents: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read the regions table.

    ``parent_code_length`` truncates ``parent_id`` codes (``110000 → 11``);
    ``derive_parents`` (keys ``level``, ``name_column``) adds one row per distinct
    parent id, named from a source column, whose geometry is the union of its children.
    """
    frame = read_source(spec)
    mapped = map_columns(frame, spec, C.REGIONS)
    if parent_code_length is not None and "parent_id" in mapped:
        mapped["parent_id"] = mapped["parent_id"].astype("string").str.strip().str[:parent_code_length]
    regions = C.coerce_and_validate(
        mapped,
        C.REGIONS,
        source=str(spec.path),
        row_offset=spec.first_data_row,
        source_columns=source_names(spec),
    )
    if "geometry_wkt" in regions:
        _check_wkt(
            regions["geometry_wkt"],
            source=str(spec.path),
            column=spec.columns.get("geometry_wkt", "geometry_wkt"),
            row_offset=spec.first_data_row,
        )
    if derive_parents:
        name_col = derive_parents.get("name_column")
        level = str(derive_parents.get("level", "province"))
        names = (
            frame[name_col].astype("string")
            if name_col and name_col in frame
            else pd.Series(pd.NA, index=frame.index)
        )
        parents = (
            pd.DataFrame({"region_id": regions["parent_id"].to_numpy(), "name": names.to_numpy()})
            .dropna(subset=["region_id"])
            .drop_duplicates("region_id")
        )
        parents = parents[~parents["region_id"].isin(regions["region_id"])]
        parents["level"] = level
        parents["parent_id"] = pd.NA
        if "geometry_wkt" in regions:
            parents["geometry_wkt"] = [
                _dissolve_wkt(regions.loc[regions["parent_id"] == pid, "geometry_wkt"])
                for pid in parents["region_id"]
            ]
        regions = pd.concat([parents, regions], ignore_index=True)
        for col in ("region_id", "name", "level", "parent_id"):
            regions[col] = regions[col].astype("string")
    C.check_references(
        regions["parent_id"],
        regions["region_id"],
        source=str(spec.path),
        column=spec.columns.get("parent_id", "parent_id"),
        what="parent region",
    )
    regions = regions.sort_values("region_id", kind="mergesort").reset_index(drop=True)
    C.check_key(regions, C.REGIONS, source=str(spec.path), source_columns=source_names(spec))
    return regions


def _check_wkt(wkts: pd.Series, *, source: str, column: str, row_offset: int) -> None:
    import shapely

    present = wkts.notna().to_numpy()
    geoms = shapely.from_wkt(wkts.where(wkts.notna(), None).to_numpy(dtype=object), on_invalid="ignore")
    bad = present & pd.isna(geoms)
    C.reject_rows(bad, "geometry is not valid WKT", source=source, column=column, row_offset=row_offset)
    kinds = shapely.get_type_id(geoms[present])
    not_area = np.zeros(len(wkts), dtype=bool)
    not_area[np.flatnonzero(present)] = ~np.isin(kinds, [3, 6])  # Polygon, MultiPolygon
    C.reject_rows(
        not_area,
        "geometry must be a POLYGON or MULTIPOLYGON",
        source=source,
        column=column,
        row_offset=row_offset,
    )


def _dissolve_wkt(wkts: pd.Series) -> str | None:
    import shapely
    from shapely import wkt as shapely_wkt

    geoms = [shapely_wkt.loads(w) for w in wkts.dropna()]
    if not geoms:
        return None
    # A small buffer-free union; set_precision snaps shared borders digitised twice.
    merged = shapely.union_all([shapely.set_precision(g.buffer(0), 1e-6) for g in geoms])
    return str(shapely.to_wkt(merged, rounding_precision=6))


@dataclass(frozen=True)
class Vintage:
    """A consistent GDP series: the column holding it and the years it covers."""

    name: str
    column: str
    first_year: int
    last_year: int


_VINTAGE = "\x00vintage"


def ingest_panel(
    spec: SourceSpec,
    *,
    regions: pd.DataFrame,
    vintages: Mapping[str, Vintage],
    vintage: str,
    covariates: Mapping[str, str] | None = None,
    years: tuple[int, int] | None = None,
    unknown_regions: str = "error",
    drops: list[C.DropRecord] | None = None,
    plausibility: C.Plausibility | None = None,
    records: list[dict[str, object]] | None = None,
) -> pd.DataFrame:
    """Read the region-year panel and select one GDP vintage.

    The canonical ``gdp`` column holds the chosen vintage's values inside its years and
    is missing outside them, so growth is never computed across a vintage break; every
    vintage is also kept as ``gdp_<name>`` for robustness checks. Rows with a region code
    not in the regions table are rejected, or with ``unknown_regions="drop"`` dropped and
    recorded in ``drops``.

    With ``plausibility`` bounds, implausible units or values are appended to ``records``
    (warnings for the log and the run summary, never errors).
    """
    src = str(spec.path)
    if vintage not in vintages:
        raise ConfigError(
            f"unknown GDP vintage {vintage!r} (configured: {', '.join(vintages)})",
            source="config",
            column="panel.vintage",
        )
    frame = read_source(spec)
    extra_map = dict(covariates or {})
    for v in vintages.values():
        extra_map[f"gdp_{v.name}"] = v.column
    spec2 = SourceSpec(
        path=spec.path,
        format=spec.format,
        encoding=spec.encoding,
        sheet=spec.sheet,
        header_row=spec.header_row,
        columns={
            **{k: v for k, v in spec.columns.items() if k not in ("gdp", "vintage")},
            **extra_map,
            "gdp": vintages[vintage].column,
            "vintage": _VINTAGE,
        },
        values=spec.values,
        constants=spec.constants,
    )
    # The vintage label is ours, not a file column: an internal column name that no file can
    # hold, so a user constant or column called 'vintage' is never silently replaced.
    mapped = map_columns(frame.assign(**{_VINTAGE: vintage}), spec2, C.PANEL, extra=list(extra_map))
    if len(mapped) < 2:
        raise InputError(
            "the panel has one row: a region-year panel needs several regions and years",
            source=src,
            rows=[spec.first_data_row],
        )
    chosen = vintages[vintage]
    panel = C.coerce_and_validate(
        mapped,
        C.PANEL,
        source=src,
        row_offset=spec.first_data_row,
        year_range=years,
        source_columns=source_names(spec2),
    )
    for v in vintages.values():  # every vintage may be logged (robustness columns too)
        values = panel[f"gdp_{v.name}"].astype("float64")
        bad = (values <= 0).fillna(False).to_numpy()
        C.reject_rows(
            bad,
            "value must be > 0 (GDP is logged; 0 or a negative value has no logarithm)",
            source=src,
            column=v.column,
            row_offset=spec.first_data_row,
        )
    outside = ~panel["year"].between(chosen.first_year, chosen.last_year)
    panel.loc[outside, "gdp"] = pd.NA
    panel.loc[outside, "vintage"] = pd.NA
    if panel["gdp"].isna().all():
        raise InputError(
            f"the outcome is missing in every row for vintage {vintage!r} "
            f"({chosen.first_year}–{chosen.last_year})",
            source=src,
            rows="all",
            column=chosen.column,
        )
    panel = _unknown_rule_whole_file(
        panel, spec, ["region_id"], regions, rule=unknown_regions, table="panel", drops=drops
    )
    if plausibility is not None and records is not None:
        records.extend(
            C.plausibility_warnings(
                panel,
                plausibility,
                source=src,
                rows=np.arange(spec.first_data_row, spec.first_data_row + len(panel)),
                source_columns=source_names(spec2),
            )
        )
    return panel.sort_values(["region_id", "year"], kind="mergesort").reset_index(drop=True)


def _read_region_keyed(
    spec: SourceSpec,
    contract: C.TableContract,
    region_columns: list[str],
    regions: pd.DataFrame,
    table: str,
    *,
    years: tuple[int, int] | None,
    unknown_regions: str,
    drops: list[C.DropRecord] | None,
) -> pd.DataFrame:
    """Read, type-check and region-check a whole-file table (zones, flows); drop records go to ``drops``."""
    src = str(spec.path)
    mapped = map_columns(read_source(spec), spec, contract)
    frame = C.coerce_and_validate(
        mapped,
        contract,
        source=src,
        row_offset=spec.first_data_row,
        year_range=years,
        source_columns=source_names(spec),
    )
    return _unknown_rule_whole_file(
        frame, spec, region_columns, regions, rule=unknown_regions, table=table, drops=drops
    )


def _unknown_rule_whole_file(
    frame: pd.DataFrame,
    spec: SourceSpec,
    region_columns: Sequence[str],
    regions: pd.DataFrame,
    *,
    rule: str,
    table: str,
    drops: list[C.DropRecord] | None = None,
    rule_key: str | None = None,
) -> pd.DataFrame:
    """:func:`handle_unknown_regions` on a table read whole from ``spec`` (rows numbered from its first
    data row); a drop record goes to ``drops``."""
    frame, record = handle_unknown_regions(
        frame,
        region_columns,
        regions["region_id"],
        rule=rule,
        table=table,
        source=str(spec.path),
        row_numbers=np.arange(spec.first_data_row, spec.first_data_row + len(frame)),
        source_columns=spec.columns,
        rule_key=rule_key or f"inputs.{table}.unknown_regions",
    )
    if record is not None and drops is not None:
        drops.append(record)
    return frame


def ingest_zones(
    spec: SourceSpec,
    *,
    regions: pd.DataFrame,
    years: tuple[int, int] | None = None,
    unknown_regions: str = "error",
    drops: list[C.DropRecord] | None = None,
) -> pd.DataFrame:
    """Read the zone catalogue; every host region must be a known region (or ``drop``)."""
    zones = _read_region_keyed(
        spec,
        C.ZONES,
        ["region_id"],
        regions,
        "zones",
        years=years,
        unknown_regions=unknown_regions,
        drops=drops,
    )
    return zones.sort_values("zone_id", kind="mergesort").reset_index(drop=True)


def ingest_collaborations(
    spec: SourceSpec,
    *,
    regions: pd.DataFrame,
    missing_start_year: str = "error",
    id_prefix: str = "C",
    years: tuple[int, int] | None = None,
    unknown_regions: str = "error",
    records: list[dict[str, object]] | None = None,
) -> tuple[pd.DataFrame, list[C.DropRecord]]:
    """Read pairings / co-built parks into the collaborations table.

    If no ``collab_id`` column is mapped, ids are made from the spreadsheet row number
    (``C0002`` for row 2), stable as long as rows are not reordered.
    ``missing_start_year`` is ``error`` (reject) or ``exclude`` (drop those rows, listing
    each in the returned drop records and in the pipeline's log).
    Content checks (:func:`zonespill.contract.check_collaboration_content`) reject a tie
    entered twice and contradictory directions within a programme; contradictions across
    programmes are appended to ``records`` (when given) for the run's warnings record.
    """
    src = str(spec.path)
    frame = read_source(spec)
    drops: list[C.DropRecord] = []
    if "collab_id" not in spec.columns and "collab_id" not in frame.columns:
        frame = frame.copy()
        frame["collab_id"] = [
            f"{id_prefix}{r:04d}" for r in range(spec.first_data_row, spec.first_data_row + len(frame))
        ]
    mapped = map_columns(frame, spec, C.COLLABORATIONS)
    start_col = spec.columns.get("start_year", "start_year")
    start_text = mapped["start_year"].astype("string").str.strip()
    blank_start = start_text.isna() | (start_text == "")
    if blank_start.any():
        rows = (np.flatnonzero(blank_start.to_numpy()) + spec.first_data_row).tolist()
        if missing_start_year == "exclude":
            drops.append(
                C.DropRecord(
                    "collaborations",
                    src,
                    tuple(rows),
                    f"missing {start_col} (rule: exclude)",
                    tuple(mapped.loc[blank_start, "collab_id"].astype(str)),
                )
            )
            keep = ~blank_start.to_numpy()
            row_numbers = np.arange(spec.first_data_row, spec.first_data_row + len(mapped))[keep]
            mapped = mapped[keep]
        elif missing_start_year == "error":
            raise InputError(
                "missing start year (set collaborations.missing_start_year: exclude to drop such rows "
                "explicitly)",
                source=src,
                rows=rows,
                column=start_col,
            )
        else:
            raise ConfigError(
                "must be 'error' or 'exclude'", source="config", column="collaborations.missing_start_year"
            )
    else:
        row_numbers = np.arange(spec.first_data_row, spec.first_data_row + len(mapped))
    names = source_names(spec)
    collabs = _validate_with_rows(mapped, C.COLLABORATIONS, src, row_numbers, years, names)
    for col in ("source_id", "target_id"):
        collabs, unknown = handle_unknown_regions(
            collabs,
            [col],
            regions["region_id"],
            rule=unknown_regions,
            table="collaborations",
            source=src,
            row_numbers=row_numbers,
            source_columns=spec.columns,
            rule_key="inputs.collaborations.unknown_regions",
        )
        if unknown is not None:
            keep = ~np.isin(row_numbers, list(unknown.rows))
            row_numbers = row_numbers[keep]
            drops.append(unknown)
    self_pair = (collabs["source_id"] == collabs["target_id"]).fillna(False)
    if self_pair.any():
        raise InputError(
            "a region cannot collaborate with itself (source = target)",
            source=src,
            rows=row_numbers[self_pair.to_numpy()].tolist(),
            column=spec.columns.get("target_id", "target_id"),
        )
    reversed_years = (collabs["end_year"] < collabs["start_year"]).fillna(False)
    if reversed_years.any():
        raise InputError(
            "end year is before start year",
            source=src,
            rows=row_numbers[reversed_years.to_numpy()].tolist(),
            column=spec.columns.get("end_year", "end_year"),
        )
    _check_endpoint_provinces(collabs, regions, src, row_numbers, names)
    found = C.check_collaboration_content(collabs, source=src, rows=row_numbers, source_columns=names)
    if records is not None:
        records.extend(found)
    return collabs.sort_values("collab_id", kind="mergesort").reset_index(drop=True), drops


def _check_endpoint_provinces(
    collabs: pd.DataFrame,
    regions: pd.DataFrame,
    src: str,
    row_numbers: np.ndarray,
    names: Mapping[str, str],
) -> None:
    """When the regions table has provinces, every endpoint must reach one through parent_id."""
    from zonespill.indicators import province_of

    if not (regions["level"].astype(str) == "province").any():
        return
    pmap = province_of(regions)
    for col in ("source_id", "target_id"):
        bad = ~collabs[col].astype(str).isin(set(pmap))
        if bad.any():
            codes = sorted(set(collabs.loc[bad, col].astype(str)))
            raise InputError(
                f"region(s) {', '.join(codes[:10])} have no province: their parent_id chain in the regions "
                "table does not reach a province",
                source=src,
                rows=row_numbers[bad.to_numpy()].tolist(),
                column=names.get(col, col),
            )


def _validate_with_rows(
    mapped: pd.DataFrame,
    contract: C.TableContract,
    src: str,
    row_numbers: np.ndarray,
    years: tuple[int, int] | None,
    source_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Validate a table whose rows are a subset of the file: report original row numbers."""
    try:
        return C.coerce_and_validate(
            mapped.reset_index(drop=True),
            contract,
            source=src,
            row_offset=0,
            year_range=years,
            source_columns=dict(source_columns or {}),
        )
    except InputError as err:
        if isinstance(err.rows, list):
            rows = [int(row_numbers[r]) for r in err.rows]
            raise InputError(err.reason, source=err.source, rows=rows, column=err.column) from None
        raise


def ingest_flows(
    spec: SourceSpec,
    *,
    regions: pd.DataFrame,
    years: tuple[int, int] | None = None,
    unknown_regions: str = "error",
    drops: list[C.DropRecord] | None = None,
) -> pd.DataFrame:
    """Read the optional flows table (directed, by year and kind)."""
    flows = _read_region_keyed(
        spec,
        C.FLOWS,
        ["origin_id", "destination_id"],
        regions,
        "flows",
        years=years,
        unknown_regions=unknown_regions,
        drops=drops,
    )
    return flows.sort_values(list(C.FLOWS.key), kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- unknown codes, balance
UNKNOWN_RULES = ("error", "drop")
BALANCE_RULES = ("error", "drop_incomplete", "allow")


def code_hint(code: str, known: set[str]) -> str:
    """A guess at what an unknown region code was meant to be ('' if none).

    Catches the usual slips with GB/T 2260 codes: a province-level code used for a
    municipality (110000 for Beijing's prefecture-level 110100), a 2-digit province code
    against 6-digit regions or the reverse, and codes read as decimals (110100.0).
    """
    c = str(code).strip()
    if c.endswith(".0") and c[:-2] in known:
        return f"{c} looks like a number stored as a decimal; the regions table has {c[:-2]}"
    if len(c) == 6 and c.isdigit() and c.endswith("0000"):
        prov = c[:2]
        cands = [k for k in (prov, f"{prov}0100") if k in known]
        if cands:
            return (
                f"{c} looks like the province-level code of {prov} used for a municipality or its "
                f"capital; the regions table has {' and '.join(cands)} (a municipality's "
                f"prefecture-level code is {prov}0100)"
            )
    if len(c) == 2 and c.isdigit():
        cands = [k for k in (f"{c}0000", f"{c}0100") if k in known]
        if cands:
            return f"{c} is a 2-digit province code; the regions table has {' and '.join(cands)}"
    stem = c.rstrip("0")
    if len(stem) >= 2:
        cands = sorted(k for k in known if k.startswith(stem) and k != c)[:3]
        if cands:
            return f"codes in the regions table starting with {stem}: {', '.join(cands)}"
    return ""


def handle_unknown_regions(
    frame: pd.DataFrame,
    columns: Sequence[str],
    known: Sequence[str] | pd.Series,
    *,
    rule: str,
    table: str,
    source: str,
    row_numbers: np.ndarray,
    source_columns: Mapping[str, str] | None = None,
    rule_key: str = "unknown_regions",
) -> tuple[pd.DataFrame, C.DropRecord | None]:
    """Rows whose region code (in any of ``columns``) is not a known region.

    ``rule`` ``error`` rejects the file naming the codes, rows and a hint per code;
    ``drop`` removes the rows and returns a drop record naming codes, rows and years.
    """
    if rule not in UNKNOWN_RULES:
        raise ConfigError(f"must be one of {', '.join(UNKNOWN_RULES)}", source="config", column=rule_key)
    known_set = set(map(str, known))
    bad = np.zeros(len(frame), dtype=bool)
    codes: list[str] = []
    for col in columns:
        vals = frame[col].astype("string")
        col_bad = (vals.notna() & ~vals.isin(known_set)).to_numpy()
        bad |= col_bad
        codes += [str(v) for v in vals[col_bad]]
    if not bad.any():
        return frame, None
    uniq = sorted(set(codes))
    hints = [h for h in (code_hint(c, known_set) for c in uniq[:10]) if h]
    hint_text = f" Hint: {'; '.join(hints)}." if hints else ""
    rows = row_numbers[bad].tolist()
    shown = ", ".join(uniq[:10]) + (" …" if len(uniq) > 10 else "")
    if rule == "error":
        src_cols = source_columns or {}
        raise InputError(
            f"unknown region code(s) {shown} (not in the regions table); set {rule_key}: drop to drop "
            f"such rows with a record.{hint_text}",
            source=source,
            rows=rows,
            column="/".join(src_cols.get(c, c) for c in columns),
        )
    detail: list[str] = []
    sub = frame[bad]
    for code in uniq:
        hit = np.zeros(len(sub), dtype=bool)
        for col in columns:
            hit |= (sub[col].astype("string") == code).fillna(False).to_numpy()
        years = sorted(set(sub.loc[hit, "year"].dropna().astype(int))) if "year" in sub else []
        detail.append(f"{code}: years {_spans(years)}" if years else f"{code}: {int(hit.sum())} row(s)")
    record = C.DropRecord(
        table,
        source,
        tuple(int(r) for r in rows),
        f"unknown region code(s) (rule: drop).{hint_text}",
        tuple(detail),
    )
    return frame[~bad].reset_index(drop=True), record


def _spans(years: Sequence[int]) -> str:
    """1999, 2001–2003 style text for a sorted list of years."""
    spans: list[list[int]] = []
    for y in years:
        if spans and spans[-1][1] == y - 1:
            spans[-1][1] = y
        else:
            spans.append([y, y])
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in spans)


def check_balance(
    panel: pd.DataFrame,
    *,
    years: tuple[int, int],
    rule: str,
    required: Sequence[str],
    source: str,
) -> tuple[pd.DataFrame, C.DropRecord | None]:
    """Every unit must have a row with ``required`` values in every year of ``years``.

    ``error`` names the incomplete units and their missing years; ``drop_incomplete``
    drops those units (all years) with a record; ``allow`` keeps them with a record.
    """
    if rule not in BALANCE_RULES:
        raise ConfigError(
            f"must be one of {', '.join(BALANCE_RULES)}", source="config", column="inputs.panel.balance"
        )
    first, last = years
    want = set(range(first, last + 1))
    inside = panel[panel["year"].between(first, last)]
    problems: dict[str, str] = {}
    for rid in sorted(panel["region_id"].astype(str).unique()):
        rows = inside[inside["region_id"].astype(str) == rid]
        have = set(rows["year"].astype(int))
        parts = []
        absent = sorted(want - have)
        if absent:
            parts.append(f"no row in {_spans(absent)}")
        for col in required:
            miss = sorted(rows.loc[rows[col].isna(), "year"].astype(int))
            if miss:
                parts.append(f"{col} missing in {_spans(miss)}")
        if parts:
            problems[rid] = "; ".join(parts)
    if not problems:
        return panel, None
    detail = tuple(f"{rid}: {text}" for rid, text in problems.items())
    shown = "; ".join(detail[:10]) + (f"; … (+{len(detail) - 10} more)" if len(detail) > 10 else "")
    if rule == "error":
        raise InputError(
            f"unbalanced panel over {first}–{last}: {len(problems)} unit(s) lack data: {shown}. Set "
            "inputs.panel.balance: drop_incomplete to drop them (recorded), or allow to keep them",
            source=source,
            column=", ".join(required),
        )
    bad_rows = panel["region_id"].astype(str).isin(problems)
    if rule == "allow":
        return panel, C.DropRecord("panel", source, (), f"kept incomplete units over {first}–{last}", detail)
    # every row of the units goes: the record names units and years (file rows are not kept)
    record = C.DropRecord(
        "panel", source, (), f"incomplete units over {first}–{last} (rule: drop_incomplete)", detail
    )
    return panel[~bad_rows].reset_index(drop=True), record


def drop_records_json(records: Sequence[C.DropRecord], *, detail_key: str = "detail") -> list[dict[str, Any]]:
    """Drop records as JSON-ready dicts (the ``*_drops.json`` files); ``detail_key`` names the
    detail list (``collaborations_drops.json`` has always called it ``ids``)."""
    return [
        {
            "table": d.table,
            "source": d.source,
            "rows": list(d.rows),
            "reason": d.reason,
            detail_key: list(d.detail),
        }
        for d in records
    ]


# --------------------------------------------------------------------------- deflator
DEFLATOR_LEVELS = ("region", "national")


def _deflator_contract(level: str) -> C.TableContract:
    cols = (
        C.Column("year", "int", minimum=C.YEAR_MIN, maximum=C.YEAR_MAX),
        C.Column("index", "float", minimum=0, description="price index (any base; rebased to base_year)"),
    )
    if level == "region":
        return C.TableContract("deflator", ("region_id", "year"), (C.Column("region_id", "string"), *cols))
    return C.TableContract("deflator", ("year",), cols)


def apply_deflator(
    panel: pd.DataFrame,
    options: Mapping[str, Any],
    *,
    regions: pd.DataFrame,
    base_dir: Path | None = None,
    panel_source: str = "panel",
) -> pd.DataFrame:
    """Attach ``price_index`` (= 100 in ``base_year``) and a ``price_basis`` label to the panel.

    ``options`` is ``inputs.deflator``: either ``column`` (a price-index column of the
    panel file, already carried as ``price_index``) or a source (``path`` …) with columns
    ``year``, ``index`` and, for ``level: region``, ``region_id``. The index is rebased to
    100 in ``base_year`` per region (regional index) or nationally; a unit without an index
    value in the base year is an error naming it.
    """
    key = "inputs.deflator"
    if "base_year" not in options:
        raise ConfigError("a deflator needs its base_year", source="config", column=f"{key}.base_year")
    base = int(options["base_year"])
    name = str(options.get("name") or "price index")
    out = panel.copy()
    if "column" in options:
        level, src = "region", panel_source
        where = f"panel column {options['column']}"
        if "price_index" not in out:
            raise ConfigError("the deflator column was not read", source="config", column=f"{key}.column")
        idx = out["price_index"].astype("float64")
    else:
        level = str(options.get("level", "national"))
        if level not in DEFLATOR_LEVELS:
            raise ConfigError(
                f"must be one of {', '.join(DEFLATOR_LEVELS)}", source="config", column=f"{key}.level"
            )
        spec = SourceSpec.from_config(options, key=key, base_dir=base_dir)
        src = str(spec.path)
        contract = _deflator_contract(level)
        table = C.coerce_and_validate(
            map_columns(read_source(spec), spec, contract),
            contract,
            source=src,
            row_offset=spec.first_data_row,
        )
        where = f"{level} index {spec.path.name}"
        if level == "region":
            table = _unknown_rule_whole_file(
                table,
                spec,
                ["region_id"],
                regions,
                rule="error",
                table="deflator",
                rule_key=f"{key}.unknown_regions",
            )
            lookup = table.set_index(["region_id", "year"])["index"]
            values = lookup.reindex(pd.MultiIndex.from_arrays([out["region_id"], out["year"]])).to_numpy()
        else:
            lookup = table.set_index("year")["index"]
            values = lookup.reindex(out["year"].astype(int)).to_numpy()
        idx = pd.Series(np.asarray(values, dtype="float64"), index=out.index)
    bad = idx.notna() & ~(idx > 0)
    if bad.any():
        raise InputError("price index must be positive", source=src, column="index")
    at_base = idx.where(out["year"] == base)
    if level == "region":
        base_val = at_base.groupby(out["region_id"]).transform("max")
        lacking = sorted(set(out.loc[base_val.isna(), "region_id"].astype(str)))
    else:
        val = at_base.max()
        base_val = pd.Series(val, index=out.index)
        lacking = [] if np.isfinite(val) else ["(national)"]
    if lacking:
        raise InputError(
            f"no price index in the base year {base} for {', '.join(lacking[:10])}"
            f"{' …' if len(lacking) > 10 else ''}",
            source=src,
            column="index",
        )
    out["price_index"] = (100.0 * idx / base_val).astype("float64")
    out["price_basis"] = f"real (base {base}, {name}; {where})"
    return out


def read_canonical(path: str | Path, table: str) -> pd.DataFrame:
    """Read a canonical Parquet table written by a pipeline step and re-check its key."""
    from zonespill.io import read_parquet

    frame = read_parquet(path)
    C.check_key(frame, C.CONTRACTS[table], source=str(path))
    return frame


def write_canonical(path: str | Path, frame: pd.DataFrame, table: str) -> None:
    """Check the key, then write atomically."""
    from zonespill.io import write_parquet

    C.check_key(frame, C.CONTRACTS[table], source=str(path))
    write_parquet(path, frame)
