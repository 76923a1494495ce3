"""The input boundary: a catalogue of bad inputs, each rejected with file, row(s) and column.

Every case starts from the valid tiny dataset (.test/data), breaks exactly one thing,
runs the spine in-process (``zonespill.steps.run_spine``) and asserts that

* an :class:`~zonespill.errors.InputError` (or ``ConfigError``) is raised,
* its message names the file (or ``config``), the expected row(s) and column (or key),
* the output of the failing step was not written and no temporary file is left behind.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zonespill.errors import ConfigError, InputError
from zonespill.steps import run_spine

Mutator = Callable[[Path, dict[str, Any]], None]


def _edit_csv(path: Path, fn: Callable[[list[list[str]]], None]) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    fn(rows)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def set_cell(file: str, row: int, column: str, value: str) -> Mutator:
    """Set one cell; ``row`` is the spreadsheet row (header = 1)."""

    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        def fn(rows: list[list[str]]) -> None:
            rows[row - 1][rows[0].index(column)] = value

        _edit_csv(data / file, fn)

    return mutate


def rename_header(file: str, column: str, new: str) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        def fn(rows: list[list[str]]) -> None:
            rows[0][rows[0].index(column)] = new

        _edit_csv(data / file, fn)

    return mutate


def duplicate_row(file: str, row: int) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        _edit_csv(data / file, lambda rows: rows.append(list(rows[row - 1])))

    return mutate


def blank_column(file: str, column: str) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        def fn(rows: list[list[str]]) -> None:
            k = rows[0].index(column)
            for r in rows[1:]:
                r[k] = ""

        _edit_csv(data / file, fn)

    return mutate


def write_bytes(file: str, payload: bytes) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        (data / file).write_bytes(payload)

    return mutate


def gbk_file(file: str) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        text = (data / file).read_text(encoding="utf-8")
        lines = text.splitlines()
        lines[3] = lines[3].replace("Pref", "地级市")  # non-ASCII text on spreadsheet row 4
        (data / file).write_bytes("\n".join(lines).encode("gbk"))

    return mutate


def config_set(*keys: str, value: Any) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        node = cfg
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return mutate


def both(*ms: Mutator) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        for m in ms:
            m(data, cfg)

    return mutate


def weights_file(rows: list[tuple[str, str, str]], **extra: Any) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        path = data / "weights.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["i", "j", "w"])
            w.writerows(rows)
        cfg["weights"] = {
            "kind": "file",
            "file": {"path": str(path)},
            "islands": "error",
            "row_standardise": True,
            **extra,
        }

    return mutate


def _zones_to_excel(data: Path, cfg: dict[str, Any], edit: Callable[[Any, list[list[str]]], None]) -> None:
    """zones.csv rewritten as zones.xlsx (``edit(sheet, rows)`` writes the rows) and configured."""
    import openpyxl

    wb = openpyxl.Workbook()
    with open(data / "zones.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    edit(wb.active, rows)
    wb.save(data / "zones.xlsx")
    cfg["inputs"]["zones"]["path"] = str(data / "zones.xlsx")


def excel_merged_header(data: Path, cfg: dict[str, Any]) -> None:
    def edit(ws: Any, rows: list[list[str]]) -> None:
        ws.append(["Zone catalogue (synthetic)"] + [None] * (len(rows[0]) - 1))
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
        for r in rows:
            ws.append(r)

    _zones_to_excel(data, cfg, edit)


def append_row(file: str, values: list[str]) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        _edit_csv(data / file, lambda rows: rows.append(list(values)))

    return mutate


def semicolon_file(file: str) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        text = (data / file).read_text(encoding="utf-8")
        (data / file).write_text(text.replace(",", ";"), encoding="utf-8")

    return mutate


def keep_rows(file: str, n: int) -> Mutator:
    def mutate(data: Path, cfg: dict[str, Any]) -> None:
        _edit_csv(data / file, lambda rows: rows.__delitem__(slice(n + 1, None)))

    return mutate


def excel_formula_without_value(data: Path, cfg: dict[str, Any]) -> None:
    """A workbook written by a script: the formula is stored, its value never computed."""

    def edit(ws: Any, rows: list[list[str]]) -> None:
        for r in rows:
            ws.append(r)
        ws["F4"] = "=1990+6"  # approval year of spreadsheet row 4
        ws["F6"] = "=F4+1"

    _zones_to_excel(data, cfg, edit)


def directory_as_input(data: Path, cfg: dict[str, Any]) -> None:
    (data / "zones_dir").mkdir()
    cfg["inputs"]["zones"]["path"] = str(data / "zones_dir")


def constant_replaces_file_column(data: Path, cfg: dict[str, Any]) -> None:
    section = cfg["inputs"]["collaborations"]
    del section["columns"]["programme"]  # the file's 'programme' column is now looked up as is ...
    section["constants"] = {"programme": "all"}  # ... and a constant of the same name would replace it


# The full set of grid links of the .test provinces (queen contiguity), for weights-file cases.
GRID = [
    ("11", "12"),
    ("12", "11"),
    ("12", "13"),
    ("13", "12"),
    ("11", "21"),
    ("21", "11"),
    ("12", "22"),
    ("22", "12"),
    ("13", "23"),
    ("23", "13"),
    ("21", "22"),
    ("22", "21"),
    ("22", "23"),
    ("23", "22"),
    ("11", "22"),
    ("22", "11"),
    ("12", "21"),
    ("21", "12"),
    ("12", "23"),
    ("23", "12"),
    ("13", "22"),
    ("22", "13"),
]
GRID_W = [(i, j, "1") for i, j in GRID]


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Mutator
    source: str  # file name (or "config") that the message must name
    column: str  # column or config key the message must name
    rows: tuple[int, ...] | None = None  # spreadsheet rows that must be named
    unwritten: str = ""  # output (relative to results/) that must not exist
    error: type[Exception] = InputError


P, R, Z, C = "panel.csv", "prefectures.csv", "zones.csv", "pairings.csv"
REG, PAN, ZON, COL, WTS = (
    "canonical/regions.parquet",
    "canonical/panel.parquet",
    "canonical/zones.parquet",
    "canonical/collaborations.parquet",
    "weights/weights.parquet",
)

CASES = [
    # --- regions (prefecture polygons)
    Case("regions-missing-column", rename_header(R, "code", "city_code"), R, "code", unwritten=REG),
    Case("regions-duplicate-key", duplicate_row(R, 3), R, "code", (3, 16), REG),
    Case("regions-missing-key", set_cell(R, 5, "code", ""), R, "code", (5,), REG),
    Case("regions-invalid-wkt", set_cell(R, 4, "wkt", "POLYGON((1 2, 3"), R, "wkt", (4,), REG),
    Case("regions-point-not-polygon", set_cell(R, 6, "wkt", "POINT (1 2)"), R, "wkt", (6,), REG),
    Case("regions-empty-file", write_bytes(R, b""), R, "", None, REG),
    Case(
        "regions-header-only",
        write_bytes(R, b"code,name,province_code,province_name,wkt\n"),
        R,
        "",
        None,
        REG,
    ),
    Case("regions-gbk-encoding", gbk_file(R), R, "(encoding)", (4,), REG),
    Case("regions-duplicate-header", rename_header(R, "name", "code"), R, "code", (1,), REG),
    # --- panel
    Case("panel-text-in-gdp", set_cell(P, 6, "gdp_new", "n/a"), P, "gdp_new", (6,), PAN),
    Case("panel-infinite-gdp", set_cell(P, 7, "gdp_new", "inf"), P, "gdp_new", (7,), PAN),
    Case("panel-negative-population", set_cell(P, 9, "pop", "-5"), P, "pop", (9,), PAN),
    Case("panel-duplicate-region-year", duplicate_row(P, 10), P, "code,year", (10, 79), PAN),
    Case("panel-year-out-of-range", set_cell(P, 12, "year", "2150"), P, "year", (12,), PAN),
    Case("panel-fractional-year", set_cell(P, 12, "year", "2005.5"), P, "year", (12,), PAN),
    Case("panel-text-year", set_cell(P, 13, "year", "two thousand"), P, "year", (13,), PAN),
    Case("panel-unknown-region", set_cell(P, 14, "code", "99"), P, "code", (14,), PAN),
    Case("panel-missing-region", set_cell(P, 15, "code", ""), P, "code", (15,), PAN),
    Case("panel-all-missing-outcome", blank_column(P, "gdp_new"), P, "gdp_new", None, PAN),
    Case("panel-missing-year-column", rename_header(P, "year", "yr"), P, "year", None, PAN),
    Case(
        "panel-unknown-vintage",
        config_set("inputs", "panel", "vintage", value="v2099"),
        "config",
        "panel.vintage",
        None,
        PAN,
        ConfigError,
    ),
    Case("panel-empty-file", write_bytes(P, b"   \n"), P, "", None, PAN),
    # --- zones
    Case("zones-unknown-host", set_cell(Z, 4, "host", "77"), Z, "host", (4,), ZON),
    Case("zones-level-not-allowed", set_cell(Z, 5, "lvl", "city"), Z, "lvl", (5,), ZON),
    Case("zones-duplicate-id", duplicate_row(Z, 2), Z, "zone", (2, 16), ZON),
    Case("zones-text-year", set_cell(Z, 6, "year", "1990s"), Z, "year", (6,), ZON),
    Case("zones-negative-area", set_cell(Z, 7, "ha", "-1"), Z, "ha", (7,), ZON),
    Case("zones-missing-year", set_cell(Z, 8, "year", ""), Z, "year", (8,), ZON),
    Case("zones-excel-merged-header", excel_merged_header, "zones.xlsx", "", (1,), ZON),
    # --- collaborations
    Case("collab-unknown-region", set_cell(C, 3, "receiver", "990100"), C, "receiver", (3,), COL),
    Case("collab-self-pair", set_cell(C, 2, "receiver", "11"), C, "receiver", (2,), COL),
    Case("collab-start-after-end", set_cell(C, 3, "end", "2001"), C, "end", (3,), COL),
    Case("collab-bad-direction", set_cell(C, 4, "direction", "sideways"), C, "direction", (4,), COL),
    Case(
        "collab-missing-start-strict",
        config_set("inputs", "collaborations", "missing_start_year", value="error"),
        C,
        "start",
        (7,),
        COL,
    ),
    Case("collab-start-year-too-early", set_cell(C, 2, "start", "1850"), C, "start", (2,), COL),
    Case("collab-missing-receiver", set_cell(C, 5, "receiver", ""), C, "receiver", (5,), COL),
    Case("collab-infinite-end", set_cell(C, 2, "end", "Infinity"), C, "end", (2,), COL),
    Case("collab-missing-direction-column", rename_header(C, "direction", "dir"), C, "direction", None, COL),
    # --- contract: content, logged levels, formats (issue 10 parts 3-5)
    Case("collab-duplicate-row", duplicate_row(C, 3), C, "giver, receiver, programme, start", (3, 8), COL),
    Case(
        "collab-contradictory-direction-in-programme",
        append_row(C, ["east_west", "22", "12", "2008", "", "forward"]),
        C,
        "direction",
        (3, 8),
        COL,
    ),
    Case(
        "collab-endpoint-without-province",
        set_cell(R, 2, "province_code", ""),  # prefecture 110100 loses its province; pairing row 6 uses it
        C,
        "giver",
        (6,),
        COL,
    ),
    Case("panel-zero-gdp", set_cell(P, 8, "gdp_new", "0"), P, "gdp_new", (8,), PAN),
    Case("panel-zero-gdp-other-vintage", set_cell(P, 3, "gdp_old", "0"), P, "gdp_old", (3,), PAN),
    Case("panel-zero-population", set_cell(P, 9, "pop", "0"), P, "pop", (9,), PAN),
    Case("panel-one-row", keep_rows(P, 1), P, "", (2,), PAN),
    Case("zones-semicolon-separator", semicolon_file(Z), Z, "(separator)", (1,), ZON),
    Case(
        "zones-excel-formula-without-value",
        excel_formula_without_value,
        "zones.xlsx",
        "(formula)",
        (4, 6),
        ZON,
    ),
    Case("zones-path-is-directory", directory_as_input, "zones_dir", "", None, ZON),
    Case(
        "config-constant-and-mapping",
        config_set("inputs", "regions", "constants", value={"level": "prefecture", "name": "x"}),
        "config",
        "inputs.regions.constants.name",
        None,
        REG,
        ConfigError,
    ),
    Case(
        "config-constant-replaces-file-column",
        constant_replaces_file_column,
        "config",
        "inputs.collaborations.constants.programme",
        None,
        COL,
        ConfigError,
    ),
    # --- weights given as a file
    Case("weights-unknown-id", weights_file([*GRID_W, ("31", "98", "1")]), "weights.csv", "j", (24,), WTS),
    Case("weights-island", weights_file([*GRID_W, ("31", "", "0")]), "weights.csv", "j", None, WTS),
    Case(
        "weights-missing-unit",
        weights_file([e for e in GRID_W if "23" not in e[:2]] + [("31", "13", "1"), ("13", "31", "1")]),
        "weights.csv",
        "i",
        None,
        WTS,
    ),
    Case(
        "weights-negative",
        weights_file([*GRID_W, ("31", "13", "-1"), ("13", "31", "1")]),
        "weights.csv",
        "w",
        (24,),
        WTS,
    ),
    Case(
        "weights-duplicate-edge",
        weights_file([*GRID_W, ("31", "13", "1"), ("13", "31", "1"), ("31", "13", "1")]),
        "weights.csv",
        "i,j",
        (24, 26),
        WTS,
    ),
    Case(
        "weights-text-weight",
        weights_file([*GRID_W, ("31", "13", "one"), ("13", "31", "1")]),
        "weights.csv",
        "w",
        (24,),
        WTS,
    ),
    # --- config
    Case(
        "config-output-outside-results",
        config_set("output_dir", value="../outside"),
        "config",
        "output_dir",
        None,
        REG,
        ConfigError,
    ),
    Case(
        "config-wrong-type",
        config_set("weights", "k", value="four"),
        "config",
        "weights.k",
        None,
        REG,
        ConfigError,
    ),
    Case(
        "config-unknown-key",
        config_set("weights", "kindd", value="queen"),
        "config",
        "weights.kindd",
        None,
        REG,
        ConfigError,
    ),
    Case(
        "config-bad-format",
        config_set("inputs", "zones", "format", value="sas"),
        "config",
        "inputs.zones.format",
        None,
        REG,
        ConfigError,
    ),
    Case(
        "config-header-row-zero",
        config_set("inputs", "zones", "header_row", value=0),
        "config",
        "inputs.zones.header_row",
        None,
        REG,
        ConfigError,
    ),
    Case(
        "config-first-after-last",
        config_set("analysis", "first_year", value=2011),
        "config",
        "analysis.first_year",
        None,
        "indicators/region_year.parquet",
        ConfigError,
    ),
    Case(
        "config-panel-at-another-level",
        config_set("analysis", "level", value="prefecture"),
        "config",
        "analysis.level",
        None,
        WTS,
        ConfigError,
    ),
    Case(
        "config-first-year-before-the-data",
        config_set("analysis", "first_year", value=1990),
        "config",
        "analysis.first_year",
        None,
        "indicators/region_year.parquet",
        ConfigError,
    ),
    Case(
        "config-last-year-after-the-data",
        config_set("analysis", "last_year", value=2030),
        "config",
        "analysis.last_year",
        None,
        "indicators/region_year.parquet",
        ConfigError,
    ),
    Case(
        "config-island-rule",
        config_set("weights", "islands", value="error"),
        "config",
        "geometry_wkt",
        None,
        WTS,
    ),
]


def test_catalogue_is_large_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_rejected(case: Case, tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    case.mutate(tmp / "data", cfg)
    out = tmp / "results"
    with pytest.raises(case.error) as info:
        run_spine(cfg, out)
    err = info.value
    message = str(err)
    assert isinstance(err, InputError)
    if case.source == "config":
        assert err.source == "config" or "config" in err.source or case.column == "geometry_wkt"
    else:
        assert Path(err.source).name == case.source, message
        assert case.source in message
    if case.column:
        assert err.column == case.column or (err.column or "").endswith(case.column), message
        assert f"'{err.column}'" in message
    if case.rows is not None:
        assert isinstance(err.rows, list), message
        for r in case.rows:
            assert r in err.rows, (r, message)
            assert str(r) in message
    if case.unwritten:
        assert not (out / case.unwritten).exists(), f"{case.unwritten} written despite the error"
    leftovers = [p for p in out.rglob(".*") if p.is_file()] if out.exists() else []
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_user_files_are_not_modified(tiny: tuple[Path, dict[str, Any]]) -> None:
    import hashlib

    tmp, cfg = tiny
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp / "data").iterdir()}
    run_spine(cfg, tmp / "results")
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp / "data").iterdir()}
    assert before == after
