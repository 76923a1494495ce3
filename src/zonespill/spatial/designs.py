r"""Paper designs for the spatial part (tables S1–S4): pure functions on DataFrames.

The growth equation, for province :math:`i` and year :math:`t`, is the spatial Durbin
two-way fixed-effects panel

.. math::

    g_{it} = \rho \sum_j w_{ij} g_{jt} + \beta \ln y_{i,t-1} + \sum_K \gamma_K a^K_{it}
             + \sum_j w_{ij} \big(\theta_0 \ln y_{j,t-1} + \sum_K \theta_K a^K_{jt}\big)
             + \mu_i + \alpha_t + \varepsilon_{it}

with :math:`g_{it} = \Delta \ln y_{it}` (``growth``), :math:`\ln y_{i,t-1}` the log GDP per
capita of the *previous calendar year* (built here; a gap in the years gives a missing lag),
and :math:`a^K_{it}` the ``active_<K>`` indicators of the spine for
K = forward giver, forward receiver, reverse (either role), two-way.

The estimation sample must be a balanced panel over the units of ``W``: years in which some
province lacks growth, the lagged level or a regressor are dropped (and listed in the notes).
Regressors without variation after the two-way within transformation, or collinear with
earlier regressors, are dropped for every model (and listed). A model that still cannot be
estimated (e.g. a spatially lagged regressor collinear with the fixed effects, ρ at a bound,
Lee–Yu with islands) is reported as ``not estimated: <reason>`` and its column left out —
never a silent NaN.

Files are read and written by :mod:`zonespill.spatial.pipeline`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from zonespill.errors import EstimationError, ZonespillError
from zonespill.spatial import SpatialResult, fit_panel, lm_tests
from zonespill.vocabulary import TIE_LABELS
from zonespill.weights import SpatialWeights

log = logging.getLogger("zonespill")

UNIT = "region_id"
TIME = "year"
DEPVAR = "growth"
LEVEL = "log_gdp_pc"
LAG = "lag_log_gdp_pc"
#: Collaboration indicators by direction (columns of region_year), in display order.
TIES: tuple[str, ...] = (
    "active_forward_giver",
    "active_forward_receiver",
    "active_reverse",
    "active_two_way",
)
REGRESSORS: tuple[str, ...] = (LAG, *TIES)

BASE_LABELS: dict[str, str] = {
    LAG: "log GDP p.c. (t−1)",
    **{t: TIE_LABELS[t.removeprefix("active_")] for t in TIES},
}

#: Model codes of the comparison table S4, in display order.
COMPARISON: tuple[str, ...] = ("sar", "sem", "sdm", "sdem", "slx")
MODEL_NAMES: dict[str, str] = {
    "ols": "Two-way FE (no spatial terms)",
    "sar": "SAR",
    "sem": "SEM",
    "sdm": "SDM",
    "sdem": "SDEM",
    "slx": "SLX",
}

#: Exceptions that turn a model into a "not estimated" note instead of failing the step.
SOFT_ERRORS: tuple[type[BaseException], ...] = (
    ZonespillError,
    np.linalg.LinAlgError,
    FloatingPointError,
    ZeroDivisionError,
)


def term_labels() -> dict[str, str]:
    """Display labels of every term of S1: regressors, their W-lags, ρ and λ."""
    out = dict(BASE_LABELS)
    out.update({f"W_{k}": f"W × {v}" for k, v in BASE_LABELS.items()})
    out["rho"] = "ρ (W × growth)"
    out["lambda"] = "λ (W × error)"
    return out


def column_label(model: str, lee_yu: bool) -> str:
    """Column label of a fitted model, e.g. ``SDM`` or ``SDM, Lee–Yu``."""
    return MODEL_NAMES[model] + (", Lee–Yu" if lee_yu else "")


# --------------------------------------------------------------------------- sample
def add_lagged_level(ry: pd.DataFrame, *, value: str = LEVEL, out: str = LAG) -> pd.DataFrame:
    """Add ``out`` = ``value`` of the same unit in the previous calendar year (missing otherwise).

    Only year ``t − 1`` counts: if a unit's previous row is two or more years back, the lag is
    missing (no bridging over gaps).
    """
    prev = ry[[UNIT, TIME, value]].copy()
    prev[TIME] = prev[TIME].astype("int64") + 1
    prev = prev.rename(columns={value: out})
    base = ry.drop(columns=[out], errors="ignore").copy()
    base[TIME] = base[TIME].astype("int64")
    merged = base.merge(prev, on=[UNIT, TIME], how="left", validate="one_to_one")
    merged[out] = merged[out].astype("float64")
    return merged


def _twoway_within(values: np.ndarray) -> np.ndarray:
    """Two-way within transformation of a balanced ``(T, n, k)`` array."""
    return (
        values
        - values.mean(axis=0, keepdims=True)
        - values.mean(axis=1, keepdims=True)
        + values.mean(axis=(0, 1), keepdims=True)
    )


@dataclass(frozen=True)
class GrowthSample:
    """Balanced estimation sample of the growth equation.

    Attributes
    ----------
    data
        Long frame (``region_id, year, growth`` and the regressors), sorted by (year, region).
    W
        The weights reordered to the sample's units (used as given, never re-standardised).
    regressors
        Regressors kept (after dropping those absorbed by the fixed effects or collinear).
    durbin
        Regressors whose spatial lag enters the Durbin models (SDM, SDEM, SLX): those whose
        ``W x`` is neither absorbed by the fixed effects nor collinear with the regressors.
    dropped
        ``(regressor, reason)`` for each regressor left out of every model.
    years
        Growth years in the sample (ascending).
    notes
        Sample notes (years dropped for incompleteness, regressors dropped).
    """

    data: pd.DataFrame
    W: SpatialWeights
    regressors: tuple[str, ...]
    durbin: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]
    years: tuple[int, ...]
    notes: tuple[str, ...] = ()
    vintage: str = "n/a"

    @property
    def n(self) -> int:
        return self.W.n

    @property
    def T(self) -> int:
        return len(self.years)

    @property
    def span(self) -> str:
        return f"{self.years[0]}–{self.years[-1]}" if self.years else "none"


def _incomplete_units(d: pd.DataFrame, complete: pd.Series, ids: Sequence[str]) -> str:
    """Name the units (and their years) that keep the panel from being balanced."""
    # years in which no unit is complete (e.g. the first year: no lagged level) blame nobody
    years = set(d.loc[complete, TIME])
    gaps = d.loc[~complete & d[TIME].isin(years), [UNIT, TIME]]
    absent = {u: sorted(years - set(d.loc[d[UNIT] == u, TIME])) for u in ids}
    by_unit: dict[str, list[int]] = {}
    for u, t in zip(gaps[UNIT].astype(str), gaps[TIME].astype(int), strict=True):
        by_unit.setdefault(u, []).append(t)
    for u, missing_years in absent.items():
        if missing_years:
            by_unit.setdefault(u, []).extend(int(y) for y in missing_years)
    if not by_unit:
        return "no unit lacks data"
    shown = [f"{u} ({', '.join(map(str, sorted(set(y))))})" for u, y in sorted(by_unit.items())]
    more = f" … (+{len(shown) - 10} more)" if len(shown) > 10 else ""
    return (
        f"{len(shown)} unit(s) lack growth, the lagged level or a regressor (e.g. population) in some "
        f"year(s): {'; '.join(shown[:10])}{more}"
    )


def growth_sample(
    ry: pd.DataFrame,
    W: SpatialWeights,
    *,
    first_year: int | None = None,
    last_year: int | None = None,
    regressors: Sequence[str] = REGRESSORS,
) -> GrowthSample:
    """Build the balanced growth panel over the units of ``W``.

    Parameters
    ----------
    ry
        ``region_year`` (key ``region_id, year``) with ``growth``, ``log_gdp_pc`` and the
        ``active_<K>`` columns.
    W
        Spatial weights of the analysis regions (e.g. from :func:`zonespill.steps.read_weights`).
    first_year, last_year
        Growth years to use (inclusive); default: every year with data.
    regressors
        Regressors in order of priority (the lagged level first); ``lag_log_gdp_pc`` is built here.

    Raises
    ------
    EstimationError
        No balanced panel of at least two years over the units of ``W`` exists.
    """
    notes: list[str] = []
    d = add_lagged_level(ry)
    d[UNIT] = d[UNIT].astype(str)
    if first_year is not None:
        d = d[d[TIME] >= int(first_year)]
    if last_year is not None:
        d = d[d[TIME] <= int(last_year)]
    ids = [str(u) for u in W.ids]
    missing = sorted(set(ids) - set(d[UNIT]))
    if missing:
        raise EstimationError(
            f"province(s) {missing[:10]} of the weights have no rows in region_year; "
            "the panel cannot be balanced without changing W"
        )
    extra = sorted(set(d[UNIT]) - set(ids))
    if extra:
        notes.append(f"Region(s) not in the weights and left out: {', '.join(extra)}.")
    d = d[d[UNIT].isin(ids)]
    cols = [DEPVAR, *regressors]
    absent = [c for c in cols if c not in d.columns]
    if absent:
        raise EstimationError(f"region_year lacks column(s) {absent}")
    complete = d[cols].notna().all(axis=1)
    per_year = d.loc[complete].groupby(TIME)[UNIT].nunique()
    all_years = sorted(int(y) for y in d[TIME].unique())
    full = [int(str(y)) for y, k in per_year.items() if k == len(ids)]
    partial = [y for y in all_years if y not in full and y in per_year.index]
    if partial:
        notes.append(
            "Year(s) dropped because some province lacks growth, the lagged level or a regressor "
            f"(balanced panel required): {', '.join(str(y) for y in partial)}."
        )
    if len(full) < 2:
        raise EstimationError(
            f"fewer than two years with complete data for all {len(ids)} units (years: {full}); "
            + _incomplete_units(d, complete, ids)
        )
    d = d[d[TIME].isin(full) & complete].copy()
    pos = {u: i for i, u in enumerate(ids)}
    d["_pos"] = d[UNIT].map(pos)
    d = d.sort_values([TIME, "_pos"], kind="mergesort").drop(columns="_pos").reset_index(drop=True)
    kept, dropped = _usable_regressors(d, list(regressors), len(full), len(ids))
    if not kept:
        raise EstimationError("no regressor varies within provinces and years")
    Wo = W.reorder(ids)
    durbin, no_lag = _usable_lags(d, kept, Wo, len(full), len(ids))
    if no_lag:
        notes.append(
            "Spatial lag(s) W × regressor left out of the Durbin models (SDM, SDEM, SLX): "
            + "; ".join(f"{BASE_LABELS.get(r, r)} ({why})" for r, why in no_lag)
            + "."
        )
    if dropped:
        notes.append(
            "Regressor(s) left out of every model: "
            + "; ".join(f"{BASE_LABELS.get(r, r)} ({why})" for r, why in dropped)
            + "."
        )
    vintage = ", ".join(sorted(set(d["vintage"].dropna().astype(str)))) if "vintage" in d.columns else ""
    data = d[[UNIT, TIME, DEPVAR, *kept]].copy()
    for c in (DEPVAR, *kept):
        data[c] = data[c].astype("float64")
    return GrowthSample(
        data=data,
        W=Wo,
        regressors=tuple(kept),
        durbin=tuple(durbin),
        dropped=tuple(dropped),
        years=tuple(full),
        notes=tuple(notes),
        vintage=vintage or "n/a",
    )


def _usable_regressors(
    d: pd.DataFrame, regs: list[str], T: int, n: int
) -> tuple[list[str], list[tuple[str, str]]]:
    """Keep regressors with within variation that are not collinear with earlier kept ones."""
    X = d[regs].to_numpy(dtype="float64").reshape(T, n, len(regs))
    return _screen(X, regs, [])


def _usable_lags(
    d: pd.DataFrame, regs: list[str], W: SpatialWeights, T: int, n: int
) -> tuple[list[str], list[tuple[str, str]]]:
    """Regressors whose spatial lag ``W x`` adds a direction not spanned by the regressors."""
    X = d[regs].to_numpy(dtype="float64").reshape(T, n, len(regs))
    Wm = W.matrix.tocsr()
    WX = np.stack([np.column_stack([Wm @ X[t, :, j] for j in range(len(regs))]) for t in range(T)])
    base = [_twoway_within(X).reshape(T * n, len(regs))[:, j] for j in range(len(regs))]
    return _screen(WX, regs, base)


def _screen(
    X: np.ndarray, regs: list[str], base: list[np.ndarray]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Greedy screen of the columns of ``X`` (T, n, k): absorbed by the two-way FE or collinear."""
    T, n, _ = X.shape
    Xw = _twoway_within(X).reshape(T * n, len(regs))
    raw = X.reshape(T * n, len(regs))
    kept: list[str] = []
    cols: list[np.ndarray] = list(base)
    dropped: list[tuple[str, str]] = []
    for j, name in enumerate(regs):
        scale = max(float(np.sqrt(np.mean(raw[:, j] ** 2))), 1e-300)
        v = Xw[:, j]
        if float(np.sqrt(np.mean(v**2))) <= 1e-10 * scale:
            why = "constant" if np.ptp(raw[:, j]) == 0 else "absorbed by province and year effects"
            dropped.append((name, why))
            continue
        if cols:
            M = np.column_stack(cols)
            coef, *_ = np.linalg.lstsq(M, v, rcond=None)
            resid = v - M @ coef
            if float(np.sqrt(np.mean(resid**2))) <= 1e-8 * float(np.sqrt(np.mean(v**2))):
                dropped.append((name, "collinear with earlier regressors given the fixed effects"))
                continue
        kept.append(name)
        cols.append(v)
    return kept, dropped


