"""zonespill.simulate: seeded prefecture DGP on the real geography (simulated data)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.errors import InputError
from zonespill.simulate import (
    TIE_TYPES,
    Geography,
    SimParams,
    prefecture_geography,
    prefecture_pairs,
    simulate_panel,
    simulate_replications,
)

REPO = Path(__file__).resolve().parents[1]
CENSUS = REPO / "data" / "raw" / "china" / "prefectures_census_2010_2020.csv"
PAIRINGS = REPO / "data" / "raw" / "china" / "pairings.csv"

pytestmark = pytest.mark.skipif(not CENSUS.exists(), reason="bundled China data not present")

HAINAN_SANSHA = "460300"


@pytest.fixture(scope="module")
def geo() -> Geography:
    return prefecture_geography(CENSUS, island_rule="nearest")


@pytest.fixture(scope="module")
def pairs(geo: Geography) -> pd.DataFrame:
    return prefecture_pairs(PAIRINGS, geo.regions)[0]


# ------------------------------------------------------------------ geography
def test_geography_is_mainland_with_named_islands(geo: Geography) -> None:
    regions = geo.regions
    assert list(regions.columns) == ["region_id", "name", "province_id", "lon", "lat"]
    assert regions["region_id"].is_unique and regions["region_id"].is_monotonic_increasing
    assert not regions["province_id"].isin(["71", "81", "82"]).any()
    assert regions["province_id"].nunique() == 31
    assert geo.weights.ids == tuple(regions["region_id"])
    assert geo.weights.is_symmetric
    # islands are reported, never silent: all of Hainan (46xxxx), Sansha included
    assert geo.islands
    assert HAINAN_SANSHA in geo.islands
    assert {"460100", "460200", "460400"} <= set(geo.islands)
    assert all(i.startswith("46") for i in geo.islands)
    # nearest: every island got one symmetric link to a mainland unit, no zero rows left
    assert len(geo.added_links) == len(geo.islands)
    assert all(j not in geo.islands for _, j in geo.added_links)
    assert geo.weights.islands == ()
    # a well-known contiguity: Beijing borders Tianjin
    m = geo.weights.matrix
    ids = geo.weights.index_of(["110100", "120100"])
    assert m[ids[0], ids[1]] == 1 and m[ids[1], ids[0]] == 1


def test_island_rules_drop_and_keep(geo: Geography) -> None:
    dropped = prefecture_geography(CENSUS, island_rule="drop")
    assert dropped.islands == geo.islands
    assert dropped.weights.n == geo.weights.n - len(geo.islands)
    assert not set(dropped.islands) & set(dropped.regions["region_id"])
    assert dropped.added_links == ()
    kept = prefecture_geography(CENSUS, island_rule="keep")
    assert kept.weights.n == geo.weights.n
    assert kept.weights.islands == (HAINAN_SANSHA,)  # the only unit with no neighbour at all
    with pytest.raises(InputError, match="island rule"):
        prefecture_geography(CENSUS, island_rule="ignore")  # type: ignore[arg-type]


def test_pairs_map_provinces_to_capitals_or_skip(geo: Geography) -> None:
    pairs, skipped = prefecture_pairs(PAIRINGS, geo.regions)
    assert set(pairs.columns) >= {"source_id", "target_id", "start_year", "direction"}
    assert pairs["source_id"].str.fullmatch(r"\d{6}").all()
    assert set(pairs["direction"]) == {"forward", "reverse", "two_way"}
    # east_west_1996 Beijing -> Inner Mongolia becomes Beijing -> Hohhot
    assert ((pairs["source_id"] == "110100") & (pairs["target_id"] == "150100")).any()
    assert (skipped["reason"] == "no start year").any()
    only_pref, skipped2 = prefecture_pairs(PAIRINGS, geo.regions, province_rule="skip")
    assert len(only_pref) < len(pairs)
    assert skipped2["reason"].str.contains("province").any()
    assert len(only_pref) + len(skipped2) == len(pairs) + len(skipped)


# ------------------------------------------------------------------ panel
def test_shapes_and_labels(geo: Geography, pairs: pd.DataFrame) -> None:
    res = simulate_panel(geo, pairs, n_periods=6, start_year=2010, seed=7, params=SimParams())
    p = res.panel
    assert len(p) == geo.weights.n * 6
    assert not p.duplicated(["region_id", "year"]).any()
    assert p["year"].min() == 2010 and p["year"].max() == 2015
    assert (p["data_source"] == "simulated").all()
    assert res.truth["data_source"] == "simulated"
    np.testing.assert_allclose(p["growth"], p["log_y"] - p["log_y_lag"], atol=1e-12)
    for k in TIE_TYPES:
        assert f"d_{k}" in p and f"cohort_{k}" in p
        assert f"att_{k}" in res.truth
    for k in ("forward", "reverse", "any"):
        assert f"d_{k}" in p and f"att_{k}" in res.truth
    assert p["exposure"].between(0, 1).all()
    assert (p.loc[p["d_any"] == 1, "spill"] == 0).all()
    # the lag of year t is the level of year t-1
    wide = p.pivot(index="region_id", columns="year", values="log_y")
    lag = p.pivot(index="region_id", columns="year", values="log_y_lag")
    np.testing.assert_allclose(lag[2011], wide[2010])
    # absorbing treatment
    assert (p.groupby("region_id")["d_any"].diff().dropna() >= 0).all()
    assert res.seed == 7 and res.replication == 0


def test_determinism_and_seed_matters(geo: Geography, pairs: pd.DataFrame) -> None:
    a = simulate_panel(geo, pairs, n_periods=5, start_year=2010, seed=123, params=SimParams())
    b = simulate_panel(geo, pairs, n_periods=5, start_year=2010, seed=123, params=SimParams())
    pd.testing.assert_frame_equal(a.panel, b.panel)
    assert a.truth == b.truth
    c = simulate_panel(geo, pairs, n_periods=5, start_year=2010, seed=124, params=SimParams())
    assert not np.allclose(a.panel["growth"], c.panel["growth"])
    d = simulate_panel(geo, pairs, n_periods=5, start_year=2010, seed=123, params=SimParams(), replication=1)
    assert not np.allclose(a.panel["growth"], d.panel["growth"])


def test_replications_do_not_depend_on_chunking(geo: Geography, pairs: pd.DataFrame) -> None:
    kw = {"n_periods": 4, "start_year": 2012, "seed": 2024, "params": SimParams()}
    one_by_one = [simulate_replications(geo, pairs, [r], **kw)[0] for r in range(10)]
    chunked = simulate_replications(geo, pairs, range(0, 4), **kw) + simulate_replications(
        geo, pairs, range(4, 10), **kw
    )
    backwards = simulate_replications(geo, pairs, reversed(range(10)), **kw)[::-1]
    for r in range(10):
        assert one_by_one[r].replication == chunked[r].replication == r
        pd.testing.assert_frame_equal(one_by_one[r].panel, chunked[r].panel)
        pd.testing.assert_frame_equal(one_by_one[r].panel, backwards[r].panel)
    assert not np.allclose(one_by_one[0].panel["growth"], one_by_one[1].panel["growth"])


def test_structural_equation_holds(geo: Geography, pairs: pd.DataFrame) -> None:
    """(I - rho W) g_t - alpha - delta_t - b y_{t-1} - tau'D - gamma s = eps, with sd = noise_sd."""
    params = SimParams(rho=0.4, spillover=0.01)
    res = simulate_panel(geo, pairs, n_periods=12, start_year=2005, seed=5, params=params)
    p = res.panel
    W = geo.weights.row_standardise().matrix
    ids = list(geo.weights.ids)
    tau = params.tau()
    resid = []
    for year, grp in p.groupby("year", sort=True):
        grp = grp.set_index("region_id").loc[ids]
        g = grp["growth"].to_numpy()
        alpha = np.array([res.truth["unit_fe"][u] for u in ids])
        rhs = alpha + res.truth["time_fe"][year] + params.beta * grp["log_y_lag"].to_numpy()
        rhs = (
            rhs + sum(tau[k] * grp[f"d_{k}"].to_numpy() for k in TIE_TYPES) + params.spillover * grp["spill"]
        )
        resid.append(g - params.rho * (W @ g) - rhs.to_numpy())
    eps = np.concatenate(resid)
    assert abs(eps.mean()) < 4 * params.noise_sd / np.sqrt(eps.size)
    assert eps.std() == pytest.approx(params.noise_sd, rel=0.05)


