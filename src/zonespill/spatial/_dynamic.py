"""Dynamic spatial panel (Yu, de Jong and Lee 2008; Lee and Yu 2010) by QML with bias correction.

    y_t = rho W y_t + gamma y_{t-1} + delta W y_{t-1} + X_t beta + W X_t theta + mu + alpha_t + e_t

The time lags are ordinary regressors of the static engine (``y_lag``, ``W_y_lag``); the
likelihood is the static one on periods 2..T. What is new is the bias correction, derived in
``docs/methods/spatial_dynamic.md``: the expected score at the truth is ``-a(theta)`` with

    a_gamma  = k tr_Q(Phi S^-1)              a_delta = k tr_Q(W Phi S^-1)        a_beta = 0
    a_rho    = k tr_Q(G (gamma + delta W) Phi S^-1) + (T_eff - tr Q_T) tr_Q(G)
    a_sigma2 = (N_eff - n_eff tr Q_T) / (2 sigma2)

(``S = I - rho W``, ``G = W S^-1``, ``A = S^-1 (gamma + delta W)``, ``Phi = sum_h A^h`` in Yu, de Jong
and Lee; ``k = 1`` with unit effects), so ``E[theta_hat - theta] = -Info^-1 a`` and the corrected
estimator is ``theta_hat + Info^-1 a(theta_hat)``. Every matrix is a rational function of W, so
the traces are sums over W's eigenvalues.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from zonespill.errors import EstimationError, InputError
from zonespill.spatial._data import (
    EFFECTS,
    build_panel,
    coerce_weights,
    durbin_lags,
    durbin_list,
    lag_operator,
    require_cross_unit,
    spatial_lag,
    within,
)
from zonespill.spatial._engine import Design, fit_ml, information
from zonespill.spatial._spectrum import EIGEN_MAX_N, Spectrum, check_interior, spectrum_of

#: bias_correction values
CORRECTIONS = ("ydl",)
Y_LAG, W_Y_LAG = "y_lag", "W_y_lag"


def bias_vector(
    spec: Spectrum,
    *,
    gamma: float,
    delta_: float,
    rho: float,
    sigma2: float,
    p: int,
    T: int,
    N_eff: float,
    T_eff: float,
    unit_projection: bool,
    unit_effects: bool,
) -> np.ndarray:
    """``a(theta)`` over ``(y_lag, W_y_lag, other slopes..., rho, sigma2)`` (``p`` slopes in total)."""
    w = spec.ev.astype(complex)
    s = 1.0 - rho * w
    A = (gamma + delta_ * w) / s

    def trq(f: Any) -> float:
        val = np.sum(f(w, s, A))
        if unit_projection:  # J_n f(W) J_n: the eigenvalue 1 (eigenvector iota) is removed
            w1 = np.array([1.0 + 0j])
            s1 = 1.0 - rho * w1
            val = val - np.sum(f(w1, s1, (gamma + delta_ * w1) / s1))
        return float(np.real(val))

    kappa = 1.0 if unit_effects else 0.0
    trQT = T - 1 if unit_effects else T
    n_eff = spec.n - 1 if unit_projection else spec.n
    out = np.zeros(p + 2)
    if kappa:
        out[0] = trq(lambda w_, s_, a_: (1.0 / (1.0 - a_)) / s_)
        out[1] = trq(lambda w_, s_, a_: w_ * (1.0 / (1.0 - a_)) / s_)
        dyn = trq(lambda w_, s_, a_: (gamma + delta_ * w_) * w_ * (1.0 / (1.0 - a_)) / (s_ * s_))
    else:
        dyn = 0.0
    out[p] = kappa * dyn + (T_eff - trQT) * trq(lambda w_, s_, a_: w_ / s_)
    out[p + 1] = (N_eff - n_eff * trQT) / (2.0 * sigma2)
    return out


def spectral_radius_A(spec: Spectrum, gamma: float, delta_: float, rho: float) -> float:
    """Largest ``|(gamma + delta w) / (1 - rho w)|`` over W's eigenvalues (< 1: stable process)."""
    w = spec.ev.astype(complex)
    return float(np.max(np.abs((gamma + delta_ * w) / (1.0 - rho * w))))


