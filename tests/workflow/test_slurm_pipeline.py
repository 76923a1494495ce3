"""The `.test` workflow, Monte Carlo study included, on a real (local, single-node) SLURM cluster.

Brings up munged + slurmctld + slurmd with the harness in ``tests/slurm/cluster.py``, runs the
whole ``.test`` workflow through ``--profile profiles/slurm`` (every rule except the final
target is an ``sbatch`` job; the two Monte Carlo chunks run as separate jobs), runs it again
locally in another folder, and checks that every table, figure, Parquet file and the
provenance record are byte-identical. Skipped, with the reason, where SLURM/munge are not
installed or the tests do not run as root.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which does not put the harness folder on sys.path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "slurm"))
from cluster import local_slurm_cluster, unavailable_reason
from testflow import REPO, explain, leftover_temp_files, output_digests, prepare_workdir, run

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.slow]

_REASON = unavailable_reason()
SLURM_PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "default"


@pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
def test_test_workflow_on_slurm_is_byte_identical_to_local_run(tmp_path: Path) -> None:
    t0 = time.monotonic()
    local = prepare_workdir(tmp_path / "local")
    proc = run(local, "--profile", str(LOCAL_PROFILE), "--cores", "2", timeout=300)
    assert proc.returncode == 0, explain(proc)
    local_seconds = time.monotonic() - t0

    on_slurm = prepare_workdir(tmp_path / "slurm")
    with local_slurm_cluster(tmp_path / "cluster") as cluster:
        env = {**cluster.env, "ZONESPILL_SLURM_PARTITION": cluster.partition}
        t1 = time.monotonic()
        proc = run(
            on_slurm,
            "--profile",
            str(SLURM_PROFILE),
            # first status check after 2 s instead of 40 s; keep a few jobs queued so the node
            # (2 CPUs) never waits for the next submission
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--jobs",
            "4",
            timeout=420,
            env=env,
        )
        slurm_seconds = time.monotonic() - t1
        if proc.returncode != 0:
            logs = sorted((on_slurm.workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
            tails = "".join(f"\n--- {p.name} ---\n{p.read_text(errors='replace')[-1500:]}" for p in logs[-3:])
            pytest.fail(explain(proc) + tails + "\n" + cluster.log_tail())
        # the executor puts the rule (and wildcards) in each job's comment
        jobs = cluster.command("squeue", "-h", "--states=all", "-o", "%k|%T").stdout.split()

    # every job went through SLURM and finished; the Monte Carlo chunks were separate jobs
    assert jobs and all(j.endswith("|COMPLETED") for j in jobs), jobs
    rules = sorted(j.split("|")[0] for j in jobs)
    assert "rule_mc_chunk_wildcards_0" in rules and "rule_mc_chunk_wildcards_1" in rules, rules
    assert "rule_table_M1" in rules and "rule_provenance" in rules, rules

    local_out = output_digests(local.workdir)
    slurm_out = output_digests(on_slurm.workdir)
    expected = {f"results/tables/M1.{ext}" for ext in ("tex", "md", "csv", "html")} | {
        "results/montecarlo/summary.parquet",
        "results/montecarlo/chunk_0.parquet",
        "results/montecarlo/chunk_1.parquet",
        "results/figures/F1_sigma.png",
        "results/provenance.json",
    }
    assert expected <= set(local_out), sorted(set(local_out))
    assert slurm_out == local_out
    assert leftover_temp_files(on_slurm.workdir) == []
    print(f"local run {local_seconds:.0f} s, SLURM run {slurm_seconds:.0f} s")
    # every rule is one sbatch job (~10 s of scheduling and Snakemake start-up each), so the
    # time grows with the number of rules in the workflow; ~3-4 min with the spine, the
    # convergence family and the Monte Carlo study on an idle 2-core machine
    assert time.monotonic() - t0 < 600