# --------------------------------------------------------------------------- fitting
@dataclass(frozen=True)
class Fit:
    """One model: the result, or the reason it was not estimated."""

    model: str
    lee_yu: bool
    result: SpatialResult | None
    reason: str | None = None
    #: half-panel jackknife (Dhaene–Jochmans): ``result`` holds the corrected estimates with the
    #: full fit's covariance, log-likelihood and σ²
    jackknife: bool = False
    #: dynamic spatial panel of the log level (Yu, de Jong and Lee 2008), bias-corrected QML
    dynamic: bool = False

    @property
    def label(self) -> str:
        if self.dynamic:
            return column_label(self.model, False) + ", dynamic"
        return column_label(self.model, self.lee_yu) + (", jackknife" if self.jackknife else "")

    @property
    def ok(self) -> bool:
        return self.result is not None


#: Standard-error types of the spatial tables (``spatial.se_type``), as the tables name them.
SE_TYPES: dict[str, str] = {
    "ml": "ML (inverse information; iid normal errors)",
    "qml": "QML sandwich (Lee 2004)",
    "cluster": "cluster-robust sandwich by province",
}


def se_kwargs(se_type: str) -> dict[str, Any]:
    """``fit_panel`` keywords of an SE type (clusters = units for ``"cluster"``)."""
    return {"se_type": se_type, "cluster": UNIT if se_type == "cluster" else None}


