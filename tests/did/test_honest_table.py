"""D6: the HonestDiD sensitivity table of the declared DiD rows (issue 11 part 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.did import pipeline as P
from zonespill.did.callaway import callaway_santanna
from zonespill.did.honest import honest_breakdown, honest_did
from zonespill.io import write_parquet
from zonespill.provenance import write_provenance

from .test_designs import TIES, YEARS


def _ry(first: dict[str, int], *, trend: float = 0.0, effect: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Province panel; treated units drift by ``trend`` per year before and after treatment."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, (rid, g) in enumerate(sorted(first.items())):
        for t in YEARS:
            y = 9 + 0.05 * k + 0.03 * (t - 2003) + (trend * (t - 2003) if g else 0.0)
            y += effect * float(0 < g <= t) + 0.01 * rng.standard_normal()
            row = {"region_id": rid, "year": t, "log_gdp_pc": y, "vintage": "syn"}
            row.update({f"first_{K}": g for K in TIES})
            rows.append(row)
    return pd.DataFrame(rows)


FIRST = {**{f"1{i}": 2008 for i in range(5)}, **{f"2{i}": 0 for i in range(6)}}


def _run(tmp_path: Path, ry: pd.DataFrame, treatments: list[str], mbar: tuple[float, ...] = ()) -> str:
    write_parquet(tmp_path / "ry.parquet", ry)
    write_provenance(tmp_path / "prov.json", {"synthetic": True})
    table = {"id": "D6", "title": "HonestDiD", "outcome": "log_gdp_pc", "treatments": treatments}
    P.honest_step({"honest_m": [0.0, 0.05], "honest_mbar": list(mbar)}, region_year=tmp_path / "ry.parquet",
                  provenance=tmp_path / "prov.json", outdir=tmp_path, formats=("csv",), table=table)
    return (tmp_path / "D6.csv").read_text(encoding="utf-8")


def test_honest_table_matches_the_library_on_the_row_event_study(tmp_path: Path) -> None:
    ry = _ry(FIRST)
    text = _run(tmp_path, ry, ["two_way"])
    from zonespill.did import designs as D

    s = D.region_sample(ry, tie="two_way", outcome="log_gdp_pc")
    res = callaway_santanna(s.data, outcome=D.Y, unit=D.UNIT, time=D.TIME, cohort=D.G,
                            control_group="notyet", base_period="universal")
    es, _ = P.honest_event_study(res.aggregate("dynamic"))
    sd = honest_did(es, kind="smoothness", m=[0.05]).iloc[0]
    assert f"[{sd['lb']:.3f}, {sd['ub']:.3f}]" in text
    bd = honest_breakdown(es, kind="smoothness")
    assert bd > 0  # a clean 0.1 effect with flat pre-trends survives some smoothness violation
    row = next(ln for ln in text.splitlines() if ln.startswith("two-way"))
    assert f"{bd:.4f}" in row
    assert "Rambachan & Roth" in text


@pytest.mark.slow
def test_relative_magnitude_bounds_match_the_library(tmp_path: Path) -> None:
    ry = _ry(FIRST)
    text = _run(tmp_path, ry, ["two_way"], mbar=(0.5,))
    from zonespill.did import designs as D

    s = D.region_sample(ry, tie="two_way", outcome="log_gdp_pc")
    res = callaway_santanna(s.data, outcome=D.Y, unit=D.UNIT, time=D.TIME, cohort=D.G,
                            control_group="notyet", base_period="universal")
    es, _ = P.honest_event_study(res.aggregate("dynamic"))
    rm = honest_did(es, kind="relative_magnitudes", m=[0.5]).iloc[0]
    # the upper end of this set is the inversion grid's (+20 SD): printed as "≥"
    assert rm["at_grid_edge"]
    assert P.rm_interval_text(rm["lb"], rm["ub"], rm["at_grid_edge"]) in text
    assert f"≥ {rm['ub']:.3f}" in text and "end of the test-inversion grid" in text


def test_rows_without_an_event_study_say_why(tmp_path: Path) -> None:
    first = {**{f"1{i}": 2008 for i in range(5)}, "21": 0}  # one control: every cell thin
    text = _run(tmp_path, _ry(first), ["any"])
    assert "not computed: no usable event-time estimate" in text


def test_event_study_keeps_only_consecutive_leads() -> None:
    e = [-5, -3, -2, -1, 0, 1]
    tab = pd.DataFrame({"e": e, "att": [0.1, 0.0, 0.01, 0.0, 0.2, 0.3]})
    V = pd.DataFrame(np.diag([1.0, 1, 1, 0, 1, 1]) * 0.01, index=e, columns=e)

    class Agg:
        table, vcov = tab, V

    es, note = P.honest_event_study(Agg())
    assert es.table["e"].tolist() == [-3, -2, 0, 1]
    assert "-5" in note and "left out" in note


@pytest.mark.parametrize("grid,covered,expected", [([0.5, 1.0], [False, True], "(0.5, 1]"),
                                                   ([0.5, 1.0], [True, True], "≤ 0.5"),
                                                   ([0.5, 1.0], [False, False], "> 1")])
def test_grid_breakdown(grid: list[float], covered: list[bool], expected: str) -> None:
    assert P._grid_breakdown(grid, covered) == expected


def test_relative_magnitudes_skipped_where_theta_is_not_significant(tmp_path: Path) -> None:
    text = _run(tmp_path, _ry(FIRST, effect=0.0, seed=5), ["two_way"], mbar=(0.5,))
    assert "RM sets not computed where θ is not significant" in text and "two-way (θ = " in text
    row = next(ln for ln in text.splitlines() if ln.startswith("two-way"))
    assert "RM M̄=0.5" not in text.splitlines()[0]  # no RM column was computed
    assert row.rstrip(",").split(",")[-1] == "0"  # RM breakdown M̄ = 0 (empty note after it)


@pytest.mark.parametrize(("lb", "ub", "edge", "text"), [
    (0.063, 0.1345, True, "[0.063, ≥ 0.135]"),
    (-0.2, 0.05, True, "[≤ -0.200, 0.050]"),
    (-0.138, 0.138, True, "[≤ -0.138, ≥ 0.138]"),
    (-0.1, 0.05, False, "[-0.100, 0.050]"),
])
def test_rm_interval_marks_only_the_end_at_the_grid_edge(lb: float, ub: float, edge: bool, text: str) -> None:
    assert P.rm_interval_text(lb, ub, edge) == text
