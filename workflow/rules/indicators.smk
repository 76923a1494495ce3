# Stage 2b: spillover-direction indicators (region-year and pair-year tables).


rule indicators:
    input:
        regions=f"{OUT}/canonical/regions.parquet",
        panel=f"{OUT}/canonical/panel.parquet",
        zones=f"{OUT}/canonical/zones.parquet",
        collaborations=f"{OUT}/canonical/collaborations.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
    output:
        region_year=f"{OUT}/indicators/region_year.parquet",
        pair_year=f"{OUT}/indicators/pair_year.parquet",
        summary=f"{OUT}/indicators/summary.json",
        ties_record=f"{OUT}/indicators/ties_record.csv",
    params:
        zs=ZS,
        options=opts("analysis"),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/indicators.log",
    benchmark:
        f"{OUT}/benchmarks/indicators.tsv"
    shell:
        "{params.zs} indicators --log {log:q} --options {params.options:q} --regions {input.regions:q} --panel {input.panel:q}"
        " --zones {input.zones:q} --collaborations {input.collaborations:q} --weights {input.weights:q}"
        " --weights-meta {input.weights_meta:q} --region-year-out {output.region_year:q}"
        " --pair-year-out {output.pair_year:q} --summary-out {output.summary:q}"
        " --ties-record-out {output.ties_record:q}"
