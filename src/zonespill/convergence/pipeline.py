"""Pipeline steps of the convergence part of the paper (tables C1–C5, figures FC1–FC3).

One typed public function per Snakemake rule. Each reads the spine's Parquet/JSON outputs,
calls :mod:`zonespill.convergence.designs` and writes tables through
:func:`zonespill.tables.write_table` and figures through :func:`zonespill.figures.save_figure`
(both atomic and byte-deterministic). Options come from the ``convergence`` config section;
every key has a default (see :data:`DEFAULTS`), so a missing section works.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from zonespill.convergence import designs
from zonespill.errors import ConfigError
from zonespill.io import read_parquet
from zonespill.provenance import read_provenance_hash
from zonespill.steps import (
    check_master_seed,
    merge_section,
    price_basis,
    price_note,
    read_region_year,
    read_weights,
    vintage_note,
    weights_note,
)
from zonespill.study.schema import section_defaults

log = logging.getLogger("zonespill")

#: Defaults of the ``convergence`` config section (``first_year``/``last_year``: the
#: years present in region_year, i.e. the analysis window).
DEFAULTS: dict[str, Any] = section_defaults("convergence")  # from the schema (the one source of defaults)

SMALL_SAMPLE = (
    "Small sample: {n} provinces — asymptotic standard errors and p-values are rough guides; "
    "estimates with many interaction terms rest on few provinces per group."
)


def convergence_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``convergence`` section merged over :data:`DEFAULTS` (unknown keys rejected)."""
    out, seed = merge_section(options, DEFAULTS, "convergence")
    out["master_seed"] = check_master_seed(seed)
    for key, allowed in (
        ("speed_effect", ("total", "direct")),
        ("small_reference", ("refuse", "sample_mean")),
        ("core", ("abs_t", "t")),
        ("spatial_se_type", ("ml", "qml", "cluster")),
    ):
        if out[key] not in allowed:
            raise ConfigError(
                f"convergence.{key} must be one of {list(allowed)}, got {out[key]!r}",
                source="config",
                column=f"convergence.{key}",
            )
    if out["merge"] not in ("PS", "vLT", None):
        raise ConfigError(
            "convergence.merge must be 'PS', 'vLT' or null", source="config", column="convergence.merge"
        )
    if out["cov_type"] not in ("HC0", "HC1", "HC2", "HC3", "nonrobust"):
        raise ConfigError(
            "convergence.cov_type must be HC0-HC3 or nonrobust",
            source="config",
            column="convergence.cov_type",
        )
    return out


def impacts_seed(master_seed: int) -> int:
    """Seed of the impact simulation behind spatial speeds:
    ``derive_seed(master_seed, "convergence", "impacts")``."""
    from zonespill.provenance import derive_seed

    return derive_seed(int(master_seed), "convergence", "impacts")


def _load(region_year: Path, opts: Mapping[str, Any]) -> tuple[pd.DataFrame, int, int]:

    ry = read_region_year(region_year)
    return designs.analysis_window(ry, first_year=opts["first_year"], last_year=opts["last_year"])


def _weights(weights: Path | None, weights_meta: Path | None, use: bool) -> Any:
    if not use or weights is None:
        return None

    return read_weights(weights, weights_meta)


def _speed_setup(
    opts: Mapping[str, Any], weights: Path | None, weights_meta: Path | None
) -> tuple[Any, int, dict[str, Any]]:
    """W (or None), the impact seed and the speed / spatial keyword arguments C2 and C3 share."""
    W = _weights(weights, weights_meta, bool(opts["spatial"]))
    seed = impacts_seed(opts["master_seed"])
    speed = {
        "speed_effect": str(opts["speed_effect"]),
        "min_reference_units": int(opts["min_reference_units"]),
        "small_reference": str(opts["small_reference"]),
        "n_sim": int(opts["n_sim"]),
        "seed": seed,
        "spatial_se_type": str(opts["spatial_se_type"]),
    }
    return W, seed, speed


def _w_text(W: Any, meta: Path | None) -> str:
    if W is None:
        return "no weights (spatial columns switched off: convergence.spatial = false)"
    return weights_note(W, meta).removeprefix("Weights: ").removesuffix(".")


def _ties_note(last: int) -> str:
    return (
        "Tie groups: 'ever K' = a province-level tie of type K (bundled pairings) was active at some time "
        "up "
        f"to {last} (first_K ≤ {last}; may predate the window). Groups overlap."
    )


