# Stage 2a: spatial weights of the analysis regions (sparse edge list i, j, w).


rule weights:
    input:
        regions=f"{OUT}/canonical/regions.parquet",
        panel=f"{OUT}/canonical/panel.parquet",
        file=WEIGHTS_FILE,
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
        "{params.zs} weights --log {log:q} --options {params.options:q} --analysis {params.analysis:q}"
        " --regions {input.regions:q} --panel {input.panel:q} --out {output.edges:q} --meta {output.meta:q}"
