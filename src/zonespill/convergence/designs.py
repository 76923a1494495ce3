r"""Paper designs for the convergence part (tables C1–C5): pure functions on DataFrames.

Everything here takes the spine's analysis frames (``region_year``, canonical
collaborations) as pandas objects and returns long coefficient/statistics frames or plain
frames; reading and writing files is left to :mod:`zonespill.convergence.pipeline`.

Tie groups are *ever* indicators: province :math:`i` is an "ever K" province if
``0 < first_K_i <= end_year`` (a tie of type K was active at some point up to the end of
the window, possibly before it). Interactions use the initial (or lagged) log level
**centred** at its sample mean, so that the coefficient of a tie dummy is the growth
difference at the mean income level and the convergence slope of group K is
:math:`b + \delta_K`.

Designs degrade gracefully on tiny data: regressors without variation or collinear with
earlier ones are dropped (and listed), columns without enough residual degrees of freedom
are skipped, and every skip is reported as a note — no silent NaN.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from zonespill.convergence.beta import INITIAL, LAG, BetaResult, beta, panel_beta
from zonespill.convergence.clubs import ClubResult, MergeMethod, club_convergence
from zonespill.convergence.sigma import sigma
from zonespill.errors import InputError, ZonespillError
from zonespill.vocabulary import TIE_LABELS as _TIE_LABELS

log = logging.getLogger("zonespill")

UNIT = "region_id"
TIME = "year"

#: Tie types used by the convergence designs, in display order.
TIE_TYPES: tuple[str, ...] = ("forward_giver", "forward_receiver", "two_way", "reverse")
#: Labels of tie groups: the one vocabulary, with two-way ties named as partners (groups of units).
TIE_LABELS: dict[str, str] = {
    **{k: _TIE_LABELS[k] for k in (*TIE_TYPES, "any")},
    "two_way": "two-way partner",
}

#: Mutually exclusive tie profiles (for colouring FC2), in priority order.
PROFILES: tuple[str, ...] = (
    "two-way partner",
    "reverse (no two-way)",
    "forward giver and receiver",
    "forward receiver only",
    "forward giver only",
    "no tie",
)

#: Exceptions that make an optional (spatial) column conditional instead of failing the step.
OPTIONAL_ERRORS: tuple[type[BaseException], ...] = (
    ZonespillError,
    ImportError,
    np.linalg.LinAlgError,
    ValueError,
    ArithmeticError,
)


# ----------------------------------------------------------------------------- sample
def analysis_window(
    ry: pd.DataFrame, *, first_year: int | None = None, last_year: int | None = None
) -> tuple[pd.DataFrame, int, int]:
    """Restrict ``region_year`` to ``[first_year, last_year]`` (defaults: its own range).

    Raises :class:`InputError` if the window is empty, inverted, or mixes GDP vintages
    (growth and levels must come from one consistent series).
    """
    for col in (UNIT, TIME, "gdp_pc"):
        if col not in ry.columns:
            raise InputError("column not found in region_year", source="region_year", rows="all", column=col)
    years = pd.to_numeric(ry[TIME], errors="coerce")
    first = int(years.min()) if first_year is None else int(first_year)
    last = int(years.max()) if last_year is None else int(last_year)
    if first >= last:
        raise InputError(
            f"convergence window {first}-{last} is empty or a single year",
            source="config",
            column="convergence.first_year",
        )
    sub = ry.loc[((years >= first) & (years <= last)).to_numpy()].copy()
    sub[UNIT] = sub[UNIT].astype(str)
    sub = sub.sort_values([UNIT, TIME], kind="mergesort").reset_index(drop=True)
    if sub.empty:
        raise InputError(f"no region-years in {first}-{last}", source="region_year", rows="all", column=TIME)
    if "vintage" in sub.columns:
        vint = sorted(set(sub["vintage"].dropna().astype(str)))
        if len(vint) > 1:
            raise InputError(
                f"the window {first}-{last} mixes GDP vintages {vint}; choose one vintage",
                source="region_year",
                rows="all",
                column="vintage",
            )
    return sub, first, last


def ever_ties(ry: pd.DataFrame, *, end_year: int) -> pd.DataFrame:
    """One row per province (index ``region_id``, sorted): ``ever_<K>`` = 1 if ``0 < first_<K> <= end_year``.

    Columns ``ever_forward_giver, ever_forward_receiver, ever_two_way, ever_reverse, ever_any``
    (int 0/1) and ``profile`` (one of :data:`PROFILES`).
    """
    kinds = [*TIE_TYPES, "any"]
    for k in kinds:
        if f"first_{k}" not in ry.columns:
            raise InputError(
                "column not found in region_year", source="region_year", rows="all", column=f"first_{k}"
            )
    d = ry[[UNIT, *[f"first_{k}" for k in kinds]]].copy()
    d[UNIT] = d[UNIT].astype(str)
    out = pd.DataFrame(index=pd.Index(sorted(d[UNIT].unique()), name=UNIT))
    for k in kinds:
        f = pd.to_numeric(d[f"first_{k}"], errors="coerce").fillna(0)
        positive = f.where(f > 0)
        first = positive.groupby(d[UNIT]).min()
        out[f"ever_{k}"] = (
            ((first > 0) & (first <= end_year)).reindex(out.index, fill_value=False).astype("int64")
        )
    out["profile"] = [tie_profile(row) for row in out.to_dict("records")]
    return out


def tie_profile(ever: Mapping[Any, Any]) -> str:
    """Mutually exclusive profile of one province from its ``ever_<K>`` flags (see :data:`PROFILES`)."""
    fg, fr = bool(ever.get("ever_forward_giver")), bool(ever.get("ever_forward_receiver"))
    if ever.get("ever_two_way"):
        return PROFILES[0]
    if ever.get("ever_reverse"):
        return PROFILES[1]
    if fg and fr:
        return PROFILES[2]
    if fr:
        return PROFILES[3]
    if fg:
        return PROFILES[4]
    return PROFILES[5]


# ----------------------------------------------------------------------------- C1 sigma
def sigma_groups(ever: pd.DataFrame) -> dict[str, list[str]]:
    """Province groups of table C1 (label → sorted ids); groups may overlap."""
    ids = list(ever.index)
    return {
        "all provinces": ids,
        "never in any tie": [u for u in ids if not ever.loc[u, "ever_any"]],
        "with a tie": [u for u in ids if ever.loc[u, "ever_any"]],
        "forward receivers": [u for u in ids if ever.loc[u, "ever_forward_receiver"]],
        "two-way partners": [u for u in ids if ever.loc[u, "ever_two_way"]],
    }


@dataclass(frozen=True)
class SigmaDesign:
    """C1: SD of log GDP per capita by year for each province group.

    ``table`` has index ``year`` and one column per group (blank where the group is too small);
    ``paths`` maps the label of each group that was computed to its sigma frame.
    """

    table: pd.DataFrame
    paths: dict[str, pd.DataFrame]
    sizes: dict[str, int]
    notes: tuple[str, ...]


def sigma_design(ry: pd.DataFrame, ever: pd.DataFrame, *, min_units: int = 3) -> SigmaDesign:
    """Sigma paths with and without collaborating provinces (groups of :func:`sigma_groups`).

    Groups with fewer than ``min_units`` provinces get a blank column and a note (the SD of
    one or two units is not a dispersion measure).
    """
    sub = ry.dropna(subset=["gdp_pc"])
    years = sorted(pd.unique(ry[TIME]))
    table = pd.DataFrame(index=pd.Index(years, name=TIME))
    paths: dict[str, pd.DataFrame] = {}
    sizes: dict[str, int] = {}
    notes: list[str] = []
    for label, ids in sigma_groups(ever).items():
        col = f"{label} (n={len(ids)})"
        sizes[label] = len(ids)
        if len(ids) < min_units:
            table[col] = np.nan
            notes.append(
                f"'{label}' has {len(ids)} province(s) (< {min_units}): dispersion not computed "
                "(blank column)" + (f": {', '.join(ids)}." if ids else ".")
            )
            continue
        frame = sigma(sub[sub[UNIT].isin(ids)], value="gdp_pc", unit=UNIT, time=TIME, log=True)
        short = frame.index[frame["n"] < len(ids)].tolist()
        if short:
            notes.append(f"'{label}': fewer than {len(ids)} provinces observed in {short}.")
        table[col] = frame["sd_log"].reindex(table.index)
        paths[f"{label} (n={len(ids)})"] = frame
    return SigmaDesign(table, paths, sizes, tuple(notes))


# ----------------------------------------------------------------------------- helpers for regressions
def _drop_unusable(
    X: pd.DataFrame, base: Sequence[str], candidates: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Keep candidates (in order) that vary and are not collinear with ``base`` + kept ones."""
    kept: list[str] = []
    dropped: list[str] = []
    for c in candidates:
        v = X[c].to_numpy(dtype=float)
        if not np.isfinite(v).all() or np.nanstd(v) == 0:
            dropped.append(c)
            continue
        M = X[[*base, *kept, c]].to_numpy(dtype=float)
        if np.linalg.matrix_rank(M, tol=1e-8 * max(1.0, float(np.abs(M).max()))) < M.shape[1]:
            dropped.append(c)
            continue
        kept.append(c)
    return kept, dropped