# --------------------------------------------------------------------------- C1 + FC1
def sigma_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    provenance: Path,
    outdir: Path,
    figure_stem: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """C1 (SD of log GDP p.c. by year, by tie group) and FC1 (lines)."""
    from zonespill import figures
    from zonespill.convergence.plots import plot_sigma
    from zonespill.tables import PlainTable, write_table

    opts = convergence_options(options)
    ry, first, last = _load(region_year, opts)
    ever = designs.ever_ties(ry, end_year=last)
    design = designs.sigma_design(ry, ever, min_units=int(opts["min_group_units"]))
    notes = (
        f"Sample: {len(ever)} provinces, {first}–{last}. Entries: standard deviation of log GDP per capita "
        "across "
        "the provinces of the group (population SD, ddof = 0, unweighted).",
        price_note(ry),
        vintage_note(ry),
        _ties_note(last),
        *design.notes,
        "Small groups: with few provinces per group the SD is sensitive to single provinces; differences in "
        "levels "
        "between groups are not tests.",
    )
    table = PlainTable(
        design.table,
        table_id="C1",
        title="Sigma convergence with and without collaborating provinces",
        notes=notes,
        digits=4,
    )
    paths = write_table(table, outdir, provenance_hash=read_provenance_hash(provenance), formats=formats)
    figures.use_agg()
    paths += plot_sigma(
        design.paths,
        figure_stem,
        ylabel="SD of log GDP per capita",
        title="Sigma convergence by collaboration group",
    )
    return paths


# --------------------------------------------------------------------------- C2 + FC2
def beta_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    weights: Path,
    weights_meta: Path,
    provenance: Path,
    outdir: Path,
    figure_stem: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """C2 (cross-sectional beta with tie interactions, OLS + SEM/SAR) and FC2 (scatter)."""
    from zonespill import figures
    from zonespill.convergence.plots import plot_beta_scatter

    opts = convergence_options(options)
    ry, first, last = _load(region_year, opts)
    ever = designs.ever_ties(ry, end_year=last)
    W, seed, speed = _speed_setup(opts, weights, weights_meta)
    design = designs.beta_design(
        ry, ever, start=first, end=last, W=W, cov_type=str(opts["cov_type"]), **speed
    )
    n = len(design.data) if design.data is not None else 0
    notes = (
        f"Dependent variable: average annual log growth of GDP per capita {first}–{last} "
        f"(T = {last - first}); regressor: log GDP per capita in {first}. {n} provinces.",
        price_note(ry),
        vintage_note(ry),
        _ties_note(last) + " Interactions use the initial log level centred at its sample mean: the slope of "
        "group K is the initial-level coefficient plus the interaction; the dummy is the growth gap at the "
        "mean level.",
        designs.speed_note() + f" Here T = {last - first}. Impact draws: {int(opts['n_sim'])}, seed {seed} "
        "= derive_seed(master_seed, 'convergence', 'impacts').",
        f"OLS columns: {opts['cov_type']} standard errors. SEM/SAR (Rey–Montouri 1999): ML with "
        f"{_w_text(W, weights_meta)}, SEs: {designs.SPATIAL_SE[str(opts['spatial_se_type'])]} "
        "(convergence.spatial_se_type). In the SEM the coefficient b is the "
        "impact of the initial level; in the SAR it is not (the impacts include the spatial multiplier), "
        f"so SAR speeds use the {opts['speed_effect']} impact.",
        SMALL_SAMPLE.format(n=n),
        *design.notes,
    )
    paths = _write_regression(
        design,
        table_id="C2",
        title="Cross-sectional beta convergence and collaboration ties",
        notes=notes,
        provenance=provenance,
        outdir=outdir,
        formats=formats,
    )
    figures.use_agg()
    assert design.data is not None
    cs = design.data.reset_index()
    paths += plot_beta_scatter(
        cs,
        figure_stem,
        result=design.results.get("(1)"),
        label="extremes",
        label_column=designs.UNIT,
        groups="profile",
        group_order=list(designs.PROFILES),
        title=f"Beta convergence {first}–{last} by tie profile",
    )
    return paths


def _term_order(coefs: pd.DataFrame, labels: Mapping[str, str]) -> list[str]:
    present = list(dict.fromkeys(coefs["term"].astype(str)))
    ordered = [t for t in labels if t in present]
    return ordered + [t for t in present if t not in ordered]


