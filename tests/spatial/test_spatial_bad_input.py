"""Refusals: misaligned weights, unbalanced panels, bounds, collinearity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from zonespill.errors import EstimationError, InputError
from zonespill.spatial import fit_cross_section, fit_panel, lm_tests
from zonespill.weights import SpatialWeights

from .conftest import lattice_weights, simulate_panel

KW = {"y": "y", "x": ["x1", "x2"], "unit": "unit", "time": "year"}


@pytest.fixture(scope="module")
def w() -> SpatialWeights:
    return lattice_weights(5)


@pytest.fixture(scope="module")
def df(w: SpatialWeights) -> pd.DataFrame:
    return simulate_panel(w, 4, seed=1)


def test_non_square_dataframe_weights(df: pd.DataFrame, w: SpatialWeights) -> None:
    frame = w.to_dense_frame().iloc[:, :-1]
    with pytest.raises(InputError, match="square"):
        fit_panel(df, frame, model="sar", **KW)


def test_non_square_sparse_weights(df: pd.DataFrame, w: SpatialWeights) -> None:
    with pytest.raises(InputError, match="square"):
        fit_panel(df, w.matrix[:, :-1], w_ids=list(w.ids), model="sar", **KW)


def test_sparse_without_ids_or_wrong_ids(df: pd.DataFrame, w: SpatialWeights) -> None:
    with pytest.raises(InputError, match="w_ids"):
        fit_panel(df, w.matrix, model="sar", **KW)
    with pytest.raises(InputError, match="w_ids"):
        fit_panel(df, w.matrix, w_ids=list(w.ids)[:-1], model="sar", **KW)


def test_misaligned_dataframe_ids(df: pd.DataFrame, w: SpatialWeights) -> None:
    frame = w.to_dense_frame()
    frame.columns = [*frame.columns[:-1], "zzz"]
    with pytest.raises(InputError, match="different ids"):
        fit_panel(df, frame, model="sar", **KW)


def test_units_in_data_not_in_w(df: pd.DataFrame, w: SpatialWeights) -> None:
    bad = df.copy()
    bad.loc[bad.unit == "r003", "unit"] = "ghost"
    with pytest.raises(InputError, match="ghost"):
        fit_panel(bad, w, model="sar", **KW)


def test_units_in_w_not_in_data(df: pd.DataFrame, w: SpatialWeights) -> None:
    with pytest.raises(InputError, match="r004"):
        fit_panel(df[df.unit != "r004"], w, model="sar", **KW)


def test_unbalanced_panel_names_unit_and_year(df: pd.DataFrame, w: SpatialWeights) -> None:
    bad = df[~((df.unit == "r007") & (df.year == 2002))]
    with pytest.raises(InputError, match=r"r007: \[2002\]"):
        fit_panel(bad, w, model="sem", **KW)
    with pytest.raises(InputError, match="r007"):
        lm_tests(bad, w, **KW)


def test_duplicates_and_missing_values(df: pd.DataFrame, w: SpatialWeights) -> None:
    with pytest.raises(InputError, match="duplicated"):
        fit_panel(pd.concat([df, df.iloc[:1]]), w, model="sar", **KW)
    bad = df.copy()
    bad.loc[3, "x1"] = np.nan
    with pytest.raises(InputError) as ei:
        fit_panel(bad, w, model="sar", **KW)
    assert ei.value.column == "x1" and ei.value.rows == [4]


def test_island_is_documented_behaviour(df: pd.DataFrame, w: SpatialWeights) -> None:
    M = w.matrix.tolil()
    M[2, :] = 0
    M[:, 2] = 0
    wi = SpatialWeights(w.ids, sp.csr_matrix(M)).row_standardise()
    r = fit_panel(df, wi, model="sdm", **KW)  # allowed: the island simply has no spatial lag
    assert np.isfinite(r.bse).all()
    with pytest.raises(InputError, match="islands"):
        fit_panel(df, wi, model="sar", lee_yu=True, effects="twoways", **KW)


def test_rho_at_bound_raises(w: SpatialWeights) -> None:
    # y proportional to the eigenvector of the most negative eigenvalue: the likelihood
    # increases without bound as rho -> 1/min(eigenvalue)
    rng = np.random.default_rng(0)
    n = w.n
    vals, vecs = np.linalg.eig(w.matrix.toarray())
    v = np.real(vecs[:, np.argmin(vals.real)])
    rows = []
    for t, c in enumerate([1.0, -2.0, 0.5, 3.0]):
        rows.append(
            pd.DataFrame(
                {
                    "unit": list(w.ids),
                    "year": t,
                    "y": c * v + 1e-12 * rng.normal(size=n),
                    "x1": rng.normal(size=n),
                    "x2": rng.normal(size=n),
                }
            )
        )
    data = pd.concat(rows)
    with pytest.raises(EstimationError, match="boundary"):
        fit_panel(data, w, model="sar", effects="individual", **KW)


def test_regressor_absorbed_by_fixed_effects(df: pd.DataFrame, w: SpatialWeights) -> None:
    bad = df.copy()
    bad["x2"] = bad.groupby("unit").x1.transform("mean")  # time-invariant
    with pytest.raises(InputError, match="x2") as ei:
        fit_panel(bad, w, model="sar", effects="individual", **KW)
    assert ei.value.column == "x2"
    bad2 = df.copy()
    bad2["x2"] = bad2.groupby("year").x1.transform("mean")  # unit-invariant
    with pytest.raises(InputError, match="x2"):
        fit_panel(bad2, w, model="sem", effects="twoways", **KW)
    bad3 = df.assign(x2=2 * df.x1)
    with pytest.raises(InputError, match="collinear"):
        fit_panel(bad3, w, model="sar", effects="time", **KW)


def test_bad_options(df: pd.DataFrame, w: SpatialWeights) -> None:
    with pytest.raises(InputError, match="model"):
        fit_panel(df, w, model="gns", **KW)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="effects"):
        fit_panel(df, w, model="sar", effects="random", **KW)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="durbin"):
        fit_panel(df, w, model="sar", durbin=["x1"], **KW)
    with pytest.raises(InputError, match="durbin"):
        fit_panel(df, w, model="sdm", durbin=["nope"], **KW)
    with pytest.raises(InputError, match="column"):
        fit_panel(df, w, model="sar", y="nope", x=["x1"], unit="unit", time="year")
    with pytest.raises(InputError, match="model"):
        fit_cross_section(df[df.year == 2000], w, y="y", x=["x1"], unit="unit", model="sdm")  # type: ignore[arg-type]
