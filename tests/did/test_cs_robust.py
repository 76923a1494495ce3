"""Callaway–Sant'Anna as robust as R did / DRDID (issue 11 part 4) and its identification
diagnostics and pre-trend test (parts 3, 5): unidentified cells NaN, propensity trimming, overlap
diagnostics, thin cells, pseudo-inverse pre-test that always reports, anticipation excluded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from zonespill.did import callaway_santanna

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


def overlap_panel(seed: int, n_never: int = 60, n_treat: int = 40, T: int = 4, g: int = 3,
                  extreme: float = 0.0) -> pd.DataFrame:
    """Two-cohort panel with a baseline covariate x driving treatment; ``extreme`` adds one control
    whose covariate makes it look like a treated unit (propensity near 1)."""
    rng = np.random.default_rng(seed)
    rows = []
    xs = np.r_[rng.normal(-0.5, 1, n_never), rng.normal(1.0, 1, n_treat)]
    gs = np.r_[np.zeros(n_never), np.full(n_treat, g)]
    if extreme:
        xs = np.r_[xs, extreme]
        gs = np.r_[gs, 0]
    for i, (x, gi) in enumerate(zip(xs, gs, strict=True)):
        a = rng.normal() + 0.5 * x
        for t in range(1, T + 1):
            eff = 1.0 if gi > 0 and t >= gi else 0.0
            rows.append((i, t, gi, x, a + 0.3 * t + 0.2 * x * t + eff + 0.3 * rng.normal()))
    return pd.DataFrame(rows, columns=["unit", "time", "cohort", "x", "y"])


def drdid_by_hand(d: pd.DataFrame, g: float, t: int, b: int, trim: float) -> tuple[float, float]:
    """DRDID's drdid_panel point estimate with trimming, from its formulas (statsmodels logit/OLS)."""
    w = d.pivot(index="unit", columns="time", values="y")
    x = d.groupby("unit")["x"].first()
    coh = d.groupby("unit")["cohort"].first()
    sub = (coh == g) | (coh == 0)
    dy = (w[t] - w[b])[sub].to_numpy()
    D = (coh[sub] == g).to_numpy(dtype=float)
    X = sm.add_constant(x[sub].to_numpy())
    ps = sm.Logit(D, X).fit(disp=0, method="newton", tol=1e-14, maxiter=200).predict(X)
    ps = np.minimum(ps, 1 - 1e-6)
    keep = (D == 1) | (ps < trim)
    beta = np.linalg.lstsq(X[D == 0], dy[D == 0], rcond=None)[0]
    r = dy - X @ beta
    wt = D
    wc = keep * ps * (1 - D) / (1 - ps)
    return float((wt * r).sum() / wt.sum() - (wc * r).sum() / wc.sum()), float(wc.max() / wc.sum())


@pytest.mark.parametrize("trim", [0.995, 0.9])
def test_dr_trimming_equals_drdid_formulas(trim: float) -> None:
    d = overlap_panel(1, extreme=6.0)
    r = callaway_santanna(d, **KW, covariates=["x"], method="dr", trim_level=trim)
    row = r.att_gt[(r.att_gt.cohort == 3) & (r.att_gt.time == 3)].iloc[0]
    att, share = drdid_by_hand(d, 3, 3, 2, trim)
    assert row["att"] == pytest.approx(att, abs=1e-8)
    assert row["max_w_share"] == pytest.approx(share, rel=1e-6)
    assert row["n_trimmed"] >= 1  # the extreme control (propensity ≈ 1) is trimmed
    assert row["ps_max_control"] > 0.995 and row["ps_mass_high"] > 0
    assert any("propensity trimming" in n for n in r.notes)


def test_no_abort_on_extreme_propensity_and_trimming_changes_estimate() -> None:
    d = overlap_panel(2, extreme=6.0)
    a = callaway_santanna(d, **KW, covariates=["x"], method="ipw")
    b = callaway_santanna(d, **KW, covariates=["x"], method="ipw", trim_level=1.0)
    assert np.isfinite(a.att) and np.isfinite(b.att) and a.att != pytest.approx(b.att, abs=1e-6)


