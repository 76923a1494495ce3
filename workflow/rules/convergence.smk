# Convergence part of the paper: tables C1-C5, figures FC1-FC3 (src/zonespill/convergence/pipeline.py).
# Options: the optional `convergence` config section (defaults in zonespill.convergence.pipeline.DEFAULTS).

# The optional `convergence` config section as compact JSON ({} when absent); a constant, not a function,
# so that this rules file holds no function definitions (snakemake --lint).
CONVERGENCE_OPTIONS = json.dumps(config.get("convergence", {}), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
CONVERGENCE_FORMATS = config["tables"]["formats"]


rule convergence_sigma:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("C1", "Convergence"),
        report(f"{OUT}/figures/FC1_sigma_groups.png", caption="../report/FC1.rst", category="Figures"),
        f"{OUT}/figures/FC1_sigma_groups.pdf",
    params:
        zs=ZS,
        options=CONVERGENCE_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
        stem=figure_stem_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/convergence_sigma.log",
    benchmark:
        f"{OUT}/benchmarks/convergence_sigma.tsv"
    shell:
        "{params.zs} convergence-sigma --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --provenance {input.provenance:q} --outdir {params.outdir:q} --figure-stem {params.stem:q}"
        " --formats {params.formats:q}"


rule convergence_beta:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("C2", "Convergence"),
        report(f"{OUT}/figures/FC2_beta_scatter.png", caption="../report/FC2.rst", category="Figures"),
        f"{OUT}/figures/FC2_beta_scatter.pdf",
    params:
        zs=ZS,
        options=CONVERGENCE_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
        stem=figure_stem_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/convergence_beta.log",
    benchmark:
        f"{OUT}/benchmarks/convergence_beta.tsv"
    shell:
        "{params.zs} convergence-beta --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --weights {input.weights:q} --weights-meta {input.weights_meta:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --figure-stem {params.stem:q} --formats {params.formats:q}"


rule convergence_panel:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("C3", "Convergence"),
    params:
        zs=ZS,
        options=CONVERGENCE_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/convergence_panel.log",
    benchmark:
        f"{OUT}/benchmarks/convergence_panel.tsv"
    shell:
        "{params.zs} convergence-panel --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --weights {input.weights:q} --weights-meta {input.weights_meta:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --formats {params.formats:q}"


rule convergence_clubs:
    input:
        region_year=f"{OUT}/indicators/region_year.parquet",
        regions=f"{OUT}/canonical/regions.parquet",
        collaborations=f"{OUT}/canonical/collaborations.parquet",
        provenance=f"{OUT}/provenance.json",
    output:
        report_tables("C4", "Convergence"),
        report_tables("C5", "Convergence"),
        report(f"{OUT}/figures/FC3_transition_paths.png", caption="../report/FC3.rst", category="Figures"),
        f"{OUT}/figures/FC3_transition_paths.pdf",
    params:
        zs=ZS,
        options=CONVERGENCE_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
        stem=figure_stem_of,
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/convergence_clubs.log",
    benchmark:
        f"{OUT}/benchmarks/convergence_clubs.tsv"
    shell:
        "{params.zs} convergence-clubs --log {log:q} --options {params.options:q} --region-year {input.region_year:q}"
        " --regions {input.regions:q} --collaborations {input.collaborations:q} --provenance {input.provenance:q}"
        " --outdir {params.outdir:q} --figure-stem {params.stem:q} --formats {params.formats:q}"


ALL_OUTPUTS += [f"{OUT}/tables/{t}.{ext}" for t in ("C1", "C2", "C3", "C4", "C5") for ext in CONVERGENCE_FORMATS]
ALL_OUTPUTS += [f"{OUT}/figures/{f}.{ext}" for f in ("FC1_sigma_groups", "FC2_beta_scatter", "FC3_transition_paths")
                for ext in ("png", "pdf")]
