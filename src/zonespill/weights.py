"""Spatial weights that carry their unit ids.

A :class:`SpatialWeights` is an ``n x n`` sparse matrix plus the tuple of unit ids that
labels its rows and columns, so an estimator never has to guess the order of units.
Weights are stored and exchanged as a sparse edge list ``(i, j, w)`` (Parquet/CSV).

Builders from geometry (queen contiguity, k nearest neighbours, inverse distance) use
libpysal; see :mod:`zonespill.geography` for the polygons they start from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zonespill.contract import reject_rows
from zonespill.errors import InputError

Transform = Literal["binary", "row", "distance", "given"]


@dataclass(frozen=True)
class SpatialWeights:
    """Sparse spatial weights with explicit unit ids.

    Parameters
    ----------
    ids
        Unit id of each row/column, in matrix order (strings).
    matrix
        ``n x n`` CSR matrix, ``matrix[i, j]`` is the weight of unit ``j`` in the
        spatial lag of unit ``i``. Diagonal must be zero.
    transform
        How the weights were scaled: ``binary`` (0/1), ``row`` (rows sum to one,
        islands keep a zero row), ``distance`` (inverse distance, unscaled) or
        ``given`` (as read from a user file).
    kind
        Free text describing how they were built (e.g. ``"queen"``, ``"knn(k=4)"``).
    """

    ids: tuple[str, ...]
    matrix: sp.csr_matrix = field(repr=False)
    transform: Transform = "given"
    kind: str = "given"

    def __post_init__(self) -> None:
        mat = sp.csr_matrix(self.matrix, dtype=float)
        n = len(self.ids)
        if mat.shape != (n, n):
            raise InputError(
                f"weights matrix is {mat.shape[0]}x{mat.shape[1]} but {n} ids were given",
                source="weights",
            )
        if len(set(self.ids)) != n:
            dup = pd.Series(self.ids)
            rows = (np.flatnonzero(dup.duplicated(keep=False).to_numpy()) + 1).tolist()
            raise InputError("duplicate unit ids in weights", source="weights", rows=rows, column="id")
        if not np.all(np.isfinite(mat.data)):
            raise InputError("weights contain NaN or infinite values", source="weights", column="w")
        if (mat.data < 0).any():
            raise InputError("weights must be non-negative", source="weights", column="w")
        if mat.diagonal().any():
            bad = (np.flatnonzero(mat.diagonal()) + 1).tolist()
            raise InputError(
                "weights have a non-zero diagonal (self-neighbours)", source="weights", rows=bad, column="w"
            )
        mat.eliminate_zeros()
        mat.sort_indices()
        object.__setattr__(self, "ids", tuple(str(i) for i in self.ids))
        object.__setattr__(self, "matrix", mat)

    # ------------------------------------------------------------------ basic facts
    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.ids)

    @property
    def islands(self) -> tuple[str, ...]:
        """Ids of units with no neighbour (zero row)."""
        row_sums = np.asarray(self.matrix.sum(axis=1)).ravel()
        return tuple(i for i, s in zip(self.ids, row_sums, strict=True) if s == 0)

    @property
    def is_row_standardised(self) -> bool:
        """True when every non-island row sums to one (to 1e-12)."""
        row_sums = np.asarray(self.matrix.sum(axis=1)).ravel()
        nonzero = row_sums != 0
        return bool(np.allclose(row_sums[nonzero], 1.0, atol=1e-12, rtol=0))

    @property
    def is_symmetric(self) -> bool:
        diff = self.matrix - self.matrix.T
        return bool(abs(diff).max() < 1e-14) if diff.nnz else True

    def index_of(self, unit_ids: Sequence[str]) -> np.ndarray:
        """Positions of ``unit_ids`` in the matrix order; unknown ids raise."""
        pos = {u: k for k, u in enumerate(self.ids)}
        missing = [u for u in unit_ids if str(u) not in pos]
        if missing:
            raise InputError(f"unit ids not in the weights: {missing[:10]}", source="weights", column="id")
        return np.array([pos[str(u)] for u in unit_ids], dtype=np.int64)

    # ------------------------------------------------------------------ transforms
    def row_standardise(self) -> SpatialWeights:
        """Return row-standardised weights; islands keep an all-zero row."""
        row_sums = np.asarray(self.matrix.sum(axis=1)).ravel()
        inv = np.divide(1.0, row_sums, out=np.zeros_like(row_sums), where=row_sums != 0)
        return SpatialWeights(self.ids, sp.diags(inv) @ self.matrix, "row", self.kind)

    def reorder(self, unit_ids: Sequence[str]) -> SpatialWeights:
        """Return the weights permuted (and possibly subset) to ``unit_ids``.

        Subsetting keeps the original weights of the remaining links; it does not
        re-standardise (call :meth:`row_standardise` explicitly if wanted).
        """
        idx = self.index_of(unit_ids)
        sub = self.matrix[idx][:, idx]
        return SpatialWeights(tuple(str(u) for u in unit_ids), sub, self.transform, self.kind)

    def drop_islands(self) -> SpatialWeights:
        keep = [u for u in self.ids if u not in set(self.islands)]
        return self.reorder(keep)

    def to_dense_frame(self) -> pd.DataFrame:
        """Dense DataFrame (index and columns = ids). Only for small n."""
        if self.n > 5000:
            raise ValueError("refusing to densify weights with more than 5000 units")
        return pd.DataFrame(self.matrix.toarray(), index=list(self.ids), columns=list(self.ids))

    # ------------------------------------------------------------------ edge lists
    def to_edge_list(self) -> pd.DataFrame:
        """Sparse edge list with columns ``i, j, w`` (string ids), sorted by (i, j).

        Islands are kept as rows ``(i, <NA>, 0.0)`` so the id set round-trips.
        """
        coo = self.matrix.tocoo()
        ids = np.asarray(self.ids, dtype=object)
        edges = pd.DataFrame({"i": ids[coo.row], "j": ids[coo.col], "w": coo.data})
        islands = pd.DataFrame({"i": list(self.islands), "j": [None] * len(self.islands), "w": 0.0})
        out = pd.concat([edges, islands], ignore_index=True) if len(islands) else edges
        order = {u: k for k, u in enumerate(self.ids)}
        out["_oi"] = out["i"].map(order)
        out["_oj"] = out["j"].map(order).fillna(-1)
        out = out.sort_values(["_oi", "_oj"], kind="mergesort").drop(columns=["_oi", "_oj"])
        out["i"] = out["i"].astype("string")
        out["j"] = out["j"].astype("string")
        return out.reset_index(drop=True)

    @classmethod
    def from_edge_list(
        cls,
        edges: pd.DataFrame,
        *,
        ids: Sequence[str] | None = None,
        source: str = "weights edge list",
        transform: Transform = "given",
        kind: str = "given",
    ) -> SpatialWeights:
        """Build weights from an edge list with columns ``i, j, w``.

        ``ids`` fixes the unit order (and may include islands); otherwise the order
        of first appearance in column ``i`` is used, with rows whose ``j`` is missing
        declaring islands. Every ``j`` must be a known id.
        """
        for col in ("i", "j", "w"):
            if col not in edges.columns:
                raise InputError("missing required column", source=source, column=col)
        i = edges["i"].astype("string")
        j = edges["j"].astype("string")
        w = pd.to_numeric(edges["w"], errors="coerce")
        bad_w = w.isna() & edges["w"].notna()
        reject_rows(bad_w, "weight is not a number", source=source, column="w")
        reject_rows(i.isna(), "missing origin id", source=source, column="i")
        if ids is None:
            ids = list(dict.fromkeys(i.tolist()))
        id_list = [str(u) for u in ids]
        pos = {u: k for k, u in enumerate(id_list)}
        link = j.notna()
        unknown_i = ~i.isin(id_list)
        reject_rows(unknown_i, "id not in the weights' id list", source=source, column="i")
        unknown_j = link & ~j.isin(id_list)
        reject_rows(unknown_j, "neighbour id is not a unit of the weights", source=source, column="j")
        dup = edges.loc[link, ["i", "j"]].astype(str).duplicated(keep=False)
        if dup.any():
            rows = (np.flatnonzero(link)[np.flatnonzero(dup.to_numpy())] + 1).tolist()
            raise InputError("duplicate edge (i, j)", source=source, rows=rows, column="i,j")
        rows_idx = np.array([pos[u] for u in i[link]], dtype=np.int64)
        cols_idx = np.array([pos[u] for u in j[link]], dtype=np.int64)
        mat = sp.csr_matrix(
            (w[link].to_numpy(dtype=float), (rows_idx, cols_idx)), shape=(len(id_list), len(id_list))
        )
        return cls(tuple(id_list), mat, transform, kind)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, transform: Transform = "given") -> SpatialWeights:
        """From a dense DataFrame whose index and columns are the same unit ids."""
        idx = [str(u) for u in frame.index]
        cols = [str(c) for c in frame.columns]
        if idx != cols:
            if sorted(idx) != sorted(cols):
                raise InputError("weights DataFrame index and columns hold different ids", source="W")
            frame = frame.loc[:, [c for c in frame.columns if str(c) in idx]]
            frame.columns = [str(c) for c in frame.columns]
            frame = frame[idx]
        return cls(tuple(idx), sp.csr_matrix(frame.to_numpy(dtype=float)), transform, "given")

    @classmethod
    def from_sparse(
        cls, matrix: Any, *, w_ids: Sequence[str], transform: Transform = "given"
    ) -> SpatialWeights:
        return cls(tuple(str(u) for u in w_ids), sp.csr_matrix(matrix), transform, "given")


def as_weights(W: object, *, w_ids: Sequence[str] | None = None) -> SpatialWeights:
    """Coerce a DataFrame, :class:`SpatialWeights` or scipy sparse matrix (with ``w_ids``)."""
    if isinstance(W, SpatialWeights):
        return W
    if isinstance(W, pd.DataFrame):
        return SpatialWeights.from_frame(W)
    if sp.issparse(W) or isinstance(W, np.ndarray):
        if w_ids is None:
            raise InputError(
                "a bare matrix has no unit ids: pass w_ids= giving the unit id of each row",
                source="W",
            )
        return SpatialWeights.from_sparse(W, w_ids=w_ids)
    raise TypeError(f"cannot use {type(W).__name__} as spatial weights")
