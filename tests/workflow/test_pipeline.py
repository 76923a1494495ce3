"""The whole DAG on the tiny .test configuration: runs, is idempotent, reruns only what changed,
and gives byte-identical outputs with 1 or 2 cores."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def run(workdir: Path, *extra: str, cores: int = 2, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / ".test/config.yaml"),
        "--cores",
        str(cores),
        *extra,
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def digests(root: Path) -> dict[str, str]:
    out = {}
    for sub in ("tables", "figures", "indicators", "canonical", "weights"):
        for p in sorted((root / "results" / sub).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    out["results/provenance.json"] = hashlib.sha256(
        (root / "results/provenance.json").read_bytes()
    ).hexdigest()
    return out


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dag2")
    shutil.copytree(REPO / ".test", work / ".test")
    run(work, cores=2)
    return work


def test_dag_produces_tables_figures_and_provenance(first_run: Path) -> None:
    res = first_run / "results"
    for table in ("T1", "T2", "T3"):
        for ext in ("tex", "md", "csv", "html"):
            text = (res / "tables" / f"{table}.{ext}").read_text(encoding="utf-8")
            assert f"Table {table}" in text and "provenance sha256:" in text
    for md in sorted((res / "tables").glob("*.md")):  # every table on the data: nominal or real
        if not md.stem.startswith("M"):
            text = md.read_text(encoding="utf-8")
            assert "nominal" in text or "real (" in text, md.name
    assert (res / "figures/F1_sigma.png").stat().st_size > 1000
    assert (res / "figures/F1_sigma.pdf").read_bytes().startswith(b"%PDF")
    assert (res / "provenance.json").exists()
    assert list((res / "logs").glob("*.log")) and list((res / "benchmarks").glob("*.tsv"))


def test_second_run_does_nothing(first_run: Path) -> None:
    before = digests(first_run)
    proc = run(first_run)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert digests(first_run) == before


def test_changing_one_input_reruns_only_downstream(first_run: Path) -> None:
    # Snakemake compares checksums of small inputs, so a bare `touch` (same bytes) reruns nothing;
    # a real edit reruns exactly the rules downstream of the file.
    pairings = first_run / ".test/data/pairings.csv"
    original = pairings.read_bytes()
    time.sleep(1.1)
    pairings.write_text(original.decode("utf-8").replace("2006,2009", "2006,2010"), encoding="utf-8")
    proc = run(first_run, "--dry-run", "--quiet", "rules")
    text = proc.stdout + proc.stderr
    for rule in ("ingest_collaborations", "indicators", "table_T3"):
        assert rule in text, text
    for rule in ("ingest_regions", "ingest_panel", "ingest_zones", "weights"):
        assert rule not in text, text
    pairings.write_bytes(original)  # back to the original bytes: outputs return to the first run's
    run(first_run)


def test_one_and_two_cores_give_identical_outputs(first_run: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO / ".test", tmp_path / ".test")
    run(tmp_path, cores=1)
    assert digests(tmp_path) == digests(first_run)


def test_bad_input_fails_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    shutil.copytree(REPO / ".test", tmp_path / ".test")
    panel = tmp_path / ".test/data/panel.csv"
    lines = panel.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[3], "n/a")
    panel.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run(tmp_path, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results/logs/ingest_panel.log").read_text(encoding="utf-8")
    assert "panel.csv" in log and "row(s) 6" in log and "column 'gdp_new'" in log
    assert not (tmp_path / "results/canonical/panel.parquet").exists()
    assert not (tmp_path / "results/tables/T1.csv").exists()


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_every_latex_table_compiles(first_run: Path, tmp_path: Path) -> None:
    """Each generated .tex table compiles with pdfLaTeX and the packages its header comment names."""
    from zonespill.tables import tex_preamble

    failures = []
    for tex in sorted((first_run / "results/tables").glob("*.tex")):
        doc = tmp_path / f"{tex.stem}_doc.tex"
        preamble = tex_preamble(tex.read_text(encoding="utf-8")).replace("\n", "")
        doc.write_text(
            f"\\documentclass{{article}}{preamble}\\usepackage[margin=1cm,landscape]{{geometry}}"
            f"\\begin{{document}}\\input{{{tex}}}\\end{{document}}\n",
            encoding="utf-8",
        )
        proc = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
            failures.append(f"{tex.name}: {errors[:2]}")
    assert not failures, failures


def test_paper_and_replication_package_from_the_test_run(first_run: Path) -> None:
    """`make paper` / `make package` on the .test run: every declared table and figure in main.tex,
    exactly the references they use, and an archive whose README has the data editor's sections."""
    import re
    import tarfile

    from zonespill import citations, paper

    run(first_run, "paper", "replication_package")
    res = first_run / "results"
    tex = (res / "paper/main.tex").read_text(encoding="utf-8")
    summary = json.loads((res / "run_summary.json").read_text(encoding="utf-8"))
    positions = [tex.index(f"\\input{{../tables/{t['id']}.tex}}") for t in summary["tables"]]
    assert positions == sorted(positions)  # declared order
    assert "{unit" not in tex  # titles carry the study's unit names
    bib = (res / "paper/references.bib").read_text(encoding="utf-8")
    bib_keys = set(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    cited = {k for line in tex.splitlines() if line.startswith("\\nocite") for k in line[8:-1].split(",")}
    assert bib_keys == cited and {"callaway2021", "borusyak2024", "sun2021", "phillips2007"} <= bib_keys
    assert bib_keys <= set(citations.REFERENCES)
    # every estimated table's notes name the references of its methods
    assert "Callaway and Sant'Anna (2021)" in (res / "tables/D1.md").read_text(encoding="utf-8")
    assert "Phillips and Sul (2007)" in (res / "tables/C4.md").read_text(encoding="utf-8")
    readme = (res / "replication/README.md").read_text(encoding="utf-8")
    headings = {h.strip("# ").strip() for h in readme.splitlines() if h.startswith("#")}
    assert set(paper.README_SECTIONS) <= headings
    digest, name = (res / "replication.tar.gz.sha256").read_text(encoding="utf-8").split()
    assert name == "replication.tar.gz"
    assert digest == hashlib.sha256((res / "replication.tar.gz").read_bytes()).hexdigest()
    with tarfile.open(res / "replication.tar.gz") as tar:
        names = set(tar.getnames())
    engine = tex.splitlines()[0].removeprefix("% !TEX program = ")
    if shutil.which(engine) and shutil.which("bibtex"):  # compiles with the engine it names
        for cmd in ([engine, "-interaction=nonstopmode", "-halt-on-error", "main"], ["bibtex", "main"],
                    [engine, "-interaction=nonstopmode", "-halt-on-error", "main"]):
            proc = subprocess.run(cmd, cwd=res / "paper", capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, (cmd, proc.stdout[-3000:])
        assert (res / "paper/main.pdf").stat().st_size > 10_000
    assert {"replication/requirements.lock", "replication/config.yaml", "replication/inputs.sha256",
            "replication/outputs/tables/D1.csv", "replication/outputs/paper/main.tex"} <= names
