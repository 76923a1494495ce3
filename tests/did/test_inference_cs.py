"""Callaway–Sant'Anna small-sample inference (issue 11 part 2) and the event-study covariance."""

from __future__ import annotations

import numpy as np
import pytest

from zonespill.did import callaway_santanna
from zonespill.did.simulate import staggered_panel
from zonespill.errors import InputError

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


def _panel(seed: int, n: int = 10, T: int = 6):  # type: ignore[no-untyped-def]
    df, _ = staggered_panel(n, T, seed=seed, never_share=0.4, cohorts=[T // 2, T // 2 + 1])
    return df


def test_cs_wild_multiplier_t_deterministic_and_named() -> None:
    df = _panel(4)
    a = callaway_santanna(df, **KW, inference="wild", n_boot=2**10, seed=1).aggregate("dynamic")
    b = callaway_santanna(df, **KW, inference="wild", n_boot=2**10, seed=7).aggregate("dynamic")
    assert a.pvalue == b.pvalue and a.ci == b.ci
    assert "full enumeration" in a.method
    assert a.ci[0] < a.att < a.ci[1]
    c = callaway_santanna(df, **KW, inference="wild", n_boot=499, seed=1, boot_weights="webb")
    assert "Webb" in c.aggregate("simple").method
    assert a.vcov is not None and list(a.vcov.index) == [int(e) for e in a.table["e"]]
    np.testing.assert_allclose(np.sqrt(np.diag(a.vcov)), a.table["se"], rtol=1e-12)


def test_cs_ri_matches_estimates_and_flags() -> None:
    df = _panel(1, n=8, T=5)
    r = callaway_santanna(df, **KW, inference="ri", n_boot=60, seed=2)
    a = r.aggregate("dynamic")
    assert a.method.startswith("randomisation inference")
    assert np.isfinite(a.pvalue) and 0 < a.pvalue <= 1
    lo, hi = a.ci
    assert lo <= a.att <= hi
    with pytest.raises(InputError, match="n_boot"):
        callaway_santanna(df, **KW, inference="wild", n_boot=1)
