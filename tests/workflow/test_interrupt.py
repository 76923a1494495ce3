"""Interrupting the `.test` workflow (Monte Carlo included) and rerunning gives the same bytes.

The workflow is started locally (``--cores 2``, default profile: ``rerun-incomplete``) and
killed once some outputs exist: with SIGTERM to Snakemake (it stops its jobs and marks
their outputs incomplete), or with SIGKILL to the whole process group (nothing can clean
up). The rerun must complete, every output must be byte-identical to an uninterrupted
run's, and no temporary file of ``zonespill.io.atomic_path`` (dot-prefixed) nor ``*.tmp``
may remain under ``results/``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "slurm"))
from testflow import (
    REPO,
    Workflow,
    explain,
    leftover_temp_files,
    output_digests,
    prepare_workdir,
    run,
    snakemake_command,
    venv_env,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

PROFILE = ["--profile", str(REPO / "profiles" / "default"), "--cores", "2"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    flow = prepare_workdir(tmp_path_factory.mktemp("uninterrupted"))
    proc = run(flow, *PROFILE, timeout=600)
    assert proc.returncode == 0, explain(proc)
    assert leftover_temp_files(flow.workdir) == []
    return output_digests(flow.workdir)


def _start(flow: Workflow, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            snakemake_command(flow, *PROFILE),
            cwd=flow.workdir,
            env=venv_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own process group: killpg reaches Snakemake and every job
        )


def _wait_for_some_outputs(
    flow: Workflow, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> None:
    """Until the first canonical table and a Monte Carlo chunk or the indicators exist."""
    res = flow.workdir / "results"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"workflow ended (exit {proc.returncode}) before it could be interrupted\n{log.read_text()}"
            )
        canonical = list((res / "canonical").glob("*.parquet"))
        later = list((res / "montecarlo").glob("chunk_*.parquet")) + list(
            (res / "indicators").glob("*.parquet")
        )
        if canonical and (later or len(canonical) >= 3):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"no outputs after {timeout} s\n{log.read_text()}")


def _wait_for_group_to_exit(pgid: int, timeout: float = 60) -> None:
    """Until no process of the killed run's group is left (jobs die after Snakemake)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)


def _interrupt_then_rerun(
    flow: Workflow, sig: signal.Signals, whole_group: bool
) -> subprocess.CompletedProcess[str]:
    log = flow.workdir / "interrupted.log"
    proc = _start(flow, log)
    try:
        _wait_for_some_outputs(flow, proc, log)
        if whole_group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    _wait_for_group_to_exit(proc.pid)
    if whole_group:
        # a hard kill leaves Snakemake's lock behind; `--unlock` is the documented remedy
        unlock = run(flow, "--unlock", timeout=120)
        assert unlock.returncode == 0, explain(unlock)
    return run(flow, *PROFILE, timeout=600)


def test_sigterm_then_rerun_gives_identical_outputs(reference: dict[str, str], tmp_path: Path) -> None:
    flow = prepare_workdir(tmp_path / "work")
    rerun = _interrupt_then_rerun(flow, signal.SIGTERM, whole_group=False)
    assert rerun.returncode == 0, explain(rerun)
    assert leftover_temp_files(flow.workdir) == []
    assert output_digests(flow.workdir) == reference


def test_sigkill_of_process_group_then_rerun_gives_identical_outputs(
    reference: dict[str, str], tmp_path: Path
) -> None:
    flow = prepare_workdir(tmp_path / "work")
    rerun = _interrupt_then_rerun(flow, signal.SIGKILL, whole_group=True)
    assert rerun.returncode == 0, explain(rerun)
    assert leftover_temp_files(flow.workdir) == []
    assert output_digests(flow.workdir) == reference


def test_stale_temp_file_from_a_killed_writer_is_removed_on_rerun(
    reference: dict[str, str], tmp_path: Path
) -> None:
    # what a writer killed between mkstemp and rename leaves behind (zonespill.io.atomic_path names)
    flow = prepare_workdir(tmp_path / "work")
    stale = flow.workdir / "results" / "montecarlo" / ".chunk_0.parquet.k3x_9q2a.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"PAR1 truncated")
    proc = run(flow, *PROFILE, timeout=600)
    assert proc.returncode == 0, explain(proc)
    assert leftover_temp_files(flow.workdir) == []
    assert output_digests(flow.workdir) == reference
