"""Input validation and panel assembly for the spatial estimators.

Everything here is about *which number belongs to which unit and period*: the
weights carry their ids, data rows may come in any order, and the panel arrays are
laid out time-major as ``(T, n)`` / ``(T, n, k)`` in the weights' unit order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zonespill.errors import InputError
from zonespill.weights import SpatialWeights, as_weights

EFFECTS = ("individual", "time", "twoways")


@dataclass(frozen=True)
class Panel:
    """A balanced panel in the weights' unit order (time-major arrays)."""

    y: np.ndarray  # (T, n)
    X: np.ndarray  # (T, n, k)
    x_names: tuple[str, ...]
    units: tuple[str, ...]
    times: tuple[Any, ...]
    W: sp.csr_matrix
    weights: SpatialWeights

    @property
    def n(self) -> int:
        return len(self.units)

    @property
    def T(self) -> int:
        return len(self.times)


def coerce_weights(W: object, w_ids: Sequence[str] | None) -> SpatialWeights:
    """Weights with ids; a bare matrix needs ``w_ids`` and must be square."""
    if sp.issparse(W) or isinstance(W, np.ndarray):
        shape = W.shape  # type: ignore[union-attr]
        if len(shape) != 2 or shape[0] != shape[1]:
            raise InputError(f"weights matrix must be square, got shape {shape}", source="W")
        if w_ids is not None and len(w_ids) != shape[0]:
            raise InputError(f"w_ids has {len(w_ids)} ids but W has {shape[0]} rows", source="w_ids")
    if isinstance(W, pd.DataFrame):
        if W.shape[0] != W.shape[1]:
            raise InputError(f"weights DataFrame must be square, got shape {W.shape}", source="W")
        if w_ids is not None:
            raise InputError(
                "w_ids is only for a bare sparse matrix; a DataFrame carries its ids", source="w_ids"
            )
    try:
        return as_weights(W, w_ids=w_ids)
    except TypeError as exc:
        raise InputError(str(exc), source="W") from exc


def _check_columns(data: pd.DataFrame, cols: Sequence[str], source: str = "data") -> None:
    for c in cols:
        if c not in data.columns:
            raise InputError("column not found in data", source=source, column=c)


