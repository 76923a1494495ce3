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
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonespill.convergence.beta import INITIAL, LAG, BetaResult, beta, panel_beta
from zonespill.convergence.clubs import ClubResult, MergeMethod, club_convergence
from zonespill.convergence.sigma import sigma
from zonespill.convergence.speed import (
    MIN_REFERENCE_UNITS,
    SpeedResult,
    check_reference_group,
    speed_from_impacts,
)
from zonespill.errors import ConfigError, InputError, ZonespillError
from zonespill.twoway import twoway_demean
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


def _fmt_half_life(h: float) -> str:
    return "∞" if math.isinf(h) else f"{h:.1f}"


def speed_stat_rows(sp: SpeedResult | None, source: str) -> list[tuple[str, str]]:
    """Table rows of a speed with its SE and interval and the half-life with its interval.

    ``source`` says what the speed is computed from (``"b"``, ``"total impact"``, …). A
    half-life interval whose speed interval reaches zero is printed ``[lo, ∞)`` and called
    unbounded.
    """
    if sp is None:
        return [("Speed from", source), ("Speed (per year)", "n/a"), ("Half-life (years)", "n/a")]
    pct = f"{round(100 * sp.level)} % CI"
    if not math.isfinite(sp.speed):
        return [
            ("Speed from", source),
            ("Speed (per year)", f"n/a ({sp.note})"),
            ("Half-life (years)", "n/a"),
        ]
    if sp.unbounded:
        hci = f"[{_fmt_half_life(sp.half_life_lo)}, ∞) unbounded"
    else:
        hci = f"[{_fmt_half_life(sp.half_life_lo)}, {_fmt_half_life(sp.half_life_hi)}]"
    se = f" ({sp.se_speed:.4f})" if math.isfinite(sp.se_speed) else ""
    half = _fmt_half_life(sp.half_life) + (" (no convergence)" if sp.speed <= 0 else "")
    return [
        ("Speed from", source),
        ("Speed (per year)", f"{sp.speed:.4f}{se}"),
        (f"Speed, {pct}", f"[{sp.speed_lo:.4f}, {sp.speed_hi:.4f}]"),
        ("Half-life (years)", half),
        (f"Half-life, {pct}", hci),
    ]


def speed_note(level: float = 0.95) -> str:
    """The table note explaining the speed rows."""
    return (
        "Speed λ = −ln(1 + T·b)/T per year (T = years over which growth is averaged), half-life ln 2/λ; "
        "SE by the delta method (se(b)/(1 + T·b)), "
        f"{round(100 * level)} % interval of the speed ± z·SE, half-life interval = the speed interval "
        "inverted; when the speed interval reaches zero, convergence cannot be told from none and the "
        "half-life interval is unbounded above ('[lo, ∞) unbounded'). In spatial-lag models (SAR, SDM) "
        "b is the impact of the (initial or lagged) level named in 'Speed from' — the total impact by "
        "default (the economy-wide effect including feedback through neighbours), the direct impact on "
        "request (option speed_effect) — not the coefficient; its SE and interval come from the "
        "impact simulation's SD (delta method on the simulated SE)."
    )


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
    speeds: dict[str, SpeedResult | None] = field(default_factory=dict)


def _append(
    coefs: list[pd.DataFrame],
    stats: list[dict[str, str]],
    name: str,
    res: BetaResult,
    rows: Sequence[tuple[str, str]],
    speed: SpeedResult | None = None,
    source: str = "b (coefficient)",
) -> None:
    coefs.append(res.to_frame(model=name))
    sp = speed if speed is not None else _safe_speed(res)
    stats.extend(
        {"model": name, "stat": s, "value": v}
        for s, v in [("N", str(res.nobs)), *rows, *speed_stat_rows(sp, source)]
    )


def _safe_speed(res: BetaResult) -> SpeedResult | None:
    try:
        return res.speed_interval()
    except ZonespillError:
        return None


def impact_speed(
    fit: Any, *, term: str, effect: str, horizon: float, n_sim: int = 1000, seed: int = 0
) -> tuple[SpeedResult, str]:
    """Speed from a spatial fit's impact of ``term`` (SAR/SDM), or from ``b`` when the model has
    no spatial lag of the dependent variable (SEM, SLX: the impact is the coefficient)."""
    imp = fit.impacts(n_sim=n_sim, seed=seed)
    src = f"{effect} impact" if "rho" in fit.params.index else "b (= impact; no spatial lag of y)"
    return speed_from_impacts(imp, term=term, effect=effect, horizon=horizon), src


