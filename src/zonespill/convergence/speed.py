r"""Convergence speeds and half-lives with uncertainty, and reference-group checks.

Convention (the project's, as in :attr:`BetaResult.speed`): a convergence coefficient
:math:`b` of growth averaged over a horizon of :math:`T` years
(:math:`T = 1` for the annual panel regression, :math:`T = \text{end} - \text{start}` for the
cross-section) implies the gap to the steady state shrinks by the factor :math:`1 + Tb` over
:math:`T` years, i.e. the continuous-time speed

.. math::

    \lambda = -\ln(1 + T b)/T \quad\text{per year}, \qquad h = \ln 2/\lambda \text{ years}.

In spatial lag models (SAR, SDM) the convergence effect is an *impact* of the lagged level
(total by default, direct on request), not the coefficient; pass the impact and its SE (or
its simulation draws) as :math:`b`.

Uncertainty. Delta method: :math:`\mathrm{se}(\hat\lambda) = \mathrm{se}(\hat b)/|1 + T\hat b|`,
interval :math:`\hat\lambda \pm z\,\mathrm{se}(\hat\lambda)`. With simulation draws of
:math:`b`: percentile interval of the transformed draws. The half-life interval is the
speed interval inverted, :math:`[\ln 2/\lambda_{hi},\ \ln 2/\lambda_{lo}]`; when the speed
interval reaches zero or negative values (no convergence cannot be ruled out) its upper end
is infinite and the result is flagged ``unbounded``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.errors import ConfigError, EstimationError, InputError

SOURCE = "convergence_speed"
MIN_REFERENCE_UNITS = 3
"""Default minimum size of an interaction design's reference group (units)."""


@dataclass(frozen=True)
class SpeedResult:
    """Speed and half-life of convergence with standard errors and intervals.

    ``speed``/``half_life`` are NaN when :math:`1 + Tb \\le 0` (the implied gap reverses
    sign; no log speed exists); ``half_life`` is ``inf`` when the point speed is
    :math:`\\le 0` (no convergence). ``half_life_hi`` is ``inf`` and ``unbounded`` is True
    when the speed interval includes zero or negative values.
    """

    b: float
    se_b: float
    horizon: float
    level: float
    method: str
    speed: float
    se_speed: float
    speed_lo: float
    speed_hi: float
    half_life: float
    se_half_life: float
    half_life_lo: float
    half_life_hi: float
    unbounded: bool
    note: str

    def to_frame(self) -> pd.DataFrame:
        """One-row frame with every attribute as a column."""
        return pd.DataFrame([asdict(self)])

    def describe(self) -> str:
        """Text for a table note, e.g. ``speed 0.021 [-0.014, 0.057]; half-life 33.0 [12.2, inf)``."""
        if not math.isfinite(self.speed):
            return f"speed n/a ({self.note})"
        pct = f"{round(100 * self.level)} %"
        hl = "inf" if math.isinf(self.half_life) else f"{self.half_life:.1f}"
        hi = "inf)" if math.isinf(self.half_life_hi) else f"{self.half_life_hi:.1f}]"
        text = (
            f"speed {self.speed:.4f} [{self.speed_lo:.4f}, {self.speed_hi:.4f}]; "
            f"half-life {hl} [{self.half_life_lo:.1f}, {hi} years ({pct}, {self.method})"
        )
        return text + ("; half-life interval unbounded" if self.unbounded else "")


def _speed_of(b: np.ndarray, horizon: float) -> np.ndarray:
    """λ(b); +inf where 1 + Tb <= 0 (the limit from above), used only for draws."""
    arg = 1.0 + horizon * b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log(np.where(arg > 0, arg, 1.0)) / horizon
    return np.where(arg > 0, out, np.inf)


def _half_life_interval(lo: float, hi: float) -> tuple[float, float, bool]:
    h_lo = math.log(2.0) / hi if hi > 0 else math.inf
    h_hi = math.log(2.0) / lo if lo > 0 else math.inf
    return h_lo, h_hi, not lo > 0


