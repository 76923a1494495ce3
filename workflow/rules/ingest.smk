import shlex

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


# A price-index table (inputs.deflator with a path) is an input of the panel step; a
# deflator given as a panel column needs no extra file.
DEFLATOR = config["inputs"].get("deflator")
DEFLATOR_INPUT = {"deflator": DEFLATOR["path"]} if DEFLATOR and "path" in DEFLATOR else {}
DEFLATOR_ARG = (
    f"--deflator {shlex.quote(json.dumps(DEFLATOR, sort_keys=True, ensure_ascii=True, separators=(',', ':')))}"
    if DEFLATOR
    else ""
)


rule ingest_panel:
    input:
        source=config["inputs"]["panel"]["path"],
        regions=f"{OUT}/canonical/regions.parquet",
        **DEFLATOR_INPUT,
    output:
        table=f"{OUT}/canonical/panel.parquet",
        drops=f"{OUT}/canonical/panel_drops.json",
        warnings=f"{OUT}/canonical/panel_warnings.json",
    params:
        zs=ZS,
        options=opts("inputs", "panel"),
        analysis=opts("analysis"),
        deflator=DEFLATOR_ARG,
        plausibility=json.dumps(config.get("plausibility", {}), sort_keys=True, ensure_ascii=True),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/ingest_panel.log",
    benchmark:
        f"{OUT}/benchmarks/ingest_panel.tsv"
    shell:
        "{params.zs} ingest-panel --log {log:q} --options {params.options:q} --analysis {params.analysis:q}"
        " --regions {input.regions:q} --out {output.table:q} --drops {output.drops:q} {params.deflator}"
        " --plausibility {params.plausibility:q} --warnings {output.warnings:q}"


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


# Optional directed flows (inputs.flows): read only when configured.
if "flows" in config["inputs"]:

    rule ingest_flows:
        input:
            source=config["inputs"]["flows"]["path"],
            regions=f"{OUT}/canonical/regions.parquet",
        output:
            table=f"{OUT}/canonical/flows.parquet",
            drops=f"{OUT}/canonical/flows_drops.json",
        params:
            zs=ZS,
            options=opts("inputs", "flows"),
        conda:
            CONDA_ENV
        log:
            f"{OUT}/logs/ingest_flows.log",
        benchmark:
            f"{OUT}/benchmarks/ingest_flows.tsv"
        shell:
            "{params.zs} ingest-flows --log {log:q} --options {params.options:q} --regions {input.regions:q}"
            " --out {output.table:q}"
