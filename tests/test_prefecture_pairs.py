"""Pair consumers at the analysis level (D3, C5, F2) on the prefecture CI data (.test/prefecture).

At prefecture level the province endpoints of pair_year are not analysis units: D3, C5 and F2
must read ``source_unit`` / ``target_unit`` / ``in_analysis`` (key ``tie_id, year``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from zonespill.config import validate_config
from zonespill.provenance import write_provenance
from zonespill.steps import run_spine

REPO = Path(__file__).resolve().parents[1]
PREF = REPO / ".test" / "prefecture"


@pytest.fixture(scope="module")
def pref(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pref_pairs")
    shutil.copytree(PREF / "data", tmp / "data")
    config: dict[str, Any] = yaml.safe_load((PREF / "config.yaml").read_text(encoding="utf-8"))
    for name in ("regions", "panel", "zones", "collaborations", "flows"):
        config["inputs"][name]["path"] = str(tmp / "data" / Path(config["inputs"][name]["path"]).name)
    validate_config(config)
    paths = run_spine(config, tmp / "results")
    paths["provenance"] = tmp / "results" / "provenance.json"
    write_provenance(paths["provenance"], {"synthetic": True})
    return paths


def _between(py: pd.DataFrame) -> pd.DataFrame:
    return py[py["in_analysis"] == 1].drop_duplicates("tie_id")


def test_d3_pairs_are_prefecture_pairs(pref: dict[str, Path], tmp_path: Path) -> None:
    from zonespill.did import designs as D
    from zonespill.did import pipeline as P

    py = pd.read_parquet(pref["pair_year"])
    ry = pd.read_parquet(pref["region_year"])
    ties = _between(py)
    assert len(ties) == 8  # the spine's 8 prefecture-level ties
    # the province endpoints are not analysis units: the old reading found no pair at all
    assert not set(py["source_province"].dropna()) & set(ry["region_id"])
    coh = D.pair_cohorts(py, sorted(ry["region_id"].unique()))
    expected = {tuple(sorted(x)) for x in zip(ties["source_unit"], ties["target_unit"], strict=True)}
    assert set(zip(coh["prov_a"], coh["prov_b"], strict=True)) == expected
    panel = D.dyadic_panel(ry, py)
    n = ry["region_id"].nunique()
    assert panel["pair"].nunique() == n * (n - 1) // 2
    pooled = D.pair_sample(panel, direction="pooled")
    assert sum(pooled.cohort_sizes().values()) > 0
    paths = P.pairs_step(
        {"n_boot": 0},
        region_year=pref["region_year"],
        pair_year=pref["pair_year"],
        regions=pref["regions"],
        provenance=pref["provenance"],
        outdir=tmp_path,
        formats=("csv", "md"),
    )
    assert paths
    body = pd.read_csv(tmp_path / "D3.csv")
    # at least one estimate on the pooled row (the table is not empty at prefecture level)
    pooled_row = body[body.iloc[:, 0].astype(str).str.contains("pooled|any", case=False, regex=True)]
    assert not pooled_row.empty
    values = pooled_row.iloc[0, 1:].astype(str)
    assert values.str.match(r"^-?\d").any(), body.to_string()


def test_c5_pairs_are_prefecture_pairs(pref: dict[str, Path], tmp_path: Path) -> None:
    from zonespill.convergence import designs
    from zonespill.convergence import pipeline as cv

    py = pd.read_parquet(pref["pair_year"])
    ry = pd.read_parquet(pref["region_year"])
    ids = sorted(ry["region_id"].unique())
    first, last = int(ry["year"].min()), int(ry["year"].max())
    pairs = designs.province_pairs(_between(py), {}, ids, first_year=first, last_year=last)
    ties = _between(py)
    active = ties[(ties["start_year"] <= last) & (ties["end_year"].isna() | (ties["end_year"] >= first))]
    assert len(pairs) == len(
        {tuple(sorted(x)) for x in zip(active["source_unit"], active["target_unit"], strict=True)}
    )
    assert len(pairs) > 0
    cv.clubs_step(
        {"min_club_periods": 5},
        region_year=pref["region_year"],
        regions=pref["regions"],
        collaborations=pref["collaborations"],
        provenance=pref["provenance"],
        outdir=tmp_path,
        figure_stem=tmp_path / "FC3",
        formats=("csv",),
        pair_year=pref["pair_year"],
    )
    c5 = pd.read_csv(tmp_path / "C5.csv")
    if "group" in c5.columns:  # clubs estimated: the pair rows count prefecture pairs
        rows = c5[c5["group"].astype(str).str.contains("partner pairs")]
        assert rows["total"].sum() == int(pairs["two_way"].sum() + pairs["one_way"].sum())
        assert rows["total"].sum() > 0
    else:
        pytest.fail(f"clubs not estimated on the prefecture data: {c5.to_string()}")


def test_f2_draws_every_prefecture_tie(
    pref: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zonespill import figures
    from zonespill.maps import tie_map_step

    captured: list[Any] = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, stem: captured.append(fig) or [])
    tie_map_step(
        regions=pref["regions"],
        region_year=pref["region_year"],
        pair_year=pref["pair_year"],
        path_stem=tmp_path / "F2",
    )
    fig = captured[0]
    arcs = [p for ax in fig.axes for p in ax.patches if p.get_gid()]
    py = pd.read_parquet(pref["pair_year"])
    ties = py[py["same_unit"] == 0].drop_duplicates("tie_id")
    n_pairs = len(
        {
            (s, t, d)
            for s, t, d in zip(ties["source_unit"], ties["target_unit"], ties["direction"], strict=True)
        }
    )
    assert len(arcs) == n_pairs > 0
    title = fig.legends[0].get_title().get_text()
    assert "not drawn" not in title and "no ties" not in title


@pytest.mark.parametrize("tid", ["D3", "C5", "D7"])
def test_declared_pair_tables_are_estimated_at_prefecture_level(
    pref: dict[str, Path], tmp_path: Path, tid: str
) -> None:
    """Through the study layer (the rule's inputs come from DESIGN_INPUTS), as the CI run does."""
    import json

    from zonespill.study.run import table_step
    from zonespill.study.spec import DESIGN_INPUTS, load_study, step_payload

    config = yaml.safe_load((PREF / "config.yaml").read_text(encoding="utf-8"))
    config["did"] = {"n_boot": 0}
    config["convergence"] = {"min_club_periods": 5}
    study = load_study(config)
    payload = json.loads(json.dumps(step_payload(config, study, tid)))
    names = {"region_year", "provenance", *DESIGN_INPUTS[payload["table"]["design"]]}
    assert ("pair_year" in names) == (tid != "D7")
    result = table_step(
        payload,
        outdir=tmp_path / "tables",
        figure_dir=tmp_path / "figures",
        status_out=tmp_path / f"{tid}.json",
        formats=("csv", "md"),
        **{n: pref[n] for n in names},
    )
    assert result.status == "estimated", result.reason
    text = (tmp_path / "tables" / f"{tid}.md").read_text(encoding="utf-8")
    assert "prefecture" in text and "province pairs" not in text