def _write_regression(
    design: Any,
    *,
    table_id: str,
    title: str,
    notes: tuple[str, ...],
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """Write a design's long coefficients / statistics as a regression table (C2, C3)."""
    from zonespill.tables import RegressionTable, write_table

    table = RegressionTable.from_long(
        design.coefs,
        design.stats,
        table_id=table_id,
        title=title,
        notes=notes,
        term_labels=design.labels,
        term_order=_term_order(design.coefs, design.labels),
    )
    return write_table(table, outdir, provenance_hash=read_provenance_hash(provenance), formats=formats)


# --------------------------------------------------------------------------- C3
def panel_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    weights: Path,
    weights_meta: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
) -> list[Path]:
    """C3: panel beta with two-way FE, tie interactions with the lagged level, SDM column."""
    opts = convergence_options(options)
    ry, first, last = _load(region_year, opts)
    W, seed, speed = _speed_setup(opts, weights, weights_meta)
    design = designs.panel_design(
        ry, W=W, jackknife=bool(opts["jackknife"]), dynamic=bool(opts["dynamic"]), **speed
    )
    n = ry[designs.UNIT].nunique()
    notes = (
        f"Dependent variable: annual growth of log GDP per capita, {first + 1}–{last}; regressor: log GDP "
        "per capita "
        "in t−1 (consecutive years only). Province and year fixed effects.",
        price_note(ry),
        vintage_note(ry),
        "Tie indicators: 1 if the province has an active tie in that role in the year; interactions use the "
        "lagged "
        "log level centred at its sample mean (slope of active group K = b + interaction).",
        f"OLS columns: pyfixest within estimator, SEs clustered by province (CRV1; only {n} clusters — "
        "p-values are approximate). " + designs.speed_note() + " Here T = 1 (annual growth).",
        "SDM columns: spatial Durbin panel, two-way FE, ML (zonespill.spatial.fit_panel) with "
        f"{_w_text(W, weights_meta)}; W· rows are spatial lags of the regressors; SEs: "
        f"{designs.SPATIAL_SE[str(opts['spatial_se_type'])]} (convergence.spatial_se_type). The coefficient "
        "b of the SDM is not a marginal effect: "
        f"speeds use the {opts['speed_effect']} impact of the lagged level (impact draws: "
        f"{int(opts['n_sim'])}, seed {seed} = derive_seed(master_seed, 'convergence', 'impacts')).",
        *(
            (designs.nickell_note(design, ry, full="(1)", corrected="(6) FE, jackknife"),)
            if opts["jackknife"]
            else (
                f"With province effects b carries Nickell bias of order 1/T (T = {last - first}); "
                "no bias-corrected column (convergence.jackknife = false).",
            )
        ),
        *(
            (
                "Column (8) SDM, dynamic: spec. (2) written as a dynamic spatial panel of the log level, "
                "ln y_t = ρW ln y_t + γ ln y_{t−1} + δW ln y_{t−1} + Xβ + WXθ + μ + α_t "
                "(γ = 1 + b, δ = θ − ρ), "
                "QML with the Yu, de Jong and Lee (2008) bias correction (fit_panel(dynamic=True, "
                "bias_correction=True)); the first year only supplies the lag. Rows show b = γ − 1 and "
                "W·log level = δ + ρ (SE from the covariance of δ and ρ); the speed uses the short-run "
                "impact "
                "of ln y_{t−1} on ln y_t minus 1. Table S3 lists the long-run impacts of the tie "
                "indicators for the same model on the spatial sample (whose first growth year only "
                "supplies the lag there).",
            )
            if "(8) SDM, dynamic" in design.results
            else ()
        ),
        SMALL_SAMPLE.format(n=n),
        *design.notes,
    )
    return _write_regression(
        design,
        table_id="C3",
        title="Panel beta convergence and active collaboration ties (two-way FE)",
        notes=notes,
        provenance=provenance,
        outdir=outdir,
        formats=formats,
    )


