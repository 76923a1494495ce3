"""Spatial pipeline steps (S1–S4): outputs exist, degrade gracefully, are byte-deterministic."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from zonespill.cli import main as cli_main
from zonespill.errors import ConfigError
from zonespill.provenance import derive_seed
from zonespill.spatial import pipeline

FORMATS = ("tex", "md", "csv", "html")
IDS = ("S1", "S2", "S3", "S4")


def _run_all(paths: dict[str, Path], out: Path, options: dict[str, Any] | None = None) -> list[Path]:
    opts = {"n_sim": 200, "master_seed": 7, **(options or {})}
    kw = {
        "region_year": paths["region_year"],
        "weights": paths["weights"],
        "weights_meta": paths["weights_meta"],
        "provenance": paths["provenance"],
        "outdir": out,
        "formats": FORMATS,
    }
    written = pipeline.sdm_step(opts, **kw)
    written += pipeline.lm_step(opts, **kw)
    written += pipeline.comparison_step(opts, **kw)
    return written


def _digests(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_all_tables_written_without_nan(spine: dict[str, Path], tmp_path: Path) -> None:
    written = _run_all(spine, tmp_path / "t")
    assert sorted(p.name for p in written) == sorted(f"{t}.{e}" for t in IDS for e in FORMATS)
    for p in written:
        text = p.read_text(encoding="utf-8")
        assert "provenance sha256:" in text
        assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE), p.name
    s1 = (tmp_path / "t" / "S1.md").read_text(encoding="utf-8")
    assert "SDM, Lee–Yu" in s1 and "| SAR |" in s1 and "GDP vintage" in s1
    assert "Small sample: 7 provinces and 7 growth years" in s1
    # the tiny data: one spatial lag is collinear with the fixed effects and is left out, with a note
    assert "left out of the Durbin models" in s1
    seed = derive_seed(7, "spatial", "impacts")
    assert str(seed) in (tmp_path / "t" / "S3.md").read_text(encoding="utf-8")
    s4 = (tmp_path / "t" / "S4.csv").read_text(encoding="utf-8")
    for model in ("SAR", "SEM", "SDM", "SDEM", "SLX"):
        assert model in s4


def test_tables_are_byte_deterministic(spine: dict[str, Path], tmp_path: Path) -> None:
    a = _digests(_run_all(spine, tmp_path / "a"))
    b = _digests(_run_all(spine, tmp_path / "b"))
    assert a == b


def test_lee_yu_option_and_seed_change_the_tables(spine: dict[str, Path], tmp_path: Path) -> None:
    _run_all(spine, tmp_path / "one", {"lee_yu": False})
    s1 = (tmp_path / "one" / "S1.md").read_text(encoding="utf-8")
    assert "Lee–Yu |" not in s1.splitlines()[2] and "| SDM |" in s1
    _run_all(spine, tmp_path / "s1", {"master_seed": 1})
    _run_all(spine, tmp_path / "s2", {"master_seed": 2})
    s3a = (tmp_path / "s1" / "S3.csv").read_bytes()
    s3b = (tmp_path / "s2" / "S3.csv").read_bytes()
    assert s3a != s3b
    # S1's estimates do not depend on the seed; only its speed rows (from the simulated impacts) do
    def no_speed(path: Path) -> list[str]:
        return [ln for ln in path.read_text(encoding="utf-8").splitlines() if "Speed" not in ln
                and "Half-life" not in ln and "seed" not in ln]

    assert no_speed(tmp_path / "s1" / "S1.csv") == no_speed(tmp_path / "s2" / "S1.csv")


def test_unusable_sample_gives_not_estimated_tables(spine: dict[str, Path], tmp_path: Path) -> None:
    written = _run_all(spine, tmp_path / "t", {"first_year": 2005, "last_year": 2005})
    assert len(written) == 16
    for t in IDS:
        text = (tmp_path / "t" / f"{t}.md").read_text(encoding="utf-8")
        assert "not estimated" in text and "fewer than two years" in text


@pytest.mark.parametrize(
    "options",
    [
        {"bogus": 1},
        {"n_sim": 0},
        {"n_sim": "many"},
        {"lee_yu": []},
        {"lee_yu": "yes"},
        {"first_year": "2004"},
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        pipeline.spatial_options(options)


def test_defaults_and_master_seed() -> None:
    opts = pipeline.spatial_options(None)
    assert opts["n_sim"] == 1000 and opts["lee_yu"] == [False, True] and opts["master_seed"] == 0
    assert pipeline.spatial_options({"lee_yu": True})["lee_yu"] == [True]
    assert pipeline.impacts_seed(5) == derive_seed(5, "spatial", "impacts")


def test_cli_step(spine: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cli"
    rc = cli_main(
        [
            "spatial-lm",
            "--options",
            json.dumps({"master_seed": 3}),
            "--region-year",
            str(spine["region_year"]),
            "--weights",
            str(spine["weights"]),
            "--weights-meta",
            str(spine["weights_meta"]),
            "--provenance",
            str(spine["provenance"]),
            "--outdir",
            str(out),
            "--formats",
            "md,csv",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["S2.csv", "S2.md"]
    assert (
        cli_main(
            [
                "spatial-sdm",
                "--options",
                '{"n_sim": 1}',
                "--region-year",
                "x",
                "--weights",
                "x",
                "--weights-meta",
                "x",
                "--provenance",
                "x",
                "--outdir",
                str(out),
            ]
        )
        == 2
    )