def test_no_effects_means_zero_att(geo: Geography, pairs: pd.DataFrame) -> None:
    zero = SimParams(**{f"tau_{k}": 0.0 for k in TIE_TYPES}, spillover=0.0)
    res = simulate_panel(geo, pairs, n_periods=5, start_year=2015, seed=1, params=zero)
    for k in (*TIE_TYPES, "forward", "reverse", "any"):
        assert res.truth[f"att_{k}"] == pytest.approx(0.0, abs=1e-15)


def _twfe_ols(panel: pd.DataFrame, regressors: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """OLS of growth on regressors with unit and year effects (balanced panel, within transform)."""

    def within(col: pd.Series) -> np.ndarray:
        unit = col.groupby(panel["region_id"]).transform("mean")
        year = col.groupby(panel["year"]).transform("mean")
        return (col - unit - year + col.mean()).to_numpy(float)

    y = within(panel["growth"])
    X = np.column_stack([within(panel[c].astype(float)) for c in regressors])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    n_units, n_years = panel["region_id"].nunique(), panel["year"].nunique()
    dof = len(y) - n_units - n_years + 1 - X.shape[1]
    sigma2 = resid @ resid / dof
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(X.T @ X)))
    return beta, se


def test_truth_is_recoverable_by_twfe_when_rho_is_zero(geo: Geography, pairs: pd.DataFrame) -> None:
    params = SimParams(
        rho=0.0,
        beta=0.0,
        spillover=0.0,
        tau_forward_giver=0.01,
        tau_forward_receiver=0.02,
        tau_reverse_giver=0.015,
        tau_reverse_receiver=-0.01,
        tau_two_way=0.01,
    )
    res = simulate_panel(geo, pairs, n_periods=30, start_year=2000, seed=99, params=params)
    cols = [f"d_{k}" for k in TIE_TYPES]
    beta, se = _twfe_ols(res.panel, cols)
    true = np.array(list(params.tau().values()))
    z = (beta - true) / se
    assert np.all(np.abs(z) < 4), dict(zip(cols, z.round(2), strict=True))
    # the well-populated forward receiver effect is pinned down tightly
    assert abs(beta[1] - true[1]) < 0.005


