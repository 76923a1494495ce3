r"""Sigma convergence: dispersion of a cross-section over time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from zonespill.convergence._data import check_unique_keys, numeric_column, require_columns
from zonespill.errors import InputError


def _gini(y: np.ndarray) -> float:
    r"""Gini coefficient :math:`G = \sum_i (2i - n - 1) y_{(i)} / (n \sum_i y_{(i)})` (population form)."""
    ys = np.sort(y)
    n = ys.size
    ranks = np.arange(1, n + 1, dtype=float)
    return float(((2.0 * ranks - n - 1.0) @ ys) / (n * ys.sum()))


def sigma(
    data: pd.DataFrame,
    *,
    value: str,
    unit: str,
    time: str,
    log: bool = True,
    ddof: int = 0,
) -> pd.DataFrame:
    r"""Cross-sectional dispersion by period (sigma convergence).

    For each period :math:`t` with :math:`n_t` units and levels :math:`y_{it} > 0`
    (mean :math:`\mu_t`):

    - ``sd_log`` :math:`= \sqrt{\frac{1}{n_t - d}\sum_i (\ln y_{it} - \overline{\ln y}_t)^2}`
    - ``cv`` :math:`= \sqrt{\frac{1}{n_t - d}\sum_i (y_{it} - \mu_t)^2} / \mu_t` (of levels)
    - ``theil`` :math:`= \frac{1}{n_t}\sum_i \frac{y_{it}}{\mu_t}\ln\frac{y_{it}}{\mu_t}` (Theil T)
    - ``gini`` :math:`= \frac{1}{2 n_t^2 \mu_t}\sum_i\sum_j |y_{it} - y_{jt}|`
      (population form, 0 for equality, :math:`(n-1)/n` at maximal concentration)
    - ``n`` :math:`= n_t`

    with :math:`d` = ``ddof``. The default ``ddof=0`` is the **population** standard
    deviation (the cross-section is the whole population of regions, not a sample);
    pass ``ddof=1`` for the sample standard deviation. Units are unweighted.

    Parameters
    ----------
    data
        Long table; rows with a missing ``value`` are ignored for that period.
    value
        Column with the variable. With ``log=True`` (default) it is in **levels** (e.g.
        GDP per capita, must be positive) and logs are taken for ``sd_log``; with
        ``log=False`` it is already in **logs** and levels are :math:`\exp(\cdot)`.
    unit, time
        Key columns ((unit, time) must be unique).
    log
        Whether ``value`` is in levels (True) or logs (False).
    ddof
        Delta degrees of freedom of the two standard deviations (0 or 1).

    Returns
    -------
    DataFrame
        Index ``time`` (sorted), columns ``sd_log, cv, theil, gini, n``.
    """
    source = "sigma"
    require_columns(data, [value, unit, time], source=source)
    check_unique_keys(data, unit, time, source=source)
    if ddof not in (0, 1):
        raise InputError(f"ddof must be 0 or 1, got {ddof!r}", source=source, column="ddof")
    keep = data[value].notna().to_numpy()
    sub = data.loc[keep]
    vals = numeric_column(sub, value, positive=log, source=source)
    logs = np.log(vals) if log else vals
    levels = vals if log else np.exp(vals)
    frame = pd.DataFrame({"t": sub[time].to_numpy(), "lv": levels, "lg": logs})
    rows = []
    for t, g in frame.groupby("t", sort=True):
        y = g["lv"].to_numpy()
        ly = g["lg"].to_numpy()
        n = y.size
        mu = y.mean()
        if n - ddof <= 0:
            sd_log = cv = float("nan")
        else:
            sd_log = float(np.std(ly, ddof=ddof))
            cv = float(np.std(y, ddof=ddof) / mu)
        s = y / mu
        rows.append(
            {
                time: t,
                "sd_log": sd_log,
                "cv": cv,
                "theil": float(np.mean(s * np.log(s))),
                "gini": _gini(y),
                "n": n,
            }
        )
    out = pd.DataFrame(rows, columns=[time, "sd_log", "cv", "theil", "gini", "n"]).set_index(time)
    out["n"] = out["n"].astype("int64")
    return out
