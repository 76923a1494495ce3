# The generated "Findings" (from every declared table's CSV).

FINDINGS_INPUTS = sorted(f"{OUT}/tables/{t}.csv" for t in STUDY_TABLES) if "csv" in config["tables"]["formats"] else []


rule findings:
    input:
        tables=FINDINGS_INPUTS,
        summary=f"{OUT}/run_summary.json",
    output:
        f"{OUT}/findings.md",
    params:
        zs=ZS,
        table_dir=tables_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/findings.log",
    benchmark:
        f"{OUT}/benchmarks/findings.tsv"
    shell:
        "{params.zs} findings --log {log:q} --table-dir {params.table_dir:q} --summary {input.summary:q} --out {output:q}"
