# Shared definitions: output root, interpreter, JSON-encoded config sections.
import json
import sys
from pathlib import PurePosixPath

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
# Every other file the config names is a rule input too (and hashed by rule provenance).
WEIGHTS_FILE = [config["weights"]["file"]["path"]] if config["weights"].get("kind") == "file" else []
INPUT_FILES += WEIGHTS_FILE
INPUT_FILES += [config.get("montecarlo", {})[k] for k in ("census_csv", "pairings_csv") if k in config.get("montecarlo", {})]
INPUT_FILES = list(dict.fromkeys(INPUT_FILES))
TABLES = ["T1", "T2", "T3"]
TABLE_FILES = [f"{OUT}/tables/{t}.{ext}" for t in TABLES for ext in config["tables"]["formats"]]
FIGURE_FILES = [f"{OUT}/figures/F1_sigma.{ext}" for ext in ("png", "pdf")]
ALL_OUTPUTS = TABLE_FILES + FIGURE_FILES + [
    f"{OUT}/provenance.json",
    f"{OUT}/indicators/pair_year.parquet",
] + ([f"{OUT}/canonical/flows.parquet"] if "flows" in config["inputs"] else [])
CONDA_ENV = "../envs/zonespill.yaml"


def output_dir_of(wildcards, output):
    """Folder of a rule's first output (tables are written there by table id)."""
    return str(PurePosixPath(output[0]).parent)


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
            path = report(path, caption=f"../report/{table_id}.rst", category=category)
        files.append(path)
    return files
