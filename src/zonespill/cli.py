"""Command line: ``python -m zonespill <step> [options]``; one step per Snakemake rule.

Options that come from the configuration are passed as one JSON string
(``--options '{...}'``) so that the rule stays thin and the step function typed.
Exit status 2 means an input was rejected; the message names file, row(s) and column.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zonespill.errors import ZonespillError

log = logging.getLogger("zonespill")

StepFn = Callable[[argparse.Namespace], object]
_STEPS: dict[str, tuple[StepFn, Callable[[argparse.ArgumentParser], None]]] = {}


def step(name: str, configure: Callable[[argparse.ArgumentParser], None]) -> Callable[[StepFn], StepFn]:
    def register(fn: StepFn) -> StepFn:
        _STEPS[name] = (fn, configure)
        return fn

    return register


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc


def _args(
    *names: str, options: bool = True, formats: bool = False
) -> Callable[[argparse.ArgumentParser], None]:
    def configure(p: argparse.ArgumentParser) -> None:
        if options:
            p.add_argument(
                "--options", type=_json, default={}, help="JSON object with the step's config section"
            )
        for n in names:
            p.add_argument(f"--{n.replace('_', '-')}", dest=n, type=Path, required=True)
        if formats:
            p.add_argument("--formats", default="tex,md,csv,html")

    return configure


def _fmt(ns: argparse.Namespace) -> tuple[str, ...]:
    return tuple(f for f in str(ns.formats).split(",") if f)


@step("ingest-regions", _args("out"))
def _ingest_regions(ns: argparse.Namespace) -> object:
    from zonespill.steps import ingest_regions_step

    return ingest_regions_step(ns.options, out=ns.out)


@step("ingest-panel", _args("regions", "out"))
def _ingest_panel(ns: argparse.Namespace) -> object:
    from zonespill.steps import ingest_panel_step

    return ingest_panel_step(ns.options, regions=ns.regions, out=ns.out)


@step("ingest-zones", _args("regions", "out"))
def _ingest_zones(ns: argparse.Namespace) -> object:
    from zonespill.steps import ingest_zones_step

    return ingest_zones_step(ns.options, regions=ns.regions, out=ns.out)


@step("ingest-collaborations", _args("regions", "out", "drops"))
def _ingest_collaborations(ns: argparse.Namespace) -> object:
    from zonespill.steps import ingest_collaborations_step

    return ingest_collaborations_step(ns.options, regions=ns.regions, out=ns.out, drops=ns.drops)


@step("ingest-flows", _args("regions", "out"))
def _ingest_flows(ns: argparse.Namespace) -> object:
    from zonespill.steps import ingest_flows_step

    return ingest_flows_step(ns.options, regions=ns.regions, out=ns.out)


def _weights_args(p: argparse.ArgumentParser) -> None:
    _args("regions", "panel", "out", "meta")(p)
    p.add_argument("--analysis", type=_json, default={})


@step("weights", _weights_args)
def _weights(ns: argparse.Namespace) -> object:
    from zonespill.steps import weights_step

    return weights_step(ns.options, ns.analysis, regions=ns.regions, panel=ns.panel, out=ns.out, meta=ns.meta)


@step(
    "indicators",
    _args(
        "regions",
        "panel",
        "zones",
        "collaborations",
        "weights",
        "weights_meta",
        "region_year_out",
        "pair_year_out",
        "summary_out",
    ),
)
def _indicators(ns: argparse.Namespace) -> object:
    from zonespill.steps import indicators_step

    indicators_step(
        ns.options,
        regions=ns.regions,
        panel=ns.panel,
        zones=ns.zones,
        collaborations=ns.collaborations,
        weights=ns.weights,
        weights_meta=ns.weights_meta,
        region_year_out=ns.region_year_out,
        pair_year_out=ns.pair_year_out,
        summary_out=ns.summary_out,
    )
    return None


def _prov_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config-json", type=_json, required=True)
    p.add_argument("--inputs", nargs="+", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--repo-dir", type=Path, default=Path("."))


@step("provenance", _prov_args)
def _provenance(ns: argparse.Namespace) -> object:
    from zonespill.steps import provenance_step

    return provenance_step(
        ns.config_json, inputs={str(p): p for p in ns.inputs}, out=ns.out, repo_dir=ns.repo_dir
    )


@step("table-descriptives", _args("region_year", "provenance", "outdir", options=False, formats=True))
def _t1(ns: argparse.Namespace) -> object:
    from zonespill.steps import table_descriptives_step

    return table_descriptives_step(
        region_year=ns.region_year, provenance=ns.provenance, outdir=ns.outdir, formats=_fmt(ns)
    )


@step("table-sigma", _args("region_year", "provenance", "outdir", "figure_stem", options=False, formats=True))
def _t2(ns: argparse.Namespace) -> object:
    from zonespill.steps import table_sigma_step

    return table_sigma_step(
        region_year=ns.region_year,
        provenance=ns.provenance,
        outdir=ns.outdir,
        figure_stem=ns.figure_stem,
        formats=_fmt(ns),
    )


@step("table-twfe", _args("region_year", "provenance", "outdir", options=False, formats=True))
def _t3(ns: argparse.Namespace) -> object:
    from zonespill.steps import table_twfe_step

    return table_twfe_step(
        region_year=ns.region_year, provenance=ns.provenance, outdir=ns.outdir, formats=_fmt(ns)
    )


@step("figure-map", _args("regions", "region_year", "pair_year", "path_stem", options=False))
def _figure_map(ns: argparse.Namespace) -> object:
    from zonespill.maps import tie_map_step

    return tie_map_step(
        regions=ns.regions, region_year=ns.region_year, pair_year=ns.pair_year, path_stem=ns.path_stem
    )


@step("findings", _args("table_dir", "out", options=False))
def _findings(ns: argparse.Namespace) -> object:
    from zonespill.findings import findings_step

    return findings_step(table_dir=ns.table_dir, out=ns.out)


@step("readme-findings", _args("readme", "findings", options=False))
def _readme_findings(ns: argparse.Namespace) -> object:
    from zonespill.findings import splice_readme

    return splice_readme(ns.readme, ns.findings)


# Estimator families register their own steps (one module each, importing ``step`` from here).
FAMILY_CLI_MODULES = (
    "zonespill.did.cli",
    "zonespill.spatial.cli",
    "zonespill.convergence.cli",
    "zonespill.simulate_cli",
    "zonespill.report_cli",
)


def _load_family_steps() -> None:
    import importlib
    import importlib.util

    for mod in FAMILY_CLI_MODULES:
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)


def build_parser() -> argparse.ArgumentParser:
    _load_family_steps()
    parser = argparse.ArgumentParser(prog="zonespill", description=__doc__)
    parser.add_argument("--log", type=Path, default=None, help="also write the step's log to this file")
    sub = parser.add_subparsers(dest="step", required=True)
    for name, (fn, configure) in _STEPS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or name).strip().splitlines()[0] if fn.__doc__ else name)
        p.add_argument("--log", type=Path, default=None, dest="step_log")
        configure(p)
        p.set_defaults(_fn=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    log_path = getattr(ns, "step_log", None) or ns.log
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )
    try:
        ns._fn(ns)
    except ZonespillError as exc:
        log.error("%s", exc)
        return 2
    return 0
