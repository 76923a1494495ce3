"""Simulation checks: recovery of known effects, TWFE bias, and a small Monte Carlo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from zonespill.did import callaway_santanna, imputation, sun_abraham, twfe
from zonespill.did.simulate import staggered_panel

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


@pytest.fixture(scope="module")
def panel() -> tuple[pd.DataFrame, object]:
    return staggered_panel(3000, 10, seed=11, noise_sd=0.5)


def test_truth_is_consistent(panel: tuple) -> None:
    data, truth = panel
    post = data[(data.cohort > 0) & (data.time >= data.cohort)]
    assert len(truth.att_gt) == post.groupby(["cohort", "time"]).ngroups
    assert truth.dynamic.index.min() == 0


def test_robust_estimators_recover_truth_twfe_biased(panel: tuple) -> None:
    data, truth = panel
    cs = callaway_santanna(data, **KW)
    sa = sun_abraham(data, **KW)
    bjs = imputation(data, **KW)
    tw = twfe(data, **KW)
    for r in (cs, sa, bjs):
        assert abs(r.att - truth.att) < 3.5 * r.se, (type(r).__name__, r.att, truth.att, r.se)
    # TWFE: negative weights on growing effects -> far below the truth
    assert truth.att - tw.att > 10 * tw.se
    # event-time effects (e >= 0) of CS and SA and BJS horizons
    dyn = cs.aggregate("dynamic").table.set_index("e")
    for e, true in truth.dynamic.items():
        assert abs(dyn.loc[e, "att"] - true) < 4 * dyn.loc[e, "se"]
    sat = sa.table.set_index("e")
    bt = bjs.table.set_index("e")
    for e, true in truth.dynamic.items():
        assert abs(sat.loc[e, "estimate"] - true) < 4 * sat.loc[e, "se"]
        assert abs(bt.loc[e, "estimate"] - true) < 4 * bt.loc[e, "se"]
    # ATT(g,t) cell by cell
    m = cs.att_gt.merge(truth.att_gt, on=["cohort", "time"], suffixes=("", "_true"))
    assert len(m) == len(truth.att_gt)
    z = (m["att"] - m["att_true"]) / m["se"]
    assert (np.abs(z) < 4).all()
    # pre-trends hold in the DGP
    assert cs.pretrend is not None and cs.pretrend.pvalue > 0.001


def test_monte_carlo_bias_and_coverage() -> None:
    """200 replications of a 200-unit, 6-period panel.

    Bounds: |mean bias| < 0.03 (≈ 4 Monte-Carlo SEs of the mean); CS 95 % CI coverage within
    [0.90, 0.99] (binomial SD 1.5 % at 0.95); BJS's conservative CI coverage ≥ 0.90.
    """
    reps = 200
    z = stats.norm.ppf(0.975)
    res = {"cs": [], "bjs": []}
    for r in range(reps):
        data, truth = staggered_panel(200, 6, seed=1000 + r, cohorts=[3, 5], ar=0.3)
        for name, fn in (("cs", callaway_santanna), ("bjs", imputation)):
            fit = fn(data, **KW)
            res[name].append((fit.att - truth.att, abs(fit.att - truth.att) <= z * fit.se))
    for name, vals in res.items():
        a = np.array(vals)
        bias, cover = a[:, 0].mean(), a[:, 1].mean()
        assert abs(bias) < 0.03, (name, bias)
        assert cover >= 0.90, (name, cover)
        if name == "cs":
            assert cover <= 0.99, (name, cover)
