"""Static checks that the project promises: ruff, mypy and `snakemake --lint` are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_clean() -> None:
    proc = _run(str(BIN / "ruff"), "check", "src", "tests", "benchmarks", ".test")
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.mark.slow
def test_mypy_clean() -> None:
    proc = _run(str(BIN / "mypy"))
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.mark.slow
def test_snakemake_lint_clean() -> None:
    proc = _run(str(BIN / "snakemake"), "--lint", "--cores", "1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations" in out, out[-4000:]