# ----------------------------------------------------------------------------- C2 cross-sectional beta
def cross_section_frame(
    ry: pd.DataFrame, ever: pd.DataFrame, *, start: int, end: int, centre_groups: bool = False
) -> pd.DataFrame:
    """One row per province with GDP p.c. in ``start`` and ``end``: ``log_initial``, ``growth``
    (average annual log growth), ``ever_<K>``, centred interactions ``ix_<K>``, ``profile``.

    ``centre_groups``: interactions use the group indicators centred at their sample means,
    ``(ever_K − mean) × (ln y − mean)``, so that the initial-level coefficient is the slope at the
    sample's average group composition (the reference when the units in no group are too few)."""
    y0 = ry.loc[ry[TIME] == start].set_index(UNIT)["gdp_pc"].dropna()
    y1 = ry.loc[ry[TIME] == end].set_index(UNIT)["gdp_pc"].dropna()
    ids = sorted(set(y0.index) & set(y1.index))
    cs = pd.DataFrame(index=pd.Index(ids, name=UNIT))
    cs[INITIAL] = np.log(y0.reindex(ids).to_numpy(dtype=float))
    cs["growth"] = (np.log(y1.reindex(ids).to_numpy(dtype=float)) - cs[INITIAL]) / (end - start)
    centred = cs[INITIAL] - cs[INITIAL].mean()
    for k in TIE_TYPES:
        cs[f"ever_{k}"] = ever[f"ever_{k}"].reindex(ids).fillna(0).astype("int64")
        dk = cs[f"ever_{k}"] - (cs[f"ever_{k}"].mean() if centre_groups else 0.0)
        cs[f"ix_{k}"] = dk * centred
    cs["profile"] = ever["profile"].reindex(ids).fillna(PROFILES[-1])
    return cs


def _interaction_specs(
    X: pd.DataFrame,
    base: list[str],
    prefix: str,
    ref_data: pd.DataFrame,
    *,
    min_reference_units: int,
    small_reference: str,
    names: Mapping[str, str] | None,
) -> tuple[str, str, dict[str, tuple[list[str], list[str]]]]:
    """The usable ``{prefix}_K`` dummies and ``ix_K`` interactions of a beta design, its reference
    policy and note, and the columns (1) base, (2) + dummies, (3) + interactions (left out when the
    reference is refused), each as (covariates, dropped candidates)."""
    dummies, d_drop = _drop_unusable(X, base, [f"{prefix}_{k}" for k in TIE_TYPES])
    inter, i_drop = _drop_unusable(
        X, [*base, *dummies], [f"ix_{k}" for k in TIE_TYPES if f"{prefix}_{k}" in dummies]
    )
    i_drop += [f"ix_{k}" for k in TIE_TYPES if f"{prefix}_{k}" not in dummies]
    mode, ref_note = reference_policy(
        ref_data,
        [f"{prefix}_{c.removeprefix('ix_')}" for c in inter],
        minimum=min_reference_units,
        policy=small_reference,
        names=names,
    )
    specs: dict[str, tuple[list[str], list[str]]] = {
        "(1)": ([], []),
        "(2)": (dummies, d_drop),
        "(3)": ([*dummies, *inter], d_drop + i_drop),
    }
    if mode == "refused":
        del specs["(3)"]
    return mode, ref_note, specs


def reference_policy(
    data: pd.DataFrame,
    groups: Sequence[str],
    *,
    unit: str = UNIT,
    minimum: int = MIN_REFERENCE_UNITS,
    policy: str = "sample_mean",
    names: Mapping[str, str] | None = None,
    config_key: str = "convergence.min_reference_units",
) -> tuple[str, str]:
    """Which reference an interaction design uses, and the note saying so.

    ``"none_of_groups"`` when the units in none of ``groups`` number at least ``minimum``
    (:func:`~zonespill.convergence.speed.check_reference_group`); otherwise ``"refused"``
    (``policy="refuse"``: the interaction columns are left out) or ``"sample_mean"`` (the group
    indicators are centred, so the base slope is the slope at the sample's mean composition).
    """
    if not groups:
        return "none_of_groups", ""
    if policy not in ("refuse", "sample_mean"):
        raise ConfigError(
            f"must be 'refuse' or 'sample_mean', got {policy!r}",
            source="config",
            column="convergence.small_reference",
        )
    try:
        ref = check_reference_group(data, list(groups), unit=unit, minimum=minimum, config_key=config_key)
    except ConfigError as exc:
        why = exc.reason
        if policy == "refuse":
            return "refused", (
                f"Interaction columns not estimated: {why} ({config_key} = {minimum}; set "
                "convergence.small_reference: sample_mean to estimate them with the sample-mean reference)."
            )
        return "sample_mean", (
            f"Reference group of the interaction columns: {why.split(';')[0]}, fewer than the minimum "
            f"{minimum} ({config_key}); so the group indicators in the interactions are centred at their "
            "sample means and the level coefficient b is the slope at the sample's average group composition "
            "(a province with group indicators d has slope b + Σ_K interaction_K · (d_K − share of K)), "
            "not the "
            "slope of provinces in no group."
        )
    shown = ", ".join(f"{names.get(u, u)} ({u})" if names else u for u in ref)
    return "none_of_groups", (
        f"Reference group of the interaction columns: {len(ref)} provinces in none of the interacted "
        f"groups ({shown}); b is their slope (minimum {minimum}, {config_key})."
    )


