# The generated "Findings on the bundled data" (from every table's CSV). Included last.

FINDINGS_INPUTS = sorted(p for p in ALL_OUTPUTS if PurePosixPath(p).parent.name == "tables" and p.endswith(".csv"))


rule findings:
    input:
        FINDINGS_INPUTS,
    output:
        f"{OUT}/findings.md",
    params:
        zs=ZS,
        table_dir=input_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/findings.log",
    benchmark:
        f"{OUT}/benchmarks/findings.tsv"
    shell:
        "{params.zs} findings --log {log:q} --table-dir {params.table_dir:q} --out {output:q}"


ALL_OUTPUTS += [f"{OUT}/findings.md"]
