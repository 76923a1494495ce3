"""The declared study: tables (and their specifications) read from the ``study`` config section.

``study.tables`` is ``bundled`` (the packaged declaration ``zonespill/study/bundled.yaml``), a path
to a YAML file holding a list of tables, or the list itself. Every table is validated against
``definitions/table`` of the config schema, which also supplies every default; errors name the
dotted key (``study.tables.D1.columns.0.estimator``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zonespill.errors import ConfigError
from zonespill.study.schema import fill_defaults, with_defaults

#: The builders of each family (``design``).
FAMILY_DESIGNS: dict[str, tuple[str, ...]] = {
    "descriptives": ("summary",),
    "sigma": ("dispersion",),
    "regression": ("panel_ols",),
    "did": ("staggered", "pairs", "flow_pairs", "spillover", "bacon", "honest", "recode"),
    "spatial": ("sdm", "impacts", "lm", "compare"),
    "convergence": ("sigma", "beta", "panel", "clubs", "club_members", "club_ties"),
    "montecarlo": ("m1", "few_clusters"),
}

#: Pipeline files each design reads (names of the step's path arguments).
DESIGN_INPUTS: dict[str, tuple[str, ...]] = {
    "summary": ("region_year",),
    "dispersion": ("region_year",),
    "panel_ols": ("region_year",),
    "staggered": ("region_year", "pair_year"),  # pair_year: the programmes behind each cohort
    "honest": ("region_year",),
    "bacon": ("region_year",),
    "recode": ("region_year", "panel", "regions", "collaborations", "weights", "weights_meta"),
    "sigma": ("region_year",),
    "pairs": ("region_year", "pair_year", "regions"),
    "flow_pairs": ("region_year", "flow_pair_year"),  # needs inputs.flows
    "spillover": ("region_year", "weights", "weights_meta"),
    "sdm": ("region_year", "weights", "weights_meta"),
    "impacts": ("region_year", "weights", "weights_meta"),
    "lm": ("region_year", "weights", "weights_meta"),
    "compare": ("region_year", "weights", "weights_meta"),
    "beta": ("region_year", "weights", "weights_meta"),
    "panel": ("region_year", "weights", "weights_meta"),
    "clubs": ("region_year", "regions", "collaborations"),
    "club_members": ("region_year", "regions", "collaborations"),
    "club_ties": ("region_year", "regions", "collaborations", "pair_year"),
    "m1": (),
    "few_clusters": (),
}

#: The config section holding a family's options (a table's ``options`` override it).
FAMILY_SECTION: dict[str, str] = {
    "did": "did",
    "spatial": "spatial",
    "convergence": "convergence",
    "montecarlo": "montecarlo",
}

#: Unit names per analysis level (``study.unit_label`` overrides them).
LEVEL_UNITS: dict[str, tuple[str, str]] = {
    "province": ("province", "provinces"),
    "prefecture": ("prefecture", "prefectures"),
    "county": ("county", "counties"),
}


@dataclass(frozen=True)
class Labels:
    """What the study calls its units and variables (from config, never hard-coded)."""

    singular: str = "unit"
    plural: str = "units"
    variables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def count(self, n: int) -> str:
        """``"31 provinces"`` / ``"1 province"``."""
        return f"{n} {self.singular if n == 1 else self.plural}"

    def variable(self, name: str, *, with_unit: bool = True) -> str:
        """Label of a panel column, with its measurement unit in parentheses when declared."""
        info = self.variables.get(name) or {}
        label = str(info.get("label") or name)
        unit = info.get("unit")
        return f"{label} ({unit})" if with_unit and unit else label

    def text(self, template: str) -> str:
        """Fill ``{unit}`` / ``{units}`` / ``{Unit}`` / ``{Units}`` in a declared title or note."""
        return (
            template.replace("{units}", self.plural)
            .replace("{unit}", self.singular)
            .replace("{Units}", self.plural[:1].upper() + self.plural[1:])
            .replace("{Unit}", self.singular[:1].upper() + self.singular[1:])
        )

    def to_json(self) -> dict[str, Any]:
        return {"singular": self.singular, "plural": self.plural, "variables": dict(self.variables)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Labels:
        data = data or {}
        return cls(
            singular=str(data.get("singular", "unit")),
            plural=str(data.get("plural", "units")),
            variables=dict(data.get("variables") or {}),
        )


@dataclass(frozen=True)
class Study:
    """The resolved declaration: tables with every default filled, labels, strictness."""

    tables: tuple[dict[str, Any], ...]
    labels: Labels
    strict: bool = False

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t["id"] for t in self.tables)

    def table(self, table_id: str) -> dict[str, Any]:
        for t in self.tables:
            if t["id"] == table_id:
                return t
        raise ConfigError(
            f"no declared table {table_id!r} (declared: {list(self.ids)})",
            source="config",
            column="study.tables",
        )


def _bundled() -> list[Any]:
    text = resources.files("zonespill.study").joinpath("bundled.yaml").read_text(encoding="utf-8")
    loaded: list[Any] = yaml.safe_load(text)
    return loaded


def _read_declaration(value: Any, base_dir: Path | None) -> tuple[list[Any], str]:
    if not isinstance(value, str):
        # the string "bundled" inside a list stands for the bundled tables (then add your own)
        out: list[Any] = []
        for item in value:
            out += _bundled() if item == "bundled" else [copy.deepcopy(item)]
        return out, "config"
    if value == "bundled":
        return _bundled(), "zonespill/study/bundled.yaml"
    path = Path(value)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.exists():
        raise ConfigError(
            f"table declaration file {value!r} not found", source="config", column="study.tables"
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"not valid YAML ({' '.join(str(exc).split())})", source=str(path), column="study.tables"
        ) from exc
    if isinstance(loaded, Mapping) and "tables" in loaded:
        loaded = loaded["tables"]
    if not isinstance(loaded, list):
        raise ConfigError("must hold a list of tables", source=str(path), column="study.tables")
    return _read_declaration(loaded, base_dir)[0], str(path)


_COMMON_KEYS = {"id", "title", "family", "design", "notes", "figures"}
#: Keys each design reads (a declared key the design would ignore is an error, not a silent no-op).
DESIGN_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # design: (table keys, column keys)
    "summary": ({"variables"}, set()),
    "dispersion": ({"outcome"}, set()),
    "panel_ols": (
        {"outcome", "regressors", "covariates", "fixed_effects", "sample", "cluster", "columns"},
        {
            "name",
            "outcome",
            "regressors",
            "covariates",
            "fixed_effects",
            "sample",
            "cluster",
            "bias_correction",
        },
    ),
    "staggered": (
        {
            "outcome",
            "treatments",
            "covariates",
            "sample",
            "cluster",
            "inference",
            "event_study",
            "figure_prefix",
            "options",
            "columns",
        },
        {
            "name",
            "outcome",
            "covariates",
            "sample",
            "estimator",
            "cluster",
            "inference",
            "n_boot",
            "boot_weights",
            "options",
        },
    ),
    # D6-style sensitivity: HonestDiD bounds of the CS event studies of its treatments
    "honest": ({"outcome", "treatments", "sample", "cluster", "options"}, set()),
    # pair-level DiD on flows (flow_pair_year): rows = flow kinds, columns = estimators
    "flow_pairs": ({"outcome", "kinds", "options", "columns"}, {"name", "estimator"}),
    # D7-style robustness: the main staggered table re-estimated under each tie coding
    "recode": ({"outcome", "treatments", "main", "options", "columns"}, {"estimator"}),
}
_FIXED_KEYS: tuple[set[str], set[str]] = ({"options"}, set())  # pairs, spillover, bacon, sdm, … m1


def _check_given_keys(raw: Mapping[str, Any], key: str, source: str) -> None:
    design = str(raw.get("design"))
    table_keys, column_keys = DESIGN_KEYS.get(design, _FIXED_KEYS)
    # a key left at its schema default was not given (Snakemake's validation may have inserted it)
    defaults = fill_defaults({"id": "x", "family": "did", "design": "staggered"}, "definitions/table")
    for k in raw:
        if k in defaults and k not in ("id", "family", "design") and raw[k] == defaults[k]:
            continue
        if k not in _COMMON_KEYS | table_keys:
            raise ConfigError(
                f"a {design} table does not use '{k}' (it uses: {sorted(table_keys)})",
                source=source,
                column=f"{key}.{k}",
            )
    for i, col in enumerate(raw.get("columns") or ()):
        for k in col if isinstance(col, Mapping) else ():
            if k not in column_keys:
                raise ConfigError(
                    f"a {design} column does not use '{k}' (it uses: {sorted(column_keys)})",
                    source=source,
                    column=f"{key}.columns.{i}.{k}",
                )


def resolve_table(raw: Any, *, position: int, source: str = "config") -> dict[str, Any]:
    """One table declaration validated, with every default filled (errors name the key)."""
    tid = raw.get("id") if isinstance(raw, Mapping) else None
    key = f"study.tables.{tid if isinstance(tid, str) else position}"
    table = fill_defaults(copy.deepcopy(raw), "definitions/table", key=key, source=source)
    family, design = table["family"], table["design"]
    if design not in FAMILY_DESIGNS[family]:
        raise ConfigError(
            f"design {design!r} is not a {family} design (one of {list(FAMILY_DESIGNS[family])})",
            source=source,
            column=f"{key}.design",
        )
    _check_given_keys(raw, key, source)
    for i, col in enumerate(table["columns"]):
        fill_defaults(col, "definitions/column", key=f"{key}.columns.{i}", source=source)
    if table["event_study"] and design == "staggered":
        derived = [f"{table['figure_prefix']}_{t}" for t in table.get("treatments") or ()]
        table["figures"] = list(dict.fromkeys([*table["figures"], *derived]))
    _check_design_keys(table, key, source)
    return table


def _check_design_keys(table: Mapping[str, Any], key: str, source: str) -> None:
    design = table["design"]
    needs = {
        "staggered": ("outcome", "treatments"),
        "panel_ols": ("outcome",),
        "dispersion": ("outcome",),
        "summary": ("variables",),
    }
    for k in needs.get(design, ()):
        if not table.get(k):
            raise ConfigError(f"a {design} table needs '{k}'", source=source, column=f"{key}.{k}")
    if design in ("staggered", "panel_ols") and not table["columns"]:
        raise ConfigError(
            f"a {design} table needs at least one column", source=source, column=f"{key}.columns"
        )
    if design == "panel_ols":
        for i, col in enumerate(table["columns"]):
            if not (col.get("regressors") or table.get("regressors")):
                raise ConfigError(
                    "a panel_ols column needs 'regressors'",
                    source=source,
                    column=f"{key}.columns.{i}.regressors",
                )


def load_study(config: Mapping[str, Any], *, base_dir: Path | None = None) -> Study:
    """Resolve ``config['study']``: read the declaration, validate every table, apply ``exclude``."""
    given = dict(config.get("study") or {})
    declared = given.pop("tables", "bundled")
    section = with_defaults("study", given)  # tables are checked one by one below (keys name the table id)
    if not isinstance(declared, str | list) or declared == "":
        raise ConfigError(
            "must be 'bundled', a path to a YAML file or a list of tables",
            source="config",
            column="study.tables",
        )
    raw, source = _read_declaration(declared, base_dir)
    tables = [resolve_table(t, position=i, source=source) for i, t in enumerate(raw)]
    seen: dict[str, str] = {}
    for t in tables:
        if t["id"] in seen:
            raise ConfigError(f"table id {t['id']!r} declared twice", source=source, column="study.tables")
        seen[t["id"]] = t["id"]
        for fig in t["figures"]:
            if fig in seen and seen[fig] != t["id"]:
                raise ConfigError(
                    f"figure id {fig!r} declared by two tables",
                    source=source,
                    column=f"study.tables.{t['id']}.figures",
                )
            seen[fig] = t["id"]
    unknown = [x for x in section["exclude"] if x not in {t["id"] for t in tables}]
    if unknown:
        raise ConfigError(
            f"excluded table(s) {unknown} are not declared", source="config", column="study.exclude"
        )
    for tid in section["notes"]:
        if tid not in {t["id"] for t in tables}:
            raise ConfigError(
                f"notes for table {tid!r}, which is not declared",
                source="config",
                column=f"study.notes.{tid}",
            )
    for t in tables:
        t["notes"] = [*t["notes"], *section["notes"].get(t["id"], [])]
    kept = tuple(t for t in tables if t["id"] not in set(section["exclude"]))
    for t in kept:
        if t["design"] == "flow_pairs" and "flows" not in (config.get("inputs") or {}):
            raise ConfigError(
                "a flow_pairs table needs a flows input (inputs.flows)",
                source=source,
                column=f"study.tables.{t['id']}.design",
            )
    return Study(tables=kept, labels=study_labels(config, section), strict=bool(section["strict"]))


def study_labels(config: Mapping[str, Any], section: Mapping[str, Any] | None = None) -> Labels:
    """Unit names (``study.unit_label`` or from ``analysis.level``) and variable labels."""
    section = section if section is not None else with_defaults("study", config.get("study"))
    level = str((config.get("analysis") or {}).get("level", "unit"))
    singular, plural = LEVEL_UNITS.get(level, (level, f"{level}s"))
    given = section.get("unit_label") or {}
    singular = str(given.get("singular", singular))
    plural = str(given.get("plural", plural if "singular" not in given else f"{singular}s"))
    return Labels(singular=singular, plural=plural, variables=dict(section.get("variables") or {}))


def table_options(config: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    """The family options of a table: the config's family section (with schema defaults),
    overridden by the table's own ``options`` and checked against the same schema section."""
    section = FAMILY_SECTION.get(str(table["family"]))
    if section is None:
        return dict(table.get("options") or {})
    merged = {**with_defaults(section, config.get(section)), **(table.get("options") or {})}
    return with_defaults(section, merged) if not table.get("options") else _checked(section, merged, table)


def _checked(section: str, merged: dict[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return with_defaults(section, merged)
    except ConfigError as exc:
        key = str(exc.column or section).replace(section, f"study.tables.{table['id']}.options", 1)
        raise ConfigError(exc.reason, source="config", column=key) from None


def step_payload(config: Mapping[str, Any], study: Study, table_id: str) -> dict[str, Any]:
    """Everything one table's step needs, as one JSON-able object (the rule's ``--options``)."""
    table = study.table(table_id)
    payload = {
        "table": table,
        "options": table_options(config, table),
        "labels": study.labels.to_json(),
        "master_seed": int(config.get("master_seed", 0)),
        "digits": int((config.get("tables") or {}).get("digits", 3)),
    }
    if table["design"] == "recode":  # the tie-coding scenarios and the level mapping rules
        collabs = (config.get("inputs") or {}).get("collaborations") or {}
        payload["recode"] = dict(collabs.get("recode") or {})
        payload["analysis"] = dict(config.get("analysis") or {})
    return payload


def table_ids(tables: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(t["id"]) for t in tables]
