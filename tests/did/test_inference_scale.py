"""The scale paths of the WCR and RI (sparse regressors, FE projection as sparse minus low rank,
quadratic-form bootstrap statistics) give the same results as the dense reference paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from zonespill.did import sun_abraham, twfe
from zonespill.did.inference import (
    FEProjector,
    LinearDesign,
    design_from_long,
    event_maker,
    linear_inference,
    sunab_maker,
    twfe_maker,
    wcr_setup_many,
)
from zonespill.did.regression import _drop_always_treated, _long
from zonespill.did.simulate import staggered_panel

KW: dict[str, Any] = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


def _designs(df: pd.DataFrame) -> list[tuple[str, LinearDesign]]:
    ld, cn = _long(df, cluster=None, **KW)
    ld, _ = _drop_always_treated(ld)
    sa = sun_abraham(df, **KW)
    cells = [(float(g), int(e)) for g, e in zip(sa.extra["cells"]["g"], sa.extra["cells"]["e"], strict=True)]
    rows = [int(e) for e in sa.table["e"]]
    tw = twfe(df, **KW, event_study=True)
    evs = [int(e) for e in tw.table["e"]]
    return [
        ("twfe", design_from_long(ld, cn[0], twfe_maker(0), np.array([True]))),
        ("event", design_from_long(ld, cn[0], event_maker(evs), np.array(evs) >= 0)),
        ("sa", design_from_long(ld, cn[0], sunab_maker(cells, rows), np.ones(1 + len(rows), dtype=bool))),
    ]


@pytest.mark.parametrize("seed", [0, 3])
def test_sparse_builders_equal_dense(seed: int) -> None:
    df, _ = staggered_panel(12, 7, seed=seed, never_share=0.3, cohorts=[3, 5])
    for _name, d in _designs(df):
        assert d.build_sparse is not None
        rng = np.random.default_rng(seed)
        for g in (d.g_unit, rng.permutation(d.g_unit)):
            Xd, Rd = d.build(g)
            Xs, Rs = d.build_sparse(g)
            np.testing.assert_array_equal(Xs.toarray(), Xd)
            np.testing.assert_allclose(Rs, Rd, rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", [1, 4])
def test_fast_wcr_and_ri_equal_dense_reference(seed: int) -> None:
    """Low-rank WCR = dense-X WCR (t* draw by draw), sparse RI = dense-weights RI."""
    df, _ = staggered_panel(12, 7, seed=seed, never_share=0.3, cohorts=[3, 5])
    for _name, d in _designs(df):
        P = FEProjector(d.unit, d.time)
        X, R = d.build(d.g_unit)
        dense = wcr_setup_many(P(X), P(d.y), d.cluster, R, n_boot=499, seed=7)
        fast = wcr_setup_many(None, P(d.y), d.cluster, R, n_boot=499, seed=7, X_lowrank=P.lowrank(X))
        for a, b in zip(dense, fast, strict=True):
            assert (a is None) == (b is None)
            if a is None or b is None:
                continue
            assert b.estimate == pytest.approx(a.estimate, rel=1e-10, abs=1e-12)
            assert b.se == pytest.approx(a.se, rel=1e-10)
            for dd in (0.0, a.estimate, -0.5):
                np.testing.assert_allclose(b.tstats(dd)[1], a.tstats(dd)[1], rtol=1e-8, atol=1e-10)
            assert b.pvalue_at(a.estimate) == a.pvalue_at(a.estimate)
        # RI: the sparse path vs the dense weights of the same design (same permutations)
        fast_ri = linear_inference(d, "ri", n_boot=199, weights="rademacher", seed=2, alpha=0.05)
        slow = LinearDesign(build=d.build, unit=d.unit, time=d.time, y=d.y, d_obs=d.d_obs, cluster=d.cluster,
                            g_unit=d.g_unit, post=d.post)
        slow_ri = linear_inference(slow, "ri", n_boot=199, weights="rademacher", seed=2, alpha=0.05)
        for a2, b2 in zip(slow_ri, fast_ri, strict=True):
            np.testing.assert_allclose(b2.pvalue, a2.pvalue, rtol=0, atol=1e-12)
            np.testing.assert_allclose(b2.ci, a2.ci, rtol=1e-8, atol=1e-10)


def test_fe_projector_unbalanced_equals_lstsq_and_lowrank() -> None:
    """Unit + time residual maker on an unbalanced panel (a period observed by few units) equals
    a dense least-squares residual; its sparse-minus-low-rank form reproduces it."""
    rng = np.random.default_rng(5)
    unit, time = np.meshgrid(np.arange(9), np.arange(6), indexing="ij")
    keep = rng.random(unit.size) > 0.25
    keep[unit.ravel() == 0] = True
    u, t = unit.ravel()[keep], time.ravel()[keep]
    M = rng.normal(size=(len(u), 3))
    Z = np.column_stack([np.eye(9)[u], np.eye(6)[t]])
    ref = M - Z @ np.linalg.lstsq(Z, M, rcond=None)[0]
    P = FEProjector(u, t)
    np.testing.assert_allclose(P(M), ref, atol=1e-10)
    Xw, Q, C = P.lowrank(M)
    np.testing.assert_allclose(Xw.toarray() - Q @ C.T, ref, atol=1e-10)


@pytest.mark.parametrize(("control", "base", "delta"), [
    ("never", "varying", 0), ("notyet", "varying", 0), ("notyet", "universal", 1), ("never", "universal", 0)])
def test_cs_ri_fast_path_equals_refit(control: str, base: str, delta: int) -> None:
    """CS randomisation inference without covariates: ATT(g,t) from cohort sums under each
    permuted assignment = the full refit (same permutations, same p-values and CIs)."""
    import dataclasses

    from zonespill.did import callaway_santanna

    df, _ = staggered_panel(14, 8, seed=9, never_share=0.3, cohorts=[4, 5, 7])
    res = callaway_santanna(df, **KW, control_group=control, base_period=base,  # type: ignore[arg-type]
                            anticipation=delta, inference="ri", n_boot=99, seed=3)
    assert res.ri_att is not None
    slow = dataclasses.replace(res, ri_att=None, _ri_cache={})
    for kind in ("simple", "dynamic", "group", "calendar"):
        a, b = res.aggregate(kind), slow.aggregate(kind)  # type: ignore[arg-type]
        assert a.pvalue == pytest.approx(b.pvalue, abs=1e-12)
        np.testing.assert_allclose(a.ci, b.ci, rtol=1e-8, atol=1e-10)
        if "pvalue" in a.table:
            np.testing.assert_allclose(a.table["pvalue"], b.table["pvalue"], atol=1e-12)
