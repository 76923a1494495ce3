# The declared tables (config `study`; src/zonespill/study/): one rule per declared table, generated
# from the declaration, each running the one step `zonespill study-table` (src/zonespill/study/run.py),
# which dispatches on the table's family/design and writes the table, its figures and its status
# record (results/study/<id>.json). Options: the table's declaration plus its family section
# (did / spatial / convergence / montecarlo), defaults from workflow/schemas/config.schema.yaml.

STUDY_INPUT_PATHS = {
    "region_year": f"{OUT}/indicators/region_year.parquet",
    "provenance": f"{OUT}/provenance.json",
    "weights": f"{OUT}/weights/weights.parquet",
    "weights_meta": f"{OUT}/weights/weights.json",
    "pair_year": f"{OUT}/indicators/pair_year.parquet",
    "flow_pair_year": f"{OUT}/indicators/flow_pair_year.parquet",
    "regions": f"{OUT}/canonical/regions.parquet",
    "collaborations": f"{OUT}/canonical/collaborations.parquet",
    "panel": f"{OUT}/canonical/panel.parquet",
}

for _tid, _table in STUDY_TABLES.items():
    if _table["design"] == "m1":
        continue  # the Monte Carlo table has its own chunked rules (montecarlo.smk)
    _keys = ("region_year", "provenance", *[k for k in DESIGN_INPUTS[_table["design"]] if k != "region_year"])

    rule:
        name:
            "table_" + "".join(c if c.isalnum() else "_" for c in _tid)
        input:
            **{k: STUDY_INPUT_PATHS[k] for k in _keys},
        output:
            tables=report_tables(_tid, FAMILY_CATEGORY[_table["family"]]),
            figures=[
                report(f"{OUT}/figures/{f}.png", caption=_caption(f), category="Figures")
                for f in _table["figures"]
            ]
            + [f"{OUT}/figures/{f}.pdf" for f in _table["figures"]],
            status=f"{OUT}/study/{_tid}.json",
        params:
            zs=ZS,
            # a function, so that "{unit}" in a declared title is not read as a wildcard
            options=lambda wildcards, _json=step_json(_tid): _json,
            formats=FORMATS,
            outdir=output_dir_of,
            figure_dir=figure_dir_of,
            input_names=",".join(_keys),
        conda:
            CONDA_ENV
        log:
            f"{OUT}/logs/table_{_tid}.log",
        benchmark:
            f"{OUT}/benchmarks/table_{_tid}.tsv"
        # The shell string is the same for every table (its body runs at job time, after the loop):
        # the inputs are passed in order, named by params.input_names.
        shell:
            "{params.zs} study-table --log {log:q} --options {params.options:q} --input-names {params.input_names:q}"
            " --inputs {input:q} --outdir {params.outdir:q} --figure-dir {params.figure_dir:q}"
            " --status-out {output.status:q} --formats {params.formats:q}"


rule run_summary:
    input:
        STATUS_FILES,
    output:
        f"{OUT}/run_summary.json",
    params:
        zs=ZS,
        options=json.dumps({"strict": STUDY.strict, "tables": list(STUDY_TABLES)}, ensure_ascii=True, separators=(",", ":")),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/run_summary.log",
    shell:
        "{params.zs} run-summary --log {log:q} --options {params.options:q} --statuses {input:q} --out {output:q}"
