"""Public entry points: :func:`fit_panel` and :func:`fit_cross_section`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from zonespill.errors import InputError
from zonespill.spatial._data import EFFECTS, build_panel, check_collinear, coerce_weights, demean, spatial_lag
from zonespill.spatial._engine import Core, Design, fit_ml
from zonespill.spatial._result import SpatialResult
from zonespill.spatial._spectrum import Spectrum

Model = Literal["sar", "sem", "sdm", "sdem", "slx", "sac"]
Effects = Literal["individual", "time", "twoways"]

#: model -> (Wy, Wu, WX)
MODELS: dict[str, tuple[bool, bool, bool]] = {
    "sar": (True, False, False),
    "sem": (False, True, False),
    "sdm": (True, False, True),
    "sdem": (False, True, True),
    "slx": (False, False, True),
    "sac": (True, True, False),
}


def _to_result(
    core: Core,
    *,
    model: str,
    effects: str,
    nobs: int,
    n: int,
    T: int,
    lee_yu: bool,
    x_names: Sequence[str],
    durbin: Sequence[str],
    spec: Spectrum,
) -> SpatialResult:
    idx = pd.Index(core.names, name="term")
    params = pd.Series(core.params, index=idx, name="estimate")
    bse = pd.Series(np.sqrt(np.diag(core.vcov)), index=idx, name="se")
    vcov = pd.DataFrame(core.vcov, index=idx, columns=idx)
    info = dict(core.info)
    info["sigma2_se"] = core.sigma2_se
    return SpatialResult(
        model,
        effects,
        params,
        bse,
        vcov,
        core.sigma2,
        core.loglik,
        nobs,
        n,
        T,
        lee_yu,
        tuple(x_names),
        tuple(durbin),
        info,
        spec,
    )


def fit_panel(
    data: pd.DataFrame,
    W: object,
    *,
    y: str,
    x: Sequence[str],
    unit: str,
    time: str,
    model: Model,
    effects: Effects = "twoways",
    lee_yu: bool = False,
    durbin: Sequence[str] | None = None,
    w_ids: Sequence[str] | None = None,
) -> SpatialResult:
    r"""Fixed-effects spatial panel model by maximum likelihood.

    .. math::

        y_{it} = \rho \sum_j w_{ij} y_{jt} + x_{it}'\beta + \sum_j w_{ij} x_{jt}'\theta
                 + \mu_i + \alpha_t + u_{it}, \qquad
        u_{it} = \lambda \sum_j w_{ij} u_{jt} + \varepsilon_{it},\quad
        \varepsilon_{it} \sim N(0, \sigma^2)

    with the terms switched on by ``model``: ``sar`` (:math:`\rho`), ``sem``
    (:math:`\lambda`), ``sdm`` (:math:`\rho, \theta`), ``sdem`` (:math:`\theta, \lambda`),
    ``slx`` (:math:`\theta`), ``sac`` (:math:`\rho, \lambda`).

    Parameters
    ----------
    data
        Long panel, one row per (unit, time), any row order; must be balanced.
    W
        Weights: DataFrame (index = columns = unit ids), :class:`~zonespill.weights.SpatialWeights`,
        or a scipy sparse matrix together with ``w_ids``. Used as given (never re-standardised);
        zero rows (islands) are allowed and simply have no spatial lag.
    y, x, unit, time
        Column names of the dependent variable, regressors, unit id and period.
    model
        One of ``sar, sem, sdm, sdem, slx, sac``.
    effects
        ``individual``, ``time`` or ``twoways`` fixed effects (removed by demeaning).
    lee_yu
        Use the Lee-Yu (2010) orthonormal transformation (effective sample ``n(T-1)``,
        ``(n-1)T`` or ``(n-1)(T-1)``, Jacobian corrected); default is splm-style direct
        demeaning with ``nT`` observations.
    durbin
        Regressors that get a spatial lag (``sdm, sdem, slx``); default all of ``x``.
    w_ids
        Unit id of each row of a bare sparse ``W``.

    Returns
    -------
    SpatialResult
    """
    design, dlist, n, T = panel_design(
        data,
        W,
        y=y,
        x=x,
        unit=unit,
        time=time,
        model=model,
        effects=effects,
        lee_yu=lee_yu,
        durbin=durbin,
        w_ids=w_ids,
    )
    has_rho, has_lam, _ = MODELS[model]
    core = fit_ml(design, has_rho=has_rho, has_lam=has_lam)
    return _to_result(
        core,
        model=model,
        effects=effects,
        nobs=n * T,
        n=n,
        T=T,
        lee_yu=lee_yu,
        x_names=list(x),
        durbin=dlist,
        spec=design.spec,
    )


def panel_design(
    data: pd.DataFrame,
    W: object,
    *,
    y: str,
    x: Sequence[str],
    unit: str,
    time: str,
    model: str,
    effects: str = "twoways",
    lee_yu: bool = False,
    durbin: Sequence[str] | None = None,
    w_ids: Sequence[str] | None = None,
) -> tuple[Design, list[str], int, int]:
    """Validate inputs and build the transformed :class:`Design` of :func:`fit_panel`."""
    if model not in MODELS:
        raise InputError(f"model must be one of {sorted(MODELS)}, got {model!r}", source="model")
    if effects not in EFFECTS:
        raise InputError(f"effects must be one of {EFFECTS}, got {effects!r}", source="effects")
    _, _, has_wx = MODELS[model]
    x = list(x)
    if durbin is not None and not has_wx:
        raise InputError(f"durbin= only applies to sdm, sdem and slx, not {model}", source="durbin")
    dlist = list(x if durbin is None else durbin) if has_wx else []
    if has_wx and not dlist:
        raise InputError("durbin= must name at least one regressor", source="durbin")
    bad = [d for d in dlist if d not in x]
    if bad:
        raise InputError(f"durbin regressors not in x: {bad}", source="durbin")
    weights = coerce_weights(W, w_ids)
    panel = build_panel(data, weights, y=y, x=x, unit=unit, time=time)
    spec = Spectrum(panel.W)
    n, T = panel.n, panel.T
    if T < 2 and effects in ("individual", "twoways"):
        raise InputError("individual effects need at least two periods", source="data", column=time)
    if lee_yu and effects in ("time", "twoways") and not (spec.row_standardised and spec.no_islands):
        raise InputError(
            "the Lee-Yu cross-unit transformation needs row-standardised weights without islands "
            f"(islands: {list(weights.islands)[:10]})",
            source="W",
        )
    Wm = panel.W
    Zraw = panel.X
    names = list(x)
    if dlist:
        di = [x.index(d) for d in dlist]
        Zraw = np.concatenate([panel.X, spatial_lag(Wm, panel.X[:, :, di])], axis=2)
        names += [f"W_{d}" for d in dlist]
    yt = demean(panel.y, effects)
    Zt = demean(Zraw, effects)
    check_collinear(Zt, Zraw, names, effects)
    if lee_yu:

        def lag(v: np.ndarray) -> np.ndarray:
            return demean(spatial_lag(Wm, v), effects)

        N_eff = {"individual": n * (T - 1), "time": (n - 1) * T, "twoways": (n - 1) * (T - 1)}[effects]
        T_eff = {"individual": T - 1, "time": T, "twoways": T - 1}[effects]
        unit_proj = effects in ("time", "twoways")
    else:

        def lag(v: np.ndarray) -> np.ndarray:
            return spatial_lag(Wm, v)

        N_eff, T_eff, unit_proj = n * T, T, False
    design = Design(yt, Zt, names, lag, spec, float(N_eff), float(T_eff), unit_proj, model)
    return design, dlist, n, T


def fit_cross_section(
    data: pd.DataFrame,
    W: object,
    *,
    y: str,
    x: Sequence[str],
    unit: str,
    model: Literal["sar", "sem"] = "sar",
    w_ids: Sequence[str] | None = None,
) -> SpatialResult:
    r"""Cross-sectional spatial lag or error model by maximum likelihood, with intercept.

    ``sar``: :math:`y = \rho W y + \alpha + X\beta + \varepsilon`;
    ``sem``: :math:`y = \alpha + X\beta + u,\; u = \lambda W u + \varepsilon`,
    :math:`\varepsilon \sim N(0, \sigma^2 I)`. The intercept is reported as ``const``.

    Parameters
    ----------
    data
        One row per unit (any order).
    W
        Weights (DataFrame, SpatialWeights, or sparse matrix with ``w_ids``), used as given.
    y, x, unit
        Column names.
    model
        ``sar`` or ``sem``.
    w_ids
        Unit id of each row of a bare sparse ``W``.

    Returns
    -------
    SpatialResult
        Same attributes as :func:`fit_panel` (``effects='none'``, ``n_periods=1``).
    """
    if model not in ("sar", "sem"):
        raise InputError(f"model must be 'sar' or 'sem', got {model!r}", source="model")
    x = list(x)
    weights = coerce_weights(W, w_ids)
    panel = build_panel(data, weights, y=y, x=x, unit=unit, time=None)
    spec = Spectrum(panel.W)
    Zraw = np.concatenate([np.ones((1, panel.n, 1)), panel.X], axis=2)
    names = ["const", *x]
    check_collinear(Zraw, Zraw, names, "none")
    Wm = panel.W

    def lag(v: np.ndarray) -> np.ndarray:
        return spatial_lag(Wm, v)

    design = Design(panel.y.copy(), Zraw, names, lag, spec, float(panel.n), 1.0, False, model)
    has_rho, has_lam, _ = MODELS[model]
    core = fit_ml(design, has_rho=has_rho, has_lam=has_lam)
    return _to_result(
        core,
        model=model,
        effects="none",
        nobs=panel.n,
        n=panel.n,
        T=1,
        lee_yu=False,
        x_names=x,
        durbin=[],
        spec=spec,
    )
