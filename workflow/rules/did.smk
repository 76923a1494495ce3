# DiD part of the paper: tables D1-D5 and event-study figures FD1_<tie> (src/zonespill/did/pipeline.py).
# Options: the optional `did` config section (defaults in zonespill.did.pipeline.DEFAULTS) and the
# top-level `master_seed` (bootstrap seeds: derive_seed(master_seed, "did", table, tie)).

DID_TIES = ["forward_giver", "forward_receiver", "reverse", "two_way", "any"]
DID_FIGURES = f"{OUT}/figures"
# The optional `did` section as compact shell-safe JSON ({} when absent) and the master seed: constants,
# not functions, so that this rules file holds no function definitions (snakemake --lint).
DID_OPTIONS = json.dumps(config.get("did", {}), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
DID_SEED = int(config.get("master_seed", 0))


rule did_region:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("D1", "Difference-in-differences"),
        report_tables("D2", "Difference-in-differences"),
        [
            report(f"{DID_FIGURES}/FD1_{tie}.png", caption=f"../report/FD1_{tie}.rst", category="Figures")
            for tie in DID_TIES
        ],
        [f"{DID_FIGURES}/FD1_{tie}.pdf" for tie in DID_TIES],
    params:
        zs=ZS,
        options=DID_OPTIONS,
        seed=DID_SEED,
        formats=FORMATS,
        outdir=output_dir_of,
        stem=figure_stem_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/did_region.log",
    benchmark:
        f"{OUT}/benchmarks/did_region.tsv"
    shell:
        "{params.zs} did-region --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --provenance {input.provenance:q} --outdir {params.outdir:q} --figure-dir $(dirname {params.stem:q})"
        " --master-seed {params.seed:q} --formats {params.formats:q}"


rule did_pairs:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        pair_year=f"{OUT}/indicators/pair_year.parquet",
        regions=f"{OUT}/canonical/regions.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("D3", "Difference-in-differences"),
    params:
        zs=ZS,
        options=DID_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/did_pairs.log",
    benchmark:
        f"{OUT}/benchmarks/did_pairs.tsv"
    shell:
        "{params.zs} did-pairs --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --pair-year {input.pair_year:q} --regions {input.regions:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --formats {params.formats:q}"


rule did_spillover:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("D4", "Difference-in-differences"),
    params:
        zs=ZS,
        options=DID_OPTIONS,
        seed=DID_SEED,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/did_spillover.log",
    benchmark:
        f"{OUT}/benchmarks/did_spillover.tsv"
    shell:
        "{params.zs} did-spillover --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --weights {input.weights:q} --weights-meta {input.weights_meta:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --master-seed {params.seed:q} --formats {params.formats:q}"


rule did_bacon:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("D5", "Difference-in-differences"),
    params:
        zs=ZS,
        options=DID_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/did_bacon.log",
    benchmark:
        f"{OUT}/benchmarks/did_bacon.tsv"
    shell:
        "{params.zs} did-bacon --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --provenance {input.provenance:q} --outdir {params.outdir:q} --formats {params.formats:q}"


ALL_OUTPUTS += [
    f"{OUT}/tables/{t}.{ext}" for t in ("D1", "D2", "D3", "D4", "D5") for ext in config["tables"]["formats"]
]
ALL_OUTPUTS += [f"{DID_FIGURES}/FD1_{tie}.{ext}" for tie in DID_TIES for ext in ("png", "pdf")]
