# zonespill — one DAG from raw inputs to the paper's tables and figures.
# Entry point: `make run` (or `snakemake --profile profiles/default`).
from snakemake.utils import min_version, validate

min_version("9.0")


# The bundled analysis is the default. A config given with --configfile REPLACES it (no key
# of the default leaks into a user's analysis); start from a copy of config/config.yaml.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Our own checks first, so a bad config gives one line naming the file and dotted key (duplicated
# YAML keys included) rather than Snakemake's schema dump; then the declared tables (keys named by
# table id, e.g. study.tables.D1.columns.0.estimator); then the schema, which also fills every
# default (set_default): the schema is the one source of defaults.
import sys as _sys
from zonespill.config import check_workflow_config as _check_config, validate_config
from zonespill.errors import ConfigError as _ConfigError
from zonespill.study.spec import load_study

try:
    load_study(config)  # declared tables first: their keys are named by table id (study.tables.D1...)
    _check_config(config, workflow.overwrite_configfiles or ["config/config.yaml"])
    validate_config(config)
except _ConfigError as _err:
    _sys.exit(f"zonespill: config error: {_err}")
validate(config, "workflow/schemas/config.schema.yaml", set_default=True)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/geography.smk"
include: "workflow/rules/indicators.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/study.smk"
include: "workflow/rules/montecarlo.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/findings.smk"
include: "workflow/rules/paper.smk"


# A step killed between creating its temporary file and renaming it (SIGKILL, node failure)
# leaves a dot-prefixed `zonespill.io.atomic_path` temporary next to its output. Snakemake only
# deletes declared outputs of incomplete jobs, so remove such leftovers under the output folder
# before any job starts (name: a dot, the output's name, a dot, 8 mkstemp characters, suffix).
# Runs only when there is work to do; see docs/reproducibility.md.
onstart:
    from zonespill.io import remove_stale_temporaries

    # Only temporaries of this workflow's declared outputs, in their own folders: a concurrent
    # run with another output_dir inside results/ keeps its live temporary files.
    _declared = [str(o) for r in workflow.rules for o in r.output]
    for _stale in remove_stale_temporaries(OUT, outputs=_declared):
        print(f"removed stale temporary file {_stale}")


rule all:
    input:
        get_final_output(),
    default_target: True
