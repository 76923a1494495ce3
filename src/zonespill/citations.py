"""The methods and data sources zonespill's tables rest on, as citable references.

One registry (:data:`REFERENCES`) of BibTeX entries with DOIs where they exist, and one mapping
(:data:`METHOD_REFERENCES`) from the method names used in declared tables (estimator ids,
inference methods, corrections) to reference keys. Tables put :func:`citation_note` in their
notes; the paper step writes :func:`bibtex` for exactly the keys the declared tables use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

import yaml

from zonespill.errors import ConfigError


@dataclass(frozen=True)
class Reference:
    """One BibTeX entry. ``cite`` is the short author–year form used in table notes."""

    key: str
    kind: str  # article | book | manual | misc
    cite: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def doi(self) -> str | None:
        return self.fields.get("doi")

    def to_bibtex(self) -> str:
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in self.fields.items())
        return f"@{self.kind}{{{self.key},\n{body}\n}}\n"


def _load_references() -> dict[str, Reference]:
    """The registry shipped as package data (``schemas/references.yaml``)."""
    raw = yaml.safe_load(resources.files("zonespill").joinpath("schemas/references.yaml").read_text("utf-8"))
    refs = {}
    for key, entry in raw.items():
        fields = {name: str(value) for name, value in entry.items() if name not in ("kind", "cite")}
        refs[str(key)] = Reference(str(key), str(entry["kind"]), str(entry["cite"]), fields)
    return refs


#: Every reference zonespill can cite, by key.
REFERENCES: dict[str, Reference] = _load_references()

#: Method (estimator id, inference method, correction, model) -> the references behind it.
METHOD_REFERENCES: dict[str, tuple[str, ...]] = {
    "cs": ("callaway2021", "santanna2020"),
    "sa": ("sun2021",),
    "bjs": ("borusyak2024",),
    "twfe": (),
    "bacon": ("goodmanbacon2021",),
    "honest_did": ("rambachan2023",),
    "wild": ("cameron2008", "roodman2019", "mackinnon2017"),
    "ri": ("mackinnon2020",),
    "sar": ("lee2010", "elhorst2014"),
    "sem": ("lee2010", "elhorst2014"),
    "sdm": ("lee2010", "elhorst2014", "lesage2009"),
    "sdem": ("elhorst2014",),
    "slx": ("elhorst2014",),
    "impacts": ("lesage2009",),
    "qml_sandwich": ("lee2004",),
    "lm_tests": ("anselin1996",),
    "dynamic_spatial": ("yu2008",),
    "sigma": ("barro1992",),
    "beta": ("barro1992",),
    "panel_beta": ("barro1992", "nickell1981"),
    "half_panel_jackknife": ("dhaene2015",),
    "clubs": ("phillips2007", "phillips2009", "sichera2019"),
    "hp_filter": ("hodrick1997",),
    "bundled_panel": ("nbs_provincial",),
    "bundled_geography": ("dong2022census",),
    "bundled_zones": ("ndrc2018zones",),
    "bundled_pairings": ("zonespill_pairings",),
}

_NEEDED = {
    "article": ("author", "title", "journal", "year"),
    "book": ("author", "title", "publisher", "year"),
}
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


def references_for(methods: Iterable[str]) -> list[str]:
    """Reference keys behind the given methods, in first-use order, without repeats."""
    keys: list[str] = []
    for method in methods:
        if method not in METHOD_REFERENCES:
            known = ", ".join(sorted(METHOD_REFERENCES))
            raise ConfigError(f"unknown method {method!r} for citations; known: {known}")
        keys += [k for k in METHOD_REFERENCES[method] if k not in keys]
    return keys


def citation_note(keys: Iterable[str]) -> str:
    """The note line that names the references of a table ('' when there are none)."""
    keys = list(dict.fromkeys(keys))
    unknown = [k for k in keys if k not in REFERENCES]
    if unknown:
        raise ConfigError(f"unknown reference key(s): {', '.join(unknown)}")
    return ("References: " + "; ".join(REFERENCES[k].cite for k in keys) + ".") if keys else ""


def bibtex(keys: Iterable[str]) -> str:
    """A .bib file holding exactly the given references (sorted by key, so output is deterministic)."""
    keys = sorted(set(keys))
    unknown = [k for k in keys if k not in REFERENCES]
    if unknown:
        raise ConfigError(f"unknown reference key(s): {', '.join(unknown)}")
    return "\n".join(REFERENCES[k].to_bibtex() for k in keys)


def check_registry() -> list[str]:
    """Problems in the registry (an empty list when every entry is well formed)."""
    problems = []
    for ref in REFERENCES.values():
        for name in _NEEDED.get(ref.kind, ("author", "title", "year")):
            if not ref.fields.get(name):
                problems.append(f"{ref.key}: missing {name}")
        if ref.doi is not None and not _DOI.match(ref.doi):
            problems.append(f"{ref.key}: malformed DOI {ref.doi!r}")
    for method, keys in METHOD_REFERENCES.items():
        problems += [f"method {method}: unknown key {k}" for k in keys if k not in REFERENCES]
    return problems