def _cs_spatial_fit(cs: pd.DataFrame, covs: Sequence[str], w: Any, model: str, se_type: str = "ml") -> Any:
    """The cross-sectional spatial fit of a SAR/SEM column (``se_type``: ``ml`` or ``qml``)."""
    from zonespill.spatial import fit_cross_section

    frame = cs.reset_index()[[UNIT, "growth", INITIAL, *covs]]
    return fit_cross_section(
        frame,
        w,
        y="growth",
        x=[INITIAL, *covs],
        unit=UNIT,
        model=model,  # type: ignore[arg-type]
        se_type=se_type,
    )


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
    speed_effect: str = "total",
    min_reference_units: int = MIN_REFERENCE_UNITS,
    small_reference: str = "sample_mean",
    n_sim: int = 1000,
    seed: int = 0,
    names: Mapping[str, str] | None = None,
    spatial_se_type: str = "ml",
) -> RegressionDesign:
    r"""C2: cross-sectional beta convergence with tie dummies and interactions.

    Columns: (1) absolute beta; (2) + ``ever_<K>`` dummies; (3) + interactions
    ``ever_K × (ln y_start − mean)``; with ``W``: (4) SEM and (5) SAR of (1), (6) SEM and
    (7) SAR of (3) (Rey–Montouri, ML via :mod:`zonespill.spatial`). A column is skipped
    (with a note) when fewer than ``min_df`` residual degrees of freedom remain; spatial
    columns that fail to estimate are skipped with the reason.

    Speeds carry SEs and intervals (:func:`speed_stat_rows`); in SAR columns they come from
    the ``speed_effect`` impact (``"total"`` or ``"direct"``; simulated with ``n_sim`` draws
    and ``seed``). The interaction column's reference group (provinces in none of the
    interacted groups) must have ``min_reference_units`` units; otherwise
    ``small_reference="refuse"`` leaves the interaction columns out and ``"sample_mean"``
    centres the group indicators so that ``b`` is the slope at the average composition.
    """
    labels = beta_labels()
    cs = cross_section_frame(ry, ever, start=start, end=end)
    n = len(cs)
    dropped_units = sorted(set(ry[UNIT].astype(str)) - set(cs.index))
    X = cs.assign(const=1.0)
    mode, ref_note, specs = _interaction_specs(
        X,
        ["const", INITIAL],
        "ever",
        cs.reset_index(),
        min_reference_units=min_reference_units,
        small_reference=small_reference,
        names=names,
    )
    notes: list[str] = [ref_note] if ref_note else []
    if mode == "sample_mean":
        cs = cross_section_frame(ry, ever, start=start, end=end, centre_groups=True)
    b3_source = {
        "none_of_groups": "b (slope of the reference group: provinces in no interacted group)",
        "sample_mean": "b (slope at the sample-mean group composition)",
    }.get(mode, "b (coefficient)")
    covcols = [f"{p}_{k}" for p in ("ever", "ix") for k in TIE_TYPES]
    in_cs = (ry[TIME].isin([start, end]) & ry[UNIT].isin(cs.index)).to_numpy()
    long = ry.loc[in_cs, [UNIT, TIME, "gdp_pc"]].merge(cs[covcols].reset_index(), on=UNIT, how="left")
    coefs: list[pd.DataFrame] = []
    stats: list[dict[str, str]] = []
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
        _append(coefs, stats, name, res, rows, source=b3_source if name == "(3)" else "b (coefficient)")
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
                    # one row per unit: clustering by unit is the heteroskedasticity-robust sandwich
                    cs_se = "qml" if spatial_se_type == "cluster" else spatial_se_type
                    fit = _cs_spatial_fit(cs, covs, w, model, se_type=cs_se)
                    res = _beta_of(
                        fit.params,
                        fit.bse,
                        int(fit.nobs),
                        model,
                        SPATIAL_SE[cs_se],
                        term=INITIAL,
                        horizon=end - start,
                    )
                except OPTIONAL_ERRORS as exc:
                    log.warning("C2 %s failed: %s", name, exc)
                    notes.append(f"Column {name} ({model.upper()} of {base}) not estimated: {exc}")
                    continue
                rows = [
                    ("Estimator", f"{model.upper()} (ML), spec. {base}"),
                    ("SE type", SPATIAL_SE[cs_se]),
                ]
                sp: SpeedResult | None = None
                src = "b (= impact; no spatial lag of y)"
                if model == "sar":
                    try:
                        sp, src = impact_speed(
                            fit,
                            term=INITIAL,
                            effect=speed_effect,
                            horizon=end - start,
                            n_sim=n_sim,
                            seed=seed,
                        )
                    except OPTIONAL_ERRORS as exc:
                        src = f"{speed_effect} impact (not computed: {exc})"
                else:
                    sp = _safe_speed(res)
                if base == "(3)" and mode != "none_of_groups":
                    src += f"; {b3_source.removeprefix('b ')}"
                _append(coefs, stats, name, res, rows, speed=sp, source=src)
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
def panel_frame(ry: pd.DataFrame, *, centre_groups: bool = False) -> pd.DataFrame:
    """region_year with ``active_<K>``, the lagged log level (consecutive years only) and
    centred interactions ``ix_<K> = active_K × (ln y_{t-1} − mean)`` (with ``centre_groups``:
    ``(active_K − mean) × (ln y_{t-1} − mean)``, the sample-mean reference)."""
    d = ry[[UNIT, TIME, "gdp_pc", *[f"active_{k}" for k in TIE_TYPES]]].copy()
    d = d.sort_values([UNIT, TIME], kind="mergesort").reset_index(drop=True)
    d = d.loc[d["gdp_pc"].notna()].reset_index(drop=True)
    logy = np.log(d["gdp_pc"].to_numpy(dtype=float))
    prev_t = d.groupby(UNIT)[TIME].shift(1)
    prev = pd.Series(logy).groupby(d[UNIT]).shift(1)
    lag = np.where((d[TIME] - prev_t == 1).to_numpy(), prev.to_numpy(dtype=float), np.nan)
    centred = lag - np.nanmean(lag)
    ok = np.isfinite(lag)
    for k in TIE_TYPES:
        d[f"active_{k}"] = pd.to_numeric(d[f"active_{k}"], errors="coerce").fillna(0).astype(float)
        a = d[f"active_{k}"].to_numpy(dtype=float)
        share = float(a[ok].mean()) if centre_groups and ok.any() else 0.0
        d[f"ix_{k}"] = (a - share) * centred
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


