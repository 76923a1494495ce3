r"""Beta convergence: cross-sectional (Baumol/Barro) and panel (fixed effects) regressions."""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonespill.convergence._data import bad_rows, check_unique_keys, numeric_column, require_columns
from zonespill.errors import EstimationError, InputError

INITIAL = "log_initial"
"""Name of the initial-log-level term in :func:`beta` results."""
LAG = "log_lag"
"""Name of the lagged-log-level term in :func:`panel_beta` results."""


class _UnitSentinel:
    def __repr__(self) -> str:
        return "<unit>"


UNIT: Any = _UnitSentinel()
"""Default of ``panel_beta(cluster=...)``: cluster by the ``unit`` column."""

_COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")


def _speed(b: float, horizon: float) -> float:
    r"""Implied convergence speed :math:`\lambda = -\ln(1 + T b)/T` (NaN when :math:`1 + Tb \le 0`)."""
    arg = 1.0 + horizon * b
    return -math.log(arg) / horizon if arg > 0 else float("nan")


def _half_life(speed: float) -> float:
    r""":math:`\ln 2 / \lambda` for :math:`\lambda > 0`, NaN otherwise (no convergence)."""
    return math.log(2.0) / speed if np.isfinite(speed) and speed > 0 else float("nan")


@dataclass(frozen=True)
class BetaResult:
    r"""Result of :func:`beta` or :func:`panel_beta`.

    Attributes
    ----------
    params, bse, pvalues
        Coefficients, standard errors and two-sided p-values (Series indexed by term).
    term
        Name of the convergence coefficient :math:`b` (``log_initial`` or ``log_lag``).
    horizon
        :math:`T` in years over which growth is averaged (1 for the panel regression).
    nobs
        Observations used.
    model
        ``"ols"``, ``"fe"`` (panel fixed effects) or the spatial model name.
    cov_type
        Standard-error type.
    extra
        Further statistics (R², number of clusters, effects, dropped units, …).
    """

    params: pd.Series
    bse: pd.Series
    pvalues: pd.Series
    term: str
    horizon: float
    nobs: int
    model: str
    cov_type: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def b(self) -> float:
        """The convergence coefficient."""
        return float(self.params[self.term])

    @property
    def speed(self) -> float:
        r"""Implied speed :math:`\lambda = -\ln(1 + T b)/T` per year (NaN if :math:`1+Tb \le 0`)."""
        return _speed(self.b, self.horizon)

    @property
    def half_life(self) -> float:
        r"""Half-life :math:`\ln 2/\lambda` in years (NaN when :math:`\lambda \le 0`)."""
        return _half_life(self.speed)

    def speed_interval(self, *, level: float = 0.95) -> Any:
        """Speed and half-life with delta-method SEs and intervals (a
        :class:`~zonespill.convergence.speed.SpeedResult`; the half-life interval is flagged
        unbounded when the speed interval reaches zero). For spatial lag models use
        :func:`~zonespill.convergence.speed.speed_from_impacts` instead."""
        from zonespill.convergence.speed import convergence_speed

        return convergence_speed(self.b, float(self.bse[self.term]), horizon=self.horizon, level=level)

    def to_frame(self, *, model: str | None = None) -> pd.DataFrame:
        """Long coefficient frame (``model, term, estimate, se, pvalue``) as in INTERFACES.md."""
        label = model if model is not None else self.model
        return pd.DataFrame(
            {
                "model": label,
                "term": list(self.params.index),
                "estimate": self.params.to_numpy(dtype=float),
                "se": self.bse.reindex(self.params.index).to_numpy(dtype=float),
                "pvalue": self.pvalues.reindex(self.params.index).to_numpy(dtype=float),
            }
        )

    def stats_frame(self, *, model: str | None = None) -> pd.DataFrame:
        """Stats frame (``model, stat, value`` as strings): N, SE type, speed, half-life, extras."""
        label = model if model is not None else self.model
        items: list[tuple[str, str]] = [
            ("N", str(self.nobs)),
            ("SE type", self.cov_type),
            ("Speed", f"{self.speed:.4f}"),
            ("Half-life", f"{self.half_life:.1f}"),
        ]
        for k, v in self.extra.items():
            if isinstance(v, (list, tuple)):
                continue
            items.append((str(k), f"{v:.4f}" if isinstance(v, float) else str(v)))
        return pd.DataFrame({"model": label, "stat": [k for k, _ in items], "value": [v for _, v in items]})

    def summary(self) -> str:
        """Plain-text table of the coefficients and implied speed."""
        lines = [
            f"Beta convergence ({self.model}), N = {self.nobs}, SE: {self.cov_type}, "
            f"horizon T = {self.horizon:g}",
            f"{'term':<24} {'estimate':>12} {'se':>12} {'p':>8}",
        ]
        for term in self.params.index:
            lines.append(
                f"{term!s:<24} {self.params[term]:>12.6f} {self.bse.get(term, np.nan):>12.6f} "
                f"{self.pvalues.get(term, np.nan):>8.4f}"
            )
        lines.append(f"speed = {self.speed:.5f} per year, half-life = {self.half_life:.2f} years")
        return "\n".join(lines)


