"""zonespill.did against R did 2.1.2 / DRDID 1.0.6 and fixest 0.14.2 on mpdta (fixtures: see
tests/reference/fixtures/did/README.md).  One test per fixture row."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zonespill.did import CallawaySantAnnaResult, CSAggregate, callaway_santanna, sun_abraham, twfe

pytestmark = pytest.mark.reference

FIX = Path(__file__).parent / "fixtures" / "did"
KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}
BOOT_SEED = 20240607
# R used 999 draws (Monte-Carlo SD of each bootstrap SE ≈ 3.7 %); we use many more so that the
# comparison measures R's sampling error only, not the sum of two.
N_BOOT = 99_999
SPECS: dict[str, dict[str, Any]] = {
    "uncond_nevertreated_analytic": {},
    "uncond_nevertreated_boot": {"n_boot": N_BOOT, "seed": BOOT_SEED},
    "lpop_dr_nevertreated_analytic": {"covariates": ["lpop"], "method": "dr"},
    "lpop_dr_nevertreated_boot": {"covariates": ["lpop"], "method": "dr", "n_boot": N_BOOT,
                                  "seed": BOOT_SEED},
    "lpop_ipw_nevertreated_analytic": {"covariates": ["lpop"], "method": "ipw"},
    "lpop_reg_nevertreated_analytic": {"covariates": ["lpop"], "method": "reg"},
    "uncond_notyettreated_analytic": {"control_group": "notyet"},
    "uncond_nevertreated_universal_analytic": {"base_period": "universal"},
}
ATT = pd.read_csv(FIX / "cs_attgt_mpdta.csv")
AGG = pd.read_csv(FIX / "cs_aggte_mpdta.csv")
FIXEST = pd.read_csv(FIX / "fixest_mpdta.csv")


@cache
def mpdta() -> pd.DataFrame:
    return pd.read_csv(FIX / "mpdta.csv")


@cache
def cs_fit(spec: str) -> CallawaySantAnnaResult:
    return callaway_santanna(mpdta(), **KW, **SPECS[spec])


@cache
def cs_agg(spec: str, kind: str) -> CSAggregate:
    return cs_fit(spec).aggregate(kind)  # type: ignore[arg-type]


def se_tol(spec: str) -> float:
    if spec.endswith("_boot"):
        return 0.10  # bootstrap: R's random draws cannot be reproduced; sampling error only
    return 1e-5 if spec.startswith("lpop") else 1e-6


def close(mine: float, gold: float, rtol: float) -> None:
    if np.isnan(gold):
        assert np.isnan(mine)
    else:
        assert abs(mine - gold) <= rtol * abs(gold), (mine, gold, abs(mine - gold) / abs(gold))


def _id(r: pd.Series) -> str:
    return "-".join(str(v) for v in r.values)


# ---------------------------------------------------------------- ATT(g,t) and pre-test
@pytest.mark.parametrize("row", [r for _, r in ATT.iterrows()],
                         ids=[_id(r[["spec", "group", "time"]]) for _, r in ATT.iterrows()])
def test_att_gt(row: pd.Series) -> None:
    res = cs_fit(row["spec"])
    t = res.att_gt
    mine = t[(t["cohort"] == row["group"]) & (t["time"] == row["time"])].iloc[0]
    assert abs(mine["att"] - row["att"]) <= 1e-6 * max(abs(row["att"]), 1e-12) or row["att"] == mine["att"]
    close(mine["se"], row["se"], se_tol(row["spec"]))
    assert res.n_units == row["n_units"]
    # pre-test Wald statistic; R reports the p-value rounded to 5 decimals
    assert res.pretrend is not None
    close(res.pretrend.stat, row["W_pretest"], 1e-5 if row["spec"].startswith("lpop") else 1e-9)
    assert round(res.pretrend.pvalue, 5) == pytest.approx(row["Wpval"], abs=1e-12)


# ---------------------------------------------------------------- aggregations
def _agg_rows() -> list[pd.Series]:
    return [r for _, r in AGG.iterrows()]


# R did 2.1.2's bootstrap value for this single number lies ≈ 2.5 Monte-Carlo SDs below its own
# target (99,999-draw runs of the same bootstrap give 0.01270 vs 0.01151 here; see
# docs/decisions/did.md); a 999-draw comparison therefore cannot be expected to be within 10 %.
_R_MC_OUTLIER = {("uncond_nevertreated_boot", "group", "overall")}


@pytest.mark.parametrize("row", _agg_rows(),
                         ids=[_id(r[["spec", "type", "row", "egt"]]) for r in _agg_rows()])
def test_aggte(row: pd.Series) -> None:
    spec = row["spec"]
    agg = cs_agg(spec, row["type"])
    if row["row"] == "overall":
        est, se = agg.att, agg.se
        # did >= 2.1.3 convention for the group aggregation's overall SE (docs/decisions/did.md):
        # did 2.1.2 differs by 0.25-0.4 % here; its convention is reproduced exactly below.
        group_overall = row["type"] == "group"
        tol = 0.005 if (group_overall and not spec.endswith("_boot")) else se_tol(spec)
    else:
        key = {"dynamic": "e", "group": "cohort", "calendar": "time"}[row["type"]]
        r = agg.table[agg.table[key] == row["egt"]].iloc[0]
        est, se, tol = r["att"], r["se"], se_tol(spec)
    close(est, row["estimate"], 1e-6)
    if (spec, row["type"], row["row"]) in _R_MC_OUTLIER:
        pytest.xfail("R's 999-draw bootstrap SE for this number is a Monte-Carlo outlier")
    close(se, row["se"], tol)


@pytest.mark.parametrize("spec", [s for s in SPECS if not s.endswith("_boot")])
def test_group_overall_se_did212_convention(spec: str) -> None:
    """did 2.1.2 computed the weight influence function of the group aggregation with the
    ATT(g,t) cohort vector indexed by 1..#cohorts; reproducing that matches it exactly."""
    gold = AGG[(AGG.spec == spec) & (AGG.type == "group") & (AGG.row == "overall")].iloc[0]
    se = cs_fit(spec).aggregate("group", _did212_group_wif=True).se
    close(se, gold["se"], se_tol(spec))


