# Monte Carlo study (SIMULATED DATA): replications fan out over `chunks` jobs, then table M1.
# Library: src/zonespill/montecarlo.py; steps: src/zonespill/simulate_cli.py.
# Options: the optional `montecarlo` config section (defaults in zonespill.montecarlo.DEFAULTS)
# plus the top-level `master_seed`. Results do not depend on the number of chunks.
# PYTHONHASHSEED=0: pyfixest's TWFE estimates depend in the last bit on Python's per-process
# string-hash order; a fixed seed makes the chunk files byte-identical across runs and hosts.
from zonespill.montecarlo import DEFAULTS as MC_DEFAULTS

MC_CONFIG = config.get("montecarlo", {})
MC_OPTIONS = json.dumps(
    {**MC_CONFIG, "master_seed": config.get("master_seed", 0)},
    sort_keys=True,
    ensure_ascii=True,
    separators=(",", ":"),
)
MC_CHUNKS = int(MC_CONFIG.get("chunks", MC_DEFAULTS["chunks"]))
MC_CENSUS = MC_CONFIG.get("census_csv", MC_DEFAULTS["census_csv"])
MC_PAIRINGS = MC_CONFIG.get("pairings_csv", MC_DEFAULTS["pairings_csv"])
MC_FORMATS = config["tables"]["formats"]
MC_CHUNK_FILES = expand(f"{OUT}/montecarlo/chunk_{{chunk}}.parquet", chunk=range(MC_CHUNKS))


rule mc_chunk:
    input:
        census=MC_CENSUS,
        pairings=MC_PAIRINGS,
    output:
        f"{OUT}/montecarlo/chunk_{{chunk}}.parquet",
    wildcard_constraints:
        chunk=r"\d+",
    params:
        zs=ZS,
        options=MC_OPTIONS,
        n_chunks=MC_CHUNKS,
    threads: 1
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/mc_chunk_{{chunk}}.log",
    benchmark:
        f"{OUT}/benchmarks/mc_chunk_{{chunk}}.tsv"
    shell:
        "PYTHONHASHSEED=0 {params.zs} mc-chunk --log {log:q} --options {params.options:q} --census-csv {input.census:q}"
        " --pairings-csv {input.pairings:q} --chunk {wildcards.chunk} --n-chunks {params.n_chunks:q} --out {output:q}"


rule mc_summary:
    input:
        chunks=MC_CHUNK_FILES,
        provenance=f"{OUT}/provenance.json",
    output:
        tables=report_tables("M1", "Monte Carlo"),
        summary=f"{OUT}/montecarlo/summary.parquet",
    params:
        zs=ZS,
        options=MC_OPTIONS,
        formats=FORMATS,
        outdir=output_dir_of,
    threads: 1
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/mc_summary.log",
    benchmark:
        f"{OUT}/benchmarks/mc_summary.tsv"
    shell:
        "{params.zs} mc-summary --log {log:q} --options {params.options:q} --chunks {input.chunks:q}"
        " --provenance {input.provenance:q} --summary-out {output.summary:q} --outdir {params.outdir:q}"
        " --formats {params.formats:q}"


ALL_OUTPUTS += [f"{OUT}/tables/M1.{ext}" for ext in MC_FORMATS]
ALL_OUTPUTS.append(f"{OUT}/montecarlo/summary.parquet")
