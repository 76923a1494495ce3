"""Anticipation δ for BJS, Sun–Abraham and TWFE (issue 11 part 6) against simulated truth; leads
tests and thin cells for TWFE and Sun–Abraham (parts 3 and 5)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from zonespill.did import imputation, sun_abraham, twfe
from zonespill.did._pretrend import joint_wald

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}
TAU, ANT = 1.0, -0.6  # true effect from G on, true anticipation effect at e = −1


def antic_panel(seed: int, sizes: dict[int, int] | None = None, T: int = 8, noise: float = 0.2,
                trend: float = 0.0) -> pd.DataFrame:
    sizes = sizes or {0: 60, 4: 40, 6: 40}
    rng = np.random.default_rng(seed)
    rows = []
    uid = 0
    for g, n in sizes.items():
        for _ in range(n):
            a = rng.normal() + 0.5 * (g > 0)
            for t in range(1, T + 1):
                eff = (TAU if t >= g else ANT if t == g - 1 else 0.0) if g > 0 else 0.0
                pre = trend * (t - g) * (t < g - 1) if g > 0 else 0.0
                rows.append((uid, t, g, a + 0.2 * t + eff + pre + noise * rng.normal()))
            uid += 1
    return pd.DataFrame(rows, columns=["unit", "time", "cohort", "y"])


@pytest.fixture(scope="module")
def antic() -> pd.DataFrame:
    return antic_panel(11)


def test_bjs_anticipation_recovers_truth(antic: pd.DataFrame) -> None:
    r = imputation(antic, **KW, anticipation=1)
    assert abs(r.att - TAU) < 4 * r.se
    h = r.table.set_index("e")["estimate"]
    se = r.table.set_index("e")["se"]
    assert abs(h.loc[-1] - ANT) < 4 * se.loc[-1]
    assert (np.abs(h.loc[[0, 1, 2]] - TAU) < 4 * se.loc[[0, 1, 2]]).all()
    naive = imputation(antic, **KW)  # δ = 0 puts the anticipation dip into the counterfactual
    assert abs(naive.att - TAU) > 0.15  # ≈ 8 SEs
    assert r.anticipation == 1 and any("anticipation" in n for n in r.notes)
    assert r.pretrend is not None and -1 not in r.pretrend.leads and r.pretrend.excluded == (-1,)


def test_sun_abraham_anticipation_recovers_truth(antic: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sun_abraham(antic, **KW, anticipation=1)
        naive = sun_abraham(antic, **KW)
    h = r.table.set_index("e")["estimate"]
    assert -2 not in h.index  # reference period e = −1 − δ
    assert abs(h.loc[-1] - ANT) < 4 * r.table.set_index("e")["se"].loc[-1]
    assert abs(r.att - TAU) < 4 * r.se
    assert abs(naive.att - TAU) > 0.15  # ≈ 8 SEs
    assert r.pretrend is not None and r.pretrend.excluded == (-1,) and max(r.pretrend.leads) == -3


def test_twfe_anticipation_recovers_truth(antic: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = twfe(antic, **KW, anticipation=1, event_study=True)
        naive = twfe(antic, **KW, event_study=True)
    h = r.table.set_index("e")["estimate"]
    se = r.table.set_index("e")["se"]
    assert -2 not in h.index
    assert abs(h.loc[-1] - ANT) < 4 * se.loc[-1]
    assert (np.abs(h.loc[[0, 1, 2]] - TAU) < 4 * se.loc[[0, 1, 2]]).all()
    hn = naive.table.set_index("e")["estimate"]
    assert abs(hn.loc[0] - TAU) > 0.3  # reference period e = −1 is itself affected
    # static D = 1{t ≥ G − 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = antic.assign(D=((antic.cohort > 0) & (antic.time >= antic.cohort - 1)).astype(float))
        f = pf.feols("y ~ D | unit + time", data=d, vcov={"CRV1": "unit"})
        assert twfe(antic, **KW, anticipation=1).att == pytest.approx(float(f.coef().iloc[0]), abs=1e-10)


def test_leads_tests_twfe_and_sa_reject_a_pretrend_only_when_present() -> None:
    flat = antic_panel(3, noise=1.0)
    trend = antic_panel(3, noise=1.0, trend=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (twfe, sun_abraham):
            p_flat = est(flat, **KW, anticipation=1).pretrend
            p_trend = est(trend, **KW, anticipation=1).pretrend
            assert p_flat is not None and p_trend is not None
            assert p_flat.pvalue > 0.01 and p_trend.pvalue < 0.01
            assert p_flat.method == "wald" and p_flat.df == p_flat.n_leads


def test_twfe_leads_wald_equals_fixest() -> None:
    d = antic_panel(5, noise=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = twfe(d, **KW)
        rel = np.where(d.cohort > 0, d.time - d.cohort, np.nan)
        names = []
        for e in sorted({int(x) for x in rel[~np.isnan(rel)]} - {-1}):
            nm = f"e{e + 10}"
            d[nm] = (rel == e).astype(float)
            names.append((e, nm))
        f = pf.feols("y ~ " + " + ".join(n for _, n in names) + " | unit + time", data=d,
                     vcov={"CRV1": "unit"})
    leads = [n for e, n in names if e < -1]
    b = f.coef()[leads].to_numpy()
    ix = [list(f._coefnames).index(n) for n in leads]
    V = np.asarray(f._vcov)[np.ix_(ix, ix)]
    assert r.pretrend is not None and r.pretrend.df == len(leads)
    assert r.pretrend.stat == pytest.approx(float(b @ np.linalg.solve(V, b)), rel=1e-8)


def test_thin_cells_sa_and_twfe() -> None:
    d = antic_panel(8, sizes={0: 10, 4: 8, 6: 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = sun_abraham(d, **KW)
        sa_all = sun_abraham(d, **KW, include_thin_cells=True)
        tw = twfe(d, **KW)
        tw_all = twfe(d, **KW, include_thin_cells=True)
    assert set(sa.thin_cells["cohort"]) == {6.0} and not sa.cells.loc[sa.cells.cohort == 6, "used"].any()
    c = sa.extra["cells"]
    c4 = c[(c.g == 4) & (c.e >= 0)]
    assert sa.att == pytest.approx(float((c4.estimate * c4.n).sum() / c4.n.sum()), abs=1e-12)
    assert sa_all.att != pytest.approx(sa.att, abs=1e-6) and sa_all.thin_overall and not sa.thin_overall
    # TWFE drops the thin cells' treated observations (cohort 6 from t = 6 on)
    keep = ~((d.cohort == 6) & (d.time >= 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dd = d[keep].assign(D=lambda x: ((x.cohort > 0) & (x.time >= x.cohort)).astype(float))
        f = pf.feols("y ~ D | unit + time", data=dd, vcov={"CRV1": "unit"})
    assert tw.att == pytest.approx(float(f.coef().iloc[0]), abs=1e-10)
    assert tw_all.n_obs == len(d) and tw.n_obs == int(keep.sum())
    assert any("fewer than 2" in n for n in tw.notes)


def test_joint_wald_pinv_reports_rank() -> None:
    b = np.array([1.0, 2.0, 3.0])
    L = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    V = L @ L.T * 0.25  # rank 2
    t = joint_wald(b, V, labels=[-4, -3, -2])
    assert t.method == "wald-pinv" and t.rank == 2 and t.df == 2
    assert t.stat == pytest.approx(float(b @ np.linalg.pinv(V) @ b), rel=1e-10)
    assert "pseudo-inverse of rank 2" in t.note
    t0 = joint_wald(np.zeros(0), np.zeros((0, 0)))
    assert t0.method == "none" and np.isnan(t0.pvalue)
