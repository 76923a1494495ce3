"""Peak memory and time of the D3 all-pairs panel (``zonespill.did.designs.dyadic_panel`` on
``candidate_pairs(controls="all")``) against N.

Usage: ``python benchmarks/bench_dyadic_memory.py [--sizes 250,500,1000]
[--region-year results/bench_county/indicators/region_year.parquet]
[--pair-year results/bench_county/indicators/pair_year.parquet]``

Each size runs in a fresh process on the first N regions of the county benchmark's
``region_year`` (run ``bench_county.py`` first), so the peak RSS is that of one build. The
panel has N(N-1)/2 x T rows; the printed bytes per row let the memory at full scale be
extrapolated (docs/decisions/scale.md).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time


def one(n: int, region_year: str, pair_year: str) -> None:
    import pandas as pd

    from zonespill.did.designs import candidate_pairs, dyadic_panel
    from zonespill.io import read_parquet

    ry = read_parquet(region_year)
    ids = sorted(ry["region_id"].astype(str).unique())[:n]
    ry = ry[ry["region_id"].astype(str).isin(ids)]
    py = read_parquet(pair_year)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0 = time.perf_counter()
    # every pair (no sampling), the memory check switched off: the measurement is of the build
    cand = candidate_pairs(ry, py, controls="all", max_memory_gib=1e6)
    panel = dyadic_panel(ry, py, candidates=cand)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    rows = len(panel)
    frame = panel.memory_usage(deep=True).sum() / 2**30
    assert isinstance(panel, pd.DataFrame)
    per_row = (peak - base) * 2**30 / rows
    print(f"N={n} pairs={n * (n - 1) // 2} rows={rows} time={dt:.1f}s peak_rss={peak:.2f}GiB "
          f"(before build {base:.2f}) frame={frame:.2f}GiB bytes/row(peak-base)={per_row:.0f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="250,500,1000")
    ap.add_argument("--region-year", default="results/bench_county/indicators/region_year.parquet")
    ap.add_argument("--pair-year", default="results/bench_county/indicators/pair_year.parquet")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one, args.region_year, args.pair_year)
        return 0
    status = 0
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--one", str(n), "--region-year", args.region_year,
               "--pair-year", args.pair_year]
        status |= subprocess.call(cmd)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
