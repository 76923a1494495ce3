"""One result protocol: ``tidy()`` (term, estimate, std_error, p_value, conf_low, conf_high) and
``glance()`` (observations, units, clusters, se_type, …) for every estimator's result.

The estimator modules keep their own result classes; :func:`adapt` wraps any of them (DiD
``Estimate`` / ``DiDResult`` / CS results, spatial ``SpatialResult``, convergence ``BetaResult``,
linearmodels panel results, or anything that already has ``tidy()``) in a :class:`Result`, which
:meth:`zonespill.tables.RegressionTable.from_results` turns into a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy import stats

#: Columns of every ``tidy()`` frame, in order.
TIDY_COLUMNS: tuple[str, ...] = ("term", "estimate", "std_error", "p_value", "conf_low", "conf_high")


@runtime_checkable
class Tidy(Protocol):
    """What a table builder needs from a result."""

    def tidy(self) -> pd.DataFrame: ...

    def glance(self) -> dict[str, Any]: ...


def _normal(estimate: np.ndarray, se: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(estimate / se))
    return p, estimate - z * se, estimate + z * se


def tidy_frame(
    terms: list[str],
    estimate: Any,
    se: Any,
    *,
    p_value: Any = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """A tidy frame from aligned terms / estimates / SEs (normal p-values and CIs when not given)."""
    est = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    p, lo, hi = _normal(est, s, alpha)
    if p_value is not None:
        p = np.asarray(p_value, dtype=float)
    return pd.DataFrame(
        {"term": terms, "estimate": est, "std_error": s, "p_value": p, "conf_low": lo, "conf_high": hi},
        columns=list(TIDY_COLUMNS),
    )


@dataclass(frozen=True)
class Result:
    """An estimator's result in the common protocol (``model`` = column label)."""

    model: str
    coefficients: pd.DataFrame
    statistics: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None  # why it could not be estimated (then ``coefficients`` is empty)

    @property
    def ok(self) -> bool:
        return self.reason is None

    def tidy(self) -> pd.DataFrame:
        return self.coefficients.copy()

    def glance(self) -> dict[str, Any]:
        return dict(self.statistics)


def adapt(
    result: Any, *, model: str, term: str | None = None, alpha: float = 0.05, **statistics: Any
) -> Result:
    """Wrap an estimator result in the protocol; ``statistics`` are added to ``glance()``."""
    if isinstance(result, Result):
        return Result(model, result.coefficients, {**result.statistics, **statistics}, result.reason)
    if hasattr(result, "tidy") and hasattr(result, "glance"):
        return Result(model, result.tidy(), {**result.glance(), **statistics})
    kind = type(result).__name__
    if kind == "Estimate":  # zonespill.did.designs.Estimate: one overall ATT
        glance = {"observations": result.n_obs, "units": result.n_units, "estimator": result.estimator}
        if not result.ok:
            return Result(model, tidy_frame([], [], []), {**glance, **statistics}, result.reason)
        frame = tidy_frame([term or result.design], [result.att], [result.se], alpha=alpha)
        return Result(model, frame, {**glance, **statistics})
    if kind == "DiDResult":
        frame = tidy_frame([term or "ATT"], [result.att], [result.se], alpha=result.alpha)
        glance = {
            "observations": result.n_obs,
            "units": result.n_units,
            "se_type": result.vcov_type,
            "estimator": result.estimator,
        }
        return Result(model, frame, {**glance, **statistics})
    if hasattr(result, "std_errors") and hasattr(result, "entity_info"):  # linearmodels panel results
        names = [str(t) for t in result.params.index]
        frame = tidy_frame(
            names,
            result.params.to_numpy(),
            result.std_errors.to_numpy(),
            p_value=result.pvalues.to_numpy(),
            alpha=alpha,
        )
        glance = {
            "observations": int(result.nobs),
            "units": int(result.entity_info["total"]),
            "se_type": str(getattr(result, "cov_estimator", "")),
            "r2_within": float(result.rsquared),
        }
        return Result(model, frame, {**glance, **statistics})
    if hasattr(result, "params") and hasattr(result, "bse"):  # spatial / convergence results
        names = [str(t) for t in result.params.index]
        pv = getattr(result, "pvalues", None)
        frame = tidy_frame(
            names,
            result.params.to_numpy(),
            result.bse.to_numpy(),
            p_value=None if pv is None else pd.Series(pv).reindex(result.params.index).to_numpy(),
            alpha=alpha,
        )
        glance = {
            k: getattr(result, k)
            for k in ("nobs", "n_units", "n_periods", "loglik", "model", "effects")
            if hasattr(result, k)
        }
        if "nobs" in glance:
            glance["observations"] = int(glance.pop("nobs"))
        if "n_units" in glance:
            glance["units"] = int(glance.pop("n_units"))
        return Result(model, frame, {**glance, **statistics})
    raise TypeError(f"no tidy()/glance() adapter for {kind}")


def failed(model: str, reason: str, **statistics: Any) -> Result:
    """A column that could not be estimated (shown blank, its reason in the notes)."""
    return Result(model, tidy_frame([], [], []), dict(statistics), reason)


def finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
