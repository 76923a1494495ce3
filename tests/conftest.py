"""Shared fixtures: the tiny synthetic .test dataset copied into a temporary folder."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TEST_DIR = REPO / ".test"


@pytest.fixture
def repo_dir() -> Path:
    return REPO


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of the .test data in ``tmp_path/data`` and its config with absolute paths."""
    data = tmp_path / "data"
    shutil.copytree(TEST_DIR / "data", data)
    config = yaml.safe_load((TEST_DIR / "config.yaml").read_text(encoding="utf-8"))
    config = copy.deepcopy(config)
    for section in config["inputs"].values():
        section["path"] = str(data / Path(section["path"]).name)
    return tmp_path, config


@pytest.fixture
def spine(tiny: tuple[Path, dict[str, Any]], repo_dir: Path) -> dict[str, Path]:
    """The spine's outputs (canonical tables, weights, indicators, provenance) for the .test data."""
    from zonespill.steps import provenance_step, run_spine

    tmp, config = tiny
    paths = run_spine(config, tmp / "results")
    paths["provenance"] = tmp / "results" / "provenance.json"
    provenance_step(
        config,
        inputs={"panel": Path(config["inputs"]["panel"]["path"])},
        out=paths["provenance"],
        repo_dir=repo_dir,
    )
    return paths