def dynamic_design(
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
) -> tuple[Design, list[str], Any]:
    """Design of the dynamic model on periods 2..T (``Z = [y_lag, W_y_lag, X, W X_durbin]``)."""
    if model not in ("sar", "sdm"):
        raise InputError(f"dynamic=True supports model 'sar' or 'sdm', got {model!r}", source="model")
    if effects not in EFFECTS:
        raise InputError(f"effects must be one of {EFFECTS}, got {effects!r}", source="effects")
    x = list(x)
    clash = [v for v in x if v in (Y_LAG, W_Y_LAG) or v.startswith("W_")]
    if clash:
        raise InputError(f"regressor names reserved by the dynamic model: {clash}", source="x")
    dlist = durbin_list(x, durbin, has_wx=model == "sdm", not_applicable="durbin= only applies to sdm")
    weights = coerce_weights(W, w_ids)
    panel = build_panel(data, weights, y=y, x=x, unit=unit, time=time)
    n, T = panel.n, panel.T
    if T < 3:
        raise InputError("the dynamic model needs at least three periods", source="data", column=time)
    times = np.asarray(panel.times)
    if np.issubdtype(times.dtype, np.number):
        steps = np.diff(times.astype(float))
        if not np.allclose(steps, steps[0]):
            raise InputError(
                "the dynamic model needs equally spaced periods; irregular step after "
                f"{list(times[:-1][steps != steps[0]])[:10]}",
                source="data",
                column=time,
            )
    spec = spectrum_of(panel.W)
    if n > EIGEN_MAX_N:
        raise InputError(
            f"the dynamic model is implemented for n <= {EIGEN_MAX_N} units, got {n}", source="W"
        )
    unit_proj = effects in ("time", "twoways")
    if unit_proj:
        require_cross_unit(
            spec,
            weights,
            "time effects in the dynamic model are removed by the Lee-Yu cross-unit transformation, which",
        )
    Wm = panel.W
    Y = panel.y
    ylag = Y[:-1]
    parts = [ylag[..., None], spatial_lag(Wm, ylag)[..., None], panel.X[1:]]
    names = [Y_LAG, W_Y_LAG, *x]
    if dlist:
        wx, wx_names = durbin_lags(Wm, panel.X[1:], x, dlist)
        parts.append(wx)
        names += wx_names
    Zraw = np.concatenate(parts, axis=2)
    yt, Zt = within(Y[1:], Zraw, names, effects)
    lag = lag_operator(Wm, effects, project=unit_proj)
    Tu = T - 1
    unit_effects = effects in ("individual", "twoways")
    T_eff = Tu - 1 if (lee_yu and unit_effects) else Tu
    n_eff = n - 1 if unit_proj else n
    design = Design(yt, Zt, names, lag, spec, float(n_eff * T_eff), float(T_eff), unit_proj, model)
    return design, dlist, panel


def correct(
    design: Design, theta: np.ndarray, sigma2: float, *, unit_effects: bool
) -> tuple[np.ndarray, float, np.ndarray]:
    """Yu-de Jong-Lee bias-corrected ``(delta, rho)`` and ``sigma2``: ``theta + Info^-1 a(theta)``.

    Both ``a`` and ``Info`` are evaluated at the QML estimate (a one-step correction, as in the
    paper and in R SDPDmod). Returns the corrected parameters, sigma2 and the estimated bias.
    """
    spec = design.spec
    p = design.Z.shape[2]
    T = design.y.shape[0]
    full = np.append(theta, sigma2)
    a = bias_vector(
        spec,
        gamma=float(full[0]),
        delta_=float(full[1]),
        rho=float(full[p]),
        sigma2=float(full[p + 1]),
        p=p,
        T=T,
        N_eff=design.N_eff,
        T_eff=design.T_eff,
        unit_projection=design.unit_projection,
        unit_effects=unit_effects,
    )
    Info = information(design, full[:p], float(full[p]), 0.0, float(full[p + 1]), has_rho=True, has_lam=False)
    step = np.linalg.solve(Info, a)
    new = full + step
    lo, hi = spec.bounds
    check_interior(
        "rho (Wy, bias-corrected)", float(new[p]), (lo, min(hi, 1.0) if design.unit_projection else hi)
    )
    if new[p + 1] <= 0:
        raise EstimationError("bias-corrected sigma2 is not positive")
    return new[:-1], float(new[-1]), -step


def correction_jacobian(
    design: Design, theta: np.ndarray, sigma2: float, *, unit_effects: bool
) -> np.ndarray:
    """Jacobian of the correction map ``theta_hat -> theta_hat + Info^-1 a(theta_hat)`` (central differences).

    The corrected estimator is a smooth function of the QML estimate; its delta-method covariance is
    ``J V J'``. ``J`` tends to the identity as T grows, but near a unit root ``a`` is steep in gamma
    (``J_gamma,gamma`` about 2 at gamma = 0.95, T = 10) and ignoring it gives SEs far too small.
    """
    full = np.append(theta, sigma2)
    k = len(full)
    J = np.zeros((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(full[j]))
        e = np.zeros(k)
        e[j] = h
        up = correct(design, full[:-1] + e[:-1], float(full[-1] + e[-1]), unit_effects=unit_effects)
        dn = correct(design, full[:-1] - e[:-1], float(full[-1] - e[-1]), unit_effects=unit_effects)
        J[:, j] = (np.append(up[0], up[1]) - np.append(dn[0], dn[1])) / (2 * h)
    return J


def fit_dynamic_core(
    design: Design, *, unit_effects: bool, bias_correction: str | None
) -> tuple[np.ndarray, float, dict[str, Any], Any]:
    """QML fit of the dynamic design and (optionally) its bias correction."""
    core = fit_ml(design, has_rho=True, has_lam=False)
    p = design.Z.shape[2]
    info: dict[str, Any] = {
        "params_uncorrected": core.params.copy(),
        "sigma2_uncorrected": core.sigma2,
        "bias_correction": bias_correction or "none",
    }
    theta, s2 = core.params.copy(), core.sigma2
    if bias_correction:
        info["correction_jacobian"] = correction_jacobian(design, theta, s2, unit_effects=unit_effects)
        theta, s2, info["bias_estimate"] = correct(design, theta, s2, unit_effects=unit_effects)
    info["spectral_radius_A"] = spectral_radius_A(
        design.spec, float(theta[0]), float(theta[1]), float(theta[p])
    )
    return theta, s2, info, core
