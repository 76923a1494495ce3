"""Phillips–Sul log-t test and clubs against ConvergenceClubs 2.2.5 (fixtures/convergence/README.md)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from zonespill.convergence import club_convergence, log_t_test

FIX = Path(__file__).parent / "fixtures" / "convergence"
RTOL = 1e-6

pytestmark = pytest.mark.reference


@cache
def _long(name: str) -> pd.DataFrame:
    wide = pd.read_csv(FIX / f"{name}.csv")
    long = wide.melt(id_vars=wide.columns[0], var_name="year", value_name="lgdp")
    long["year"] = long["year"].str[1:].astype(int)
    return long.rename(columns={wide.columns[0]: "country"})


@cache
def _clubs(name: str, merge: str | None):  # type: ignore[no-untyped-def]
    return club_convergence(
        _long(name),
        value="lgdp",
        unit="country",
        time="year",
        time_trim=1 / 3,
        hac="FQSB",
        cstar=0,
        merge=merge,
    )


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("name", ["filteredGDP"])
def test_logt_full_panel(name: str) -> None:
    gold = pd.read_csv(FIX / f"clubs_logt_{name}.csv").set_index("quantity")["value"]
    res = log_t_test(_long(name), value="lgdp", unit="country", time="year", time_trim=1 / 3)
    assert _rel(res.beta, gold["beta"]) <= RTOL
    assert _rel(res.se, gold["std.err"]) <= RTOL
    assert _rel(res.t, gold["tvalue"]) <= RTOL
    assert abs(res.pvalue - gold["pvalue"]) <= 1e-12
    # same numbers from the clustering entry point
    assert _rel(_clubs(name, None).logt.t, gold["tvalue"]) <= RTOL


CASES = [
    ("filteredGDP", "findClubs_FQSB", None),
    ("filteredGDP", "mergeClubs_PS_FQSB", "PS"),
    ("filteredGDP", "mergeClubs_vLT_FQSB", "vLT"),
]


@pytest.mark.parametrize(("name", "stage", "merge"), CASES)
def test_clubs_match_convergenceclubs(name: str, stage: str, merge: str | None) -> None:
    gold = pd.read_csv(FIX / f"clubs_membership_{name}.csv")
    gold = gold[gold["stage"] == stage].reset_index(drop=True)
    res = _clubs(name, merge)
    clubs = res.clubs
    assert len(clubs) == len(gold)
    for i, g in gold.iterrows():
        got = clubs.iloc[i]
        assert got["club"] == int(str(g["club"]).removeprefix("club"))
        # identical membership, in ConvergenceClubs' order (core group first, then sieve)
        assert got["members"] == str(g["units"]).split("; ")
        assert got["n"] == g["n_units"]
        assert _rel(got["beta"], g["beta"]) <= RTOL
        assert _rel(got["se"], g["std_err"]) <= RTOL
        assert _rel(got["t"], g["tvalue"]) <= RTOL
    assert res.divergent == []  # every country is in a club in the reference


def test_initial_clubs_are_findclubs_stage() -> None:
    gold = pd.read_csv(FIX / "clubs_membership_filteredGDP.csv")
    gold = gold[gold["stage"] == "findClubs_FQSB"].reset_index(drop=True)
    res = _clubs("filteredGDP", "PS")
    assert [list(m) for m in res.initial_clubs["members"]] == [str(u).split("; ") for u in gold["units"]]
    assert res.merged_from == [[1], [2], [3], [4, 5], [6], [7]]
    frame = res.to_frame()
    assert len(frame) == 152 and frame["club"].notna().all()
