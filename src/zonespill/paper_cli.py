"""CLI steps of the citable outputs: ``zonespill paper`` and ``zonespill replication-package``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from zonespill.cli import _json, step


def _items(options: dict[str, Any]) -> list[Any]:
    from zonespill.paper import PaperItem, items_from_study

    items = items_from_study(options.get("tables", []), bundled_data=bool(options.get("bundled_data")))
    extras = options.get("extra_figures", [])
    title = "Ties by direction and growth (map)"
    items += [PaperItem(str(f), title, "figure", rule="figure_map") for f in extras]
    return items


def _paper_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--options", type=_json, default={}, help="JSON: declared tables and data flags")
    p.add_argument("--results-dir", dest="results_dir", type=Path, required=True)
    p.add_argument("--out-dir", dest="out_dir", type=Path, required=True)


@step("paper", _paper_args)
def _paper(ns: argparse.Namespace) -> object:
    """Paper skeleton (main.tex/.md/.html, references.bib) from a finished run."""
    from zonespill.paper import write_paper

    return write_paper(_items(ns.options), results_dir=ns.results_dir, out_dir=ns.out_dir)


def _package_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--options", type=_json, default={}, help="JSON: declared tables and data flags")
    p.add_argument("--results-dir", dest="results_dir", type=Path, required=True)
    p.add_argument("--config-file", dest="config_file", type=Path, required=True)
    p.add_argument("--archive", type=Path, required=True, help="<folder>.tar.gz to write")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repo-dir", dest="repo_dir", type=Path, required=True, help="the code repository")


@step("replication-package", _package_args)
def _package(ns: argparse.Namespace) -> object:
    """Replication package folder + deterministic archive and its sha256."""
    from zonespill.paper import write_replication_package

    archive = Path(ns.archive)
    folder = archive.with_name(archive.name.removesuffix(".tar.gz"))
    memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    return write_replication_package(
        repo_dir=ns.repo_dir,
        results_dir=ns.results_dir,
        config_file=ns.config_file,
        items=_items(ns.options),
        out_dir=folder,
        cores=ns.cores,
        memory_gib=memory_gib,
        bundled_data=bool(ns.options.get("bundled_data")),
    )