def _spatial_module() -> Any:
    try:
        return importlib.import_module("zonespill.spatial")
    except ImportError as exc:  # pragma: no cover - depends on the spatial package being present
        raise EstimationError(
            f"spatial variants need zonespill.spatial, which cannot be imported: {exc}"
        ) from exc


def _parse_spatial(spatial: Any, allowed: Sequence[str], source: str) -> tuple[str, Any] | None:
    if spatial is None:
        return None
    if not (isinstance(spatial, tuple) and len(spatial) == 2 and spatial[0] in allowed):
        raise InputError(
            f"spatial must be None or a tuple (model, W) with model in {list(allowed)}",
            source=source,
            column="spatial",
        )
    return str(spatial[0]), spatial[1]


def _pvalues_normal(params: pd.Series, bse: pd.Series) -> pd.Series:
    from scipy import stats

    z = params / bse.reindex(params.index)
    return pd.Series(2.0 * stats.norm.sf(np.abs(z.to_numpy(dtype=float))), index=params.index)


def _series(obj: Any, name: str) -> pd.Series:
    if not isinstance(obj, pd.Series):
        raise EstimationError(f"spatial estimator returned {name} that is not a pandas Series")
    return obj.astype(float)


def beta(
    data: pd.DataFrame,
    *,
    value: str,
    unit: str,
    time: str,
    start: Any,
    end: Any,
    covariates: Sequence[str] | None = None,
    spatial: tuple[str, Any] | None = None,
    cov_type: str = "HC1",
) -> BetaResult:
    r"""Cross-sectional (absolute or conditional) beta convergence.

    .. math::

        g_i \equiv \frac{\ln y_{i,\text{end}} - \ln y_{i,\text{start}}}{T}
          = \alpha + b \ln y_{i,\text{start}} + x_{i,\text{start}}'\gamma + \varepsilon_i ,
        \qquad T = \text{end} - \text{start},

    estimated by OLS. Convergence means :math:`b < 0`; the implied speed is
    :math:`\lambda = -\ln(1 + Tb)/T` and the half-life :math:`\ln 2/\lambda`
    (Barro and Sala-i-Martin 1992).

    With ``spatial=("sem", W)`` the error follows :math:`\varepsilon = \lambda W\varepsilon + u`
    and with ``spatial=("sar", W)`` the model adds :math:`\rho W g` (Rey and Montouri 1999);
    both are estimated by :func:`zonespill.spatial.fit_cross_section` (ML), whose
    parameters ``rho``/``lambda`` appear in ``params``. In the SAR model :math:`b` is the
    coefficient, which is neither the direct nor the total impact of the initial level (both
    include the spatial multiplier); :attr:`BetaResult.speed` uses :math:`b`, so take the
    speed of a SAR model from its impacts with
    :func:`zonespill.convergence.speed.speed_from_impacts`.

    Parameters
    ----------
    data
        Long table.
    value
        Column in **levels** (e.g. GDP per capita; logs are taken here; must be positive).
    unit, time
        Key columns.
    start, end
        Initial and final periods (numeric, ``end > start``). Units lacking a value in
        either period are dropped (listed in ``extra["dropped"]``).
    covariates
        Columns of conditioning variables, taken at ``start``.
    spatial
        ``None``, ``("sem", W)`` or ``("sar", W)``; ``W`` anything
        :func:`zonespill.weights.as_weights` accepts, with ids equal to the unit ids.
    cov_type
        OLS standard errors: ``"HC1"`` (default, White with :math:`n/(n-k)`), ``"HC0"``,
        ``"HC2"``, ``"HC3"`` or ``"nonrobust"`` (classical). Ignored by spatial models.

    Returns
    -------
    BetaResult
        Terms ``const``, ``log_initial``, covariates (and ``rho``/``lambda``).
    """
    import statsmodels.api as sm

    source = "beta"
    covs = list(covariates or [])
    require_columns(data, [value, unit, time, *covs], source=source)
    check_unique_keys(data, unit, time, source=source)
    if cov_type not in _COV_TYPES:
        raise InputError(
            f"cov_type must be one of {_COV_TYPES}, got {cov_type!r}", source=source, column="cov_type"
        )
    try:
        horizon = float(end) - float(start)
    except (TypeError, ValueError) as exc:
        raise InputError("start and end must be numeric periods", source=source, column=time) from exc
    if horizon <= 0:
        raise InputError(f"end ({end}) must be after start ({start})", source=source, column=time)
    sp_spec = _parse_spatial(spatial, ("sem", "sar"), source)

    t_col = data[time]
    first = data.loc[(t_col == start).to_numpy()]
    last = data.loc[(t_col == end).to_numpy()]
    if first.empty or last.empty:
        raise InputError(
            f"no rows for period {start if first.empty else end}", source=source, rows="all", column=time
        )
    first = first.loc[first[[value, *covs]].notna().all(axis=1).to_numpy()]
    last = last.loc[last[value].notna().to_numpy()]
    y0 = pd.Series(numeric_column(first, value, positive=True, source=source), index=first[unit].to_numpy())
    y1 = pd.Series(numeric_column(last, value, positive=True, source=source), index=last[unit].to_numpy())
    common = [u for u in y0.index if u in set(y1.index)]
    all_units = pd.unique(data[unit])
    dropped = [str(u) for u in all_units if u not in set(common)]
    if len(common) < 3 + len(covs):
        raise EstimationError(f"beta: only {len(common)} units have values in both {start} and {end}")
    cs = pd.DataFrame({unit: common})
    cs["growth"] = (np.log(y1.loc[common].to_numpy()) - np.log(y0.loc[common].to_numpy())) / horizon
    cs[INITIAL] = np.log(y0.loc[common].to_numpy())
    for c in covs:
        cs[c] = numeric_column(first.set_index(unit).loc[common].reset_index(), c, source=source)

    extra: dict[str, Any] = {"start": start, "end": end, "dropped": dropped}
    if sp_spec is None:
        X = sm.add_constant(cs[[INITIAL, *covs]], has_constant="add")
        fit = sm.OLS(cs["growth"], X).fit(cov_type=cov_type)
        params = fit.params.rename(index={"const": "const"})
        extra.update({"R2": float(fit.rsquared), "adj. R2": float(fit.rsquared_adj)})
        return BetaResult(
            params=params.astype(float),
            bse=fit.bse.astype(float),
            pvalues=fit.pvalues.astype(float),
            term=INITIAL,
            horizon=horizon,
            nobs=int(fit.nobs),
            model="ols",
            cov_type=cov_type,
            extra=extra,
        )
    model, W = sp_spec
    spatial_mod = _spatial_module()
    res = spatial_mod.fit_cross_section(cs, W, y="growth", x=[INITIAL, *covs], unit=unit, model=model)
    params = _series(res.params, "params")
    bse = _series(res.bse, "bse")
    pvals = _series(res.pvalues, "pvalues") if isinstance(getattr(res, "pvalues", None), pd.Series) else None
    return BetaResult(
        params=params,
        bse=bse,
        pvalues=pvals if pvals is not None else _pvalues_normal(params, bse),
        term=INITIAL,
        horizon=horizon,
        nobs=int(getattr(res, "nobs", len(cs))),
        model=model,
        cov_type=str(getattr(res, "cov_type", "ML")),
        extra=extra,
    )