def fit_model(sample: GrowthSample, model: str, *, lee_yu: bool = False, se_type: str = "ml") -> Fit:
    """Fit one two-way FE spatial model; failures become ``Fit(result=None, reason=...)``."""
    try:
        res = fit_panel(
            sample.data,
            sample.W,
            y=DEPVAR,
            x=list(sample.regressors),
            unit=UNIT,
            time=TIME,
            model=model,  # type: ignore[arg-type]
            effects="twoways",
            lee_yu=lee_yu,
            durbin=list(sample.durbin) if model in ("sdm", "sdem", "slx") else None,
            **se_kwargs(se_type),
        )
    except SOFT_ERRORS as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        log.warning("%s not estimated: %s", column_label(model, lee_yu), reason)
        return Fit(model, lee_yu, None, _one_line(reason))
    bad = [t for t in res.params.index if not (math.isfinite(res.params[t]) and math.isfinite(res.bse[t]))]
    if bad or not math.isfinite(res.loglik):
        reason = f"non-finite estimates or standard errors for {bad or ['log-likelihood']}"
        log.warning("%s not estimated: %s", column_label(model, lee_yu), reason)
        return Fit(model, lee_yu, None, reason)
    return Fit(model, lee_yu, res)


def fit_jackknife(sample: GrowthSample, model: str = "sdm", *, se_type: str = "ml") -> Fit:
    """Half-panel jackknife (Dhaene and Jochmans 2015) of a two-way FE spatial model (direct
    demeaning): every parameter corrected, standard errors of the full fit (the same first-order
    asymptotic variance). Failures (e.g. a regressor without variation in a half panel) become
    ``Fit(result=None, reason=...)``."""
    import dataclasses

    from zonespill.convergence.jackknife import half_panel_weights, split_panel_jackknife

    regs, lags = list(sample.regressors), list(sample.durbin)
    left_out: list[str] = []
    try:
        subs = [p for p, _ in half_panel_weights(sample.years)[1:]]
    except SOFT_ERRORS as exc:
        return Fit(model, False, None, _one_line(str(exc)), jackknife=True)
    for per in subs:
        # every sub-panel must identify the same parameters: a regressor (or its W-lag) without
        # within variation in some half panel is left out of the jackknife column (and listed)
        part = sample.data[sample.data[TIME].isin(per)]
        ok, _ = _usable_regressors(part, regs, len(per), sample.n)
        left_out += [r for r in regs if r not in ok]
        regs = [r for r in regs if r in ok]
        ok_lag, _ = _usable_lags(part, regs, sample.W, len(per), sample.n)
        left_out += [f"W_{r}" for r in lags if r not in ok_lag and r in regs]
        lags = [r for r in lags if r in ok_lag]
    if LAG not in regs:
        why = "the lagged level has no within variation in a half panel"
        return Fit(model, False, None, why, jackknife=True)
    durbin = lags if model in ("sdm", "sdem", "slx") else None

    def est(frame: pd.DataFrame) -> SpatialResult:
        return fit_panel(
            frame,
            sample.W,
            y=DEPVAR,
            x=regs,
            unit=UNIT,
            time=TIME,
            model=model,  # type: ignore[arg-type]
            effects="twoways",
            durbin=durbin,
            **se_kwargs(se_type),
        )

    try:
        full = est(sample.data)
        jk = split_panel_jackknife(sample.data, est, time=TIME, se="full")
    except SOFT_ERRORS as exc:
        reason = _one_line(getattr(exc, "reason", None) or str(exc))
        log.warning("%s, jackknife not estimated: %s", column_label(model, False), reason)
        return Fit(model, False, None, reason, jackknife=True)
    params = jk.params.reindex(full.params.index).astype(float)
    if not np.isfinite(params.to_numpy()).all():
        return Fit(model, False, None, "non-finite jackknife estimates", jackknife=True)
    res = dataclasses.replace(full, params=params, bse=full.bse)
    note: str | None = None
    if left_out:
        shown = ", ".join(term_labels().get(t, t) for t in dict.fromkeys(left_out))
        note = f"left out of the jackknife column (no within variation in a half panel): {shown}"
    return Fit(model, False, res, note, jackknife=True)


