"""Bad configs and inputs through the documented entry point (``snakemake --configfile``): one
clear line naming the file and the key (or file, row, column), never a traceback or a schema dump."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def snakemake(work: Path, cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(work)]
    return subprocess.run(
        [*cmd, "--configfile", str(cfg), "--cores", "1", *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=work,
    )


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    shutil.copytree(REPO / ".test", tmp_path / ".test")
    return tmp_path, yaml.safe_load((tmp_path / ".test/config.yaml").read_text(encoding="utf-8"))


def _set(cfg: dict[str, Any], dotted: str, value: Any) -> None:
    *head, last = dotted.split(".")
    node = cfg
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value


CONFIG_CASES = [
    ("did.n_boot", 10**9, "must be at most"),
    ("inputs.zones.header_row", 10**9, "must be at most"),
    ("montecarlo.replications", 10**9, "must be at most"),
    ("analysis.level", "district", "must be one of"),
    ("weights.kindd", "queen", "unknown config key"),
    ("output_dir", "../outside", "invalid value"),
]


@pytest.mark.parametrize(("dotted", "value", "phrase"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_error_is_one_line(
    work: tuple[Path, dict[str, Any]], dotted: str, value: Any, phrase: str
) -> None:
    tmp, cfg = work
    _set(cfg, dotted, value)
    path = tmp / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    proc = snakemake(tmp, path, "--dry-run")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if line.startswith("zonespill: config error:")]
    assert len(errors) == 1, out
    assert f"'{dotted}'" in errors[0] and str(path) in errors[0] and phrase in errors[0]
    assert "Traceback" not in out and len(out.splitlines()) < 10


def test_duplicated_yaml_key_is_an_error(work: tuple[Path, dict[str, Any]]) -> None:
    tmp, _ = work
    text = (tmp / ".test/config.yaml").read_text(encoding="utf-8")
    path = tmp / "dup.yaml"
    path.write_text(text + "master_seed: 99\n", encoding="utf-8")  # master_seed is already set above
    proc = snakemake(tmp, path, "--dry-run")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "key 'master_seed': duplicated key" in out and str(path) in out and "Traceback" not in out


def test_bad_data_file_fails_in_one_line_naming_file_row_column(work: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = work
    zones = tmp / ".test/data/zones.csv"
    zones.write_text(zones.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    proc = snakemake(tmp, path, "results/canonical/zones.parquet")
    assert proc.returncode != 0
    log = (tmp / "results/logs/ingest_zones.log").read_text(encoding="utf-8")
    assert log.count("\n") == 1 and "zones.csv" in log and "separator" in log and "row(s) 1" in log
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp / "results/canonical/zones.parquet").exists()