Effects = Literal["twoways", "individual", "time", "none"]
BiasCorrection = Literal["half_panel_jackknife"]


def _jackknife_extra(
    b_full: pd.Series, se_full: pd.Series, T: int, se_text: str, halves: list[float]
) -> dict[str, Any]:
    return {
        "Bias correction": "half-panel jackknife (Dhaene-Jochmans 2015)",
        "Growth periods": T,
        f"{LAG} uncorrected": float(b_full[LAG]),
        f"{LAG} uncorrected se": float(se_full[LAG]),
        "Jackknife SE": se_text,
        f"{LAG} half panels": halves,  # a list: kept out of stats_frame
    }


def _jackknife_within(
    panel: pd.DataFrame,
    frame: pd.DataFrame,
    fit: Any,
    params_full: pd.Series,
    bse_full: pd.Series,
    *,
    effects: str,
    cl: str | None,
    time: str,
    back: dict[str, str],
    extra: dict[str, Any],
) -> BetaResult:
    r"""Half-panel jackknife of the within estimator with an analytic cluster-robust SE.

    Every sub-panel fit is linear, :math:`\hat b_s - b = A_s^{-1}\sum_g s_{gs}` with
    :math:`s_{gs}` cluster :math:`g`'s score in sub-panel :math:`s`, so the jackknife
    combination :math:`\sum_s w_s \hat b_s` has per-cluster influence
    :math:`\psi_g = \sum_s w_s A_s^{-1} s_{gs}` and CRV1 variance
    :math:`c\sum_g \psi_g\psi_g'` with fixest's factor
    :math:`c = \frac{G}{G-1}\frac{N-1}{N-K}` of the full fit.
    """
    from scipy import stats

    from zonespill.convergence.jackknife import half_panel_weights, linear_fe_pieces

    terms = [c for c in frame.columns if c not in ("u_", "t_", "growth", "cl_")]
    names = list(params_full.index)
    X = frame[terms].to_numpy(dtype=float)
    terms = [back.get(c, c) for c in terms]
    if effects == "none":
        X = np.column_stack([np.ones(len(frame)), X])
        terms = ["const", *terms]
    y = frame["growth"].to_numpy(dtype=float)
    u_codes = pd.factorize(frame["u_"])[0]
    t_codes = pd.factorize(frame["t_"])[0]
    g_codes = pd.factorize(frame["cl_"])[0] if cl is not None else np.arange(len(frame))
    G = int(g_codes.max()) + 1
    tnum = pd.to_numeric(panel[time]).to_numpy()
    periods = sorted(np.unique(tnum).tolist())
    try:
        plan = half_panel_weights(periods)
    except EstimationError as exc:
        raise EstimationError(f"panel_beta: {exc}") from exc
    coef = np.zeros(X.shape[1])
    infl = np.zeros((G, X.shape[1]))
    fits = []
    for per, w in plan:
        m = np.isin(tnum, per)
        fe = {
            "twoways": [u_codes[m], t_codes[m]],
            "individual": [u_codes[m]],
            "time": [t_codes[m]],
            "none": [],
        }[effects]
        fe = [pd.factorize(c)[0] for c in fe]
        pieces = linear_fe_pieces(y[m], X[m], fe, g_codes[m], G)
        coef += w * pieces.coef
        infl += w * pieces.influence
        fits.append(pieces.coef)
    N = int(fit._N)
    K = _fixest_k(frame, effects, cl, X.shape[1])
    factor = G / (G - 1) * (N - 1) / (N - K) if cl is not None else N / (N - K)
    V = factor * infl.T @ infl
    order = [terms.index(n) if n in terms else None for n in names]
    if any(o is None for o in order):
        raise EstimationError(f"panel_beta: jackknife terms {terms} do not match {names}")
    idx = [int(o) for o in order if o is not None]
    params = pd.Series(coef[idx], index=names)
    bse = pd.Series(np.sqrt(np.diag(V))[idx], index=names)
    z = (params / bse).to_numpy(dtype=float)
    pv = 2.0 * (stats.t.sf(np.abs(z), df=G - 1) if cl is not None else stats.norm.sf(np.abs(z)))
    se_text = f"CRV1 by {cl} of the jackknife combination" if cl is not None else "HC1 of the jackknife"
    i_lag = terms.index(LAG)
    extra.update(
        _jackknife_extra(params_full, bse_full, len(periods), se_text, [float(c[i_lag]) for c in fits[1:]])
    )
    return BetaResult(
        params=params,
        bse=bse,
        pvalues=pd.Series(pv, index=names),
        term=LAG,
        horizon=1.0,
        nobs=N,
        model="fe" if effects != "none" else "pooled",
        cov_type=(f"CRV1 by {cl}" if cl is not None else "HC1") + ", half-panel jackknife",
        extra=extra,
    )