def convergence_speed(
    b: float | None = None,
    se: float | None = None,
    *,
    draws: Sequence[float] | np.ndarray | None = None,
    horizon: float = 1.0,
    level: float = 0.95,
) -> SpeedResult:
    r"""Speed :math:`\lambda = -\ln(1+Tb)/T`, half-life :math:`\ln 2/\lambda`, SEs and intervals.

    Parameters
    ----------
    b, se
        Convergence coefficient or impact and its standard error (delta method).
    draws
        Alternatively (or with ``b`` as the point estimate), simulation draws of :math:`b`
        (e.g. the impact simulation of a spatial model): percentile intervals, SE = SD of
        the transformed draws. Draws with :math:`1 + Tb \le 0` count as infinitely fast.
    horizon
        :math:`T` in years over which growth is averaged (1 for annual panel growth).
    level
        Confidence level of the intervals.

    Returns
    -------
    SpeedResult
    """
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise InputError(f"level must be in (0, 1), got {level!r}", source=SOURCE, column="level")
    if not (math.isfinite(horizon) and horizon > 0):
        raise InputError(f"horizon must be positive, got {horizon!r}", source=SOURCE, column="horizon")
    arr = None if draws is None else np.asarray(draws, dtype=float).ravel()
    if arr is not None:
        if arr.size < 2 or not np.isfinite(arr).all():
            raise InputError("draws must hold at least two finite values", source=SOURCE, column="draws")
        point = float(b) if b is not None else float(arr.mean())
        se_b = float(arr.std(ddof=1)) if se is None else float(se)
        method = f"simulation ({arr.size} draws)"
    else:
        if b is None or se is None:
            raise InputError("give b and se, or draws", source=SOURCE, column="se" if b is not None else "b")
        point, se_b = float(b), float(se)
        if not (math.isfinite(point) and math.isfinite(se_b) and se_b >= 0):
            raise InputError(
                f"b and se must be finite with se >= 0, got {point}, {se_b}", source=SOURCE, column="se"
            )
        method = "delta method"
    arg = 1.0 + horizon * point
    nan = float("nan")
    if not arg > 0:
        note = f"1 + T*b = {arg:.4g} <= 0: the gap changes sign within the horizon, no log speed"
        return SpeedResult(
            point, se_b, horizon, level, method, nan, nan, nan, nan, nan, nan, nan, nan, False, note
        )
    speed = -math.log(arg) / horizon
    alpha = 1.0 - level
    if arr is None:
        se_speed = se_b / arg
        z = float(stats.norm.ppf(1.0 - alpha / 2))
        lo, hi = speed - z * se_speed, speed + z * se_speed
    else:
        lam = _speed_of(arr, horizon)
        lo, hi = (float(v) for v in np.quantile(lam, [alpha / 2, 1.0 - alpha / 2]))
        fin = lam[np.isfinite(lam)]
        se_speed = float(fin.std(ddof=1)) if fin.size > 1 else nan
    if speed > 0:
        half_life = math.log(2.0) / speed
        se_hl = math.log(2.0) * se_speed / speed**2
    else:
        half_life, se_hl = math.inf, nan
    h_lo, h_hi, unbounded = _half_life_interval(lo, hi)
    notes = []
    if speed <= 0:
        notes.append("point speed <= 0: no convergence at the estimate")
    if unbounded:
        notes.append(
            f"the {round(100 * level)} % interval of the speed includes values <= 0, "
            "so the half-life interval is unbounded above"
        )
    return SpeedResult(
        point,
        se_b,
        horizon,
        level,
        method,
        speed,
        se_speed,
        lo,
        hi,
        half_life,
        se_hl,
        h_lo,
        h_hi,
        unbounded,
        "; ".join(notes),
    )


def speed_from_impacts(
    impacts: pd.DataFrame,
    *,
    term: str = "log_lag",
    effect: str = "total",
    horizon: float = 1.0,
    level: float = 0.95,
    draws: Sequence[float] | np.ndarray | None = None,
) -> SpeedResult:
    """Speed and half-life from a spatial model's impact of the lagged (initial) level.

    ``impacts`` is the frame of :meth:`zonespill.spatial.SpatialResult.impacts` (index =
    term; columns ``direct``, ``indirect``, ``total`` and ``se_<effect>``). ``effect`` is
    ``"total"`` (default: the economy-wide convergence effect) or ``"direct"``. With
    ``draws`` (simulated impacts) percentile intervals are used instead of the delta method.
    """
    if effect not in ("total", "direct"):
        raise InputError(
            f"effect must be 'total' or 'direct', got {effect!r}", source=SOURCE, column="effect"
        )
    for col in (effect, f"se_{effect}"):
        if col not in impacts.columns:
            raise InputError("column not found in impacts", source=SOURCE, rows="all", column=col)
    if term not in impacts.index:
        raise InputError(
            f"term {term!r} not among the impacts {list(impacts.index)}", source=SOURCE, column=term
        )
    row = impacts.loc[[term]]
    b = float(row[effect].to_numpy(dtype=float)[0])
    se = float(row[f"se_{effect}"].to_numpy(dtype=float)[0])
    return convergence_speed(b, se, draws=draws, horizon=horizon, level=level)


def check_reference_group(
    data: pd.DataFrame,
    groups: Sequence[str],
    *,
    unit: str,
    minimum: int = MIN_REFERENCE_UNITS,
    config_key: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Refuse an interaction design whose reference group is too small.

    The reference group of a design interacting the convergence slope with the indicators
    ``groups`` is the set of units in none of them (a unit belongs to a group if its
    indicator is 1 in any row, so unit-level or unit-period data both work). Its slope is
    the baseline :math:`b`; with one or two units it is not a meaningful reference.

    Returns the reference units (sorted) when there are at least ``minimum``; otherwise
    raises :class:`~zonespill.errors.ConfigError` (naming ``config_key``) or
    :class:`~zonespill.errors.EstimationError`, stating the group's size and members.
    """
    source = "check_reference_group"
    for col in [unit, *groups]:
        if col not in data.columns:
            raise InputError("column not found in data", source=source, rows="all", column=col)
    if not groups:
        raise InputError("groups must name at least one indicator column", source=source, column="groups")
    if not (isinstance(minimum, int) and minimum >= 1):
        raise InputError(
            f"minimum must be a positive integer, got {minimum!r}", source=source, column="minimum"
        )
    flags = {}
    for g in groups:
        v = pd.to_numeric(data[g], errors="coerce")
        bad = ~(v.isin([0, 1]))
        if bad.any():
            raise InputError(
                "indicators must be 0/1 (no missing values)",
                source=source,
                rows=(np.flatnonzero(bad.to_numpy()) + 1).tolist(),
                column=g,
            )
        flags[g] = v.to_numpy()
    member = pd.DataFrame(flags).groupby(data[unit].astype(str).to_numpy()).max()
    ref = sorted(member.index[(member == 0).all(axis=1)].astype(str))
    if len(ref) >= minimum:
        return ref
    label = ", ".join(f"{names.get(u, u)} ({u})" if names else u for u in ref) or "none"
    msg = (
        f"the reference group (units in none of {', '.join(groups)}) has {len(ref)} unit(s): {label}; "
        f"fewer than the minimum {minimum}, so its slope is no meaningful baseline — drop an "
        "interaction or choose an explicit reference group"
    )
    if config_key is not None:
        raise ConfigError(msg, source="config", column=config_key)
    raise EstimationError(f"{source}: {msg}")
