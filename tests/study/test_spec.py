"""The declared study: bundled declaration, schema defaults (one source), errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zonespill.errors import ConfigError
from zonespill.study.schema import section_defaults, with_defaults
from zonespill.study.spec import load_study, step_payload, study_labels

REPO = Path(__file__).resolve().parents[2]
BUNDLED_IDS = (
    "T1",
    "T2",
    "T3",
    "D1",
    "D2",
    "D3",
    "D4",
    "D5",
    "D6",
    "D7",
    "S1",
    "S2",
    "S3",
    "S4",
    "C1",
    "C2",
    "C3",
    "C4",
    "C4m",
    "C5",
    "M1",
    "M2",
)


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text(encoding="utf-8"))


def _did_table(**column: object) -> dict:
    return {
        "id": "X1",
        "family": "did",
        "design": "staggered",
        "outcome": "y",
        "treatments": ["any"],
        "columns": [{"estimator": "cs", **column}],
    }


def test_bundled_declaration_keeps_every_table_id_and_fills_defaults(config: dict) -> None:
    study = load_study(config)
    assert study.ids == BUNDLED_IDS
    d1 = study.table("D1")
    assert d1["covariates"] == [] and d1["fixed_effects"] == ["unit", "year"] and d1["cluster"] == "unit"
    assert d1["figures"] == [
        f"FD1_{t}" for t in ("forward_giver", "forward_receiver", "reverse", "two_way", "any")
    ]
    assert study.table("T2")["figures"] == ["F1_sigma"] and not study.strict


def test_config_without_study_section_uses_the_bundled_declaration() -> None:
    cfg = yaml.safe_load((REPO / ".test/config.yaml").read_text(encoding="utf-8"))
    assert "study" not in cfg
    assert load_study(cfg).ids == BUNDLED_IDS


def test_family_defaults_come_from_the_schema_only() -> None:
    from zonespill.convergence import pipeline as cp
    from zonespill.did import pipeline as dp
    from zonespill.montecarlo import DEFAULTS as MC_DEFAULTS
    from zonespill.spatial import pipeline as sp

    assert section_defaults("did") == dp.DEFAULTS and dp.DEFAULTS["n_boot"] == 999
    assert section_defaults("spatial") == sp.DEFAULTS and section_defaults("convergence") == cp.DEFAULTS
    assert section_defaults("montecarlo") == MC_DEFAULTS
    assert with_defaults("did", {"n_boot": 0})["cs_method"] == "dr"


def test_table_options_override_the_family_section(config: dict) -> None:
    table = {**_did_table(), "options": {"control_group": "never", "n_boot": 0}}
    study = load_study({**config, "study": {"tables": [table]}})
    payload = step_payload(config, study, "X1")
    assert payload["options"]["control_group"] == "never" and payload["options"]["n_boot"] == 0
    assert payload["options"]["cs_method"] == config["did"]["cs_method"]


@pytest.mark.parametrize(
    ("study", "key", "words"),
    [
        (
            {"tables": [_did_table(estimator="ols")]},
            "study.tables.X1.columns.0.estimator",
            "'ols' is not one of",
        ),
        ({"tables": [_did_table(cluster=3)]}, "study.tables.X1.columns.0.cluster", "not of type"),
        (
            {"tables": [_did_table(sample={"years": [2005]})]},
            "study.tables.X1.columns.0.sample.years",
            "too short",
        ),
        ({"tables": [_did_table(wrong=1)]}, "study.tables.X1.columns.0.wrong", "unknown key"),
        ({"tables": [{**_did_table(), "design": "sdm"}]}, "study.tables.X1.design", "not a did design"),
        ({"tables": [{**_did_table(), "treatments": []}]}, "study.tables.X1.treatments", "non-empty"),
        (
            {"tables": [{**_did_table(), "options": {"cs_method": "ml"}}]},
            "study.tables.X1.options.cs_method",
            "'ml'",
        ),
        ({"tables": [_did_table(), _did_table()]}, "study.tables", "declared twice"),
        ({"exclude": ["ZZ"]}, "study.exclude", "not declared"),
        ({"strict": "yes"}, "study.strict", "boolean"),
        ({"tables": "no/such/file.yaml"}, "study.tables", "not found"),
    ],
)
def test_schema_errors_name_the_dotted_key_in_one_line(
    config: dict, study: dict, key: str, words: str
) -> None:
    cfg = {**config, "study": study}
    with pytest.raises(ConfigError) as err:
        study_obj = load_study(cfg)
        for t in study_obj.ids:  # table options are checked when the step payload is built
            step_payload(cfg, study_obj, t)
    message = str(err.value)
    assert err.value.column == key and words in message and "\n" not in message


def test_exclude_and_a_declaration_file(config: dict, tmp_path: Path) -> None:
    assert "M1" not in load_study({**config, "study": {"exclude": ["M1", "S4"]}}).ids
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump([_did_table()]), encoding="utf-8")
    assert load_study({**config, "study": {"tables": str(path)}}).ids == ("X1",)


def test_unit_labels_follow_the_analysis_level_or_the_user_label(config: dict) -> None:
    assert study_labels(config).count(31) == "31 provinces"
    pref = {**config, "analysis": {**config["analysis"], "level": "prefecture"}}
    assert study_labels(pref).count(1) == "1 prefecture"
    own = {**config, "study": {"unit_label": {"singular": "city", "plural": "cities"}}}
    assert study_labels(own).count(358) == "358 cities"
    lab = study_labels(config)
    assert (
        lab.variable("gdp_pc") == "GDP per capita (yuan)" and lab.text("{Units} panel") == "Provinces panel"
    )


def test_bundled_tables_plus_user_tables_in_one_declaration(config: dict) -> None:
    with_flows = {**config, "inputs": {**config["inputs"], "flows": {"path": "flows.csv"}}}
    study = load_study({**with_flows, "study": {"tables": str(REPO / ".test/prefecture/study.yaml")}})
    assert study.ids == (*BUNDLED_IDS, "P1", "P2", "P3")
    p1 = study.table("P1")
    assert p1["columns"][1]["covariates"] == ["population"] and p1["inference"] == "analytic"
    assert step_payload(config, study, "P2")["options"]["lee_yu"] == [True]
    inline = load_study({**config, "study": {"tables": ["bundled", _did_table()], "exclude": ["M1"]}})
    assert inline.ids == (*(i for i in BUNDLED_IDS if i != "M1"), "X1")


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({**_did_table(), "regressors": ["x"]}, "study.tables.X1.regressors"),
        (_did_table(fixed_effects=["unit"]), "study.tables.X1.columns.0.fixed_effects"),
        ({"id": "X2", "family": "did", "design": "bacon", "outcome": "y"}, "study.tables.X2.outcome"),
        (
            {
                "id": "X3",
                "family": "regression",
                "design": "panel_ols",
                "outcome": "y",
                "columns": [{"regressors": ["x"], "estimator": "twfe"}],
            },
            "study.tables.X3.columns.0.estimator",
        ),
    ],
)
def test_a_key_the_design_would_ignore_is_an_error(config: dict, table: dict, key: str) -> None:
    with pytest.raises(ConfigError, match="does not use") as err:
        load_study({**config, "study": {"tables": [table]}})
    assert err.value.column == key


def test_a_flow_pairs_table_needs_a_flows_input(config: dict) -> None:
    table = {"id": "F1", "family": "did", "design": "flow_pairs", "outcome": "two_way_index"}
    config = {**config, "inputs": {k: v for k, v in config["inputs"].items() if k != "flows"}}
    with pytest.raises(ConfigError, match="needs a flows input") as err:
        load_study({**config, "study": {"tables": [table]}})
    assert err.value.column == "study.tables.F1.design"
    with pytest.raises(ConfigError, match="does not use") as err:
        load_study({**config, "study": {"tables": [{**table, "treatments": ["any"]}]}})
    assert err.value.column == "study.tables.F1.treatments"