def _fmt_speed(res: BetaResult) -> tuple[str, str]:
    sp, hl = res.speed, res.half_life
    speed = f"{sp:.4f}" if math.isfinite(sp) else "n/a (1 + Tb ≤ 0)"
    half = f"{hl:.1f}" if math.isfinite(hl) else "n/a (no convergence)"
    return speed, half


def _dropped_str(dropped: Sequence[str], labels: Mapping[str, str]) -> str:
    return ", ".join(labels.get(d, d) for d in dropped)


def _weights_for(W: Any, ids: Sequence[str]) -> tuple[Any, str | None]:
    """Weights restricted to ``ids`` (re-row-standardised if units had to be removed)."""
    from zonespill.weights import as_weights

    w = as_weights(W)
    if list(w.ids) == list(ids):
        return w, None
    if set(w.ids) == set(ids):
        return w.reorder(list(ids)), None
    missing = [u for u in ids if u not in set(w.ids)]
    if missing:
        raise InputError(f"provinces {missing[:10]} are not in the weights", source="weights", column="i")
    sub = w.reorder(list(ids))
    removed = [u for u in w.ids if u not in set(ids)]
    if w.transform == "row":
        sub = sub.row_standardise()
    return (
        sub,
        f"weights restricted to the estimation sample (removed {', '.join(removed)}) and re-standardised",
    )


