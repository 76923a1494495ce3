"""Phillips–Sul options: core rule (largest t vs |t|), per-club log-t check, logs of levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.convergence import club_convergence, log_t_test, transition_paths
from zonespill.convergence.clubs import THRESHOLD, _core_group, _Panel
from zonespill.errors import InputError


def _panel(seed: int, n: int = 20, T: int = 30) -> pd.DataFrame:
    """Units drifting from dispersed starts towards one of three steady states."""
    rng = np.random.default_rng(seed)
    target = np.array([9.0, 9.6, 10.2])[rng.integers(0, 3, n)]
    x = 9.5 + rng.normal(0, 0.4, n)
    frames = []
    for t in range(T):
        x = x + 0.15 * (target - x) + rng.normal(0, 0.03, n) + 0.02
        frames.append(pd.DataFrame({"u": [f"u{i:02d}" for i in range(n)], "t": t, "v": x.copy()}))
    return pd.concat(frames, ignore_index=True)


def _brute_core(X: np.ndarray, rows: list[int], rule: str) -> list[int] | None:
    """Core by brute force with the public log-t test: first passing adjacent pair, prefixes
    grown while passing, the best by t or |t|."""
    ts = []
    start = next(
        (i for i in range(1, len(rows)) if log_t_test(X[[rows[i - 1], rows[i]]]).t > THRESHOLD), None
    )
    if start is None:
        return None
    k = start + 1
    while k <= len(rows):
        t = log_t_test(X[rows[start - 1 : k]]).t
        if not t > THRESHOLD:
            break
        ts.append((t, k))
        k += 1
    key = (lambda p: abs(p[0])) if rule == "abs_t" else (lambda p: p[0])
    best = max(ts, key=key)  # max keeps the first on ties, as the algorithm
    return rows[start - 1 : best[1]]


@pytest.mark.parametrize("seed", [1, 2, 10])
def test_core_rule_matches_brute_force(seed: int) -> None:
    d = _panel(seed)
    wide = d.pivot(index="u", columns="t", values="v")
    wide = wide.iloc[np.argsort(-wide.iloc[:, -1].to_numpy(), kind="stable")]
    X = wide.to_numpy()
    rows = list(range(X.shape[0]))
    panel = _Panel(X, 1 / 3)
    cores = {}
    for rule in ("abs_t", "t"):
        cores[rule] = _core_group(panel, rows, THRESHOLD, rule)  # type: ignore[arg-type]
        assert cores[rule] == _brute_core(X, rows, rule)
    assert cores["abs_t"] != cores["t"]  # seeds chosen where the rules disagree


def test_core_option_changes_clubs_and_is_recorded() -> None:
    d = _panel(1)
    a = club_convergence(d, value="v", unit="u", time="t", merge=None)
    b = club_convergence(d, value="v", unit="u", time="t", merge=None, core="t")
    assert a.core == "abs_t" and b.core == "t"
    assert [list(m) for m in a.clubs["members"]] != [list(m) for m in b.clubs["members"]]
    assert "largest t" in b.summary() and "largest |t|" in a.summary()
    with pytest.raises(InputError, match="core"):
        club_convergence(d, value="v", unit="u", time="t", core="max")  # type: ignore[arg-type]


def test_each_club_log_t_check_reported() -> None:
    """Seed 0: the sieve builds a club that fails its own log-t test; it is reported."""
    d = _panel(0)
    res = club_convergence(d, value="v", unit="u", time="t", merge=None)
    for row in res.clubs.itertuples(index=False):
        own = log_t_test(d[d.u.isin(row.members)], value="v", unit="u", time="t")
        assert row.t == pytest.approx(own.t, rel=1e-12)
        assert row.passes == (own.t > -1.65)
    assert not res.all_clubs_pass
    assert res.failing_clubs and all(
        res.clubs.set_index("club").loc[c, "t"] <= -1.65 for c in res.failing_clubs
    )
    assert "FAILS" in res.summary()
    assert "passes" in res.initial_clubs.columns


def test_log_option_equals_logged_column_and_unit_dependence() -> None:
    d = _panel(3)
    lv = d.assign(level=np.exp(d["v"]))
    a = club_convergence(lv, value="level", unit="u", time="t", log=True, filter="hp")
    b = club_convergence(d, value="v", unit="u", time="t", filter="hp")
    assert a.log and not b.log
    assert [list(m) for m in a.clubs["members"]] == [list(m) for m in b.clubs["members"]]
    np.testing.assert_allclose(a.clubs["t"], b.clubs["t"], rtol=1e-10)
    # measurement unit: levels x 100 shift every log by ln 100 and change h_it and the test
    c = club_convergence(lv.assign(level=lv["level"] * 100), value="level", unit="u", time="t", log=True)
    assert c.logt.t != pytest.approx(a.logt.t, rel=1e-6)
    hp1 = transition_paths(lv, value="level", unit="u", time="t", log=True).units["h"]
    hp2 = transition_paths(lv.assign(level=lv["level"] * 100), value="level", unit="u", time="t", log=True)
    assert not np.allclose(hp1, hp2.units["h"])


def test_log_option_errors() -> None:
    d = _panel(3).assign(level=lambda f: np.exp(f["v"]))
    d.loc[3, "level"] = -1.0
    with pytest.raises(InputError, match="positive levels"):
        club_convergence(d, value="level", unit="u", time="t", log=True)
    # log levels <= 0 (levels below 1 in the unit used): the message points at the unit
    small = _panel(3).assign(level=lambda f: np.exp(f["v"]) / 1e5)
    with pytest.raises(InputError, match=r"measurement unit|rescale"):
        club_convergence(small, value="level", unit="u", time="t", log=True)


def test_bundled_clubs_depend_on_unit_and_price_level() -> None:
    """docs/methods/convergence.md, 'Measurement unit and price level': the bundled provinces'
    clubs (nbs2023 GDP / population, 2003-2022, HP 400, PS merging) change with the unit."""
    from pathlib import Path

    raw = pd.read_csv(
        Path(__file__).resolve().parents[2] / "data" / "raw" / "china" / "province_panel.csv",
        dtype={"province_code": str},
    )
    d = raw[(raw.year >= 2003) & (raw.year <= 2022)]
    d = d.assign(gdp_pc=d.gdp_vB_nbs2023 * 1e8 / (d.population_10k * 1e4))[
        ["province_code", "year", "gdp_pc"]
    ]

    def clubs(series: pd.Series) -> tuple[list[int], list[str]]:
        r = club_convergence(
            d.assign(v=series), value="v", unit="province_code", time="year", filter="hp", log=True
        )
        assert r.all_clubs_pass
        return list(r.clubs["n"]), r.divergent

    nominal = clubs(d.gdp_pc)
    assert nominal == ([29], ["13", "23"])
    assert clubs(d.gdp_pc * 100) == ([28, 3], [])
    deflated = clubs(d.gdp_pc / 1.03 ** (d.year - 2003))
    assert deflated == ([28, 3], []) and deflated != nominal
    assert clubs(d.gdp_pc / 1000) == ([31], [])
