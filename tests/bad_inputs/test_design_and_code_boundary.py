"""The rest of the input boundary: designs without valid controls, and config never run as code."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.did import callaway_santanna, imputation
from zonespill.errors import EstimationError

SRC = Path(__file__).resolve().parents[2] / "src" / "zonespill"


def _panel(cohorts: list[int]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for unit, g in enumerate(cohorts):
        for t in range(2001, 2007):
            rows.append({"id": unit, "t": t, "g": g, "y": rng.normal() + (0.5 if g and t >= g else 0.0)})
    return pd.DataFrame(rows)


def test_no_never_treated_units_with_never_controls_is_refused() -> None:
    data = _panel([2003, 2003, 2004, 2004, 2005, 2005])
    with pytest.raises(EstimationError, match=r"2003|cohort|control"):
        callaway_santanna(data, outcome="y", unit="id", time="t", cohort="g", control_group="never")


def test_no_not_yet_treated_units_for_a_cohort_is_refused() -> None:
    # everyone is treated in 2003: there is no not-yet-treated comparison for any post period
    data = _panel([2003] * 6)
    # CS degrades cell by cell (as R did): every ATT(g,t) is NaN with its reason, and the aggregate
    # says there is nothing identified instead of printing a number.
    res = callaway_santanna(data, outcome="y", unit="id", time="t", cohort="g", control_group="notyet")
    assert res.att_gt["att"].isna().all()
    assert all("no valid control units" in note for note in res.notes) and len(res.notes) == len(res.att_gt)
    overall = res.aggregate("simple")
    assert np.isnan(overall.att) and "no identified post-treatment (g,t) cell" in overall.notes[-1]
    with pytest.raises(EstimationError):
        imputation(data, outcome="y", unit="id", time="t", cohort="g")


def test_no_source_file_evaluates_strings_as_code() -> None:
    pattern = re.compile(
        r"(?<![\w.])(eval|exec|compile)\s*\(|__import__\s*\(|yaml\.load\s*\((?!.*SafeLoader)"
    )
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and "re.compile" not in code:
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert not offenders, offenders