@dataclass(frozen=True)
class RegressionDesign:
    """Long coefficient and statistics frames for :meth:`RegressionTable.from_long`, plus notes."""

    coefs: pd.DataFrame
    stats: pd.DataFrame
    notes: tuple[str, ...]
    labels: dict[str, str]
    results: dict[str, BetaResult] = field(default_factory=dict)
    data: pd.DataFrame | None = None


def _append(
    coefs: list[pd.DataFrame],
    stats: list[dict[str, str]],
    name: str,
    res: BetaResult,
    rows: Sequence[tuple[str, str]],
) -> None:
    coefs.append(res.to_frame(model=name))
    speed, half = _fmt_speed(res)
    stats.extend(
        {"model": name, "stat": s, "value": v}
        for s, v in [("N", str(res.nobs)), *rows, ("Speed (per year)", speed), ("Half-life (years)", half)]
    )


# ----------------------------------------------------------------------------- C2 cross-sectional beta
def cross_section_frame(ry: pd.DataFrame, ever: pd.DataFrame, *, start: int, end: int) -> pd.DataFrame:
    """One row per province with GDP p.c. in ``start`` and ``end``: ``log_initial``, ``growth``
    (average annual log growth), ``ever_<K>``, centred interactions ``ix_<K>``, ``profile``."""
    y0 = ry.loc[ry[TIME] == start].set_index(UNIT)["gdp_pc"].dropna()
    y1 = ry.loc[ry[TIME] == end].set_index(UNIT)["gdp_pc"].dropna()
    ids = sorted(set(y0.index) & set(y1.index))
    cs = pd.DataFrame(index=pd.Index(ids, name=UNIT))
    cs[INITIAL] = np.log(y0.reindex(ids).to_numpy(dtype=float))
    cs["growth"] = (np.log(y1.reindex(ids).to_numpy(dtype=float)) - cs[INITIAL]) / (end - start)
    centred = cs[INITIAL] - cs[INITIAL].mean()
    for k in TIE_TYPES:
        cs[f"ever_{k}"] = ever[f"ever_{k}"].reindex(ids).fillna(0).astype("int64")
        cs[f"ix_{k}"] = cs[f"ever_{k}"] * centred
    cs["profile"] = ever["profile"].reindex(ids).fillna(PROFILES[-1])
    return cs


def beta_labels() -> dict[str, str]:
    labels = {
        "const": "constant",
        INITIAL: "initial log GDP p.c.",
        "rho": "ρ (spatial lag)",
        "lambda": "λ (spatial error)",
    }
    for k in TIE_TYPES:
        labels[f"ever_{k}"] = f"ever {TIE_LABELS[k]}"
        labels[f"ix_{k}"] = f"ever {TIE_LABELS[k]} × initial level (centred)"
    return labels


