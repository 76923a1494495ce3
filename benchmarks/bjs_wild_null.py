"""Null rejection rate of BJS p-values: WCR on the imputation regression vs analytic vs RI, and
TWFE WCR, in a few-cluster staggered design (true effect 0). Run:
``PYTHONPATH=src python benchmarks/bjs_wild_null.py`` (about a minute per 50 replications).

Measured (int-did branch, 150 replications, 24 units, 14 treated in two cohorts, 399 draws):
BJS wild 0.21, BJS analytic 0.04, TWFE wild 0.04; BJS RI (60 replications, 199 permutations,
heteroskedastic units) 0.03.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

from zonespill.did.regression import imputation, twfe


def panel(rng: np.random.Generator, hetero: bool = False) -> pd.DataFrame:
    rows = []
    for i in range(24):
        g = 2010 if i < 8 else (2014 if i < 14 else 0)
        a = rng.normal()
        for t in range(2003, 2019):
            rows.append((i, t, g, a + 0.1 * (t - 2003) + rng.normal() * (1 + (i % 3 if hetero else 0))))
    return pd.DataFrame(rows, columns=["u", "t", "g", "y"])


def main(reps: int = 50, seed: int = 1) -> dict[str, float]:
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(seed)
    kw = {"outcome": "y", "unit": "u", "time": "t", "cohort": "g"}
    rej = {"bjs_wild": 0, "bjs_analytic": 0, "bjs_ri": 0, "twfe_wild": 0}
    for r in range(reps):
        d = panel(rng)
        wild = imputation(d, **kw, horizons=False, inference="wild", n_boot=399, seed=r)
        ri = imputation(d, **kw, horizons=False, inference="ri", n_boot=199, seed=r)
        rej["bjs_wild"] += wild.pvalue < 0.05
        rej["bjs_analytic"] += imputation(d, **kw, horizons=False).pvalue < 0.05
        rej["bjs_ri"] += ri.pvalue < 0.05
        rej["twfe_wild"] += twfe(d, **kw, inference="wild", n_boot=399, seed=r).pvalue < 0.05
    return {k: v / reps for k, v in rej.items()}


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
