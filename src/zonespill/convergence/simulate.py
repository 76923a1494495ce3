r"""Seeded growth panels with a known convergence coefficient (for bias studies and tests).

Log level :math:`\ln y_{it} = \mu_i + \alpha_t + u_{it}` with
:math:`u_{it} = (1+b)\,u_{i,t-1} + \varepsilon_{it}`, :math:`\varepsilon_{it}\sim N(0,\sigma^2)`,
so that exactly

.. math::

    \Delta\ln y_{it} = b\,\ln y_{i,t-1} - b\mu_i + (\Delta\alpha_t - b\alpha_{t-1}) + \varepsilon_{it},

the two-way fixed-effects growth regression of :func:`zonespill.convergence.panel_beta`
with true coefficient :math:`b`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from zonespill.errors import InputError


def simulate_growth_panel(
    n: int,
    T: int,
    b: float,
    *,
    seed: int,
    sigma: float = 0.03,
    start_sd: float | None = None,
    start_year: int = 2000,
) -> pd.DataFrame:
    r"""Long panel ``unit, year, y`` (levels) with ``T`` growth periods (``T + 1`` years).

    Parameters
    ----------
    n, T
        Units and growth periods.
    b
        True convergence coefficient, :math:`-1 < b < 0`.
    seed
        Seed of :func:`numpy.random.default_rng` (every draw comes from it).
    sigma
        Innovation standard deviation.
    start_sd
        Standard deviation of the initial deviation :math:`u_{i0}` from the unit's steady
        state. ``None`` (default): the stationary value :math:`\sigma/\sqrt{1-(1+b)^2}`
        (units start in their stationary distribution, where Nickell bias is largest);
        a much larger value puts units far from their steady state.
    start_year
        First year.
    """
    if not -1.0 < b < 0.0:
        raise InputError(
            f"b must be in (-1, 0) for a stationary process, got {b}", source="simulate", column="b"
        )
    if n < 2 or T < 1:
        raise InputError(f"need n >= 2 and T >= 1, got n={n}, T={T}", source="simulate", column="n")
    rng = np.random.default_rng(seed)
    rho = 1.0 + b
    sd0 = sigma / math.sqrt(1.0 - rho**2) if start_sd is None else float(start_sd)
    mu = rng.normal(9.0, 0.5, n)
    alpha = 0.08 * np.arange(T + 1) + rng.normal(0.0, 0.02, T + 1)
    u = rng.normal(0.0, sd0, n)
    units = [f"r{i:03d}" for i in range(n)]
    frames = []
    for t in range(T + 1):
        if t > 0:
            u = rho * u + rng.normal(0.0, sigma, n)
        frames.append(pd.DataFrame({"unit": units, "year": start_year + t, "y": np.exp(mu + alpha[t] + u)}))
    return pd.concat(frames, ignore_index=True)
