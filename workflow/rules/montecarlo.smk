# Monte Carlo study (SIMULATED DATA): an optional declared table (family montecarlo, design m1;
# bundled id M1). Replications fan out over `chunks` jobs, then the table. Library:
# src/zonespill/simulation/montecarlo.py; steps: src/zonespill/simulation/cli.py (chunks) and the one table step
# `zonespill study-table` (table + status). Options: the `montecarlo` config section (defaults in the
# schema) plus the top-level `master_seed`. Results do not depend on the number of chunks.
# PYTHONHASHSEED=0: pyfixest's TWFE estimates depend in the last bit on Python's per-process
# string-hash order; a fixed seed makes the chunk files byte-identical across runs and hosts.

MC_TABLES = [t for t, d in STUDY_TABLES.items() if d["design"] == "m1"]
MC_CONFIG = config["montecarlo"]
MC_OPTIONS = json.dumps(
    {**MC_CONFIG, "master_seed": config.get("master_seed", 0)},
    sort_keys=True,
    ensure_ascii=True,
    separators=(",", ":"),
)
MC_CHUNKS = int(MC_CONFIG["chunks"])
MC_CHUNK_FILES = expand(f"{OUT}/montecarlo/chunk_{{chunk}}.parquet", chunk=range(MC_CHUNKS))


rule mc_chunk:
    input:
        census=MC_CONFIG["census_csv"],
        pairings=MC_CONFIG["pairings_csv"],
    output:
        f"{OUT}/montecarlo/chunk_{{chunk}}.parquet",
    wildcard_constraints:
        chunk=r"\d+",
    params:
        zs=ZS,
        options=MC_OPTIONS,
        n_chunks=MC_CHUNKS,
    threads: 1
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/mc_chunk_{{chunk}}.log",
    benchmark:
        f"{OUT}/benchmarks/mc_chunk_{{chunk}}.tsv"
    shell:
        "PYTHONHASHSEED=0 {params.zs} mc-chunk --log {log:q} --options {params.options:q} --census-csv {input.census:q}"
        " --pairings-csv {input.pairings:q} --chunk {wildcards.chunk} --n-chunks {params.n_chunks:q} --out {output:q}"


for _tid in MC_TABLES:

    rule:
        name:
            "table_" + "".join(c if c.isalnum() else "_" for c in _tid)
        input:
            chunks=MC_CHUNK_FILES,
            provenance=f"{OUT}/provenance.json",
        output:
            tables=report_tables(_tid, "Monte Carlo"),
            summary=f"{OUT}/montecarlo/summary.parquet",
            status=f"{OUT}/study/{_tid}.json",
        params:
            zs=ZS,
            # a function, so that "{unit}" in a declared title is not read as a wildcard
            options=lambda wildcards, _json=step_json(_tid): _json,
            formats=FORMATS,
            outdir=output_dir_of,
            figure_dir=figure_dir_of,
        threads: 1
        conda:
            CONDA_ENV
        log:
            f"{OUT}/logs/table_{_tid}.log",
        benchmark:
            f"{OUT}/benchmarks/table_{_tid}.tsv"
        shell:
            "{params.zs} study-table --log {log:q} --options {params.options:q} --chunks {input.chunks:q}"
            " --provenance {input.provenance:q} --summary-out {output.summary:q} --outdir {params.outdir:q}"
            " --figure-dir {params.figure_dir:q} --status-out {output.status:q} --formats {params.formats:q}"