# --------------------------------------------------------------------------- C4, C5 + FC3
def clubs_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    regions: Path,
    collaborations: Path,
    provenance: Path,
    outdir: Path,
    figure_stem: Path,
    formats: tuple[str, ...],
    pair_year: Path | None = None,
) -> list[Path]:
    """C4 (Phillips–Sul clubs), C5 (clubs × tie direction, partner pairs) and FC3 (transition paths).

    C5's partner pairs come from ``pair_year`` (analysis-level endpoints, any level) when given,
    else from the collaborations mapped to provinces (province-level analysis only)."""
    from zonespill import figures
    from zonespill.convergence import transition_paths
    from zonespill.convergence.plots import plot_message, plot_transition_paths
    from zonespill.indicators import province_of
    from zonespill.tables import PlainTable, write_table

    opts = convergence_options(options)
    ry, first, last = _load(region_year, opts)
    reg = read_parquet(regions)
    names = dict(zip(reg["region_id"].astype(str), reg["name"].astype(str), strict=True))
    ever = designs.ever_ties(ry, end_year=last)
    merge = opts["merge"]
    design = designs.club_design(
        ry,
        names,
        hp_lambda=float(opts["hp_lambda"]),
        merge=merge,
        time_trim=float(opts["time_trim"]),
        cstar=float(opts["cstar"]),
        min_periods=int(opts["min_club_periods"]),
        core=str(opts["core"]),
    )
    n_units = len(design.membership)
    caveats = (
        f"Club tests with few units: {n_units} provinces and {last - first + 1} years; the log-t "
        "regressions of "
        "small clubs use the cross-sectional variation of a handful of provinces, so club boundaries are "
        "fragile.",
        f"HP filter (λ = {float(opts['hp_lambda']):g}) end-point problem: the trend is least reliable in "
        "the first "
        "and last years, and the algorithm sorts provinces by the last-year trend value.",
    )
    hpkey = read_provenance_hash(provenance)
    basis = price_basis(ry)
    core_text = {
        "abs_t": "core group = the prefix with the largest |t| (ConvergenceClubs convention)",
        "t": "core group = the prefix with the largest t (Phillips and Sul 2007)",
    }[str(opts["core"])]
    if basis.startswith("real"):
        unit_note = (
            f"Clubs are computed on log real GDP per capita ({basis}). Phillips–Sul's relative transition "
            "h_it = log y_it / mean_i log y_it depends on the measurement unit (a common price level or "
            "currency unit shifts every log level), so real values in one base are used."
        )
    else:
        unit_note = (
            "Clubs are computed on log NOMINAL GDP per capita (no deflator given). Phillips–Sul's relative "
            "transition h_it = log y_it / mean_i log y_it is not invariant to the measurement unit: "
            "multiplying the series by a constant (another currency unit) or deflating by a common price "
            "index changes every ratio and can change the clubs. Give a deflator (inputs.deflator) to run "
            "them on real values; until then read the clubs as specific to current prices."
        )
    failing = design.result.failing_clubs if design.result is not None else []
    check = (
        ""
        if design.result is None
        else (
            "Every final club passes its own log-t test (t > −1.65)."
            if not failing
            else f"Final club(s) {', '.join(map(str, failing))} do NOT pass their own log-t test "
            "(t ≤ −1.65): the sieve or merging step admitted members that the club as a whole does not "
            "support; read them with care."
        )
    )
    notes4 = (
        "Phillips–Sul (2007, 2009) log-t test and clustering on the HP trend of log GDP per capita, "
        f"{first}–{last}; "
        f"time trim {float(opts['time_trim']):.3g}, c* = {float(opts['cstar']):g}, critical value −1.65, "
        f"club merging: {merge or 'none'}, {core_text} (convergence.core).",
        "log-t b: slope of log(H1/Ht) − 2 log log t on log t; SE: HAC (quadratic spectral kernel, Andrews "
        "bandwidth); "
        "convergence within a group is not rejected when t > −1.65 ('passes'). Members of each club: "
        "Table C4m.",
        *((check,) if check else ()),
        price_note(ry),
        unit_note,
        vintage_note(ry),
        *caveats,
        *design.notes,
    )
    t4 = PlainTable(
        design.table,
        table_id="C4",
        title="Convergence clubs of provinces (Phillips–Sul)",
        notes=notes4,
        digits={"log-t b": 3, "se": 3, "t": 2},
    )
    paths = write_table(t4, outdir, provenance_hash=hpkey, formats=formats)
    members = designs.membership_table(design, names)
    t4m = PlainTable(
        members.set_index("id"),
        table_id="C4m",
        title="Convergence club membership of provinces (Phillips–Sul)",
        notes=(
            "One row per province with complete data: final club ('divergent' = in no club), the club "
            "before merging, and whether the final club passes its own log-t test. Club sizes and log-t "
            "statistics: Table C4.",
            unit_note,
            *design.notes,
        ),
    )
    paths += write_table(t4m, outdir, provenance_hash=hpkey, formats=formats)

    if pair_year is not None:
        py = read_parquet(pair_year)
        col = py.drop_duplicates("tie_id" if "tie_id" in py.columns else "collab_id")
        pmap: dict[str, str] = {}
    else:
        col = read_parquet(collaborations)
        pmap = province_of(reg)
    pairs = designs.province_pairs(col, pmap, list(ever.index), first_year=first, last_year=last)
    if design.result is None:
        frame = pd.DataFrame([{"group": "not estimated", "reason": design.reason or ""}])
        notes5: tuple[str, ...] = (
            f"Clubs not estimated ({design.reason}); no cross-tabulation.",
            vintage_note(ry),
            *caveats,
        )
        t5 = PlainTable(
            frame, table_id="C5", title="Convergence clubs and collaboration direction", notes=notes5
        )
    else:
        frame = designs.club_tie_crosstab(design.membership, ever, pairs)
        if design.merged and design.initial_membership is not None:
            init = designs.club_tie_crosstab(design.initial_membership, ever, pairs)
            frame = pd.concat(
                [frame.assign(clubs="final"), init.assign(clubs="initial (before merging)")],
                ignore_index=True,
            )
            cols = sorted(
                (c for c in frame.columns if c.startswith("club ")), key=lambda c: int(c.split()[1])
            )
            rest = ["divergent", "different clubs", "total", "same-club share"]
            frame = frame[["clubs", "unit", "group", *cols, *rest]]
            frame[cols] = frame[cols].astype("float64")
        two = frame.loc[frame["group"] == "two-way partner pairs"].iloc[0]
        one = frame.loc[frame["group"].str.startswith("one-way")].iloc[0]
        both_kinds = int(((pairs["two_way"] == 1) & (pairs["one_way"] == 1)).sum())
        notes5 = (
            "Province rows: number of provinces of the tie group in each club (groups overlap; 'no tie' = no "
            f"province-level tie of any type by {last}). Pair rows: unordered province pairs with a tie "
            "active at "
            f"some time in {first}–{last} (within-province ties excluded); 'club c' counts pairs with both "
            "members in "
            "club c; 'divergent' pairs have a member in no club.",
            "Same-club share = pairs in the same club / pairs with both members in some club; the benchmark "
            "row is "
            "the share for all pairs of provinces. "
            f"Two-way pairs: {int(two['total'])}, one-way pairs: {int(one['total'])}"
            + (
                f" ({both_kinds} pair(s) have both kinds of tie and are counted in both rows)."
                if both_kinds
                else "."
            ),
            *(
                (
                    "Merging left fewer clubs than the clustering step found, so the cross-tabulation is "
                    "shown for the "
                    "final clubs and for the initial clubs (blank: club absent from that partition).",
                )
                if design.merged
                else ()
            ),
            vintage_note(ry),
            *caveats,
            "With this few pairs the shares are descriptive; no test of equality is reported.",
        )
        keys = [c for c in ("clubs", "unit", "group") if c in frame.columns]
        digits5: dict[str, int] = {c: 0 for c in frame.columns if c not in (*keys, "same-club share")}
        digits5["same-club share"] = 3
        t5 = PlainTable(
            frame.set_index(keys),
            table_id="C5",
            title="Convergence clubs and collaboration direction",
            notes=notes5,
            digits=digits5,
        )
    paths += write_table(t5, outdir, provenance_hash=hpkey, formats=formats)

    figures.use_agg()
    title = f"Transition paths by club, {first}–{last}"
    if design.result is None:
        paths += plot_message(figure_stem, title=title, message=f"Clubs not estimated: {design.reason}")
    else:
        clubs: Any = design.result
        if design.merged and design.initial_membership is not None:
            # merging joined clubs: the initial clubs show the paths that were merged
            clubs = {u: int(c) for u, c in design.initial_membership.dropna().items()}
            title += " (initial clubs, before merging)"
        tp = transition_paths(
            design.panel,
            value="log_gdp_pc",
            unit=designs.UNIT,
            time=designs.TIME,
            clubs=clubs,
            filter="hp",
            hp_lambda=float(opts["hp_lambda"]),
        )
        paths += plot_transition_paths(tp, figure_stem, title=title)
    return paths