def test_overlap_note_when_one_control_dominates() -> None:
    d = overlap_panel(3, n_never=25, extreme=4.5)
    r = callaway_santanna(d, **KW, covariates=["x"], method="ipw", trim_level=1.0)
    assert (r.overlap["max_w_share"] > 0.5).any()
    assert any("weak overlap" in n for n in r.notes)
    assert any("weak overlap" in n for n in r.aggregate("simple").notes)


def test_unconditional_weight_share_is_one_over_controls() -> None:
    d = overlap_panel(4)
    r = callaway_santanna(d, **KW)
    assert r.overlap["max_w_share"].dropna().to_numpy() == pytest.approx(1 / 60)
    assert (r.cells["n_control"] == 60).all() and (r.cells["n_treated"] == 40).all()


def test_thin_cells_flagged_excluded_and_opt_in() -> None:
    d = overlap_panel(5, n_never=1, n_treat=10)  # one control: its influence function is zero
    r = callaway_santanna(d, **KW)
    assert r.att_gt["thin"].all() and not r.att_gt["used"].any()
    agg = r.aggregate("simple")
    assert np.isnan(agg.att) and agg.thin_overall
    assert any("fewer than 2 unit(s)" in n for n in r.notes)
    r2 = callaway_santanna(d, **KW, include_thin_cells=True)
    a2 = r2.aggregate("dynamic")
    assert np.isfinite(a2.att) and a2.thin_overall and a2.table["thin"].all()
    assert r.pretrend is not None and r.pretrend.n_leads == 0 and np.isnan(r.pretrend.pvalue)


def test_thin_cohort_excluded_from_aggregation_only() -> None:
    d = overlap_panel(6, n_never=20, n_treat=10, T=5)
    d2 = d.copy()
    d2.loc[d2.unit == 20, "cohort"] = 5  # a singleton cohort 5
    r = callaway_santanna(d2, **KW)
    c = r.att_gt
    assert c.loc[c.cohort == 5, "thin"].all() and not c.loc[c.cohort == 3, "thin"].any()
    # overall = cohort 3's cells only (weights ∝ cohort size, only one cohort left)
    post3 = c[(c.cohort == 3) & (c.time >= 3)]
    assert r.aggregate("simple").att == pytest.approx(post3["att"].mean(), abs=1e-12)
    grp = r.aggregate("group").table
    assert list(grp["cohort"]) == [3.0]


def test_pretrend_always_reports_with_pseudo_inverse_rank() -> None:
    rng = np.random.default_rng(7)
    d = overlap_panel(7, n_never=12, n_treat=12, T=7, g=6)
    cl = dict(zip(range(24), rng.integers(0, 3, 24), strict=True))  # 3 clusters, 4 pre cells
    d["cl"] = d["unit"].map(cl)
    r = callaway_santanna(d, **KW, cluster="cl")
    p = r.pretrend
    assert p is not None and np.isfinite(p.stat) and np.isfinite(p.pvalue)
    assert p.method == "wald-pinv" and p.rank <= 3 < p.n_leads == 4 and p.df == p.rank
    assert "pseudo-inverse" in p.note


def test_pretrend_excludes_anticipation_cells() -> None:
    """True parallel trends, a real anticipation effect at e = −1 and δ = 1: the pre-test must not
    pick up the anticipation effect (it did: p ≈ 1e-135 in the issue)."""
    rng = np.random.default_rng(8)
    rows = []
    for i in range(200):
        g = 0 if i < 100 else 5
        a = rng.normal()
        for t in range(1, 8):
            eff = 1.0 if g and t >= g else (-0.8 if g and t == g - 1 else 0.0)
            rows.append((i, t, g, a + 0.2 * t + eff + 0.3 * rng.normal()))
    d = pd.DataFrame(rows, columns=["unit", "time", "cohort", "y"])
    r = callaway_santanna(d, **KW, anticipation=1)
    assert r.pretrend is not None and r.pretrend.excluded == ("(g=5, t=4)",)
    assert r.pretrend.pvalue > 0.01
    assert all(t < 4 for _, t in r.pretrend.leads)
    r0 = callaway_santanna(d, **KW)  # δ = 0: the anticipation dip is a pre-trend
    assert r0.pretrend is not None and r0.pretrend.pvalue < 1e-10
