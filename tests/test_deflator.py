"""Deflator input: real per-capita series and a price-basis label on every region-year."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zonespill.config import validate_config
from zonespill.errors import ConfigError, InputError
from zonespill.steps import ingest_panel_step, ingest_regions_step, run_spine


def _with_cpi(cfg: dict[str, Any]) -> pd.DataFrame:
    path = Path(cfg["inputs"]["panel"]["path"])
    p = pd.read_csv(path, dtype=str)
    # region-specific inflation: 2% a year for code 11, 5% for the others, index 50 in 2000
    rate = np.where(p["code"] == "11", 1.02, 1.05)
    p["cpi"] = [f"{50 * r ** (int(y) - 2000):.6f}" for r, y in zip(rate, p["year"], strict=True)]
    p.to_csv(path, index=False)
    return p


def test_panel_column_deflator_gives_real_series_and_label(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    _with_cpi(cfg)
    cfg["inputs"]["deflator"] = {"column": "cpi", "base_year": 2005, "name": "CPI"}
    validate_config(cfg)
    paths = run_spine(cfg, tmp / "results")
    ry = pd.read_parquet(paths["region_year"]).set_index(["region_id", "year"])
    r = ry.loc[("11", 2008)]
    assert r.price_index == pytest.approx(100 * 1.02**3)
    assert r.gdp_pc == pytest.approx(r.gdp_pc_nominal / 1.02**3)
    assert ry.loc[("12", 2005), "gdp_pc"] == pytest.approx(ry.loc[("12", 2005), "gdp_pc_nominal"])
    # real growth = nominal growth minus the log inflation of the region
    g_nom = math.log(ry.loc[("12", 2008), "gdp_pc_nominal"] / ry.loc[("12", 2007), "gdp_pc_nominal"])
    assert ry.loc[("12", 2008), "growth"] == pytest.approx(g_nom - math.log(1.05))
    label = "real (base 2005, CPI; panel column cpi)"
    assert set(ry["price_basis"]) == {label}
    assert json.loads(paths["summary"].read_text(encoding="utf-8"))["price_basis"] == label


def test_national_index_table_and_missing_base_year(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    reg = tmp / "r.parquet"
    ingest_regions_step(cfg["inputs"]["regions"], out=reg)
    table = tmp / "deflator.csv"
    pd.DataFrame({"yr": range(2000, 2011), "gdp_deflator": [80 + 2 * k for k in range(11)]}).to_csv(
        table, index=False
    )
    defl = {
        "path": str(table),
        "level": "national",
        "base_year": 2010,
        "columns": {"year": "yr", "index": "gdp_deflator"},
    }
    panel = ingest_panel_step(cfg["inputs"]["panel"], regions=reg, out=tmp / "p.parquet", deflator=defl)
    row = panel[(panel.region_id == "13") & (panel.year == 2005)].iloc[0]
    assert row.price_index == pytest.approx(100 * 90 / 100)
    assert row.price_basis == "real (base 2010, price index; national index deflator.csv)"
    defl["base_year"] = 1999
    with pytest.raises(InputError, match="no price index in the base year 1999 for \\(national\\)"):
        ingest_panel_step(cfg["inputs"]["panel"], regions=reg, out=tmp / "p.parquet", deflator=defl)


def test_regional_index_table_needs_every_region_in_the_base_year(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    reg = tmp / "r.parquet"
    ingest_regions_step(cfg["inputs"]["regions"], out=reg)
    rows = [
        (r, y, 100.0 + y - 2005)
        for r in ("11", "12", "13", "21", "22", "23", "31")
        for y in range(2000, 2011)
    ]
    frame = pd.DataFrame(rows, columns=["region_id", "year", "index"])
    table = tmp / "rdefl.csv"
    frame[~((frame.region_id == "31") & (frame.year == 2005))].to_csv(table, index=False)
    defl = {"path": str(table), "level": "region", "base_year": 2005}
    with pytest.raises(InputError, match="base year 2005 for 31"):
        ingest_panel_step(cfg["inputs"]["panel"], regions=reg, out=tmp / "p.parquet", deflator=defl)
    frame.to_csv(table, index=False)
    panel = ingest_panel_step(cfg["inputs"]["panel"], regions=reg, out=tmp / "p.parquet", deflator=defl)
    assert panel.loc[panel.year == 2007, "price_index"].tolist() == [102.0] * 7


def test_missing_index_is_named_by_the_balance_check(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    p = _with_cpi(cfg)
    p.loc[(p["code"] == "22") & (p["year"] == "2009"), "cpi"] = ""
    p.to_csv(cfg["inputs"]["panel"]["path"], index=False)
    reg = tmp / "r.parquet"
    ingest_regions_step(cfg["inputs"]["regions"], out=reg)
    with pytest.raises(InputError, match="22: price_index missing in 2009"):
        ingest_panel_step(
            cfg["inputs"]["panel"],
            regions=reg,
            out=tmp / "p.parquet",
            analysis=cfg["analysis"],
            deflator={"column": "cpi", "base_year": 2005},
        )


def test_nominal_without_deflator_and_schema(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    paths = run_spine(cfg, tmp / "results")
    ry = pd.read_parquet(paths["region_year"])
    assert set(ry["price_basis"]) == {"nominal"}
    assert np.allclose(ry["gdp_pc"], ry["gdp_pc_nominal"], equal_nan=True)
    cfg["inputs"]["deflator"] = {"column": "cpi"}
    with pytest.raises(ConfigError, match=r"inputs\.deflator"):
        validate_config(cfg)
    cfg["inputs"]["deflator"] = {"column": "cpi", "path": "x.csv", "base_year": 2005}
    with pytest.raises(ConfigError, match=r"inputs\.deflator"):
        validate_config(cfg)