def beta_design(
    ry: pd.DataFrame,
    ever: pd.DataFrame,
    *,
    start: int,
    end: int,
    W: Any = None,
    cov_type: str = "HC1",
    min_df: int = 2,
) -> RegressionDesign:
    r"""C2: cross-sectional beta convergence with tie dummies and interactions.

    Columns: (1) absolute beta; (2) + ``ever_<K>`` dummies; (3) + interactions
    ``ever_K × (ln y_start − mean)``; with ``W``: (4) SEM and (5) SAR of (1), (6) SEM and
    (7) SAR of (3) (Rey–Montouri, ML via :mod:`zonespill.spatial`). A column is skipped
    (with a note) when fewer than ``min_df`` residual degrees of freedom remain; spatial
    columns that fail to estimate are skipped with the reason.
    """
    labels = beta_labels()
    cs = cross_section_frame(ry, ever, start=start, end=end)
    n = len(cs)
    dropped_units = sorted(set(ry[UNIT].astype(str)) - set(cs.index))
    X = cs.assign(const=1.0)
    dummies, d_drop = _drop_unusable(X, ["const", INITIAL], [f"ever_{k}" for k in TIE_TYPES])
    inter, i_drop = _drop_unusable(
        X, ["const", INITIAL, *dummies], [f"ix_{k}" for k in TIE_TYPES if f"ever_{k}" in dummies]
    )
    i_drop += [f"ix_{k}" for k in TIE_TYPES if f"ever_{k}" not in dummies]
    specs: dict[str, tuple[list[str], list[str]]] = {
        "(1)": ([], []),
        "(2)": (dummies, d_drop),
        "(3)": ([*dummies, *inter], d_drop + i_drop),
    }
    covcols = [f"{p}_{k}" for p in ("ever", "ix") for k in TIE_TYPES]
    in_cs = (ry[TIME].isin([start, end]) & ry[UNIT].isin(cs.index)).to_numpy()
    long = ry.loc[in_cs, [UNIT, TIME, "gdp_pc"]].merge(cs[covcols].reset_index(), on=UNIT, how="left")
    coefs: list[pd.DataFrame] = []
    stats: list[dict[str, str]] = []
    notes: list[str] = []
    results: dict[str, BetaResult] = {}
    for name, (covs, dropped) in specs.items():
        k = 2 + len(covs)
        if n - k < min_df:
            notes.append(
                f"Column {name} not estimated: {n} provinces for {k} parameters "
                f"(fewer than {min_df} residual degrees of freedom)."
            )
            continue
        res = beta(
            long,
            value="gdp_pc",
            unit=UNIT,
            time=TIME,
            start=start,
            end=end,
            covariates=covs,
            cov_type=cov_type,
        )
        rows = [
            ("Estimator", "OLS"),
            ("SE type", f"{cov_type} (heteroskedasticity-robust)"),
            ("R²", f"{res.extra['R2']:.3f}"),
        ]
        if dropped:
            rows.append(("Dropped (no variation / collinear)", _dropped_str(dropped, labels)))
        _append(coefs, stats, name, res, rows)
        results[name] = res
    if W is not None:
        try:
            w, wnote = _weights_for(W, list(cs.index))
        except OPTIONAL_ERRORS as exc:
            w, wnote = None, None
            notes.append(f"Spatial columns not estimated: {exc}")
        if wnote:
            notes.append(f"Spatial columns: {wnote}.")
        col = 4
        for base in ("(1)", "(3)"):
            for model in ("sem", "sar"):
                name = f"({col}) {model.upper()}"
                col += 1
                if w is None or base not in results:
                    continue
                covs = specs[base][0]
                if n - (3 + len(covs)) < min_df:
                    notes.append(
                        f"Column {name} not estimated: too few provinces for {3 + len(covs)} parameters."
                    )
                    continue
                try:
                    res = beta(
                        long,
                        value="gdp_pc",
                        unit=UNIT,
                        time=TIME,
                        start=start,
                        end=end,
                        covariates=covs,
                        spatial=(model, w),
                    )
                except OPTIONAL_ERRORS as exc:
                    log.warning("C2 %s failed: %s", name, exc)
                    notes.append(f"Column {name} ({model.upper()} of {base}) not estimated: {exc}")
                    continue
                rows = [
                    ("Estimator", f"{model.upper()} (ML), spec. {base}"),
                    ("SE type", "ML (inverse information)"),
                ]
                _append(coefs, stats, name, res, rows)
                results[name] = res
    if dropped_units:
        notes.append(
            f"Provinces without GDP p.c. in {start} or {end} are excluded: {', '.join(dropped_units)}."
        )
    if not coefs:
        raise InputError(
            f"no C2 column could be estimated with {n} provinces", source="region_year", rows="all"
        )
    return RegressionDesign(
        pd.concat(coefs, ignore_index=True), pd.DataFrame(stats), tuple(notes), labels, results, cs
    )


