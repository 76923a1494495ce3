"""Property tests: every two-way fixed-effects solver in the project satisfies the normal equations
exactly and agrees with an independent least-squares solve (issue 11 part 1)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import lsqr

from zonespill.convergence.jackknife import demean as jackknife_demean
from zonespill.did import imputation
from zonespill.did.inference import FEProjector
from zonespill.errors import EstimationError
from zonespill.spatial._data import demean as spatial_demean
from zonespill.spatial.designs import _twoway_within
from zonespill.twoway import TwoWayFE, twoway_demean

TOL = 1e-10
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dummies(u: np.ndarray, t: np.ndarray) -> np.ndarray:
    nu, nt = int(u.max()) + 1, int(t.max()) + 1
    Z = np.zeros((len(u), nu + nt))
    Z[np.arange(len(u)), u] = 1.0
    Z[np.arange(len(u)), nu + t] = 1.0
    return Z


@st.composite
def panels(draw: st.DrawFn, balanced: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(units, times, values n_obs × 2) of a random (un)balanced panel, codes 0..n-1 all used."""
    nu = draw(st.integers(2, 14))
    nt = draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    keep = np.ones((nu, nt), dtype=bool)
    if not balanced:
        keep = rng.random((nu, nt)) < draw(st.floats(0.3, 0.95))
        keep[np.arange(nu), rng.integers(0, nt, nu)] = True  # every unit observed
        keep[rng.integers(0, nu, nt), np.arange(nt)] = True  # every period observed
    u, t = np.nonzero(keep)
    scale = draw(st.sampled_from([1.0, 1e3]))
    vals = scale * (rng.normal(size=(len(u), 2)) + 5.0 * rng.normal(size=nu)[u, None]
                    + 3.0 * rng.normal(size=nt)[t, None])
    return u, t, vals


def normal_eq_error(u: np.ndarray, t: np.ndarray, resid: np.ndarray, vals: np.ndarray) -> float:
    """max |Z'e| relative to the data scale (the normal equations of the two-way projection)."""
    Z = dummies(u, t)
    return float(np.abs(Z.T @ resid).max() / max(1.0, float(np.abs(vals).max())))


