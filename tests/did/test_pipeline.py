"""DiD pipeline steps (tables D1-D5, figures FD1) on synthetic spine outputs: outputs, notes, determinism."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.did import pipeline as P
from zonespill.io import write_json, write_parquet
from zonespill.provenance import write_provenance
from zonespill.weights import SpatialWeights

from .test_designs import TIES, YEARS, _line_weights, _region_year


def _write_inputs(root: Path, first: dict[str, int]) -> dict[str, Path]:
    ry = _region_year(first, noise=0.01, seed=11)
    ry["nb_share_active"] = 0.0
    paths = {
        "region_year": root / "region_year.parquet",
        "pair_year": root / "pair_year.parquet",
        "weights": root / "weights.parquet",
        "weights_meta": root / "weights.json",
        "provenance": root / "provenance.json",
    }
    write_parquet(paths["region_year"], ry)
    ids = sorted(first)
    treated = [i for i in ids if first[i] > 0]
    py = pd.DataFrame(
        {
            "collab_id": [f"c{k}" for k in range(len(treated))],
            "year": YEARS[0],
            "source_province": [ids[-1]] * len(treated),
            "target_province": treated,
            "direction": ["forward", "two_way", "reverse"] * (len(treated) // 3)
            + ["forward"] * (len(treated) % 3),
            "start_year": [first[i] for i in treated],
            "same_province": [int(i == ids[-1]) for i in treated],
        }
    )
    write_parquet(paths["pair_year"], py)
    w: SpatialWeights = _line_weights(ids)
    write_parquet(paths["weights"], w.to_edge_list())
    write_json(paths["weights_meta"], {"ids": ids, "transform": w.transform, "kind": w.kind})
    write_provenance(paths["provenance"], {"synthetic": True})
    return paths


def _run_all(paths: dict[str, Path], out: Path, options: dict) -> list[Path]:
    fmts = ("md", "csv", "tex", "html")
    files = P.region_step(
        options,
        region_year=paths["region_year"],
        provenance=paths["provenance"],
        outdir=out / "tables",
        figure_dir=out / "figures",
        formats=fmts,
        master_seed=5,
    )
    files += P.pairs_step(
        options,
        region_year=paths["region_year"],
        pair_year=paths["pair_year"],
        regions=out / "unused_regions.parquet",
        provenance=paths["provenance"],
        outdir=out / "tables",
        formats=fmts,
    )
    files += P.spillover_step(
        options,
        region_year=paths["region_year"],
        weights=paths["weights"],
        weights_meta=paths["weights_meta"],
        provenance=paths["provenance"],
        outdir=out / "tables",
        formats=fmts,
        master_seed=5,
    )
    files += P.bacon_step(
        options,
        region_year=paths["region_year"],
        provenance=paths["provenance"],
        outdir=out / "tables",
        formats=fmts,
    )
    return files


FIRST = {"11": 2006, "12": 2006, "13": 2009, "14": 2009, "15": 1996, "16": 0, "17": 0, "18": 0, "19": 0}


def test_steps_write_every_output_and_are_deterministic(tmp_path: Path) -> None:
    paths = _write_inputs(tmp_path / "in", FIRST)
    opts = {"n_boot": 99}
    a = _run_all(paths, tmp_path / "a", opts)
    b = _run_all(paths, tmp_path / "b", opts)
    names = sorted(p.name for p in a)
    for t in ("D1", "D2", "D3", "D4", "D5"):
        assert f"{t}.md" in names and f"{t}.html" in names
    for tie in TIES:
        assert f"FD1_{tie}.png" in names and f"FD1_{tie}.pdf" in names
    for pa, pb in zip(sorted(a), sorted(b), strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    d1 = (tmp_path / "a/tables/D1.md").read_text(encoding="utf-8")
    assert "excluded 1 provinces first tied in or before 2003" in d1
    assert "2006 (2), 2009 (2)" in d1 and "GDP vintage: syn" in d1
    assert "99 Rademacher draws" in d1
    header = (tmp_path / "a/tables/D1.csv").read_text(encoding="utf-8").splitlines()[0]
    for label in ("CS (not yet treated)", "BJS imputation", "Sun-Abraham", "TWFE"):
        assert label in header


def test_degenerate_designs_are_noted_not_crashed(tmp_path: Path) -> None:
    first = {"11": 2006, "12": 2006, "13": 2008, "14": 2008, "15": 1996}  # no never-treated province
    paths = _write_inputs(tmp_path / "in", first)
    files = _run_all(paths, tmp_path / "o", {"n_boot": 0})
    assert all(p.exists() for p in files)
    d1 = (tmp_path / "o/tables/D1.md").read_text(encoding="utf-8")
    assert "not estimable: " in d1
    assert not re.search(r"\bnan\b", d1.lower())  # never a silent NaN cell
    d4 = (tmp_path / "o/tables/D4.md").read_text(encoding="utf-8")
    assert "not estimable: " in d4


def test_options_defaults_and_seed_labels() -> None:
    assert P._settings({}).n_boot == 999
    assert P._settings({"n_boot": 0}).n_boot is None
    assert P._settings({"control_group": "never"}).control_group == "never"
    assert json.dumps(P.DEFAULTS, sort_keys=True)
    assert np.isfinite(P.DEFAULTS["exposure_threshold"])


@pytest.mark.parametrize("bad", [{"control_group": "sometimes"}])
def test_bad_option_is_an_input_error(tmp_path: Path, bad: dict) -> None:
    from zonespill.errors import InputError

    paths = _write_inputs(tmp_path / "in", FIRST)
    with pytest.raises(InputError):
        P.region_step(
            bad,
            region_year=paths["region_year"],
            provenance=paths["provenance"],
            outdir=tmp_path / "t",
            figure_dir=tmp_path / "f",
            formats=("md",),
            master_seed=1,
        )
