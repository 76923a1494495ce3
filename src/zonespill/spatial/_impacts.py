"""Impacts of one regressor with standard errors, intervals and simulation draws.

Every impact matrix of the spatial models is a rational function of W, ``S = f(W)`` with

* static lag models (SAR, SDM, SAC) and the short run of the dynamic model:
  ``f(w) = (beta + theta w) / (1 - rho w)``;
* dynamic model, long run (y constant over time):
  ``f(w) = (beta + theta w) / ((1 - gamma) - (rho + delta) w)``;
* models without Wy (SEM, SLX, SDEM): ``f(w) = beta + theta w``.

Direct = ``tr f(W) / n`` = mean of ``f`` over W's eigenvalues; total = ``iota' f(W) iota / n`` = ``f(1)``
for row-standardised W without islands, else ``sum_i c_i f(w_i)`` with ``c_i`` the products of the
left and right eigenvector sums; indirect = total - direct. Uncertainty: draws from the asymptotic
normal distribution of the parameters (LeSage and Pace 2009; seeded) or the delta method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from zonespill.errors import EstimationError, InputError
from zonespill.spatial._spectrum import EIGEN_MAX_N

if TYPE_CHECKING:
    from zonespill.spatial._result import SpatialResult

KINDS = ("direct", "indirect", "total")
HORIZONS = ("short", "long")
METHODS = ("simulation", "delta")


@dataclass(frozen=True)
class ImpactEstimate:
    """One impact (direct, indirect or total) of one regressor, with its uncertainty.

    ``draws`` are the simulated values of this impact (method ``simulation``; ``None`` for the delta
    method); speeds and half-lives can be computed draw by draw. ``ci_low``/``ci_high`` are the
    percentile interval of the draws (simulation) or ``estimate -/+ z se`` (delta method).
    """

    term: str
    kind: str
    horizon: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    level: float
    method: str
    se_type: str
    n_sim: int
    n_draws_used: int
    seed: int | None
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary without the draws."""
        return {
            "term": self.term,
            "kind": self.kind,
            "horizon": self.horizon,
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "level": self.level,
            "method": self.method,
            "se_type": self.se_type,
            "n_sim": self.n_sim,
            "n_draws_used": self.n_draws_used,
            "seed": self.seed,
        }


