"""DiD designs of the paper built from the spine's analysis tables (no file I/O here).

* region-level staggered designs by tie type (tables D1/D2, figures FD1);
* the pair-level (dyadic) convergence design (D3);
* spillover exposure designs — direct effect with low-exposure controls and the spillover effect on
  never-treated units by exposure onset (D4);
* the Goodman-Bacon decomposition of the any-tie TWFE (D5).

Every estimator call is wrapped so that a design which cannot be estimated (no valid controls, no
treated cohort, ...) yields an :class:`Estimate` with ``reason`` set instead of raising; callers put
the reason in the table notes. Estimands and conventions: ``docs/methods/did.md`` (section
"Designs of the paper").
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from zonespill.did.callaway import callaway_santanna
from zonespill.did.regression import bacon_decomposition, imputation, sun_abraham, twfe
from zonespill.errors import ConfigError, EstimationError, InputError

# Tie types (region-level designs) and directions (pair-level design): the one vocabulary.
from zonespill.vocabulary import PAIR_DIRECTIONS as PAIR_DIRECTIONS
from zonespill.vocabulary import REGION_TIES as REGION_TIES
from zonespill.vocabulary import TIE_LABELS as TIE_LABELS

# Estimator keys and their column labels.
CS_NOTYET = "cs_notyet"
CS_NEVER = "cs_never"
BJS = "bjs"
SA = "sa"
TWFE = "twfe"
ESTIMATOR_LABELS: dict[str, str] = {
    CS_NOTYET: "CS (not yet treated)",
    CS_NEVER: "CS (never treated)",
    BJS: "BJS imputation",
    SA: "Sun-Abraham",
    TWFE: "TWFE",
}

UNIT, TIME, Y, G = "unit", "year", "y", "cohort"


# ----------------------------------------------------------------------------------------------
# containers
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """A balanced long panel ready for the estimators (columns unit, year, y, cohort [, clusters]).

    ``dropped`` lists (count, reason) of units removed while building it.
    """

    name: str
    data: pd.DataFrame
    first_year: int
    last_year: int
    dropped: tuple[tuple[int, str], ...] = ()
    cluster: str | tuple[str, str] | None = None

    @property
    def n_units(self) -> int:
        return int(self.data[UNIT].nunique())

    def cohort_sizes(self) -> dict[int, int]:
        """Treated units per cohort inside the sample window (cohort ≤ last year)."""
        u = self.data.drop_duplicates(UNIT)
        g = u[G].to_numpy(dtype=float)
        ok = (g > 0) & (g <= self.last_year)
        vals, counts = np.unique(g[ok], return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, counts, strict=True)}

    def n_never(self) -> int:
        """Units never treated within the window (cohort 0 or after the last year)."""
        g = self.data.drop_duplicates(UNIT)[G].to_numpy(dtype=float)
        return int(((g == 0) | (g > self.last_year)).sum())

    def n_after(self) -> int:
        """Units first treated after the last sample year (never treated within the window)."""
        g = self.data.drop_duplicates(UNIT)[G].to_numpy(dtype=float)
        return int((g > self.last_year).sum())

    def describe(self) -> str:
        """One-line description for table notes: cohorts (treated units), controls, exclusions."""
        sizes = self.cohort_sizes()
        coh = ", ".join(f"{g} ({n})" for g, n in sizes.items()) or "none"
        window = f"{self.first_year}–{self.last_year}"
        text = f"{self.name}: cohorts (treated units) {coh}; never treated in {window}: {self.n_never()}"
        if self.n_after():
            text += f" (of which {self.n_after()} first treated after {self.last_year})"
        for count, reason in self.dropped:
            if count:
                text += f"; excluded {count} {reason}"
        return text + "."


@dataclass(frozen=True)
class Estimate:
    """One estimator on one sample: overall ATT and SE, or the reason it could not be estimated."""

    design: str
    estimator: str
    att: float = float("nan")
    se: float = float("nan")
    reason: str | None = None
    n_obs: int = 0
    n_units: int = 0
    event_study: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    pretrend_p: float | None = None
    # inference and identification (issue 11): p-value from the chosen method, whether a star may
    # be printed, support of the estimate, the estimator's joint pre-trend test and notes
    pvalue: float = float("nan")
    inference: str = "analytic"
    inference_label: str = ""
    inference_possible: bool = True
    thin: bool = False
    n_treated: int | None = None
    n_control: int | None = None
    n_clusters: int | None = None
    pretrend: Any = field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)
    thin_cells: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def starred(self) -> bool:
        """A significance star may be printed: estimable, inference possible, not thin, finite p."""
        return self.ok and self.inference_possible and not self.thin and bool(np.isfinite(self.pvalue))

    def no_star_reason(self) -> str | None:
        """Why this estimate carries no star (None when it may carry one)."""
        if not self.ok or self.starred:
            return None
        if self.thin:
            return (f"fewer than the minimum units on a side in every usable (g,t) cell "
                    f"({self.n_treated or 0} treated, {self.n_control or 0} control units)")
        if not self.inference_possible:
            why = [n for n in self.notes if n.startswith("inference not possible")]
            return why[0] if why else "inference not possible"
        return "no p-value from the chosen inference method"


@dataclass(frozen=True)
class EstimatorSettings:
    """Options shared by the estimators of a design."""

    control_group: str = "notyet"
    method: str = "dr"
    base_period: str = "varying"
    anticipation: int = 0
    n_boot: int | None = None
    alpha: float = 0.05
    inference: str = "analytic"
    boot_weights: str = "rademacher"
    min_units_per_side: int = 2
    include_thin_cells: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EstimatorSettings:
        """Settings from the ``did`` config section; unknown choices raise ConfigError."""
        choices = {
            "control_group": ("notyet", "never"),
            "cs_method": ("dr", "reg", "ipw"),
            "base_period": ("varying", "universal"),
            "inference": ("analytic", "bootstrap", "wild", "ri"),
            "boot_weights": ("rademacher", "webb"),
        }
        for key, allowed in choices.items():
            if key in options and options[key] not in allowed:
                raise ConfigError(
                    f"must be one of {list(allowed)}, got {options[key]!r}",
                    source="config",
                    column=f"did.{key}",
                )
        n_boot = options.get("n_boot", 999)
        return cls(
            control_group=str(options.get("control_group", "notyet")),
            method=str(options.get("cs_method", "dr")),
            base_period=str(options.get("base_period", "varying")),
            anticipation=int(options.get("anticipation", 0)),
            n_boot=int(n_boot) if n_boot else None,
            alpha=float(options.get("alpha", 0.05)),
            inference=str(options.get("inference") or "analytic"),
            boot_weights=str(options.get("boot_weights") or "rademacher"),
            min_units_per_side=int(options.get("min_units_per_side") or 2),
            include_thin_cells=bool(options.get("include_thin_cells", False)),
        )

    @property
    def small_sample(self) -> str:
        """The estimators' ``inference`` argument: ``wild``/``ri``, else ``analytic``."""
        return self.inference if self.inference in ("wild", "ri") else "analytic"