def test_invalid_inputs_are_named(geo: Geography, pairs: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="rho"):
        SimParams(rho=1.0)
    with pytest.raises(InputError, match="noise_sd"):
        replace(SimParams(), noise_sd=-1.0)
    bad = pairs.copy()
    bad.loc[bad.index[2], "direction"] = "sideways"
    with pytest.raises(InputError, match=r"row\(s\) 3.*direction"):
        simulate_panel(geo, bad, n_periods=2, start_year=2010, seed=1)
    unknown = pairs.copy()
    unknown["target_id"] = unknown["target_id"].astype(object)
    unknown.loc[unknown.index[0], "target_id"] = "999999"
    with pytest.raises(InputError, match="target_id"):
        simulate_panel(geo, unknown, n_periods=2, start_year=2010, seed=1)


def test_column_mapping_and_spreadsheet_rows_in_errors(tmp_path: Path) -> None:
    """Files with other column names are read through a mapping (no temporary copies); value errors
    give the spreadsheet row (header = row 1), a missing column is named as the file spells it."""
    from zonespill.errors import InputError
    from zonespill.simulate import prefecture_geography

    src = Path(__file__).resolve().parents[1] / ".test" / "data" / "prefectures.csv"
    mapping = {"city_code": "code", "city": "name", "province_code": "province_code", "coord": "wkt"}
    geo = prefecture_geography(src, island_rule="nearest", columns=mapping)
    assert len(geo.regions) == 14
    lines = src.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[0], "12x", 1)  # spreadsheet row 4
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        prefecture_geography(bad, columns=mapping)
    assert info.value.rows == [4] and info.value.column == "city_code"
    with pytest.raises(InputError, match="missing required column") as missing:
        prefecture_geography(src, columns={**mapping, "coord": "geometry"})
    assert missing.value.column == "geometry"


def test_first_tie_years_names_rows_by_one_based_position_for_every_check() -> None:
    import pandas as pd
    import pytest

    from zonespill.errors import InputError
    from zonespill.simulation.dgp import first_tie_years

    good = {"source_id": "a", "target_id": "b", "start_year": 2005, "direction": "forward"}
    for bad, column in (({"direction": "sideways"}, "direction"), ({"target_id": "zz"}, "target_id"),
                        ({"start_year": "soon"}, "start_year")):
        pairs = pd.DataFrame([good, good, {**good, **bad}])
        with pytest.raises(InputError) as err:
            first_tie_years(pairs, ["a", "b"])
        assert err.value.column == column and list(err.value.rows) == [3], str(err.value)
