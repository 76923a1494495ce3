"""Club clustering and merging rules on constructed data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from zonespill.convergence import club_convergence, transition_paths
from zonespill.convergence.clubs import LogTResult, _merge_clubs
from zonespill.errors import InputError


def _two_groups(n_per: int = 6, T: int = 30, seed: int = 0) -> pd.DataFrame:
    """Two groups converging to different steady states (10 and 11)."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, T + 1)
    rows = []
    for g, level in enumerate((11.0, 10.0)):
        for i in range(n_per):
            path = level + rng.normal(0, 0.5) / t + 0.002 * rng.normal(size=T) / t
            rows += [{"unit": f"g{g}_{i}", "year": 2000 + s, "y": path[s]} for s in range(T)]
    return pd.DataFrame(rows)


def test_two_clubs_are_found() -> None:
    df = _two_groups()
    res = club_convergence(df, value="y", unit="unit", time="year", merge=None)
    assert res.logt.t < -1.65
    found = [sorted(m) for m in res.clubs["members"]]
    assert found == [sorted(f"g0_{i}" for i in range(6)), sorted(f"g1_{i}" for i in range(6))]
    assert res.divergent == []
    # merging cannot join them
    merged = club_convergence(df, value="y", unit="unit", time="year", merge="PS")
    assert [sorted(m) for m in merged.clubs["members"]] == found
    frame = merged.to_frame()
    assert set(frame.columns) == {"unit", "club", "initial_club", "divergent", "last"}
    assert "club" in merged.summary()


def test_one_converging_panel_is_one_club() -> None:
    df = _two_groups()
    df = df[df["unit"].str.startswith("g0")]
    res = club_convergence(df, value="y", unit="unit", time="year")
    assert len(res.clubs) == 1 and res.clubs["n"].iloc[0] == 6 and res.logt.t > -1.65


def test_hp_filter_option_and_transition_paths() -> None:
    df = _two_groups(seed=2)
    res = club_convergence(df, value="y", unit="unit", time="year", filter="hp", hp_lambda=400)
    assert res.filter == "hp" and res.hp_lambda == 400
    tp = transition_paths(df, value="y", unit="unit", time="year", clubs=res)
    assert set(tp.clubs["club"]) == set(res.clubs["club"])
    # h averages to one over units each period; h_club averages to one within a club
    np.testing.assert_allclose(tp.units.groupby("time")["h"].mean(), 1.0)
    np.testing.assert_allclose(tp.units.groupby(["club", "time"])["h_club"].mean(), 1.0)
    with pytest.raises(InputError):
        club_convergence(df, value="y", unit="unit", time="year", filter="bk")


class _StubPanel:
    """log-t values given by a table keyed on the set of initial clubs in the test."""

    def __init__(self, clubs: list[list[int]], table: dict[frozenset[int], float]) -> None:
        self.owner = {u: j for j, c in enumerate(clubs) for u in c}
        self.table = table

    def test(self, rows: Sequence[int]) -> LogTResult:
        key = frozenset(self.owner[r] for r in rows)
        t = self.table[key]
        return LogTResult(0.0, 1.0, t, 0.5, 0.0, 10, len(rows), 1.0)

    def passes(self, rows: Sequence[int], bound: float) -> tuple[bool, float]:
        t = self.test(rows).t
        return t > bound, t


def test_merge_rules_ps_versus_vlt() -> None:
    clubs = [[0], [1], [2], [3]]
    fs = frozenset
    table = {
        fs({0, 1}): -1.0,  # passes
        fs({1, 2}): 0.5,  # next pair converges more strongly → vLT does not merge 0 and 1
        fs({0, 1, 2}): -1.2,
        fs({0, 1, 2, 3}): -3.0,
        fs({2, 3}): -0.1,
        fs({1, 2, 3}): -2.0,
    }
    panel = _StubPanel(clubs, table)
    _, ps_origin = _merge_clubs(panel, clubs, "PS", -1.65)  # type: ignore[arg-type]
    assert ps_origin == [[0, 1, 2], [3]]
    vlt, vlt_origin = _merge_clubs(panel, clubs, "vLT", -1.65)  # type: ignore[arg-type]
    # vLT: 0+1 passes but t(0,1) = -1 < t(1,2) = 0.5 → club 0 alone; then 1+2 passes and
    # is the last pair check (2 with 3: t(1,2)=0.5 > t(2,3)=-0.1) → merge; 1+2+3 fails
    assert vlt_origin == [[0], [1, 2], [3]]
    assert sorted(u for c in vlt for u in c) == [0, 1, 2, 3]


def test_merge_single_club_is_identity() -> None:
    panel = _StubPanel([[0, 1]], {})
    merged, origin = _merge_clubs(panel, [[0, 1]], "PS", -1.65)  # type: ignore[arg-type]
    assert merged == [[0, 1]] and origin == [[0]]
