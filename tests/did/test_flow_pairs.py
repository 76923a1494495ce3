"""Pair-level flow DiD (issue 9 part 7): the sample built from flow_pair_year and a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.did import designs as D
from zonespill.did.flow_pairs import flow_pair_sample
from zonespill.errors import InputError


def _flow_pair_year(effect: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """24 pairs × 2004–2015, one kind; pairs 0–5 tied in 2008, 6–11 in 2011, the rest never.
    Outcome = pair effect + year effect + `effect` once tied + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(24):
        first = 2008 if p < 6 else (2011 if p < 12 else 0)
        a = rng.normal()
        for y in range(2004, 2016):
            tied = first and y >= first
            rows.append({"unit_a": f"A{p:02d}", "unit_b": f"B{p % 7}", "kind": "trade", "year": y,
                         "flow_ab": 1.0, "flow_ba": 1.0, "flow_total": 2.0, "net_share_ab": 0.0,
                         "two_way_index": a + 0.02 * (y - 2004) + effect * tied + 0.01 * rng.normal(),
                         "first_tie": first, "active_tie": int(bool(tied))})
    return pd.DataFrame(rows)


def test_sample_counts_pairs_cohorts_and_drops() -> None:
    fpy = _flow_pair_year()
    fpy.loc[(fpy["unit_a"] == "A20") & (fpy["year"] == 2010), "two_way_index"] = np.nan  # no flow that year
    early = fpy["unit_a"] == "A00"
    fpy.loc[early, "first_tie"] = 2004  # tied in the first year: no pre-period
    s = flow_pair_sample(fpy, kind="trade")
    assert s.n_units == 22
    assert s.cohort_sizes() == {2008: 5, 2011: 6}
    assert s.n_never() == 11
    assert dict((r, n) for n, r in s.dropped)[
        "pairs with a missing two_way_index in some year (e.g. no flow either way)"] == 1
    assert s.dropped[0][0] == 1 and s.cluster == ("unit_a", "unit_b")


def test_known_effect_is_recovered_by_every_estimator() -> None:
    s = flow_pair_sample(_flow_pair_year(effect=0.3), kind="trade")
    settings = D.EstimatorSettings()
    for est in (D.CS_NOTYET, D.CS_NEVER, D.BJS, D.TWFE):
        r = D.estimate(s, est, settings, bootstrap=False)
        assert r.reason is None, (est, r.reason)
        assert r.att == pytest.approx(0.3, abs=0.02), est


def test_unknown_outcome_column_is_named() -> None:
    with pytest.raises(InputError, match=r"flow_pair_year.*not_a_column"):
        flow_pair_sample(_flow_pair_year(), kind="trade", outcome="not_a_column")
