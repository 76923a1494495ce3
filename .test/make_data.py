"""Generate the tiny synthetic dataset of the .test workflow (committed; rerun to refresh).

Six 'provinces' on a 3 x 2 grid of unit squares, each split into two 'prefectures'
(left/right halves), plus a seventh island province far to the east. Values are
simulated with a fixed seed and labelled SYNTHETIC; they are not real data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent / "data"
rng = np.random.default_rng(7)

provinces = {"11": (0, 0), "12": (1, 0), "13": (2, 0), "21": (0, 1), "22": (1, 1), "23": (2, 1), "31": (6, 0)}


def square(x0: float, y0: float, w: float, h: float) -> str:
    pts = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0)]
    return "POLYGON((" + ",".join(f"{x:g} {y:g}" for x, y in pts) + "))"


with open(HERE / "prefectures.csv", "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(["code", "name", "province_code", "province_name", "wkt"])
    for pid, (gx, gy) in provinces.items():
        for half in (0, 1):
            code = f"{pid}{half + 1:02d}00"
            w.writerow(
                [
                    code,
                    f"Pref {code}",
                    f"{pid}0000",
                    f"Province {pid}",
                    square(100 + gx + 0.5 * half, 30 + gy, 0.5, 1),
                ]
            )

years = range(2000, 2011)
with open(HERE / "panel.csv", "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(["code", "year", "gdp_old", "gdp_new", "pop"])
    for k, pid in enumerate(provinces):
        level = 8.5 + 0.25 * k
        pop = 1000 + 300 * k
        for t in years:
            level += 0.08 - 0.02 * (level - 9.0) + rng.normal(0, 0.01)
            gdp = np.exp(level) * pop * 1e4 / 1e8
            old = f"{gdp * 0.97:.2f}" if t <= 2005 else ""
            new = f"{gdp:.2f}" if t >= 2003 else ""
            w.writerow([pid, t, old, new, f"{pop:.1f}"])
            pop *= 1.005

with open(HERE / "zones.csv", "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(["zone", "zone_name", "host", "lvl", "kind", "year", "ha"])
    for z in range(14):
        host = list(provinces)[z % 7]
        w.writerow(
            [
                f"Z{z:03d}",
                f"Zone {z}",
                host,
                "national" if z % 3 == 0 else "provincial",
                "hitech" if z % 2 else "etdz",
                1995 + z,
                f"{100 + 10 * z:.1f}",
            ]
        )

with open(HERE / "pairings.csv", "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(["programme", "giver", "receiver", "start", "end", "direction"])
    w.writerow(["east_west", "11", "23", "2004", "", "forward"])
    w.writerow(["east_west", "12", "22", "2006", "2009", "forward"])
    w.writerow(["enclave", "130100", "210200", "2007", "", "reverse"])
    w.writerow(["mutual", "11", "31", "2005", "", "two_way"])
    w.writerow(["park", "110100", "110200", "2006", "", "forward"])
    w.writerow(["unknown_start", "12", "21", "", "", "forward"])