# ----------------------------------------------------------------------------------------------
# sample construction
# ----------------------------------------------------------------------------------------------
def balance(frame: pd.DataFrame, *, unit: str, time: str, outcome: str) -> tuple[pd.DataFrame, int, int, int]:
    """Drop missing outcomes, keep the years with any observation and the units complete over them.

    Returns (balanced frame, first year, last year, number of units dropped as incomplete).
    """
    f = frame.loc[frame[outcome].notna()]
    if f.empty:
        raise EstimationError(f"outcome {outcome!r} is missing everywhere")
    years = np.sort(f[time].unique())
    counts = f.groupby(unit)[time].nunique()
    complete = counts.index[counts.to_numpy() == len(years)]
    out = f.loc[f[unit].isin(complete)].sort_values([unit, time], kind="mergesort").reset_index(drop=True)
    return out, int(years[0]), int(years[-1]), int(len(counts) - len(complete))


def _presample(sample: pd.DataFrame, first_year: int, anticipation: int) -> pd.Series:
    """Units treated in or before the first analysis year (no pre-treatment period)."""
    u = sample.drop_duplicates(UNIT).set_index(UNIT)[G].astype(float)
    return u[(u > 0) & (u <= first_year + anticipation)]


def region_sample(
    region_year: pd.DataFrame, *, tie: str, outcome: str, anticipation: int = 0, name: str | None = None
) -> Sample:
    """Province panel for the staggered design 'first year province i holds a tie of type ``tie``'.

    Cohort = ``first_<tie>`` (0 = never). Provinces first tied in or before the first analysis year
    (e.g. the 1996 east-west pairings with the 2003-2022 nbs2023 series) have no pre-treatment year
    and are excluded from every estimator (the count is recorded in ``dropped``).
    """
    col = f"first_{tie}"
    for c in ("region_id", "year", outcome, col):
        if c not in region_year.columns:
            raise InputError("column missing from region_year", source="region_year", rows="all", column=c)
    frame = pd.DataFrame(
        {
            UNIT: region_year["region_id"].astype(str),
            TIME: region_year["year"].astype(int),
            Y: pd.to_numeric(region_year[outcome], errors="coerce").astype(float),
            G: pd.to_numeric(region_year[col], errors="coerce").fillna(0).astype(int),
        }
    )
    frame, t0, t1, incomplete = balance(frame, unit=UNIT, time=TIME, outcome=Y)
    pre = _presample(frame, t0, anticipation)
    frame = frame.loc[~frame[UNIT].isin(pre.index)].reset_index(drop=True)
    dropped = (
        (
            len(pre),
            f"provinces first tied in or before {t0 + anticipation} (treated before the sample: "
            "no pre-treatment year)",
        ),
        (incomplete, "provinces with incomplete outcome series"),
    )
    return Sample(
        name=name or TIE_LABELS.get(tie, tie), data=frame, first_year=t0, last_year=t1, dropped=dropped
    )


# ----------------------------------------------------------------------------------------------
# estimators
# ----------------------------------------------------------------------------------------------
# Estimator failures reported as "not estimable" (pyfixest signals e.g. full collinearity of the
# treatment dummies with the fixed effects by a plain ValueError); InputError (a caller bug) is re-raised.
_FAIL = (EstimationError, np.linalg.LinAlgError, ValueError)


def is_panic(exc: BaseException) -> bool:
    """A Rust panic surfaced by a compiled extension (pyo3 ``PanicException``, e.g. pyfixest's
    demeaning). It derives from ``BaseException``, so ``except Exception`` does not see it."""
    return any(c.__name__ == "PanicException" for c in type(exc).__mro__)


def estimator_failure(exc: BaseException) -> str | None:
    """The reason to report for an estimator failure, or None when ``exc`` must propagate
    (caller bugs: :class:`InputError`; interrupts and anything else unexpected)."""
    if isinstance(exc, InputError):
        return None
    if is_panic(exc):
        text = " ".join(str(exc).split()) or "no message"
        return f"the estimator panicked in compiled code ({type(exc).__name__}: {text[:300]})"
    if isinstance(exc, _FAIL):
        return _short(exc)
    return None


def _short(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "reason", None) or exc).split())
    if not isinstance(exc, EstimationError) and "collinear" in text:
        return "treatment indicators collinear with the fixed effects (no untreated comparison)"
    return text.rstrip(".") or type(exc).__name__


def _cs_event_study(res: Any) -> pd.DataFrame | None:
    agg = res.aggregate("dynamic")
    if agg.table.empty:  # no identified event time (every cell NaN or thin): no event study to draw
        return None
    es = agg.table.rename(columns={"cband_lower": "uniform_lower", "cband_upper": "uniform_upper"}).copy()
    es["e"] = es["e"].astype(int)
    return es.reset_index(drop=True)


def estimate(
    sample: Sample,
    estimator: str,
    settings: EstimatorSettings,
    *,
    seed: int | None = None,
    event_study: bool = False,
    bootstrap: bool = True,
) -> Estimate:
    """Run one estimator on a sample; failures become ``Estimate(reason=...)``.

    CS (``cs_notyet``/``cs_never``): overall ATT = simple aggregation Σ_g p_g ATT(g,t) over post cells;
    BJS: static imputation ATT (equal weights on treated observations); SA: cell-count weighted
    average of the post-period cohort × event-time effects; TWFE: static β. SEs clustered by unit or by
    ``sample.cluster`` (one or two columns); CS uses the multiplier bootstrap when
    ``settings.n_boot`` is set, ``bootstrap`` is true and there is one clustering dimension.
    """
    kw: dict[str, Any] = {"outcome": Y, "unit": UNIT, "time": TIME, "cohort": G, "cluster": sample.cluster}
    base = estimate_base(sample, estimator)
    try:
        with warnings.catch_warnings():  # negative variance estimates surface as NaN SEs (noted by callers)
            warnings.simplefilter("ignore", RuntimeWarning)
            return _estimate(
                sample, estimator, settings, kw, base, seed=seed, event_study=event_study, bootstrap=bootstrap
            )
    except BaseException as exc:  # a Rust panic is a BaseException (see is_panic)
        reason = estimator_failure(exc)
        if reason is None:
            raise
        return Estimate(**base, reason=reason)


