# Spatial part of the paper: tables S1-S4 (src/zonespill/spatial/pipeline.py).
# Options: the optional `spatial` config section (defaults in zonespill.spatial.pipeline.DEFAULTS)
# plus the top-level `master_seed` (seed of the simulated impact SEs in S3).

# The options as compact JSON; a constant, not a function, so that this rules file holds no
# function definitions (snakemake --lint).
SPATIAL_OPTIONS = json.dumps(
    {**config.get("spatial", {}), "master_seed": config.get("master_seed", 0)},
    sort_keys=True,
    ensure_ascii=True,
    separators=(",", ":"),
)


rule spatial_sdm:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("S1", "Spatial panels"),
        report_tables("S3", "Spatial panels"),
    params:
        zs=ZS,
        options=SPATIAL_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/spatial_sdm.log",
    benchmark:
        f"{OUT}/benchmarks/spatial_sdm.tsv"
    shell:
        "{params.zs} spatial-sdm --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --weights {input.weights:q} --weights-meta {input.weights_meta:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --formats {params.formats:q}"


rule spatial_lm:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("S2", "Spatial panels"),
    params:
        zs=ZS,
        options=SPATIAL_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/spatial_lm.log",
    benchmark:
        f"{OUT}/benchmarks/spatial_lm.tsv"
    shell:
        "{params.zs} spatial-lm --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --weights {input.weights:q} --weights-meta {input.weights_meta:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --formats {params.formats:q}"


rule spatial_compare:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("S4", "Spatial panels"),
    params:
        zs=ZS,
        options=SPATIAL_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/spatial_compare.log",
    benchmark:
        f"{OUT}/benchmarks/spatial_compare.tsv"
    shell:
        "{params.zs} spatial-compare --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --weights {input.weights:q} --weights-meta {input.weights_meta:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --formats {params.formats:q}"


ALL_OUTPUTS += [f"{OUT}/tables/{t}.{ext}" for t in ("S1", "S2", "S3", "S4") for ext in config["tables"]["formats"]]
