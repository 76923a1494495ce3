"""Benchmark: zonespill.did.callaway_santanna vs csdid (and differences) on a simulated panel.

Usage: ``.venv/bin/python benchmarks/bench_did.py --sizes 10000,100000 [--periods 20] [--biters 999]``

Prints wall times (ATT(g,t) with a 999-draw multiplier bootstrap, never-treated controls,
unconditional DR), the speed ratio and the max |ATT(g,t)| difference between implementations.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings

import numpy as np
import pandas as pd

from zonespill.did import callaway_santanna
from zonespill.did.simulate import staggered_panel


def run_zonespill(data: pd.DataFrame, biters: int) -> tuple[float, pd.DataFrame]:
    t0 = time.perf_counter()
    r = callaway_santanna(data, outcome="y", unit="unit", time="time", cohort="cohort",
                          n_boot=biters, seed=1)
    r.aggregate("dynamic")
    dt = time.perf_counter() - t0
    return dt, r.att_gt[["cohort", "time", "att"]]


def run_csdid(data: pd.DataFrame, biters: int) -> tuple[float, pd.DataFrame]:
    from csdid.att_gt import ATTgt

    t0 = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        m = ATTgt(yname="y", tname="time", idname="unit", gname="cohort", data=data,
                  control_group="nevertreated", biters=biters, cband=True).fit(est_method="dr", bstrap=True)
        m.aggte(typec="dynamic")
    dt = time.perf_counter() - t0
    res = m.results
    out = pd.DataFrame({"cohort": np.asarray(res["group"], float), "time": np.asarray(res["year"], float),
                        "att": np.asarray(res["att"], float)})
    return dt, out


def run_differences(data: pd.DataFrame, biters: int) -> tuple[float, pd.DataFrame]:
    from differences import ATTgt

    d = data.copy()
    d["cohort"] = d["cohort"].where(d["cohort"] > 0, np.nan)
    d = d.set_index(["unit", "time"])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att = ATTgt(data=d, cohort_column="cohort")
        att.fit(formula="y", est_method="dr", control_group="never_treated",
                boot_iterations=biters, random_state=1, progress_bar=False)
    dt = time.perf_counter() - t0
    df = att.results().reset_index()
    out = pd.DataFrame({"cohort": df[("cohort", "", "")].astype(float),
                        "time": df[("time", "", "")].astype(float),
                        "att": df[("ATTgtElements", "", "ATT")].astype(float)})
    return dt, out


def max_diff(a: pd.DataFrame, b: pd.DataFrame) -> float:
    m = a.merge(b, on=["cohort", "time"], suffixes=("", "_o"))
    if len(m) != len(a):
        return float("nan")
    return float(np.abs(m["att"] - m["att_o"]).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--periods", type=int, default=20)
    ap.add_argument("--biters", type=int, default=999)
    ap.add_argument("--peers", default="csdid,differences")
    args = ap.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    for n in (int(s) for s in args.sizes.split(",")):
        cohorts = list(range(3, args.periods + 1, 2))
        data, _ = staggered_panel(n, args.periods, seed=42, cohorts=cohorts)
        t_z, a_z = run_zonespill(data, args.biters)
        print(f"n_units={n} periods={args.periods} rows={len(data)} cohorts={len(cohorts)} "
              f"ATT(g,t)={len(a_z)} biters={args.biters}")
        print(f"  zonespill   {t_z:9.2f} s")
        for p in peers:
            fn = {"csdid": run_csdid, "differences": run_differences}[p]
            try:
                t_p, a_p = fn(data, args.biters)
            except Exception as exc:  # peers are optional; report and continue
                print(f"  {p:<11} failed: {type(exc).__name__}: {exc}")
                continue
            print(f"  {p:<11} {t_p:9.2f} s   ratio {t_p / t_z:6.1f}x   "
                  f"max|ΔATT(g,t)| = {max_diff(a_z, a_p):.2e}")


if __name__ == "__main__":
    main()
