# Provenance: input hashes, resolved config, package versions, git commit, seeds.


rule provenance:
    input:
        INPUT_FILES,
    output:
        f"{OUT}/provenance.json",
    params:
        zs=ZS,
        config_json=json.dumps(config, sort_keys=True, ensure_ascii=True, separators=(",", ":")),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/provenance.log",
    benchmark:
        f"{OUT}/benchmarks/provenance.tsv"
    shell:
        "{params.zs} provenance --log {log:q} --config-json {params.config_json:q} --inputs {input:q} --out {output:q}"