class _Evaluator:
    """Vectorised ``(direct, indirect, total)`` of one term as a function of the parameters."""

    def __init__(self, res: SpatialResult, term: str, horizon: str) -> None:
        spec = res._spec
        if spec is None:
            raise RuntimeError("result carries no weights; impacts unavailable")
        if not spec.dense:
            raise InputError(f"impact() is implemented for n <= {EIGEN_MAX_N} units", source="W")
        if horizon not in HORIZONS:
            raise InputError(f"horizon must be one of {HORIZONS}, got {horizon!r}", source="horizon")
        p = res.params
        if term not in p.index or term in ("rho", "lambda") or term.startswith("W_"):
            allowed = [t for t in p.index if t not in ("rho", "lambda") and not t.startswith("W_")]
            raise InputError(f"no regressor {term!r} in the model; one of {allowed}", source="term")
        if horizon == "long" and not res.dynamic:
            raise InputError("horizon='long' needs the dynamic model (dynamic=True)", source="horizon")
        if horizon == "long" and term == "y_lag":
            raise InputError(
                "the long-run impact of y_lag is not defined (it is the dynamics)", source="term"
            )
        self.lag = "rho" in p.index
        self.long = horizon == "long"
        keys = [term]
        if f"W_{term}" in p.index:
            keys.append(f"W_{term}")
        if self.lag:
            keys.append("rho")
        if self.long:
            keys += ["y_lag", "W_y_lag"]
        self.keys = keys
        self.has_theta = f"W_{term}" in p.index
        self.w = spec.ev.astype(complex)
        self.n = spec.n
        self.bounds = spec.bounds
        self.exact_total = spec.row_standardised and spec.no_islands
        if not self.exact_total:
            vals, V = np.linalg.eig(spec.Wd)
            self.w = vals.astype(complex)
            self.c = (np.ones(self.n) @ V) * np.linalg.solve(V, np.ones(self.n))

    def __call__(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        v = np.atleast_2d(v)
        k = {key: v[:, i][:, None] for i, key in enumerate(self.keys)}
        b = k[self.keys[0]]
        t = k[self.keys[1]] if self.has_theta else 0.0
        rho = k["rho"] if self.lag else 0.0
        w = self.w[None, :]
        if self.long:
            den = (1.0 - k["y_lag"]) - (rho + k["W_y_lag"]) * w
            den1 = (1.0 - k["y_lag"]) - (rho + k["W_y_lag"])
        else:
            den = 1.0 - rho * w
            den1 = 1.0 - rho * np.ones_like(b)
        f = (b + t * w) / den
        direct = np.real(f.mean(axis=1))
        if self.exact_total:
            total = np.real(((b + t) / den1)[:, 0])
        else:
            total = np.real((f * self.c[None, :]).sum(axis=1) / self.n)
        return direct, total - direct, total

    def admissible(self, v: np.ndarray) -> np.ndarray:
        """Draws inside the parameter space (rho in its interval; a stable process for the long run)."""
        ok = np.ones(len(v), dtype=bool)
        if self.lag:
            r = v[:, self.keys.index("rho")]
            ok &= (r > self.bounds[0]) & (r < self.bounds[1])
        if self.long:
            g = v[:, self.keys.index("y_lag")][:, None]
            d = v[:, self.keys.index("W_y_lag")][:, None]
            rr = v[:, self.keys.index("rho")][:, None] if self.lag else np.zeros_like(g)
            rad = np.max(np.abs((g + d * self.w[None, :]) / (1.0 - rr * self.w[None, :])), axis=1)
            ok &= rad < 1.0
        return ok


def compute_impact(
    res: SpatialResult,
    term: str,
    kind: str = "total",
    *,
    horizon: str = "short",
    method: str = "simulation",
    n_sim: int = 1000,
    seed: int | None = 20240607,
    level: float = 0.95,
) -> ImpactEstimate:
    """See :meth:`SpatialResult.impact`."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}", source="kind")
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}", source="method")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1), got {level!r}", source="level")
    ev = _Evaluator(res, term, horizon)
    ik = KINDS.index(kind)
    theta = res.params[ev.keys].to_numpy(dtype=float)
    V = res.vcov.loc[ev.keys, ev.keys].to_numpy(dtype=float)
    if not ev.admissible(theta[None, :])[0]:
        raise EstimationError(
            f"the {horizon}-run impact is not defined at the estimates (non-stationary dynamics: "
            f"spectral radius of (I - rho W)^-1 (gamma I + delta W) >= 1)"
        )
    est = float(ev(theta[None, :])[ik][0])
    alpha = 1.0 - level
    if method == "delta":
        h = 1e-6 * np.maximum(1.0, np.abs(theta))
        grad = np.array(
            [
                (ev((theta + h[j] * e)[None, :])[ik][0] - ev((theta - h[j] * e)[None, :])[ik][0]) / (2 * h[j])
                for j, e in enumerate(np.eye(len(theta)))
            ]
        )
        se = float(np.sqrt(max(grad @ V @ grad, 0.0)))
        z = float(stats.norm.ppf(1 - alpha / 2))
        return ImpactEstimate(
            term, kind, horizon, est, se, est - z * se, est + z * se, level, "delta", res.se_type, 0, 0, seed
        )
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(theta, V, size=int(n_sim), method="eigh")
    ok = ev.admissible(draws)
    vals = ev(draws[ok])[ik]
    if len(vals) < 2:
        raise EstimationError("fewer than two admissible simulation draws; impacts are not usable")
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return ImpactEstimate(
        term,
        kind,
        horizon,
        est,
        float(np.std(vals, ddof=1)),
        float(lo),
        float(hi),
        level,
        "simulation",
        res.se_type,
        int(n_sim),
        int(ok.sum()),
        seed,
        vals,
    )