# ----------------------------------------------------------------------------- C3 panel beta
def _twoway_demean(values: np.ndarray, units: np.ndarray, times: np.ndarray, iters: int = 200) -> np.ndarray:
    """Alternating projections onto unit and time means (exact in one pass when balanced)."""
    out = values.astype(float).copy()
    for _ in range(iters):
        before = out.copy()
        out = out - pd.Series(out).groupby(units).transform("mean").to_numpy()
        out = out - pd.Series(out).groupby(times).transform("mean").to_numpy()
        if np.allclose(out, before, atol=1e-13, rtol=0):
            break
    return out


def panel_frame(ry: pd.DataFrame) -> pd.DataFrame:
    """region_year with ``active_<K>``, the lagged log level (consecutive years only) and
    centred interactions ``ix_<K> = active_K × (ln y_{t-1} − mean)``."""
    d = ry[[UNIT, TIME, "gdp_pc", *[f"active_{k}" for k in TIE_TYPES]]].copy()
    d = d.sort_values([UNIT, TIME], kind="mergesort").reset_index(drop=True)
    d = d.loc[d["gdp_pc"].notna()].reset_index(drop=True)
    logy = np.log(d["gdp_pc"].to_numpy(dtype=float))
    prev_t = d.groupby(UNIT)[TIME].shift(1)
    prev = pd.Series(logy).groupby(d[UNIT]).shift(1)
    lag = np.where((d[TIME] - prev_t == 1).to_numpy(), prev.to_numpy(dtype=float), np.nan)
    centred = lag - np.nanmean(lag)
    for k in TIE_TYPES:
        d[f"active_{k}"] = pd.to_numeric(d[f"active_{k}"], errors="coerce").fillna(0).astype(float)
        d[f"ix_{k}"] = d[f"active_{k}"] * centred
    d["_lag"] = lag
    return d


def panel_labels() -> dict[str, str]:
    labels = {LAG: "log GDP p.c. (t−1)", "rho": "ρ (spatial lag of growth)", "lambda": "λ (spatial error)"}
    for k in TIE_TYPES:
        labels[f"active_{k}"] = f"active {TIE_LABELS[k]}"
        labels[f"ix_{k}"] = f"active {TIE_LABELS[k]} × log level (t−1, centred)"
    for key in list(labels):
        if key not in ("rho", "lambda"):
            labels[f"W_{key}"] = f"W · {labels[key]}"
    return labels


