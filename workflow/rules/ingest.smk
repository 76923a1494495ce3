# Stage 1: raw inputs -> validated canonical tables (one key each).


rule ingest_regions:
    input:
        config["inputs"]["regions"]["path"],
    output:
        f"{OUT}/canonical/regions.parquet",
    params:
        zs=ZS,
        options=opts("inputs", "regions"),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/ingest_regions.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_regions.tsv"
    shell:
        "{params.zs} ingest-regions --log {log:q} --options {params.options:q} --out {output:q}"


rule ingest_panel:
    input:
        source=config["inputs"]["panel"]["path"],
        regions=f"{OUT}/canonical/regions.parquet",
    output:
        table=f"{OUT}/canonical/panel.parquet",
        warnings=f"{OUT}/canonical/panel_warnings.json",
    params:
        zs=ZS,
        options=opts("inputs", "panel"),
        plausibility=json.dumps(config.get("plausibility", {}), sort_keys=True, ensure_ascii=True),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/ingest_panel.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_panel.tsv"
    shell:
        "{params.zs} ingest-panel --log {log:q} --options {params.options:q} --regions {input.regions:q}"
        " --plausibility {params.plausibility:q} --out {output.table:q} --warnings {output.warnings:q}"


rule ingest_zones:
    input:
        source=config["inputs"]["zones"]["path"],
        regions=f"{OUT}/canonical/regions.parquet",
    output:
        f"{OUT}/canonical/zones.parquet",
    params:
        zs=ZS,
        options=opts("inputs", "zones"),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/ingest_zones.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_zones.tsv"
    shell:
        "{params.zs} ingest-zones --log {log:q} --options {params.options:q} --regions {input.regions:q} --out {output:q}"


rule ingest_collaborations:
    input:
        source=config["inputs"]["collaborations"]["path"],
        regions=f"{OUT}/canonical/regions.parquet",
    output:
        table=f"{OUT}/canonical/collaborations.parquet",
        drops=f"{OUT}/canonical/collaborations_drops.json",
        warnings=f"{OUT}/canonical/collaborations_warnings.json",
    params:
        zs=ZS,
        options=opts("inputs", "collaborations"),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/ingest_collaborations.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_collaborations.tsv"
    shell:
        "{params.zs} ingest-collaborations --log {log:q} --options {params.options:q} --regions {input.regions:q}"
        " --out {output.table:q} --drops {output.drops:q} --warnings {output.warnings:q}"


rule ingest_flows:
    input:
        source=config["inputs"]["flows"]["path"] if "flows" in config["inputs"] else [],
        regions=f"{OUT}/canonical/regions.parquet",
    output:
        f"{OUT}/canonical/flows.parquet",
    params:
        zs=ZS,
        options=opts("inputs", "flows") if "flows" in config["inputs"] else "{}",
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/ingest_flows.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_flows.tsv"
    shell:
        "{params.zs} ingest-flows --log {log:q} --options {params.options:q} --regions {input.regions:q} --out {output:q}"
