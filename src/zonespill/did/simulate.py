"""Seeded staggered-adoption panel with heterogeneous, dynamic effects and known truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zonespill.errors import InputError


@dataclass(frozen=True)
class Truth:
    """True effects of a simulated panel.

    ``att_gt``: cohort, time, att for every post-treatment cell; ``att``: the average effect over
    all treated observations (= CS "simple", SA "ATT", BJS static estimand); ``dynamic``: the
    cohort-size-weighted effect at each event time e ≥ 0 (index ``e``).
    """

    att_gt: pd.DataFrame
    att: float
    dynamic: pd.Series


def staggered_panel(
    n_units: int,
    n_periods: int,
    *,
    seed: int | np.random.Generator,
    cohorts: Sequence[int] | None = None,
    never_share: float = 0.3,
    base_effect: Sequence[float] | None = None,
    slope: float = 0.1,
    noise_sd: float = 1.0,
    ar: float = 0.0,
) -> tuple[pd.DataFrame, Truth]:
    r"""Simulate a balanced staggered-adoption panel.

    .. math::
        y_{it} = \alpha_i + \lambda_t + 1\{t \ge G_i\}\,(b_{G_i} + s\,(t - G_i)) + u_{it},
        \qquad u_{it} = \rho u_{i,t-1} + \varepsilon_{it}

    Periods are 1..n_periods; ``cohort`` is 0 for never-treated units.  Unit effects are correlated
    with the cohort (earlier cohorts have higher α), which parallel trends allow; effects are
    heterogeneous across cohorts (``base_effect``, default decreasing from 1.0 to 0.2 with the
    cohort) and grow with exposure (``slope``), so TWFE is biased while CS, SA and BJS are not.

    Parameters
    ----------
    n_units, n_periods : int
    seed : int or numpy Generator
    cohorts : sequence of int, optional
        First-treated periods (default: ~4 evenly spaced cohorts in 3..n_periods−1).
    never_share : float
        Share of never-treated units (the rest split evenly across cohorts).
    base_effect : sequence of float, optional
        Impact effect b_g per cohort.
    slope : float
        Effect growth per period of exposure.
    noise_sd : float
    ar : float
        AR(1) coefficient of the idiosyncratic error.

    Returns
    -------
    (DataFrame, Truth)
        Long data with columns ``unit, time, cohort, y`` and the true effects.
    """
    if n_units < 2 or n_periods < 3:
        raise InputError("need n_units >= 2 and n_periods >= 3", source="staggered_panel")
    if not 0 <= never_share < 1:
        raise InputError("never_share must be in [0, 1)", source="never_share")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if cohorts is None:
        hi = n_periods - 1
        cohorts = sorted({round(x) for x in np.linspace(3, max(hi, 3), min(4, max(hi - 2, 1)))})
    cg = np.asarray(cohorts, dtype=int)
    if (cg < 2).any() or (cg > n_periods).any():
        raise InputError("cohorts must lie in 2..n_periods", source="cohorts")
    if base_effect is None:
        be = np.linspace(1.0, 0.2, len(cg))
    else:
        be = np.asarray(base_effect, dtype=float)
        if len(be) != len(cg):
            raise InputError("base_effect needs one value per cohort", source="base_effect")
    n_never = round(never_share * n_units)
    G = np.concatenate([np.zeros(n_never, dtype=int),
                        cg[np.arange(n_units - n_never) % len(cg)]])
    G = rng.permutation(G)
    t = np.arange(1, n_periods + 1)
    alpha = rng.normal(0, 1, n_units) + 0.5 * np.where(G > 0, (n_periods - G) / n_periods, 0.0)
    lam = np.cumsum(rng.normal(0.1, 0.2, n_periods))
    eps = rng.normal(0, noise_sd, (n_units, n_periods))
    if ar:
        for s in range(1, n_periods):  # loop over periods only (vectorised over units)
            eps[:, s] += ar * eps[:, s - 1]
    beff = np.zeros(n_units)
    treated = G > 0
    beff[treated] = be[np.searchsorted(cg, G[treated])]
    post = treated[:, None] & (t[None, :] >= G[:, None])
    tau = np.where(post, beff[:, None] + slope * (t[None, :] - G[:, None]), 0.0)
    y = alpha[:, None] + lam[None, :] + tau + eps
    data = pd.DataFrame({
        "unit": np.repeat(np.arange(n_units), n_periods),
        "time": np.tile(t, n_units),
        "cohort": np.repeat(G, n_periods),
        "y": y.ravel(),
    })
    sizes = {int(g): int((g == G).sum()) for g in cg}
    rows = [(int(g), int(s), float(b + slope * (s - g))) for g, b in zip(cg, be, strict=True)
            for s in t if s >= g and sizes[int(g)] > 0]
    att_gt = pd.DataFrame(rows, columns=["cohort", "time", "att"])
    att_gt["n"] = att_gt["cohort"].map(sizes)
    att = float((att_gt["att"] * att_gt["n"]).sum() / att_gt["n"].sum())
    att_gt["e"] = att_gt["time"] - att_gt["cohort"]
    att_gt["an"] = att_gt["att"] * att_gt["n"]
    sums = att_gt.groupby("e")[["an", "n"]].sum()
    dyn = sums["an"] / sums["n"]
    return data, Truth(att_gt=att_gt.drop(columns=["n", "e", "an"]), att=att, dynamic=dyn.rename("att"))


def few_cluster_null_panel(
    rng: np.random.Generator, n_units: int = 12, n_periods: int = 8, n_treated: int = 4
) -> pd.DataFrame:
    """A few-cluster panel with no treatment effect, for null-rejection checks of small-sample
    inference: ``n_units`` units (one cluster each), half of ``n_treated`` adopting at period 4
    and half at period 6, unit-specific error scales (0.5–2) with AR(1) errors (ρ = 0.5), a unit
    effect and a common random-walk trend. Columns ``unit, time, cohort, y`` (cohort 0 = never)."""
    if not 2 <= n_treated < n_units or n_periods < 7:
        raise InputError("need 2 ≤ n_treated < n_units and n_periods ≥ 7", source="few_cluster_null_panel")
    g = np.zeros(n_units)
    idx = rng.choice(n_units, n_treated, replace=False)
    half = n_treated // 2
    g[idx[:half]], g[idx[half:]] = 4, 6
    sd = rng.uniform(0.5, 2.0, n_units)
    e = rng.normal(size=(n_units, n_periods)) * sd[:, None]
    for s in range(1, n_periods):
        e[:, s] += 0.5 * e[:, s - 1]
    y = rng.normal(size=n_units)[:, None] + np.cumsum(rng.normal(0, 0.3, n_periods))[None, :] + e
    return pd.DataFrame({"unit": np.repeat(np.arange(n_units), n_periods),
                         "time": np.tile(np.arange(1, n_periods + 1), n_units),
                         "cohort": np.repeat(g, n_periods), "y": y.ravel()})
