"""Candidate pairs for pair designs (issue 10 part 6): exact against brute force on small
data, a memory guard that fires before anything is built, and seeded, recorded sampling."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from zonespill.errors import ConfigError, InputError
from zonespill.geography import haversine_km
from zonespill.pairs import candidate_pairs, estimate_pair_bytes


def _units(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "region_id": [f"R{k:05d}" for k in range(n)],
            "lon": rng.uniform(100, 120, n),
            "lat": rng.uniform(22, 42, n),
            "initial_log_income": rng.normal(9.0, 0.6, n),
        }
    )


def _ties(units: pd.DataFrame, m: int, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = units["region_id"].to_numpy()
    a = rng.choice(len(ids), m)
    b = (a + 1 + rng.choice(len(ids) - 1, m)) % len(ids)
    return pd.DataFrame({"source_id": ids[a], "target_id": ids[b]})


def _brute(
    units: pd.DataFrame, ties: pd.DataFrame, km: float | None, gap: float | None
) -> set[tuple[str, str]]:
    ids = units["region_id"].tolist()
    lon, lat = units["lon"].to_numpy(), units["lat"].to_numpy()
    inc = units["initial_log_income"].to_numpy()
    out = {tuple(sorted(p)) for p in zip(ties["source_id"], ties["target_id"], strict=True)}
    for i in range(len(ids)):
        d = haversine_km(lon[i], lat[i], lon, lat)
        for j in range(i + 1, len(ids)):
            if (km is None or d[j] <= km) and (gap is None or abs(inc[i] - inc[j]) <= gap):
                out.add((ids[i], ids[j]))
    return out


@pytest.mark.parametrize(("km", "gap"), [(300.0, None), (None, 0.2), (500.0, 0.3), (3000.0, 0.05)])
def test_bands_match_brute_force(km: float | None, gap: float | None) -> None:
    units = _units(80)
    ties = _ties(units, 25)
    pairs, info = candidate_pairs(units, ties, n_years=10, max_distance_km=km, max_income_gap=gap)
    got = set(zip(pairs["unit_a"], pairs["unit_b"], strict=True))
    assert got == _brute(units, ties, km, gap)
    assert (pairs["unit_a"] < pairs["unit_b"]).all() and not pairs.duplicated(["unit_a", "unit_b"]).any()
    assert int(pairs["tied"].sum()) == info.n_declared == len({tuple(sorted(p)) for p in ties.to_numpy()})
    if km is not None:  # the recorded distance is the great-circle distance, inside the band
        assert pairs.loc[~pairs["tied"], "distance_km"].max() <= km + 1e-6
    assert info.n_candidates == len(pairs) and info.n_all_pairs == 80 * 79 // 2


def test_no_band_keeps_all_pairs_when_small() -> None:
    units = _units(30)
    pairs, info = candidate_pairs(units, _ties(units, 5))
    assert len(pairs) == 30 * 29 // 2 and set(pairs["reason"]) == {"declared", "all"}
    assert "all" in info.note()


def test_memory_guard_fires_before_building() -> None:
    units = _units(20_000)  # 200 million pairs
    ties = _ties(units, 5_000)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        candidate_pairs(units, ties, n_years=25, memory_limit_bytes=2 * 1024**3)
    assert time.perf_counter() - start < 5
    msg = str(info.value)
    assert (
        info.value.column == "did.pair_memory_limit_gb" and "GiB" in msg and "did.pair_max_distance_km" in msg
    )
    assert estimate_pair_bytes(20_000 * 19_999 // 2, 25) > 2 * 1024**3


def test_sampled_controls_are_seeded_recorded_and_never_ties() -> None:
    units = _units(50_000)  # 1.25 billion pairs: sampling must not enumerate them
    ties = _ties(units, 2_000)
    start = time.perf_counter()
    one, info = candidate_pairs(units, ties, n_years=25, controls_per_tie=3, seed=11)
    assert time.perf_counter() - start < 10
    two, _ = candidate_pairs(units, ties, n_years=25, controls_per_tie=3, seed=11)
    other, _ = candidate_pairs(units, ties, n_years=25, controls_per_tie=3, seed=12)
    pd.testing.assert_frame_equal(one, two)
    assert not one.equals(other)
    controls = one[~one["tied"]]
    assert len(controls) == 3 * info.n_declared == info.n_sampled
    tied = set(zip(one.loc[one["tied"], "unit_a"], one.loc[one["tied"], "unit_b"], strict=True))
    assert not tied & set(zip(controls["unit_a"], controls["unit_b"], strict=True))
    assert info.seed == 11 and info.controls_per_tie == 3
    assert "seed 11" in info.note() and "3 per tie" in info.note()


def test_sampling_inside_a_band_and_needs_a_seed() -> None:
    units = _units(400)
    ties = _ties(units, 30)
    pairs, info = candidate_pairs(units, ties, max_distance_km=400.0, controls_per_tie=2, seed=5)
    band = _brute(units, ties, 400.0, None)
    controls = set(zip(pairs.loc[~pairs["tied"], "unit_a"], pairs.loc[~pairs["tied"], "unit_b"], strict=True))
    assert controls <= band and len(controls) == min(2 * info.n_declared, info.n_in_bands)
    with pytest.raises(ConfigError, match="seed"):
        candidate_pairs(units, ties, controls_per_tie=2)


def test_unknown_tie_endpoint_is_named() -> None:
    units = _units(10)
    ties = pd.DataFrame({"source_id": ["R00001", "R00002"], "target_id": ["R00003", "X9"]})
    with pytest.raises(InputError) as info:
        candidate_pairs(units, ties)
    assert info.value.rows == [2] and info.value.column == "target_id" and "X9" in str(info.value)