def panel_design(ry: pd.DataFrame, *, W: Any = None) -> RegressionDesign:
    r"""C3: panel beta convergence, two-way FE, SEs clustered by province.

    :math:`\Delta\ln y_{it} = b\ln y_{i,t-1} + \sum_K \gamma_K a_{K,it}
    + \sum_K \delta_K a_{K,it}(\ln y_{i,t-1} - \overline{\ln y}) + \mu_i + \tau_t + \varepsilon_{it}`.
    Columns (1) b only, (2) + active dummies, (3) + interactions; with ``W``: (4) SDM of (1)
    and (5) SDM of (3) (two-way FE, ML via :mod:`zonespill.spatial`); a spatial column that
    fails to estimate is skipped with the reason in the notes.
    """
    labels = panel_labels()
    d = panel_frame(ry)
    est = d.loc[np.isfinite(d["_lag"])].reset_index(drop=True)
    if est.empty:
        raise InputError(
            "no consecutive years with GDP p.c.: the panel regression cannot run",
            source="region_year",
            rows="all",
            column=TIME,
        )
    cand_d = [f"active_{k}" for k in TIE_TYPES]
    cand_i = [f"ix_{k}" for k in TIE_TYPES]
    Xd = pd.DataFrame(
        {
            c: _twoway_demean(est[c].to_numpy(dtype=float), est[UNIT].to_numpy(), est[TIME].to_numpy())
            for c in ["_lag", *cand_d, *cand_i]
        }
    )
    dummies, d_drop = _drop_unusable(Xd, ["_lag"], cand_d)
    inter, i_drop = _drop_unusable(
        Xd, ["_lag", *dummies], [f"ix_{k}" for k in TIE_TYPES if f"active_{k}" in dummies]
    )
    i_drop += [f"ix_{k}" for k in TIE_TYPES if f"active_{k}" not in dummies]
    specs: dict[str, tuple[list[str], list[str]]] = {
        "(1)": ([], []),
        "(2)": (dummies, d_drop),
        "(3)": ([*dummies, *inter], d_drop + i_drop),
    }
    n_units, n_years = est[UNIT].nunique(), est[TIME].nunique()
    coefs: list[pd.DataFrame] = []
    stats: list[dict[str, str]] = []
    notes: list[str] = []
    results: dict[str, BetaResult] = {}
    data = d.drop(columns="_lag")
    for name, (covs, dropped) in specs.items():
        if len(est) - n_units - n_years - 1 - len(covs) < 2:
            notes.append(
                f"Column {name} not estimated: too few region-years for two-way FE and {1 + len(covs)} "
                "slopes."
            )
            continue
        res = panel_beta(data, value="gdp_pc", unit=UNIT, time=TIME, effects="twoways", covariates=covs)
        rows = [
            ("Estimator", "OLS, two-way FE"),
            ("Provinces", str(n_units)),
            ("Fixed effects", "province, year"),
            ("SE type", f"clustered by province (CRV1, {n_units} clusters)"),
            ("R² (within)", f"{res.extra['R2 (within)']:.3f}"),
        ]
        if dropped:
            rows.append(("Dropped (no variation / collinear)", _dropped_str(dropped, labels)))
        _append(coefs, stats, name, res, rows)
        results[name] = res
    if W is not None:
        ids = sorted(est[UNIT].unique())
        balanced = len(est) == len(ids) * n_years
        for name, base in (("(4) SDM", "(1)"), ("(5) SDM", "(3)")):
            if base not in results:
                continue
            if not balanced:
                notes.append(f"Column {name} not estimated: the ML spatial panel needs a balanced panel.")
                continue
            try:
                w, wnote = _weights_for(W, ids)
                res = panel_beta(
                    data,
                    value="gdp_pc",
                    unit=UNIT,
                    time=TIME,
                    effects="twoways",
                    covariates=specs[base][0],
                    spatial=("sdm", w),
                )
            except OPTIONAL_ERRORS as exc:
                log.warning("C3 %s failed: %s", name, exc)
                notes.append(f"Column {name} (spatial Durbin of {base}) not estimated: {exc}")
                continue
            if wnote:
                notes.append(f"{name}: {wnote}.")
            rows = [
                ("Estimator", f"SDM (ML), two-way FE, spec. {base}"),
                ("Provinces", str(n_units)),
                ("Fixed effects", "province, year"),
                ("SE type", "ML (inverse information)"),
            ]
            _append(coefs, stats, name, res, rows)
            results[name] = res
    return RegressionDesign(
        pd.concat(coefs, ignore_index=True), pd.DataFrame(stats), tuple(notes), labels, results, data
    )


# ----------------------------------------------------------------------------- C4 clubs
@dataclass(frozen=True)
class ClubDesign:
    """C4: Phillips–Sul clubs (``result`` is None when not estimated; ``reason`` says why)."""

    result: ClubResult | None
    table: pd.DataFrame
    membership: pd.Series
    notes: tuple[str, ...]
    reason: str | None
    panel: pd.DataFrame
    initial_membership: pd.Series | None = None

    @property
    def merged(self) -> bool:
        """True when merging changed the clubs (then initial clubs are reported too)."""
        return self.result is not None and any(len(o) > 1 for o in self.result.merged_from)


def _names(ids: Sequence[str], names: Mapping[str, str]) -> str:
    return ", ".join(f"{names.get(u, u)} ({u})" for u in sorted(ids))


