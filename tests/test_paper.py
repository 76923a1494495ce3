"""Paper skeleton and replication package from a finished run (synthetic run folder)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from zonespill import paper
from zonespill.errors import InputError
from zonespill.provenance import build_provenance, write_provenance

REPO = Path(__file__).resolve().parents[1]
ITEMS = [
    paper.PaperItem("D1", "Staggered DiD", "table", methods=("cs", "sa", "wild")),
    paper.PaperItem("C4", "Convergence clubs", "table", methods=("clubs",)),
    paper.PaperItem("FD1", "Event study", "figure", methods=("cs",), files=("FD1_any",)),
]


def _tex(table_id: str, body: str) -> str:
    return (
        f"% {table_id}: generated\n% Requires \\usepackage{{booktabs}}.\n\\begin{{table}}\\caption{{x}}"
        f"\\label{{tab:{table_id}}}\\begin{{tabular}}{{ll}}\\toprule {body} \\\\ \\bottomrule\\end{{tabular}}"
        "\\end{table}\n"
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    res = tmp_path / "results"
    (res / "tables").mkdir(parents=True)
    (res / "figures").mkdir()
    (res / "benchmarks").mkdir()
    bodies = {"D1": "ATT & 0.1", "C4": "山西省 & 1"}
    for tid, body in bodies.items():
        (res / "tables" / f"{tid}.tex").write_text(_tex(tid, body), encoding="utf-8")
        (res / "tables" / f"{tid}.md").write_text(f"| {tid} |\n|---|\n| {body} |\n", encoding="utf-8")
        (res / "tables" / f"{tid}.html").write_text(
            f"<table><tr><td>{body}</td></tr></table>", encoding="utf-8"
        )
        (res / "tables" / f"{tid}.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (res / "figures/FD1_any.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (res / "figures/FD1_any.png").write_bytes(b"\x89PNG\r\n")
    (res / "benchmarks/did_region.tsv").write_text(
        "s\th:m:s\tmax_rss\tmax_vms\n12.5\t0:00:12\t300.0\t900\n", encoding="utf-8"
    )
    (res / "benchmarks/weights.tsv").write_text("s\th:m:s\tmax_rss\n2.5\t0:00:02\t150.5\n", encoding="utf-8")
    data = tmp_path / "panel.csv"
    data.write_text("id,year,y\n1,2000,1\n", encoding="utf-8")
    prov = build_provenance(
        inputs={"panel": data},
        config={"analysis": {"level": "prefecture", "first_year": 2000, "last_year": 2010}, "master_seed": 7},
        seeds={"master": 7},
        repo_dir=tmp_path,
    )
    write_provenance(res / "provenance.json", prov)
    return res


def test_latex_requirements_detects_packages_and_cjk() -> None:
    pkgs, cjk = paper.latex_requirements(
        "% Requires \\usepackage{booktabs}.\n\\begin{longtable}{ll} 海南 \\\\"
    )
    assert pkgs == ["booktabs", "longtable", "xeCJK"] and cjk
    assert paper.latex_requirements("\\toprule a") == (["booktabs"], False)


def test_paper_inputs_every_item_in_order_with_engine_and_bibliography(run_dir: Path) -> None:
    out = run_dir / "paper"
    written = paper.write_paper(ITEMS, results_dir=run_dir, out_dir=out, data_references=["nbs_provincial"])
    tex = written["main.tex"].read_text(encoding="utf-8")
    assert tex.startswith("% !TEX program = xelatex")  # C4 holds CJK text
    assert "\\usepackage{xeCJK}" in tex and "\\usepackage{booktabs}" in tex
    assert tex.index("\\input{../tables/D1.tex}") < tex.index("\\input{../tables/C4.tex}")
    assert tex.index("\\input{../tables/C4.tex}") < tex.index("\\label{fig:FD1}")
    assert "\\includegraphics[width=\\linewidth]{../figures/FD1_any.pdf}" in tex
    bib = written["references.bib"].read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M))
    expected = {
        "callaway2021",
        "santanna2020",
        "sun2021",
        "cameron2008",
        "roodman2019",
        "mackinnon2017",
        "phillips2007",
        "phillips2009",
        "sichera2019",
        "nbs_provincial",
    }
    assert keys == expected  # exactly the entries the items use
    assert "Analysis level: prefecture" in tex
    md = written["main.md"].read_text(encoding="utf-8")
    assert (
        "| D1 |" in md
        and "Sun and Abraham (2021)" in md
        and "https://doi.org/10.1016/j.jeconom.2020.09.006" in md
    )
    assert "<td>山西省 & 1</td>" in written["main.html"].read_text(encoding="utf-8")  # tables verbatim


def test_paper_is_pdflatex_without_cjk(run_dir: Path) -> None:
    written = paper.write_paper(ITEMS[:1], results_dir=run_dir, out_dir=run_dir / "p2")
    tex = written["main.tex"].read_text(encoding="utf-8")
    assert tex.startswith("% !TEX program = pdflatex") and "xeCJK" not in tex


def test_missing_table_is_a_clear_error(run_dir: Path) -> None:
    with pytest.raises(InputError, match="table T9 not found"):
        paper.write_paper([paper.PaperItem("T9", "missing")], results_dir=run_dir, out_dir=run_dir / "p3")


@pytest.mark.parametrize(("n_items", "engine"), [(1, "pdflatex"), (2, "xelatex")])
def test_paper_compiles_with_the_named_engine(run_dir: Path, n_items: int, engine: str) -> None:
    if shutil.which(engine) is None or shutil.which("bibtex") is None:
        pytest.skip(f"{engine}/bibtex not installed: the paper skeleton is not compiled here")
    # tables only: the synthetic figure file is not a real PDF
    written = paper.write_paper(ITEMS[:n_items], results_dir=run_dir, out_dir=run_dir / "paper")
    folder = written["main.tex"].parent
    assert written["main.tex"].read_text(encoding="utf-8").startswith(f"% !TEX program = {engine}")
    run = [engine, "-interaction=nonstopmode", "-halt-on-error", "main"]
    for cmd in (run, ["bibtex", "main"], run, run):
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:]
    log = (folder / "main.log").read_text(encoding="utf-8", errors="replace")
    assert "undefined" not in log  # every cited key resolved by bibtex, every reference defined
    assert "Overfull \\hbox" not in log  # tables, notes and the appendix's paths stay in the margins
    assert (folder / "main.pdf").stat().st_size > 1000


def test_replication_package_has_template_sections_checksums_and_archive(
    run_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("master_seed: 7\n", encoding="utf-8")
    out = paper.write_replication_package(
        repo_dir=REPO, results_dir=run_dir, config_file=config, items=ITEMS, out_dir=run_dir / "replication"
    )
    readme = out["readme"].read_text(encoding="utf-8")
    headings = [h.strip("# ").strip() for h in readme.splitlines() if h.startswith("#")]
    for section in paper.README_SECTIONS:
        assert section in headings, section
    assert (
        "2 workflow steps, 15 s of step wall time" in readme and "peak memory of one step 300 MiB" in readme
    )
    folder = out["folder"]
    for name in (
        "requirements.lock",
        "config.yaml",
        "inputs.sha256",
        "outputs.sha256",
        "provenance.json",
        "outputs/tables/D1.tex",
        "outputs/tables/C4.csv",
        "outputs/figures/FD1_any.pdf",
    ):
        assert (folder / name).is_file(), name
    digest, name = out["sha256"].read_text(encoding="utf-8").split()
    assert name == "replication.tar.gz"
    assert digest == hashlib.sha256(out["archive"].read_bytes()).hexdigest()
    with tarfile.open(out["archive"]) as tar:
        names = tar.getnames()
    assert "replication/README.md" in names and "replication/outputs/tables/D1.md" in names
    # deterministic: a second build gives the same archive bytes
    again = paper.write_replication_package(
        repo_dir=REPO, results_dir=run_dir, config_file=config, items=ITEMS, out_dir=run_dir / "replication"
    )
    assert again["archive"].read_bytes() == out["archive"].read_bytes()


def test_items_from_study_collect_methods_from_design_columns_and_options() -> None:
    tables = [
        {"id": "D1", "title": "DiD", "family": "did", "design": "staggered",
         "columns": [{"estimator": "cs", "inference": "wild"}, {"estimator": "sa"}], "figures": ["FD1_any"]},
        {"id": "C3", "title": "Panel beta", "family": "convergence", "design": "panel",
         "options": {"bias_correction": "half_panel_jackknife", "dynamic": True}},
    ]
    items = paper.items_from_study(tables, bundled_data=True)
    assert [(i.id, i.kind) for i in items] == [("D1", "table"), ("FD1_any", "figure"), ("C3", "table")]
    assert items[0].methods == ("cs", "wild", "sa")
    assert items[2].methods == (
        "panel_beta", "sdm", "impacts", "half_panel_jackknife", "dynamic_spatial", "qml_sandwich"
    )
    keys = items[2].reference_keys()
    assert {"dhaene2015", "yu2008", "nickell1981", "nbs_provincial", "dong2022census"} <= set(keys)


def test_latex_requirements_reads_every_package_of_the_header_comment() -> None:
    tex = "% Requires: \\usepackage{booktabs}, \\usepackage{array}, \\usepackage{graphicx}.\n"
    assert paper.latex_requirements(tex) == (["array", "booktabs", "graphicx"], False)
    assert paper.latex_requirements("\\begin{tabular}{>{\\raggedright}p{2cm}}")[0] == ["array"]
