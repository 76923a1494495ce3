r"""Simulated prefecture panels on the real geography, with known truth (SIMULATED DATA).

No openly licensed prefecture-level GDP panel exists, so the prefecture level of the
pipeline is exercised on *simulated* outcomes laid over the real prefecture map and the
real pairings. Every frame made here carries ``data_source == "simulated"``; nothing
produced by this module is an estimate about China.

Geography
---------
:func:`prefecture_geography` reads the bundled census file (one WKT polygon per
prefecture-level unit in column ``coord``), keeps mainland China (drops Hong Kong 81xxxx,
Macau 82xxxx and Taiwan 71xxxx) and builds queen contiguity with libpysal. *Islands* are
the units outside the largest connected component of the contiguity graph — with the
bundled data the 19 units of Hainan (Sansha has no neighbour at all; the other 18 only
border each other). They are never handled silently: the rule is an argument and the
units found are returned.

``island_rule="nearest"``
    each island unit is linked to its nearest mainland unit (great-circle distance
    between polygon centroids), in both directions, so ``W`` stays symmetric;
``"drop"``
    island units are removed from the regions and from ``W``;
``"keep"``
    island units keep only the links they have (Sansha an all-zero row).

Model
-----
For units :math:`i = 1..n` and years :math:`t`, with :math:`y_{it}` the log income level
and :math:`g_{it} = y_{it} - y_{i,t-1}` its growth, the growth vector of year :math:`t` is

.. math::

    g_t = (I - \rho W)^{-1}\bigl(\alpha + \delta_t \mathbf 1 + b\, y_{t-1}
          + \textstyle\sum_K \tau_K D_{K,t} + \gamma\, s_t + \varepsilon_t\bigr),
    \qquad y_t = y_{t-1} + g_t,

where

* :math:`W` is the queen matrix (after the island rule), row-standardised;
* :math:`\alpha_i = a_0 + \sigma_\alpha z_i` are unit effects, :math:`\delta_t = \sigma_\delta
  z_t` year effects, :math:`\varepsilon_{it} = \sigma_\varepsilon z_{it}` noise
  (:math:`z` independent standard normal);
* :math:`b < 0` is beta-convergence (growth falls with the lagged log level);
* :math:`D_{K,it} \in \{0,1\}` is 1 from the first year unit :math:`i` has a tie of type
  :math:`K` on (treatment is absorbing), with types
  ``forward_giver, forward_receiver, reverse_giver, reverse_receiver, two_way`` (the giver
  is the pairing's source, the receiver its target; both sides of a two-way tie are
  ``two_way``);
* :math:`s_{it} = (1 - D^{any}_{it})\,(W D^{any}_t)_i` is the spillover exposure: the
  W-weighted share of treated neighbours, for units that are themselves untreated;
* :math:`\rho` is the spatial lag of growth (:math:`|\rho| < 1`).

The initial level is :math:`y_{i,t_0-1} \sim N(\mu_0, \sigma_0^2)`.

True effects (``SimResult.truth``)
---------------------------------
Besides every parameter and the drawn unit/year effects, ``truth`` holds the *impact*
ATT of each tie type: the mean, over unit-years with :math:`D_{K,it}=1`, of
:math:`g_{it}` minus the growth the unit would have had in that year if no tie anywhere
were active in that year (same lagged levels and shocks), i.e. of
:math:`[(I-\rho W)^{-1}(\sum_K \tau_K D_{K,t} + \gamma s_t)]_i`. With :math:`\rho = 0`
and a unit having one tie type this is :math:`\tau_K`. ``att_any`` averages over all
treated unit-years and ``spillover_untreated`` over untreated unit-years with
:math:`s_{it} > 0`.

Seeds
-----
Replication :math:`r` of master seed :math:`m` draws from
``numpy.random.default_rng(numpy.random.SeedSequence(m, spawn_key=(r,)))`` (split into one
child stream per component: initial level, unit effects, year effects, noise), so its
draws depend only on :math:`(m, r)`: generating replications 0..9 one at a time, in two
chunks, or on different machines gives identical panels.

Pairings
--------
:func:`prefecture_pairs` turns the bundled ``pairings.csv`` into prefecture pairs. Codes
are 6-digit prefecture or 2-digit province codes; with ``province_rule="capital"`` a
province code ``PP`` becomes its capital's prefecture ``PP0100`` (in the GB/T 2260
scheme the capital is the first prefecture of its province; the four municipalities are
single units ``110100, 120100, 310100, 500100``), with ``"skip"`` such rows are
dropped. Rows without a start year, self-pairs and pairs with units not in the
geography are skipped; every skipped row is returned with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from zonespill.contract import reject_rows
from zonespill.errors import InputError
from zonespill.geography import haversine_km
from zonespill.weights import SpatialWeights

IslandRule = Literal["nearest", "drop", "keep"]
ProvinceRule = Literal["capital", "skip"]

#: Tie types, in the order of the ``tau`` parameters and the panel's ``d_<type>`` columns.
TIE_TYPES: tuple[str, ...] = (
    "forward_giver",
    "forward_receiver",
    "reverse_giver",
    "reverse_receiver",
    "two_way",
)
DIRECTIONS: tuple[str, ...] = ("forward", "reverse", "two_way")
#: Province GB codes that are not part of the mainland sample.
NON_MAINLAND_PROVINCES: tuple[str, ...] = ("71", "81", "82")
DATA_SOURCE = "simulated"


class Geography(NamedTuple):
    """Prefecture regions and their contiguity, with the island handling made explicit.

    ``regions``: columns ``region_id`` (6-digit code), ``name``, ``province_id`` (2-digit),
    ``lon``, ``lat`` (polygon centroid, degrees), sorted by ``region_id``. ``weights``:
    binary queen :class:`~zonespill.weights.SpatialWeights` in the same order, after the
    island rule. ``islands``: ids of the units found outside the mainland component
    (whatever the rule). ``added_links``: ``(island, mainland)`` links added by
    ``"nearest"``. ``island_rule``: the rule applied.
    """

    regions: pd.DataFrame
    weights: SpatialWeights
    islands: tuple[str, ...]
    added_links: tuple[tuple[str, str], ...]
    island_rule: str


@dataclass(frozen=True)
class SimParams:
    """Every true parameter of the data-generating process (see the module docstring).

    Attributes
    ----------
    intercept
        :math:`a_0`, mean of the unit effects.
    unit_fe_sd, time_fe_sd, noise_sd
        :math:`\\sigma_\\alpha, \\sigma_\\delta, \\sigma_\\varepsilon`.
    beta
        :math:`b`, coefficient of growth on the lagged log level (negative: convergence).
    rho
        :math:`\\rho`, spatial lag of growth on neighbours' growth, ``|rho| < 1``.
    tau_forward_giver, tau_forward_receiver, tau_reverse_giver, tau_reverse_receiver, tau_two_way
        :math:`\\tau_K`, effect of an active tie of type K on growth.
    spillover
        :math:`\\gamma`, effect on an untreated unit's growth of its W-weighted share of
        treated neighbours.
    initial_mean, initial_sd
        :math:`\\mu_0, \\sigma_0` of the initial log level.
    """

    intercept: float = 0.25
    unit_fe_sd: float = 0.01
    time_fe_sd: float = 0.01
    beta: float = -0.02
    rho: float = 0.3
    tau_forward_giver: float = 0.0
    tau_forward_receiver: float = 0.01
    tau_reverse_giver: float = 0.005
    tau_reverse_receiver: float = 0.005
    tau_two_way: float = 0.005
    spillover: float = 0.003
    noise_sd: float = 0.02
    initial_mean: float = 9.5
    initial_sd: float = 0.5

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not np.isfinite(value):
                raise InputError(f"{name} must be finite", source="SimParams", column=name)
        for name in ("unit_fe_sd", "time_fe_sd", "noise_sd", "initial_sd"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0", source="SimParams", column=name)
        if not -1 < self.rho < 1:
            raise InputError("rho must lie strictly between -1 and 1", source="SimParams", column="rho")

    def tau(self) -> dict[str, float]:
        """``{tie type: tau}`` in :data:`TIE_TYPES` order."""
        return {k: float(getattr(self, f"tau_{k}")) for k in TIE_TYPES}


@dataclass(frozen=True)
class SimResult:
    """One simulated replication (SIMULATED DATA).

    ``panel``: long frame, one row per (region_id, year), sorted, with ``log_y``,
    ``log_y_lag``, ``growth``, ``d_<type>`` and ``cohort_<type>`` for each tie type (first
    year of the tie, possibly before the sample; 0 = never), ``d_any``, ``cohort_any``,
    ``exposure`` (W-weighted share of treated neighbours), ``spill`` (exposure of untreated
    units, 0 for treated ones) and ``data_source`` (always ``"simulated"``).
    ``truth``: every parameter, the drawn effects and the implied impact ATTs.
    """

    panel: pd.DataFrame = field(repr=False)
    truth: dict[str, Any] = field(repr=False)
    seed: int
    replication: int


# ---------------------------------------------------------------------------- geography
CENSUS_COLUMNS = ("city", "city_code", "province_code", "coord")
PAIRINGS_COLUMNS = ("program", "start_year", "giver_code", "receiver_code", "direction")


def _read_mapped(
    path: str | Path, required: Sequence[str], columns: Mapping[str, str] | None, **read_kw: Any
) -> pd.DataFrame:
    """Read a CSV as text (through :func:`zonespill.ingest.read_source`, the one validated
    reader) and rename its columns ``file column -> canonical name``.

    ``columns`` maps canonical names to the file's names (identity where absent); a
    missing column is reported under the file's own name. Blank cells are ``""``.
    """
    from zonespill.ingest import SourceSpec, read_source

    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(required))
    if unknown:
        raise InputError(
            f"unknown canonical column(s) {unknown}; expected {list(required)}", source="columns"
        )
    del read_kw  # read_source decodes UTF-8 strictly and accepts a BOM
    raw = read_source(SourceSpec(path=Path(path), format="csv")).fillna("")
    for col in required:
        name = mapping.get(col, col)
        if name not in raw.columns:
            raise InputError("missing required column", source=str(path), column=name)
    return raw.rename(columns={mapping[c]: c for c in mapping})


def prefecture_geography(
    census_csv: str | Path,
    *,
    island_rule: IslandRule = "nearest",
    columns: Mapping[str, str] | None = None,
) -> Geography:
    """Mainland prefecture-level units and their queen contiguity.

    Parameters
    ----------
    census_csv
        ``data/raw/china/prefectures_census_2010_2020.csv`` (columns ``city``,
        ``city_code``, ``province_code``, ``coord`` = WKT polygon).
    island_rule
        ``"nearest"``, ``"drop"`` or ``"keep"`` (see the module docstring).

    Returns
    -------
    Geography
        ``(regions, weights, islands, added_links, island_rule)``.
    """
    from libpysal.weights import Queen
    from shapely import wkt as shapely_wkt

    source = str(census_csv)
    if island_rule not in ("nearest", "drop", "keep"):
        raise InputError(f"unknown island rule {island_rule!r} (nearest, drop, keep)", source="island_rule")
    raw = _read_mapped(
        census_csv, ("city", "city_code", "province_code", "coord"), columns, encoding="utf-8-sig"
    )
    codes = raw["city_code"].str.strip()
    bad = ~codes.str.fullmatch(r"\d{6}")
    reject_rows(bad, "prefecture code is not 6 digits", source=source, column="city_code", row_offset=2)
    reject_rows(
        codes.duplicated(keep=False),
        "duplicate prefecture code",
        source=source,
        column="city_code",
        row_offset=2,
    )
    no_geom = raw["coord"].str.strip() == ""
    keep = ~codes.str[:2].isin(NON_MAINLAND_PROVINCES)
    reject_rows(no_geom & keep, "prefecture has no polygon", source=source, column="coord", row_offset=2)
    raw = raw.assign(_row=np.arange(2, len(raw) + 2), city_code=codes)[keep]
    raw = raw.sort_values("city_code", kind="mergesort").reset_index(drop=True)
    geoms = []
    for row, text in zip(raw["_row"], raw["coord"], strict=True):
        try:
            geoms.append(shapely_wkt.loads(text))
        except Exception as exc:
            raise InputError(f"invalid WKT ({exc})", source=source, rows=[int(row)], column="coord") from exc
    ids = raw["city_code"].tolist()
    cents = [g.centroid for g in geoms]
    regions = pd.DataFrame(
        {
            "region_id": pd.array(ids, dtype="string"),
            "name": pd.array(raw["city"].tolist(), dtype="string"),
            "province_id": pd.array(raw["city_code"].str[:2].tolist(), dtype="string"),
            "lon": np.round([c.x for c in cents], 8),
            "lat": np.round([c.y for c in cents], 8),
        }
    )
    queen = Queen.from_iterable(geoms, ids=ids, silence_warnings=True)
    pos = {u: k for k, u in enumerate(ids)}
    rows = [pos[i] for i, nb in queen.neighbors.items() for _ in nb]
    cols = [pos[j] for nb in queen.neighbors.values() for j in nb]
    mat = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    mat = sp.csr_matrix(mat + mat.T)  # queen links are symmetric already; make sure, and stay binary
    mat.data = np.ones_like(mat.data)

    _, label = connected_components(mat, directed=False)
    mainland_label = np.bincount(label).argmax()
    is_island = label != mainland_label
    islands = tuple(u for u, isl in zip(ids, is_island, strict=True) if isl)
    added: list[tuple[str, str]] = []
    if islands and island_rule == "nearest":
        lon = regions["lon"].to_numpy(float)
        lat = regions["lat"].to_numpy(float)
        main_idx = np.flatnonzero(~is_island)
        lil = mat.tolil()
        for i in np.flatnonzero(is_island):
            dist = haversine_km(lon[i], lat[i], lon[main_idx], lat[main_idx])
            j = int(main_idx[np.argmin(dist)])  # argmin takes the first (lowest id) on ties
            lil[i, j] = 1.0
            lil[j, i] = 1.0
            added.append((ids[i], ids[j]))
        mat = lil.tocsr()
    weights = SpatialWeights(tuple(ids), mat, "binary", f"queen (islands: {island_rule})")
    if islands and island_rule == "drop":
        keep_ids = [u for u in ids if u not in set(islands)]
        weights = weights.reorder(keep_ids)
        regions = regions[regions["region_id"].isin(keep_ids)].reset_index(drop=True)
    return Geography(regions, weights, islands, tuple(added), island_rule)


# ---------------------------------------------------------------------------- pairings
def prefecture_pairs(
    pairings_csv: str | Path,
    regions: pd.DataFrame,
    *,
    province_rule: ProvinceRule = "capital",
    columns: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prefecture-level pairs from the bundled ``pairings.csv``.

    Parameters
    ----------
    pairings_csv
        Columns ``program, start_year, giver_code, receiver_code, direction`` (others kept
        out). ``giver_code``/``receiver_code`` are 6-digit prefecture or 2-digit province
        codes.
    regions
        ``Geography.regions``; pairs with a unit not in it are skipped.
    province_rule
        ``"capital"`` maps a province code ``PP`` to ``PP0100``; ``"skip"`` drops the row.

    Returns
    -------
    pairs, skipped
        ``pairs``: ``source_id, target_id, start_year, direction, programme, csv_row``,
        one row per usable input row. ``skipped``: ``csv_row, programme, reason``.
    """
    source = str(pairings_csv)
    raw = _read_mapped(
        pairings_csv, ("program", "start_year", "giver_code", "receiver_code", "direction"), columns
    )
    if province_rule not in ("capital", "skip"):
        raise InputError(f"unknown province rule {province_rule!r}", source="province_rule")
    known = set(regions["region_id"].astype(str))
    kept: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []

    def to_prefecture(code: str) -> tuple[str | None, str | None]:
        code = code.strip()
        if len(code) == 6 and code.isdigit():
            return code, None
        if len(code) == 2 and code.isdigit():
            if province_rule == "skip":
                return None, "province-level code (province_rule='skip')"
            return f"{code}0100", None
        return None, f"code {code!r} is neither a prefecture nor a province code"

    for k, rec in enumerate(raw.to_dict("records"), start=2):
        programme = rec["program"]
        direction = rec["direction"].strip()
        if direction not in DIRECTIONS:
            raise InputError(
                f"direction {direction!r} not one of {DIRECTIONS}",
                source=source,
                rows=[k],
                column="direction",
            )
        year = _whole_year(rec["start_year"], source=source, row=k, column=(columns or {}).get("start_year"))
        if year is None:
            skipped.append({"csv_row": k, "programme": programme, "reason": "no start year"})
            continue
        src, why_s = to_prefecture(rec["giver_code"])
        tgt, why_t = to_prefecture(rec["receiver_code"])
        reason = why_s or why_t
        if reason is None and (src not in known or tgt not in known):
            missing = [c for c in (src, tgt) if c not in known]
            reason = f"unit(s) not in the geography: {', '.join(str(m) for m in missing)}"
        if reason is None and src == tgt:
            reason = "giver and receiver map to the same prefecture"
        if reason is not None:
            skipped.append({"csv_row": k, "programme": programme, "reason": reason})
            continue
        kept.append(
            {
                "source_id": src,
                "target_id": tgt,
                "start_year": year,
                "direction": direction,
                "programme": programme,
                "csv_row": k,
            }
        )
    pairs = pd.DataFrame(
        kept, columns=["source_id", "target_id", "start_year", "direction", "programme", "csv_row"]
    )
    pairs = pairs.astype(
        {
            "source_id": "string",
            "target_id": "string",
            "direction": "string",
            "programme": "string",
            "start_year": "int64",
            "csv_row": "int64",
        }
    )
    skipped_df = pd.DataFrame(skipped, columns=["csv_row", "programme", "reason"])
    return pairs, skipped_df