LEVEL_COL = "_log_level"


def fit_dynamic(sample: GrowthSample, *, se_type: str = "qml") -> Fit:
    r"""The growth SDM as a dynamic spatial panel of the log level, bias-corrected.

    With :math:`g_t = \ln y_t - \ln y_{t-1}`, the growth SDM
    :math:`g_t = \rho W g_t + b \ln y_{t-1} + \theta W \ln y_{t-1} + X\beta + WX\theta_X + \dots`
    is the dynamic spatial panel :math:`\ln y_t = \rho W \ln y_t + \gamma \ln y_{t-1} +
    \delta W \ln y_{t-1} + \dots` with :math:`\gamma = 1 + b`, :math:`\delta = \theta - \rho`,
    whose QML estimator has the Nickell-type bias that Yu, de Jong and Lee (2008) correct
    (``fit_panel(..., dynamic=True, bias_correction=True)``). The first sample year only
    supplies the lag. Needs at least one regressor besides the lagged level."""
    xs = [r for r in sample.regressors if r != LAG]
    if LAG not in sample.regressors:
        return Fit("sdm", False, None, "no lagged level in the sample", dynamic=True)
    if not xs:
        return Fit("sdm", False, None, "the dynamic model needs a regressor besides the lag", dynamic=True)
    data = sample.data.assign(**{LEVEL_COL: sample.data[LAG] + sample.data[DEPVAR]})
    try:
        res = fit_panel(
            data,
            sample.W,
            y=LEVEL_COL,
            x=xs,
            unit=UNIT,
            time=TIME,
            model="sdm",
            effects="twoways",
            durbin=[r for r in sample.durbin if r in xs],
            dynamic=True,
            bias_correction=True,
            **se_kwargs(se_type),
        )
    except SOFT_ERRORS as exc:
        reason = _one_line(getattr(exc, "reason", None) or str(exc))
        log.warning("dynamic SDM not estimated: %s", reason)
        return Fit("sdm", False, None, reason, dynamic=True)
    if not (np.isfinite(res.params.to_numpy()).all() and np.isfinite(res.bse.to_numpy()).all()):
        return Fit("sdm", False, None, "non-finite estimates or standard errors", dynamic=True)
    return Fit("sdm", False, res, dynamic=True)


