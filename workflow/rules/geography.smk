# Stage 2a: spatial weights of the analysis regions (sparse edge list i, j, w).


rule weights:
    input:
        regions=f"{OUT}/canonical/regions.parquet",
        panel=f"{OUT}/canonical/panel.parquet",
    output:
        edges=f"{OUT}/weights/weights.parquet",
        meta=f"{OUT}/weights/weights.json",
    params:
        zs=ZS,
        options=opts("weights"),
        analysis=opts("analysis"),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/weights.log",
    benchmark:
        f"{OUT}/benchmarks/weights.tsv"
    shell:
        "{params.zs} weights --log {log} --options {params.options:q} --analysis {params.analysis:q}"
        " --regions {input.regions} --panel {input.panel} --out {output.edges} --meta {output.meta}"
