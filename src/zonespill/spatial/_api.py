"""Public entry points: :func:`fit_panel` and :func:`fit_cross_section`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from zonespill.errors import EstimationError, InputError
from zonespill.spatial._data import (
    EFFECTS,
    build_panel,
    check_collinear,
    coerce_weights,
    durbin_lags,
    durbin_list,
    lag_operator,
    require_cross_unit,
    within,
)
from zonespill.spatial._engine import Core, Design, fit_ml, information
from zonespill.spatial._result import SpatialResult
from zonespill.spatial._robust import check_se_type, cluster_grid, sandwich, score_contributions
from zonespill.spatial._spectrum import Spectrum, spectrum_of

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
    se_type: str = "ml",
    dynamic: bool = False,
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
        se_type,
        dynamic,
    )


def _apply_se(
    core: Core,
    design: Design,
    *,
    has_rho: bool,
    has_lam: bool,
    se_type: str,
    clusters: np.ndarray | None,
) -> Core:
    """Replace ``core.vcov`` by the QML sandwich or the cluster-robust sandwich (``se_type``)."""
    core.info["se_type"] = se_type
    if se_type == "ml":
        return core
    p = design.Z.shape[2]
    delta = core.params[:p]
    r = float(core.params[p]) if has_rho else 0.0
    lam = float(core.params[p + int(has_rho)]) if has_lam else 0.0
    Info = (
        core.info_matrix
        if core.info_matrix is not None
        else information(design, delta, r, lam, core.sigma2, has_rho=has_rho, has_lam=has_lam)
    )
    psi = score_contributions(design, delta, r, lam, core.sigma2, has_rho=has_rho, has_lam=has_lam)
    V, n_groups = sandwich(Info, psi, None if clusters is None else clusters.ravel())
    core.vcov_full = V
    core.vcov = V[:-1, :-1]
    core.sigma2_se = float(np.sqrt(V[-1, -1]))
    core.info["n_clusters"] = n_groups if clusters is not None else None
    core.info["se_note"] = (
        "QML sandwich (Lee 2004; martingale-difference score outer product, robust to non-normal and "
        "heteroskedastic errors)"
        if clusters is None
        else f"cluster-robust sandwich over {n_groups} clusters (score sums by cluster, G/(G-1) scaling)"
    )
    return core


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
    dynamic: bool = False,
    bias_correction: bool | str | None = None,
    se_type: str = "ml",
    cluster: object = None,
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
    dynamic
        Dynamic spatial panel (Yu, de Jong and Lee 2008) ``y_t = rho W y_t + gamma y_{t-1} +
        delta W y_{t-1} + X_t beta (+ W X_t theta) + mu + alpha_t + e_t`` on periods 2..T
        (``model`` ``sar`` or ``sdm``); the lags are reported as ``y_lag`` (gamma) and ``W_y_lag``
        (delta). Time effects are removed by the Lee-Yu cross-unit transformation (row-standardised
        W); ``lee_yu`` selects the orthonormal time transformation (T-2 effective periods) instead
        of demeaning. See ``docs/methods/spatial_dynamic.md``.
    bias_correction
        Dynamic model only. ``True`` (default, same as ``"ydl"``): Yu, de Jong and Lee's (2008)
        one-step correction ``theta + Info^-1 a(theta)`` at the QML estimate (as R SDPDmod), with
        delta-method standard errors through the correction map; ``False``: the uncorrected QML
        estimate.
    se_type
        ``"ml"`` (inverse information matrix), ``"qml"`` (Lee 2004 sandwich, robust to non-normal and
        heteroskedastic errors) or ``"cluster"`` (cluster-robust sandwich, needs ``cluster``).
    cluster
        Column name of ``data`` or one label per data row; only with ``se_type="cluster"``.

    Returns
    -------
    SpatialResult
    """
    check_se_type(se_type, cluster)
    if dynamic:
        return _fit_dynamic(
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
            bias_correction=bias_correction,
            se_type=se_type,
            cluster=cluster,
        )
    if bias_correction not in (None, False):
        raise InputError(
            "bias_correction only applies to the dynamic model (dynamic=True)", source="bias_correction"
        )
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
    clusters = None
    if se_type == "cluster":
        weights = coerce_weights(W, w_ids)
        units = list(weights.ids)
        times = sorted(pd.unique(data[time]))
        clusters = cluster_grid(data, cluster, unit=unit, time=time, units=units, times=times)
    core = _apply_se(core, design, has_rho=has_rho, has_lam=has_lam, se_type=se_type, clusters=clusters)
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
        se_type=se_type,
    )


#: what ``bias_correction=True`` means for the dynamic model
DEFAULT_CORRECTION = "ydl"


