# Citable outputs (issue "Citable by construction"): a paper skeleton and a replication package,
# built from a finished run by `make paper` / `make package` (not part of the default target).
# Steps: src/zonespill/paper.py (write_paper, write_replication_package).

PAPER_FILES = [f"{OUT}/paper/{name}" for name in ("main.tex", "references.bib", "main.md", "main.html")]
# Inputs of the bundled data get the bundled sources cited; a user's own data cites what the user adds.
BUNDLED_DATA = all(str(p).startswith("data/raw/china/") for p in INPUT_FILES)
# Titles with the study's own unit names ("{units}" -> "prefectures").
PAPER_TABLES = [{**t, "title": study_labels(config).text(t["title"])} for t in STUDY.tables]
PAPER_OPTIONS = json.dumps(
    {"tables": PAPER_TABLES, "bundled_data": BUNDLED_DATA, "extra_figures": ["F2_tie_map"]},
    sort_keys=True,
    ensure_ascii=True,
    separators=(",", ":"),
)
# The config file(s) the run was started with (the default config when none was given).
RUN_CONFIG = (list(workflow.configfiles) or ["config/config.yaml"])[-1]


rule paper:
    input:
        get_final_output(),
    output:
        PAPER_FILES,
    params:
        zs=ZS,
        options=lambda wildcards: PAPER_OPTIONS,
        results=input_dir_of,  # the output root: the first input is its provenance.json
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/paper.log",
    benchmark:
        f"{OUT}/benchmarks/paper.tsv"
    shell:
        "{params.zs} paper --log {log:q} --options {params.options:q} --results-dir {params.results:q}"
        " --out-dir {params.outdir:q}"


rule replication_package:
    input:
        outputs=get_final_output(),
        paper=PAPER_FILES,
        config=RUN_CONFIG,
    output:
        archive=f"{OUT}/replication.tar.gz",
        sha256=f"{OUT}/replication.tar.gz.sha256",
    params:
        zs=ZS,
        options=lambda wildcards: PAPER_OPTIONS,
        results=input_dir_of,  # the output root: the first input is its provenance.json
        cores=workflow.cores,
        repo=workflow.basedir,  # the code repository: its lock file and pyproject go into the package
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/replication_package.log",
    shell:
        "{params.zs} replication-package --log {log:q} --options {params.options:q} --results-dir {params.results:q}"
        " --config-file {input.config:q} --cores {params.cores:q} --repo-dir {params.repo:q}"
        " --archive {output.archive:q}"
