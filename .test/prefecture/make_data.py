"""Generate the synthetic prefecture-level dataset of the second CI run (committed; rerun to refresh).

Six 'provinces' on a 3 x 2 grid of unit squares, each split into four 'prefectures'
(2 x 2), plus an island province of two prefectures far to the east: 26 prefectures.
Files come in the formats a user outside the project brings: the panel as a Stata .dta
(numeric region codes, a price index and a night-light covariate), the pairings as an
Excel file with a title row above the header, flows as CSV. Values are simulated with a
fixed seed and labelled SYNTHETIC; they are not real data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

HERE = Path(__file__).parent / "data"
HERE.mkdir(exist_ok=True)
rng = np.random.default_rng(20261129)

PROVINCES = {"11": (0, 0), "12": (1, 0), "13": (2, 0), "21": (0, 1), "22": (1, 1), "23": (2, 1), "46": (6, 0)}
YEARS = range(2000, 2013)


def square(x0: float, y0: float, w: float, h: float) -> str:
    pts = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0)]
    return "POLYGON((" + ",".join(f"{x:g} {y:g}" for x, y in pts) + "))"


prefectures: list[str] = []
with open(HERE / "prefectures.csv", "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(["code", "name", "province_code", "province_name", "wkt"])
    for pid, (gx, gy) in PROVINCES.items():
        cells = [(0, 0), (1, 0)] if pid == "46" else [(0, 0), (1, 0), (0, 1), (1, 1)]
        for k, (cx, cy) in enumerate(cells, start=1):
            code = f"{pid}{k:02d}00"
            prefectures.append(code)
            w.writerow(
                [
                    code,
                    f"Pref {code}",
                    f"{pid}0000",
                    f"Province {pid}",
                    square(100 + gx + 0.5 * cx, 30 + gy + 0.5 * cy, 0.5, 0.5),
                ]
            )

# Pairings: giver, receiver, start, end, direction. Province codes exercise the capital rule.
PAIRINGS = [
    ("east_west", "110100", "130300", 2004, None, "forward"),
    ("east_west", "120100", "230200", 2006, None, "forward"),
    ("east_west", "210200", "130400", 2008, None, "forward"),
    ("counterpart", "11", "220300", 2005, None, "forward"),  # province giver -> its capital 110100
    ("enclave", "110200", "230300", 2007, None, "reverse"),  # host core 110200, initiating periphery 230300
    ("mutual", "120200", "210100", 2009, None, "two_way"),
    ("mutual", "130100", "220100", 2006, 2011, "two_way"),
    ("island", "12", "46", 2005, None, "forward"),  # both provinces -> capitals 120100, 460100
]

# Panel: log real GDP per capita converges with a tie effect on receivers; provincial inflation.
unit_fe = {c: rng.normal(0, 0.25) for c in prefectures}
infl = {p: 1.02 + 0.01 * k for k, p in enumerate(PROVINCES)}
treat_start: dict[str, int] = {}
for _, giver, receiver, start, _, _ in PAIRINGS:
    for end in (giver, receiver):
        code = end if len(end) == 6 else f"{end}0100"
        treat_start[code] = min(treat_start.get(code, 9999), start)
rows = []
for code in prefectures:
    level = 9.0 + unit_fe[code]
    pop = float(rng.uniform(200, 900))
    for t in YEARS:
        effect = 0.03 if t >= treat_start.get(code, 9999) else 0.0
        level += 0.07 - 0.03 * (level - 9.2) + effect + rng.normal(0, 0.015)
        cpi = 100 * infl[code[:2]] ** (t - 2005)
        gdp = np.exp(level) * pop * 1e4 / 1e8 * cpi / 100  # nominal, 100m yuan
        rows.append(
            {
                "code": int(code),  # Stata files usually hold codes as numbers
                "year": t,
                "gdp": round(gdp, 3),
                "pop": round(pop, 2),
                "cpi": round(cpi, 4),
                "ntl": round(float(np.exp(level - 5) * pop / 100 + rng.normal(0, 1)), 3),
            }
        )
        pop *= 1.004
panel = pd.DataFrame(rows)
panel = panel.astype({"code": "int32", "year": "int16"})
panel.to_stata(
    HERE / "panel.dta",
    write_index=False,
    variable_labels={"gdp": "GDP, 100m yuan (nominal, SYNTHETIC)", "ntl": "night-light sum (SYNTHETIC)"},
    time_stamp=pd.Timestamp("2026-01-01"),
)

with open(HERE / "zones.csv", "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(["zone", "zone_name", "host", "lvl", "kind", "year", "ha"])
    for z in range(20):
        host = prefectures[(3 * z) % len(prefectures)]
        w.writerow(
            [
                f"Z{z:03d}",
                f"Zone {z}",
                host,
                "national" if z % 3 == 0 else "provincial",
                "hitech" if z % 2 else "etdz",
                1994 + z,
                f"{100 + 10 * z:.1f}",
            ]
        )

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "pairings"
ws.append(["Synthetic cross-regional pairings (SYNTHETIC, not real data)"])
ws.merge_cells("A1:F1")
ws.append(["programme", "giver", "receiver", "start", "end", "direction"])
for prog, giver, receiver, start, end, direction in PAIRINGS:
    ws.append([prog, giver, receiver, start, end, direction])
wb.properties.created = wb.properties.modified = pd.Timestamp("2026-01-01").to_pydatetime()
wb.save(HERE / "pairings.xlsx")

# Flows: giver -> receiver flows grow after a tie starts; two-way ties add the return flow.
flow_rows = []
for kind, scale in (("investment", 10.0), ("patents", 1.0)):
    for _, giver, receiver, start, _, direction in PAIRINGS:
        g = giver if len(giver) == 6 else f"{giver}0100"
        r = receiver if len(receiver) == 6 else f"{receiver}0100"
        if direction == "reverse":  # the periphery's enclave sends know-how to the core
            g, r = r, g
        for t in YEARS:
            on = t >= start
            fwd = scale * (1 + 2 * on) * float(rng.uniform(0.8, 1.2))
            back = (
                scale * (0.2 + (1.5 if on and direction == "two_way" else 0.0)) * float(rng.uniform(0.8, 1.2))
            )
            flow_rows.append([g, r, t, kind, round(fwd, 3)])
            flow_rows.append([r, g, t, kind, round(back, 3)])
    for _ in range(15):  # background flows between untied prefectures
        a, b = rng.choice(prefectures, size=2, replace=False)
        flow_rows.append(
            [a, b, int(rng.integers(2000, 2013)), kind, round(scale * float(rng.uniform(0.1, 1)), 3)]
        )
flows = pd.DataFrame(flow_rows, columns=["from", "to", "year", "kind", "value"])
flows = flows.groupby(["from", "to", "year", "kind"], as_index=False)["value"].sum()
flows.to_csv(HERE / "flows.csv", index=False, lineterminator="\n")