def club_design(
    ry: pd.DataFrame,
    names: Mapping[str, str],
    *,
    hp_lambda: float = 400.0,
    merge: MergeMethod | None = "PS",
    time_trim: float = 1 / 3,
    cstar: float = 0.0,
    min_periods: int = 10,
    min_units: int = 4,
) -> ClubDesign:
    """Phillips–Sul clubs of log GDP per capita (HP trend, ``merge`` clubs).

    Only provinces observed in every year of the window enter (balanced panel). With fewer
    than ``min_periods`` years or ``min_units`` provinces, or if the algorithm cannot run,
    no clubs are reported (``result=None``, the table holds one explanatory row).
    """
    d = ry[[UNIT, TIME, "gdp_pc"]].dropna()
    years = sorted(pd.unique(ry[TIME]))
    complete = d.groupby(UNIT)[TIME].nunique()
    keep = sorted(complete.index[complete == len(years)].astype(str))
    incomplete = sorted(set(ry[UNIT].astype(str)) - set(keep))
    panel = d[d[UNIT].isin(keep)].assign(log_gdp_pc=lambda f: np.log(f["gdp_pc"].astype(float)))
    notes: list[str] = []
    if incomplete:
        notes.append(f"Provinces without GDP p.c. in every year are excluded: {', '.join(incomplete)}.")
    reason: str | None = None
    if len(years) < min_periods:
        reason = f"{len(years)} years < {min_periods} (minimum for the log-t regression after trimming)"
    elif len(keep) < min_units:
        reason = f"{len(keep)} provinces with complete data < {min_units}"
    res: ClubResult | None = None
    if reason is None:
        try:
            res = club_convergence(
                panel,
                value="log_gdp_pc",
                unit=UNIT,
                time=TIME,
                time_trim=time_trim,
                cstar=cstar,
                filter="hp",
                hp_lambda=hp_lambda,
                merge=merge,
            )
        except ZonespillError as exc:
            reason = f"the club algorithm could not run: {exc}"
    if res is None:
        assert reason is not None
        table = pd.DataFrame(
            [
                {
                    "group": "not estimated",
                    "n": len(keep),
                    "members": reason,
                    "log-t b": np.nan,
                    "se": np.nan,
                    "t": np.nan,
                }
            ]
        )
        notes.append(f"Clubs not estimated: {reason}.")
        member = pd.Series(pd.NA, index=pd.Index(keep, name=UNIT), dtype="Int64")
        return ClubDesign(None, table, member, tuple(notes), reason, panel)
    rows = [
        {
            "group": "full panel",
            "n": res.logt.n_units,
            "members": "all provinces",
            "log-t b": res.logt.beta,
            "se": res.logt.se,
            "t": res.logt.t,
        }
    ]
    for j, c in enumerate(res.clubs.to_dict("records")):
        origin = res.merged_from[j] if merge else [int(c["club"])]
        merged = f" (merged initial clubs {', '.join(map(str, origin))})" if len(origin) > 1 else ""
        rows.append({"group": f"club {c['club']}{merged}", **_club_row(c, names)})
    if res.divergent:
        rows.append(
            {
                "group": "divergent",
                "n": len(res.divergent),
                "members": _names(res.divergent, names),
                "log-t b": np.nan,
                "se": np.nan,
                "t": np.nan,
            }
        )
    member = _membership(keep, res.clubs)
    initial = _membership(keep, res.initial_clubs)
    if any(len(o) > 1 for o in res.merged_from):
        for c in res.initial_clubs.to_dict("records"):
            rows.append({"group": f"initial club {c['club']} (before merging)", **_club_row(c, names)})
        notes.append(
            "Initial clubs (before merging) are listed below the final clubs: merging joined adjacent "
            "initial clubs whose union passes the log-t test."
        )
    return ClubDesign(res, pd.DataFrame(rows), member, tuple(notes), None, panel, initial)