def lsqr_resid(u: np.ndarray, t: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Independent solve: sparse LSQR on the dummy matrix, column by column."""
    import scipy.sparse as sp

    Z = sp.csr_matrix(dummies(u, t))
    out = np.empty_like(vals)
    for j in range(vals.shape[1]):
        coef = lsqr(Z, vals[:, j], atol=1e-15, btol=1e-15, conlim=1e12, iter_lim=10_000)[0]
        out[:, j] = vals[:, j] - Z @ coef
    return out


# every two-way solver in the project, as (units, times, values n_obs × k) -> residuals
def _zs_twoway(u: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return twoway_demean(v, u, t)


def _inference_projector(u: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return FEProjector(u, t)(v)


def _convergence(u: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return jackknife_demean(v, [u, t])


def _to_tn(u: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    a = np.empty((int(t.max()) + 1, int(u.max()) + 1, v.shape[1]))
    a[t, u] = v
    return a


def _spatial_demean(u: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return spatial_demean(_to_tn(u, t, v), "twoways")[t, u]


def _spatial_within(u: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _twoway_within(_to_tn(u, t, v))[t, u]


Solver = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
UNBALANCED: dict[str, Solver] = {"zonespill.twoway": _zs_twoway,
                                 "convergence.jackknife.demean": _convergence,
                                 "did.inference.FEProjector": _inference_projector}
BALANCED_ONLY: dict[str, Solver] = {"spatial._data.demean": _spatial_demean,
                                    "spatial.designs._twoway_within": _spatial_within}


@pytest.mark.parametrize("name", list(UNBALANCED))
@SETTINGS
@given(p=panels())
def test_solver_exact_on_unbalanced_panels(name: str, p: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    u, t, vals = p
    r = UNBALANCED[name](u, t, vals)
    assert normal_eq_error(u, t, r, vals) < TOL
    ref = lsqr_resid(u, t, vals)
    assert np.abs(r - ref).max() < 1e-8 * max(1.0, float(np.abs(vals).max()))


@pytest.mark.parametrize("name", [*UNBALANCED, *BALANCED_ONLY])
@SETTINGS
@given(p=panels(balanced=True))
def test_solver_exact_on_balanced_panels(name: str, p: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    u, t, vals = p
    r = {**UNBALANCED, **BALANCED_ONLY}[name](u, t, vals)
    assert normal_eq_error(u, t, r, vals) < TOL
    Z = dummies(u, t)
    ref = vals - Z @ np.linalg.lstsq(Z, vals, rcond=None)[0]
    assert np.abs(r - ref).max() < TOL * max(1.0, float(np.abs(vals).max()))


def test_disconnected_graph_gets_one_normalisation_per_component() -> None:
    # units {0,1} only in periods {0,1}, units {2,3} only in {2,3}: two components, rank 4 + 4 - 2
    u = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3])
    t = np.array([0, 1, 0, 1, 2, 3, 2, 3, 3 - 1])
    fe = TwoWayFE(u, t)
    assert fe.n_components == 2 and fe.rank == 6
    y = np.arange(len(u), dtype=float) ** 1.5
    r = fe.residuals(y)
    assert normal_eq_error(u, t, r[:, None], y[:, None]) < TOL
    assert not fe.identified(np.array([0]), np.array([2]))[0]
    assert fe.identified(np.array([0, 3]), np.array([1, 2])).all()


def test_pinv_failure_reproduced_and_fixed() -> None:
    """The old Schur-complement + pinv solve broke the time normal equations on mpdta."""
    d = pd.read_csv("tests/reference/fixtures/did/mpdta.csv")
    u = pd.factorize(d["countyreal"], sort=True)[0]
    t = pd.factorize(d["year"], sort=True)[0]
    o0 = ~((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).to_numpy()
    y = d["lemp"].to_numpy()
    fe = TwoWayFE(u[o0], t[o0], n_units=int(u.max()) + 1, n_times=5)
    r = fe.residuals(y[o0])
    assert np.abs(np.bincount(t[o0], weights=r)).max() < TOL
    assert np.abs(np.bincount(u[o0], weights=r)).max() < TOL
    # the former solve: the singular Schur complement's zero eigenvalue is ~ -2e-12 and pinv inverts it
    import scipy.sparse as sp

    B = sp.csr_matrix((np.ones(int(o0.sum())), (u[o0], t[o0])))
    S = np.diag(fe.ct) - np.asarray((B.T @ sp.diags(1.0 / fe.cu) @ B).todense())
    ru = np.bincount(u[o0], weights=y[o0])
    rt = np.bincount(t[o0], weights=y[o0])
    b = np.linalg.pinv(S) @ (rt - B.T @ (ru / fe.cu))
    a = (ru - B @ b) / fe.cu
    old = y[o0] - a[u[o0]] - b[t[o0]]
    assert np.abs(np.bincount(t[o0], weights=old)).max() > 1e-3  # the bug this module removes


# ---- BJS imputation against an independent dense / sparse imputation --------------------------
@st.composite
def staggered(draw: st.DrawFn) -> pd.DataFrame:
    nu = draw(st.integers(4, 14))
    nt = draw(st.integers(3, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cohort = rng.choice(np.r_[0, np.arange(2, nt + 2)], size=nu)
    cohort[0] = 0  # at least one never-treated unit
    keep = rng.random((nu, nt)) < draw(st.floats(0.5, 1.0))
    keep[:, 0] = True  # every unit has an untreated first period
    u, t = np.nonzero(keep)
    y = rng.normal(size=len(u)) + rng.normal(size=nu)[u] + rng.normal(size=nt)[t]
    y = y + np.where((cohort[u] > 0) & (t + 1 >= cohort[u]), 1.0 + 0.1 * u, 0.0)
    return pd.DataFrame({"unit": u, "time": t + 1, "cohort": cohort[u], "y": y})


@SETTINGS
@given(d=staggered())
def test_bjs_equals_independent_imputation(d: pd.DataFrame) -> None:
    try:
        r = imputation(d, outcome="y", unit="unit", time="time", cohort="cohort", include_thin_cells=True)
    except EstimationError:
        assume(False)
        return
    keep = ~((d.cohort > 0) & (d.cohort <= d.time.min()))
    d = d[keep.to_numpy()]
    treated = ((d.cohort > 0) & (d.time >= d.cohort)).to_numpy()
    u = pd.factorize(d.unit, sort=True)[0]
    t = pd.factorize(d.time, sort=True)[0]
    Z = dummies(u, t)
    y = d.y.to_numpy()
    coef = np.linalg.lstsq(Z[~treated], y[~treated], rcond=None)[0]
    tau = y[treated] - Z[treated] @ coef
    assert r.att == pytest.approx(tau.mean(), abs=TOL)
    ev = (d.time - d.cohort).to_numpy()[treated]
    for e, est in zip(r.table["e"], r.table["estimate"], strict=True):
        assert est == pytest.approx(tau[ev == e].mean(), abs=TOL)
