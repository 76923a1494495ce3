r"""Split-panel (half-panel) jackknife of Dhaene and Jochmans (2015).

With unit fixed effects and a lagged dependent variable the within estimator has an
incidental-parameter (Nickell) bias of order :math:`1/T`. Writing
:math:`E\hat\theta_T = \theta + B/T + O(T^{-2})`, the half-panel jackknife

.. math::

    \tilde\theta = 2\hat\theta - \bar\theta_{1/2}, \qquad
    \bar\theta_{1/2} = \tfrac12(\hat\theta_{S_1} + \hat\theta_{S_2}),

with :math:`S_1 = \{1,\dots,T/2\}` and :math:`S_2 = \{T/2+1,\dots,T\}` (every unit in both
halves, every half re-estimating all fixed effects), removes the :math:`B/T` term. For odd
:math:`T`, :math:`\bar\theta_{1/2}` is the mean of the four half-panel estimates on
:math:`\{1..\lceil T/2\rceil\}, \{\lceil T/2\rceil+1..T\}, \{1..\lfloor T/2\rfloor\},
\{\lfloor T/2\rfloor+1..T\}` (Dhaene and Jochmans 2015, section 3), which leaves a bias
of order :math:`T^{-2}`.

``T`` counts the periods of the *regression* (for a growth regression: the periods whose
growth is explained; each half conditions on its own initial lagged level).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonespill.errors import EstimationError, InputError
from zonespill.twoway import TwoWayFE

SOURCE = "split_panel_jackknife"

JackknifeSE = Literal["full", "unit_jackknife"]


def half_panel_splits(periods: Sequence[Any]) -> list[tuple[list[Any], list[Any]]]:
    """The pairs of half panels (lists of periods) for ``periods`` (sorted, distinct).

    One pair for even ``T``; two pairs (the middle period in the first, then in the second
    half) for odd ``T``. Each half must hold at least two periods (so ``T >= 4``).
    """
    per = list(periods)
    T = len(per)
    if T < 4:
        raise EstimationError(f"the half-panel jackknife needs at least 4 periods (2 per half), got {T}")
    if T % 2 == 0:
        return [(per[: T // 2], per[T // 2 :])]
    lo, hi = T // 2, T // 2 + 1
    return [(per[:hi], per[hi:]), (per[:lo], per[lo:])]


def half_panel_weights(periods: Sequence[Any]) -> list[tuple[list[Any], float]]:
    """``(periods, weight)`` of every sub-panel in :math:`\\tilde\\theta = \\sum w_s \\hat\\theta_s`.

    The full panel has weight 2; the half panels share weight −1 equally (−1/2 each for even
    ``T``, −1/4 each for odd ``T``).
    """
    per = list(periods)
    pairs = half_panel_splits(per)
    w = -1.0 / (2 * len(pairs))
    out: list[tuple[list[Any], float]] = [(per, 2.0)]
    for a, b in pairs:
        out += [(a, w), (b, w)]
    return out


@dataclass(frozen=True)
class JackknifeResult:
    r"""Result of :func:`split_panel_jackknife`.

    Attributes
    ----------
    params
        Bias-corrected estimates :math:`2\hat\theta - \bar\theta_{1/2}`.
    bse
        Their standard errors (see ``se_method``).
    params_full, bse_full
        Uncorrected full-panel estimates and standard errors (``bse_full`` NaN when the
        estimator reports none).
    halves
        One row per half panel (``first``, ``last`` period, ``weight``) and one column per
        parameter: the half-panel estimates.
    se_method
        ``"full"`` (SE of the uncorrected estimator, which has the same first-order
        asymptotic variance, Dhaene and Jochmans 2015), ``"unit_jackknife"``
        (delete-one-unit jackknife of the corrected estimator, robust to any within-unit
        dependence), or the label given by :func:`zonespill.convergence.panel_beta` for its
        analytic cluster-robust version.
    n_periods
        :math:`T` of the full panel.
    """

    params: pd.Series
    bse: pd.Series
    params_full: pd.Series
    bse_full: pd.Series
    halves: pd.DataFrame
    se_method: str
    n_periods: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bias(self) -> pd.Series:
        r"""Estimated first-order bias of the uncorrected estimator :math:`\hat\theta - \tilde\theta`."""
        return self.params_full - self.params

    def to_frame(self) -> pd.DataFrame:
        """``term, estimate, se, estimate_uncorrected, se_uncorrected, bias`` per parameter."""
        return pd.DataFrame(
            {
                "term": list(self.params.index),
                "estimate": self.params.to_numpy(dtype=float),
                "se": self.bse.reindex(self.params.index).to_numpy(dtype=float),
                "estimate_uncorrected": self.params_full.reindex(self.params.index).to_numpy(dtype=float),
                "se_uncorrected": self.bse_full.reindex(self.params.index).to_numpy(dtype=float),
                "bias": self.bias.reindex(self.params.index).to_numpy(dtype=float),
            }
        )


def _params_of(res: Any, what: str) -> pd.Series:
    obj = res if isinstance(res, pd.Series) else getattr(res, what, None)
    if not isinstance(obj, pd.Series):
        raise EstimationError(f"the estimator must return a pandas Series or an object with a Series .{what}")
    return obj.astype(float)


def _combine(fits: list[tuple[pd.Series, float]]) -> pd.Series:
    index = fits[0][0].index
    out = pd.Series(0.0, index=index)
    for p, w in fits:
        if not p.index.equals(index):
            raise EstimationError(
                "half-panel fits return different parameters "
                f"({list(index)} vs {list(p.index)}); a regressor may lack variation in one half"
            )
        out = out + w * p
    return out


def _corrected(
    data: pd.DataFrame, estimator: Callable[[pd.DataFrame], Any], time: str, periods: list[Any]
) -> tuple[pd.Series, Any, list[pd.Series], list[tuple[list[Any], float]]]:
    plan = half_panel_weights(periods)
    tcol = data[time]
    full_res = estimator(data)
    fits = [(_params_of(full_res, "params"), 2.0)]
    halves = []
    for per, w in plan[1:]:
        sub = data.loc[tcol.isin(per).to_numpy()].reset_index(drop=True)
        p = _params_of(estimator(sub), "params")
        fits.append((p, w))
        halves.append(p)
    return _combine(fits), full_res, halves, plan


def split_panel_jackknife(
    data: pd.DataFrame,
    estimator: Callable[[pd.DataFrame], Any],
    *,
    time: str,
    unit: str | None = None,
    se: JackknifeSE = "full",
) -> JackknifeResult:
    r"""Half-panel jackknife bias correction of any fixed-effects panel estimator.

    Parameters
    ----------
    data
        Long panel holding the regression observations (lags already formed), one row per
        (unit, period); the halves are taken on the distinct values of ``time``.
    estimator
        Callable ``estimator(frame)`` returning a pandas Series of parameters or a result
        with ``.params`` (and ``.bse`` for ``se="full"``), e.g.
        ``lambda d: zonespill.spatial.fit_panel(d, W, y=..., x=..., unit=..., time=...,
        model="sar")``. It is called on the full panel and on each half panel (rows in the
        original order), so it must re-estimate every fixed effect on what it is given.
    time
        Period column.
    unit
        Unit column (needed for ``se="unit_jackknife"``).
    se
        ``"full"`` (default): the uncorrected estimator's standard errors, first-order
        valid for the corrected estimator; ``"unit_jackknife"``: the delete-one-unit
        jackknife :math:`\frac{G-1}{G}\sum_g(\tilde\theta_{(g)} - \bar{\tilde\theta})^2`
        (cluster-robust; needs an estimator that works on any subset of units, so not a
        spatial model, whose weights matrix is fixed).

    Returns
    -------
    JackknifeResult
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame", source=SOURCE, rows="all")
    if time not in data.columns:
        raise InputError("column not found in data", source=SOURCE, rows="all", column=time)
    if se not in ("full", "unit_jackknife"):
        raise InputError(f"se must be 'full' or 'unit_jackknife', got {se!r}", source=SOURCE, column="se")
    if data[time].isna().any():
        raise InputError(
            "missing periods",
            source=SOURCE,
            rows=(np.flatnonzero(data[time].isna().to_numpy()) + 1).tolist(),
            column=time,
        )
    periods = sorted(pd.unique(data[time]))
    params, full_res, halves, plan = _corrected(data, estimator, time, periods)
    p_full = _params_of(full_res, "params")
    bse_obj = None if isinstance(full_res, pd.Series) else getattr(full_res, "bse", None)
    bse_full = (
        bse_obj.astype(float).reindex(p_full.index)
        if isinstance(bse_obj, pd.Series)
        else pd.Series(np.nan, index=p_full.index)
    )
    if se == "full":
        if isinstance(bse_obj, pd.Series):
            bse = bse_full.copy()
        else:
            raise EstimationError("se='full' needs an estimator result with a .bse Series")
        method = "full"
    else:
        if unit is None or unit not in data.columns:
            raise InputError(
                "se='unit_jackknife' needs the unit column", source=SOURCE, rows="all", column=str(unit)
            )
        units = list(pd.unique(data[unit]))
        G = len(units)
        if G < 3:
            raise EstimationError(f"the delete-one-unit jackknife needs >= 3 units, got {G}")
        ucol = data[unit].to_numpy()
        reps = []
        for u in units:
            sub = data.loc[ucol != u].reset_index(drop=True)
            reps.append(_corrected(sub, estimator, time, periods)[0].reindex(params.index).to_numpy())
        R = np.asarray(reps, dtype=float)
        bse = pd.Series(np.sqrt((G - 1) / G * ((R - R.mean(axis=0)) ** 2).sum(axis=0)), index=params.index)
        method = "unit_jackknife"
    half_rows = pd.DataFrame([p.to_numpy() for p in halves], columns=params.index, dtype=float)
    half_rows.insert(0, "weight", [w for _, w in plan[1:]])
    half_rows.insert(0, "last", [per[-1] for per, _ in plan[1:]])
    half_rows.insert(0, "first", [per[0] for per, _ in plan[1:]])
    return JackknifeResult(
        params=params,
        bse=bse,
        params_full=p_full,
        bse_full=bse_full,
        halves=half_rows,
        se_method=method,
        n_periods=len(periods),
    )


