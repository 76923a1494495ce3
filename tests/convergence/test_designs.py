"""Convergence paper designs (C1–C5) on small synthetic region_year data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from zonespill.convergence import designs
from zonespill.convergence.beta import INITIAL, LAG


def synthetic_region_year(n: int = 12, years: range = range(2003, 2023), seed: int = 1) -> pd.DataFrame:
    """Balanced province panel with the region_year columns the designs use."""
    rng = np.random.default_rng(seed)
    ids = [f"{11 + i}" for i in range(n)]
    # first_<K>: a mix of never (0), before the window, inside it and after it
    first = {
        "forward_giver": [1996, 0, 2010, 0, 1996, 0, 2010, 0, 2030, 0, 1996, 0],
        "forward_receiver": [0, 1996, 0, 2010, 0, 1996, 0, 2010, 0, 0, 0, 2012],
        "two_way": [2005, 0, 0, 2005, 0, 0, 2015, 0, 0, 0, 2008, 2008],
        "reverse": [0, 0, 2012, 0, 0, 2007, 0, 0, 0, 0, 0, 0],
    }
    rows = []
    for i, u in enumerate(ids):
        level = 9.0 + 0.15 * i
        for t in years:
            level += 0.09 - 0.02 * (level - 9.8) + rng.normal(0, 0.01)
            row = {"region_id": u, "year": t, "gdp_pc": float(np.exp(level)), "vintage": "v1"}
            firsts = {k: first[k][i % len(first[k])] for k in first}
            firsts["any"] = min([f for f in firsts.values() if f > 0], default=0)
            for k, f in firsts.items():
                row[f"first_{k}"] = f
                row[f"active_{k}"] = int(0 < f <= t)
            rows.append(row)
    ry = pd.DataFrame(rows)
    ry["log_gdp_pc"] = np.log(ry["gdp_pc"])
    return ry


def test_ever_ties_uses_first_year_up_to_end() -> None:
    ry = synthetic_region_year()
    ever = designs.ever_ties(ry, end_year=2022)
    assert ever.loc["11", "ever_forward_giver"] == 1  # 1996: before the window still counts
    assert ever.loc["19", "ever_forward_giver"] == 0  # 2030: after the end year
    assert ever.loc["20", "ever_any"] == 0 and ever.loc["20", "profile"] == "no tie"
    assert ever.loc["11", "profile"] == "two-way partner"
    assert ever.loc["13", "profile"] == "reverse (no two-way)"
    early = designs.ever_ties(ry, end_year=2009)
    assert early.loc["13", "ever_forward_giver"] == 0 and early.loc["13", "ever_reverse"] == 0


def test_analysis_window_rejects_mixed_vintages() -> None:
    ry = synthetic_region_year()
    ry.loc[ry["year"] < 2006, "vintage"] = "old"
    with pytest.raises(Exception, match="mixes GDP vintages"):
        designs.analysis_window(ry)
    sub, first, last = designs.analysis_window(ry, first_year=2006)
    assert (first, last) == (2006, 2022) and sub["year"].min() == 2006


def test_sigma_design_blanks_small_groups_with_a_note() -> None:
    ry = synthetic_region_year()
    ever = designs.ever_ties(ry, end_year=2022)
    des = designs.sigma_design(ry, ever, min_units=3)
    cols = list(des.table.columns)
    never = next(c for c in cols if c.startswith("never in any tie"))
    assert never == "never in any tie (n=2)"  # 19 (first tie 2030) and 20
    assert des.table[never].isna().all()
    assert any("never in any tie" in n and "19, 20" in n for n in des.notes)
    allc = next(c for c in cols if c.startswith("all provinces"))
    full = designs.sigma(ry, value="gdp_pc", unit="region_id", time="year")
    np.testing.assert_allclose(des.table[allc].to_numpy(), full["sd_log"].to_numpy())
    assert not des.table[[c for c in cols if c != never]].isna().any().any()


@pytest.mark.parametrize("reference", ["none_of_groups", "sample_mean"])
def test_beta_interaction_model_equals_explicit_ols(reference: str) -> None:
    ry = synthetic_region_year()
    ever = designs.ever_ties(ry, end_year=2022)
    groups = [f"ever_{k}" for k in designs.TIE_TYPES]
    n_ref = int((ever[groups].sum(axis=1) == 0).sum())
    # a minimum the reference group meets (plain interactions) or misses (centred indicators)
    minimum = 1 if reference == "none_of_groups" else n_ref + 1
    des = designs.beta_design(ry, ever, start=2003, end=2022, min_reference_units=minimum)
    assert any(("centred at their sample means" in n) == (reference == "sample_mean") for n in des.notes)
    cs = des.data
    assert cs is not None
    # explicit design: initial level, dummies, dummy × centred initial level
    y0 = ry[ry["year"] == 2003].set_index("region_id")["gdp_pc"]
    y1 = ry[ry["year"] == 2022].set_index("region_id")["gdp_pc"]
    x0 = np.log(y0)
    g = (np.log(y1) - x0) / 19
    X = pd.DataFrame({INITIAL: x0})
    for k in designs.TIE_TYPES:
        X[f"ever_{k}"] = ever[f"ever_{k}"]
    for k in designs.TIE_TYPES:
        dk = ever[f"ever_{k}"] - (ever[f"ever_{k}"].mean() if reference == "sample_mean" else 0.0)
        X[f"ix_{k}"] = dk * (x0 - x0.mean())
    fit = sm.OLS(g, sm.add_constant(X)).fit(cov_type="HC1")
    got = des.coefs[des.coefs["model"] == "(3)"].set_index("term")
    for term in fit.params.index:
        assert got.loc[term, "estimate"] == pytest.approx(fit.params[term], rel=1e-9, abs=1e-12)
        assert got.loc[term, "se"] == pytest.approx(fit.bse[term], rel=1e-9, abs=1e-12)
    # the group slope b + delta_K is the slope within group K
    stats = des.stats[des.stats["model"] == "(1)"].set_index("stat")["value"]
    assert stats["N"] == "12" and stats["Half-life (years)"] != "nan"


def test_beta_design_drops_constant_dummy_and_skips_columns_on_tiny_data() -> None:
    ry = synthetic_region_year()
    ry["first_reverse"] = 0
    ever = designs.ever_ties(ry, end_year=2022)
    des = designs.beta_design(ry, ever, start=2003, end=2022)
    assert "ever_reverse" not in set(des.coefs["term"])
    dropped = des.stats[des.stats["stat"] == "Dropped (no variation / collinear)"]
    assert set(dropped["model"]) == {"(2)", "(3)"}
    small = ry[ry["region_id"].isin(["11", "12", "13", "14", "15", "16"])]
    des_small = designs.beta_design(small, designs.ever_ties(small, end_year=2022), start=2003, end=2022)
    assert set(des_small.coefs["model"]) == {"(1)", "(2)"}
    assert any("Column (3) not estimated" in n for n in des_small.notes)
    assert not des_small.coefs[["estimate", "se"]].isna().any().any()


@pytest.mark.parametrize("reference", ["none_of_groups", "sample_mean"])
def test_panel_interaction_model_equals_explicit_dummy_ols(reference: str) -> None:
    ry = synthetic_region_year()
    never = ry.groupby("region_id")[[f"active_{k}" for k in designs.TIE_TYPES]].max().sum(axis=1) == 0
    minimum = 1 if reference == "none_of_groups" else int(never.sum()) + 1
    des = designs.panel_design(ry, min_reference_units=minimum, jackknife=False)
    d = ry.sort_values(["region_id", "year"]).copy()
    d["lag"] = d.groupby("region_id")["log_gdp_pc"].shift(1)
    d["g"] = d["log_gdp_pc"] - d["lag"]
    d = d.dropna(subset=["lag"])
    X = pd.DataFrame({LAG: d["lag"]})
    for k in designs.TIE_TYPES:
        X[f"active_{k}"] = d[f"active_{k}"].astype(float)
    for k in designs.TIE_TYPES:
        a = d[f"active_{k}"].astype(float)
        X[f"ix_{k}"] = (a - (a.mean() if reference == "sample_mean" else 0.0)) * (d["lag"] - d["lag"].mean())
    fe = pd.get_dummies(d[["region_id", "year"]].astype(str), drop_first=True, dtype=float)
    fit = sm.OLS(d["g"], sm.add_constant(pd.concat([X, fe], axis=1))).fit()
    got = des.coefs[des.coefs["model"] == "(3)"].set_index("term")["estimate"]
    for term in X.columns:
        assert got[term] == pytest.approx(fit.params[term], rel=1e-8, abs=1e-11)


def test_province_pairs_and_hand_checked_crosstab() -> None:
    collabs = pd.DataFrame(
        {
            "source_id": ["a", "b", "a", "c", "a1", "d", "b"],
            "target_id": ["b", "a", "c", "d", "a2", "a", "c"],
            "start_year": [2005, 2008, 2004, 2010, 2006, 2030, 2000],
            "end_year": [None, None, None, 2012, None, None, 2001],
            "direction": ["two_way", "forward", "forward", "reverse", "forward", "forward", "forward"],
        }
    )
    pmap = {"a": "a", "b": "b", "c": "c", "d": "d", "a1": "a", "a2": "a"}
    pairs = designs.province_pairs(collabs, pmap, ["a", "b", "c", "d"], first_year=2003, last_year=2022)
    # (a,b) two-way and one-way; (a,c) one-way; (c,d) one-way; a1-a2 same province; d-a starts 2030;
    # b-c ended 2001, before the window
    assert pairs.to_dict("records") == [
        {"a": "a", "b": "b", "two_way": 1, "one_way": 1},
        {"a": "a", "b": "c", "two_way": 0, "one_way": 1},
        {"a": "c", "b": "d", "two_way": 0, "one_way": 1},
    ]
    membership = pd.Series(
        [1, 1, 2, pd.NA], index=pd.Index(["a", "b", "c", "d"], name="region_id"), dtype="Int64"
    )
    ever = pd.DataFrame(
        {
            "ever_forward_giver": [1, 0, 1, 0],
            "ever_forward_receiver": [0, 1, 1, 0],
            "ever_two_way": [1, 1, 0, 0],
            "ever_reverse": [0, 0, 1, 1],
            "ever_any": [1, 1, 1, 1],
        },
        index=["a", "b", "c", "d"],
    )
    ever.loc["d", "ever_any"] = 0
    tab = designs.club_tie_crosstab(membership, ever, pairs).set_index("group")
    assert list(tab.loc["ever forward giver", ["club 1", "club 2", "divergent", "total"]]) == [1, 1, 0, 2]
    assert list(tab.loc["ever reverse (either role)", ["club 1", "club 2", "divergent"]]) == [0, 1, 1]
    assert tab.loc["no tie", "total"] == 1 and tab.loc["all provinces", "divergent"] == 1
    tw = tab.loc["two-way partner pairs"]
    assert (tw["club 1"], tw["different clubs"], tw["divergent"], tw["same-club share"]) == (1, 0, 0, 1.0)
    ow = tab.loc["one-way partner pairs (forward or reverse)"]
    # (a,b) same club 1; (a,c) clubs 1 and 2; (c,d) d divergent
    assert (ow["club 1"], ow["different clubs"], ow["divergent"], ow["total"]) == (1, 1, 1, 3)
    assert ow["same-club share"] == pytest.approx(0.5)
    bench = tab.loc["all province pairs (benchmark)"]
    # 6 pairs; d divergent in 3; among a, b, c: (a,b) same, (a,c), (b,c) different
    assert (bench["total"], bench["divergent"], bench["club 1"], bench["different clubs"]) == (6, 3, 1, 2)
    assert bench["same-club share"] == pytest.approx(1 / 3)


def test_club_design_runs_and_skips_gracefully() -> None:
    ry = synthetic_region_year()
    names = {u: f"P{u}" for u in ry["region_id"].unique()}
    des = designs.club_design(ry, names)
    assert des.result is not None and des.reason is None
    assert des.table.loc[0, "group"] == "full panel"
    clubbed = des.membership.dropna()
    assert set(clubbed.index) <= set(names)
    short = ry[ry["year"] <= 2010]
    skipped = designs.club_design(short, names)
    assert skipped.result is None and "8 years < 10" in (skipped.reason or "")
    assert skipped.table["group"].tolist() == ["not estimated"]
    assert any("Clubs not estimated" in n for n in skipped.notes)
