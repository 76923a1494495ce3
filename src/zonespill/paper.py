"""A paper skeleton and a replication package built from a finished run.

Both read only what a run wrote (tables, figures, provenance, benchmark records) and the
declared list of outputs; they estimate nothing. :func:`write_paper` writes ``main.tex`` (every
declared table and figure in order, the preamble they need, the bibliography, a generated data
and methods appendix) plus ``main.md``/``main.html`` with the same content for readers without
TeX. :func:`write_replication_package` writes a folder laid out as a journal's data editor
expects (README after the AEA Data Editor template, lock file, exact config, checksums, outputs)
and one deterministic archive with its sha256.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import io
import re
import shutil
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from zonespill import __version__, citations
from zonespill.errors import InputError
from zonespill.io import atomic_path, write_text
from zonespill.provenance import read_provenance, read_provenance_hash, sha256_file

__all__ = [
    "DESIGN_METHODS",
    "PaperItem",
    "items_from_study",
    "latex_requirements",
    "write_paper",
    "write_replication_package",
]

#: Environments and commands a generated table may use -> the package that provides them.
_LATEX_PACKAGES: dict[str, str] = {
    r"\toprule": "booktabs",
    r"\midrule": "booktabs",
    r"\begin{longtable}": "longtable",
    r"\begin{tabularx}": "tabularx",
    r"\begin{threeparttable}": "threeparttable",
    r"\makecell": "makecell",
    r"\multirow": "multirow",
    r"\includegraphics": "graphicx",
    r"\begin{landscape}": "pdflscape",
    r"\rowcolor": "xcolor",
    ">{": "array",
}
_REQUIRES = re.compile(r"\\usepackage(?:\[[^\]]*\])?\{([^}]+)\}")
# CJK Unified Ideographs (+ extension A), CJK punctuation, full-width forms.
_CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


@dataclass(frozen=True)
class PaperItem:
    """One declared output, in the order the paper shows it.

    ``methods`` are keys of :data:`zonespill.citations.METHOD_REFERENCES` (the estimators,
    inference methods and data behind the item); ``references`` are extra reference keys.
    """

    id: str
    title: str
    kind: Literal["table", "figure"] = "table"
    methods: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    files: tuple[str, ...] = field(default=())  # figure stems or table ids when they differ from id
    rule: str = ""  # the workflow rule that writes it (for the replication package's map)

    def reference_keys(self) -> list[str]:
        keys = citations.references_for(self.methods)
        return keys + [k for k in self.references if k not in keys]


#: Methods behind each declared design (keys of :data:`zonespill.citations.METHOD_REFERENCES`),
#: before the per-column estimators and options are added.
DESIGN_METHODS: dict[str, tuple[str, ...]] = {
    "summary": (),
    "dispersion": ("sigma",),
    "panel_ols": ("panel_beta",),
    "staggered": (),
    "pairs": ("cs", "bjs"),
    "spillover": ("cs",),
    "bacon": ("bacon",),
    # spatial.jackknife / dynamic / se_type = qml are on by default (family options)
    "sdm": ("sdm", "sar", "impacts", "half_panel_jackknife", "dynamic_spatial", "qml_sandwich"),
    "impacts": ("sdm", "impacts", "half_panel_jackknife", "dynamic_spatial", "qml_sandwich"),
    "lm": ("lm_tests",),
    "compare": ("sar", "sem", "sdm", "sdem", "slx", "qml_sandwich"),
    "sigma": ("sigma",),
    "beta": ("beta", "sar", "sem", "impacts", "qml_sandwich"),
    "panel": ("panel_beta", "sdm", "impacts", "half_panel_jackknife", "dynamic_spatial", "qml_sandwich"),
    "clubs": ("clubs", "hp_filter"),
    "club_members": ("clubs", "hp_filter"),
    "club_ties": ("clubs",),
    "m1": ("cs", "bjs", "sar"),
}
#: Option values (anywhere in a table's declaration or its columns) that add a method.
OPTION_METHODS: dict[str, str] = {
    "wild": "wild",
    "ri": "ri",
    "half_panel_jackknife": "half_panel_jackknife",
    "qml": "qml_sandwich",
    "honest_did": "honest_did",
}


def _walk(node: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key), value
            yield from _walk(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _walk(value)


def items_from_study(tables: Sequence[Mapping[str, Any]], *, bundled_data: bool = False) -> list[PaperItem]:
    """Paper items (tables, then each table's figures) from declared tables, in declaration order.

    Methods come from the design, every column's ``estimator``, and option values that name an
    inference method or correction (``inference: wild``, ``bias_correction: half_panel_jackknife``,
    ``dynamic: true``, ``sensitivity``/``honest_did``). With ``bundled_data`` every item also cites
    the bundled data sources.
    """
    data = ("bundled_panel", "bundled_geography", "bundled_zones", "bundled_pairings") if bundled_data else ()
    data_keys = tuple(k for m in data for k in citations.METHOD_REFERENCES[m])
    items: list[PaperItem] = []
    for table in tables:
        methods = list(DESIGN_METHODS.get(str(table.get("design", "")), ()))
        for key, value in _walk(table):
            if key == "estimator" and isinstance(value, str) and value in citations.METHOD_REFERENCES:
                methods.append(value)
            elif isinstance(value, str) and value in OPTION_METHODS:
                methods.append(OPTION_METHODS[value])
            elif key == "dynamic" and value is True:
                methods.append("dynamic_spatial")
            elif key in ("honest_did", "sensitivity") and value:
                methods.append("honest_did")
        methods = list(dict.fromkeys(methods))
        tid, title = str(table["id"]), str(table.get("title", table["id"]))
        rule = "table_" + "".join(c if c.isalnum() else "_" for c in tid)
        items.append(PaperItem(tid, title, "table", methods=tuple(methods), references=data_keys, rule=rule))
        for fig in table.get("figures", ()) or ():
            items.append(
                PaperItem(str(fig), f"{title} (figure {fig})", "figure", methods=tuple(methods), rule=rule)
            )
    return items


def latex_requirements(tex: str) -> tuple[list[str], bool]:
    """Packages a LaTeX fragment needs (sorted) and whether it holds CJK text (needs XeLaTeX + xeCJK)."""
    needed = {pkg for token, pkg in _LATEX_PACKAGES.items() if token in tex}
    for line in tex.splitlines():
        if line.startswith("%"):  # the header comment names every package ("% Requires: ...")
            for group in _REQUIRES.findall(line):
                needed.update(p.strip() for p in group.split(",") if p.strip())
    cjk = bool(_CJK.search(tex))
    if cjk:
        needed.add("xeCJK")
    return sorted(needed), cjk


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise InputError(f"{what} not found: run the pipeline first (make run)", source=str(path))
    return path.read_text(encoding="utf-8")


def _figure_file(figures: Path, stem: str, ext: str) -> Path:
    path = figures / f"{stem}.{ext}"
    if not path.is_file():
        raise InputError(
            f"figure {stem}.{ext} not found: run the pipeline first (make run)", source=str(path)
        )
    return path


def _appendix_lines(prov: Mapping[str, Any], prov_hash: str) -> list[str]:
    config = prov.get("config", {})
    analysis = config.get("analysis", {})
    panel = config.get("inputs", {}).get("panel", {})
    lines = [
        f"Analysis level: {analysis.get('level', 'n/a')}; years {analysis.get('first_year', 'n/a')}"
        f"--{analysis.get('last_year', 'n/a')}.",
    ]
    if panel.get("vintage"):
        lines.append(f"Output series vintage: {panel['vintage']}.")
    for label, rec in sorted(prov.get("inputs", {}).items()):
        lines.append(f"Input {label}: {rec['path']} (sha256 {rec['sha256'][:16]}..., {rec['size']} bytes).")
    lines.append(f"Seeds derived from master seed {config.get('master_seed', 'n/a')}.")
    lines.append(
        f"zonespill {__version__}, git commit {prov.get('git_commit', 'n/a')}, "
        f"Python {prov.get('python', 'n/a')}; "
        f"provenance hash {prov_hash}."
    )
    return lines


def _tex_escape(text: str) -> str:
    from zonespill.tables import latex_escape

    return latex_escape(text)


def write_paper(
    items: Sequence[PaperItem],
    *,
    results_dir: str | Path,
    out_dir: str | Path,
    title: str = "Results",
    data_references: Iterable[str] = (),
) -> dict[str, Path]:
    """Write ``main.tex``, ``references.bib``, ``main.md`` and ``main.html`` under ``out_dir``.

    Tables are input from ``<results_dir>/tables/<id>.tex`` (they carry their own caption and
    ``\\label{tab:<id>}``); figures are included from ``<results_dir>/figures/<stem>.pdf`` with a
    caption and ``\\label{fig:<id>}``. The engine is XeLaTeX (with xeCJK) when any table holds
    CJK text, pdfLaTeX otherwise; ``main.tex`` names it in its first line.
    """
    results = Path(results_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prov_path = results / "provenance.json"
    prov = read_provenance(prov_path)
    prov_hash = read_provenance_hash(prov_path)
    if not items:
        raise InputError("no tables or figures declared: nothing to put in the paper", source="study")

    packages: set[str] = {"booktabs", "graphicx", "natbib", "geometry"}
    cjk = False
    bodies: list[str] = []
    md: list[str] = [f"# {title}", ""]
    keys: list[str] = []
    for item in items:
        keys += [k for k in item.reference_keys() if k not in keys]
        cite = citations.citation_note(item.reference_keys())
        if item.kind == "table":
            tex = _read(results / "tables" / f"{item.id}.tex", f"table {item.id}")
            pkgs, has_cjk = latex_requirements(tex)
            packages.update(pkgs)
            cjk = cjk or has_cjk
            bodies.append(f"% Table {item.id}: {item.title}\n\\input{{../tables/{item.id}.tex}}\n")
            md += [_read(results / "tables" / f"{item.id}.md", f"table {item.id}").rstrip(), ""]
        else:
            stems = item.files or (item.id,)
            graphics = []
            for stem in stems:
                _figure_file(results / "figures", stem, "pdf")
                png = _figure_file(results / "figures", stem, "png")
                graphics.append(f"\\includegraphics[width=\\linewidth]{{../figures/{stem}.pdf}}")
                md += [f"![{item.title}](../figures/{png.name})", ""]
            caption = _tex_escape(item.title) + (f" {_tex_escape(cite)}" if cite else "")
            bodies.append(
                "\\begin{figure}[htbp]\n\\centering\n" + "\n".join(graphics) + "\n"
                f"\\caption{{{caption}}}\n\\label{{fig:{item.id}}}\n\\end{{figure}}\n"
            )
            md[-2] = md[-2] + f"\n\n*Figure {item.id}: {item.title}*"
        if cite:
            bodies.append(f"\\noindent{{\\footnotesize {_tex_escape(cite)}}}\n")
            md += [f"*{cite}*", ""]
        bodies.append("\\clearpage\n")
    keys += [k for k in data_references if k not in keys]
    engine = "xelatex" if cjk else "pdflatex"
    preamble_packages = sorted(packages - {"xeCJK", "geometry", "natbib"})
    preamble = [
        f"% !TEX program = {engine}",
        f"% Generated by zonespill {__version__} from the run with provenance hash {prov_hash}.",
        f"% Compile: {engine} main && bibtex main && {engine} main && {engine} main",
        "\\documentclass[11pt]{article}",
        "\\usepackage[margin=2cm]{geometry}",
        *(f"\\usepackage{{{p}}}" for p in preamble_packages),
        "\\usepackage[round]{natbib}",
    ]
    if cjk:
        preamble += [
            "\\usepackage{xeCJK}",
            "% Any installed CJK font works; Fandol ships with TeX Live.",
            "\\IfFontExistsTF{Noto Serif CJK SC}{\\setCJKmainfont{Noto Serif CJK SC}}"
            "{\\setCJKmainfont{FandolSong-Regular.otf}}",
        ]
    else:
        preamble += ["\\usepackage[utf8]{inputenc}"]
    cite_all = ",".join(keys)
    from zonespill.tables import note_breaks

    # paths and hashes are long tokens: allow breaks after / _ , so no line runs into the margin
    appendix = "\n".join(
        f"\\item {note_breaks(_tex_escape(line), min_chars=12)}" for line in _appendix_lines(prov, prov_hash)
    )
    document = "\n".join(preamble) + (
        f"\n\\title{{{_tex_escape(title)}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n\n"
        + "\n".join(bodies)
        + "\n\\appendix\n\\section{Data and methods}\n\\begin{itemize}\\raggedright\n"
        + appendix
        + "\n\\end{itemize}\n"
        + (f"\\nocite{{{cite_all}}}\n" if keys else "")
        + "\\bibliographystyle{plainnat}\n\\bibliography{references}\n\\end{document}\n"
    )
    bib = citations.bibtex(keys)
    md += ["## Data and methods", "", *(f"- {line}" for line in _appendix_lines(prov, prov_hash)), ""]
    md += ["## References", "", *(f"- {_plain_reference(k)}" for k in sorted(keys)), ""]
    markdown = "\n".join(md)
    written = {}
    page = _html_page(title, items, results, md_tail=_appendix_lines(prov, prov_hash), keys=keys)
    for name, text in (
        ("main.tex", document),
        ("references.bib", bib),
        ("main.md", markdown),
        ("main.html", page),
    ):
        write_text(out / name, text)
        written[name] = out / name
    return written


def _plain_reference(key: str) -> str:
    ref = citations.REFERENCES[key]
    f = ref.fields
    where = f.get("journal") or f.get("publisher") or f.get("howpublished", "")
    doi = f" https://doi.org/{ref.doi}" if ref.doi else ""
    author = f.get("author", "").replace("{", "").replace("}", "")
    return f"{author} ({f.get('year', 'n.d.')}). {f.get('title', '')}. {where}.{doi}"


def _html_page(
    title: str, items: Sequence[PaperItem], results: Path, *, md_tail: Sequence[str], keys: Sequence[str]
) -> str:
    parts = [
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body>\n<h1>{html.escape(title)}</h1>"
    ]
    for item in items:
        if item.kind == "table":
            parts.append(_read(results / "tables" / f"{item.id}.html", f"table {item.id}"))
        else:
            for stem in item.files or (item.id,):
                parts.append(
                    f'<figure><img src="../figures/{html.escape(stem)}.png" alt="{html.escape(item.title)}">'
                    f"<figcaption>Figure {html.escape(item.id)}: {html.escape(item.title)}</figcaption>"
                    "</figure>"
                )
        note = citations.citation_note(item.reference_keys())
        if note:
            parts.append(f"<p><small>{html.escape(note)}</small></p>")
    parts.append(
        "<h2>Data and methods</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in md_tail) + "</ul>"
    )
    parts.append(
        "<h2>References</h2><ul>"
        + "".join(f"<li>{html.escape(_plain_reference(k))}</li>" for k in sorted(keys))
        + "</ul>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------- replication package

#: Sections of the README, after the AEA Data Editor's template (social-science-data-editors).
README_SECTIONS: tuple[str, ...] = (
    "Overview",
    "Data Availability and Provenance Statements",
    "Statement about Rights",
    "Summary of Availability",
    "Details on each Data Source",
    "Dataset list",
    "Computational requirements",
    "Software Requirements",
    "Controlled Randomness",
    "Memory, Runtime, Storage Requirements",
    "Description of programs/code",
    "Instructions to Replicators",
    "List of tables and programs",
    "References",
)


def _benchmarks(results: Path) -> tuple[float, float, int]:
    """Total wall seconds, peak RSS (MiB) and number of steps from Snakemake's benchmark records."""
    total, peak, n = 0.0, 0.0, 0
    for tsv in sorted((results / "benchmarks").glob("*.tsv")):
        with tsv.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    total += float(row.get("s", "nan"))
                    rss = row.get("max_rss", "NA")
                    peak = max(peak, float(rss)) if rss not in ("NA", "-", "") else peak
                except ValueError:
                    continue
                n += 1
    return total, peak, n


def _deterministic_tar_gz(folder: Path, archive: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(Path(folder.name) / path.relative_to(folder)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    with (
        atomic_path(archive) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        gz.write(buf.getvalue())


def write_replication_package(
    *,
    repo_dir: str | Path,
    results_dir: str | Path,
    config_file: str | Path,
    items: Sequence[PaperItem],
    out_dir: str | Path,
    cores: int = 2,
    memory_gib: int = 24,
    data_notes: Sequence[str] = (),
    bundled_data: bool = False,
) -> dict[str, Path]:
    """Write ``out_dir`` (README, lock file, config, checksums, outputs) and ``<out_dir>.tar.gz`` + sha256."""
    repo, results, out = Path(repo_dir), Path(results_dir), Path(out_dir)
    prov = read_provenance(results / "provenance.json")
    prov_hash = read_provenance_hash(results / "provenance.json")
    config = Path(config_file)
    if not config.is_file():
        raise InputError("configuration file not found", source=str(config))
    if out.exists():
        shutil.rmtree(out)
    (out / "outputs/tables").mkdir(parents=True)
    (out / "outputs/figures").mkdir(parents=True)
    shutil.copyfile(repo / "requirements.lock", out / "requirements.lock")
    shutil.copyfile(repo / "pyproject.toml", out / "pyproject.toml")
    shutil.copyfile(config, out / "config.yaml")
    shutil.copyfile(results / "provenance.json", out / "provenance.json")
    for item in items:
        if item.kind == "table":
            for src in sorted((results / "tables").glob(f"{item.id}.*")):
                shutil.copyfile(src, out / "outputs/tables" / src.name)
        else:
            for stem in item.files or (item.id,):
                for src in sorted((results / "figures").glob(f"{stem}.*")):
                    shutil.copyfile(src, out / "outputs/figures" / src.name)
    for name in ("findings.md", "run_summary.json"):
        if (results / name).is_file():
            shutil.copyfile(results / name, out / "outputs" / name)
    if (results / "paper").is_dir():  # the paper skeleton, when `make paper` has run
        (out / "outputs/paper").mkdir()
        kept = (".tex", ".bib", ".md", ".html")
        for src in sorted(p for p in (results / "paper").iterdir() if p.suffix in kept):
            shutil.copyfile(src, out / "outputs/paper" / src.name)
    inputs = prov.get("inputs", {})
    checksum_lines = [f"{rec['sha256']}  {rec['path']}" for _, rec in sorted(inputs.items())]
    (out / "inputs.sha256").write_text("\n".join(checksum_lines) + "\n", encoding="utf-8")
    outputs = sorted(p for p in (out / "outputs").rglob("*") if p.is_file())
    (out / "outputs.sha256").write_text(
        "".join(f"{sha256_file(p)}  {p.relative_to(out)}\n" for p in outputs), encoding="utf-8"
    )
    seconds, peak_mib, steps = _benchmarks(results)
    keys: list[str] = []
    for item in items:
        keys += [k for k in item.reference_keys() if k not in keys]
    readme = _replication_readme(
        prov=prov,
        prov_hash=prov_hash,
        items=items,
        seconds=seconds,
        peak_mib=peak_mib,
        steps=steps,
        cores=cores,
        memory_gib=memory_gib,
        data_notes=data_notes,
        keys=keys,
        bundled_data=bundled_data,
    )
    (out / "README.md").write_text(readme, encoding="utf-8")
    archive = out.with_name(out.name + ".tar.gz")
    _deterministic_tar_gz(out, archive)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    sha_file = archive.with_name(archive.name + ".sha256")
    sha_file.write_text(f"{digest}  {archive.name}\n", encoding="utf-8")
    return {"folder": out, "archive": archive, "sha256": sha_file, "readme": out / "README.md"}


def _replication_readme(
    *,
    prov: Mapping[str, Any],
    prov_hash: str,
    items: Sequence[PaperItem],
    seconds: float,
    peak_mib: float,
    steps: int,
    cores: int,
    memory_gib: int,
    data_notes: Sequence[str],
    keys: Sequence[str],
    bundled_data: bool = False,
) -> str:
    packages = prov.get("packages", {})
    inputs = prov.get("inputs", {})
    config = prov.get("config", {})
    lines = [
        "# Replication package",
        "",
        "## Overview",
        "",
        f"The code in this package (zonespill {__version__}, git commit {prov.get('git_commit', 'n/a')}) "
        "constructs "
        f"the analysis data from {len(inputs)} input files and produces {len(items)} tables and figures "
        "with one "
        "Snakemake workflow (`make run`). The provenance hash of the run that produced the outputs "
        "included here is "
        f"`{prov_hash}`; every table footer carries it.",
        "",
        "## Data Availability and Provenance Statements",
        "",
        "### Statement about Rights",
        "",
        "- [x] I certify that the author(s) of the manuscript have legitimate access to and permission "
        "to use the "
        "data used in this manuscript.",
        "- [x] I certify that the author(s) of the manuscript have documented permission to "
        "redistribute/publish the "
        "data contained within this replication package (licences below).",
        "",
        "### Summary of Availability",
        "",
        (
            "- [x] All data **are** publicly available: the bundled inputs (data/raw/china/README.md and "
            "SOURCES.md give origin and licence of each file)."
            if bundled_data
            else "- [ ] Fill in: the inputs below are the user's own; state for each whether it is public, "
            "restricted or confidential, and where and under which licence it can be obtained."
        ),
        "",
        "### Details on each Data Source",
        "",
        "| input | path | sha256 | bytes |",
        "|---|---|---|---|",
        *(
            f"| {label} | `{rec['path']}` | `{rec['sha256']}` | {rec['size']} |"
            for label, rec in sorted(inputs.items())
        ),
        "",
        *data_notes,
        "",
        "## Dataset list",
        "",
        "`inputs.sha256` lists every input file with its checksum (`sha256sum -c inputs.sha256` from the "
        "repository root verifies them).",
        "",
        "## Computational requirements",
        "",
        "### Software Requirements",
        "",
        f"- Python {prov.get('python', 'n/a')}; exact versions of every package in `requirements.lock` "
        "(installed by `make run`). Key packages: "
        + ", ".join(f"{k} {v}" for k, v in sorted(packages.items()) if v),
        "- GNU make, git. Optional: a TeX distribution for `make paper` output.",
        "",
        "### Controlled Randomness",
        "",
        f"- [x] Random seed set: every random step derives its seed from `master_seed = "
        f"{config.get('master_seed', 'n/a')}` in `config.yaml` (docs/reproducibility.md).",
        "",
        "### Memory, Runtime, Storage Requirements",
        "",
        f"- Measured on the run included here: {steps} workflow steps, {seconds:.0f} s of step wall time "
        "in total, "
        f"peak memory of one step {peak_mib:.0f} MiB (Snakemake benchmark records).",
        f"- Machine: {cores} cores, {memory_gib} GiB RAM (Linux). Storage: under 1 GB.",
        "",
        "## Description of programs/code",
        "",
        "- `Snakefile`, `workflow/rules/*.smk`: the workflow (one rule per step); "
        "`src/zonespill/`: the library.",
        "- `config.yaml`: the exact configuration of this run (declared tables and options).",
        "",
        "## Instructions to Replicators",
        "",
        "1. Clone the repository at the commit above; copy `config.yaml` to `config/config.yaml`.",
        "2. `make run` (creates a virtual environment from `requirements.lock` and runs the workflow).",
        "3. Compare `results/tables/*` with `outputs/tables/*` "
        "(`sha256sum -c outputs.sha256` after copying).",
        "",
        "## List of tables and programs",
        "",
        "Table → rule → output map (rules in `workflow/rules/*.smk`):",
        "",
        "| output | title | rule | files | methods |",
        "|---|---|---|---|---|",
    ]
    for item in items:
        files = (
            f"outputs/tables/{item.id}.*"
            if item.kind == "table"
            else ", ".join(f"outputs/figures/{s}.*" for s in (item.files or (item.id,)))
        )
        methods = citations.citation_note(item.reference_keys()).removeprefix("References: ").rstrip(".")
        lines.append(f"| {item.id} | {item.title} | `{item.rule or '—'}` | {files} | {methods or '—'} |")
    lines += ["", "## References", "", *(f"- {_plain_reference(k)}" for k in sorted(keys)), ""]
    return "\n".join(lines)