# ----------------------------------------------------------------------------- linear FE case
def demean(
    M: np.ndarray, codes: Sequence[np.ndarray], *, tol: float = 1e-12, maxit: int = 10_000
) -> np.ndarray:
    """Residuals of the columns of ``M`` on the dummies of one or more factors (alternating
    projections; exact in one sweep for a single factor or a balanced two-way panel)."""
    out = np.array(M, dtype=float, copy=True)
    if not codes:
        return out
    if len(codes) == 2:  # unit + time: the project's exact two-way solver (any panel layout)
        return TwoWayFE(codes[0], codes[1]).residuals(out)
    counts = [np.bincount(c).astype(float) for c in codes]
    scale = max(1.0, float(np.abs(out).max()) if out.size else 1.0)
    for _ in range(maxit):
        change = 0.0
        for c, cnt in zip(codes, counts, strict=True):
            for j in range(out.shape[1]):
                means = np.bincount(c, weights=out[:, j], minlength=cnt.size) / np.where(cnt > 0, cnt, 1.0)
                step = means[c]
                out[:, j] -= step
                change = max(change, float(np.abs(step).max()) if step.size else 0.0)
        if len(codes) == 1 or change <= tol * scale:
            return out
    raise EstimationError("fixed-effect demeaning did not converge")


@dataclass(frozen=True)
class _LinearPieces:
    coef: np.ndarray
    influence: np.ndarray  # G x k: (X'X)^{-1} sum_{obs in g} x e, zero rows for absent clusters
    nobs: int


def linear_fe_pieces(
    y: np.ndarray,
    X: np.ndarray,
    fe_codes: Sequence[np.ndarray],
    cluster_codes: np.ndarray,
    n_clusters: int,
) -> _LinearPieces:
    """Within-estimator coefficients and per-cluster influence contributions."""
    yt = demean(y[:, None], fe_codes)[:, 0]
    Xt = demean(X, fe_codes)
    A = Xt.T @ Xt
    try:
        Ainv = np.linalg.inv(A)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(f"regressors are collinear with the fixed effects: {exc}") from exc
    coef = Ainv @ (Xt.T @ yt)
    e = yt - Xt @ coef
    scores = np.zeros((n_clusters, X.shape[1]))
    np.add.at(scores, cluster_codes, Xt * e[:, None])
    return _LinearPieces(coef, scores @ Ainv, int(y.size))
