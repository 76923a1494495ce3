r"""Phillips–Sul log-t convergence test and club clustering with merging.

The implementation follows the conventions of the R package ConvergenceClubs 2.2.5
(Sichera and Pizzuto 2019) so that results agree with it digit for digit: see
``docs/methods/convergence.md`` for the equations and ``docs/decisions/convergence.md``
for every convention (rounding of the trimmed sample, long-run variance, tie-breaking).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.convergence._data import wide_panel
from zonespill.convergence.hp import hp_filter
from zonespill.errors import EstimationError, InputError

THRESHOLD = -1.65
"""One-sided 5 % critical value of the log-t statistic used throughout the algorithm."""

MergeMethod = Literal["PS", "vLT"]
CoreRule = Literal["abs_t", "t"]
"""Core-group size: largest |t| (ConvergenceClubs, default) or largest t (Phillips–Sul 2007)."""


# ----------------------------------------------------------------------------- log-t regression
@dataclass(frozen=True)
class LogTResult:
    r"""Result of one log-t regression.

    Attributes
    ----------
    beta, se, t
        Slope :math:`\hat b` on :math:`\log t`, its HAC standard error and
        :math:`t = \hat b / \mathrm{se}`.
    pvalue
        One-sided (lower tail) normal p-value :math:`\Phi(t)` of :math:`H_0: b \ge 0`.
    alpha
        Intercept.
    nobs
        Number of periods in the regression (after trimming).
    n_units
        Number of units whose cross-sectional variation was used.
    bandwidth
        Andrews (1991) automatic bandwidth of the Quadratic Spectral kernel.
    """

    beta: float
    se: float
    t: float
    pvalue: float
    alpha: float
    nobs: int
    n_units: int
    bandwidth: float

    def to_series(self) -> pd.Series:
        """The numbers as a Series (``beta, se, t, pvalue, alpha, nobs, n_units, bandwidth``)."""
        return pd.Series(
            {
                "beta": self.beta,
                "se": self.se,
                "t": self.t,
                "pvalue": self.pvalue,
                "alpha": self.alpha,
                "nobs": self.nobs,
                "n_units": self.n_units,
                "bandwidth": self.bandwidth,
            }
        )


def _cross_sectional_variation(X: np.ndarray) -> np.ndarray:
    r""":math:`H_t = N^{-1}\sum_i (h_{it} - 1)^2` with :math:`h_{it} = x_{it} / (N^{-1}\sum_j x_{jt})`."""
    h = X / X.mean(axis=0)
    return np.asarray(((h - 1.0) ** 2).mean(axis=0), dtype=float)


def _qs_long_run_variance(u: np.ndarray) -> tuple[float, float]:
    r"""Long-run variance of the residuals: QS kernel, Andrews' AR(1) plug-in bandwidth.

    With :math:`\hat\rho` the no-intercept AR(1) coefficient of :math:`u`,
    :math:`\hat a = 4\hat\rho^2/(1-\hat\rho)^4` and bandwidth
    :math:`S = 1.3221 (\hat a T)^{1/5}`; QS weights
    :math:`k_j = 3/z_j^2\,(\sin z_j / z_j - \cos z_j)`, :math:`z_j = 1.2\pi j/S`.
    As in ConvergenceClubs' ``FQSB`` (an adaptation of Phillips and Sul's GAUSS code),
    autocovariances are taken over the first :math:`T-1` residuals and every term is
    divided by :math:`T-1`:
    :math:`\hat\Omega = [u'u + 2\sum_{j=1}^{T-2} k_j \sum_{s=1}^{T-1-j} u_s u_{s+j}]/(T-1)`.
    """
    T = u.size
    u1, u2 = u[:-1], u[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = float(u1 @ u2) / float(u1 @ u1)
        a = 4.0 * rho**2 / (1.0 - rho) ** 4
        bw = 1.3221 * (a * T) ** 0.2
        lags = np.arange(1, T - 1)
        z = 1.2 * math.pi * lags / bw
        k = (np.sin(z) / z - np.cos(z)) * (3.0 / z**2)
    # bandwidth 0 (white residuals): the QS weights tend to zero beyond lag 0
    k = np.where(np.isinf(z), 0.0, k)
    T2 = T - 1
    head = u[:T2]
    gammas = np.array([head[: T2 - j] @ head[j:T2] for j in lags], dtype=float)
    lrv = (float(u @ u) + 2.0 * float(k @ gammas)) / T2
    return lrv, bw


def _trim_start(n_periods: int, time_trim: float) -> int:
    """Number of leading periods dropped: R's ``round(T * time_trim)`` (half to even)."""
    return int(np.rint(n_periods * time_trim))


