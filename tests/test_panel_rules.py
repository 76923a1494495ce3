"""Panel balance and unknown region codes: explicit rules, named units and years, drop records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from zonespill.errors import ConfigError, InputError
from zonespill.ingest import check_balance, code_hint
from zonespill.steps import ingest_collaborations_step, ingest_panel_step, ingest_regions_step


def _setup(tiny: tuple[Path, dict[str, Any]]) -> tuple[Path, dict[str, Any], Path]:
    tmp, cfg = tiny
    reg = tmp / "r.parquet"
    ingest_regions_step(cfg["inputs"]["regions"], out=reg)
    return tmp, cfg, reg


def test_code_hints() -> None:
    known = {"11", "110100", "110200", "130100"}
    assert "110100" in code_hint("110000", known) and "province-level code" in code_hint("110000", known)
    assert "2-digit province code" in code_hint("13", {"130100"})
    assert "decimal" in code_hint("110100.0", known)
    assert code_hint("990000", known) == ""


def test_unknown_panel_code_error_names_rows_and_hints(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg, reg = _setup(tiny)
    path = Path(cfg["inputs"]["panel"]["path"])
    p = pd.read_csv(path, dtype=str)
    p.loc[p["code"] == "12", "code"] = "120000"
    p.to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        ingest_panel_step(cfg["inputs"]["panel"], regions=reg, out=tmp / "p.parquet")
    msg = str(info.value)
    assert (
        "unknown region code(s) 120000" in msg
        and "Hint: 120000 looks like the province-level code of 12" in msg
    )
    assert info.value.rows == list(range(13, 24)) and info.value.column == "code"
    cfg["inputs"]["panel"]["unknown_regions"] = "drop"
    panel = ingest_panel_step(cfg["inputs"]["panel"], regions=reg, out=tmp / "p.parquet")
    assert "12" not in set(panel["region_id"]) and panel["region_id"].nunique() == 6
    drops = json.loads((tmp / "panel_drops.json").read_text(encoding="utf-8"))
    assert drops[0]["table"] == "panel" and drops[0]["rows"] == list(range(13, 24))
    assert drops[0]["detail"] == ["120000: years 2000–2010"]


def test_unbalanced_panel_error_drop_and_allow(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg, reg = _setup(tiny)
    path = Path(cfg["inputs"]["panel"]["path"])
    p = pd.read_csv(path, dtype=str)
    p.loc[(p["code"] == "13") & p["year"].isin(["2005", "2006"]), "pop"] = ""
    p = p[~((p["code"] == "21") & (p["year"] == "2010"))]
    p.to_csv(path, index=False)
    opts = cfg["inputs"]["panel"]
    with pytest.raises(InputError) as info:
        ingest_panel_step(opts, regions=reg, out=tmp / "p.parquet", analysis=cfg["analysis"])
    msg = str(info.value)
    assert "2 unit(s) lack data: 13: population missing in 2005–2006; 21: no row in 2010" in msg
    opts["balance"] = "drop_incomplete"
    panel = ingest_panel_step(opts, regions=reg, out=tmp / "p.parquet", analysis=cfg["analysis"])
    assert sorted(panel["region_id"].unique()) == ["11", "12", "22", "23", "31"]
    drops = json.loads((tmp / "panel_drops.json").read_text(encoding="utf-8"))
    assert drops[0]["detail"] == ["13: population missing in 2005–2006", "21: no row in 2010"]
    assert "drop_incomplete" in drops[0]["reason"]
    # outside the analysis years nothing is required: 2003-2004 only
    opts["balance"] = "error"
    panel = ingest_panel_step(
        opts, regions=reg, out=tmp / "p.parquet", analysis={"first_year": 2003, "last_year": 2004}
    )
    assert panel["region_id"].nunique() == 7
    opts["balance"] = "allow"
    panel = ingest_panel_step(opts, regions=reg, out=tmp / "p.parquet", analysis=cfg["analysis"])
    assert panel["region_id"].nunique() == 7
    assert (
        "kept incomplete" in json.loads((tmp / "panel_drops.json").read_text(encoding="utf-8"))[0]["reason"]
    )


def test_check_balance_rejects_unknown_rule() -> None:
    frame = pd.DataFrame({"region_id": ["a"], "year": [2000], "gdp": [1.0], "population": [1.0]})
    with pytest.raises(ConfigError, match=r"inputs\.panel\.balance"):
        check_balance(frame, years=(2000, 2000), rule="fill", required=["gdp"], source="x")


def test_unknown_collaboration_codes(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg, reg = _setup(tiny)
    path = Path(cfg["inputs"]["collaborations"]["path"])
    c = pd.read_csv(path, dtype=str)
    c.loc[0, "receiver"] = "230000"
    c.to_csv(path, index=False)
    opts = cfg["inputs"]["collaborations"]
    with pytest.raises(
        InputError, match=r"230000.*Hint: 230000 looks like the province-level code of 23"
    ) as info:
        ingest_collaborations_step(opts, regions=reg, out=tmp / "c.parquet", drops=tmp / "d.json")
    assert info.value.rows == [2] and info.value.column == "receiver"
    opts["unknown_regions"] = "drop"
    collabs = ingest_collaborations_step(opts, regions=reg, out=tmp / "c.parquet", drops=tmp / "d.json")
    assert "C0002" not in set(collabs["collab_id"]) and len(collabs) == 4
    drops = json.loads((tmp / "d.json").read_text(encoding="utf-8"))
    assert [d["rows"] for d in drops] == [[7], [2]]
