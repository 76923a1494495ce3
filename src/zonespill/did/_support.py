"""Identification diagnostics shared by the DiD estimators: units on each side of every (g, t)
cell, thin-cell flags and the notes that go with them (issue 11 part 3).

A cell (cohort g, period t) is *thin* when fewer than ``min_units_per_side`` units are on its
treated side or on its control side.  With one unit on a side the estimators' variance formulas
break down (CS's influence function for that side is identically zero, a singleton BJS cohort ×
horizon residual is zero, saturated SA cells have zero residuals), so thin cells are flagged,
excluded from aggregation unless the user opts in, and must not carry significance stars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zonespill.errors import InputError

CELL_COLUMNS = ["cohort", "time", "e", "n_treated", "n_control", "thin", "used"]


def check_min_units(min_units_per_side: int) -> int:
    """Validate the ``min_units_per_side`` argument."""
    if isinstance(min_units_per_side, bool) or not isinstance(min_units_per_side, int | np.integer) \
            or min_units_per_side < 1:
        raise InputError("min_units_per_side must be an integer >= 1", source="min_units_per_side")
    return int(min_units_per_side)


def cell_table(cohort: np.ndarray, time: np.ndarray, n_treated: np.ndarray, n_control: np.ndarray,
               *, min_units: int, include_thin: bool, estimated: np.ndarray | None = None) -> pd.DataFrame:
    """Support table of (g, t) cells: ``cohort, time, e, n_treated, n_control, thin, used``.

    ``used`` = the cell enters aggregation (estimated, and not thin unless ``include_thin``).
    """
    cohort = np.asarray(cohort, dtype=float)
    time = np.asarray(time, dtype=float)
    nt = np.asarray(n_treated, dtype=np.int64)
    nc = np.asarray(n_control, dtype=np.int64)
    thin = (nt < min_units) | (nc < min_units)
    est = np.ones(len(cohort), dtype=bool) if estimated is None else np.asarray(estimated, dtype=bool)
    used = est & (include_thin | ~thin)
    return pd.DataFrame({"cohort": cohort, "time": time, "e": (time - cohort).astype(np.int64),
                         "n_treated": nt, "n_control": nc, "thin": thin, "used": used})


def cohort_support(cells: pd.DataFrame) -> pd.DataFrame:
    """Per cohort: treated units, fewest / most control units over its cells, thin cells."""
    if cells.empty:
        return pd.DataFrame(columns=["cohort", "n_treated", "min_control", "max_control", "n_cells",
                                     "n_thin"])
    g = cells.groupby("cohort", sort=True)
    return pd.DataFrame({"n_treated": g["n_treated"].max(), "min_control": g["n_control"].min(),
                         "max_control": g["n_control"].max(), "n_cells": g.size(),
                         "n_thin": g["thin"].sum().astype(np.int64)}).reset_index()


def thin_notes(cells: pd.DataFrame, *, min_units: int, include_thin: bool, estimator: str) -> list[str]:
    """Human-readable notes naming every thin cell and what was done with it."""
    thin = cells[cells["thin"]]
    if thin.empty:
        return []
    parts = [f"g={c:g}, t={t:g} ({nt} treated / {nc} control)"
             for c, t, nt, nc in zip(thin["cohort"].to_numpy(dtype=float), thin["time"].to_numpy(dtype=float),
                                     thin["n_treated"].to_numpy(dtype=np.int64),
                                     thin["n_control"].to_numpy(dtype=np.int64), strict=True)]
    shown = "; ".join(parts[:12]) + (f"; … {len(parts) - 12} more" if len(parts) > 12 else "")
    action = ("INCLUDED in the aggregates at the user's request (include_thin_cells=True); estimates "
              "using them carry no significance stars") if include_thin else \
        "excluded from the aggregates (include_thin_cells=True to include them); reported without stars"
    return [f"{estimator}: {len(parts)} (g,t) cell(s) have fewer than {min_units} unit(s) on a side — "
            f"{shown} — {action}."]


def event_support(cells: pd.DataFrame, key: str = "e") -> pd.DataFrame:
    """Per event time (or other key) over the cells that are ``used``: treated units (sum over
    cohorts), fewest control units, and ``thin`` = no usable cell or any used cell thin."""
    rows = []
    for k, grp in cells.groupby(key, sort=True):
        u = grp[grp["used"]]
        rows.append((k, int(u["n_treated"].sum()), int(u["n_control"].min()) if len(u) else 0,
                     bool(u.empty or u["thin"].any())))
    return pd.DataFrame(rows, columns=[key, "n_treated", "n_control", "thin"])