def _spatial_frame(data: pd.DataFrame, covs: Sequence[str]) -> pd.DataFrame:
    from zonespill.convergence.beta import _panel_frame

    panel = _panel_frame(
        data, value="gdp_pc", unit=UNIT, time=TIME, covs=list(covs), extra_cols=[], source="panel_beta"
    )
    return panel[[UNIT, TIME, "growth", LAG, *covs]].reset_index(drop=True)


def _se_kwargs(se_type: str) -> dict[str, Any]:
    return {"se_type": se_type, "cluster": UNIT if se_type == "cluster" else None}


def panel_spatial_fit(
    data: pd.DataFrame, covs: Sequence[str], w: Any, model: str = "sdm", *, se_type: str = "ml"
) -> Any:
    """The :class:`~zonespill.spatial.SpatialResult` of a spatial :func:`panel_beta` column (same
    frame, same model; ``se_type`` ``"ml"``, ``"qml"`` or ``"cluster"`` by unit)."""
    from zonespill.spatial import fit_panel

    frame = _spatial_frame(data, covs)
    return fit_panel(
        frame,
        w,
        y="growth",
        x=[LAG, *covs],
        unit=UNIT,
        time=TIME,
        model=model,  # type: ignore[arg-type]
        effects="twoways",
        **_se_kwargs(se_type),
    )


SPATIAL_SE: dict[str, str] = {
    "ml": "ML (inverse information; iid errors)",
    "qml": "QML sandwich (Lee 2004)",
    "cluster": "cluster-robust sandwich by province",
}


def _beta_of(
    params: pd.Series,
    bse: pd.Series,
    nobs: int,
    model: str,
    cov_type: str,
    *,
    term: str = LAG,
    horizon: float = 1.0,
) -> BetaResult:
    from scipy import stats as sps

    z = params / bse
    pv = pd.Series(2 * sps.norm.sf(np.abs(z.to_numpy(dtype=float))), index=params.index)
    return BetaResult(
        params=params.astype(float),
        bse=bse.astype(float),
        pvalues=pv,
        term=term,
        horizon=horizon,
        nobs=nobs,
        model=model,
        cov_type=cov_type,
    )


def spatial_jackknife_fit(data: pd.DataFrame, covs: Sequence[str], w: Any, *, se_type: str = "ml") -> Any:
    """Half-panel jackknife of the SDM growth panel: the full fit with every parameter corrected
    (Dhaene–Jochmans), keeping the full fit's covariance (``se_type``)."""
    import dataclasses

    from zonespill.convergence.jackknife import split_panel_jackknife
    from zonespill.spatial import fit_panel

    frame = _spatial_frame(data, covs)

    def est(f: pd.DataFrame) -> Any:
        return fit_panel(
            f,
            w,
            y="growth",
            x=[LAG, *covs],
            unit=UNIT,
            time=TIME,
            model="sdm",
            effects="twoways",
            **_se_kwargs(se_type),
        )

    full = est(frame)
    jk = split_panel_jackknife(frame, est, time=TIME, se="full")
    return dataclasses.replace(full, params=jk.params.reindex(full.params.index).astype(float))


