"""Load and validate a zonespill configuration (the same JSON Schema Snakemake uses).

Config values are data, never code: nothing here (or anywhere in zonespill) evaluates
a config string.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def validate_config(config: Mapping[str, Any], *, source: str = "config") -> None:
    """Raise :class:`ConfigError` naming the offending key if ``config`` breaks the schema."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            key = ".".join([*map(str, err.absolute_path), *extra[:1]])
            raise ConfigError(f"unknown config key(s) {extra}", source=source, column=key)
        raise ConfigError(f"invalid value: {err.message}", source=source, column=key)


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file safely (``yaml.safe_load``) and validate it."""
    p = Path(path)
    try:
        loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc})", source=str(p)) from exc
    if not isinstance(loaded, dict):
        raise ConfigError("the config must be a mapping of keys to values", source=str(p))
    validate_config(loaded, source=str(p))
    return loaded