def _whole_year(text: str, *, source: str, row: int, column: str | None) -> int | None:
    """A start year as the contract reads it (``1996`` or ``1996.0``); blank gives ``None``."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value != round(value):
        raise InputError(
            f"start year {text!r} is not a whole number",
            source=source,
            rows=[row],
            column=column or "start_year",
        )
    return int(value)


# ---------------------------------------------------------------------------- simulation
def first_tie_years(pairs: pd.DataFrame, ids: Iterable[str], *, source: str = "pairs") -> pd.DataFrame:
    """First year each unit has a tie of each type (0 = never); index = ``ids``, columns = types.

    ``pairs`` is a table already read (not a file): rows named in errors are its 1-based positions.
    """
    ids = [str(u) for u in ids]
    for col in ("source_id", "target_id", "start_year", "direction"):
        if col not in pairs.columns:
            raise InputError("missing required column", source=source, column=col)
    direction = pairs["direction"].astype(str)
    bad = ~direction.isin(DIRECTIONS)
    reject_rows(bad, f"direction must be one of {DIRECTIONS}", source=source, column="direction")
    for col in ("source_id", "target_id"):
        unknown = ~pairs[col].astype(str).isin(ids)
        reject_rows(unknown, "unit not in the geography", source=source, column=col)
    years = pd.to_numeric(pairs["start_year"], errors="coerce")
    reject_rows(years.isna(), "start_year must be an integer year", source=source, column="start_year")
    roles = []
    for d in DIRECTIONS:
        sel = direction == d
        giver = "two_way" if d == "two_way" else f"{d}_giver"
        receiver = "two_way" if d == "two_way" else f"{d}_receiver"
        roles.append(
            pd.DataFrame({"id": pairs.loc[sel, "source_id"].astype(str), "type": giver, "year": years[sel]})
        )
        roles.append(
            pd.DataFrame(
                {"id": pairs.loc[sel, "target_id"].astype(str), "type": receiver, "year": years[sel]}
            )
        )
    long = pd.concat(roles, ignore_index=True)
    first = long.groupby(["id", "type"])["year"].min().unstack("type")
    first = first.reindex(index=ids, columns=list(TIE_TYPES)).fillna(0).astype("int64")
    return first


def _first_of(first: np.ndarray) -> np.ndarray:
    """Row-wise earliest non-zero year (0 when all are 0)."""
    big = np.iinfo(np.int64).max
    m = np.where(first > 0, first, big).min(axis=1)
    return np.where(m == big, 0, m).astype("int64")


def _rng_streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    seq = np.random.SeedSequence(seed, spawn_key=(replication,))
    names = ("initial", "unit_fe", "time_fe", "noise")
    return {
        name: np.random.default_rng(child) for name, child in zip(names, seq.spawn(len(names)), strict=True)
    }


def simulate_panel(
    geography: Geography,
    pairs: pd.DataFrame,
    *,
    n_periods: int,
    start_year: int,
    seed: int,
    params: SimParams | None = None,
    replication: int = 0,
) -> SimResult:
    """Simulate one replication of the prefecture growth panel (SIMULATED DATA).

    Parameters
    ----------
    geography
        From :func:`prefecture_geography`.
    pairs
        ``source_id`` (giver), ``target_id`` (receiver), ``start_year``, ``direction``
        (``forward | reverse | two_way``); e.g. the first frame of :func:`prefecture_pairs`.
    n_periods
        Number of simulated years, ``start_year .. start_year + n_periods - 1``.
    start_year
        First simulated year; the initial level refers to ``start_year - 1``.
    seed, replication
        Master seed and replication number; draws depend only on ``(seed, replication)``.
    params
        True parameters (defaults: :class:`SimParams`).

    Returns
    -------
    SimResult
    """
    params = params or SimParams()
    if n_periods < 1:
        raise InputError("n_periods must be at least 1", source="n_periods")
    if seed < 0 or replication < 0:
        raise InputError("seed and replication must be non-negative integers", source="seed")
    regions = geography.regions
    ids = [str(u) for u in regions["region_id"]]
    W = geography.weights.reorder(ids).row_standardise().matrix.tocsr()
    n = len(ids)
    years = np.arange(start_year, start_year + n_periods)
    first = first_tie_years(pairs, ids)
    tau = np.array(list(params.tau().values()))

    # treatment indicators, shape (T, n, K)
    first_arr = first.to_numpy()  # (n, K)
    D = (first_arr[None, :, :] > 0) & (first_arr[None, :, :] <= years[:, None, None])
    D = D.astype(float)
    d_any = D.max(axis=2)  # (T, n)
    exposure = np.asarray((W @ d_any.T).T)  # (T, n): (W d_t)_i
    spill = (1.0 - d_any) * exposure

    rng = _rng_streams(seed, replication)
    y0 = params.initial_mean + params.initial_sd * rng["initial"].standard_normal(n)
    alpha = params.intercept + params.unit_fe_sd * rng["unit_fe"].standard_normal(n)
    delta = params.time_fe_sd * rng["time_fe"].standard_normal(n_periods)
    eps = params.noise_sd * rng["noise"].standard_normal((n_periods, n))

    lu = spla.splu((sp.identity(n, format="csc") - params.rho * W).tocsc())
    effect = D @ tau + params.spillover * spill  # (T, n), programme part of the structural equation
    programme_effect = lu.solve(np.ascontiguousarray(effect.T)).T  # (T, n): contemporaneous effect on growth
    growth = np.empty((n_periods, n))
    level = np.empty((n_periods, n))
    lag = np.empty((n_periods, n))
    y_prev = y0
    for t in range(n_periods):
        rhs = alpha + delta[t] + params.beta * y_prev + effect[t] + eps[t]
        growth[t] = lu.solve(rhs)
        lag[t] = y_prev
        level[t] = y_prev + growth[t]
        y_prev = level[t]

    panel = pd.DataFrame(
        {
            "region_id": pd.array(np.tile(ids, n_periods), dtype="string"),
            "year": np.repeat(years, n).astype("int64"),
            "log_y": level.ravel(),
            "log_y_lag": lag.ravel(),
            "growth": growth.ravel(),
        }
    )
    for k, name in enumerate(TIE_TYPES):
        panel[f"d_{name}"] = D[:, :, k].ravel().astype("int8")
        panel[f"cohort_{name}"] = np.tile(first_arr[:, k], n_periods).astype("int64")
    by_direction = {
        name: [k for k, t in enumerate(TIE_TYPES) if t.startswith(name)] for name in ("forward", "reverse")
    }
    by_direction["any"] = list(range(len(TIE_TYPES)))
    for name, cols in by_direction.items():
        panel[f"d_{name}"] = D[:, :, cols].max(axis=2).ravel().astype("int8")
        panel[f"cohort_{name}"] = np.tile(_first_of(first_arr[:, cols]), n_periods)
    panel["exposure"] = exposure.ravel()
    panel["spill"] = spill.ravel()
    panel["data_source"] = pd.array([DATA_SOURCE] * len(panel), dtype="string")
    panel = panel.sort_values(["region_id", "year"], kind="mergesort").reset_index(drop=True)

    truth: dict[str, Any] = {
        "data_source": DATA_SOURCE,
        **asdict(params),
        "seed": int(seed),
        "replication": int(replication),
        "n_units": n,
        "n_periods": int(n_periods),
        "start_year": int(start_year),
        "island_rule": geography.island_rule,
        "islands": list(geography.islands),
    }
    for k, name in enumerate(TIE_TYPES):
        mask = D[:, :, k] > 0
        truth[f"att_{name}"] = float(programme_effect[mask].mean()) if mask.any() else None
        truth[f"n_treated_{name}"] = int(mask.sum())
    for name, cols in by_direction.items():
        mask = D[:, :, cols].max(axis=2) > 0
        truth[f"att_{name}"] = float(programme_effect[mask].mean()) if mask.any() else None
        truth[f"n_treated_{name}"] = int(mask.sum())
    spill_mask = spill > 0
    truth["spillover_untreated"] = float(programme_effect[spill_mask].mean()) if spill_mask.any() else None
    truth["unit_fe"] = dict(zip(ids, alpha.tolist(), strict=True))
    truth["time_fe"] = dict(zip(years.tolist(), delta.tolist(), strict=True))
    truth["initial_log_y"] = dict(zip(ids, y0.tolist(), strict=True))
    return SimResult(panel=panel, truth=truth, seed=int(seed), replication=int(replication))


def simulate_replications(
    geography: Geography,
    pairs: pd.DataFrame,
    replications: Iterable[int],
    *,
    n_periods: int,
    start_year: int,
    seed: int,
    params: SimParams | None = None,
) -> list[SimResult]:
    """:func:`simulate_panel` for each replication number in ``replications``.

    Replication ``r`` is the same whichever chunk or order it is generated in.
    """
    return [
        simulate_panel(
            geography,
            pairs,
            n_periods=n_periods,
            start_year=start_year,
            seed=seed,
            params=params,
            replication=int(r),
        )
        for r in replications
    ]
