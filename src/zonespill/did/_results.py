"""Result container shared by the regression-type DiD estimators (TWFE, Sun–Abraham, BJS)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.did._pretrend import PreTrendTest
from zonespill.did._support import cohort_support


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
    # identification diagnostics (issue 11 part 3); see zonespill.did._support
    cells: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    min_units_per_side: int = 2
    include_thin_cells: bool = False
    thin_overall: bool = False
    notes: tuple[str, ...] = ()
    anticipation: int = 0
    pretrend: PreTrendTest | None = None
    # small-sample inference (issue 11 part 2); see zonespill.did.inference
    inference: str = "analytic"
    inference_label: str = "analytic (normal)"
    inference_pvalue: float | None = None
    inference_ci: tuple[float, float] | None = None
    inference_possible: bool = True
    # event studies: covariance of the event-time estimates indexed by e (HonestDiD input)
    vcov: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def pvalue(self) -> float:
        """Two-sided p-value of H0: ATT = 0 from the chosen ``inference`` method (normal if analytic)."""
        if self.inference_pvalue is not None:
            return self.inference_pvalue
        return float(2 * stats.norm.sf(abs(self.att / self.se))) if self.se > 0 else float("nan")

    @property
    def cohort_support(self) -> pd.DataFrame:
        """Per cohort: treated units and the fewest/most control units over its (g,t) cells."""
        return cohort_support(self.cells)

    @property
    def thin_cells(self) -> pd.DataFrame:
        """The (g,t) cells with fewer than ``min_units_per_side`` units on a side."""
        if self.cells.empty:
            return self.cells
        return self.cells[self.cells["thin"]].reset_index(drop=True)

    @property
    def ci(self) -> tuple[float, float]:
        """(1 − α) confidence interval of the overall estimate from the chosen ``inference`` method
        (normal for analytic)."""
        if self.inference_ci is not None:
            return self.inference_ci
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
            *([f"  pre-trend: {self.pretrend.note}: stat = {self.pretrend.stat:.4f}, df = "
               f"{self.pretrend.df}, p = {self.pretrend.pvalue:.4g}"] if self.pretrend is not None else []),
            *(f"  note: {n}" for n in self.notes),
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


def event_vcov(V: np.ndarray, e: list[int]) -> pd.DataFrame:
    """Covariance of event-time estimates as a DataFrame indexed by e (both axes)."""
    idx = pd.Index(np.asarray(e, dtype=int), name="e")
    return pd.DataFrame(np.asarray(V, dtype=float), index=idx, columns=idx.copy())