def estimate_base(sample: Sample, estimator: str) -> dict[str, Any]:
    """The fields every :class:`Estimate` of ``estimator`` on ``sample`` carries, failed or not."""
    return {
        "design": sample.name,
        "estimator": estimator,
        "n_obs": len(sample.data),
        "n_units": sample.n_units,
    }


def _estimate(
    sample: Sample,
    estimator: str,
    settings: EstimatorSettings,
    kw: dict[str, Any],
    base: dict[str, Any],
    *,
    seed: int | None,
    event_study: bool,
    bootstrap: bool,
) -> Estimate:
    """Body of :func:`estimate` (raises on failure)."""
    d = sample.data
    if not sample.cohort_sizes():
        raise EstimationError("no treated cohort with a pre-treatment year in the sample")
    two_way = isinstance(sample.cluster, tuple) and len(sample.cluster) == 2
    # wild / RI resample one clustering dimension; two-way clustered designs keep analytic p-values
    inf = "analytic" if two_way else settings.small_sample
    common: dict[str, Any] = {
        "alpha": settings.alpha,
        "anticipation": settings.anticipation,
        "min_units_per_side": settings.min_units_per_side,
        "include_thin_cells": settings.include_thin_cells,
    }
    small: dict[str, Any] = {}
    if inf != "analytic":
        small = {"inference": inf, "n_boot": settings.n_boot, "boot_weights": settings.boot_weights,
                 "seed": seed}
    if estimator in (CS_NOTYET, CS_NEVER):
        n_boot = settings.n_boot if (bootstrap and not two_way and inf == "analytic") else None
        res = callaway_santanna(
            d,
            **kw,
            control_group="notyet" if estimator == CS_NOTYET else "never",
            method=settings.method,  # type: ignore[arg-type]
            base_period=settings.base_period,  # type: ignore[arg-type]
            **common,
            **(small if small else {"n_boot": n_boot, "seed": seed if n_boot else None}),
        )
        return cs_estimate(res, base, event_study=event_study)
    if estimator == BJS:
        r = imputation(d, **kw, horizons=event_study, **common, **small)
    elif estimator == SA:
        r = sun_abraham(d, **kw, **common, **small)
    elif estimator == TWFE:
        r = twfe(d, **kw, **common, **small)
    else:
        raise InputError(f"unknown estimator {estimator!r}", source="estimator")
    es = None
    if event_study and "e" in r.table.columns:
        es = r.table.rename(columns={"estimate": "att"})
    return regression_estimate(r, base, event_study=es)


def _support_counts(cells: pd.DataFrame, sizes: Mapping[float, int]) -> tuple[int, int]:
    """Treated units of the cohorts with a used post-treatment cell; fewest control units there."""
    if cells.empty or "used" not in cells:
        return int(sum(sizes.values())), 0
    u = cells[cells["used"].to_numpy(dtype=bool) & (cells["e"].to_numpy() >= 0)]
    if u.empty:
        post = cells[cells["e"].to_numpy() >= 0]
        n_c = int(post["n_control"].max()) if len(post) else 0
        return int(sum(sizes.get(g, 0) for g in set(post["cohort"]))), n_c
    return int(sum(sizes.get(g, 0) for g in set(u["cohort"]))), int(u["n_control"].min())


def _thin_summary(cells: pd.DataFrame) -> tuple[str, ...]:
    """Thin (g,t) cells by cohort: ``g=2021 (1 treated, 21–30 control; 19 cells)``."""
    if cells.empty or "thin" not in cells:
        return ()

    def span(x: pd.Series) -> str:
        lo, hi = int(x.min()), int(x.max())
        return f"{lo}" if lo == hi else f"{lo}–{hi}"

    thin = cells[cells["thin"].to_numpy(dtype=bool)]
    return tuple(
        f"g={g:g} ({span(grp['n_treated'])} treated, {span(grp['n_control'])} control; {len(grp)} cells)"
        for g, grp in thin.groupby("cohort", sort=True)
    )


def _not_finite(base: Mapping[str, Any], cells: pd.DataFrame, m: int, notes: Sequence[str]) -> Estimate:
    """Why there is no overall estimate: every post cell thin, or not identified (with the reason)."""
    post = cells[cells["e"].to_numpy() >= 0] if "e" in cells else cells
    thin = post["thin"].to_numpy(dtype=bool) if "thin" in post else np.zeros(len(post), dtype=bool)
    status = post["status"].astype(str).to_numpy() if "status" in post else np.full(len(post), "")
    if len(post) and thin.all():
        reason = f"no usable post-treatment (g,t) cell: every one has fewer than {m} unit(s) on a side"
    elif len(post) and ((status != "") | thin).all():
        whys = sorted({str(w) for w in status if w})
        reason = (f"no identified post-treatment (g,t) cell ({int((status != '').sum())} not identified: "
                  f"{'; '.join(whys)}" + (f"; {int(thin.sum())} thin" if thin.any() else "") + ")")
    else:
        why = [n for n in notes if "not identified" in n or "no identified" in n]
        reason = why[0] if why else "the estimate is not finite"
    return Estimate(**base, reason=reason.rstrip("."))


def _analytic_possible(kind: str, possible: bool, notes: tuple[str, ...], n_treated: int) \
        -> tuple[bool, tuple[str, ...]]:
    """Analytic (normal) p-values are no more valid than resampling ones with one treated unit."""
    from zonespill.did.inference import possible_note

    if kind == "analytic" and possible and n_treated < 2:
        note = possible_note(n_treated, 0.0, 0.05)
        return False, (*notes, *([note] if note else []))
    return possible, notes


