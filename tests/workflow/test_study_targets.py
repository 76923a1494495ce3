"""The Snakemake targets follow from the declared study: a table removed from the YAML loses its
rule and its outputs; a user-declared table gets its own rule; a bad declaration stops the run
with one line naming the key."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = [pytest.mark.workflow]


def dry_run(tmp_path: Path, study: dict | None, *extra: str) -> subprocess.CompletedProcess[str]:
    if not (tmp_path / ".test").exists():
        shutil.copytree(REPO / ".test", tmp_path / ".test")
    config = yaml.safe_load((REPO / ".test/config.yaml").read_text(encoding="utf-8"))
    if study is not None:
        config["study"] = study
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(cfg),
        "--cores",
        "1",
        "--dry-run",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_removing_a_table_removes_its_rule_and_outputs(tmp_path: Path) -> None:
    full = dry_run(tmp_path, None)
    assert full.returncode == 0, full.stderr[-3000:]
    assert "table_D5" in full.stdout and "results/tables/D5.csv" in full.stdout
    fewer = dry_run(tmp_path, {"exclude": ["D5", "M1"]})
    assert fewer.returncode == 0, fewer.stderr[-3000:]
    text = fewer.stdout
    assert "table_D5" not in text and "results/tables/D5.csv" not in text
    assert "table_M1" not in text and "mc_chunk" not in text  # the Monte Carlo study is optional
    assert "table_D4" in text and "run_summary" in text


def test_a_user_declared_table_gets_its_own_rule(tmp_path: Path) -> None:
    study = {
        "tables": [
            {
                "id": "U1",
                "family": "did",
                "design": "staggered",
                "outcome": "log_gdp_pc",
                "treatments": ["any"],
                "covariates": ["population"],
                "columns": [{"estimator": "twfe"}, {"estimator": "cs", "sample": {"years": [2003, 2009]}}],
            },
            {"id": "T1", "family": "descriptives", "design": "summary", "variables": ["gdp_pc"]},
        ]
    }
    proc = dry_run(tmp_path, study)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "table_U1" in proc.stdout and "results/tables/U1.csv" in proc.stdout
    assert "table_D1" not in proc.stdout and "table_T3" not in proc.stdout


def test_a_bad_declaration_names_the_key(tmp_path: Path) -> None:
    study = {
        "tables": [
            {
                "id": "U1",
                "family": "did",
                "design": "staggered",
                "outcome": "y",
                "treatments": ["any"],
                "columns": [{"estimator": "ols"}],
            }
        ]
    }
    proc = dry_run(tmp_path, study)
    assert proc.returncode != 0
    assert "study.tables.U1.columns.0.estimator" in proc.stdout + proc.stderr
