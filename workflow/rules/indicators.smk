# Stage 2b: spillover-direction indicators (region-year and pair-year tables).
import shlex

# With inputs.flows the flow-based direction indicators are added (docs/indicators.md).
HAS_FLOWS = "flows" in config["inputs"]
FLOWS_INPUT = {"flows": f"{OUT}/canonical/flows.parquet"} if HAS_FLOWS else {}
FLOWS_OUTPUT = {"flow_pair_year": f"{OUT}/indicators/flow_pair_year.parquet"} if HAS_FLOWS else {}


rule indicators:
    input:
        regions=f"{OUT}/canonical/regions.parquet",
        panel=f"{OUT}/canonical/panel.parquet",
        zones=f"{OUT}/canonical/zones.parquet",
        collaborations=f"{OUT}/canonical/collaborations.parquet",
        weights=f"{OUT}/weights/weights.parquet",
        weights_meta=f"{OUT}/weights/weights.json",
        **FLOWS_INPUT,
    output:
        region_year=f"{OUT}/indicators/region_year.parquet",
        pair_year=f"{OUT}/indicators/pair_year.parquet",
        summary=f"{OUT}/indicators/summary.json",
        ties_record=f"{OUT}/indicators/ties_record.csv",
        **FLOWS_OUTPUT,
    params:
        zs=ZS,
        options=opts("analysis"),
        # the optional flow arguments, each path shell-quoted
        flows=lambda wildcards, input, output: (
            f"--flows {shlex.quote(str(input.flows))} "
            f"--flow-pair-year-out {shlex.quote(str(output.flow_pair_year))}"
            if HAS_FLOWS
            else ""
        ),
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
        " --ties-record-out {output.ties_record:q} {params.flows}"