def growth_parametrisation(res: SpatialResult) -> pd.DataFrame:
    """Coefficients of a dynamic fit (:func:`fit_dynamic`) in the growth SDM's terms:
    ``b = γ − 1`` (row ``lag_log_gdp_pc``), ``θ = δ + ρ`` (row ``W_lag_log_gdp_pc``, SE from the
    covariance of δ and ρ); every other term as estimated. Columns ``estimate, se, pvalue``."""
    p, V = res.params, res.vcov
    est = p.rename(index={"y_lag": LAG, "W_y_lag": f"W_{LAG}"}).astype(float)
    se = res.bse.rename(index={"y_lag": LAG, "W_y_lag": f"W_{LAG}"}).astype(float)
    est[LAG] = float(p["y_lag"]) - 1.0
    if "W_y_lag" in p.index:
        est[f"W_{LAG}"] = float(p["W_y_lag"]) + float(p["rho"])
        Vm = V.loc[["W_y_lag", "rho"], ["W_y_lag", "rho"]].to_numpy(dtype=float)
        var = float(Vm.sum())  # var(δ) + var(ρ) + 2 cov(δ, ρ)
        se[f"W_{LAG}"] = math.sqrt(max(var, 0.0))
    z = est / se
    return pd.DataFrame({"estimate": est, "se": se, "pvalue": 2 * sps.norm.sf(np.abs(z))})