def _club_row(c: Mapping[Any, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "n": int(c["n"]),
        "members": _names(list(c["members"]), names),
        "log-t b": float(c["beta"]),
        "se": float(c["se"]),
        "t": float(c["t"]),
    }


def _membership(ids: Sequence[str], clubs: pd.DataFrame) -> pd.Series:
    member = pd.Series(pd.NA, index=pd.Index(list(ids), name=UNIT), dtype="Int64")
    for c, m in zip(clubs["club"], clubs["members"], strict=True):
        member.loc[list(m)] = int(c)
    return member


# ----------------------------------------------------------------------------- C5 clubs vs ties
def province_pairs(
    collaborations: pd.DataFrame,
    province_of: Mapping[str, str],
    ids: Sequence[str],
    *,
    first_year: int,
    last_year: int,
) -> pd.DataFrame:
    """Unordered province pairs with a tie active at some point in ``[first_year, last_year]``.

    Returns columns ``a, b`` (a < b), ``two_way`` and ``one_way`` (0/1: the pair has a two-way,
    resp. a forward or reverse, collaboration). Ties within one province and ties with
    provinces outside ``ids`` are left out. With the pair_year table (``source_unit``,
    ``target_unit``, ``in_analysis``) the pairs are of analysis units at any level.
    """
    c = collaborations.copy()
    if "source_unit" in c.columns and "target_unit" in c.columns:
        # pair_year: analysis-level endpoints (any level); ends outside the analysis are left out
        if "in_analysis" in c.columns:
            c = c[c["in_analysis"].fillna(0).astype(int) == 1]
        sp, tp = c["source_unit"].astype(str), c["target_unit"].astype(str)
    elif "source_province" in c.columns and "target_province" in c.columns:
        sp, tp = c["source_province"].astype(str), c["target_province"].astype(str)
    else:
        sp = c["source_id"].astype(str).map(lambda r: province_of.get(r, r))
        tp = c["target_id"].astype(str).map(lambda r: province_of.get(r, r))
    start = pd.to_numeric(c["start_year"], errors="coerce")
    end = pd.to_numeric(c["end_year"], errors="coerce").fillna(0)
    active = (start <= last_year) & ((end == 0) | (end >= first_year))
    idset = set(map(str, ids))
    ok = active & sp.isin(idset) & tp.isin(idset) & (sp != tp)
    frame = pd.DataFrame(
        {
            "a": np.minimum(sp[ok], tp[ok]),
            "b": np.maximum(sp[ok], tp[ok]),
            "direction": c.loc[ok, "direction"].astype(str),
        }
    )
    out = frame.assign(
        two_way=(frame["direction"] == "two_way").astype("int64"),
        one_way=frame["direction"].isin(["forward", "reverse"]).astype("int64"),
    )
    out = out.groupby(["a", "b"], as_index=False)[["two_way", "one_way"]].max()
    return out.sort_values(["a", "b"], kind="mergesort").reset_index(drop=True)


def club_tie_crosstab(membership: pd.Series, ever: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """C5: provinces by tie group × club, and partner pairs by pair type × club.

    ``membership``: province id → club number (``<NA>`` = divergent). Province rows (groups
    overlap) count provinces per club; pair rows count pairs with **both** members in club c,
    pairs with a divergent member, pairs split across clubs, and the same-club share among
    pairs whose members both belong to a club. The last row is the benchmark of all
    province pairs.
    """
    clubs = sorted(int(c) for c in membership.dropna().unique())
    ccols = [f"club {c}" for c in clubs]
    ids = list(membership.index)
    groups = {f"ever {TIE_LABELS[k]}": [u for u in ids if ever[f"ever_{k}"].get(u, 0)] for k in TIE_TYPES}
    groups["no tie"] = [u for u in ids if not ever["ever_any"].get(u, 0)]
    groups["all provinces"] = ids
    rows = []
    for label, members in groups.items():
        m = membership.reindex(members)
        row: dict[str, Any] = {"unit": "provinces", "group": label}
        for c, col in zip(clubs, ccols, strict=True):
            row[col] = int((m == c).sum())
        row["divergent"] = int(m.isna().sum())
        row["different clubs"] = np.nan
        row["total"] = len(members)
        row["same-club share"] = np.nan
        rows.append(row)
    inside = set(ids)
    pr = pairs[pairs["a"].isin(inside) & pairs["b"].isin(inside)]
    all_pairs = pd.DataFrame([(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]], columns=["a", "b"])
    pair_sets = {
        "two-way partner pairs": pr[pr["two_way"] == 1][["a", "b"]],
        "one-way partner pairs (forward or reverse)": pr[pr["one_way"] == 1][["a", "b"]],
        "all province pairs (benchmark)": all_pairs,
    }
    for label, frame in pair_sets.items():
        ca = membership.reindex(frame["a"]).astype("float64").to_numpy()
        cb = membership.reindex(frame["b"]).astype("float64").to_numpy()
        div = np.isnan(ca) | np.isnan(cb)
        row = {"unit": "pairs", "group": label}
        same_total = 0
        for c, col in zip(clubs, ccols, strict=True):
            cnt = int(((~div) & (ca == c) & (cb == c)).sum()) if len(frame) else 0
            row[col] = cnt
            same_total += cnt
        both = int((~div).sum())
        row["divergent"] = int(div.sum())
        row["different clubs"] = both - same_total
        row["total"] = len(frame)
        row["same-club share"] = same_total / both if both else np.nan
        rows.append(row)
    out = pd.DataFrame(
        rows, columns=["unit", "group", *ccols, "divergent", "different clubs", "total", "same-club share"]
    )
    for col in [*ccols, "divergent", "total"]:
        out[col] = out[col].astype("int64")
    return out
