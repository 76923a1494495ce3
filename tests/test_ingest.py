"""Ingest reads CSV, Parquet, Excel and Stata through the same mapping and contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from zonespill.contract import contract_markdown
from zonespill.errors import InputError
from zonespill.ingest import SourceSpec, ingest_zones, read_source
from zonespill.steps import ingest_regions_step, run_spine


def _regions(tmp: Path, cfg: dict[str, Any]) -> pd.DataFrame:
    return ingest_regions_step(cfg["inputs"]["regions"], out=tmp / "r.parquet")


def _zone_spec(cfg: dict[str, Any], path: Path, **extra: Any) -> SourceSpec:
    section = {**cfg["inputs"]["zones"], "path": str(path), **extra}
    return SourceSpec.from_config(section, key="inputs.zones")


def test_every_format_gives_the_same_table(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    regions = _regions(tmp, cfg)
    csv_path = Path(cfg["inputs"]["zones"]["path"])
    raw = pd.read_csv(csv_path, dtype=str)
    reference = ingest_zones(_zone_spec(cfg, csv_path), regions=regions)
    raw.to_parquet(tmp / "zones.parquet")
    raw.to_excel(tmp / "zones.xlsx", index=False)
    typed = raw.assign(year=raw["year"].astype(int), ha=raw["ha"].astype(float))
    typed.to_stata(tmp / "zones.dta", write_index=False)
    for name in ("zones.parquet", "zones.xlsx", "zones.dta"):
        got = ingest_zones(_zone_spec(cfg, tmp / name), regions=regions)
        pd.testing.assert_frame_equal(got, reference, check_dtype=True, obj=name)


def test_excel_with_title_rows_reads_with_header_row(tiny: tuple[Path, dict[str, Any]]) -> None:
    import openpyxl

    tmp, cfg = tiny
    regions = _regions(tmp, cfg)
    raw = pd.read_csv(cfg["inputs"]["zones"]["path"], dtype=str)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["A title spanning the table"])
    ws.merge_cells("A1:G1")
    ws.append(list(raw.columns))
    for rec in raw.itertuples(index=False):
        ws.append(list(rec))
    wb.save(tmp / "titled.xlsx")
    with pytest.raises(InputError, match="merged or multi-row header"):
        ingest_zones(_zone_spec(cfg, tmp / "titled.xlsx"), regions=regions)
    got = ingest_zones(_zone_spec(cfg, tmp / "titled.xlsx", header_row=2), regions=regions)
    assert len(got) == len(raw)
    # errors on such a file report spreadsheet rows counted from the top of the sheet
    ws.cell(row=5, column=3, value="77")
    wb.save(tmp / "titled.xlsx")
    with pytest.raises(InputError) as info:
        ingest_zones(_zone_spec(cfg, tmp / "titled.xlsx", header_row=2), regions=regions)
    assert info.value.rows == [5]


def test_gbk_file_reads_when_declared(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    path = Path(cfg["inputs"]["regions"]["path"])
    path.write_bytes(path.read_text(encoding="utf-8").replace("Pref", "地级市").encode("gbk"))
    with pytest.raises(InputError, match="cannot decode"):
        _regions(tmp, cfg)
    cfg["inputs"]["regions"]["encoding"] = "gbk"
    regions = _regions(tmp, cfg)
    assert regions["name"].str.contains("地级市").any()


def test_read_source_keeps_codes_as_text(tmp_path: Path) -> None:
    p = tmp_path / "codes.csv"
    p.write_text("code,v\n011,1\n", encoding="utf-8")
    frame = read_source(SourceSpec(path=p))
    assert frame.loc[0, "code"] == "011"


def test_spine_outputs_are_byte_identical_across_runs(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    first = run_spine(cfg, tmp / "a")
    second = run_spine(cfg, tmp / "b")
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key


def test_contract_doc_is_current(repo_dir: Path) -> None:
    doc = repo_dir / "docs" / "data_contract.md"
    assert doc.read_text(encoding="utf-8") == contract_markdown() + "\n", (
        "regenerate: python -m zonespill.contract"
    )
