"""Result container shared by the regression-type DiD estimators (TWFE, Sun–Abraham, BJS)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class DiDResult:
    """Overall estimate ``att``/``se`` plus a table of disaggregated effects.

    ``table`` has a key column (``term`` or ``e``) and ``estimate, se, ci_lower, ci_upper``.
    """

    estimator: str
    att: float
    se: float
    table: pd.DataFrame
    cohort_sizes: dict[float, int]
    n_obs: int
    n_units: int
    dropped_units: int
    vcov_type: str
    alpha: float = 0.05
    extra: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def ci(self) -> tuple[float, float]:
        """Pointwise (1 − α) normal confidence interval of the overall estimate."""
        z = float(stats.norm.ppf(1 - self.alpha / 2))
        return (self.att - z * self.se, self.att + z * self.se)

    def to_frame(self) -> pd.DataFrame:
        """The effects table (copy)."""
        return self.table.copy()

    def summary(self) -> str:
        """Plain-text summary."""
        lo, hi = self.ci
        return "\n".join([
            f"{self.estimator}: ATT = {self.att:.6f} (se {self.se:.6f}; {1 - self.alpha:.0%} CI "
            f"[{lo:.6f}, {hi:.6f}]), {self.vcov_type}",
            f"  obs: {self.n_obs}, units: {self.n_units} (dropped already-treated: {self.dropped_units}); "
            f"treated per cohort: {self.cohort_sizes}",
            self.table.to_string(index=False, float_format=lambda v: f"{v:.6f}"),
        ])


def with_ci(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Add normal pointwise CI columns to a table with ``estimate`` and ``se``."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    out = table.copy()
    out["ci_lower"] = out["estimate"] - z * out["se"]
    out["ci_upper"] = out["estimate"] + z * out["se"]
    return out


def nan_if_tiny(x: np.ndarray) -> np.ndarray:
    """Replace numerically zero SEs by NaN."""
    x = np.asarray(x, dtype=float).copy()
    x[~(x > np.sqrt(np.finfo(float).eps) * 10)] = np.nan
    return x
