"""Candidate pairs for pair designs, without building all N(N−1)/2 pairs.

A pair-level design (D3) compares tied region pairs with control pairs. With N regions
there are N(N−1)/2 pairs: 112 million for N = 15,000 and, times 25 years, far more rows
than memory holds. :func:`candidate_pairs` restricts the pairs to

* every **declared tie** (always kept),
* control pairs inside a **distance band** (``max_distance_km``; great-circle distance of
  the centroids) and/or an **income-gap band** (``max_income_gap``; absolute difference of
  initial log income) — both bands apply when both are given,
* optionally, **sampled controls**: ``controls_per_tie`` control pairs per declared tie,
  drawn uniformly (without replacement) from the admissible control pairs with an
  explicit ``seed``.

The number of pairs is counted *before* any pair is built (a k-d tree count for the
distance band, sorted ranges for the income band, closed-form for all pairs), turned into
a memory estimate for the pair-year panel, and a :class:`~zonespill.errors.ConfigError`
is raised when the estimate is above ``memory_limit_bytes`` — before the allocation. The
returned :class:`PairSampling` records every choice (bands, counts, seed, estimate) so a
table note can state how the controls were chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from zonespill.errors import ConfigError, InputError

__all__ = ["PairSampling", "candidate_pairs", "estimate_pair_bytes"]

EARTH_RADIUS_KM = 6371.0088
GIB = 1024**3


@dataclass(frozen=True)
class PairSampling:
    """How the candidate pairs were chosen (write it next to the design's results)."""

    n_units: int
    n_all_pairs: int
    n_declared: int
    max_distance_km: float | None
    max_income_gap: float | None
    n_in_bands: int
    controls_per_tie: int
    seed: int | None
    n_sampled: int
    n_candidates: int
    n_years: int
    estimated_bytes: int
    memory_limit_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def note(self) -> str:
        """One sentence for a table note."""
        parts = [f"{self.n_declared} declared ties"]
        bands = []
        if self.max_distance_km is not None:
            bands.append(f"centroid distance ≤ {self.max_distance_km:g} km")
        if self.max_income_gap is not None:
            bands.append(f"|initial log income gap| ≤ {self.max_income_gap:g}")
        if self.controls_per_tie:
            where = f" with {' and '.join(bands)}" if bands else ""
            parts.append(
                f"{self.n_sampled} control pairs sampled ({self.controls_per_tie} per tie, seed {self.seed}) "
                f"from the {self.n_in_bands:,} untied pairs{where}"
            )
        elif bands:
            parts.append(f"{self.n_candidates - self.n_declared:,} control pairs with {' and '.join(bands)}")
        else:
            parts.append(f"all {self.n_candidates - self.n_declared:,} untied pairs as controls")
        return f"Pairs: {'; '.join(parts)} (of {self.n_all_pairs:,} possible pairs)."


def estimate_pair_bytes(n_pairs: int, n_years: int, *, n_columns: int = 16, bytes_per_value: int = 8) -> int:
    """Bytes of a pair-year panel: rows × columns × 8, doubled for pandas copies in the estimators."""
    return int(n_pairs) * max(int(n_years), 1) * int(n_columns) * int(bytes_per_value) * 2


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _chord(km: float) -> float:
    """Straight-line distance on the unit sphere of a great-circle distance in km."""
    return float(2.0 * np.sin(min(km / EARTH_RADIUS_KM, np.pi) / 2.0))


def _gap_pair_count(income: np.ndarray, gap: float) -> int:
    order = np.sort(income)
    hi = np.searchsorted(order, order + gap, side="right")
    return int(np.sum(hi - np.arange(len(order)) - 1))


def _gap_pairs(income: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(income, kind="mergesort")
    sorted_inc = income[order]
    hi = np.searchsorted(sorted_inc, sorted_inc + gap, side="right")
    counts = hi - np.arange(len(order)) - 1
    first = np.repeat(np.arange(len(order)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    second = first + 1 + offsets
    a, b = order[first], order[second]
    return np.minimum(a, b), np.maximum(a, b)


def candidate_pairs(
    units: pd.DataFrame,
    ties: pd.DataFrame,
    *,
    n_years: int = 1,
    max_distance_km: float | None = None,
    max_income_gap: float | None = None,
    income_column: str = "initial_log_income",
    controls_per_tie: int = 0,
    seed: int | None = None,
    memory_limit_bytes: int = 4 * GIB,
    n_columns: int = 16,
    limit_key: str = "did.pair_memory_limit_gb",
    band_keys: Sequence[str] = ("did.pair_max_distance_km", "did.pair_max_initial_gap"),
) -> tuple[pd.DataFrame, PairSampling]:
    """Tied pairs plus admissible control pairs, with a memory guard before anything is built.

    Parameters
    ----------
    units
        One row per region: ``region_id``, ``lon``, ``lat`` (needed for a distance band)
        and ``income_column`` (needed for an income band).
    ties
        Declared ties: ``source_id``, ``target_id`` (direction is ignored; pairs are
        unordered). Every endpoint must be in ``units``.
    n_years
        Years of the pair-year panel the design will build (for the memory estimate).
    max_distance_km, max_income_gap
        Bands for control pairs (``None``: no band).
    controls_per_tie
        If > 0, sample this many control pairs per declared tie (needs ``seed``) instead
        of keeping every admissible control pair.
    memory_limit_bytes
        Largest estimated pair-year panel allowed (:func:`estimate_pair_bytes`).
    limit_key, band_keys
        Config keys named in the error message (where the caller reads these settings).

    Returns
    -------
    pairs, sampling
        ``pairs``: ``unit_a < unit_b`` (string ids), ``tied`` (bool), ``reason``
        (``declared`` / ``band`` / ``all`` / ``sampled``), ``distance_km`` (if coordinates)
        and ``income_gap`` (if incomes), sorted by ``unit_a, unit_b``. ``sampling``: what
        was done, for the record.

    Raises
    ------
    InputError
        A tie names a region that is not in ``units``, or a needed column is missing.
    ConfigError
        The estimate exceeds ``memory_limit_bytes`` (names ``limit_key`` and how to
        restrict the pairs), or sampling is requested without a seed.
    """
    ids = units["region_id"].astype(str).to_numpy()
    n = len(ids)
    pos = {u: k for k, u in enumerate(ids)}
    if len(pos) != n:
        raise InputError("duplicate region ids", source="units", column="region_id")
    for col in ("source_id", "target_id"):
        unknown = pd.Series([str(u) not in pos for u in ties[col]], index=ties.index, dtype=bool)
        if unknown.any():
            raise InputError(
                f"tie endpoint(s) {sorted(set(ties.loc[unknown, col].astype(str)))[:10]} "
                "are not analysis regions",
                source="ties",
                rows=(np.flatnonzero(unknown.to_numpy()) + 1).tolist(),
                column=col,
            )
    if controls_per_tie < 0:
        raise ConfigError("must be ≥ 0", source="config", column="controls_per_tie")
    if controls_per_tie and seed is None:
        raise ConfigError("sampling control pairs needs an explicit seed", source="config", column="seed")
    ta = np.array([pos[str(u)] for u in ties["source_id"]], dtype=np.int64)
    tb = np.array([pos[str(u)] for u in ties["target_id"]], dtype=np.int64)
    declared = np.unique(np.minimum(ta, tb) * n + np.maximum(ta, tb))
    declared = declared[declared // n != declared % n]

    coords = None
    if max_distance_km is not None or {"lon", "lat"} <= set(units.columns):
        if not {"lon", "lat"} <= set(units.columns):
            raise InputError("a distance band needs lon and lat", source="units", column="lon")
        lonlat = units[["lon", "lat"]].astype("float64").to_numpy()
        if np.isnan(lonlat).any() and max_distance_km is not None:
            bad = np.flatnonzero(np.isnan(lonlat).any(axis=1)) + 1
            raise InputError("missing coordinates", source="units", rows=bad.tolist(), column="lon")
        coords = _unit_vectors(lonlat[:, 0], lonlat[:, 1])
    income = None
    if max_income_gap is not None or income_column in units.columns:
        if income_column not in units.columns:
            raise InputError(
                "an income band needs the initial log income", source="units", column=income_column
            )
        income = units[income_column].astype("float64").to_numpy()
        if max_income_gap is not None and np.isnan(income).any():
            bad = np.flatnonzero(np.isnan(income)) + 1
            raise InputError(
                "missing initial income", source="units", rows=bad.tolist(), column=income_column
            )

    n_all = n * (n - 1) // 2
    # Count admissible control pairs (before building any): the tighter band bounds the work.
    counts = []
    tree = None
    n_distance = n_gap = None
    if max_distance_km is not None and coords is not None:
        from scipy.spatial import cKDTree

        tree = cKDTree(coords)
        n_distance = (int(tree.count_neighbors(tree, _chord(max_distance_km))) - n) // 2
        counts.append(n_distance)
    if max_income_gap is not None and income is not None:
        n_gap = _gap_pair_count(income, max_income_gap)
        counts.append(n_gap)
    banded = bool(counts)
    n_band_bound = min(counts) if counts else n_all
    if controls_per_tie:
        n_kept_controls = min(controls_per_tie * len(declared), n_band_bound)
        build_bound = n_band_bound if banded else 0  # unbanded sampling never materialises all pairs
    else:
        n_kept_controls = n_band_bound
        build_bound = n_band_bound
    n_final = len(declared) + n_kept_controls
    estimate = max(
        estimate_pair_bytes(n_final, n_years, n_columns=n_columns),
        estimate_pair_bytes(build_bound, 1, n_columns=3),
    )
    if estimate > memory_limit_bytes:
        raise ConfigError(
            f"the pair design would hold about {n_final:,} pairs × {n_years} years "
            f"≈ {estimate / GIB:.1f} GiB, above the limit of {memory_limit_bytes / GIB:.1f} GiB; "
            f"restrict the control pairs ({' / '.join(band_keys)}) or sample them "
            f"(controls per tie with a seed), or raise {limit_key}",
            source="config",
            column=limit_key,
        )

    # Build the admissible control pairs (codes a * n + b with a < b).
    if banded:
        # Build from the band with fewer pairs, then apply the other band as a filter.
        if tree is not None and coords is not None and (n_gap is None or (n_distance or 0) <= n_gap):
            radius = _chord(float(max_distance_km or 0.0))
            pairs_ab = np.asarray(tree.query_pairs(radius, output_type="ndarray"))
            a, b = np.minimum(pairs_ab[:, 0], pairs_ab[:, 1]), np.maximum(pairs_ab[:, 0], pairs_ab[:, 1])
            if max_income_gap is not None and income is not None:
                keep = np.abs(income[a] - income[b]) <= max_income_gap
                a, b = a[keep], b[keep]
        else:
            assert income is not None and max_income_gap is not None
            a, b = _gap_pairs(income, max_income_gap)
            if max_distance_km is not None and coords is not None:
                chord = np.linalg.norm(coords[a] - coords[b], axis=1)
                keep = chord <= _chord(max_distance_km)
                a, b = a[keep], b[keep]
        band_codes = np.unique(a.astype(np.int64) * n + b)
        band_codes = np.setdiff1d(band_codes, declared, assume_unique=True)
    else:
        band_codes = None

    rng = np.random.default_rng(seed) if controls_per_tie else None
    if controls_per_tie:
        assert rng is not None
        want = controls_per_tie * len(declared)
        if band_codes is not None:
            take = min(want, len(band_codes))
            controls = np.sort(rng.choice(band_codes, size=take, replace=False)) if take else band_codes[:0]
        else:
            controls = _sample_all_pairs(rng, n, min(want, n_all - len(declared)), exclude=declared)
        reason = "sampled"
        n_admissible = len(band_codes) if band_codes is not None else n_all - len(declared)
    else:
        if band_codes is not None:
            controls = band_codes
            reason = "band"
        else:
            a_all, b_all = np.triu_indices(n, k=1)
            controls = np.setdiff1d(a_all.astype(np.int64) * n + b_all, declared, assume_unique=True)
            reason = "all"
        n_admissible = len(controls)

    codes = np.concatenate([declared, controls])
    a_idx, b_idx = codes // n, codes % n
    out = pd.DataFrame(
        {
            "unit_a": pd.array(ids[a_idx], dtype="string"),
            "unit_b": pd.array(ids[b_idx], dtype="string"),
            "tied": np.r_[np.ones(len(declared), bool), np.zeros(len(controls), bool)],
            "reason": pd.array(["declared"] * len(declared) + [reason] * len(controls), dtype="string"),
        }
    )
    if coords is not None:
        cos = np.clip(np.einsum("ij,ij->i", coords[a_idx], coords[b_idx]), -1.0, 1.0)
        out["distance_km"] = EARTH_RADIUS_KM * np.arccos(cos)
    if income is not None:
        out["income_gap"] = np.abs(income[a_idx] - income[b_idx])
    # Ids may not sort like positions: put each pair's smaller id first, then sort.
    swap = (out["unit_a"] > out["unit_b"]).to_numpy()
    if swap.any():
        out.loc[swap, ["unit_a", "unit_b"]] = out.loc[swap, ["unit_b", "unit_a"]].to_numpy()
    out = out.sort_values(["unit_a", "unit_b"], kind="mergesort").reset_index(drop=True)
    sampling = PairSampling(
        n_units=n,
        n_all_pairs=n_all,
        n_declared=len(declared),
        max_distance_km=max_distance_km,
        max_income_gap=max_income_gap,
        n_in_bands=int(n_admissible),
        controls_per_tie=int(controls_per_tie),
        seed=None if seed is None else int(seed),
        n_sampled=len(controls) if controls_per_tie else 0,
        n_candidates=len(out),
        n_years=int(n_years),
        estimated_bytes=int(estimate),
        memory_limit_bytes=int(memory_limit_bytes),
    )
    return out, sampling


def _sample_all_pairs(rng: np.random.Generator, n: int, size: int, *, exclude: np.ndarray) -> np.ndarray:
    """``size`` distinct unordered pairs (codes ``a * n + b``, a < b) drawn uniformly from all
    pairs outside ``exclude``, without enumerating the N(N−1)/2 pairs."""
    chosen = np.empty(0, dtype=np.int64)
    excluded = np.asarray(exclude, dtype=np.int64)
    while len(chosen) < size:
        need = size - len(chosen)
        a = rng.integers(0, n, size=2 * need + 16)
        b = rng.integers(0, n, size=2 * need + 16)
        ok = a != b
        codes = np.minimum(a, b)[ok].astype(np.int64) * n + np.maximum(a, b)[ok]
        codes = codes[~np.isin(codes, excluded)]
        # keep first occurrences in draw order, so the sample depends only on the seed
        _, first = np.unique(codes, return_index=True)
        codes = codes[np.sort(first)]
        codes = codes[~np.isin(codes, chosen)]
        chosen = np.concatenate([chosen, codes[:need]])
    return np.sort(chosen)
