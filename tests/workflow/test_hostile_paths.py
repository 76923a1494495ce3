"""Input paths are data, never shell: file names with spaces, quotes, `$(...)`, backticks, `;` and
non-ASCII characters run the whole DAG successfully and execute nothing."""

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

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

# One hostile name per input file; each would create a marker file if a shell ever evaluated it.
HOSTILE_NAMES = {
    "regions": "prefectures $(touch PWNED_subst).csv",
    "panel": "panel `touch PWNED_backtick`.csv",
    "zones": "zones; touch PWNED_semicolon.csv",
    "collaborations": "pairings 'quoted' \"double\" 合作 & touch PWNED_amp.csv",
}


def test_hostile_input_file_names_execute_nothing_and_run(tmp_path: Path) -> None:
    work = tmp_path / "work dir ü"  # the working directory itself has a space and non-ASCII
    shutil.copytree(REPO / ".test", work / ".test")
    config = yaml.safe_load((work / ".test/config.yaml").read_text(encoding="utf-8"))
    data = work / ".test/data"
    weird = data / "odd $(touch PWNED_dir) dir"
    weird.mkdir()
    for table, name in HOSTILE_NAMES.items():
        old = work / config["inputs"][table]["path"]
        new = weird / name
        old.rename(new)
        config["inputs"][table]["path"] = str(new.relative_to(work))
    # The Monte Carlo step reads the census and pairings files too.
    config["montecarlo"]["census_csv"] = config["inputs"]["regions"]["path"]
    config["montecarlo"]["pairings_csv"] = config["inputs"]["collaborations"]["path"]
    cfg = work / ".test/hostile config.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    before = {p.name for p in data.rglob("*")}

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
         "--configfile", str(cfg), "--cores", "2"],
        capture_output=True, text=True, timeout=900, env=env, cwd=work,
    )
    planted = sorted(str(p) for root in (work, REPO, tmp_path) for p in root.rglob("PWNED_*") if p.is_file())
    assert not planted, f"a file name was executed by a shell: {planted}"
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    # nothing the user gave was renamed, modified or removed
    assert {p.name for p in data.rglob("*")} == before
    res = work / "results"
    assert (res / "tables/T1.csv").is_file() and (res / "findings.md").is_file()
    provenance = (res / "provenance.json").read_text(encoding="utf-8")
    for name in HOSTILE_NAMES.values():
        assert name.replace('"', '\\"') in provenance, f"{name!r} missing from provenance.json"


def test_every_rule_quotes_its_paths() -> None:
    """Static guard: every {input}, {output} and {log} placeholder in a rule file is shell-quoted."""
    import re

    unquoted = [
        f"{smk.name}:{n}: {line.strip()}"
        for smk in sorted((REPO / "workflow/rules").glob("*.smk"))
        for n, line in enumerate(smk.read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("#")
        and re.search(r"\{(input|output|log)(\.[A-Za-z_][A-Za-z0-9_]*)?\}", line)
    ]
    assert not unquoted, unquoted