def dynamic_fit(data: pd.DataFrame, covs: Sequence[str], w: Any, *, se_type: str = "qml") -> Any:
    """The dynamic spatial panel of the log level (Yu, de Jong and Lee 2008; QML, bias-corrected)
    with ``covs`` and their spatial lags: the growth SDM with γ = 1 + b, δ = θ − ρ."""
    from zonespill.spatial import fit_panel

    d = data.dropna(subset=["gdp_pc"])
    frame = d[[UNIT, TIME, *covs]].assign(_log_level=np.log(d["gdp_pc"].astype(float)))
    return fit_panel(
        frame,
        w,
        y="_log_level",
        x=list(covs),
        unit=UNIT,
        time=TIME,
        model="sdm",
        effects="twoways",
        durbin=list(covs),
        dynamic=True,
        bias_correction=True,
        **_se_kwargs(se_type),
    )


def spatial_speed(
    fit: Any,
    params: pd.Series | None,
    *,
    term: str,
    effect: str,
    horizon: float = 1.0,
    n_sim: int = 1000,
    seed: int = 0,
) -> tuple[SpeedResult, str]:
    """Speed from ``fit``'s impacts, evaluated at ``params`` (e.g. jackknife-corrected
    estimates; the covariance of the full fit) or at the fit's own estimates."""
    import dataclasses

    if params is not None:
        fit = dataclasses.replace(fit, params=params.reindex(fit.params.index).astype(float))
    return impact_speed(fit, term=term, effect=effect, horizon=horizon, n_sim=n_sim, seed=seed)


JACKKNIFE: Literal["half_panel_jackknife"] = "half_panel_jackknife"


