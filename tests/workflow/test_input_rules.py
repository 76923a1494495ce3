"""Every file the config names is a rule input and hashed in provenance.json: editing any one of
them reruns exactly the rules downstream of it (issue 10, part 2)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

# The spine plus the optional flows table; tables and estimators are not needed to see the wiring.
TARGETS = ("results/provenance.json", "results/indicators/summary.json", "results/canonical/flows.parquet")

# The queen links of the six grid provinces plus the island 31 tied to 13 (a valid weights file).
GRID = [
    ("11", "12"),
    ("12", "13"),
    ("11", "21"),
    ("12", "22"),
    ("13", "23"),
    ("21", "22"),
    ("22", "23"),
    ("11", "22"),
    ("12", "21"),
    ("12", "23"),
    ("13", "22"),
    ("13", "31"),
]


def run(work: Path, cfg: Path, *extra: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [
            SNAKEMAKE,
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(work),
            "--configfile",
            str(cfg),
            "--cores",
            "2",
            *TARGETS,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=work,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    work = tmp_path_factory.mktemp("inputs")
    shutil.copytree(REPO / ".test", work / ".test")
    data = work / ".test/data"
    with open(data / "flows.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["from", "to", "year", "kind", "amount"])
        w.writerows([["11", "23", 2005, "investment", 10.5], ["12", "22", 2006, "patents", 3]])
    with open(data / "weights.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["i", "j", "w"])
        w.writerows([(a, b, 1) for a, b in GRID] + [(b, a, 1) for a, b in GRID])
    config = yaml.safe_load((work / ".test/config.yaml").read_text(encoding="utf-8"))
    config["inputs"]["flows"] = {
        "path": ".test/data/flows.csv",
        "columns": {"origin_id": "from", "destination_id": "to", "value": "amount"},
    }
    config["weights"] = {"kind": "file", "file": {"path": ".test/data/weights.csv"}, "row_standardise": True}
    cfg = work / ".test/inputs.yaml"
    cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
    run(work, cfg)
    files = {
        "regions": ".test/data/prefectures.csv",
        "panel": ".test/data/panel.csv",
        "zones": ".test/data/zones.csv",
        "collaborations": ".test/data/pairings.csv",
        "flows": ".test/data/flows.csv",
        "weights": ".test/data/weights.csv",
    }
    return work, cfg, files


def test_every_named_file_is_hashed(built: tuple[Path, Path, dict[str, str]]) -> None:
    import hashlib

    work, _, files = built
    prov = json.loads((work / "results/provenance.json").read_text(encoding="utf-8"))
    by_path = {Path(v["path"]).name: v["sha256"] for v in prov["inputs"].values()}
    for rel in files.values():
        assert by_path[Path(rel).name] == hashlib.sha256((work / rel).read_bytes()).hexdigest(), rel
    assert (work / "results/canonical/flows.parquet").is_file()


SPINE = (
    "ingest_regions",
    "ingest_panel",
    "ingest_zones",
    "ingest_collaborations",
    "ingest_flows",
    "weights",
    "indicators",
    "provenance",
)
RERUN = {
    "regions": set(SPINE),
    "panel": {"ingest_panel", "weights", "indicators", "provenance"},
    "zones": {"ingest_zones", "indicators", "provenance"},
    "collaborations": {"ingest_collaborations", "indicators", "provenance"},
    "flows": {"ingest_flows", "indicators", "provenance"},  # the indicators read the flows
    "weights": {"weights", "indicators", "provenance"},
}


@pytest.mark.parametrize("label", list(RERUN))
def test_editing_a_file_reruns_its_rules(built: tuple[Path, Path, dict[str, str]], label: str) -> None:
    work, cfg, files = built
    path = work / files[label]
    original = path.read_bytes()
    time.sleep(1.1)
    path.write_bytes(original + b"\n")  # new bytes (Snakemake checksums small files, so touch is not enough)
    try:
        text = run(work, cfg, "--dry-run", "--quiet", "rules")
    finally:
        path.write_bytes(original)
    listed = {line.split()[0] for line in text.splitlines() if line.split() and line.split()[0] in SPINE}
    assert listed == RERUN[label], (label, text)
