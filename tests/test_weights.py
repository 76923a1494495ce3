"""Spatial weights on hand-checkable maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from zonespill.errors import InputError
from zonespill.geography import haversine_km, inverse_distance_weights, knn_weights, queen_weights
from zonespill.weights import SpatialWeights, as_weights


def square(x: float, y: float) -> str:
    return f"POLYGON(({x} {y},{x + 1} {y},{x + 1} {y + 1},{x} {y + 1},{x} {y}))"


def grid_regions(extra_island: bool = False) -> pd.DataFrame:
    """A 2 x 2 grid: A B / C D (A at the bottom left). Queen: everyone touches everyone."""
    rows = [
        ("A", square(0, 0)),
        ("B", square(1, 0)),
        ("C", square(0, 1)),
        ("D", square(1, 1)),
        ("E", square(2, 0)),
    ]
    if extra_island:
        rows.append(("I", square(10, 10)))
    return pd.DataFrame(rows, columns=["region_id", "geometry_wkt"])


def test_queen_on_grid_matches_hand_count() -> None:
    build = queen_weights(grid_regions(), island_rule="error")
    w = build.weights.to_dense_frame()
    expected = pd.DataFrame(
        [[0, 1, 1, 1, 0], [1, 0, 1, 1, 1], [1, 1, 0, 1, 0], [1, 1, 1, 0, 1], [0, 1, 0, 1, 0]],
        index=list("ABCDE"),
        columns=list("ABCDE"),
        dtype=float,
    )
    pd.testing.assert_frame_equal(w, expected)
    assert build.islands == ()


def test_row_standardised_rows_sum_to_one() -> None:
    w = queen_weights(grid_regions(), island_rule="error", row_standardise=True).weights
    sums = np.asarray(w.matrix.sum(axis=1)).ravel()
    np.testing.assert_allclose(sums, 1.0)
    assert w.to_dense_frame().loc["A", "B"] == pytest.approx(1 / 3)
    assert w.to_dense_frame().loc["B", "A"] == pytest.approx(1 / 4)


def test_island_rules() -> None:
    regions = grid_regions(extra_island=True)
    with pytest.raises(InputError, match="island"):
        queen_weights(regions, island_rule="error")
    nearest = queen_weights(regions, island_rule="nearest")
    assert nearest.islands == ("I",)
    # the island's nearest centroid is D (1.5, 1.5) vs E (2.5, 0.5): D is closer to (10.5, 10.5)
    assert nearest.added_links == (("I", "D"),)
    dense = nearest.weights.to_dense_frame()
    assert dense.loc["I", "D"] == 1 and dense.loc["D", "I"] == 1
    dropped = queen_weights(regions, island_rule="drop")
    assert "I" not in dropped.weights.ids
    kept = queen_weights(regions, island_rule="keep", row_standardise=True)
    assert kept.weights.islands == ("I",)
    assert kept.weights.matrix[kept.weights.ids.index("I")].nnz == 0


def test_knn_and_distance() -> None:
    regions = grid_regions()
    knn = knn_weights(regions, k=1, row_standardise=False).weights.to_dense_frame()
    assert knn.sum(axis=1).tolist() == [1, 1, 1, 1, 1]
    assert knn.loc["E", "B"] == 1  # E (2.5, .5) is nearest to B (1.5, .5)
    inv = inverse_distance_weights(regions, power=1.0, row_standardise=False).weights.to_dense_frame()
    d_ab = haversine_km(np.array([0.5]), np.array([0.5]), np.array([1.5]), np.array([0.5]))[0]
    assert inv.loc["A", "B"] == pytest.approx(1 / d_ab)
    assert d_ab == pytest.approx(111.19, abs=0.05)  # one degree of longitude at the equator


def test_edge_list_round_trip_keeps_islands_and_order() -> None:
    mat = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float))
    w = SpatialWeights(("b", "a", "z"), mat, "binary", "test")
    edges = w.to_edge_list()
    assert edges[["i", "j"]].astype(object).where(edges[["i", "j"]].notna(), None).values.tolist() == [
        ["b", "a"],
        ["a", "b"],
        ["z", None],
    ]
    back = SpatialWeights.from_edge_list(edges, ids=list(w.ids))
    assert back.ids == w.ids
    assert (back.matrix != w.matrix).nnz == 0
    assert back.islands == ("z",)


def test_weights_validation() -> None:
    with pytest.raises(InputError, match="non-zero diagonal"):
        SpatialWeights(("a", "b"), sp.csr_matrix(np.eye(2)))
    with pytest.raises(InputError, match="2x2 but 3 ids"):
        SpatialWeights(("a", "b", "c"), sp.csr_matrix((2, 2)))
    with pytest.raises(InputError, match="w_ids"):
        as_weights(sp.csr_matrix((2, 2)))
    frame = pd.DataFrame([[1, 0], [0, 1]], index=["x", "y"], columns=["y", "x"], dtype=float)
    w = as_weights(frame)  # columns reordered to the index order
    assert w.ids == ("x", "y") and w.matrix[0, 1] == 1
    with pytest.raises(InputError, match="not in the weights"):
        w.index_of(["q"])
