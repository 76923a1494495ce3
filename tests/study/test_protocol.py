"""One result protocol: tidy()/glance() adapters over the estimators' own results, and one table
builder (RegressionTable.from_results)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from zonespill.study.protocol import TIDY_COLUMNS, adapt, failed
from zonespill.tables import RegressionTable, render_table


def _panel(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(30):
        g = 2004 if i < 10 else 0
        for t in range(2000, 2009):
            d = float(g and t >= g)
            rows.append({"unit": f"u{i}", "year": t, "cohort": g, "y": rng.normal() + 0.4 * d + 0.1 * t})
    return pd.DataFrame(rows)


def test_did_results_speak_the_protocol() -> None:
    from zonespill.did.regression import twfe

    r = twfe(_panel(), outcome="y", unit="unit", time="year", cohort="cohort")
    res = adapt(r, model="TWFE", term="treated")
    tidy = res.tidy()
    assert tuple(tidy.columns) == TIDY_COLUMNS and tidy["term"].tolist() == ["treated"]
    assert tidy["estimate"].iloc[0] == r.att and tidy["std_error"].iloc[0] == r.se
    z = stats.norm.ppf(0.975)
    assert tidy["conf_low"].iloc[0] == pytest.approx(r.att - z * r.se)
    assert tidy["p_value"].iloc[0] == pytest.approx(2 * stats.norm.sf(abs(r.att / r.se)))
    assert res.glance()["observations"] == r.n_obs and res.glance()["units"] == 30


def test_linearmodels_results_keep_their_own_p_values() -> None:
    from linearmodels.panel import PanelOLS

    d = _panel().assign(x=lambda f: np.sin(np.arange(len(f)))).set_index(["unit", "year"])
    fit = PanelOLS(d["y"], d[["x"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )
    res = adapt(fit, model="(1)")
    assert res.tidy()["p_value"].iloc[0] == pytest.approx(float(fit.pvalues["x"]))
    assert res.glance()["units"] == 30 and res.glance()["observations"] == len(d)


def test_from_results_keeps_a_failed_column_blank_and_says_why() -> None:
    from zonespill.did.regression import twfe

    ok = adapt(
        twfe(_panel(), outcome="y", unit="unit", time="year", cohort="cohort"), model="A", term="ATT", n="270"
    )
    bad = failed("B", "no treated cohort", n="0")
    table = RegressionTable.from_results([ok, bad], table_id="X", title="t", statistics={"n": "N"})
    assert table.models == ("A", "B") and np.isnan(table.estimates[0][1])
    assert any("not estimable: B: no treated cohort" in n for n in table.notes)
    csv = render_table(table, "csv", provenance_hash="0" * 64)
    assert "N,stat,270,0" in csv
