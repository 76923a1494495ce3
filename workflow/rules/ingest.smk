# Stage 1: raw inputs -> validated canonical tables (one key each).


rule ingest_regions:
    input:
        config["inputs"]["regions"]["path"],
    output:
        f"{OUT}/canonical/regions.parquet",
    params:
        options=opts("inputs", "regions"),
    log:
        f"{OUT}/logs/ingest_regions.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_regions.tsv"
    shell:
        "{ZS} ingest-regions --log {log} --options {params.options:q} --out {output}"


rule ingest_panel:
    input:
        source=config["inputs"]["panel"]["path"],
        regions=f"{OUT}/canonical/regions.parquet",
    output:
        f"{OUT}/canonical/panel.parquet",
    params:
        options=opts("inputs", "panel"),
    log:
        f"{OUT}/logs/ingest_panel.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_panel.tsv"
    shell:
        "{ZS} ingest-panel --log {log} --options {params.options:q} --regions {input.regions} --out {output}"


rule ingest_zones:
    input:
        source=config["inputs"]["zones"]["path"],
        regions=f"{OUT}/canonical/regions.parquet",
    output:
        f"{OUT}/canonical/zones.parquet",
    params:
        options=opts("inputs", "zones"),
    log:
        f"{OUT}/logs/ingest_zones.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_zones.tsv"
    shell:
        "{ZS} ingest-zones --log {log} --options {params.options:q} --regions {input.regions} --out {output}"


rule ingest_collaborations:
    input:
        source=config["inputs"]["collaborations"]["path"],
        regions=f"{OUT}/canonical/regions.parquet",
    output:
        table=f"{OUT}/canonical/collaborations.parquet",
        drops=f"{OUT}/canonical/collaborations_drops.json",
    params:
        options=opts("inputs", "collaborations"),
    log:
        f"{OUT}/logs/ingest_collaborations.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_collaborations.tsv"
    shell:
        "{ZS} ingest-collaborations --log {log} --options {params.options:q} --regions {input.regions}"
        " --out {output.table} --drops {output.drops}"