def speed_of(f: Fit, *, effect: str = "total", n_sim: int = 1000, seed: int = 0) -> tuple[Any, str]:
    """Convergence speed of a fitted growth model from the ``effect`` impact of the lagged level
    (SpeedResult or None, and where it comes from)."""
    from zonespill.convergence.designs import spatial_speed
    from zonespill.convergence.speed import convergence_speed

    if f.result is not None and f.dynamic:
        # short-run impact of y_{t-1} on y_t = 1 + the growth model's impact of the lagged level
        try:
            imp = f.result.impact("y_lag", effect, horizon="short", n_sim=n_sim, seed=seed)
            sp = convergence_speed(imp.estimate - 1.0, imp.se)
        except (ZonespillError, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
            return None, f"{effect} impact (not computed: {_one_line(str(exc))})"
        return sp, f"{effect} short-run impact of the lagged level (− 1)"
    if f.result is None or LAG not in f.result.params.index:
        return None, "n/a (no lagged level)"
    try:
        sp, src = spatial_speed(f.result, None, term=LAG, effect=effect, n_sim=n_sim, seed=seed)
    except (ZonespillError, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        return None, f"{effect} impact (not computed: {_one_line(str(exc))})"
    if f.jackknife:
        src += " at the corrected estimates"
    return sp, src


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def not_estimated_notes(fits: Sequence[Fit]) -> tuple[str, ...]:
    return tuple(
        f"{f.label} not estimated: {f.reason}" if not f.ok else f"{f.label}: {f.reason}."
        for f in fits
        if not f.ok or f.reason
    )


# --------------------------------------------------------------------------- S1
@dataclass(frozen=True)
class RegressionDesign:
    """Long coefficient and statistics frames for :class:`zonespill.tables.RegressionTable`."""

    coefs: pd.DataFrame
    stats: pd.DataFrame
    notes: tuple[str, ...]
    fits: tuple[Fit, ...] = field(default=())


def _stat_rows(label: str, items: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"model": label, "stat": k, "value": v} for k, v in items]


def _se_label(r: SpatialResult) -> str:
    label = SE_TYPES.get(str(getattr(r, "se_type", "ml")), str(getattr(r, "se_type", "ml")))
    if getattr(r, "se_type", "ml") == "cluster" and "n_clusters" in r.info:
        label += f" ({r.info['n_clusters']} clusters)"
    return label


def _fit_stats(f: Fit, sample: GrowthSample) -> list[tuple[str, str]]:
    r = f.result
    assert r is not None
    if f.dynamic:
        return [
            ("N (province-years)", str(r.nobs)),
            ("Provinces × years", f"{r.n_units} × {r.n_periods}"),
            ("Effective N", f"{float(r.info.get('N_eff', r.nobs)):.0f}"),
            ("Fixed effects", "province, year"),
            ("FE removal", "dynamic QML, Lee–Yu transformations (Yu, de Jong and Lee 2008)"),
            ("Log-likelihood", f"{r.loglik:.3f} (log level)"),
            ("σ²", f"{r.sigma2:.3g}"),
            ("SE", _se_label(r) + ", through the bias correction"),
            ("Bias correction", "Yu–de Jong–Lee (2008)"),
            ("GDP vintage", sample.vintage),
        ]
    return [
        ("N (province-years)", str(r.nobs)),
        ("Provinces × years", f"{r.n_units} × {r.n_periods}"),
        ("Effective N", f"{float(r.info.get('N_eff', r.nobs)):.0f}"),
        ("Fixed effects", "province, year"),
        ("FE removal", "Lee–Yu transformation" if r.lee_yu else "direct demeaning"),
        ("Log-likelihood", f"{r.loglik:.3f}" + (" (full fit)" if f.jackknife else "")),
        ("σ²", f"{r.sigma2:.3g}" + (" (full fit)" if f.jackknife else "")),
        ("SE", _se_label(r) + (" of the full fit" if f.jackknife else "")),
        ("Bias correction", "half-panel jackknife" if f.jackknife else "none"),
        ("GDP vintage", sample.vintage),
    ]


def sdm_design(
    sample: GrowthSample,
    *,
    lee_yu: Sequence[bool] = (False, True),
    jackknife: bool = False,
    dynamic: bool = False,
    speed_effect: str = "total",
    n_sim: int = 1000,
    seed: int = 0,
    se_type: str = "ml",
) -> RegressionDesign:
    """S1: SDM without / with the Lee–Yu correction (as listed in ``lee_yu``), with ``jackknife``
    the half-panel jackknife SDM (:func:`fit_jackknife`), and SAR. Each column carries the
    convergence speed from the ``speed_effect`` impact of the lagged level (``n_sim`` draws,
    ``seed``; rows of :func:`zonespill.convergence.designs.speed_stat_rows`)."""
    from zonespill.convergence.designs import speed_stat_rows

    fits = [
        fit_model(sample, "sdm", lee_yu=bool(v), se_type=se_type)
        for v in dict.fromkeys(bool(v) for v in lee_yu)
    ]
    if jackknife:
        fits.append(fit_jackknife(sample, "sdm", se_type=se_type))
    if dynamic:
        fits.append(fit_dynamic(sample, se_type=se_type))
    fits.append(fit_model(sample, "sar", lee_yu=False, se_type=se_type))
    coefs: list[dict[str, Any]] = []
    stats_rows: list[dict[str, str]] = []
    for f in fits:
        if not f.ok:
            continue
        assert f.result is not None
        tab = growth_parametrisation(f.result) if f.dynamic else f.result.to_frame()
        for term, row in tab.iterrows():
            coefs.append(
                {
                    "model": f.label,
                    "term": str(term),
                    "estimate": float(row["estimate"]),
                    "se": float(row["se"]),
                    "pvalue": float(row["pvalue"]),
                }
            )
        sp, src = speed_of(f, effect=speed_effect, n_sim=n_sim, seed=seed)
        stats_rows += _stat_rows(f.label, [*_fit_stats(f, sample), *speed_stat_rows(sp, src)])
    return RegressionDesign(
        pd.DataFrame(coefs, columns=["model", "term", "estimate", "se", "pvalue"]),
        pd.DataFrame(stats_rows, columns=["model", "stat", "value"]),
        not_estimated_notes(fits),
        tuple(fits),
    )


def s1_term_order(coefs: pd.DataFrame, regressors: Sequence[str]) -> list[str]:
    """Regressors, then their W-lags, then ρ and λ (only terms present)."""
    present = set(coefs["term"].astype(str))
    order = [*regressors, *[f"W_{r}" for r in regressors], "rho", "lambda"]
    return [t for t in order if t in present]


# --------------------------------------------------------------------------- S2
def lm_design(sample: GrowthSample) -> tuple[pd.DataFrame | None, str | None]:
    """S2: LM and robust LM tests (lag, error) on the non-spatial two-way FE growth model.

    Returns ``(frame, None)`` with columns ``test, statistic, df, p-value``, or
    ``(None, reason)`` when the tests cannot be computed.
    """
    try:
        frame = lm_tests(
            sample.data,
            sample.W,
            y=DEPVAR,
            x=list(sample.regressors),
            unit=UNIT,
            time=TIME,
            effects="twoways",
        )
    except SOFT_ERRORS as exc:
        return None, _one_line(getattr(exc, "reason", None) or str(exc))
    order = ["LM lag", "robust LM lag", "LM error", "robust LM error"]
    frame = frame.loc[[t for t in order if t in frame.index]]
    if not np.isfinite(frame[["statistic", "pvalue"]].to_numpy(dtype=float)).all():
        return None, "non-finite test statistics (degenerate residuals or weights)"
    out = pd.DataFrame(
        {
            "test": list(frame.index),
            "statistic": frame["statistic"].astype(float).to_numpy(),
            "df": frame["df"].astype("int64").to_numpy(),
            "p-value": frame["pvalue"].astype(float).to_numpy(),
        }
    )
    return out, None


# --------------------------------------------------------------------------- S3
EFFECT_NAMES: tuple[str, ...] = ("direct", "indirect", "total")


def impacts_design(
    fits: Sequence[Fit], *, n_sim: int, seed: int, speed_effect: str = "total"
) -> RegressionDesign:
    """S3: LeSage–Pace direct / indirect / total impacts of the SDM columns.

    Standard errors are standard deviations over ``n_sim`` draws from the asymptotic normal
    distribution of (ρ, β, θ) with the full covariance; every column uses the same ``seed``
    (common random numbers).
    """
    coefs: list[dict[str, Any]] = []
    stats_rows: list[dict[str, str]] = []
    notes: list[str] = []
    for f in fits:
        if f.model != "sdm":
            continue
        if not f.ok:
            notes.append(f"{f.label}: no impacts (model not estimated: {f.reason}).")
            continue
        assert f.result is not None
        if f.dynamic:
            _dynamic_impacts(f, coefs, stats_rows, notes, n_sim=n_sim, seed=seed, speed_effect=speed_effect)
            continue
        try:
            imp = f.result.impacts(n_sim=int(n_sim), seed=int(seed))
        except SOFT_ERRORS as exc:
            notes.append(f"{f.label}: impacts not computed: {_one_line(str(exc))}.")
            continue
        vals = imp[[*EFFECT_NAMES, *[f"se_{e}" for e in EFFECT_NAMES]]].to_numpy(dtype=float)
        if not np.isfinite(vals).all():
            notes.append(f"{f.label}: impacts not computed: non-finite simulated standard errors.")
            continue
        for term in imp.index:
            for e in EFFECT_NAMES:
                coefs.append(
                    {
                        "model": f.label,
                        "term": f"{term}:{e}",
                        "estimate": float(imp.loc[term, e]),
                        "se": float(imp.loc[term, f"se_{e}"]),
                    }
                )
        used = int(imp.attrs.get("n_draws_used", n_sim))
        sp: Any = None
        src = "n/a (no lagged level)"
        if LAG in imp.index:
            from zonespill.convergence.speed import speed_from_impacts

            sp = speed_from_impacts(imp, term=LAG, effect=speed_effect)
            src = f"{speed_effect} impact" + (" at the corrected estimates" if f.jackknife else "")
        from zonespill.convergence.designs import speed_stat_rows

        stats_rows += _stat_rows(
            f.label,
            [
                ("N (province-years)", str(f.result.nobs)),
                ("ρ", f"{float(f.result.params['rho']):.3f}"),
                ("Bias correction", "half-panel jackknife" if f.jackknife else "none"),
                ("Draws (used / drawn)", f"{used} / {int(n_sim)}"),
                ("Seed", str(int(seed))),
                *speed_stat_rows(sp, src),
            ],
        )
    return RegressionDesign(
        pd.DataFrame(coefs, columns=["model", "term", "estimate", "se"]),
        pd.DataFrame(stats_rows, columns=["model", "stat", "value"]),
        tuple(notes),
        tuple(fits),
    )


def _dynamic_impacts(
    f: Fit,
    coefs: list[dict[str, Any]],
    stats_rows: list[dict[str, str]],
    notes: list[str],
    *,
    n_sim: int,
    seed: int,
    speed_effect: str,
) -> None:
    """S3 rows of the dynamic SDM: short-run impacts (the lagged level's in the growth model's
    terms: the impact of y_{t−1} on y_t minus 1 for direct and total) and long-run impacts
    (``((1 − γ)I − (ρ + δ)W)⁻¹(βI + θW)``) of the other regressors."""
    from zonespill.convergence.designs import speed_stat_rows

    r = f.result
    assert r is not None
    xs = [t for t in r.x_names if t != "y_lag"]
    try:
        for term, name in [("y_lag", LAG), *[(t, t) for t in xs]]:
            for e in EFFECT_NAMES:
                imp = r.impact(term, e, horizon="short", n_sim=int(n_sim), seed=int(seed))
                shift = 1.0 if term == "y_lag" and e != "indirect" else 0.0
                coefs.append(
                    {"model": f.label, "term": f"{name}:{e}", "estimate": imp.estimate - shift, "se": imp.se}
                )
        used = []
        for t in xs:
            for e in EFFECT_NAMES:
                imp = r.impact(t, e, horizon="long", n_sim=int(n_sim), seed=int(seed))
                used.append(imp.n_draws_used)
                coefs.append(
                    {"model": f.label, "term": f"{t}:{e}:long", "estimate": imp.estimate, "se": imp.se}
                )
    except (ZonespillError, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        notes.append(f"{f.label}: impacts not computed: {_one_line(str(exc))}.")
        return
    sp, src = speed_of(f, effect=speed_effect, n_sim=n_sim, seed=seed)
    stats_rows += _stat_rows(
        f.label,
        [
            ("N (province-years)", str(r.nobs)),
            ("ρ", f"{float(r.params['rho']):.3f}"),
            ("Bias correction", "Yu–de Jong–Lee (2008)"),
            (
                "Draws (used / drawn)",
                f"{min(used, default=int(n_sim))} / {int(n_sim)} (long run: stationary draws)",
            ),
            ("Seed", str(int(seed))),
            *speed_stat_rows(sp, src),
        ],
    )


def impact_labels(regressors: Sequence[str]) -> dict[str, str]:
    out = {f"{r}:{e}": f"{BASE_LABELS.get(r, r)}: {e}" for r in regressors for e in EFFECT_NAMES}
    out |= {
        f"{r}:{e}:long": f"{BASE_LABELS.get(r, r)}: {e}, long run" for r in regressors for e in EFFECT_NAMES
    }
    return out


def impact_term_order(coefs: pd.DataFrame, regressors: Sequence[str]) -> list[str]:
    present = set(coefs["term"].astype(str))
    short = [f"{r}:{e}" for r in regressors for e in EFFECT_NAMES if f"{r}:{e}" in present]
    return short + [f"{r}:{e}:long" for r in regressors for e in EFFECT_NAMES if f"{r}:{e}:long" in present]


# --------------------------------------------------------------------------- S4
def _ols_loglik(sample: GrowthSample) -> tuple[float, int]:
    """Full Gaussian log-likelihood of the non-spatial two-way FE model (direct demeaning, N = nT)."""
    T, n, k = sample.T, sample.n, len(sample.regressors)
    y = sample.data[DEPVAR].to_numpy(dtype=float).reshape(T, n, 1)
    X = sample.data[list(sample.regressors)].to_numpy(dtype=float).reshape(T, n, k)
    yw = _twoway_within(y).ravel()
    Xw = _twoway_within(X).reshape(T * n, k)
    b, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    e = yw - Xw @ b
    N = T * n
    ll = -N / 2 * (math.log(2 * math.pi) + 1 + math.log(float(e @ e) / N))
    return ll, k + 1


#: nested in the SDM: model -> restriction
NESTED_IN_SDM: dict[str, str] = {
    "sar": "θ = 0",
    "sem": "θ = −ρβ (common factor)",
    "slx": "ρ = 0",
    "ols": "ρ = 0, θ = 0",
}


def comparison_design(
    sample: GrowthSample, *, se_type: str = "ml"
) -> tuple[pd.DataFrame, tuple[str, ...], tuple[Fit, ...]]:
    """S4: log-likelihood, AIC, number of parameters and ρ / λ of SAR, SEM, SDM, SDEM, SLX.

    All models by direct demeaning (N = nT); the non-spatial two-way FE model is the first row.
    LR statistics against the SDM for the models nested in it (χ², df = number of restrictions).
    """
    fits = tuple(fit_model(sample, m, lee_yu=False, se_type=se_type) for m in COMPARISON)
    by = {f.model: f for f in fits}
    rows: list[dict[str, Any]] = []
    ll0, k0 = _ols_loglik(sample)
    sdm = by["sdm"].result
    entries: list[tuple[str, float, int, SpatialResult | None]] = [("ols", ll0, k0, None)]
    for f in fits:
        if f.ok:
            assert f.result is not None
            entries.append((f.model, f.result.loglik, f.result.k_params, f.result))
    for code, ll, k, res in entries:
        N = sample.n * sample.T
        row: dict[str, Any] = {
            "model": MODEL_NAMES[code],
            "log-likelihood": ll,
            "parameters": int(k),
            "AIC": -2 * ll + 2 * k,
            "BIC": -2 * ll + math.log(N) * k,
            "ρ": math.nan,
            "se(ρ)": math.nan,
            "λ": math.nan,
            "se(λ)": math.nan,
            "LR vs SDM": math.nan,
            "df": math.nan,
            "p-value": math.nan,
        }
        if res is not None:
            for term, sym in (("rho", "ρ"), ("lambda", "λ")):
                if term in res.params.index:
                    row[sym] = float(res.params[term])
                    row[f"se({sym})"] = float(res.bse[term])
        if sdm is not None and code in NESTED_IN_SDM:
            df = sdm.k_params - int(k)
            lr = max(2.0 * (sdm.loglik - ll), 0.0)
            row["LR vs SDM"] = lr
            row["df"] = float(df)
            row["p-value"] = float(sps.chi2.sf(lr, df))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if sdm is None:
        frame = frame.drop(columns=["LR vs SDM", "df", "p-value"])
    else:
        frame["df"] = frame["df"].astype("Int64")
    notes = list(not_estimated_notes(fits))
    if sdm is not None:
        notes.append(
            "LR vs SDM = 2·(ℓ_SDM − ℓ), χ² with df = difference in parameters, for the models nested in the "
            "SDM ("
            + "; ".join(f"{MODEL_NAMES[m]}: {r}" for m, r in NESTED_IN_SDM.items())
            + "); blank for the SDM itself and the SDEM (not nested in the SDM)."
        )
    else:
        notes.append("No LR tests: the SDM was not estimated.")
    return frame.set_index("model"), tuple(notes), fits


def describe_options(options: Mapping[str, Any]) -> str:
    """Compact rendering of the options used (for logs)."""
    return ", ".join(f"{k}={options[k]!r}" for k in sorted(options))
