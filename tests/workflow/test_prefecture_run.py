"""The second CI run: `.test/prefecture/config.yaml` as a user outside the project would run it —
prefecture level, panel from a Stata file, pairings from an Excel file with a title row, a flows
file, the bundled declaration plus a user DiD table (P1) and a user spatial table (P2), strict."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def prefecture_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("prefecture")
    shutil.copytree(REPO / ".test", work / ".test")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
         "--configfile", str(work / ".test/prefecture/config.yaml"), "--cores", "2"],
        capture_output=True, text=True, timeout=1500, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    return work / "results"


def test_every_declared_table_is_estimated(prefecture_run: Path) -> None:
    summary = json.loads((prefecture_run / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["strict"] is True
    statuses = {t["id"]: t["status"] for t in summary["tables"]}
    assert {"D1", "D3", "S1", "C3", "P1", "P2", "P3"} <= set(statuses)
    assert set(statuses.values()) == {"estimated"}, statuses


def test_user_tables_have_estimates_and_prefecture_labels(prefecture_run: Path) -> None:
    indicators = json.loads((prefecture_run / "indicators/summary.json").read_text(encoding="utf-8"))
    assert indicators["level"] == "prefecture" and indicators["ties"] > 0
    for tid in ("P1", "P2", "D1", "S1"):
        text = (prefecture_run / f"tables/{tid}.md").read_text(encoding="utf-8")
        assert "prefecture" in text, tid
        assert "31 provinces" not in text and "provinces" not in text.replace("province_", ""), tid
    p1 = pd.read_csv(prefecture_run / "tables/P1.csv", dtype=str)
    cells = p1.iloc[:, 1:].to_numpy().ravel()
    numbers = [c for c in cells if isinstance(c, str) and any(ch.isdigit() for ch in c)]
    assert numbers, "P1 holds no estimate"
    region_year = pd.read_parquet(prefecture_run / "indicators/region_year.parquet")
    assert region_year["price_basis"].str.startswith("real").all()  # the deflator was applied
    for tid in ("D1", "C5", "P1", "P2"):  # and every table says so
        assert "real (base 2005" in (prefecture_run / f"tables/{tid}.md").read_text(encoding="utf-8"), tid
    assert any(c.startswith("flow_") for c in region_year.columns)  # flow indicators computed


def test_flow_pair_table_estimates_each_flow_kind(prefecture_run: Path) -> None:
    """P3: pair-level DiD with the two-way flow index as outcome, one row per flow kind."""
    p3 = pd.read_csv(prefecture_run / "tables/P3.csv", dtype=str)
    kinds = set(pd.read_parquet(prefecture_run / "indicators/flow_pair_year.parquet")["kind"].astype(str))
    rows = {str(c) for c in p3.iloc[:, 0].dropna()}
    assert kinds <= rows, (kinds, rows)
    cells = p3.iloc[:, 1:].to_numpy().ravel()
    numbers = [c for c in cells if isinstance(c, str) and any(ch.isdigit() for ch in c)]
    assert numbers, "P3 holds no estimate"
    text = (prefecture_run / "tables/P3.md").read_text(encoding="utf-8")
    assert "two-way flow index" in text and "prefectures" in text
