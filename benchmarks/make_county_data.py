"""Generate a SYNTHETIC county-scale study in zonespill's input formats (issue 9, "Speed").

Usage: ``python benchmarks/make_county_data.py [--out DIR] [--seed N]`` (default
``results/bench_county/data``, seed 20261129). Deterministic for a given seed; takes a few
seconds. The values are simulated and are not real data.

Geography: a 57 x 50 grid of square counties (0.3 degrees a side) = 2,850 counties, nested
in 300 prefectures (blocks of 2 x 5 counties, one 1 x 5 block per province) nested in 30
provinces (blocks of 19 x 5 counties). Codes follow the GB pattern: province ``PP0000``,
prefecture ``PPCC00``, county ``PPCCXX`` (PP = 11..40, skipping nothing non-mainland).

Files written (column names deliberately differ from the canonical ones, as users' do):

* ``regions.csv``   code, name, level (province|prefecture|county), parent, wkt — every level
* ``counties.csv``  code, name, prefecture, province, wkt — counties only (Monte Carlo geography)
* ``panel.csv``     code, year, gdp (100 million yuan), pop (10,000 persons), 1998-2022
* ``zones.csv``     zone, zone_name, host (county), lvl, kind, year, ha
* ``pairings.csv``  programme, giver, receiver, start, end, direction — 5,000 county pairs
* ``weights.csv``   i, j, w — queen contiguity of the grid (both directions, w = 1)

The outcome follows a two-club conditional convergence process: log income per person
moves a share ``b`` of the way to its club's steady state each year, plus a common year
shock, a province shock, a spatially smoothed idiosyncratic shock and, for receivers of a
forward tie, a growth effect ``tau`` from the tie's start year on.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

NCOL, NROW = 57, 50  # counties per grid row / column
PROV_W, PROV_H = 19, 5  # province block (counties)
PREF_W = 2  # prefecture block width (the last one per province is 1 wide)
CELL = 0.3  # degrees
LON0, LAT0 = 100.0, 25.0
YEARS = range(1998, 2023)
N_PAIRINGS = 5000
N_ZONES = 2000

# programme -> (direction, share of the pairings); one direction per programme, so one pair
# never carries contradictory directions within a programme. No "unknown" direction: the data
# contract accepts it, but the Monte Carlo's own pairings reader (zonespill.simulate.prefecture_pairs)
# rejects it, which would stop table M1 (see docs/decisions/scale.md).
PROGRAMMES = {
    "east_west": ("forward", 0.45),
    "counterpart_support": ("forward", 0.25),
    "enclave": ("reverse", 0.15),
    "mutual": ("two_way", 0.15),
}


def rect(x0: float, y0: float, w: float, h: float) -> str:
    pts = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0)]
    return "POLYGON((" + ",".join(f"{x:.4f} {y:.4f}" for x, y in pts) + "))"


def geography() -> dict[str, np.ndarray]:
    """County codes and their grid cells, prefecture and province codes."""
    col_grid, row_grid = np.meshgrid(np.arange(NCOL), np.arange(NROW))
    col, row = col_grid.ravel(), row_grid.ravel()
    pcol, prow = col // PROV_W, row // PROV_H
    prov = 11 + prow * (NCOL // PROV_W) + pcol  # 11..40
    local_c, local_r = col % PROV_W, row % PROV_H
    pref = 1 + local_c // PREF_W  # 01..10
    county = 1 + (local_c % PREF_W) * PROV_H + local_r  # 01..10
    code = np.array([f"{p:02d}{f:02d}{c:02d}" for p, f, c in zip(prov, pref, county, strict=True)])
    order = np.argsort(code, kind="stable")
    return {
        "code": code[order],
        "col": col[order],
        "row": row[order],
        "prov": np.array([f"{p:02d}0000" for p in prov[order]]),
        "pref": np.array([f"{p:02d}{f:02d}00" for p, f in zip(prov[order], pref[order], strict=True)]),
    }


def write_regions(out: Path, g: dict[str, np.ndarray]) -> None:
    with open(out / "regions.csv", "w", newline="", encoding="utf-8") as fh, open(
        out / "counties.csv", "w", newline="", encoding="utf-8"
    ) as fc:
        w, wc = csv.writer(fh), csv.writer(fc)
        w.writerow(["code", "name", "level", "parent", "wkt"])
        wc.writerow(["code", "name", "prefecture", "province", "wkt"])
        for prov in sorted(set(g["prov"])):
            m = g["prov"] == prov
            c0, r0 = g["col"][m].min(), g["row"][m].min()
            c1, r1 = g["col"][m].max() + 1, g["row"][m].max() + 1
            w.writerow([prov, f"Province {prov[:2]}", "province", "",
                        rect(LON0 + c0 * CELL, LAT0 + r0 * CELL, (c1 - c0) * CELL, (r1 - r0) * CELL)])
        for pref in sorted(set(g["pref"])):
            m = g["pref"] == pref
            c0, r0 = g["col"][m].min(), g["row"][m].min()
            c1, r1 = g["col"][m].max() + 1, g["row"][m].max() + 1
            w.writerow([pref, f"Prefecture {pref[:4]}", "prefecture", f"{pref[:2]}0000",
                        rect(LON0 + c0 * CELL, LAT0 + r0 * CELL, (c1 - c0) * CELL, (r1 - r0) * CELL)])
        for code, c, r, pref, prov in zip(g["code"], g["col"], g["row"], g["pref"], g["prov"], strict=True):
            poly = rect(LON0 + c * CELL, LAT0 + r * CELL, CELL, CELL)
            w.writerow([code, f"County {code}", "county", pref, poly])
            wc.writerow([code, f"County {code}", pref, prov, poly])


def write_weights(out: Path, g: dict[str, np.ndarray]) -> None:
    at = {(int(c), int(r)): code for code, c, r in zip(g["code"], g["col"], g["row"], strict=True)}
    with open(out / "weights.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["i", "j", "w"])
        for code, c, r in zip(g["code"], g["col"], g["row"], strict=True):
            for dc in (-1, 0, 1):
                for dr in (-1, 0, 1):
                    nb = at.get((int(c) + dc, int(r) + dr))
                    if (dc or dr) and nb is not None:
                        w.writerow([code, nb, "1"])


def smooth(field: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Average of a county value and its queen neighbours on the grid (spatially correlated shocks)."""
    grid = np.full((NROW + 2, NCOL + 2), np.nan)
    grid[rows + 1, cols + 1] = field
    stack = [grid[1 + dr : NROW + 1 + dr, 1 + dc : NCOL + 1 + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    mean = np.nanmean(np.stack(stack), axis=0)
    return np.asarray(mean[rows, cols])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/bench_county/data", help="output folder")
    ap.add_argument("--seed", type=int, default=20261129, help="seed of every random draw")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    g = geography()
    n = len(g["code"])
    write_regions(out, g)
    write_weights(out, g)

    # ---------------------------------------------------------------- pairings
    # east (high column) is richer at the start: initial log income per person rises with col
    x = g["col"] / (NCOL - 1)
    init = 8.3 + 1.4 * x + rng.normal(0, 0.25, n)
    rich = np.argsort(-init)[: int(0.4 * n)]
    poor = np.argsort(init)[: int(0.5 * n)]
    names = list(PROGRAMMES)
    counts = np.round(np.array([PROGRAMMES[p][1] for p in names]) * N_PAIRINGS).astype(int)
    counts[0] += N_PAIRINGS - counts.sum()
    seen: set[tuple[int, int, str]] = set()
    pairings: list[tuple[str, int, int, int, int | None, str]] = []
    for prog, k in zip(names, counts, strict=True):
        direction = PROGRAMMES[prog][0]
        made = 0
        while made < k:
            if direction in ("forward", "reverse"):
                a, b = int(rng.choice(rich)), int(rng.choice(poor))  # giver/host core, receiver/periphery
            else:
                a, b = (int(v) for v in rng.choice(n, size=2, replace=False))
            key = (a, b, prog)
            if a == b or key in seen:
                continue
            seen.add(key)
            start = int(rng.integers(2000, 2021))
            end = int(start + rng.integers(3, 11)) if rng.random() < 0.3 else None
            if end is not None and end > YEARS[-1]:
                end = None
            pairings.append((prog, a, b, start, end, direction))
            made += 1
    with open(out / "pairings.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["programme", "giver", "receiver", "start", "end", "direction"])
        for prog, a, b, start, end, direction in pairings:
            w.writerow([prog, g["code"][a], g["code"][b], start, "" if end is None else end, direction])

    # ---------------------------------------------------------------- panel
    years = list(YEARS)
    treat_start = np.full(n, 10**6)
    for _, _giver, b, start, _, direction in pairings:
        if direction == "forward":
            treat_start[b] = min(treat_start[b], start)
    club = (init + rng.normal(0, 0.2, n) > np.median(init)).astype(int)
    steady = np.where(club == 1, 10.9, 10.2)
    b_conv, tau = 0.05, 0.01
    prov_idx = np.unique(g["prov"], return_inverse=True)[1]
    logy = init.copy()
    pop = np.exp(rng.normal(np.log(45.0), 0.5, n))
    pop_g = rng.normal(0.004, 0.006, n)
    rows: list[tuple[str, int, str, str]] = []
    level = np.empty((len(years), n))
    popm = np.empty((len(years), n))
    for t, year in enumerate(years):
        if t:
            shock = (
                rng.normal(0.0, 0.01)
                + rng.normal(0, 0.01, prov_idx.max() + 1)[prov_idx]
                + smooth(rng.normal(0, 0.03, n), g["row"], g["col"])
            )
            logy = logy + 0.06 + b_conv * (steady - logy) + tau * (year >= treat_start) + shock
            pop = pop * np.exp(pop_g + rng.normal(0, 0.002, n))
        level[t], popm[t] = logy, pop
    gdp = np.exp(level) * popm * 1e4 / 1e8
    for i in range(n):
        for t, year in enumerate(years):
            rows.append((g["code"][i], year, f"{gdp[t, i]:.4f}", f"{popm[t, i]:.3f}"))
    with open(out / "panel.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "year", "gdp", "pop"])
        w.writerows(rows)

    # ---------------------------------------------------------------- zones
    with open(out / "zones.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["zone", "zone_name", "host", "lvl", "kind", "year", "ha"])
        hosts = rng.choice(n, size=N_ZONES, replace=True)
        kinds = np.array(["etdz", "hitech", "industrial", "econ_dev"])
        for z, h in enumerate(hosts):
            w.writerow([
                f"Z{z:05d}", f"Zone {z}", g["code"][h],
                "national" if rng.random() < 0.25 else "provincial",
                kinds[rng.integers(0, len(kinds))], int(rng.integers(1990, 2021)),
                f"{rng.lognormal(np.log(800), 0.8):.1f}",
            ])
    print(f"wrote {n} counties, {len(rows)} panel rows, {len(pairings)} pairings, {N_ZONES} zones "
          f"to {out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