def _fit_dynamic(
    data: pd.DataFrame,
    W: object,
    *,
    y: str,
    x: Sequence[str],
    unit: str,
    time: str,
    model: str,
    effects: str,
    lee_yu: bool,
    durbin: Sequence[str] | None,
    w_ids: Sequence[str] | None,
    bias_correction: bool | str | None,
    se_type: str,
    cluster: object,
) -> SpatialResult:
    from zonespill.spatial._dynamic import CORRECTIONS, dynamic_design, fit_dynamic_core

    if bias_correction is None or bias_correction is True:
        method: str | None = DEFAULT_CORRECTION
    elif bias_correction is False:
        method = None
    elif bias_correction in CORRECTIONS:
        method = str(bias_correction)
    else:
        raise InputError(
            f"bias_correction must be True, False or one of {CORRECTIONS}, got {bias_correction!r}",
            source="bias_correction",
        )
    design, dlist, panel = dynamic_design(
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
    unit_effects = effects in ("individual", "twoways")
    theta, s2, dinfo, core = fit_dynamic_core(design, unit_effects=unit_effects, bias_correction=method)
    p = design.Z.shape[2]
    Info = information(design, theta[:p], float(theta[p]), 0.0, s2, has_rho=True, has_lam=False)
    try:
        V = np.linalg.inv(Info)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("information matrix is singular at the bias-corrected estimate") from exc
    core.params = theta
    core.sigma2 = s2
    core.vcov = V[:-1, :-1]
    core.sigma2_se = float(np.sqrt(V[-1, -1]))
    core.info_matrix, core.vcov_full = Info, V
    unc = pd.Series(dinfo.pop("params_uncorrected"), index=pd.Index(core.names, name="term"))
    core.info["params_uncorrected"] = unc
    if "bias_estimate" in dinfo:
        be = dinfo.pop("bias_estimate")
        core.info["bias_estimate"] = pd.Series(be[:-1], index=unc.index)
        core.info["sigma2_bias_estimate"] = float(be[-1])
    core.info.update(dinfo)
    core.info["loglik_note"] = "log-likelihood at the uncorrected QML estimate"
    clusters = None
    if se_type == "cluster":
        clusters = cluster_grid(
            data, cluster, unit=unit, time=time, units=list(panel.units), times=list(panel.times)
        )[1:]
    core = _apply_se(core, design, has_rho=True, has_lam=False, se_type=se_type, clusters=clusters)
    J = core.info.pop("correction_jacobian", None)
    if J is not None and core.vcov_full is not None:
        # delta method through the correction map: the corrected estimate is a function of the QML one
        Vc = J @ core.vcov_full @ J.T
        core.vcov_full = 0.5 * (Vc + Vc.T)
        core.vcov = core.vcov_full[:-1, :-1]
        core.sigma2_se = float(np.sqrt(core.vcov_full[-1, -1]))
        core.info["se_note_dynamic"] = (
            "covariance of the bias-corrected estimator by the delta method through the correction map "
            "(J V J', J = d theta_corrected / d theta_qml)"
        )
    n, T = panel.n, panel.T - 1
    return _to_result(
        core,
        model=model,
        effects=effects,
        nobs=n * T,
        n=n,
        T=T,
        lee_yu=lee_yu,
        x_names=[Y_LAG_NAME, *list(x)],
        durbin=dlist,
        spec=design.spec,
        se_type=se_type,
        dynamic=True,
    )


Y_LAG_NAME = "y_lag"


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
    dlist = durbin_list(
        x, durbin, has_wx=has_wx, not_applicable=f"durbin= only applies to sdm, sdem and slx, not {model}"
    )
    weights = coerce_weights(W, w_ids)
    panel = build_panel(data, weights, y=y, x=x, unit=unit, time=time)
    spec = spectrum_of(panel.W)
    n, T = panel.n, panel.T
    if T < 2 and effects in ("individual", "twoways"):
        raise InputError("individual effects need at least two periods", source="data", column=time)
    if lee_yu and effects in ("time", "twoways"):
        require_cross_unit(spec, weights, "the Lee-Yu cross-unit transformation")
    Wm = panel.W
    Zraw = panel.X
    names = list(x)
    if dlist:
        wx, wx_names = durbin_lags(Wm, panel.X, x, dlist)
        Zraw = np.concatenate([panel.X, wx], axis=2)
        names += wx_names
    yt, Zt = within(panel.y, Zraw, names, effects)
    lag = lag_operator(Wm, effects, project=lee_yu)
    if lee_yu:
        N_eff = {"individual": n * (T - 1), "time": (n - 1) * T, "twoways": (n - 1) * (T - 1)}[effects]
        T_eff = {"individual": T - 1, "time": T, "twoways": T - 1}[effects]
        unit_proj = effects in ("time", "twoways")
    else:
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
    se_type: str = "ml",
    cluster: object = None,
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
    se_type, cluster
        As for :func:`fit_panel`: ``"ml"``, ``"qml"`` (Lee 2004 sandwich) or ``"cluster"``.

    Returns
    -------
    SpatialResult
        Same attributes as :func:`fit_panel` (``effects='none'``, ``n_periods=1``).
    """
    if model not in ("sar", "sem"):
        raise InputError(f"model must be 'sar' or 'sem', got {model!r}", source="model")
    check_se_type(se_type, cluster)
    x = list(x)
    weights = coerce_weights(W, w_ids)
    panel = build_panel(data, weights, y=y, x=x, unit=unit, time=None)
    spec = spectrum_of(panel.W)
    Zraw = np.concatenate([np.ones((1, panel.n, 1)), panel.X], axis=2)
    names = ["const", *x]
    check_collinear(Zraw, Zraw, names, "none")
    lag = lag_operator(panel.W, "none", project=False)
    design = Design(panel.y.copy(), Zraw, names, lag, spec, float(panel.n), 1.0, False, model)
    has_rho, has_lam, _ = MODELS[model]
    core = fit_ml(design, has_rho=has_rho, has_lam=has_lam)
    clusters = None
    if se_type == "cluster":
        clusters = cluster_grid(data, cluster, unit=unit, time=None, units=list(panel.units), times=[0])
    core = _apply_se(core, design, has_rho=has_rho, has_lam=has_lam, se_type=se_type, clusters=clusters)
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
        se_type=se_type,
    )
