"""Hodrick–Prescott filter (sparse direct solve)."""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from zonespill.errors import InputError


def _second_difference(n: int) -> sp.csc_matrix:
    """The ``(n-2) x n`` second-difference operator ``D`` with rows ``(1, -2, 1)``."""
    rows = np.repeat(np.arange(n - 2), 3)
    cols = rows + np.tile(np.arange(3), n - 2)
    vals = np.tile(np.array([1.0, -2.0, 1.0]), n - 2)
    return sp.csc_matrix(sp.coo_matrix((vals, (rows, cols)), shape=(n - 2, n)))


@overload
def hp_filter(series: pd.Series, lamb: float = ...) -> pd.Series: ...
@overload
def hp_filter(series: np.ndarray, lamb: float = ...) -> np.ndarray: ...
def hp_filter(series: pd.Series | np.ndarray, lamb: float = 1600.0) -> pd.Series | np.ndarray:
    r"""Trend component of the Hodrick–Prescott filter.

    The trend :math:`\tau` minimises

    .. math::

        \sum_{t=1}^{T} (y_t - \tau_t)^2 + \lambda \sum_{t=2}^{T-1}
        \left[(\tau_{t+1} - \tau_t) - (\tau_t - \tau_{t-1})\right]^2 ,

    i.e. it solves the sparse banded system :math:`(I + \lambda D'D)\,\tau = y` with
    :math:`D` the :math:`(T-2)\times T` second-difference matrix. This is the standard
    filter (same as ``statsmodels.tsa.filters.hp_filter.hpfilter``, which returns
    ``(cycle, trend)``); the cycle is ``series - trend``.

    Parameters
    ----------
    series
        One time series in time order, no missing values (1-D array or Series).
    lamb
        Smoothing parameter :math:`\lambda \ge 0` (1600 for quarterly data; 6.25 or 100
        are common for annual data; Phillips and Sul use 400 for annual panels).

    Returns
    -------
    Series or ndarray
        The trend, same type, length and (for a Series) index as ``series``.
    """
    arr = np.asarray(series, dtype=float)
    if arr.ndim != 1:
        raise InputError("hp_filter needs a one-dimensional series", source="hp_filter", rows="all")
    if not np.all(np.isfinite(arr)):
        bad = (np.flatnonzero(~np.isfinite(arr)) + 1).tolist()
        raise InputError("series has missing or infinite values", source="hp_filter", rows=bad)
    if not np.isfinite(lamb) or lamb < 0:
        raise InputError(f"lamb must be a finite non-negative number, got {lamb!r}", source="hp_filter")
    n = arr.size
    if n < 3 or lamb == 0:
        trend = arr.copy()
    else:
        D = _second_difference(n)
        DtD = D.T @ D
        A = sp.csc_matrix(sp.eye(n, format="csc") + lamb * DtD)
        # solve for the (small) cycle c = (I + λD'D)^{-1} λD'D y and return y - c: the
        # round-off then scales with the cycle, not the level (exact for a linear series)
        cycle = np.asarray(spla.spsolve(A, lamb * (DtD @ arr)), dtype=float)
        trend = arr - cycle
    if isinstance(series, pd.Series):
        return pd.Series(trend, index=series.index, name=series.name)
    return trend
