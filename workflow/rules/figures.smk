# Figures that combine several stages (map of growth and ties by direction).


rule figure_map:
    input:
        regions=f"{OUT}/canonical/regions.parquet",
        region_year=f"{OUT}/indicators/region_year.parquet",
        pair_year=f"{OUT}/indicators/pair_year.parquet",
    output:
        report(f"{OUT}/figures/F2_tie_map.png", caption="../report/F2.rst", category="Figures"),
        f"{OUT}/figures/F2_tie_map.pdf",
    params:
        zs=ZS,
        stem=figure_stem_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/figure_map.log",
    benchmark:
        f"{OUT}/benchmarks/figure_map.tsv"
    shell:
        "{params.zs} figure-map --log {log:q} --regions {input.regions:q} --region-year {input.region_year:q}"
        " --pair-year {input.pair_year:q} --path-stem {params.stem:q}"



