"""HP filter and log-t building blocks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.filters.hp_filter import hpfilter

from zonespill.convergence import hp_filter, log_t_test
from zonespill.convergence.clubs import _cross_sectional_variation, _qs_long_run_variance, _trim_start
from zonespill.errors import EstimationError, InputError


@pytest.mark.parametrize("lamb", [0.5, 6.25, 100.0, 400.0, 1600.0, 1e5])
@pytest.mark.parametrize("seed", [0, 1])
def test_hp_matches_statsmodels(lamb: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = 8.0 + np.cumsum(rng.normal(0.02, 0.05, size=45)) + 0.1 * np.sin(np.arange(45))
    _, trend = hpfilter(y, lamb)
    got = hp_filter(y, lamb)
    assert np.max(np.abs(got - trend) / np.abs(trend)) <= 1e-8


def test_hp_series_and_limits() -> None:
    s = pd.Series([1.0, 2.0, 4.0, 3.0, 5.0], index=list("abcde"), name="x")
    out = hp_filter(s, 10.0)
    assert isinstance(out, pd.Series) and list(out.index) == list("abcde") and out.name == "x"
    # lambda = 0 returns the data; a linear series is its own trend for any lambda
    np.testing.assert_allclose(hp_filter(s.to_numpy(), 0.0), s.to_numpy())
    lin = 3.0 + 0.5 * np.arange(20.0)
    np.testing.assert_allclose(hp_filter(lin, 1e6), lin, rtol=1e-10)
    with pytest.raises(InputError):
        hp_filter(np.array([1.0, np.nan, 2.0]), 1.0)
    with pytest.raises(InputError):
        hp_filter(lin, -1.0)


def test_cross_sectional_variation_closed_form() -> None:
    X = np.array([[1.0, 2.0], [3.0, 2.0]])
    # column 1: mean 2, h = (0.5, 1.5), H = 0.25; column 2: H = 0
    np.testing.assert_allclose(_cross_sectional_variation(X), [0.25, 0.0])


def test_long_run_variance_formula() -> None:
    rng = np.random.default_rng(3)
    u = rng.normal(size=23)
    u[1:] += 0.5 * u[:-1]
    lrv, bw = _qs_long_run_variance(u)
    # brute force of the documented formula
    T = u.size
    rho = (u[:-1] @ u[1:]) / (u[:-1] @ u[:-1])
    a = 4 * rho**2 / (1 - rho) ** 4
    S = 1.3221 * (a * T) ** 0.2
    total = u @ u
    for j in range(1, T - 1):
        z = 1.2 * math.pi * j / S
        k = 3 / z**2 * (math.sin(z) / z - math.cos(z))
        total += 2 * k * sum(u[s] * u[s + j] for s in range(T - 1 - j))
    assert bw == pytest.approx(S, rel=1e-14)
    assert lrv == pytest.approx(total / (T - 1), rel=1e-12)


def test_trim_rounds_half_to_even() -> None:
    assert _trim_start(34, 1 / 3) == 11
    assert _trim_start(9, 0.5) == 4  # R: round(4.5) == 4
    assert _trim_start(11, 0.5) == 6  # R: round(5.5) == 6


def _panel(n: int, T: int, seed: int, spread: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, T + 1)
    rows = []
    for i in range(n):
        level = 10.0 + spread * (i % 2)
        path = level + (rng.normal(0, 1) / t) + 0.01 * rng.normal(size=T) / np.sqrt(t)
        rows += [{"unit": f"u{i}", "year": 1990 + s, "y": path[s]} for s in range(T)]
    return pd.DataFrame(rows)


def test_log_t_long_equals_wide_and_converging_panel() -> None:
    df = _panel(12, 30, 0)
    wide = df.pivot(index="unit", columns="year", values="y").to_numpy()
    a = log_t_test(df, value="y", unit="unit", time="year")
    b = log_t_test(wide)
    assert a.t == pytest.approx(b.t, rel=1e-12) and a.beta == pytest.approx(b.beta, rel=1e-12)
    assert a.t > -1.65 and a.nobs == 30 - 10 and a.n_units == 12


def test_log_t_rejects_bad_input() -> None:
    df = _panel(4, 12, 1)
    with pytest.raises(InputError, match="hac"):
        log_t_test(df, value="y", unit="unit", time="year", hac="AQSB")
    with pytest.raises(InputError, match="unbalanced"):
        log_t_test(df.iloc[1:], value="y", unit="unit", time="year")
    with pytest.raises(InputError):
        log_t_test(np.ones((4, 3)))
    with pytest.raises(EstimationError):
        log_t_test(np.ones((4, 12)))
