"""Identification diagnostics (issue 11 part 3): units per side of every (g,t) cell, thin cells
flagged and excluded unless asked for, BJS leave-out residuals; BJS pre-test (part 5)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from zonespill.did import imputation
from zonespill.did.regression import _bjs_cell_means

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


def panel(sizes: dict[int, int], T: int = 6, seed: int = 0, effect: float = 0.0) -> pd.DataFrame:
    """Balanced panel: ``sizes`` maps cohort (0 = never) to the number of units; true effect given."""
    rng = np.random.default_rng(seed)
    rows = []
    uid = 0
    for g, n in sizes.items():
        for _ in range(n):
            a = rng.normal()
            for t in range(1, T + 1):
                d = g > 0 and t >= g
                rows.append((uid, t, g, a + 0.3 * t + effect * d + rng.normal()))
            uid += 1
    return pd.DataFrame(rows, columns=["unit", "time", "cohort", "y"])


def dense_tau(d: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Independent imputation: dense least squares on untreated observations."""
    tr = ((d.cohort > 0) & (d.time >= d.cohort)).to_numpy()
    u = pd.factorize(d.unit, sort=True)[0]
    t = pd.factorize(d.time, sort=True)[0]
    Z = np.zeros((len(d), u.max() + t.max() + 2))
    Z[np.arange(len(d)), u] = 1
    Z[np.arange(len(d)), u.max() + 1 + t] = 1
    coef = np.linalg.lstsq(Z[~tr], d.y.to_numpy()[~tr], rcond=None)[0]
    return tr, d.y.to_numpy() - Z @ coef


def test_bjs_reports_support_and_excludes_singleton_cohort() -> None:
    d = panel({0: 8, 3: 5, 5: 1}, seed=1)
    r = imputation(d, **KW)
    c = r.cells.set_index(["cohort", "time"])
    assert c.loc[(5.0, 5.0), "n_treated"] == 1 and bool(c.loc[(5.0, 5.0), "thin"])
    assert not bool(c.loc[(5.0, 5.0), "used"])
    assert c.loc[(3.0, 4.0), "n_treated"] == 5 and c.loc[(3.0, 4.0), "n_control"] == 8 + 1
    assert c.loc[(3.0, 6.0), "n_control"] == 8  # cohort 5 is treated at t = 6
    assert set(r.thin_cells["cohort"]) == {5.0}
    assert r.cohort_support.set_index("cohort").loc[5.0, "n_thin"] == 2
    assert any("fewer than 2 unit(s)" in n and "g=5, t=5" in n for n in r.notes)
    tr, tau = dense_tau(d)
    ok = tr & (d.cohort == 3).to_numpy()
    assert r.att == pytest.approx(tau[ok].mean(), abs=1e-10)
    assert not r.thin_overall
    # e = 2, 3 rest on cohort 3 only; with cohort 5 excluded no horizon is thin
    assert not r.table["thin"].any()
    r_all = imputation(d, **KW, include_thin_cells=True)
    assert r_all.att == pytest.approx(tau[tr].mean(), abs=1e-10)
    assert r_all.thin_overall and r_all.table.set_index("e").loc[0, "thin"]
    assert any("INCLUDED" in n for n in r_all.notes)


def test_bjs_all_thin_gives_nan_not_a_number_with_stars() -> None:
    d = panel({0: 1, 3: 6}, seed=2)  # one never-treated unit: every post cell has 1 control
    r = imputation(d, **KW)
    assert r.cells["thin"].loc[r.cells["time"] >= 3].all()
    assert np.isnan(r.att) and np.isnan(r.se) and r.thin_overall


def test_leave_out_means_by_brute_force() -> None:
    rng = np.random.default_rng(5)
    cell = np.array([0, 0, 0, 1, 1, 2])
    unit = np.array([0, 1, 1, 2, 3, 4])
    v = rng.normal(size=(6, 2))
    tau = rng.normal(size=6)
    got = _bjs_cell_means(cell, unit, v, tau)
    for i in range(6):
        for k in range(2):
            m = (cell == cell[i]) & (unit != unit[i])
            w = v[m, k] ** 2
            exp = (w * tau[m]).sum() / w.sum() if m.any() else 0.0
            assert got[i, k] == pytest.approx(exp, abs=1e-12)
    full = _bjs_cell_means(cell, None, v, tau)
    assert full[0, 0] == pytest.approx((v[:3, 0] ** 2 * tau[:3]).sum() / (v[:3, 0] ** 2).sum())


def test_leave_out_se_larger_in_small_cohorts() -> None:
    """Two treated units per cohort: the plain cell mean absorbs half of each treated residual;
    the leave-out residuals do not, so the average conservative SE is larger."""
    ses_lo, ses = [], []
    for s in range(20):
        d = panel({0: 6, 3: 2, 4: 2}, seed=100 + s)
        ses_lo.append(imputation(d, **KW, horizons=False).se)
        ses.append(imputation(d, **KW, horizons=False, leave_out=False).se)
    assert np.mean(ses_lo) > np.mean(ses)


def test_bjs_pretest_equals_fixest_leads_regression() -> None:
    d = pd.read_csv("tests/reference/fixtures/did/mpdta.csv")
    r = imputation(d, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    g = d["first.treat"]
    d0 = d[~((g > 0) & (d.year >= g))].copy()
    e = np.where(d0["first.treat"] > 0, d0.year - d0["first.treat"], np.nan)
    for k in (1, 2, 3):
        d0[f"L{k}"] = (e == -k).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = pf.feols("lemp ~ L1 + L2 + L3 | countyreal + year", data=d0, vcov={"CRV1": "countyreal"},
                     ssc=pf.ssc(adj=False, cluster_adj=False))
    tab = r.extra["pretrend"]
    assert list(tab["e"]) == [-1, -2, -3]
    np.testing.assert_allclose(tab["estimate"], f.coef().to_numpy(), rtol=1e-8)
    n, G, K = len(d0), 500, 3 + 4  # CR1: G/(G−1)(n−1)/(n−K), K = leads + period effects
    V = np.asarray(f._vcov) * G / (G - 1) * (n - 1) / (n - K)
    np.testing.assert_allclose(tab["se"] ** 2, np.diag(V), rtol=1e-6)
    b = f.coef().to_numpy()
    assert r.pretrend is not None and r.pretrend.method == "wald" and r.pretrend.df == 3
    assert r.pretrend.stat == pytest.approx(float(b @ np.linalg.solve(V, b)), rel=1e-6)


def test_bjs_pretest_rejects_violation_and_not_under_null() -> None:
    rej = 0
    for s in range(10):
        d = panel({0: 30, 4: 30}, T=7, seed=200 + s, effect=0.5)
        r = imputation(d, **KW)
        assert r.pretrend is not None and r.pretrend.df == 2
        rej += r.pretrend.pvalue < 0.05
    assert rej <= 3
    d = panel({0: 30, 4: 30}, T=7, seed=7, effect=0.5)
    d.loc[d.cohort == 4, "y"] += 0.8 * d.loc[d.cohort == 4, "time"]  # diverging pre-trend
    assert imputation(d, **KW).pretrend.pvalue < 1e-6
