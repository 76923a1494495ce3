"""The citation registry, CITATION.cff and the .bib writer."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from zonespill import citations
from zonespill.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CFF_SCHEMA = json.loads((REPO / "tests/fixtures/cff/schema-1.2.0.json").read_text(encoding="utf-8"))


def _cff() -> dict:
    data = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    data["date-released"] = str(data["date-released"])
    return data


def test_registry_entries_are_complete_and_dois_well_formed() -> None:
    assert citations.check_registry() == []


def test_citation_cff_is_valid_cff_1_2_0() -> None:
    jsonschema.Draft7Validator(CFF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(_cff())


def test_broken_citation_cff_is_rejected_by_the_schema() -> None:
    broken = _cff()
    del broken["authors"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(CFF_SCHEMA).validate(broken)


def test_citation_cff_version_matches_the_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _cff()["version"] == project["version"]
    assert _cff()["license"] == project["license"]


def test_bibtex_holds_exactly_the_requested_entries() -> None:
    keys = citations.references_for(["cs", "wild", "bjs"])
    expected = ["callaway2021", "santanna2020", "cameron2008", "roodman2019", "mackinnon2017", "borusyak2024"]
    assert keys == expected
    bib = citations.bibtex(keys)
    assert sorted(re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M)) == sorted(keys)
    assert "doi = {10.1093/restud/rdae007}" in bib
    assert bib == citations.bibtex(reversed(keys))  # deterministic


def test_citation_note_names_each_reference_once() -> None:
    note = citations.citation_note(["sun2021", "sun2021", "rambachan2023"])
    assert note == "References: Sun and Abraham (2021); Rambachan and Roth (2023)."
    assert citations.citation_note([]) == ""


def test_unknown_method_or_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown method 'synthetic_control'"):
        citations.references_for(["synthetic_control"])
    with pytest.raises(ConfigError, match="nope2020"):
        citations.bibtex(["nope2020"])
