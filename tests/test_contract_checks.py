"""Contract checks added for issue 10: content duplicates, direction conflicts, plausibility
warnings, Stata value labels, duplicated YAML keys and one-line config errors."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zonespill import contract as C
from zonespill.config import load_config, validate_config
from zonespill.errors import ConfigError, InputError
from zonespill.ingest import SourceSpec, read_source
from zonespill.steps import run_spine


def _append(path: Path, row: list[str]) -> None:
    with open(path, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(row)


def test_direction_conflict_across_programmes_is_recorded_not_rejected(
    tiny: tuple[Path, dict[str, Any]],
) -> None:
    tmp, cfg = tiny
    # Row 8: programme 'other' says 22 gives to 12 while east_west (row 3) says 12 gives to 22.
    _append(tmp / "data/pairings.csv", ["other", "22", "12", "2007", "", "forward"])
    run_spine(cfg, tmp / "results")
    import json

    records = json.loads((tmp / "results/canonical/collaborations_warnings.json").read_text(encoding="utf-8"))
    assert [r["rows"] for r in records] == [[3, 8]]
    assert records[0]["check"] == "direction_across_programmes" and records[0]["column"] == "direction"
    assert "'east_west'" in records[0]["message"] and "'other'" in records[0]["message"]


def test_same_direction_in_disjoint_years_is_not_a_conflict(tiny: tuple[Path, dict[str, Any]]) -> None:
    tmp, cfg = tiny
    # east_west row 3 ends in 2009; the reversed tie starting 2010 does not overlap it.
    _append(tmp / "data/pairings.csv", ["east_west", "22", "12", "2010", "", "forward"])
    run_spine(cfg, tmp / "results")


def test_unknown_direction_contradicts_nothing() -> None:
    frame = pd.DataFrame(
        {
            "source_id": ["11", "12"],
            "target_id": ["12", "11"],
            "programme": ["p", "p"],
            "start_year": pd.array([2000, 2001], dtype="Int64"),
            "end_year": pd.array([pd.NA, pd.NA], dtype="Int64"),
            "direction": ["forward", "unknown"],
        }
    )
    assert C.check_collaboration_content(frame, source="x.csv", rows=[2, 3]) == []
    frame.loc[1, "direction"] = "two_way"
    with pytest.raises(InputError) as info:
        C.check_collaboration_content(frame, source="x.csv", rows=[2, 3], source_columns={"direction": "dir"})
    assert info.value.rows == [2, 3] and info.value.column == "dir"


def _panel(pop: list[float], gdp: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region_id": ["11"] * len(pop),
            "year": pd.array(range(2000, 2000 + len(pop)), dtype="Int64"),
            "gdp": pd.array(gdp, dtype="Float64"),
            "population": pd.array(pop, dtype="Float64"),
        }
    )


def test_plausibility_flags_population_in_persons_and_a_collapse_of_growth() -> None:
    bounds = C.Plausibility()
    ok = C.plausibility_warnings(
        _panel([1000, 1005, 1010], [100, 108, 117]), bounds, source="p.csv", rows=[2, 3, 4]
    )
    assert ok == []
    # population given in persons while the declared unit is 10,000 persons
    persons = C.plausibility_warnings(
        _panel([1.0e7, 1.0e7, 1.0e7], [100, 108, 117]),
        bounds,
        source="p.csv",
        rows=[2, 3, 4],
        source_columns={"population": "pop"},
    )
    assert [r["check"] for r in persons] == ["population_units"]
    assert persons[0]["rows"] == [2, 3, 4] and persons[0]["column"] == "pop"
    # GDP per capita falls by 91 % in one year (a typo or a unit change), then recovers
    growth = C.plausibility_warnings(
        _panel([1000, 1000, 1000], [100, 9, 100]),
        bounds,
        source="p.csv",
        rows=[2, 3, 4],
        source_columns={"gdp": "gdp_vB"},
    )
    assert [r["check"] for r in growth] == ["per_capita_growth"]
    assert growth[0]["rows"] == [3, 4] and growth[0]["column"] == "gdp_vB"
    # bounds are configurable: a looser band accepts the same panel
    loose = C.Plausibility(min_growth=-0.95, max_growth=20)
    assert (
        C.plausibility_warnings(_panel([1000, 1000, 1000], [100, 9, 100]), loose, source="p", rows=[2, 3, 4])
        == []
    )


def test_plausibility_bounds_reject_unknown_keys() -> None:
    with pytest.raises(ConfigError) as info:
        C.Plausibility.from_options({"max_grwoth": 1})
    assert info.value.column == "plausibility.max_grwoth"


def test_panel_warnings_reach_the_log_and_the_record(
    tiny: tuple[Path, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    import json

    tmp, cfg = tiny
    cfg["plausibility"] = {"max_growth": 0.001}  # every year of the tiny panel grows faster than 0.1 %
    with caplog.at_level(logging.WARNING, logger="zonespill"):
        run_spine(cfg, tmp / "results")
    records = json.loads((tmp / "results/canonical/panel_warnings.json").read_text(encoding="utf-8"))
    assert records and records[0]["check"] == "per_capita_growth" and records[0]["column"] == "gdp_new"
    assert any("annual growth of GDP per capita" in m for m in caplog.messages)


def test_stata_value_labels_codes_by_default_labels_on_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "panel.dta"
    pd.DataFrame(
        {"prov": pd.Categorical(["Beijing", "Tianjin", "Beijing"]), "gdp": np.array([1.0, 2.0, 3.0])}
    ).to_stata(path, write_index=False)
    with caplog.at_level(logging.INFO, logger="zonespill"):
        codes = read_source(SourceSpec(path=path))
    assert codes["prov"].tolist() == [0, 1, 0]
    assert any("prov" in m and "numeric codes" in m and "value_labels: labels" in m for m in caplog.messages)
    labels = read_source(
        SourceSpec.from_config({"path": str(path), "value_labels": "labels"}, key="inputs.panel")
    )
    assert labels["prov"].astype(str).tolist() == ["Beijing", "Tianjin", "Beijing"]
    with pytest.raises(ConfigError) as info:
        SourceSpec.from_config({"path": str(path), "value_labels": "names"}, key="inputs.panel")
    assert info.value.column == "inputs.panel.value_labels"


def test_duplicated_yaml_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("output_dir: results\nweights:\n  kind: queen\n  k: 4\n  kind: knn\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.column == "kind" and "lines 3 and 5" in str(info.value)
    assert str(cfg) in str(info.value)


@pytest.mark.parametrize(
    ("keys", "value", "dotted"),
    [
        (("did", "n_boot"), 10**9, "did.n_boot"),
        (("montecarlo", "replications"), 10**9, "montecarlo.replications"),
        (("spatial", "n_sim"), 10**9, "spatial.n_sim"),
        (("inputs", "zones", "header_row"), 10**9, "inputs.zones.header_row"),
    ],
)
def test_resource_exhausting_values_are_rejected_in_one_line(
    tiny: tuple[Path, dict[str, Any]], keys: tuple[str, ...], value: int, dotted: str
) -> None:
    _, cfg = tiny
    node = cfg
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    message = str(info.value)
    assert info.value.column == dotted and "must be at most" in message
    assert "\n" not in message and len(message) < 200


def test_monte_carlo_reads_pairings_through_ingest(tmp_path: Path) -> None:
    """``start_year: 1996.0`` is a year for ingest, so it is one for the Monte Carlo reader too;
    text is rejected with file, row and the file's column; a directory is not a file."""
    from zonespill.simulate import prefecture_geography, prefecture_pairs

    repo = Path(__file__).resolve().parents[1]
    census_cols = {"city_code": "code", "city": "name", "province_code": "province_code", "coord": "wkt"}
    geo = prefecture_geography(repo / ".test/data/prefectures.csv", columns=census_cols)
    pair_cols = {
        "program": "programme",
        "start_year": "start",
        "giver_code": "giver",
        "receiver_code": "receiver",
    }
    text = (repo / ".test/data/pairings.csv").read_text(encoding="utf-8").replace(",2004,", ",2004.0,")
    path = tmp_path / "pairings.csv"
    path.write_text(text, encoding="utf-8")
    pairs, _ = prefecture_pairs(path, geo.regions, columns=pair_cols)
    assert 2004 in pairs["start_year"].tolist()
    path.write_text(text.replace(",2004.0,", ",2004a,"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        prefecture_pairs(path, geo.regions, columns=pair_cols)
    assert info.value.rows == [2] and info.value.column == "start" and str(path) in str(info.value)
    with pytest.raises(InputError, match="is a directory"):
        prefecture_pairs(tmp_path, geo.regions, columns=pair_cols)
