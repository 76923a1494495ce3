"""Lagrange-multiplier tests for spatial dependence on the fixed-effects panel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.errors import InputError
from zonespill.spatial._data import EFFECTS, build_panel, check_collinear, coerce_weights, demean, spatial_lag


def lm_statistics(
    y: np.ndarray,
    Z: np.ndarray,
    W: object,
    *,
    n_periods: int,
    nobs: float | None = None,
    trace_ww: float | None = None,
) -> pd.DataFrame:
    r"""LM lag / error / robust statistics for ``y = Z b + e`` with the panel lag ``I_T \otimes W``.

    ``y`` is ``(T, n)``, ``Z`` is ``(T, n, k)`` (already transformed). With OLS residuals
    ``e``, :math:`\hat\sigma^2 = e'e / N`, :math:`T_W = T\,\mathrm{tr}(W'W + WW)` and
    :math:`D = \hat\sigma^{-2}(W Z\hat b)' M (W Z\hat b) + T_W`:

    * LM error = :math:`(e'We/\hat\sigma^2)^2 / T_W`
    * LM lag = :math:`(e'Wy/\hat\sigma^2)^2 / D`
    * robust LM lag = :math:`(e'Wy/\hat\sigma^2 - e'We/\hat\sigma^2)^2 / (D - T_W)`
    * robust LM error = :math:`(e'We/\hat\sigma^2 - (T_W/D)\, e'Wy/\hat\sigma^2)^2 / (T_W (1 - T_W/D))`

    each asymptotically :math:`\chi^2_1` (Anselin et al. 1996; Elhorst 2014; Debarsy and
    Ertur 2010 for the fixed-effects panel).
    """
    import scipy.sparse as sp

    Wm = sp.csr_matrix(W)  # type: ignore[call-overload]
    N = y.size if nobs is None else nobs
    Zf = Z.reshape(y.size, -1)
    yf = y.ravel()
    b, *_ = np.linalg.lstsq(Zf, yf, rcond=None)
    e = yf - Zf @ b
    s2 = float(e @ e) / N
    We = spatial_lag(Wm, e.reshape(y.shape)).ravel()
    Wy = spatial_lag(Wm, y).ravel()
    if trace_ww is None:
        trace_ww = float(Wm.multiply(Wm).sum() + Wm.multiply(Wm.T).sum())
    TW = n_periods * trace_ww
    WZb = spatial_lag(Wm, (Zf @ b).reshape(y.shape)).ravel()
    coef, *_ = np.linalg.lstsq(Zf, WZb, rcond=None)
    r = WZb - Zf @ coef
    D = float(r @ r) / s2 + TW
    g_lag = float(e @ Wy) / s2
    g_err = float(e @ We) / s2
    out = {
        "LM lag": (g_lag**2 / D),
        "LM error": (g_err**2 / TW),
        "robust LM lag": ((g_lag - g_err) ** 2 / (D - TW)),
        "robust LM error": ((g_err - TW / D * g_lag) ** 2 / (TW * (1.0 - TW / D))),
    }
    frame = pd.DataFrame({"statistic": out, "df": 1})
    frame["pvalue"] = stats.chi2.sf(frame["statistic"], 1)
    frame.index.name = "test"
    return frame


def lm_tests(
    data: pd.DataFrame,
    W: object,
    *,
    y: str,
    x: Sequence[str],
    unit: str,
    time: str,
    effects: str = "twoways",
    w_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """LM tests of the non-spatial fixed-effects panel against spatial lag / error.

    The fixed effects are removed by direct demeaning (as in :func:`fit_panel` without
    Lee-Yu), the residual variance is ``e'e / (nT)``, and the lag is ``I_T ⊗ W``.

    Parameters
    ----------
    data, W, y, x, unit, time, w_ids
        As for :func:`zonespill.spatial.fit_panel`.
    effects
        ``individual``, ``time`` or ``twoways``.

    Returns
    -------
    pandas.DataFrame
        Indexed by test (``LM lag``, ``LM error``, ``robust LM lag``, ``robust LM error``) with
        columns ``statistic``, ``df`` (1) and ``pvalue`` (chi-squared).
    """
    if effects not in EFFECTS:
        raise InputError(f"effects must be one of {EFFECTS}, got {effects!r}", source="effects")
    weights = coerce_weights(W, w_ids)
    panel = build_panel(data, weights, y=y, x=list(x), unit=unit, time=time)
    yt = demean(panel.y, effects)
    Zt = demean(panel.X, effects)
    check_collinear(Zt, panel.X, list(x), effects)
    return lm_statistics(yt, Zt, panel.W, n_periods=panel.T)