def _log_t_from_H(H: np.ndarray, time_trim: float, n_units: int) -> LogTResult:
    r"""Log-t regression on a path of cross-sectional variation ``H`` (length T)."""
    T = H.size
    r0 = _trim_start(T, time_trim)
    rT = np.arange(r0 + 1, T + 1, dtype=float)
    logt = np.log(rT)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(H[0] / H[r0:]) - 2.0 * np.log(logt)
    Z = np.column_stack([np.ones_like(logt), logt])
    if not np.all(np.isfinite(y)):
        nan = float("nan")
        return LogTResult(nan, nan, nan, nan, nan, int(rT.size), n_units, nan)
    ZtZ_inv = np.linalg.inv(Z.T @ Z)
    coef = ZtZ_inv @ (Z.T @ y)
    resid = y - Z @ coef
    lrv, bw = _qs_long_run_variance(resid)
    se = math.sqrt(ZtZ_inv[1, 1] * lrv) if lrv >= 0 else float("nan")
    b = float(coef[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = b / se if se > 0 else float("nan")
    p = float(stats.norm.cdf(t)) if np.isfinite(t) else float("nan")
    return LogTResult(b, se, t, p, float(coef[0]), int(rT.size), n_units, float(bw))


def _check_options(time_trim: float, hac: str, n_periods: int, source: str) -> None:
    if hac != "FQSB":
        raise InputError(
            f"hac={hac!r} is not supported; only 'FQSB' (QS kernel, Andrews bandwidth) is implemented",
            source=source,
            column="hac",
        )
    if not (isinstance(time_trim, (int, float)) and 0 < time_trim <= 1):
        raise InputError(f"time_trim must be in (0, 1], got {time_trim!r}", source=source, column="time_trim")
    if n_periods - _trim_start(n_periods, time_trim) < 3:
        raise InputError(
            f"{n_periods} periods leave fewer than 3 after trimming {time_trim:.4g} of them",
            source=source,
            rows="all",
            column="time_trim",
        )


def log_t_test(
    data: pd.DataFrame | np.ndarray,
    *,
    value: str | None = None,
    unit: str | None = None,
    time: str | None = None,
    time_trim: float = 1 / 3,
    hac: str = "FQSB",
) -> LogTResult:
    r"""Phillips–Sul log-t convergence test.

    With :math:`h_{it} = x_{it} / (N^{-1}\sum_j x_{jt})` (relative transition path) and
    :math:`H_t = N^{-1}\sum_i (h_{it}-1)^2`, estimate by OLS for
    :math:`t = [rT]+1, \dots, T`

    .. math::

        \log(H_1/H_t) - 2\log\log t = \alpha + b \log t + u_t ,

    with :math:`r` = ``time_trim`` and :math:`[\cdot]` R's rounding (half to even).
    The standard error of :math:`\hat b` is :math:`\sqrt{(Z'Z)^{-1}_{22}\,\hat\Omega}` with
    :math:`\hat\Omega` the long-run variance of the residuals (Quadratic Spectral kernel,
    Andrews' automatic bandwidth — ConvergenceClubs' ``HACmethod="FQSB"``).
    Convergence is rejected at 5 % when :math:`t_{\hat b} < -1.65`.

    Parameters
    ----------
    data
        Either a long table (then give ``value``, ``unit`` and ``time``) or a wide
        units × periods array/DataFrame (rows units, columns periods in time order).
        ``value`` is used as given (typically log income, filtered); it must be positive.
    value, unit, time
        Column names when ``data`` is long.
    time_trim
        Share of initial periods discarded (Phillips and Sul recommend 1/3).
    hac
        Long-run variance estimator; only ``"FQSB"`` is implemented.

    Returns
    -------
    LogTResult
    """
    source = "log_t_test"
    if value is not None or unit is not None or time is not None:
        if value is None or unit is None or time is None or not isinstance(data, pd.DataFrame):
            raise InputError("long data needs all of value, unit and time", source=source, rows="all")
        X = wide_panel(data, value=value, unit=unit, time=time, positive=True, source=source).to_numpy()
    else:
        X = np.asarray(data, dtype=float)
        if X.ndim != 2:
            raise InputError("wide data must be a units x periods matrix", source=source, rows="all")
        bad = ~np.isfinite(X).all(axis=1)
        if bad.any():
            raise InputError(
                "missing or infinite values", source=source, rows=(np.flatnonzero(bad) + 1).tolist()
            )
    if X.shape[0] < 2:
        raise InputError("at least two units are needed", source=source, rows="all")
    _check_options(time_trim, hac, X.shape[1], source)
    res = _log_t_from_H(_cross_sectional_variation(X), time_trim, X.shape[0])
    if not np.isfinite(res.t):
        raise EstimationError("log-t regression is degenerate (zero cross-sectional variation or exact fit)")
    return res


# ----------------------------------------------------------------------------- clustering
class _Panel:
    """Rows sorted by the last period (decreasing); caches nothing, just evaluates t-tests."""

    def __init__(self, X: np.ndarray, time_trim: float) -> None:
        self.X = X
        self.time_trim = time_trim

    def test(self, rows: Sequence[int]) -> LogTResult:
        idx = np.asarray(rows, dtype=int)
        return _log_t_from_H(_cross_sectional_variation(self.X[idx]), self.time_trim, idx.size)

    def passes(self, rows: Sequence[int], bound: float) -> tuple[bool, float]:
        t = self.test(rows).t
        return (bool(np.isfinite(t) and t > bound), t)


def _core_group(
    panel: _Panel, rows: list[int], threshold: float, rule: CoreRule = "abs_t"
) -> list[int] | None:
    """Step 2: the first adjacent pair with t > threshold, grown one unit at a time while
    the test passes; the core is the prefix with the largest |t| (``rule="abs_t"``,
    ConvergenceClubs) or the largest t (``rule="t"``, Phillips and Sul 2007: k* = argmax t_k
    subject to min t_k > -1.65), the first one on ties."""

    def score(t: float) -> float:
        return abs(t) if rule == "abs_t" else t

    nr = len(rows)
    start = None
    t_pair = float("nan")
    for i in range(1, nr):
        ok, t_pair = panel.passes([rows[i - 1], rows[i]], threshold)
        if ok:
            start = i
            break
    if start is None:
        return None
    group = [rows[start - 1], rows[start]]
    best_group, best_abs = list(group), score(t_pair)
    for k in range(start + 1, nr):
        group.append(rows[k])
        ok, t = panel.passes(group, threshold)
        if not ok:
            break
        if score(t) > best_abs:
            best_group, best_abs = list(group), score(t)
    return best_group


def _sieve(panel: _Panel, rows: list[int], core: list[int], cstar: float) -> list[int]:
    """Step 3: add every non-core unit whose log-t with the core exceeds ``cstar``."""
    core_set = set(core)
    added = [r for r in rows if r not in core_set and panel.passes([*core, r], cstar)[0]]
    return [*core, *added]


def _find_clubs(
    panel: _Panel, cstar: float, threshold: float, rule: CoreRule = "abs_t"
) -> tuple[list[list[int]], list[int]]:
    """Steps 1–4 of Phillips and Sul (2007, 2009) on rows already sorted (step 1)."""
    remaining = list(range(panel.X.shape[0]))
    clubs: list[list[int]] = []
    while remaining:
        if len(remaining) == 1:
            return clubs, remaining
        if panel.passes(remaining, threshold)[0]:
            clubs.append(remaining)
            return clubs, []
        core = _core_group(panel, remaining, threshold, rule)
        if core is None:
            return clubs, remaining
        club = _sieve(panel, remaining, core, cstar)
        clubs.append(club)
        members = set(club)
        remaining = [r for r in remaining if r not in members]
    return clubs, []


def _merge_clubs(
    panel: _Panel, clubs: list[list[int]], method: MergeMethod, threshold: float
) -> tuple[list[list[int]], list[list[int]]]:
    """Merge adjacent clubs (Phillips–Sul 2009 or von Lyncker–Thoennessen 2017).

    Returns the merged clubs and, for each, the 0-based indices of the initial clubs in it.
    """
    L = len(clubs)
    if L < 2:
        return [list(c) for c in clubs], [[i] for i in range(L)]
    merged: list[list[int]] = []
    origin: list[list[int]] = []
    i = 0
    while i < L - 1:
        units = list(clubs[i])
        names = [i]
        append_last = False
        k = i + 1
        while k < L:
            ok, t = panel.passes([*units, *clubs[k]], threshold)
            if not ok:
                append_last = k == L - 1
                break
            if method == "vLT" and k <= L - 2:
                t_next = panel.test([*clubs[k], *clubs[k + 1]]).t
                if not t > t_next:
                    break
            units.extend(clubs[k])
            names.append(k)
            k += 1
        merged.append(units)
        origin.append(names)
        if append_last:
            merged.append(list(clubs[L - 1]))
            origin.append([L - 1])
        i = k
    if i == L - 1 and not any(L - 1 in o for o in origin):
        merged.append(list(clubs[L - 1]))
        origin.append([L - 1])
    return merged, origin


# ----------------------------------------------------------------------------- result objects
def _club_frame(panel: _Panel, ids: Sequence[str], clubs: list[list[int]]) -> pd.DataFrame:
    rows = []
    for j, members in enumerate(clubs, start=1):
        res = panel.test(members)
        rows.append(
            {
                "club": j,
                "members": [ids[r] for r in members],
                "n": len(members),
                "beta": res.beta,
                "se": res.se,
                "t": res.t,
                "pvalue": res.pvalue,
                "passes": bool(np.isfinite(res.t) and res.t > THRESHOLD),
            }
        )
    cols = ["club", "members", "n", "beta", "se", "t", "pvalue", "passes"]
    return pd.DataFrame(rows, columns=cols).astype({"club": "int64", "n": "int64", "passes": "bool"})


@dataclass(frozen=True)
class ClubResult:
    """Phillips–Sul club convergence: full-panel log-t test, clubs, divergent units.

    Attributes
    ----------
    logt
        Log-t test on the whole panel.
    clubs
        Final clubs (after merging when ``merge`` is not None): columns ``club`` (1, 2, …
        from the highest last-period value down), ``members`` (list of unit ids), ``n``,
        ``beta``, ``se``, ``t`` and ``pvalue`` of the club's log-t regression, and
        ``passes``: whether the club as a whole passes the log-t test (:math:`t > -1.65`).
        The sieve admits units one at a time against the core, so a club can fail it;
        see :attr:`all_clubs_pass`.
    divergent
        Unit ids that belong to no club.
    initial_clubs
        Clubs found by the clustering algorithm before merging (same columns).
    merged_from
        For each final club, the list of initial club numbers it contains.
    data
        The units × periods matrix used (after logs and the HP filter, if any), rows in the
        order of the last-period sort.
    core
        Core-group rule used (``"abs_t"`` or ``"t"``).
    log
        Whether logs of ``value`` were taken.
    """

    logt: LogTResult
    clubs: pd.DataFrame
    divergent: list[str]
    initial_clubs: pd.DataFrame
    merged_from: list[list[int]]
    merge: MergeMethod | None
    cstar: float
    time_trim: float
    hac: str
    filter: str | None
    hp_lambda: float | None
    data: pd.DataFrame = field(repr=False)
    core: CoreRule = "abs_t"
    log: bool = False

    @property
    def all_clubs_pass(self) -> bool:
        """True when every final club passes the log-t test (t > -1.65)."""
        return bool(self.clubs["passes"].all())

    @property
    def failing_clubs(self) -> list[int]:
        """Numbers of the final clubs whose own log-t test rejects convergence (t <= -1.65)."""
        return [int(c) for c in self.clubs.loc[~self.clubs["passes"], "club"]]

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: ``unit``, ``club`` (<NA> if divergent), ``initial_club``,
        ``divergent`` (bool) and ``last`` (value in the last period, the sorting key)."""
        final = {u: int(c) for c, m in zip(self.clubs["club"], self.clubs["members"], strict=True) for u in m}
        first = {
            u: int(c)
            for c, m in zip(self.initial_clubs["club"], self.initial_clubs["members"], strict=True)
            for u in m
        }
        ids = [str(u) for u in self.data.index]
        out = pd.DataFrame(
            {
                "unit": ids,
                "club": pd.array([final.get(u) for u in ids], dtype="Int64"),
                "initial_club": pd.array([first.get(u) for u in ids], dtype="Int64"),
                "divergent": [u in set(self.divergent) for u in ids],
                "last": self.data.iloc[:, -1].to_numpy(dtype=float),
            }
        )
        return out

    def summary(self) -> str:
        """Plain-text report of the test and the clubs."""
        lines = [
            "Phillips–Sul club convergence",
            f"units: {self.data.shape[0]}, periods: {self.data.shape[1]}, time_trim: {self.time_trim:.4g}, "
            f"HAC: {self.hac}, c*: {self.cstar:g}, filter: {self.filter or 'none'}"
            + (f" (lambda={self.hp_lambda:g})" if self.filter else "")
            + f", merge: {self.merge or 'none'}"
            + f", core: {'largest |t|' if self.core == 'abs_t' else 'largest t'}",
            f"log-t (all units): beta = {self.logt.beta:.6f}, se = {self.logt.se:.6f}, t = {self.logt.t:.4f}"
            + ("  -> convergence rejected" if self.logt.t < THRESHOLD else "  -> convergence not rejected"),
            "",
            f"{'club':>5} {'n':>4} {'beta':>10} {'se':>10} {'t':>9}  log-t check",
        ]
        for row in self.clubs.itertuples(index=False):
            check = "passes" if row.passes else "FAILS (t <= -1.65)"
            lines.append(f"{row.club:>5} {row.n:>4} {row.beta:>10.4f} {row.se:>10.4f} {row.t:>9.3f}  {check}")
        lines.append(
            f"divergent: {len(self.divergent)}"
            + (f" ({', '.join(self.divergent)})" if self.divergent else "")
        )
        return "\n".join(lines)


def _prepare(
    data: pd.DataFrame,
    *,
    value: str,
    unit: str,
    time: str,
    filter: str | None,
    hp_lambda: float,
    source: str,
    log: bool = False,
) -> pd.DataFrame:
    wide = wide_panel(data, value=value, unit=unit, time=time, source=source)
    if log:
        nonpos_lvl = np.asarray((wide.to_numpy() <= 0).any(axis=1), dtype=bool)
        if nonpos_lvl.any():
            bad_units = [str(u) for u, bad in zip(wide.index, nonpos_lvl.tolist(), strict=True) if bad]
            raise InputError(
                "log=True needs positive levels; units: " + ", ".join(bad_units[:10]),
                source=source,
                rows="all",
                column=value,
            )
        wide = wide.apply(np.log)
    if filter is not None:
        if filter != "hp":
            raise InputError(f"filter must be 'hp' or None, got {filter!r}", source=source, column="filter")
        wide = wide.apply(
            lambda r: pd.Series(hp_filter(r.to_numpy(dtype=float), hp_lambda), index=r.index), axis=1
        )
    nonpos: np.ndarray = np.asarray((wide.to_numpy() <= 0).any(axis=1), dtype=bool)
    if nonpos.any():
        rows = [str(u) for u, bad in zip(wide.index, nonpos.tolist(), strict=True) if bad]
        raise InputError(
            "values must be positive (h_it divides by the cross-sectional mean; log levels are "
            "<= 0 when the measurement unit makes levels <= 1: rescale, and note that the clubs "
            "depend on the unit, docs/methods/convergence.md); units: " + ", ".join(rows[:10]),
            source=source,
            rows="all",
            column=value,
        )
    wide.index = wide.index.map(str)
    return wide


def club_convergence(
    data: pd.DataFrame,
    *,
    value: str,
    unit: str,
    time: str,
    time_trim: float = 1 / 3,
    hac: str = "FQSB",
    cstar: float = 0.0,
    filter: str | None = None,
    hp_lambda: float = 400.0,
    merge: MergeMethod | None = "PS",
    core: CoreRule = "abs_t",
    log: bool = False,
) -> ClubResult:
    r"""Phillips–Sul (2007, 2009) log-t test and convergence-club clustering.

    Algorithm (as in ConvergenceClubs 2.2.5, ``findClubs`` with ``cstar_method="fixed"``
    then ``mergeClubs`` with ``mergeDivergent=FALSE``):

    1. Sort units by the last-period value, decreasing (ties keep data order).
    2. If the log-t test on all remaining units gives :math:`t > -1.65` they form one club.
       Otherwise find the core group: the first adjacent pair (in sorted order) with
       :math:`t > -1.65`; add the next units one at a time while :math:`t > -1.65`; the core
       is the group size with the largest :math:`|t|` (``core="abs_t"``, ConvergenceClubs)
       or the largest :math:`t` (``core="t"``, Phillips and Sul 2007). No passing pair → the
       remaining units are divergent.
    3. Sieve: every non-core unit :math:`i` with :math:`t(\text{core} \cup i) > c^*` joins.
    4. Repeat 2–3 on the units left; a single unit left is divergent.

    Merging, on adjacent clubs :math:`C_1, C_2, \ldots`: ``"PS"`` (Phillips–Sul 2009) adds
    the next club to the current group while the log-t of the union has :math:`t > -1.65`
    and starts a new group at the first club that fails; ``"vLT"`` (von Lyncker and
    Thoennessen 2017) additionally requires :math:`t(\text{group} \cup C_{k}) >
    t(C_{k} \cup C_{k+1})` (not checked for the last club).

    Every final club's own log-t test is reported (``clubs["passes"]``,
    :attr:`ClubResult.all_clubs_pass`): the sieve admits units one at a time, so a club is
    not guaranteed to pass as a whole.

    The relative transition paths :math:`h_{it} = x_{it}/\bar x_t` of *log* levels are not
    invariant to the measurement unit or price level: multiplying levels by :math:`c`
    adds :math:`\ln c` to every :math:`x_{it}` and changes every :math:`h_{it}`; so does
    deflating by a common index. The function uses whatever series it is given (nominal or
    real, in the unit given); say which in any table.

    Parameters
    ----------
    data
        Long balanced panel.
    value
        Column used as given (e.g. real log per-capita income; ``log=True`` takes logs of
        levels here); must be positive. With ``filter="hp"`` the HP trend of each unit's
        series is used instead.
    unit, time
        Key columns.
    time_trim
        Share of initial periods dropped from every log-t regression.
    hac
        Long-run variance estimator, only ``"FQSB"``.
    cstar
        Sieve threshold :math:`c^*`.
    filter
        ``"hp"`` to HP-filter each unit's series (trend, :math:`\lambda` = ``hp_lambda``),
        ``None`` (default) to use ``value`` as given.
    hp_lambda
        HP smoothing parameter (400 in Phillips and Sul for annual data).
    merge
        ``"PS"`` (default), ``"vLT"`` or ``None`` (no merging). With fewer than two clubs
        merging leaves them unchanged.
    core
        Core-group size rule: ``"abs_t"`` (default, largest :math:`|t|` as ConvergenceClubs)
        or ``"t"`` (largest :math:`t`, Phillips and Sul 2007).
    log
        ``True`` to take logs of ``value`` (positive levels, e.g. real GDP per capita)
        before filtering; ``False`` (default) uses ``value`` as given.

    Returns
    -------
    ClubResult
    """
    source = "club_convergence"
    if core not in ("abs_t", "t"):
        raise InputError(f"core must be 'abs_t' or 't', got {core!r}", source=source, column="core")
    wide = _prepare(
        data, value=value, unit=unit, time=time, filter=filter, hp_lambda=hp_lambda, source=source, log=log
    )
    if wide.shape[0] < 2:
        raise InputError("at least two units are needed", source=source, rows="all", column=unit)
    _check_options(time_trim, hac, wide.shape[1], source)
    if merge not in ("PS", "vLT", None):
        raise InputError(f"merge must be 'PS', 'vLT' or None, got {merge!r}", source=source, column="merge")
    if not np.isfinite(cstar):
        raise InputError("cstar must be finite", source=source, column="cstar")
    order = np.argsort(-wide.iloc[:, -1].to_numpy(dtype=float), kind="stable")
    wide = wide.iloc[order]
    panel = _Panel(wide.to_numpy(dtype=float), time_trim)
    ids = list(wide.index)
    full = panel.test(list(range(len(ids))))
    clubs, divergent = _find_clubs(panel, float(cstar), THRESHOLD, core)
    if merge is None:
        final, origin = [list(c) for c in clubs], [[i] for i in range(len(clubs))]
    else:
        final, origin = _merge_clubs(panel, clubs, merge, THRESHOLD)
    return ClubResult(
        logt=full,
        clubs=_club_frame(panel, ids, final),
        divergent=[ids[r] for r in divergent],
        initial_clubs=_club_frame(panel, ids, clubs),
        merged_from=[[j + 1 for j in o] for o in origin],
        merge=merge,
        cstar=float(cstar),
        time_trim=float(time_trim),
        hac=hac,
        filter=filter,
        hp_lambda=float(hp_lambda) if filter else None,
        data=wide,
        core=core,
        log=bool(log),
    )


# ----------------------------------------------------------------------------- transition paths
@dataclass(frozen=True)
class TransitionPaths:
    r"""Relative transition paths.

    Attributes
    ----------
    units
        Long frame ``unit, time, club, h, h_club``: :math:`h_{it} = x_{it}/\bar x_t` relative
        to the mean over all units, and ``h_club`` relative to the mean of the unit's club
        (missing for units in no club).
    clubs
        Long frame ``club, time, n, h``: the club mean of :math:`x_{it}` relative to the mean
        over all units (club averages, as plotted by ConvergenceClubs).
    """

    units: pd.DataFrame
    clubs: pd.DataFrame


def transition_paths(
    data: pd.DataFrame,
    *,
    value: str,
    unit: str,
    time: str,
    clubs: ClubResult | Mapping[str, int] | None = None,
    filter: str | None = None,
    hp_lambda: float = 400.0,
    log: bool = False,
) -> TransitionPaths:
    r"""Relative transition paths :math:`h_{it} = x_{it} / (N^{-1}\sum_j x_{jt})` and club averages.

    Parameters
    ----------
    data
        Long balanced panel.
    value, unit, time
        Columns; ``value`` used as given (or HP-filtered with ``filter="hp"``).
    clubs
        A :class:`ClubResult` (its final clubs) or a mapping unit id → club number;
        ``None`` puts every unit in club 1.
    filter, hp_lambda, log
        As in :func:`club_convergence`.

    Returns
    -------
    TransitionPaths
    """
    source = "transition_paths"
    wide = _prepare(
        data, value=value, unit=unit, time=time, filter=filter, hp_lambda=hp_lambda, source=source, log=log
    )
    if clubs is None:
        mapping: dict[str, int] = dict.fromkeys(wide.index, 1)
    elif isinstance(clubs, ClubResult):
        mapping = {
            u: int(c) for c, m in zip(clubs.clubs["club"], clubs.clubs["members"], strict=True) for u in m
        }
    else:
        mapping = {str(k): int(v) for k, v in clubs.items()}
    mean_all = wide.mean(axis=0)
    h = wide.div(mean_all, axis=1)
    club_of = pd.Series([mapping.get(u) for u in wide.index], index=wide.index, dtype="Int64")
    club_means = wide.groupby(club_of.to_numpy()).mean() if club_of.notna().any() else wide.iloc[:0]
    h_club = pd.DataFrame(np.nan, index=wide.index, columns=wide.columns)
    for c in club_means.index:
        rows = club_of.to_numpy() == c
        h_club.loc[rows] = wide.loc[rows].div(club_means.loc[c], axis=1).to_numpy()
    units_long = pd.DataFrame(
        {
            "unit": np.repeat(wide.index.to_numpy(), wide.shape[1]),
            "time": np.tile(wide.columns.to_numpy(), wide.shape[0]),
        }
    )
    units_long["club"] = pd.array([mapping.get(u) for u in units_long["unit"]], dtype="Int64")
    units_long["h"] = h.to_numpy(dtype=float).ravel()
    units_long["h_club"] = h_club.to_numpy(dtype=float).ravel()
    sizes = club_of.value_counts()
    club_rows = []
    for c in club_means.index:
        for t, v in club_means.loc[c].items():
            club_rows.append({"club": int(c), "time": t, "n": int(sizes[c]), "h": float(v / mean_all[t])})
    clubs_long = pd.DataFrame(club_rows, columns=["club", "time", "n", "h"])
    return TransitionPaths(units=units_long, clubs=clubs_long)