def cs_estimate(res: Any, base: Mapping[str, Any], *, event_study: bool = False) -> Estimate:
    """An :class:`Estimate` from a Callaway–Sant'Anna result (simple aggregation)."""
    simple = res.aggregate("simple")
    if not np.isfinite(simple.att):
        return _not_finite(base, res.cells, res.min_units_per_side, simple.notes)
    es = _cs_event_study(res) if event_study else None
    pre = res.pretrend
    n_tr, n_c = _support_counts(res.cells, res.cohort_sizes)
    possible, notes = _analytic_possible(res.inference, bool(simple.inference_possible),
                                         tuple(simple.notes), n_tr)
    return Estimate(
        **base, att=simple.att, se=simple.se, event_study=es,
        pretrend_p=pre.pvalue if pre is not None else None,
        pvalue=float(simple.pvalue), inference=res.inference, inference_label=simple.method,
        inference_possible=possible, thin=bool(simple.thin_overall),
        n_treated=n_tr, n_control=n_c, n_clusters=len(np.unique(res.clusters[0])) if res.clusters
        else int(res.n_units), pretrend=pre, notes=notes, thin_cells=_thin_summary(res.cells),
    )


def regression_estimate(r: Any, base: Mapping[str, Any], *, event_study: pd.DataFrame | None = None) \
        -> Estimate:
    """An :class:`Estimate` from a TWFE / Sun–Abraham / BJS :class:`DiDResult`."""
    if not np.isfinite(r.att):
        return _not_finite(base, r.cells, r.min_units_per_side, r.notes)
    n_tr, n_c = _support_counts(r.cells, r.cohort_sizes)
    pre = r.pretrend
    possible, notes = _analytic_possible(r.inference, bool(r.inference_possible), tuple(r.notes), n_tr)
    return Estimate(
        **base, att=r.att, se=r.se, event_study=event_study,
        pretrend_p=pre.pvalue if pre is not None else None,
        pvalue=float(r.pvalue), inference=r.inference, inference_label=r.inference_label,
        inference_possible=possible, thin=bool(r.thin_overall),
        n_treated=n_tr, n_control=n_c, pretrend=pre, notes=notes, thin_cells=_thin_summary(r.cells),
    )


