# Shared definitions: output root, interpreter, JSON-encoded config sections.
import json
import sys
from pathlib import Path, PurePosixPath

from zonespill.study.spec import DESIGN_INPUTS, load_study, step_payload, study_labels

OUT = str(PurePosixPath(config["output_dir"]))
if PurePosixPath(OUT).is_absolute() or ".." in PurePosixPath(OUT).parts or PurePosixPath(OUT).parts[0] != "results":
    raise ValueError(
        f"config key 'output_dir': {OUT!r} is outside results/ — outputs must go to results/ or a folder inside it"
    )

# The interpreter running Snakemake is the project's venv; steps must use the same one.
PY = sys.executable
# PYTHONHASHSEED=0: pyfixest's results depend in the last bit on string-hash order; a fixed hash
# seed makes every step byte-reproducible across processes, cores and cluster nodes.
ZS = f"PYTHONHASHSEED=0 {PY} -m zonespill"
FORMATS = ",".join(config["tables"]["formats"])


def opts(*keys):
    """A config section as compact JSON (ASCII-escaped, so it is shell-safe when quoted with :q)."""
    node = config
    for k in keys:
        node = node[k]
    return json.dumps(node, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


INPUT_FILES = [config["inputs"][t]["path"] for t in ("regions", "panel", "zones", "collaborations")]
if "flows" in config["inputs"]:
    INPUT_FILES.append(config["inputs"]["flows"]["path"])
if "path" in (config["inputs"].get("deflator") or {}):
    INPUT_FILES.append(config["inputs"]["deflator"]["path"])
# Every other file the config names is a rule input too (and hashed by rule provenance).
WEIGHTS_FILE = [config["weights"]["file"]["path"]] if config["weights"].get("kind") == "file" else []
INPUT_FILES += WEIGHTS_FILE
INPUT_FILES += [config.get("montecarlo", {})[k] for k in ("census_csv", "pairings_csv") if k in config.get("montecarlo", {})]
INPUT_FILES = list(dict.fromkeys(INPUT_FILES))
# The declared study (config `study`, default: the bundled declaration). Every table rule and every
# target follows from it: removing a table from the declaration removes its rule and its outputs.
STUDY = load_study(config)
STUDY_TABLES = {t["id"]: t for t in STUDY.tables}
FAMILY_CATEGORY = {
    "descriptives": "Spine tables",
    "sigma": "Spine tables",
    "regression": "Spine tables",
    "did": "Difference-in-differences",
    "spatial": "Spatial panels",
    "convergence": "Convergence",
    "montecarlo": "Monte Carlo",
}
STATUS_FILES = [f"{OUT}/study/{t}.json" for t in STUDY_TABLES]
CONDA_ENV = "../envs/zonespill.yaml"


def output_dir_of(wildcards, output):
    """Folder of a rule's first output (tables are written there by table id)."""
    return str(PurePosixPath(output[0]).parent)


def figure_dir_of(wildcards, output):
    """The figures folder of a table rule (a sibling of the folder of its status record)."""
    return str(PurePosixPath(output.status).parent.parent / "figures")


def tables_dir_of(wildcards, output):
    """The tables folder next to a rule's first output (findings.md sits in the output root)."""
    return str(PurePosixPath(output[0]).parent / "tables")


def input_dir_of(wildcards, input):
    """Folder of a rule's first input."""
    return str(PurePosixPath(input[0]).parent)


def figure_stem_of(wildcards, output):
    """Path stem (without extension) of a rule's PNG figure output."""
    png = [str(p) for p in output if str(p).endswith(".png")][0]
    return png[: -len(".png")]


def report_tables(table_id, category):
    """A table's output files; the HTML version is shown in the Snakemake report with its caption."""
    files = []
    for ext in config["tables"]["formats"]:
        path = f"{OUT}/tables/{table_id}.{ext}"
        if ext == "html":
            path = report(path, caption=_caption(table_id), category=category)
        files.append(path)
    return files


def _caption(name):
    """The report caption of a table or figure (a generic one for user-declared outputs)."""
    here = Path(workflow.basedir) / "workflow" / "report"
    for stem in (name, name.split("_")[0]):
        if (here / f"{stem}.rst").exists():
            return f"../report/{stem}.rst"
    return "../report/declared.rst"


def table_files(table_id):
    return [f"{OUT}/tables/{table_id}.{ext}" for ext in config["tables"]["formats"]]


def figure_files(table_id):
    return [f"{OUT}/figures/{f}.{ext}" for f in STUDY_TABLES[table_id]["figures"] for ext in ("png", "pdf")]


def get_final_output():
    """Every target of the run, computed from the declared study (the only list of outputs)."""
    out = [f"{OUT}/provenance.json", f"{OUT}/indicators/pair_year.parquet"]
    for tid in STUDY_TABLES:
        out += table_files(tid) + figure_files(tid)
        if STUDY_TABLES[tid]["design"] == "m1":
            out.append(f"{OUT}/montecarlo/summary.parquet")
    out += [f"{OUT}/figures/F2_tie_map.png", f"{OUT}/figures/F2_tie_map.pdf"]
    out += [f"{OUT}/findings.md", f"{OUT}/run_summary.json"]
    return out


def step_json(table_id):
    """A declared table's step payload as compact shell-safe JSON (the rule's --options)."""
    return json.dumps(step_payload(config, STUDY, table_id), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
