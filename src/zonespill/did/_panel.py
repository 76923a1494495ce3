"""Input checks, wide panel layout and cluster-robust helpers shared by the DiD estimators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zonespill.errors import InputError

ClusterSpec = str | tuple[str, str] | None

SOURCE = "data"


def _rows(mask: np.ndarray) -> list[int]:
    """1-based data rows where ``mask`` is true."""
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def check_columns(data: pd.DataFrame, columns: dict[str, str | None]) -> None:
    """Raise InputError unless every named column exists."""
    if not isinstance(data, pd.DataFrame):
        raise InputError("expected a pandas DataFrame", source="data", rows="all")
    for arg, col in columns.items():
        if col is None:
            continue
        if col not in data.columns:
            raise InputError(f"column named by `{arg}` is not in the data", source=SOURCE, rows="all",
                         column=col)


def cluster_columns(cluster: ClusterSpec) -> tuple[str, ...]:
    """Normalise the ``cluster`` argument to a tuple of one or two column names."""
    if cluster is None:
        return ()
    if isinstance(cluster, str):
        return (cluster,)
    if isinstance(cluster, tuple | list) and len(cluster) in (1, 2) \
            and all(isinstance(c, str) for c in cluster):
        return tuple(cluster)
    raise InputError("`cluster` must be a column name or a tuple of two column names", source="cluster")


def numeric_column(data: pd.DataFrame, col: str, *, allow_missing: bool = False) -> np.ndarray:
    """Column as float64, refusing non-numeric values and (unless allowed) missing ones."""
    s = data[col]
    try:
        v = pd.to_numeric(s, errors="raise").to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        bad = pd.to_numeric(s, errors="coerce").isna().to_numpy() & s.notna().to_numpy()
        raise InputError("values are not numeric", source=SOURCE, rows=_rows(bad), column=col) from exc
    if not allow_missing and np.isnan(v).any():
        raise InputError("missing values are not allowed", source=SOURCE, rows=_rows(np.isnan(v)),
                         column=col)
    if np.isinf(v).any():
        raise InputError("infinite values are not allowed", source=SOURCE, rows=_rows(np.isinf(v)),
                         column=col)
    return v


def cohort_column(data: pd.DataFrame, col: str) -> np.ndarray:
    """First-treatment period; missing is coded 0 (never treated)."""
    g = numeric_column(data, col, allow_missing=True)
    g = np.where(np.isnan(g), 0.0, g)
    if (g < 0).any():
        raise InputError("cohort must be >= 0 (0 or missing = never treated)", source=SOURCE,
                         rows=_rows(g < 0), column=col)
    return g


@dataclass(frozen=True)
class WidePanel:
    """A balanced panel in wide layout: ``Y[i, s]`` for unit ``i`` at ``times[s]``."""

    units: np.ndarray  # (n,) unit labels, sorted
    times: np.ndarray  # (T,) sorted periods
    Y: np.ndarray  # (n, T)
    cohort: np.ndarray  # (n,)
    X: np.ndarray | None  # (n, T, k) covariates or None
    clusters: tuple[np.ndarray, ...]  # each (n,) integer codes, constant within unit


def to_wide(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] | None = None,
    cluster: ClusterSpec = None,
) -> WidePanel:
    """Validate a long panel and reshape to wide; refuses unbalanced panels and duplicates."""
    ccols = cluster_columns(cluster)
    covs = list(covariates or [])
    check_columns(data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort,
                         **{f"covariates[{i}]": c for i, c in enumerate(covs)},
                         **{f"cluster[{i}]": c for i, c in enumerate(ccols)}})
    y = numeric_column(data, outcome)
    t = numeric_column(data, time)
    g = cohort_column(data, cohort)
    if data[unit].isna().any():
        raise InputError("missing unit ids", source=SOURCE, rows=_rows(data[unit].isna().to_numpy()),
                         column=unit)
    ucodes, units = pd.factorize(data[unit], sort=True)
    tcodes, times = pd.factorize(t, sort=True)
    n, T = len(units), len(times)
    key = ucodes.astype(np.int64) * T + tcodes
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(f"duplicate ({unit}, {time}) rows", source=SOURCE, rows=_rows(dup), column=time)
    if len(key) != n * T:
        counts = np.bincount(ucodes, minlength=n)
        short = np.isin(ucodes, np.flatnonzero(counts < T))
        raise InputError(
            f"unbalanced panel: {int((counts < T).sum())} unit(s) are not observed in all {T} periods; "
            "this estimator needs a balanced panel (R did's panel=TRUE); balance the panel first",
            source=SOURCE, rows=_rows(short), column=unit)
    Y = np.empty((n, T))
    Y[ucodes, tcodes] = y
    G = np.zeros(n)
    G[ucodes] = g
    Gfull = np.empty((n, T))
    Gfull[ucodes, tcodes] = g
    varies = (Gfull != Gfull[:, :1]).any(axis=1)
    if varies.any():
        raise InputError("cohort varies within unit", source=SOURCE,
                         rows=_rows(np.isin(ucodes, np.flatnonzero(varies))), column=cohort)
    X = None
    if covs:
        X = np.empty((n, T, len(covs)))
        for j, c in enumerate(covs):
            X[ucodes, tcodes, j] = numeric_column(data, c)
    clusters = []
    for c in ccols:
        codes, _ = pd.factorize(data[c], sort=True)
        if (codes < 0).any():
            raise InputError("missing cluster ids", source=SOURCE, rows=_rows(codes < 0), column=c)
        C = np.empty((n, T), dtype=np.int64)
        C[ucodes, tcodes] = codes
        if (C[:, :1] != C).any():
            bad = np.isin(ucodes, np.flatnonzero((C[:, :1] != C).any(axis=1)))
            raise InputError("cluster id varies within unit", source=SOURCE, rows=_rows(bad), column=c)
        clusters.append(C[:, 0].copy())
    return WidePanel(units=np.asarray(units), times=np.asarray(times, dtype=float), Y=Y, cohort=G, X=X,
                     clusters=tuple(clusters))


def indicator(codes: np.ndarray) -> sp.csr_matrix:
    """Sparse n × G membership matrix for integer codes 0..G-1."""
    codes = np.asarray(codes)
    _, inv = np.unique(codes, return_inverse=True)
    n = len(codes)
    return sp.csr_matrix((np.ones(n), (np.arange(n), inv)), shape=(n, int(inv.max()) + 1 if n else 0))


def intersect_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer codes of the intersection clusters (a, b)."""
    return pd.factorize(pd.MultiIndex.from_arrays([a, b]))[0]


