"""Monte Carlo: coverage of the DiD estimators when a side of the comparison has one unit or two
(issue 11 part 3).  True ATT = 0 throughout.

Usage: ``.venv/bin/python benchmarks/bench_did_support.py [--reps 200] [--seed 1]``

Prints, per scenario and estimator, the 95 % coverage with ``include_thin_cells=True`` (the old
behaviour: singleton cells aggregated) and the share of replications the default reports as thin /
not estimable (no estimate, no star); and BJS coverage with and without leave-out residuals in
two-unit cohorts.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from zonespill.did import callaway_santanna, imputation, sun_abraham, twfe
from zonespill.errors import EstimationError

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


def panel(rng: np.random.Generator, sizes: dict[int, int], T: int = 6) -> pd.DataFrame:
    rows = []
    uid = 0
    for g, n in sizes.items():
        for _ in range(n):
            a = rng.normal()
            e = rng.normal(size=T).cumsum() * 0.3 + rng.normal(size=T)  # serially correlated
            for t in range(T):
                rows.append((uid, t + 1, g, a + 0.2 * t + e[t]))
            uid += 1
    return pd.DataFrame(rows, columns=["unit", "time", "cohort", "y"])


def covers(est: float, se: float) -> float:
    return float(abs(est) <= 1.959963984540054 * se) if np.isfinite(se) and se > 0 else np.nan


def one(fn, d: pd.DataFrame, **kw: object) -> tuple[float, float, bool]:
    try:
        r = fn(d, **KW, **kw)
    except EstimationError:
        return np.nan, np.nan, True
    if hasattr(r, "aggregate"):
        a = r.aggregate("simple")
        return a.att, a.se, bool(np.isnan(a.att))
    return r.att, r.se, bool(np.isnan(r.att))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    scen = {"10 treated vs 1 control": ({0: 1, 4: 10}, [("CS", callaway_santanna), ("BJS", imputation)]),
            "1 treated vs 10 controls": ({0: 10, 4: 1}, [("SA", sun_abraham), ("TWFE", twfe)])}
    warnings.simplefilter("ignore")
    for name, (sizes, ests) in scen.items():
        for label, fn in ests:
            cov, thin = [], []
            for _ in range(args.reps):
                d = panel(rng, sizes)
                est, se, _ = one(fn, d, include_thin_cells=True)
                cov.append(covers(est, se))
                thin.append(one(fn, d)[2])
            print(f"{name:26s} {label:5s} coverage(include_thin)={np.nanmean(cov):.3f}  "
                  f"default: not estimated/thin in {np.mean(thin):.0%} of {args.reps}")
    lo, plain = [], []
    for _ in range(args.reps):
        d = panel(rng, {0: 10, 3: 2, 4: 2, 5: 2})
        r1 = imputation(d, **KW, horizons=False)
        r0 = imputation(d, **KW, horizons=False, leave_out=False)
        lo.append(covers(r1.att, r1.se))
        plain.append(covers(r0.att, r0.se))
    print(f"BJS two-unit cohorts: coverage leave-out={np.nanmean(lo):.3f}, plain={np.nanmean(plain):.3f}")


if __name__ == "__main__":
    main()
