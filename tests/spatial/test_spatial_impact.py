"""SpatialResult.impact: one impact of a named regressor with SE, interval and draws (issue 12 part 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.errors import InputError
from zonespill.spatial import ImpactEstimate, fit_panel

from .conftest import lattice_weights, simulate_panel

KW = {"y": "y", "x": ["x1", "x2"], "unit": "unit", "time": "year"}


@pytest.fixture(scope="module")
def sdm(w49, panel49):
    return fit_panel(panel49, w49, model="sdm", **KW)


def test_impact_matches_dense_impact_matrix_and_impacts_table(sdm, w49) -> None:
    M = w49.matrix.toarray()
    S = np.linalg.inv(np.eye(49) - sdm.params["rho"] * M) @ (
        sdm.params["x1"] * np.eye(49) + sdm.params["W_x1"] * M
    )
    want = {"direct": np.mean(np.diag(S)), "total": S.sum() / 49}
    want["indirect"] = want["total"] - want["direct"]
    old = sdm.impacts(n_sim=2000, seed=3)
    for kind, v in want.items():
        est = sdm.impact("x1", kind, n_sim=2000, seed=3)
        assert isinstance(est, ImpactEstimate) and est.kind == kind and est.horizon == "short"
        assert est.estimate == pytest.approx(v, rel=1e-10)
        # the legacy table draws all parameters jointly (other draws): same SE up to MC error
        assert est.se == pytest.approx(old.loc["x1", f"se_{kind}"], rel=0.1)
        assert est.draws is not None and est.draws.shape == (est.n_draws_used,)
        assert est.ci_low == pytest.approx(np.quantile(est.draws, 0.025))
        d = sdm.impact("x1", kind, method="delta")
        assert d.draws is None and d.se == pytest.approx(est.se, rel=0.15)
        assert d.ci_high - d.estimate == pytest.approx(1.959964 * d.se, rel=1e-5)


def test_impact_is_seeded_and_follows_se_type(w49, panel49) -> None:
    a = fit_panel(panel49, w49, model="sar", **KW)
    b = fit_panel(panel49, w49, model="sar", se_type="cluster", cluster="unit", **KW)
    i1, i2 = a.impact("x2", seed=9), a.impact("x2", seed=9)
    np.testing.assert_array_equal(i1.draws, i2.draws)
    assert a.impact("x2", seed=10).se != i1.se
    ib = b.impact("x2", method="delta")
    assert ib.se_type == "cluster" and ib.se != a.impact("x2", method="delta").se
    tab = a.impacts_table(method="delta")
    assert list(tab.index.get_level_values("kind")[:3]) == ["direct", "indirect", "total"]
    assert tab.loc[("x2", "total"), "estimate"] == pytest.approx(a.params["x2"] / (1 - a.params["rho"]))


def test_impact_non_row_standardised_weights_uses_eigenvectors() -> None:
    w = lattice_weights(5, row=False)  # binary contiguity, scaled to keep rho admissible
    from zonespill.weights import SpatialWeights

    w = SpatialWeights(w.ids, w.matrix * 0.25, "binary", "lattice")
    df = simulate_panel(w, 8, rho=0.3, theta=(0.2, 0.1), seed=4)
    r = fit_panel(df, w, model="sdm", **KW)
    M = w.matrix.toarray()
    S = np.linalg.inv(np.eye(25) - r.params["rho"] * M) @ (r.params["x2"] * np.eye(25) + r.params["W_x2"] * M)
    assert r.impact("x2", "total", method="delta").estimate == pytest.approx(S.sum() / 25, rel=1e-9)
    assert r.impact("x2", "direct", method="delta").estimate == pytest.approx(np.trace(S) / 25, rel=1e-9)


def test_impact_for_models_without_wy(w49, panel49) -> None:
    r = fit_panel(panel49, w49, model="sdem", **KW)
    est = r.impact("x1", "total", method="delta")
    assert est.estimate == pytest.approx(r.params["x1"] + r.params["W_x1"], rel=1e-12)
    V = r.vcov.loc[["x1", "W_x1"], ["x1", "W_x1"]].to_numpy()
    assert est.se == pytest.approx(np.sqrt(V.sum()), rel=1e-6)


def test_impact_bad_input(sdm) -> None:
    for kw in ({"term": "rho"}, {"term": "W_x1"}, {"term": "zz"}):
        with pytest.raises(InputError):
            sdm.impact(**kw)
    with pytest.raises(InputError, match="kind"):
        sdm.impact("x1", "overall")
    with pytest.raises(InputError, match="dynamic"):
        sdm.impact("x1", horizon="long")
    with pytest.raises(InputError, match="method"):
        sdm.impact("x1", method="bootstrap")
    assert isinstance(sdm.impact("x1").as_dict(), dict)
    assert pd.Series(sdm.impact("x1").as_dict())["term"] == "x1"
