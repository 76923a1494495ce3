# Stage 4: the spine's cited tables (T1-T3) and the sigma figure.


rule table_descriptives:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("T1", "Spine tables"),
    params:
        zs=ZS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/table_descriptives.log",
    benchmark:
        f"{OUT}/benchmarks/table_descriptives.tsv"
    shell:
        "{params.zs} table-descriptives --log {log:q} --region-year {input.region_year:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --formats {params.formats:q}"


rule table_sigma:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("T2", "Spine tables"),
        report(f"{OUT}/figures/F1_sigma.png", caption="../report/F1.rst", category="Figures"),
        f"{OUT}/figures/F1_sigma.pdf",
    params:
        zs=ZS,
        formats=FORMATS,
        outdir=output_dir_of,
        stem=figure_stem_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/table_sigma.log",
    benchmark:
        f"{OUT}/benchmarks/table_sigma.tsv"
    shell:
        "{params.zs} table-sigma --log {log:q} --region-year {input.region_year:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --figure-stem {params.stem:q} --formats {params.formats:q}"


rule table_twfe:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("T3", "Spine tables"),
    params:
        zs=ZS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/table_twfe.log",
    benchmark:
        f"{OUT}/benchmarks/table_twfe.tsv"
    shell:
        "{params.zs} table-twfe --log {log:q} --region-year {input.region_year:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --formats {params.formats:q}"