def _fixest_k(frame: pd.DataFrame, effects: str, cl: str | None, k_x: int) -> int:
    """Parameter count K in fixest's small-sample factor (checked against pyfixest): slopes,
    plus each fixed-effect factor's levels, a factor nested in the clusters counting as one,
    minus one redundant level with two factors."""
    n_u = int(frame["u_"].nunique())
    n_t = int(frame["t_"].nunique())
    nested_u = cl is not None and bool((frame.groupby("u_")["cl_"].nunique() == 1).all())
    nested_t = cl is not None and bool((frame.groupby("t_")["cl_"].nunique() == 1).all())
    k_u = 1 if nested_u else n_u
    k_t = 1 if nested_t else n_t
    return k_x + {"twoways": k_u + k_t - 1, "individual": k_u, "time": k_t, "none": 0}[effects]


def _panel_frame(
    data: pd.DataFrame,
    *,
    value: str,
    unit: str,
    time: str,
    covs: list[str],
    extra_cols: list[str],
    source: str,
) -> pd.DataFrame:
    require_columns(data, [value, unit, time, *covs, *extra_cols], source=source)
    check_unique_keys(data, unit, time, source=source)
    keep = data[value].notna().to_numpy()
    sub = data.loc[keep, list(dict.fromkeys([unit, time, value, *covs, *extra_cols]))].copy()
    sub[value] = numeric_column(sub, value, positive=True, source=source)
    tnum = pd.to_numeric(sub[time], errors="coerce")
    if tnum.isna().any() or (tnum % 1 != 0).any():
        raise InputError(
            "time must be integer periods",
            source=source,
            rows=bad_rows(tnum.isna() | (tnum % 1 != 0)),
            column=time,
        )
    sub = sub.assign(_t=tnum.astype("int64")).sort_values([unit, "_t"], kind="stable")
    logy = np.log(sub[value].to_numpy(dtype=float))
    prev_t = sub.groupby(unit, sort=False)["_t"].shift(1)
    prev_log = pd.Series(logy, index=sub.index).groupby(sub[unit].to_numpy(), sort=False).shift(1)
    consecutive = (sub["_t"] - prev_t == 1).to_numpy()
    sub["growth"] = np.where(consecutive, logy - prev_log.to_numpy(dtype=float), np.nan)
    sub[LAG] = np.where(consecutive, prev_log.to_numpy(dtype=float), np.nan)
    sub = sub.loc[sub[["growth", LAG, *covs]].notna().all(axis=1).to_numpy()]
    for c in covs:
        sub[c] = numeric_column(sub, c, source=source)
    return sub.drop(columns="_t")


