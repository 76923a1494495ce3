"""Event-study and Sun-Abraham dummies are added in one block: no pandas PerformanceWarning
(issue 10 part 6 counted 8,177 such lines at 3,000 regions, from one insert per dummy)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from zonespill.did.regression import sun_abraham, twfe


@pytest.mark.slow  # a few hundred dummies through pyfixest: ~10 s on a loaded machine
def test_many_cohort_event_cells_raise_no_performance_warning() -> None:
    rng = np.random.default_rng(0)
    n, periods = 80, 25  # ~20 cohorts x ~24 event times: a few hundred dummy columns
    unit = np.repeat(np.arange(n), periods)
    time = np.tile(np.arange(2000, 2000 + periods), n)
    cohort = np.repeat(np.where(rng.random(n) < 0.3, 0, rng.integers(2003, 2000 + periods, n)), periods)
    y = rng.normal(size=n * periods) + 0.1 * ((cohort > 0) & (time >= cohort))
    data = pd.DataFrame({"u": unit.astype(str), "t": time, "g": cohort, "y": y})
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        sa = sun_abraham(data, outcome="y", unit="u", time="t", cohort="g")
        es = twfe(data, outcome="y", unit="u", time="t", cohort="g", event_study=True)
    assert len(sa.extra["cells"]) > 100 and len(es.table) > 20