def estimates_frames(
    results: Iterable[Estimate], *, term_of: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Long coefficient frame (model = estimator label, term = design) and the 'not estimable' notes."""
    rows, notes = [], []
    results = list(results)
    failed: dict[str, list[Estimate]] = {}
    for r in results:
        if not r.ok:
            failed.setdefault(r.design, []).append(r)
    n_est = {d: sum(1 for r in results if r.design == d) for d in failed}
    for design, fails in failed.items():
        reasons = {r.reason for r in fails}
        if len(fails) == n_est[design] and len(reasons) == 1:
            notes.append(f"not estimable: {design}, all estimators: {fails[0].reason}.")
        else:
            notes += [
                f"not estimable: {design}, {ESTIMATOR_LABELS.get(r.estimator, r.estimator)}: {r.reason}."
                for r in fails
            ]
    for r in results:
        if not r.ok:
            continue
        label = ESTIMATOR_LABELS.get(r.estimator, r.estimator)
        term = (term_of or {}).get(r.design, r.design)
        if not np.isfinite(r.att):
            notes.append(f"not estimable: {r.design}, {label}: the estimate is not finite.")
            continue
        if not np.isfinite(r.se):
            notes.append(
                f"{r.design}, {label}: standard error not identified (degenerate variance); "
                "the estimate is shown without one."
            )
        rows.append({"model": label, "term": term, "estimate": r.att, "se": r.se,
                     "pvalue": r.pvalue if r.starred else float("nan"), "star": r.starred})
    frame = pd.DataFrame(rows, columns=["model", "term", "estimate", "se", "pvalue", "star"])
    return frame, notes


# ----------------------------------------------------------------------------------------------
# pair-level (dyadic) design
# ----------------------------------------------------------------------------------------------
def pair_endpoints(pair_year: pd.DataFrame) -> pd.DataFrame:
    """One row per analysis-level tie with its endpoints: ``tie_id, source, target, direction,
    start_year, between``.

    Reads the analysis-level endpoints of ``pair_year`` (``source_unit``/``target_unit``, key
    ``tie_id``; ``between`` = 1 when ``in_analysis`` = 1, i.e. both ends are analysis units and
    differ). Older tables without them fall back to ``source_province``/``target_province``,
    ``collab_id`` and ``same_province`` (province-level analysis).
    """
    native = {"source_unit", "target_unit"} <= set(pair_year.columns)
    key = "tie_id" if "tie_id" in pair_year.columns else "collab_id"
    c = pair_year.drop_duplicates(key)
    src, tgt = ("source_unit", "target_unit") if native else ("source_province", "target_province")
    s = c[src].astype("string").fillna("").astype(str)
    t = c[tgt].astype("string").fillna("").astype(str)
    between = (s != t) & (s != "") & (t != "")
    if native and "in_analysis" in c.columns:
        between &= c["in_analysis"].fillna(0).astype(int) == 1
    elif "same_province" in c.columns:
        between &= c["same_province"].fillna(0).astype(int) == 0
    return pd.DataFrame(
        {
            "tie_id": c[key].astype(str).to_numpy(),
            "source": s.to_numpy(),
            "target": t.to_numpy(),
            "direction": c["direction"].astype(str).to_numpy(),
            "start_year": pd.to_numeric(c["start_year"], errors="coerce").to_numpy(),
            "between": between.astype(int).to_numpy(),
        }
    )


def pair_cohorts(pair_year: pd.DataFrame, provinces: Sequence[str]) -> pd.DataFrame:
    """Earliest start year per unordered pair of analysis units (a < b), by direction and pooled.

    Uses the analysis-level endpoints of ``pair_year`` (:func:`pair_endpoints`; one row per tie is
    enough); ties inside one unit and ties with an end outside ``provinces`` (the analysis units,
    at any level) are ignored. Columns ``prov_a, prov_b, first_forward, first_reverse,
    first_two_way, first_pooled`` (0 = never in that direction).
    """
    keep = set(map(str, provinces))
    e = pair_endpoints(pair_year)
    s, t = e["source"], e["target"]
    ok = (e["between"] == 1) & s.isin(keep) & t.isin(keep)
    c = pd.DataFrame(
        {
            "prov_a": np.minimum(s, t)[ok],
            "prov_b": np.maximum(s, t)[ok],
            "direction": e["direction"][ok],
            "start": e["start_year"][ok],
        }
    ).dropna(subset=["start"])
    c["start"] = c["start"].astype(int)
    out = c.groupby(["prov_a", "prov_b"], sort=True)["start"].min().rename("first_pooled").to_frame()
    for d in PAIR_DIRECTIONS[:-1]:
        out[f"first_{d}"] = c[c["direction"] == d].groupby(["prov_a", "prov_b"])["start"].min()
    out = out.fillna(0).astype(int).reset_index()
    return out[["prov_a", "prov_b", *[f"first_{d}" for d in PAIR_DIRECTIONS]]]


#: Peak memory of the D3 step per pair-year row: a fixed part (panel build ≈ 160 B, samples, CS,
#: BJS) plus a part per event time of the TWFE event study that every TWFE fit runs for its
#: pre-trend test (dense dummies, copied by the regression). Measured on the county benchmark
#: (docs/decisions/scale.md: 3.8 KiB per row at T = 25, i.e. 48 event times); rounded up.
PAIR_BYTES_FIXED = 400
PAIR_BYTES_PER_EVENT_TIME = 80
#: The step's memory before the pair panel (interpreter, libraries, region_year and pair_year).
PAIR_BASE_GIB = 0.5
#: Bytes per unordered pair of the pair-level arrays of the candidate selection (indices, flags,
#: distances and initial gaps of all N(N−1)/2 pairs).
PAIR_BYTES_PER_PAIR = 48
PAIR_CONTROLS = ("auto", "all", "sample")


@dataclass(frozen=True)
class CandidatePairs:
    """The unordered pairs of analysis units the dyadic panel is built on.

    ``units`` are the sorted analysis units; pair ``k`` joins ``units[ia[k]]`` and
    ``units[ib[k]]`` (ia < ib) and has the integer id ``ia[k] * len(units) + ib[k]``. ``tied``
    marks pairs with a tie in some direction (always kept); the others are control pairs.
    ``notes`` describe the selection (bands, sampling with its seed, memory estimate).
    """

    units: tuple[str, ...]
    ia: np.ndarray
    ib: np.ndarray
    tied: np.ndarray
    n_years: int
    n_all_pairs: int
    n_tied: int
    n_band: int
    controls: str
    seed: int | None = None
    notes: tuple[str, ...] = ()
    distance_km: np.ndarray | None = field(default=None, repr=False)
    initial_gap: np.ndarray | None = field(default=None, repr=False)

    @property
    def ids(self) -> np.ndarray:
        return self.ia.astype(np.int64) * len(self.units) + self.ib.astype(np.int64)

    @property
    def n_pairs(self) -> int:
        return len(self.ia)

    @property
    def rows(self) -> int:
        """Upper bound of the panel's rows (pairs × years)."""
        return self.n_pairs * self.n_years

    @property
    def memory_gib(self) -> float:
        """Estimated peak memory of the D3 step on these pairs (GiB)."""
        return PAIR_BASE_GIB + self.rows * pair_bytes_per_row(self.n_years) / 2**30


def pair_bytes_per_row(n_years: int) -> int:
    """Estimated peak bytes of the D3 step per pair-year row with ``n_years`` years."""
    return PAIR_BYTES_FIXED + PAIR_BYTES_PER_EVENT_TIME * max(2 * int(n_years) - 2, 0)


def _gib(n_bytes: float) -> str:
    """An estimate of the step's peak memory: the base plus ``n_bytes``."""
    return f"{PAIR_BASE_GIB + n_bytes / 2**30:.2f} GiB"


def _income_wide(region_year: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted units, years and the years × units matrix of log GDP per capita (NaN = missing)."""
    ry = region_year[["region_id", "year", "log_gdp_pc"]].copy()
    ry["region_id"] = ry["region_id"].astype(str)
    ry = ry.dropna(subset=["log_gdp_pc"])
    units = sorted(ry["region_id"].unique())
    wide = ry.pivot(index="year", columns="region_id", values="log_gdp_pc").reindex(columns=units)
    return units, wide.index.to_numpy().astype(np.int64), wide.to_numpy(dtype=float)


def _first_finite_gap(
    vals: np.ndarray, ia: np.ndarray, ib: np.ndarray, *, chunk: int = 250_000
) -> np.ndarray:
    """|ln y_a − ln y_b| in the first year both incomes are observed, per pair (chunked: O(T·chunk))."""
    out = np.full(len(ia), np.nan)
    for lo in range(0, len(ia), chunk):
        g = np.abs(vals[:, ia[lo : lo + chunk]] - vals[:, ib[lo : lo + chunk]])
        ok = np.isfinite(g)
        first = ok.argmax(axis=0)
        got = g[first, np.arange(g.shape[1])]
        out[lo : lo + chunk] = np.where(ok.any(axis=0), got, np.nan)
    return out


def candidate_pairs(
    region_year: pd.DataFrame,
    pair_year: pd.DataFrame,
    *,
    distance_matrix: np.ndarray | None = None,
    max_distance_km: float | None = None,
    max_initial_gap: float | None = None,
    controls: str = "auto",
    controls_per_tie: int = 20,
    seed: int | None = None,
    max_memory_gib: float = 4.0,
    key: str = "did",
) -> CandidatePairs:
    """Select the pairs of the dyadic panel before it is built.

    Tied pairs (a tie in any direction between two analysis units, :func:`pair_cohorts`) are
    always kept. Control pairs (never tied) are those within ``max_distance_km`` (needs
    ``distance_matrix``, units × units in sorted unit order) and with an initial absolute log
    income gap ≤ ``max_initial_gap`` (first year both incomes are observed); then ``controls``:
    ``all`` keeps every such pair, ``sample`` draws ``controls_per_tie`` × (tied pairs) of them
    without replacement with ``numpy.random.default_rng(seed)``, and ``auto`` keeps all when the
    estimated memory is within ``max_memory_gib`` and otherwise samples, with fewer than
    ``controls_per_tie`` per tied pair when that is needed to stay within the limit (said in the
    notes). The estimate (pairs × years × :func:`pair_bytes_per_row`) is checked against
    ``max_memory_gib`` before anything of size pairs × years exists: above it a
    :class:`ConfigError` names the keys to change.
    """
    if controls not in PAIR_CONTROLS:
        raise ConfigError(f"must be one of {list(PAIR_CONTROLS)}, got {controls!r}", source="config",
                          column=f"{key}.pair_controls")
    if controls == "sample" and seed is None:
        raise InputError("sampling control pairs needs an explicit seed", source="candidate_pairs(seed=...)")
    units, years, vals = _income_wide(region_year)
    n = len(units)
    n_all = n * (n - 1) // 2
    # bytes available to the pair panel and the fits (the base is there whatever is built)
    limit = (float(max_memory_gib) - PAIR_BASE_GIB) * 2**30
    if limit <= 0:
        raise ConfigError(
            f"must exceed the step's base memory of {PAIR_BASE_GIB:g} GiB, got {max_memory_gib:g}",
            source="config",
            column=f"{key}.pair_max_memory_gib",
        )
    if n_all * PAIR_BYTES_PER_PAIR > limit:
        raise ConfigError(
            f"the candidate selection alone needs ≈ {_gib(n_all * PAIR_BYTES_PER_PAIR)} for the "
            f"{n_all:,} pairs of {n} units (limit {max_memory_gib:g} GiB); raise the limit",
            source="config",
            column=f"{key}.pair_max_memory_gib",
        )
    ia, ib = np.triu_indices(n, k=1)
    pos = {u: i for i, u in enumerate(units)}
    coh = pair_cohorts(pair_year, units)
    tied = np.zeros(n_all, dtype=bool)
    if len(coh):
        a = coh["prov_a"].map(pos).to_numpy(dtype=np.int64)
        b = coh["prov_b"].map(pos).to_numpy(dtype=np.int64)
        # index of pair (a, b), a < b, in np.triu_indices order
        tied[a * n - a * (a + 1) // 2 + (b - a - 1)] = True
    band = ~tied
    notes: list[str] = []
    dist = None
    if max_distance_km is not None:
        if distance_matrix is None:
            raise InputError(
                "pair_max_distance_km needs pair distances", source="options", column="pair_max_distance_km"
            )
        dist = np.asarray(distance_matrix, dtype=float)[ia, ib]
        band &= dist <= float(max_distance_km)
    gap0 = None
    if max_initial_gap is not None:
        gap0 = _first_finite_gap(vals, ia, ib)
        band &= gap0 <= float(max_initial_gap)
    n_tied, n_band = int(tied.sum()), int(band.sum())
    n_t = len(years)
    bpr = pair_bytes_per_row(n_t)
    restr = []
    if max_distance_km is not None:
        restr.append(f"centroid distance ≤ {float(max_distance_km):g} km")
    if max_initial_gap is not None:
        restr.append(f"initial |log gap| ≤ {float(max_initial_gap):g}")
    all_rows = (n_tied + n_band) * n_t
    mode = controls
    if controls == "auto":
        mode = "all" if all_rows * bpr <= limit else "sample"
        if mode == "sample" and seed is None:
            raise InputError(
                "sampling control pairs needs an explicit seed", source="candidate_pairs(seed=...)"
            )
    keep = tied | band
    per_tie = int(controls_per_tie)
    if mode == "sample" and controls == "auto":
        # as many controls per tied pair as fit the memory limit (at most controls_per_tie)
        fit = int(limit // (n_t * bpr)) - n_tied
        per_tie = max(min(per_tie, fit // max(n_tied, 1)), 1)
    if mode == "sample":
        k = min(per_tie * max(n_tied, 1), n_band)
        eligible = np.flatnonzero(band)
        rng = np.random.default_rng(seed)
        drawn = np.sort(rng.choice(eligible, size=k, replace=False)) if k < n_band else eligible
        keep = tied.copy()
        keep[drawn] = True
        why = (
            f" (pair_controls: auto; all {n_tied + n_band:,} pairs would need ≈ "
            f"{_gib(all_rows * bpr)} > {max_memory_gib:g} GiB"
            + (
                f"; {per_tie} instead of pair_controls_per_tie = {int(controls_per_tie)} per tied pair "
                "to stay within the limit"
                if per_tie < int(controls_per_tie)
                else ""
            )
            + ")"
            if controls == "auto"
            else ""
        )
        notes.append(
            f"Control pairs: a random sample of {len(drawn):,} of the {n_band:,} never-tied pairs"
            + (f" within {' and '.join(restr)}" if restr else "")
            + f" ({per_tie} per tied pair, without replacement, numpy default_rng seed "
            f"{seed}){why}; the {n_tied:,} tied pairs are all kept."
        )
    elif restr:
        notes.append(
            f"Control pairs: the {n_band:,} never-tied pairs within {' and '.join(restr)} "
            f"(of {n_all - n_tied:,} never-tied pairs); the {n_tied:,} tied pairs are all kept."
        )
    sel = np.flatnonzero(keep)
    rows = len(sel) * n_t
    if rows * bpr > limit:
        raise ConfigError(
            f"the pair panel would have {len(sel):,} pairs × {n_t} years = {rows:,} rows, estimated "
            f"≈ {_gib(rows * bpr)} (limit {max_memory_gib:g} GiB); restrict the control "
            f"pairs ({key}.pair_controls: sample with {key}.pair_controls_per_tie, "
            f"{key}.pair_max_distance_km, {key}.pair_max_initial_gap) or raise the limit",
            source="config",
            column=f"{key}.pair_max_memory_gib",
        )
    if mode != "all" or restr or controls != "auto":
        notes.append(
            f"Pair panel: {len(sel):,} of {n_all:,} pairs × {n_t} years (estimated peak memory "
            f"{_gib(rows * bpr)}, limit {max_memory_gib:g} GiB)."
        )
    return CandidatePairs(
        units=tuple(units),
        ia=ia[sel].astype(np.int64),
        ib=ib[sel].astype(np.int64),
        tied=tied[sel],
        n_years=n_t,
        n_all_pairs=n_all,
        n_tied=n_tied,
        n_band=n_band,
        controls=mode,
        seed=seed if mode == "sample" else None,
        notes=tuple(notes),
        distance_km=dist[sel] if dist is not None else None,
        initial_gap=gap0[sel] if gap0 is not None else None,
    )


def dyadic_panel(
    region_year: pd.DataFrame,
    pair_year: pd.DataFrame,
    *,
    distances: pd.DataFrame | None = None,
    candidates: CandidatePairs | None = None,
) -> pd.DataFrame:
    """Unordered pairs of analysis units × years with y = |ln y_a − ln y_b| and the pairs' cohorts.

    All N(N−1)/2 pairs, or only ``candidates`` (:func:`candidate_pairs`). Columns ``pair``
    (integer id ``ia * N + ib`` over the sorted units), ``prov_a, prov_b`` (categorical unit
    ids, a < b), ``year, abs_gap, initial_gap`` (abs_gap in the first year with both incomes),
    ``first_<direction>`` for forward, reverse, two_way, pooled, and ``distance_km`` when
    ``distances`` (columns prov_a, prov_b, distance_km) is given or the candidates carry
    distances. Years with a missing income of either partner are absent. Rows are sorted by
    pair and year; built from arrays without merges (≈ 160 B per row at peak).
    """
    units, years, vals = _income_wide(region_year)
    n = len(units)
    if candidates is not None:
        if list(candidates.units) != units:
            raise InputError(
                "the candidate pairs were selected on other units than region_year's",
                source="dyadic_panel(candidates=...)",
            )
        ia, ib = candidates.ia, candidates.ib
    else:
        ia, ib = (x.astype(np.int64) for x in np.triu_indices(n, k=1))
    pid = ia * n + ib
    coh = pair_cohorts(pair_year, units)
    cid = coh["prov_a"].map({u: i for i, u in enumerate(units)}).to_numpy(dtype=np.int64) * n + coh[
        "prov_b"
    ].map({u: i for i, u in enumerate(units)}).to_numpy(dtype=np.int64)
    where = pd.Index(cid).get_indexer(pid)  # -1: never tied
    firsts = {}
    for d in PAIR_DIRECTIONS:
        col = np.append(coh[f"first_{d}"].to_numpy(dtype=np.int64), 0)
        firsts[f"first_{d}"] = col[where]  # where = -1 picks the appended 0
    gap = np.abs(vals[:, ia] - vals[:, ib]).T  # pairs × years
    ok = np.isfinite(gap)
    first = ok.argmax(axis=1)
    init = np.where(ok.any(axis=1), gap[np.arange(len(pid)), first], np.nan)
    n_t = len(years)
    rows_pair = np.repeat(np.arange(len(pid)), n_t)[ok.reshape(-1)]
    cat = pd.CategoricalDtype(units)
    panel = pd.DataFrame(
        {
            "pair": pid[rows_pair],
            "prov_a": pd.Categorical.from_codes(ia[rows_pair], dtype=cat),
            "prov_b": pd.Categorical.from_codes(ib[rows_pair], dtype=cat),
            "year": np.tile(years, len(pid))[ok.reshape(-1)],
            "abs_gap": gap.reshape(-1)[ok.reshape(-1)],
            "initial_gap": init[rows_pair],
            **{k: v[rows_pair] for k, v in firsts.items()},
        }
    )
    del gap, ok
    if distances is not None:
        dist = distances.assign(
            prov_a=distances["prov_a"].astype(str), prov_b=distances["prov_b"].astype(str)
        )
        did = dist["prov_a"].map({u: i for i, u in enumerate(units)}) * n + dist["prov_b"].map(
            {u: i for i, u in enumerate(units)}
        )
        lookup = pd.Series(dist["distance_km"].to_numpy(dtype=float), index=did.to_numpy())
        panel["distance_km"] = lookup.reindex(pid).to_numpy()[rows_pair]
    elif candidates is not None and candidates.distance_km is not None:
        panel["distance_km"] = candidates.distance_km[rows_pair]
    return panel


def pair_sample(
    panel: pd.DataFrame,
    *,
    direction: str,
    anticipation: int = 0,
    max_distance_km: float | None = None,
    max_initial_gap: float | None = None,
) -> Sample:
    """Pair panel for one direction: treated pairs (cohort = earliest start of a tie in that direction)
    and never-collaborating control pairs (optionally only those within ``max_distance_km`` and with
    initial gap ≤ ``max_initial_gap``). Pairs collaborating only in other directions are excluded;
    pairs first tied in or before the first year are excluded (no pre-treatment year).
    Clusters: (prov_a, prov_b).
    """
    if direction not in PAIR_DIRECTIONS:
        raise InputError(f"unknown direction {direction!r}", source="direction")
    p, t0, t1, incomplete = balance(panel, unit="pair", time="year", outcome="abs_gap")
    coh = p[f"first_{direction}"].to_numpy()
    never = p["first_pooled"].to_numpy() == 0
    other = (coh == 0) & ~never
    ctrl_out = np.zeros(len(p), dtype=bool)
    if max_distance_km is not None:
        if "distance_km" not in p.columns:
            raise InputError(
                "pair_max_distance_km needs pair distances", source="options", column="pair_max_distance_km"
            )
        ctrl_out |= never & ~(p["distance_km"].to_numpy() <= float(max_distance_km))
    if max_initial_gap is not None:
        ctrl_out |= never & ~(p["initial_gap"].to_numpy() <= float(max_initial_gap))
    pre = (coh > 0) & (coh <= t0 + anticipation)

    def units(mask: np.ndarray) -> int:
        return int(p.loc[mask, "pair"].nunique())

    dropped = (
        (units(pre), f"pairs first tied in or before {t0 + anticipation} (treated before the sample)"),
        (units(other), "pairs tied only in another direction"),
        (units(ctrl_out), "never-collaborating pairs outside the distance/initial-gap restriction"),
        (incomplete, "pairs with incomplete outcome series"),
    )
    keep = ~(pre | other | ctrl_out)
    d = p.loc[keep]
    data = pd.DataFrame(
        {
            UNIT: d["pair"].to_numpy(),
            TIME: d["year"].astype(int).to_numpy(),
            Y: d["abs_gap"].astype(float).to_numpy(),
            G: coh[keep].astype(int),
            "prov_a": d["prov_a"].astype(str).to_numpy(),
            "prov_b": d["prov_b"].astype(str).to_numpy(),
        }
    )
    return Sample(
        name=TIE_LABELS.get(direction, direction),
        data=data.reset_index(drop=True),
        first_year=t0,
        last_year=t1,
        dropped=dropped,
        cluster=("prov_a", "prov_b"),
    )


# ----------------------------------------------------------------------------------------------
# spillover exposure
# ----------------------------------------------------------------------------------------------
def exposure(region_year: pd.DataFrame, W: Any, *, tie: str) -> pd.DataFrame:
    """E_K(i, t) = Σ_j w_ij 1{0 < first_K(j) ≤ t} with the (row-standardised) weights ``W``.

    ``W`` is a :class:`zonespill.weights.SpatialWeights` (ids = provinces). Treatment is absorbing
    (as in the staggered designs), so exposure is non-decreasing in t. Columns region_id, year,
    exposure.
    """
    ids = [str(i) for i in W.ids]
    ry = region_year[["region_id", "year", f"first_{tie}"]].copy()
    ry["region_id"] = ry["region_id"].astype(str)
    first = ry.drop_duplicates("region_id").set_index("region_id")[f"first_{tie}"]
    missing = [i for i in ids if i not in first.index]
    if missing:
        raise InputError(f"weights ids {missing[:5]} are not in region_year", source="weights", rows="all")
    g = first.reindex(ids).fillna(0).to_numpy(dtype=float)
    years = np.sort(ry["year"].unique()).astype(int)
    D = ((g[:, None] > 0) & (g[:, None] <= years[None, :])).astype(float)  # units × years
    E = np.asarray(W.matrix @ D)
    out = pd.DataFrame(
        {
            "region_id": np.repeat(np.array(ids, dtype=object), len(years)),
            "year": np.tile(years, len(ids)),
            "exposure": E.reshape(-1),
        }
    )
    return ry[["region_id", "year"]].merge(out, on=["region_id", "year"], how="left")


def spillover_samples(
    region_year: pd.DataFrame,
    W: Any,
    *,
    tie: str,
    outcome: str,
    threshold: float = 0.0,
    anticipation: int = 0,
) -> tuple[Sample, Sample]:
    """(direct, spillover) samples of the Butts-style exposure design for tie type ``tie``.

    * direct: treated cohorts of :func:`region_sample` plus only the *low-exposure* never-treated
      provinces (exposure ≤ ``threshold`` in every sample year); estimated with never-treated
      controls, this is the direct ATT with the controls' exposure held at (near) zero.
    * spillover: never-treated provinces only, cohort = first year their exposure exceeds
      ``threshold`` (0 = never); provinces exposed already in the first year are excluded. Its ATT
      is the effect of becoming exposed on untreated provinces.
    """
    base = region_sample(region_year, tie=tie, outcome=outcome, anticipation=anticipation)
    ex = exposure(region_year, W, tie=tie)
    ex = ex[(ex["year"] >= base.first_year) & (ex["year"] <= base.last_year)]
    d = base.data
    never_ids = d.loc[(d[G] == 0) | (d[G] > base.last_year), UNIT].unique()
    max_ex = ex.groupby("region_id")["exposure"].max()
    low = set(max_ex.index[max_ex.to_numpy() <= threshold + 1e-12]) & set(never_ids)
    high = [u for u in never_ids if u not in low]
    direct = Sample(
        name=f"direct: {TIE_LABELS.get(tie, tie)}",
        data=d.loc[~d[UNIT].isin(high)].reset_index(drop=True),
        first_year=base.first_year,
        last_year=base.last_year,
        dropped=(
            *base.dropped,
            (
                len(high),
                f"never-treated provinces with exposure above {threshold:g} "
                "in some year (not clean controls)",
            ),
        ),
    )
    exc = ex[ex["exposure"] > threshold + 1e-12].groupby("region_id")["year"].min()
    sp = d.loc[d[UNIT].isin(never_ids), [UNIT, TIME, Y]].copy()
    sp[G] = sp[UNIT].map(exc).fillna(0).astype(int)
    pre = _presample(sp, base.first_year, anticipation)
    sp = sp.loc[~sp[UNIT].isin(pre.index)].reset_index(drop=True)
    n_treated = int(d.loc[~d[UNIT].isin(never_ids), UNIT].nunique())
    spill = Sample(
        name=f"spillover: {TIE_LABELS.get(tie, tie)}",
        data=sp,
        first_year=base.first_year,
        last_year=base.last_year,
        dropped=(
            (n_treated, "treated provinces (the spillover sample is never-treated provinces only)"),
            (len(pre), f"never-treated provinces already exposed in {base.first_year}"),
            *[x for x in base.dropped if "incomplete" in x[1]],
        ),
    )
    return direct, spill


# ----------------------------------------------------------------------------------------------
# Bacon decomposition
# ----------------------------------------------------------------------------------------------
def bacon_table(
    region_year: pd.DataFrame, *, tie: str = "any", outcome: str = "log_gdp_pc"
) -> tuple[pd.DataFrame, list[str]]:
    """Goodman-Bacon decomposition of the static TWFE for tie type ``tie``, on two samples.

    (1) all provinces, units tied before the first year entering as the "always treated" group (the
    naive TWFE); (2) the design sample of :func:`region_sample` (pre-sample tied provinces
    excluded), whose TWFE is the one in table D1. Returns the rows (sample, type, treated, control,
    estimate, weight) and notes (TWFE coefficient = Σ weight × estimate per sample, or why not).
    """
    full = pd.DataFrame(
        {
            UNIT: region_year["region_id"].astype(str),
            TIME: region_year["year"].astype(int),
            Y: pd.to_numeric(region_year[outcome], errors="coerce"),
            G: pd.to_numeric(region_year[f"first_{tie}"], errors="coerce").fillna(0).astype(int),
        }
    )
    full, t0, _t1, _ = balance(full, unit=UNIT, time=TIME, outcome=Y)
    design = region_sample(region_year, tie=tie, outcome=outcome)
    frames, notes = [], []
    for label, data in (
        (f"all provinces (tied before {t0} = always treated)", full),
        (f"design sample (tied before {t0} excluded)", design.data),
    ):
        try:
            r = bacon_decomposition(data, outcome=Y, unit=UNIT, time=TIME, cohort=G)
        except BaseException as exc:  # including Rust panics (is_panic)
            reason = _short(exc) if isinstance(exc, _FAIL) else estimator_failure(exc)
            if reason is None:
                raise
            notes.append(f"not estimable: {label}: {reason}.")
            continue
        tab = r.table.assign(sample=label)
        frames.append(tab[["sample", "type", "treated", "control", "estimate", "weight"]])
        notes.append(
            f"{label}: {data[UNIT].nunique()} provinces; TWFE β = Σ weight × estimate = {r.att:.4f} "
            f"(SE {r.se:.4f}, clustered by province)."
        )
    cols = ["sample", "type", "treated", "control", "estimate", "weight"]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    return rows, notes
