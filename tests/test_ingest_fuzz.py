"""Property-based fuzzing of the ingest of every table.

Whatever bytes a user's CSV holds, ingest either returns a table that satisfies the
contract (unique non-null key, declared types, allowed values, known references) or raises
InputError naming the file — never another exception, never a partial table.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonespill import contract as C
from zonespill.errors import InputError
from zonespill.ingest import (
    SourceSpec,
    Vintage,
    ingest_collaborations,
    ingest_panel,
    ingest_regions,
    ingest_zones,
)

REGIONS = pd.DataFrame(
    {
        "region_id": ["11", "12", "13", "110100"],
        "name": ["a", "b", "c", "d"],
        "level": ["province", "province", "province", "prefecture"],
        "parent_id": [pd.NA, pd.NA, pd.NA, "11"],
    }
)

cell = st.one_of(
    st.sampled_from(
        [
            "",
            "11",
            "12",
            "13",
            "110100",
            "99",
            "2005",
            "2010",
            "1850",
            "2200",
            "inf",
            "-inf",
            "nan",
            "NaN",
            "1e308",
            "-1",
            "0",
            "3.5",
            "forward",
            "reverse",
            "two_way",
            "sideways",
            "national",
            "provincial",
            "x",
            "  12 ",
            "２０１０",
            "None",
        ]
    ),
    st.text(max_size=6),
    st.integers(-10_000, 10_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def _write(tmp: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _rows(n_cols: int) -> st.SearchStrategy[list[list[str]]]:
    return st.lists(st.lists(cell, min_size=n_cols, max_size=n_cols), min_size=0, max_size=8)


def _check_contract(frame: pd.DataFrame, contract: C.TableContract) -> None:
    assert len(frame) > 0
    C.check_key(frame, contract, source="fuzz")
    for col in contract.columns:
        if col.name not in frame:
            continue
        if not col.nullable:
            assert frame[col.name].notna().all()
        if col.allowed:
            assert frame[col.name].dropna().isin(col.allowed).all()


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(rows=_rows(4))
def test_fuzz_panel(tmp_path: Path, rows: list[list[str]]) -> None:
    path = _write(tmp_path, "panel.csv", ["code", "year", "gdp", "pop"], rows)
    spec = SourceSpec(path=path, columns={"region_id": "code", "year": "year", "population": "pop"})
    try:
        out = ingest_panel(
            spec, regions=REGIONS, vintages={"v": Vintage("v", "gdp", 2000, 2020)}, vintage="v"
        )
    except InputError as err:
        assert "panel.csv" in str(err)
        return
    _check_contract(out, C.PANEL)
    assert out["region_id"].isin(REGIONS["region_id"]).all()
    assert (out["population"].dropna() >= 0).all()


@FUZZ
@given(rows=_rows(5))
def test_fuzz_zones(tmp_path: Path, rows: list[list[str]]) -> None:
    path = _write(tmp_path, "zones.csv", ["zone_id", "region_id", "level", "approval_year", "area_ha"], rows)
    try:
        out = ingest_zones(SourceSpec(path=path), regions=REGIONS)
    except InputError as err:
        assert "zones.csv" in str(err)
        return
    _check_contract(out, C.ZONES)


@FUZZ
@given(rows=_rows(6))
def test_fuzz_collaborations(tmp_path: Path, rows: list[list[str]]) -> None:
    header = ["source_id", "target_id", "start_year", "end_year", "programme", "direction"]
    path = _write(tmp_path, "pairs.csv", header, rows)
    try:
        out, drops = ingest_collaborations(
            SourceSpec(path=path), regions=REGIONS, missing_start_year="exclude"
        )
    except InputError as err:
        assert "pairs.csv" in str(err)
        return
    _check_contract(out, C.COLLABORATIONS)
    assert (out["source_id"] != out["target_id"]).all()
    assert ((out["end_year"] >= out["start_year"]) | out["end_year"].isna()).all()
    assert len(out) + sum(len(d.rows) for d in drops) == len(rows)


@FUZZ
@given(rows=_rows(4))
def test_fuzz_regions(tmp_path: Path, rows: list[list[str]]) -> None:
    path = _write(tmp_path, "regions.csv", ["region_id", "name", "level", "parent_id"], rows)
    try:
        out = ingest_regions(SourceSpec(path=path))
    except InputError as err:
        assert "regions.csv" in str(err)
        return
    _check_contract(out, C.REGIONS)
    parents = out["parent_id"].dropna()
    assert parents.isin(out["region_id"]).all()


@FUZZ
@given(rows=_rows(5))
def test_fuzz_flows(tmp_path: Path, rows: list[list[str]]) -> None:
    from zonespill.ingest import ingest_flows

    path = _write(tmp_path, "flows.csv", ["origin_id", "destination_id", "year", "kind", "value"], rows)
    try:
        out = ingest_flows(SourceSpec(path=path), regions=REGIONS)
    except InputError as err:
        assert "flows.csv" in str(err)
        return
    _check_contract(out, C.FLOWS)
    assert (out["value"] >= 0).all()
    assert out["origin_id"].isin(REGIONS["region_id"]).all()
