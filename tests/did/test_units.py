"""Unit tests: Bacon decomposition identities, refusals, two-way clustering, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from zonespill.did import bacon_decomposition, callaway_santanna, imputation, sun_abraham, twfe
from zonespill.did.simulate import staggered_panel
from zonespill.errors import EstimationError, InputError

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    data, _ = staggered_panel(120, 7, seed=3, cohorts=[3, 5, 6])
    return data


def with_always_treated(data: pd.DataFrame) -> pd.DataFrame:
    d = data.copy()
    d.loc[d["unit"] < 10, "cohort"] = 1  # treated from the first period on
    return d


@pytest.mark.parametrize("always", [False, True])
def test_bacon_weights_sum_to_one_and_reproduce_twfe(small: pd.DataFrame, always: bool) -> None:
    d = with_always_treated(small) if always else small
    b = bacon_decomposition(d, **KW)
    f = b.to_frame()
    assert list(f.columns) == ["type", "treated", "control", "estimate", "weight"]
    assert f["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (f["weight"] >= 0).all()
    assert b.att == pytest.approx(twfe(d, **KW).att, abs=1e-10)
    if always:
        assert "Later vs Always Treated" in set(f["type"])


def test_refuses_cohort_without_controls(small: pd.DataFrame) -> None:
    d = small[small["cohort"] > 0]  # no never-treated units
    # CS degrades cell by cell (as R did): unidentified cells are NaN with a message, not an abort
    r = callaway_santanna(d, **KW, control_group="notyet")
    bad = r.att_gt[(r.att_gt.cohort == 3) & (r.att_gt.time == 6)].iloc[0]
    assert np.isnan(bad["att"]) and "no valid control units" in bad["status"] and not bad["used"]
    assert any("ATT(g=3, t=6) not identified" in n for n in r.notes)
    with pytest.raises(EstimationError, match="never-treated"):
        callaway_santanna(d, **KW)
    with pytest.raises(EstimationError, match="'6'"):
        imputation(d, **KW)
    with pytest.raises(EstimationError, match="never-treated"):
        sun_abraham(d, **KW)


def test_refuses_bad_input(small: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unbalanced panel"):
        callaway_santanna(small.iloc[1:], **KW)
    with pytest.raises(InputError, match="column 'nope'"):
        callaway_santanna(small, **{**KW, "outcome": "nope"})
    with pytest.raises(InputError, match="duplicate"):
        twfe(pd.concat([small, small.iloc[:1]]), **KW)
    bad = small.copy()
    bad.loc[0, "cohort"] = 5
    with pytest.raises(InputError, match="cohort varies within unit"):
        imputation(bad, **KW)


def test_cohort_sizes_recorded(small: pd.DataFrame) -> None:
    r = callaway_santanna(small, **KW)
    u = small.drop_duplicates("unit")
    assert r.cohort_sizes == {float(g): int(n) for g, n in u[u.cohort > 0].groupby("cohort").size().items()}
    assert imputation(small, **KW).cohort_sizes == r.cohort_sizes


def test_bootstrap_deterministic(small: pd.DataFrame) -> None:
    a = callaway_santanna(small, **KW, n_boot=199, seed=5)
    b = callaway_santanna(small, **KW, n_boot=199, seed=5)
    c = callaway_santanna(small, **KW, n_boot=199, seed=6)
    pd.testing.assert_frame_equal(a.att_gt, b.att_gt)
    pd.testing.assert_frame_equal(a.aggregate("dynamic").table, b.aggregate("dynamic").table)
    assert not np.allclose(a.att_gt["se"], c.att_gt["se"])
    g1 = callaway_santanna(small, **KW, n_boot=199, seed=np.random.default_rng(9))
    g2 = callaway_santanna(small, **KW, n_boot=199, seed=np.random.default_rng(9))
    pd.testing.assert_frame_equal(g1.att_gt, g2.att_gt)
    assert {"cband_lower", "cband_upper"} <= set(a.aggregate("dynamic").table.columns)


def _pairs(small: pd.DataFrame) -> pd.DataFrame:
    d = small.copy()
    d["pa"] = d["unit"] % 5
    d["pb"] = d["unit"] // 13
    return d


def _hand_meat(scores: np.ndarray, codes: np.ndarray) -> float:
    total = 0.0
    for c in np.unique(codes):
        total += scores[codes == c].sum() ** 2
    return total


def test_two_way_clustering_cs_by_hand(small: pd.DataFrame) -> None:
    d = _pairs(small)
    r = callaway_santanna(d, **KW, cluster=("pa", "pb"))
    u = d.drop_duplicates("unit").sort_values("unit")
    a, b = u["pa"].to_numpy(), u["pb"].to_numpy()
    ab = a * 1000 + b
    simple = r.aggregate("simple")
    # rebuild the aggregated influence function from the unclustered fit (same point estimates)
    r0 = callaway_santanna(d, **KW)
    assert simple.att == pytest.approx(r0.aggregate("simple").att)
    inf = r.influence
    n = inf.shape[0]
    for k in range(inf.shape[1]):
        psi = inf[:, k]
        V = (_hand_meat(psi, a) + _hand_meat(psi, b) - _hand_meat(psi, ab)) / n**2
        se = r.att_gt["se"].iloc[k]
        if V > 0:
            assert se == pytest.approx(np.sqrt(V), rel=1e-12)


@pytest.mark.filterwarnings("ignore::Warning")
def test_two_way_clustering_twfe_and_bjs_by_hand(small: pd.DataFrame) -> None:
    d = _pairs(small)
    d["D"] = ((d.cohort > 0) & (d.time >= d.cohort)).astype(float)
    two = twfe(d, **KW, cluster=("pa", "pb"))
    d["pab"] = d["pa"] * 1000 + d["pb"]
    # fixest/pyfixest: V = G_min/(G_min-1) * κ * (V0_a + V0_b - V0_ab), one-way V_x = G_x/(G_x-1) κ V0_x
    parts = {}
    for c in ("pa", "pb", "pab"):
        f = pf.feols("y ~ D | unit + time", data=d, vcov={"CRV1": c})
        G = d[c].nunique()
        parts[c] = float(f._vcov[0, 0]) * (G - 1) / G
    gmin = min(d["pa"].nunique(), d["pb"].nunique())
    V = gmin / (gmin - 1) * (parts["pa"] + parts["pb"] - parts["pab"])
    assert two.se == pytest.approx(np.sqrt(V), rel=1e-10)
    # BJS: variance = sum over clusters of squared cluster sums of v*eps, inclusion-exclusion
    one = {c: imputation(d, **KW, cluster=c, horizons=False).se ** 2 for c in ("pa", "pb", "pab")}
    bjs2 = imputation(d, **KW, cluster=("pa", "pb"), horizons=False)
    assert bjs2.se**2 == pytest.approx(one["pa"] + one["pb"] - one["pab"], rel=1e-10)


def test_bjs_point_estimate_equals_brute_force(small: pd.DataFrame) -> None:
    d = small.copy()
    treated = ((d.cohort > 0) & (d.time >= d.cohort)).to_numpy()
    X = pd.get_dummies(d[["unit", "time"]].astype(str), drop_first=True).astype(float)
    X.insert(0, "c", 1.0)
    beta = np.linalg.lstsq(X[~treated].to_numpy(), d["y"].to_numpy()[~treated], rcond=None)[0]
    tau = d["y"].to_numpy()[treated] - X[treated].to_numpy() @ beta
    r = imputation(d, **KW)
    assert r.att == pytest.approx(tau.mean(), abs=1e-10)
    ev = (d.time - d.cohort).to_numpy()[treated]
    for e, est in zip(r.table["e"], r.table["estimate"], strict=True):
        assert est == pytest.approx(tau[ev == e].mean(), abs=1e-10)


def test_results_are_frozen_and_summarise(small: pd.DataFrame) -> None:
    for r in (callaway_santanna(small, **KW), twfe(small, **KW), sun_abraham(small, **KW),
              imputation(small, **KW), bacon_decomposition(small, **KW)):
        assert isinstance(r.summary(), str) and isinstance(r.to_frame(), pd.DataFrame)
        assert np.isfinite(r.att) and np.isfinite(r.se)
        with pytest.raises(AttributeError):
            r.att = 0.0  # type: ignore[misc]
