"""Run the project's workflow (``.test`` or default configuration), Monte Carlo included.

Shared by ``tests/workflow/test_slurm_pipeline.py`` and ``tests/workflow/test_interrupt.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"

#: Monte Carlo options for the ``.test`` configuration (tiny 14-prefecture geography).
@dataclass(frozen=True)
class Workflow:
    """How to call Snakemake on a prepared work folder."""

    workdir: Path
    snakefile: Path
    configfile: Path
    targets: tuple[str, ...]

    def args(self) -> list[str]:
        """The targets, then ``--snakefile/--directory/--configfile`` (``--configfile`` takes
        several values, so nothing positional may follow it: put other options after)."""
        return [
            *self.targets,
            "--snakefile",
            str(self.snakefile),
            "--directory",
            str(self.workdir),
            "--configfile",
            str(self.configfile),
        ]


def prepare_workdir(workdir: Path, *, config: str = "test") -> Workflow:
    """Copy what the run needs into ``workdir`` and say how to run Snakemake there.

    ``config="test"``: copies ``.test/`` (the Monte Carlo runs on ``.test``'s tiny geography,
    as its config says). ``config="default"``: symlinks ``data/`` and copies ``config/``
    (the default, real-geography study).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if config == "test":
        shutil.copytree(REPO / ".test", workdir / ".test")
        configfile = workdir / ".test" / "config.yaml"
    elif config == "default":
        (workdir / "data").symlink_to(REPO / "data", target_is_directory=True)
        shutil.copytree(REPO / "config", workdir / "config")
        configfile = workdir / "config" / "config.yaml"
    else:
        raise ValueError(config)
    return Workflow(workdir, SNAKEFILE, configfile, ())


def snakemake_command(flow: Workflow, *extra: str) -> list[str]:
    """``python -m snakemake`` with the venv's interpreter and the workflow's arguments."""
    return [sys.executable, "-m", "snakemake", *flow.args(), *extra]


def venv_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the venv's ``bin`` first on PATH."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run(
    flow: Workflow, *extra: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake to completion (own process group; killed as a group on timeout)."""
    from cluster import run_in_group

    return run_in_group(snakemake_command(flow, *extra), cwd=flow.workdir, env=venv_env(env), timeout=timeout)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit status and the tails of stdout/stderr, for assertion messages."""
    return (
        f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n"
        f"--- stderr ---\n{proc.stderr[-6000:]}"
    )


#: Folders under results/ whose files are compared byte for byte (logs and benchmarks hold
#: timings and paths, so they differ between runs by design).
COMPARED = ("tables", "figures", "indicators", "canonical", "weights", "montecarlo")


def output_digests(workdir: Path, subdirs: Sequence[str] = COMPARED) -> dict[str, str]:
    """sha256 of every compared output file under ``workdir/results`` (plus provenance.json)."""
    res = workdir / "results"
    out = {}
    for sub in subdirs:
        for p in sorted((res / sub).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(workdir))] = hashlib.sha256(p.read_bytes()).hexdigest()
    prov = res / "provenance.json"
    if prov.exists():
        out["results/provenance.json"] = hashlib.sha256(prov.read_bytes()).hexdigest()
    return out


def leftover_temp_files(workdir: Path) -> list[str]:
    """Dot-prefixed files (``zonespill.io.atomic_path`` temporaries) and ``*.tmp`` under results/."""
    res = workdir / "results"
    if not res.exists():
        return []
    return sorted(
        str(p.relative_to(workdir))
        for p in res.rglob("*")
        if p.is_file() and (p.name.startswith(".") or p.name.endswith(".tmp"))
    )
