"""Load and validate a zonespill configuration (the same JSON Schema Snakemake uses).

Config values are data, never code: nothing here (or anywhere in zonespill) evaluates
a config string.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from zonespill.errors import ConfigError


def schema() -> dict[str, Any]:
    text = resources.files("zonespill").joinpath("schemas/config.schema.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate_config(config: Mapping[str, Any], *, source: str = "config") -> None:
    """Raise :class:`ConfigError` naming the offending key if ``config`` breaks the schema.

    The message is one line: the dotted key, the value (shortened) and the rule it breaks,
    never a dump of the schema.
    """
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        # The deepest error names the most precise key (allOf/oneOf wrap their sub-errors).
        err = errors[0]
        while err.context:
            err = max(err.context, key=lambda e: len(e.absolute_path))
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            key = ".".join([*map(str, err.absolute_path), *map(str, extra[:1])])
            raise ConfigError(f"unknown config key(s) {extra}", source=source, column=key)
        if err.validator == "required":
            raise ConfigError(_short(err.message), source=source, column=key)
        rule = {
            "maximum": f"must be at most {err.validator_value}",
            "minimum": f"must be at least {err.validator_value}",
            "exclusiveMinimum": f"must be greater than {err.validator_value}",
            "exclusiveMaximum": f"must be less than {err.validator_value}",
            "enum": f"must be one of {err.validator_value}",
            "type": f"must be of type {err.validator_value}",
        }.get(str(err.validator), _short(err.message))
        raise ConfigError(
            f"invalid value {_short(repr(err.instance), 60)}: {rule}", source=source, column=key
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping (YAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise ConfigError(
                f"duplicated key: given on lines {seen[key]} and {key_node.start_mark.line + 1} "
                "(YAML would silently keep the last one)",
                source=str(getattr(loader, "zonespill_source", "config")),
                column=str(key),
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)  # type: ignore[no-untyped-call]


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file safely, rejecting duplicated keys (``ConfigError`` names the key)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file ({exc.strerror})", source=str(p)) from exc
    loader = _UniqueKeyLoader(text)
    loader.zonespill_source = str(p)  # type: ignore[attr-defined]
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"not valid YAML ({_short(str(exc).replace(chr(10), ' '), 300)})", source=str(p)
        ) from exc
    finally:
        loader.dispose()


def check_workflow_config(config: Mapping[str, Any], files: Iterable[str | Path]) -> None:
    """What the Snakefile runs first: no duplicated key in any config file, then the schema.

    Raises :class:`ConfigError` with a one-line message naming the file and dotted key.
    """
    names = [str(f) for f in files]
    for f in names:
        read_yaml(f)
    validate_config(config, source=", ".join(names) or "config")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file safely (no duplicated keys) and validate it."""
    p = Path(path)
    loaded = read_yaml(p)
    if not isinstance(loaded, dict):
        raise ConfigError("the config must be a mapping of keys to values", source=str(p))
    validate_config(loaded, source=str(p))
    return loaded
