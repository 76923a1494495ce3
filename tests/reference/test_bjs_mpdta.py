"""BJS imputation on mpdta (500 counties × 5 years, the panel where the former pinv solve was off by
0.13 %): static ATT and every horizon equal a dense least-squares imputation to 1e-12, and the
first-stage normal equations hold (issue 11 part 1).  No didimputation gold numbers are stored in
/work/shared/reference; the dense solve is the independent check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.did import imputation

DATA = Path(__file__).parent / "fixtures" / "did" / "mpdta.csv"


def test_bjs_mpdta_equals_dense_imputation() -> None:
    d = pd.read_csv(DATA)
    r = imputation(d, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    u = pd.factorize(d["countyreal"], sort=True)[0]
    t = pd.factorize(d["year"], sort=True)[0]
    g = d["first.treat"].to_numpy()
    yr = d["year"].to_numpy()
    tr = (g > 0) & (yr >= g)
    Z = np.zeros((len(d), u.max() + 1 + 5))
    Z[np.arange(len(d)), u] = 1.0
    Z[np.arange(len(d)), u.max() + 1 + t] = 1.0
    y = d["lemp"].to_numpy()
    coef = np.linalg.lstsq(Z[~tr], y[~tr], rcond=None)[0]
    resid0 = y[~tr] - Z[~tr] @ coef
    assert np.abs(Z[~tr].T @ resid0).max() < 1e-9  # the dense solve itself is exact
    tau = y[tr] - Z[tr] @ coef
    assert r.att == pytest.approx(tau.mean(), abs=1e-12)
    ev = (yr - g)[tr]
    for e, est in zip(r.table["e"], r.table["estimate"], strict=True):
        assert est == pytest.approx(tau[ev == e].mean(), abs=1e-12)
