"""Run the project's workflow (``.test`` or default configuration) with the Monte Carlo study.

Shared by ``tests/workflow/test_slurm_pipeline.py`` and ``tests/workflow/test_interrupt.py``.

Until the ``Snakefile`` includes ``workflow/rules/montecarlo.smk`` (and the config schema
accepts a ``montecarlo`` section), :func:`prepare_workdir` writes a small wrapper Snakefile
into the work folder that includes the project's ``Snakefile``, sets the ``.test`` Monte Carlo
options, includes the Monte Carlo rules and defines a target rule over ``ALL_OUTPUTS``. Once
the lead has wired it in, the project's ``Snakefile`` is used as is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
MC_RULES = REPO / "workflow" / "rules" / "montecarlo.smk"

#: Monte Carlo options for the ``.test`` configuration (tiny 14-prefecture geography).
TEST_MC_OPTIONS: dict[str, object] = {
    "replications": 4,
    "chunks": 2,
    "n_periods": 8,
    "start_year": 2003,
    "census_csv": ".test/data/prefectures.csv",
    "census_columns": {"city_code": "code", "city": "name", "province_code": "province_code", "coord": "wkt"},
    "pairings_csv": ".test/data/pairings.csv",
    "pairings_columns": {
        "program": "programme",
        "start_year": "start",
        "giver_code": "giver",
        "receiver_code": "receiver",
        "direction": "direction",
    },
}
WRAPPER_TARGET = "all_with_montecarlo"


def montecarlo_wired_in() -> bool:
    """Whether the project's Snakefile already includes the Monte Carlo rules."""
    return "montecarlo.smk" in SNAKEFILE.read_text(encoding="utf-8")


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


def _wrapper(mc_options: dict[str, object] | None) -> str:
    lines = [
        "# written by tests/slurm/testflow.py: the project's workflow plus the Monte Carlo rules",
        f"include: {str(SNAKEFILE)!r}",
    ]
    if mc_options is not None:
        lines.append(f"config.setdefault('montecarlo', {json.dumps(mc_options, sort_keys=True)})")
    lines += [
        f"include: {str(MC_RULES)!r}",
        "",
        f"rule {WRAPPER_TARGET}:",
        "    input:",
        "        ALL_OUTPUTS,",
        "",
    ]
    return "\n".join(lines)


def prepare_workdir(workdir: Path, *, config: str = "test") -> Workflow:
    """Copy what the run needs into ``workdir`` and say how to run Snakemake there.

    ``config="test"``: copies ``.test/`` (the Monte Carlo then runs on ``.test``'s tiny
    geography with :data:`TEST_MC_OPTIONS` unless ``.test/config.yaml`` has a
    ``montecarlo`` section). ``config="default"``: symlinks ``data/`` and copies
    ``config/`` (the default, real-geography study).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if config == "test":
        shutil.copytree(REPO / ".test", workdir / ".test")
        configfile = workdir / ".test" / "config.yaml"
        mc_options: dict[str, object] | None = None
        if "montecarlo:" not in configfile.read_text(encoding="utf-8"):
            mc_options = TEST_MC_OPTIONS
    elif config == "default":
        (workdir / "data").symlink_to(REPO / "data", target_is_directory=True)
        shutil.copytree(REPO / "config", workdir / "config")
        configfile = workdir / "config" / "config.yaml"
        mc_options = None
    else:
        raise ValueError(config)
    if montecarlo_wired_in():
        return Workflow(workdir, SNAKEFILE, configfile, ())
    wrapper = workdir / "Snakefile.montecarlo"
    wrapper.write_text(_wrapper(mc_options), encoding="utf-8")
    return Workflow(workdir, wrapper, configfile, (WRAPPER_TARGET,))


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
    import contextlib
    import signal

    cmd = snakemake_command(flow, *extra)
    proc = subprocess.Popen(
        cmd,
        cwd=flow.workdir,
        env=venv_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


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