def build_panel(
    data: pd.DataFrame,
    weights: SpatialWeights,
    *,
    y: str,
    x: Sequence[str],
    unit: str,
    time: str | None,
) -> Panel:
    """Validate ``data`` against ``weights`` and return the (T, n) arrays.

    ``time=None`` means a single cross-section (T = 1).
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame", source="data")
    x = list(x)
    if len(x) == 0:
        raise InputError("at least one regressor is needed", source="x")
    if len(set(x)) != len(x):
        raise InputError(f"duplicated regressors in x: {x}", source="x")
    if y in x:
        raise InputError("the dependent variable is also a regressor", source="x", column=y)
    cols = [y, *x, unit] + ([time] if time is not None else [])
    _check_columns(data, cols)
    df = data.reset_index(drop=True)
    for c in [y, *x]:
        vals = pd.to_numeric(df[c], errors="coerce")
        bad = vals.isna() | ~np.isfinite(vals.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            raise InputError(
                "missing or non-numeric value",
                source="data",
                rows=(np.flatnonzero(bad.to_numpy()) + 1).tolist(),
                column=c,
            )
    uid = df[unit].astype(str)
    if df[unit].isna().any():
        raise InputError(
            "missing unit id", source="data", rows=(np.flatnonzero(df[unit].isna()) + 1).tolist(), column=unit
        )
    w_ids = list(weights.ids)
    w_set = set(w_ids)
    d_set = set(uid)
    not_in_w = sorted(d_set - w_set)
    if not_in_w:
        rows = (np.flatnonzero(uid.isin(not_in_w).to_numpy()) + 1).tolist()
        raise InputError(
            f"units in data but not in the weights: {not_in_w[:20]}", source="data", rows=rows, column=unit
        )
    not_in_d = [u for u in w_ids if u not in d_set]
    if not_in_d:
        raise InputError(
            f"units in the weights but absent from data: {not_in_d[:20]} (subset the weights explicitly with "
            "SpatialWeights.reorder and decide on re-standardisation)",
            source="W",
        )
    if time is None:
        tkey = pd.Series(np.zeros(len(df), dtype=np.int64))
    else:
        if df[time].isna().any():
            raise InputError(
                "missing time value",
                source="data",
                rows=(np.flatnonzero(df[time].isna()) + 1).tolist(),
                column=time,
            )
        tkey = df[time]
    dup = pd.DataFrame({"u": uid, "t": tkey}).duplicated(keep=False)
    if dup.any():
        raise InputError(
            "duplicated (unit, time) observations",
            source="data",
            rows=(np.flatnonzero(dup.to_numpy()) + 1).tolist(),
            column=f"{unit},{time}",
        )
    times = sorted(pd.unique(tkey))
    n, T = len(w_ids), len(times)
    if len(df) != n * T:
        have = pd.crosstab(uid, tkey)
        missing = []
        for u in have.index:
            gone = [t for t in have.columns if have.loc[u, t] == 0]
            if gone:
                missing.append(f"{u}: {gone[:10]}")
        raise InputError(
            "unbalanced panel, the ML estimators need every unit in every period; missing (unit: periods) "
            + "; ".join(missing[:20])
            + (f" … (+{len(missing) - 20} more units)" if len(missing) > 20 else ""),
            source="data",
            column=f"{unit},{time}",
        )
    upos = {u: i for i, u in enumerate(w_ids)}
    tpos = {t: i for i, t in enumerate(times)}
    ui = uid.map(upos).to_numpy(dtype=np.int64)
    ti = np.array([tpos[t] for t in tkey], dtype=np.int64)
    Y = np.empty((T, n))
    Y[ti, ui] = df[y].to_numpy(dtype=float)
    X = np.empty((T, n, len(x)))
    X[ti, ui, :] = df[x].to_numpy(dtype=float)
    return Panel(Y, X, tuple(x), tuple(w_ids), tuple(times), weights.matrix.tocsr(), weights)


# ---------------------------------------------------------------------------- transforms
def demean(a: np.ndarray, effects: str) -> np.ndarray:
    """Within transformation of a time-major array ``(T, n, ...)``."""
    if effects == "none":
        return a.copy()
    if effects == "individual":
        return a - a.mean(axis=0, keepdims=True)
    if effects == "time":
        return a - a.mean(axis=1, keepdims=True)
    if effects == "twoways":
        return (
            a
            - a.mean(axis=0, keepdims=True)
            - a.mean(axis=1, keepdims=True)
            + a.mean(axis=(0, 1), keepdims=True)
        )
    raise InputError(f"effects must be one of {EFFECTS}, got {effects!r}", source="effects")


def spatial_lag(W: sp.csr_matrix, a: np.ndarray) -> np.ndarray:
    """``W`` applied to each period of a ``(T, n)`` or ``(T, n, m)`` array."""
    T, n = a.shape[0], a.shape[1]
    rest = a.shape[2:]
    flat = np.moveaxis(a.reshape(T, n, -1), 1, 0).reshape(n, -1)
    out = np.asarray(W @ flat).reshape(n, T, -1)
    return np.moveaxis(out, 0, 1).reshape((T, n, *rest))


def durbin_list(
    x: Sequence[str], durbin: Sequence[str] | None, *, has_wx: bool, not_applicable: str
) -> list[str]:
    """The regressors that get a spatial lag (default all of ``x``); ``not_applicable`` is the error
    when the model has no W X terms but ``durbin`` is given."""
    if durbin is not None and not has_wx:
        raise InputError(not_applicable, source="durbin")
    dlist = list(x if durbin is None else durbin) if has_wx else []
    if has_wx and not dlist:
        raise InputError("durbin= must name at least one regressor", source="durbin")
    bad = [d for d in dlist if d not in x]
    if bad:
        raise InputError(f"durbin regressors not in x: {bad}", source="durbin")
    return dlist


def durbin_lags(
    W: sp.csr_matrix, X: np.ndarray, x: Sequence[str], dlist: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """``W X`` of the durbin regressors (columns of ``X`` named by ``x``) and their names ``W_<x>``."""
    di = [list(x).index(d) for d in dlist]
    return spatial_lag(W, X[:, :, di]), [f"W_{d}" for d in dlist]


def require_cross_unit(spec: Any, weights: SpatialWeights, what: str) -> None:
    """The Lee-Yu cross-unit transformation needs row-standardised weights without islands."""
    if not (spec.row_standardised and spec.no_islands):
        raise InputError(
            f"{what} needs row-standardised weights without islands (islands: {list(weights.islands)[:10]})",
            source="W",
        )


def within(
    y: np.ndarray, Zraw: np.ndarray, names: Sequence[str], effects: str
) -> tuple[np.ndarray, np.ndarray]:
    """Demeaned outcome and regressors; regressors left without variation or collinear are refused."""
    yt = demean(y, effects)
    Zt = demean(Zraw, effects)
    check_collinear(Zt, Zraw, names, effects)
    return yt, Zt


def lag_operator(W: sp.csr_matrix, effects: str, *, project: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The spatial lag of the likelihood; with ``project`` (a cross-unit / orthonormal transformation
    of the data) the lag is transformed like the data."""
    if project:

        def lag(v: np.ndarray) -> np.ndarray:
            return demean(spatial_lag(W, v), effects)

    else:

        def lag(v: np.ndarray) -> np.ndarray:
            return spatial_lag(W, v)

    return lag


def check_collinear(Z: np.ndarray, Zraw: np.ndarray, names: Sequence[str], effects: str) -> None:
    """Refuse regressors absorbed by the fixed effects or collinear with others."""
    N = Z.shape[0] * Z.shape[1]
    Zf = Z.reshape(N, -1)
    Rf = Zraw.reshape(N, -1)
    for j, nm in enumerate(names):
        raw_scale = max(float(np.sqrt(np.mean(Rf[:, j] ** 2))), 1e-300)
        if float(np.sqrt(np.mean(Zf[:, j] ** 2))) <= 1e-10 * raw_scale:
            raise InputError(
                f"regressor '{nm}' is perfectly collinear with the {effects} fixed effects "
                "(no variation left after the within transformation)",
                source="x",
                column=nm,
            )
    scale = np.sqrt((Zf**2).mean(axis=0))
    Zs = Zf / scale
    r = np.asarray(np.linalg.qr(Zs, mode="r"))
    for j in range(1, Zs.shape[1]):
        if abs(r[j, j]) < 1e-9 * np.sqrt(N):
            raise InputError(
                f"regressor '{names[j]}' is perfectly collinear with {list(names[:j])} (given the {effects} "
                "fixed effects)",
                source="x",
                column=names[j],
            )