def test_bootstrap_uniform_critical_value() -> None:
    """Sup-t critical value of the ATT(g,t) band within sampling error of R's."""
    gold = ATT[ATT.spec == "uncond_nevertreated_boot"]["crit_val"].iloc[0]
    assert abs(cs_fit("uncond_nevertreated_boot").crit_val - gold) <= 0.1 * gold


# ---------------------------------------------------------------- fixest
FX = FIXEST[FIXEST.vcov == "cluster_countyreal_default_ssc"]


@cache
def fx_fit(model: str) -> pd.DataFrame:
    d = mpdta()
    if model == "twfe_static":
        r = twfe(d, **KW)
        return pd.DataFrame({"term": ["D"], "estimate": [r.att], "se": [r.se]})
    if model == "twfe_eventstudy":
        t = twfe(d, **KW, event_study=True).table
        return t.assign(term=[f"rel::{e}" for e in t["e"]])
    s = sun_abraham(d, **KW)
    if model == "sunab_period":
        return s.table.assign(term=[f"year::{e}" for e in s.table["e"]])
    if model == "sunab_agg_ATT":
        return pd.DataFrame({"term": ["ATT"], "estimate": [s.att], "se": [s.se]})
    if model == "sunab_agg_cohort":
        c = s.extra["cohort"]
        return c.assign(term=[f"cohort::{int(g)}" for g in c["cohort"]])
    c = s.extra["cells"]
    return c.assign(term=[f"year::{int(e)}:cohort::{int(g)}" for g, e in zip(c["g"], c["e"], strict=True)])


@pytest.mark.parametrize("row", [r for _, r in FX.iterrows()],
                         ids=[_id(r[["model", "term"]]) for _, r in FX.iterrows()])
def test_fixest(row: pd.Series) -> None:
    mine = fx_fit(row["model"])
    r = mine[mine["term"] == row["term"]].iloc[0]
    close(r["estimate"], row["estimate"], 1e-6)
    close(r["se"], row["se"], 1e-6)
