"""Monte Carlo of the half-panel jackknife for the panel growth regression (issue 12 part 1).

DGP: :func:`zonespill.convergence.simulate.simulate_growth_panel` (two-way fixed effects,
AR(1) deviations from each unit's steady state with coefficient 1 + b). Scenarios differ in
(n, T) and in the initial dispersion of the deviations: ``stationary`` (the stationary
distribution, where Nickell bias bites), ``k x stationary`` (units start further away) and
``far`` (initial SD 1.0 in logs, far from the steady state, where the within estimator is
nearly unbiased and the correction overshoots).

For each estimator: mean estimate, bias, RMSE, mean reported SE, SD of the estimates,
coverage of the 95 % interval (normal critical value 1.96) and seconds per fit.

Usage: ``python benchmarks/bench_convergence_jackknife.py --reps 500``
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
import pandas as pd

from zonespill.convergence import panel_beta
from zonespill.convergence.simulate import simulate_growth_panel

B0 = -0.02
SIGMA = 0.03


def scenarios() -> list[tuple[str, int, int, float | None]]:
    sd_stat = SIGMA / math.sqrt(1 - (1 + B0) ** 2)
    return [
        ("stationary", 31, 20, None),
        ("stationary", 31, 10, None),
        ("stationary", 300, 20, None),
        ("3 x stationary", 31, 20, 3 * sd_stat),
        ("far (sd 1.0)", 31, 20, 1.0),
    ]


def run(reps: int, seed: int) -> pd.DataFrame:
    rows = []
    for label, n, T, start_sd in scenarios():
        out: dict[str, list[tuple[float, float]]] = {"within": [], "jackknife": []}
        secs = {"within": 0.0, "jackknife": 0.0}
        for r in range(reps):
            df = simulate_growth_panel(n, T, B0, seed=seed + r, sigma=SIGMA, start_sd=start_sd)
            for name, bc in (("within", None), ("jackknife", "half_panel_jackknife")):
                t0 = time.perf_counter()
                res = panel_beta(df, value="y", unit="unit", time="year", bias_correction=bc)  # type: ignore[arg-type]
                secs[name] += time.perf_counter() - t0
                out[name].append((res.b, float(res.bse["log_lag"])))
        for name, vals in out.items():
            est = np.array([v[0] for v in vals])
            se = np.array([v[1] for v in vals])
            rows.append(
                {
                    "start": label,
                    "n": n,
                    "T": T,
                    "estimator": name,
                    "mean b": est.mean(),
                    "bias": est.mean() - B0,
                    "RMSE": math.sqrt(float(np.mean((est - B0) ** 2))),
                    "mean SE": se.mean(),
                    "SD": est.std(ddof=1),
                    "coverage": float(np.mean(np.abs(est - B0) <= 1.96 * se)),
                    "s/fit": secs[name] / reps,
                }
            )
        print(pd.DataFrame(rows[-2:]).to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    table = run(args.reps, args.seed)
    print(f"\nb = {B0}, sigma = {SIGMA}, reps = {args.reps}, seed = {args.seed}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
