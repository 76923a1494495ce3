"""The one source of defaults: the JSON schema (``workflow/schemas/config.schema.yaml``).

Snakemake validates the config with ``set_default=True``; the same schema fills the defaults
here for code called from Python (tests, notebooks) and for table declarations read from a
file (``study.tables: bundled`` or a path), so no module keeps its own ``DEFAULTS`` literal.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema

from zonespill.errors import ConfigError


@functools.cache
def _schema() -> dict[str, Any]:
    from zonespill.config import schema

    return schema()


def _set_defaults(validator_class: Any) -> Any:
    validate_properties = validator_class.VALIDATORS["properties"]

    def fill(validator: Any, properties: Mapping[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, Mapping) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill})


_Filling = _set_defaults(jsonschema.Draft202012Validator)


def _key(prefix: str, err: jsonschema.ValidationError) -> str:
    parts = [prefix] if prefix else []
    parts += [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        parts += extra[:1]
    return ".".join(parts) or "(top level)"


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown key(s) {extra}"
    if err.validator == "oneOf" and err.context:
        best = jsonschema.exceptions.best_match(err.context)
        return " ".join(best.message.split())
    return " ".join(err.message.split())


def fill_defaults(
    instance: Any, definition: str | None = None, *, key: str = "", source: str = "config"
) -> Any:
    """Validate ``instance`` against the schema (or its ``definitions/<definition>``) in place,
    inserting every default; a violation raises :class:`ConfigError` naming the dotted key."""
    root = _schema()
    schema = root if definition is None else {"definitions": root["definitions"], **_sub(root, definition)}
    validator = _Filling(schema)
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.path)))
    )
    if errors:
        err = errors[0]
        raise ConfigError(_message(err), source=source, column=_key(key, err))
    return instance


def _sub(root: Mapping[str, Any], path: str) -> dict[str, Any]:
    node: Any = root
    for part in path.split("/"):
        node = node[part]
    return dict(node)


def section_defaults(section: str) -> dict[str, Any]:
    """Every default of a top-level config section (e.g. ``"did"``), read from the schema."""
    return dict(fill_defaults({}, f"properties/{section}", key=section))


def with_defaults(section: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config section validated and completed with the schema's defaults."""
    return dict(fill_defaults(copy.deepcopy(dict(options or {})), f"properties/{section}", key=section))
