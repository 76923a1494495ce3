# Stage 2a: spatial weights of the analysis regions (sparse edge list i, j, w).


rule weights:
    input:
        regions=f"{OUT}/canonical/regions.parquet",
        panel=f"{OUT}/canonical/panel.parquet",
    output:
        edges=f"{OUT}/weights/weights.parquet",
        meta=f"{OUT}/weights/weights.json",
    params:
        options=opts("weights"),
        analysis=opts("analysis"),
    log:
        f"{OUT}/logs/weights.log",
    benchmark:
        f"{OUT}/benchmarks/weights.tsv"
    shell:
        "{ZS} weights --log {log} --options {params.options:q} --analysis {params.analysis:q}"
        " --regions {input.regions} --panel {input.panel} --out {output.edges} --meta {output.meta}"
