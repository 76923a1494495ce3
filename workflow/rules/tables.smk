# Stage 4: the spine's cited tables (T1-T3) and the sigma figure.


rule table_descriptives:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        [f"{OUT}/tables/T1.{ext}" for ext in config["tables"]["formats"]],
    params:
        outdir=f"{OUT}/tables",
    log:
        f"{OUT}/logs/table_descriptives.log",
    benchmark:
        f"{OUT}/benchmarks/table_descriptives.tsv"
    shell:
        "{ZS} table-descriptives --log {log} --region-year {input.region_year} --provenance {input.provenance}"
        " --outdir {params.outdir} --formats {FORMATS}"


rule table_sigma:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        [f"{OUT}/tables/T2.{ext}" for ext in config["tables"]["formats"]],
        f"{OUT}/figures/F1_sigma.png",
        f"{OUT}/figures/F1_sigma.pdf",
    params:
        outdir=f"{OUT}/tables",
        stem=f"{OUT}/figures/F1_sigma",
    log:
        f"{OUT}/logs/table_sigma.log",
    benchmark:
        f"{OUT}/benchmarks/table_sigma.tsv"
    shell:
        "{ZS} table-sigma --log {log} --region-year {input.region_year} --provenance {input.provenance}"
        " --outdir {params.outdir} --figure-stem {params.stem} --formats {FORMATS}"


rule table_twfe:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        [f"{OUT}/tables/T3.{ext}" for ext in config["tables"]["formats"]],
    params:
        outdir=f"{OUT}/tables",
    log:
        f"{OUT}/logs/table_twfe.log",
    benchmark:
        f"{OUT}/benchmarks/table_twfe.tsv"
    shell:
        "{ZS} table-twfe --log {log} --region-year {input.region_year} --provenance {input.provenance}"
        " --outdir {params.outdir} --formats {FORMATS}"