def cluster_meat(scores: np.ndarray, clusters: Sequence[np.ndarray]) -> np.ndarray:
    """Σ_c s_c s_c' with s_c the within-cluster sums of the rows of ``scores`` (n × K).

    One clustering dimension: plain cluster sums (each unit its own cluster when ``clusters`` is
    empty).  Two dimensions: Cameron–Gelbach–Miller inclusion–exclusion M_a + M_b − M_ab.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    if len(clusters) == 0:
        return scores.T @ scores

    def one(codes: np.ndarray) -> np.ndarray:
        S = indicator(codes).T @ scores
        return np.asarray(S.T @ S)

    if len(clusters) == 1:
        return one(clusters[0])
    a, b = clusters
    return one(a) + one(b) - one(intersect_codes(a, b))


def n_clusters(clusters: Sequence[np.ndarray], n: int) -> int:
    """Number of clusters (the smaller dimension for two-way clustering)."""
    if not clusters:
        return n
    return min(len(np.unique(c)) for c in clusters)


def psd_diag_sqrt(V: np.ndarray) -> np.ndarray:
    """Square roots of a covariance diagonal (negative entries from inclusion–exclusion → NaN)."""
    d = np.diag(V).copy()
    out = np.full(d.shape, np.nan)
    ok = d >= 0
    out[ok] = np.sqrt(d[ok])
    return out