def panel_beta(
    data: pd.DataFrame,
    *,
    value: str,
    unit: str,
    time: str,
    effects: Effects = "twoways",
    covariates: Sequence[str] | None = None,
    spatial: tuple[str, Any] | None = None,
    cluster: Any = UNIT,
    bias_correction: BiasCorrection | None = None,
) -> BetaResult:
    r"""Panel beta convergence with fixed effects.

    .. math::

        \Delta \ln y_{it} = b \ln y_{i,t-1} + x_{it}'\gamma + \mu_i + \tau_t + \varepsilon_{it}

    (``effects``: ``"twoways"`` both :math:`\mu_i` and :math:`\tau_t`, ``"individual"``
    :math:`\mu_i`, ``"time"`` :math:`\tau_t`, ``"none"`` a common constant). Growth is the
    one-year log difference and is only formed between consecutive periods. Estimated by
    the within estimator (pyfixest ``feols``, identical to R fixest); standard errors are
    clustered by ``cluster`` (CRV1 with fixest's small-sample factors
    :math:`\frac{G}{G-1}\frac{n-1}{n-k}`, :math:`k` not counting fixed effects nested in
    the clusters), or classical with ``cluster=None``.
    Speed :math:`\lambda = -\ln(1+b)` per year, half-life :math:`\ln 2/\lambda`. With unit
    effects :math:`b` carries Nickell bias of order :math:`1/T` (large when the units start
    near their steady state); ``bias_correction="half_panel_jackknife"`` removes it.

    With ``spatial=("sdm"|"sar"|"sem", W)`` the model is estimated by
    :func:`zonespill.spatial.fit_panel` (ML with the same effects), adding
    :math:`\rho W\Delta\ln y` (SAR, SDM), :math:`W X\theta` (SDM) or a spatially
    autocorrelated error (SEM).

    Parameters
    ----------
    data
        Long table; integer time periods.
    value
        Column in levels (positive; logs taken here).
    unit, time
        Key columns.
    effects
        Fixed effects, see above.
    covariates
        Further regressors (columns, contemporaneous).
    spatial
        ``None`` or ``(model, W)``.
    cluster
        Column to cluster on (default: ``unit``), or ``None`` for classical SEs.
    bias_correction
        ``None`` (default) or ``"half_panel_jackknife"``: Dhaene and Jochmans (2015)
        split-panel jackknife :math:`2\hat b - \tfrac12(\hat b_{S_1} + \hat b_{S_2})` over
        the two halves of the growth periods (four half panels averaged for odd :math:`T`,
        see :mod:`zonespill.convergence.jackknife`), every coefficient corrected. Standard
        errors: for the within estimator, CRV1 by ``cluster`` of the jackknife combination
        (the per-cluster score contributions of the full and half-panel fits combined with
        the jackknife weights, fixest's small-sample factors of the full fit;
        heteroskedasticity-robust, each observation its own cluster, when ``cluster=None``);
        for spatial models the ML standard errors of the full fit (same first-order
        asymptotic variance). Uncorrected values are kept in ``extra``. Needs at least four
        growth periods. Far from the steady state the within estimator is much less biased
        and the correction can overshoot (``docs/methods/convergence.md``).

    Returns
    -------
    BetaResult
        Term ``log_lag`` (and covariates, ``const`` when ``effects="none"``).
    """
    source = "panel_beta"
    covs = list(covariates or [])
    if effects not in ("twoways", "individual", "time", "none"):
        raise InputError(
            f"effects must be twoways/individual/time/none, got {effects!r}", source=source, column="effects"
        )
    cl: str | None = unit if cluster is UNIT else cluster
    if cl is not None and not isinstance(cl, str):
        raise InputError("cluster must be a column name or None", source=source, column="cluster")
    sp_spec = _parse_spatial(spatial, ("sdm", "sar", "sem"), source)
    if bias_correction not in (None, "half_panel_jackknife"):
        raise InputError(
            f"bias_correction must be None or 'half_panel_jackknife', got {bias_correction!r}",
            source=source,
            column="bias_correction",
        )
    extra_cols = [cl] if cl is not None and cl not in (unit, time) else []
    panel = _panel_frame(
        data, value=value, unit=unit, time=time, covs=covs, extra_cols=extra_cols, source=source
    )
    if len(panel) < 3 + len(covs):
        raise EstimationError("panel_beta: too few observations with consecutive periods")
    extra: dict[str, Any] = {"Fixed effects": effects}
    if sp_spec is not None:
        model, W = sp_spec
        if effects == "none":
            raise InputError("spatial panel models need fixed effects", source=source, column="effects")
        spatial_mod = _spatial_module()

        def fit_spatial(frame: pd.DataFrame) -> Any:
            return spatial_mod.fit_panel(
                frame,
                W,
                y="growth",
                x=[LAG, *covs],
                unit=unit,
                time=time,
                model=model,
                effects=effects,
            )

        sp_frame = panel[[unit, time, "growth", LAG, *covs]].reset_index(drop=True)
        if bias_correction is not None:
            from zonespill.convergence.jackknife import split_panel_jackknife

            jk = split_panel_jackknife(sp_frame, fit_spatial, time=time, se="full")
            extra.update(
                _jackknife_extra(
                    jk.params_full, jk.bse_full, jk.n_periods, "ML of the full fit", jk.halves[LAG].tolist()
                )
            )
            return BetaResult(
                params=jk.params,
                bse=jk.bse,
                pvalues=_pvalues_normal(jk.params, jk.bse),
                term=LAG,
                horizon=1.0,
                nobs=len(sp_frame),
                model=model,
                cov_type="ML (full fit), half-panel jackknife",
                extra=extra,
            )
        res = fit_spatial(sp_frame)
        params = _series(res.params, "params")
        bse = _series(res.bse, "bse")
        pv = getattr(res, "pvalues", None)
        return BetaResult(
            params=params,
            bse=bse,
            pvalues=pv.astype(float) if isinstance(pv, pd.Series) else _pvalues_normal(params, bse),
            term=LAG,
            horizon=1.0,
            nobs=int(getattr(res, "nobs", len(panel))),
            model=model,
            cov_type=str(getattr(res, "cov_type", "ML")),
            extra=extra,
        )

    import pyfixest as pf

    names = {c: f"cov{j}" for j, c in enumerate(covs)}
    frame = pd.DataFrame(
        {
            "u_": panel[unit].astype(str).to_numpy(),
            "t_": panel[time].astype(str).to_numpy(),
            "growth": panel["growth"].to_numpy(dtype=float),
            LAG: panel[LAG].to_numpy(dtype=float),
        }
    )
    for c, alias in names.items():
        frame[alias] = panel[c].to_numpy(dtype=float)
    if cl is not None:
        frame["cl_"] = panel[cl].astype(str).to_numpy() if cl != time else frame["t_"]
        if cl == unit:
            frame["cl_"] = frame["u_"]
    fe = {"twoways": " | u_ + t_", "individual": " | u_", "time": " | t_", "none": ""}[effects]
    fml = "growth ~ " + " + ".join([LAG, *names.values()]) + fe
    vcov: Any = {"CRV1": "cl_"} if cl is not None else "iid"
    with warnings.catch_warnings():
        # pyfixest 0.60 uses pandas' deprecated inplace= keyword (Pandas4Warning); not ours to fix
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        fit = pf.feols(fml, data=frame, vcov=vcov)
    back = {v: k for k, v in names.items()} | {"Intercept": "const"}
    params = fit.coef().rename(index=back).astype(float)
    bse = fit.se().rename(index=back).astype(float)
    pvals = fit.pvalue().rename(index=back).astype(float)
    params.index.name = bse.index.name = pvals.index.name = None
    if cl is not None:
        extra["Clusters"] = int(frame["cl_"].nunique())
    extra["R2 (within)" if effects != "none" else "R2"] = float(
        fit._r2_within if effects != "none" else fit._r2
    )
    if bias_correction is not None:
        return _jackknife_within(
            panel, frame, fit, params, bse, effects=effects, cl=cl, time=time, back=back, extra=extra
        )
    return BetaResult(
        params=params,
        bse=bse,
        pvalues=pvals,
        term=LAG,
        horizon=1.0,
        nobs=int(fit._N),
        model="fe" if effects != "none" else "pooled",
        cov_type=f"CRV1 by {cl}" if cl is not None else "iid",
        extra=extra,
    )