def panel_design(
    ry: pd.DataFrame,
    *,
    W: Any = None,
    speed_effect: str = "total",
    min_reference_units: int = MIN_REFERENCE_UNITS,
    small_reference: str = "sample_mean",
    jackknife: bool = True,
    n_sim: int = 1000,
    seed: int = 0,
    names: Mapping[str, str] | None = None,
    spatial_se_type: str = "ml",
    dynamic: bool = False,
) -> RegressionDesign:
    r"""C3: panel beta convergence, two-way FE, SEs clustered by province.

    :math:`\Delta\ln y_{it} = b\ln y_{i,t-1} + \sum_K \gamma_K a_{K,it}
    + \sum_K \delta_K a_{K,it}(\ln y_{i,t-1} - \overline{\ln y}) + \mu_i + \tau_t + \varepsilon_{it}`.
    Columns (1) b only, (2) + active dummies, (3) + interactions; with ``W``: (4) SDM of (1)
    and (5) SDM of (3) (two-way FE, ML via :mod:`zonespill.spatial`); with ``jackknife``:
    (6) the half-panel jackknife of (1) and (7) of (4) (Dhaene–Jochmans 2015, removing the
    Nickell bias of order 1/T). A spatial column that fails to estimate is skipped with the
    reason in the notes. SDM speeds come from the ``speed_effect`` impact of the lagged level
    (jackknife SDM: impacts at the corrected estimates). The reference group of (3)/(5) follows
    :func:`reference_policy`. Spatial columns use ``spatial_se_type`` standard errors
    (``"ml"``, ``"qml"`` sandwich, ``"cluster"`` by province); with ``dynamic`` and ``W``,
    (8) is the dynamic spatial panel of spec (2) (:func:`dynamic_fit`, Yu–de Jong–Lee corrected),
    shown as b = γ − 1 and θ = δ + ρ.
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
            c: twoway_demean(est[c].to_numpy(dtype=float), est[UNIT].to_numpy(), est[TIME].to_numpy())
            for c in ["_lag", *cand_d, *cand_i]
        }
    )
    mode, ref_note, specs = _interaction_specs(
        Xd,
        ["_lag"],
        "active",
        est,
        min_reference_units=min_reference_units,
        small_reference=small_reference,
        names=names,
    )
    notes: list[str] = [ref_note.replace("provinces in none", "provinces never active in any")]
    notes = [n for n in notes if n]
    if mode == "sample_mean":
        d = panel_frame(ry, centre_groups=True)
    b3_source = {
        "none_of_groups": "b (slope of the reference group: provinces never active in any interacted group)",
        "sample_mean": "b (slope at the sample-mean group composition)",
    }.get(mode, "b (coefficient)")
    n_units, n_years = est[UNIT].nunique(), est[TIME].nunique()
    coefs: list[pd.DataFrame] = []
    stats: list[dict[str, str]] = []
    results: dict[str, BetaResult] = {}
    speeds: dict[str, SpeedResult | None] = {}
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
            ("Bias correction", "none"),
        ]
        if dropped:
            rows.append(("Dropped (no variation / collinear)", _dropped_str(dropped, labels)))
        speeds[name] = _safe_speed(res)
        _append(coefs, stats, name, res, rows, source=b3_source if name == "(3)" else "b (coefficient)")
        results[name] = res
    ids = sorted(est[UNIT].unique())
    balanced = len(est) == len(ids) * n_years
    w: Any = None
    fits: dict[str, Any] = {}
    if W is not None:
        for name, base in (("(4) SDM", "(1)"), ("(5) SDM", "(3)")):
            if base not in results:
                continue
            if not balanced:
                notes.append(f"Column {name} not estimated: the ML spatial panel needs a balanced panel.")
                continue
            try:
                w, wnote = _weights_for(W, ids)
                fits[base] = panel_spatial_fit(data, specs[base][0], w, "sdm", se_type=spatial_se_type)
                res = _beta_of(
                    fits[base].params,
                    fits[base].bse,
                    int(fits[base].nobs),
                    "sdm",
                    SPATIAL_SE[spatial_se_type],
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
                ("SE type", SPATIAL_SE[spatial_se_type]),
                ("Bias correction", "none"),
            ]
            sp, src = _panel_impact_speed(
                data,
                specs[base][0],
                w,
                None,
                effect=speed_effect,
                n_sim=n_sim,
                seed=seed,
                fits=fits,
                key=base,
            )
            if base == "(3)" and mode != "none_of_groups":
                src += f"; {b3_source.removeprefix('b ')}"
            speeds[name] = sp
            _append(coefs, stats, name, res, rows, speed=sp, source=src)
            results[name] = res
    if jackknife:
        _jackknife_columns(
            data,
            results,
            speeds,
            coefs,
            stats,
            notes,
            w,
            n_units,
            speed_effect,
            n_sim,
            seed,
            fits,
            spatial_se_type,
        )
    if dynamic and w is not None and "(2)" in results:
        _dynamic_column(
            data,
            specs["(2)"][0],
            w,
            results,
            speeds,
            coefs,
            stats,
            notes,
            n_units,
            speed_effect,
            n_sim,
            seed,
            spatial_se_type,
        )
    return RegressionDesign(
        pd.concat(coefs, ignore_index=True),
        pd.DataFrame(stats),
        tuple(notes),
        labels,
        results,
        data,
        speeds,
    )


#: Relative change of the cross-unit SD of log levels over the window beyond which the panel is read
#: as "far from the steady state" (transitional dynamics; a heuristic, stated in the notes).
TRANSITION_SD_CHANGE = 0.2


def dispersion_change(ry: pd.DataFrame, value: str = "gdp_pc") -> tuple[int, float, int, float]:
    """First year, SD of log ``value`` across units then, last year, SD then."""
    d = ry[[UNIT, TIME, value]].dropna()
    d = d.loc[d[value] > 0]
    years = sorted(d[TIME].unique())
    if len(years) < 2:
        raise InputError("fewer than two years with GDP p.c.", source="region_year", rows="all", column=TIME)

    def sd(y: Any) -> float:
        return float(np.log(d.loc[d[TIME] == y, value].astype(float)).std(ddof=0))

    return int(years[0]), sd(years[0]), int(years[-1]), sd(years[-1])


def nickell_note(
    design: RegressionDesign, ry: pd.DataFrame, *, full: str, corrected: str, what: str = "column"
) -> str:
    """Note on the half-panel jackknife column of a convergence design (see :func:`nickell_text`)."""
    a, b = design.results.get(full), design.results.get(corrected)
    return nickell_text(
        ry,
        full=full,
        corrected=corrected,
        b_full=None if a is None else a.b,
        b_corrected=None if b is None else b.b,
        speed_full=design.speeds.get(full),
        speed_corrected=design.speeds.get(corrected),
        what=what,
    )


def nickell_text(
    ry: pd.DataFrame,
    *,
    full: str,
    corrected: str,
    b_full: float | None,
    b_corrected: float | None,
    speed_full: SpeedResult | None = None,
    speed_corrected: SpeedResult | None = None,
    what: str = "column",
    se_text: str = "SEs: CRV1 by province of the jackknife combination (OLS), ML SEs of the full fit (SDM)",
) -> str:
    """The correction, its SEs, and which case the data look like: near a stationary distribution
    (the Nickell bias bites) or far from the steady state (the within estimator is much less biased
    and the correction can overshoot), judged by the change in the cross-unit dispersion of log
    GDP p.c. over the window (heuristic threshold :data:`TRANSITION_SD_CHANGE`) next to the
    uncorrected and corrected estimates."""
    y0, sd0, y1, sd1 = dispersion_change(ry)
    change = sd1 / sd0 - 1.0 if sd0 > 0 else float("nan")
    text = (
        f"Bias correction: {what} {corrected} is the half-panel jackknife of {full} (Dhaene and Jochmans "
        "2015; 2·b̂ − mean of the half-panel estimates, four half panels for an odd number of years; every "
        f"half re-estimates all fixed effects); {se_text}. With unit effects and the lagged level, the "
        "within estimator has Nickell bias of order 1/T towards faster convergence when units fluctuate "
        "around their steady states (then the corrected estimate is the better one); far from the steady "
        "state (transitional dynamics) the within estimator is much less biased and the correction can "
        "overshoot."
    )
    if b_full is not None and b_corrected is not None:
        text += f" Here b = {b_full:.3f} uncorrected and {b_corrected:.3f} corrected"
        sa, sb = speed_full, speed_corrected
        if sa is not None and sb is not None and math.isfinite(sa.half_life) and math.isfinite(sb.half_life):
            text += f" (half-life {sa.half_life:.1f} vs {sb.half_life:.1f} years)"
        elif sb is not None and math.isfinite(sb.speed) and sb.speed <= 0:
            text += " (no convergence after the correction)"
        text += ";"
        if b_corrected < b_full:
            text += " the correction goes against the Nickell direction (more convergence), a sign of noise;"
    text += (
        f" the SD of log GDP p.c. across provinces went from {sd0:.3f} ({y0}) to {sd1:.3f} ({y1}), "
        f"{100 * change:+.0f} %: "
    )
    if math.isfinite(change) and abs(change) >= TRANSITION_SD_CHANGE:
        text += (
            "a large change in dispersion — the data look far from a stationary distribution, so the "
            "correction may overshoot; read the uncorrected and corrected estimates as a range "
            f"(heuristic: |change| ≥ {100 * TRANSITION_SD_CHANGE:.0f} %)."
        )
    else:
        text += (
            "dispersion is roughly stable — the data look close to a stationary distribution, where the "
            "Nickell bias bites; prefer the corrected estimate "
            f"(heuristic: |change| < {100 * TRANSITION_SD_CHANGE:.0f} %)."
        )
    return text


def _dynamic_column(
    data: pd.DataFrame,
    covs: Sequence[str],
    w: Any,
    results: dict[str, BetaResult],
    speeds: dict[str, SpeedResult | None],
    coefs: list[pd.DataFrame],
    stats: list[dict[str, str]],
    notes: list[str],
    n_units: int,
    speed_effect: str,
    n_sim: int,
    seed: int,
    spatial_se_type: str,
) -> None:
    """C3 (8): the dynamic spatial panel of spec (2), bias-corrected (Yu, de Jong and Lee 2008)."""
    from zonespill.spatial import designs as sdesigns

    name = "(8) SDM, dynamic"
    if not covs:
        notes.append(f"Column {name} not estimated: the dynamic model needs a regressor besides the lag.")
        return
    try:
        fit = dynamic_fit(data, covs, w, se_type=spatial_se_type)
        tab = sdesigns.growth_parametrisation(fit).rename(
            index={sdesigns.LAG: LAG, f"W_{sdesigns.LAG}": f"W_{LAG}"}
        )
        imp = fit.impact("y_lag", speed_effect, horizon="short", n_sim=n_sim, seed=seed)
        sp: SpeedResult | None = _safe_convergence_speed(imp.estimate - 1.0, imp.se)
    except OPTIONAL_ERRORS as exc:
        log.warning("C3 %s failed: %s", name, exc)
        notes.append(f"Column {name} (dynamic spatial panel of (2)) not estimated: {exc}")
        return
    res = _beta_of(tab["estimate"], tab["se"], int(fit.nobs), "sdm", SPATIAL_SE[spatial_se_type])
    rows = [
        ("Estimator", "dynamic SDM (QML), two-way FE, spec. (2)"),
        ("Provinces", str(n_units)),
        ("Fixed effects", "province, year"),
        ("SE type", f"{SPATIAL_SE[spatial_se_type]}, through the bias correction"),
        ("Bias correction", "Yu–de Jong–Lee (2008)"),
    ]
    speeds[name] = sp
    _append(
        coefs, stats, name, res, rows, speed=sp, source=f"{speed_effect} short-run impact of the lag (− 1)"
    )
    results[name] = res


def _safe_convergence_speed(b: float, se: float) -> SpeedResult | None:
    from zonespill.convergence.speed import convergence_speed

    try:
        return convergence_speed(b, se)
    except ZonespillError:
        return None


def _panel_impact_speed(
    data: pd.DataFrame,
    covs: Sequence[str],
    w: Any,
    params: pd.Series | None,
    *,
    effect: str,
    n_sim: int,
    seed: int,
    fits: dict[str, Any],
    key: str,
) -> tuple[SpeedResult | None, str]:
    try:
        if key not in fits:
            fits[key] = panel_spatial_fit(data, covs, w, "sdm", se_type="ml")
        return spatial_speed(fits[key], params, term=LAG, effect=effect, n_sim=n_sim, seed=seed)
    except OPTIONAL_ERRORS as exc:
        return None, f"{effect} impact (not computed: {exc})"


def _jackknife_columns(
    data: pd.DataFrame,
    results: dict[str, BetaResult],
    speeds: dict[str, SpeedResult | None],
    coefs: list[pd.DataFrame],
    stats: list[dict[str, str]],
    notes: list[str],
    w: Any,
    n_units: int,
    speed_effect: str,
    n_sim: int,
    seed: int,
    fits: dict[str, Any],
    spatial_se_type: str = "ml",
) -> None:
    """C3 (6): half-panel jackknife of (1); (7): of the SDM (4)."""
    todo = [("(6) FE, jackknife", "(1)", None), ("(7) SDM, jackknife", "(4) SDM", w)]
    for name, base, wj in todo:
        if base not in results:
            continue
        try:
            if wj is None:
                res = panel_beta(
                    data, value="gdp_pc", unit=UNIT, time=TIME, effects="twoways", bias_correction=JACKKNIFE
                )
            else:
                fits["(7)"] = spatial_jackknife_fit(data, [], wj, se_type=spatial_se_type)
                res = _beta_of(
                    fits["(7)"].params,
                    fits["(7)"].bse,
                    int(fits["(7)"].nobs),
                    "sdm",
                    f"{SPATIAL_SE[spatial_se_type]} of the full fit, half-panel jackknife",
                )
        except OPTIONAL_ERRORS as exc:
            log.warning("C3 %s failed: %s", name, exc)
            notes.append(f"Column {name} (half-panel jackknife of {base}) not estimated: {exc}")
            continue
        if wj is None:
            se = f"clustered by province (CRV1 of the jackknife combination, {n_units} clusters)"
            sp, src = _safe_speed(res), "b (coefficient, bias-corrected)"
        else:
            se = f"{SPATIAL_SE[spatial_se_type]} of the full fit"
            sp, src = _panel_impact_speed(
                data, [], wj, None, effect=speed_effect, n_sim=n_sim, seed=seed, fits=fits, key="(7)"
            )
            src += " at the corrected estimates"
        rows = [
            ("Estimator", f"{'OLS' if wj is None else 'SDM (ML)'}, two-way FE, spec. (1)"),
            ("Provinces", str(n_units)),
            ("Fixed effects", "province, year"),
            ("SE type", se),
            ("Bias correction", "half-panel jackknife (Dhaene–Jochmans 2015)"),
        ]
        speeds[name] = sp
        _append(coefs, stats, name, res, rows, speed=sp, source=src)
        results[name] = res


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
    core: str = "abs_t",
) -> ClubDesign:
    """Phillips–Sul clubs of log GDP per capita (HP trend, ``merge`` clubs).

    ``gdp_pc`` is used as given: real when region_year was deflated (its ``price_basis``),
    nominal otherwise (the clubs then depend on the price level, see the C4 notes). ``core``:
    core formation by the largest ``|t|`` (``"abs_t"``, ConvergenceClubs) or the largest ``t``
    (``"t"``, Phillips and Sul 2007).

    Only provinces observed in every year of the window enter (balanced panel). With fewer
    than ``min_periods`` years or ``min_units`` provinces, or if the algorithm cannot run,
    no clubs are reported (``result=None``, the table holds one explanatory row). The table
    lists each group's size and log-t regression with its own test (``passes``: t > −1.65);
    members are in :func:`membership_table` (table C4m).
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
                core=core,  # type: ignore[arg-type]
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
                    "reason": reason,
                    "log-t b": np.nan,
                    "se": np.nan,
                    "t": np.nan,
                    "passes (t > −1.65)": "",
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
            "log-t b": res.logt.beta,
            "se": res.logt.se,
            "t": res.logt.t,
            "passes (t > −1.65)": _yes(bool(np.isfinite(res.logt.t) and res.logt.t > -1.65)),
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
                "log-t b": np.nan,
                "se": np.nan,
                "t": np.nan,
                "passes (t > −1.65)": "",
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


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def _club_row(c: Mapping[Any, Any], names: Mapping[str, str]) -> dict[str, Any]:
    passes = bool(c["passes"]) if "passes" in c else bool(np.isfinite(c["t"]) and c["t"] > -1.65)
    return {
        "n": int(c["n"]),
        "log-t b": float(c["beta"]),
        "se": float(c["se"]),
        "t": float(c["t"]),
        "passes (t > −1.65)": _yes(passes),
    }


def membership_table(design: ClubDesign, names: Mapping[str, str]) -> pd.DataFrame:
    """C4m: one row per unit — id, name, final club (``divergent`` when in none), the initial club
    before merging, and whether the unit's final club passes its own log-t test."""
    ids = list(design.membership.index)
    if design.result is None:
        return pd.DataFrame(
            {
                "id": ids,
                "name": [names.get(u, u) for u in ids],
                "club": "not estimated",
                "initial club": "",
                "club passes log-t": "",
            }
        )
    passes = dict(zip(design.result.clubs["club"].astype(int), design.result.clubs["passes"], strict=True))
    init = design.initial_membership if design.initial_membership is not None else design.membership

    def label(v: Any) -> str:
        return "divergent" if pd.isna(v) else f"club {int(v)}"

    return pd.DataFrame(
        {
            "id": ids,
            "name": [names.get(u, u) for u in ids],
            "club": [label(design.membership[u]) for u in ids],
            "initial club": [label(init.get(u, pd.NA)) for u in ids],
            "club passes log-t": [
                "" if pd.isna(design.membership[u]) else _yes(bool(passes[int(design.membership[u])]))
                for u in ids
            ],
        }
    )


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
