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


def forward(
    name: str,
    target: str,
    *paths: str,
    options: bool = True,
    formats: bool = False,
    ints: Sequence[str] = (),
    doc: str = "",
    optional: Sequence[str] = (),
    jsons: Sequence[str] = (),
) -> None:
    """Register the step ``name`` that calls ``target`` (``"module:function"``).

    The step takes ``--options JSON`` (passed positionally, if ``options``), one required
    ``--<path>`` per entry of ``paths`` and ``--<int>`` per entry of ``ints`` (passed as
    keywords of the same names) and, with ``formats``, ``--formats`` (passed as a tuple).
    ``optional`` paths and ``jsons`` (JSON objects) are keywords that default to ``None``.
    The target module is imported only when the step runs.
    """
    base = _args(*paths, options=options, formats=formats)

    def configure(p: argparse.ArgumentParser) -> None:
        base(p)
        for n in ints:
            p.add_argument(f"--{n.replace('_', '-')}", dest=n, type=int, default=0)
        for n in optional:
            p.add_argument(f"--{n.replace('_', '-')}", dest=n, type=Path, default=None)
        for n in jsons:
            p.add_argument(f"--{n.replace('_', '-')}", dest=n, type=_json, default=None)

    def run(ns: argparse.Namespace) -> object:
        import importlib

        module, func = target.split(":")
        fn = getattr(importlib.import_module(module), func)
        kwargs: dict[str, Any] = {n: getattr(ns, n) for n in (*paths, *ints, *optional, *jsons)}
        if formats:
            kwargs["formats"] = _fmt(ns)
        return fn(ns.options, **kwargs) if options else fn(**kwargs)

    run.__doc__ = doc or target
    _STEPS[name] = (run, configure)


forward("ingest-regions", "zonespill.steps:ingest_regions_step", "out", doc="Validate the regions table.")


def _panel_args(p: argparse.ArgumentParser) -> None:
    _args("regions", "out")(p)
    p.add_argument("--analysis", type=_json, default={})
    p.add_argument("--drops", type=Path, default=None)
    p.add_argument("--deflator", type=_json, default=None, help="JSON of inputs.deflator")
    p.add_argument("--plausibility", type=_json, default=None, help="JSON of the plausibility section")
    p.add_argument("--warnings", type=Path, default=None, help="JSON record of plausibility warnings")


@step("ingest-panel", _panel_args)
def _ingest_panel(ns: argparse.Namespace) -> object:
    """Validate the panel (unknown codes, balance, deflator, plausibility)."""
    from zonespill.steps import ingest_panel_step

    return ingest_panel_step(
        ns.options,
        regions=ns.regions,
        out=ns.out,
        analysis=ns.analysis,
        drops=ns.drops,
        deflator=ns.deflator,
        plausibility=ns.plausibility,
        warnings=ns.warnings,
    )


forward("ingest-zones", "zonespill.steps:ingest_zones_step", "regions", "out", doc="Validate the zones.")
forward(
    "ingest-collaborations",
    "zonespill.steps:ingest_collaborations_step",
    "regions",
    "out",
    "drops",
    optional=("warnings",),
    doc="Validate the collaborations.",
)
forward("ingest-flows", "zonespill.steps:ingest_flows_step", "regions", "out", doc="Validate the flows.")


def _weights_args(p: argparse.ArgumentParser) -> None:
    _args("regions", "panel", "out", "meta")(p)
    p.add_argument("--analysis", type=_json, default={})


@step("weights", _weights_args)
def _weights(ns: argparse.Namespace) -> object:
    from zonespill.steps import weights_step

    return weights_step(ns.options, ns.analysis, regions=ns.regions, panel=ns.panel, out=ns.out, meta=ns.meta)


#: required path arguments of ``indicators``, then its optional ones (all passed on by name)
_INDICATORS_REQUIRED = (
    "regions",
    "panel",
    "zones",
    "collaborations",
    "weights",
    "weights_meta",
    "region_year_out",
    "pair_year_out",
    "summary_out",
)
_INDICATORS_OPTIONAL = ("ties_record_out", "flows", "flow_pair_year_out")


def _indicators_args(p: argparse.ArgumentParser) -> None:
    _args(*_INDICATORS_REQUIRED)(p)
    for n in _INDICATORS_OPTIONAL:
        p.add_argument(f"--{n.replace('_', '-')}", dest=n, type=Path, default=None)


@step("indicators", _indicators_args)
def _indicators(ns: argparse.Namespace) -> object:
    """Region-year and pair-year spillover-direction indicators (optional flows)."""
    from zonespill.steps import indicators_step

    names = (*_INDICATORS_REQUIRED, *_INDICATORS_OPTIONAL)
    indicators_step(ns.options, **{n: getattr(ns, n) for n in names})
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


_TABLE_PATHS = ("region_year", "provenance", "outdir")
forward(
    "table-descriptives",
    "zonespill.steps:table_descriptives_step",
    *_TABLE_PATHS,
    options=False,
    formats=True,
    doc="T1: descriptive statistics.",
)
forward(
    "table-sigma",
    "zonespill.steps:table_sigma_step",
    *_TABLE_PATHS,
    "figure_stem",
    options=False,
    formats=True,
    doc="T2 + F1: sigma convergence.",
)
forward(
    "table-twfe",
    "zonespill.steps:table_twfe_step",
    *_TABLE_PATHS,
    options=False,
    formats=True,
    doc="T3: two-way FE growth regressions.",
)
forward(
    "figure-map",
    "zonespill.maps:tie_map_step",
    "regions",
    "region_year",
    "pair_year",
    "path_stem",
    options=False,
    doc="F2: map of growth and ties by direction.",
)


def _findings_args(p: argparse.ArgumentParser) -> None:
    _args("table_dir", "out", options=False)(p)
    p.add_argument("--summary", type=Path, default=None, help="run_summary.json (declared order, skips)")


@step("findings", _findings_args)
def _findings(ns: argparse.Namespace) -> object:
    """Generated findings from every declared table."""
    from zonespill.findings import findings_step

    return findings_step(table_dir=ns.table_dir, out=ns.out, summary=ns.summary)


forward(
    "readme-findings",
    "zonespill.findings:splice_readme",
    "readme",
    "findings",
    options=False,
    doc="Splice the findings into README.md.",
)


_STUDY_PATHS = (
    "region_year",
    "provenance",
    "weights",
    "weights_meta",
    "pair_year",
    "flow_pair_year",
    "regions",
    "collaborations",
    "panel",
)


def _study_table_args(p: argparse.ArgumentParser) -> None:
    _args("outdir", "figure_dir", "status_out", formats=True)(p)
    for n in (*_STUDY_PATHS, "summary_out"):
        p.add_argument(f"--{n.replace('_', '-')}", dest=n, type=Path, default=None)
    p.add_argument("--chunks", nargs="*", type=Path, default=[], help="Monte Carlo chunk files (design m1)")
    p.add_argument("--inputs", nargs="*", type=Path, default=[], help="input files named by --input-names")
    p.add_argument("--input-names", dest="input_names", default="", help="comma-separated names of --inputs")


@step("study-table", _study_table_args)
def _study_table(ns: argparse.Namespace) -> object:
    """One declared table (any family): build it, write its status record."""
    from zonespill.errors import InputError
    from zonespill.study.run import table_step

    names = [n for n in str(ns.input_names).split(",") if n]
    if len(names) != len(ns.inputs) or not set(names) <= set(_STUDY_PATHS):
        raise InputError(
            f"--input-names {names} do not match --inputs {list(map(str, ns.inputs))}", source="study-table"
        )
    for n, path in zip(names, ns.inputs, strict=True):
        setattr(ns, n, path)
    return table_step(
        ns.options,
        outdir=ns.outdir,
        figure_dir=ns.figure_dir,
        status_out=ns.status_out,
        formats=_fmt(ns),
        chunks=tuple(ns.chunks),
        summary_out=ns.summary_out,
        **{n: getattr(ns, n) for n in _STUDY_PATHS},
    )


def _summary_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--options", type=_json, default={})
    p.add_argument("--statuses", nargs="*", type=Path, default=[])
    p.add_argument("--out", type=Path, required=True)


@step("run-summary", _summary_args)
def _run_summary(ns: argparse.Namespace) -> object:
    """Gather the tables' status records into run_summary.json; print it; strict mode fails on a skip."""
    from zonespill.study.status import run_summary_step

    return run_summary_step(ns.options, statuses=ns.statuses, out=ns.out)


# Estimator families register their own steps (one module each, importing ``step`` from here).
FAMILY_CLI_MODULES = (
    "zonespill.did.cli",
    "zonespill.spatial.cli",
    "zonespill.convergence.cli",
    "zonespill.simulation.cli",
    "zonespill.report_cli",
    "zonespill.paper_cli",
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
        # A rejected input or an estimator that cannot run: one clear line, no traceback.
        log.error("%s", " ".join(str(exc).split("\n")))
        return 2
    except Exception as exc:  # the last line of defence: never a raw traceback
        _report_unexpected(ns.step, exc, log_path)
        return 3
    return 0


def _report_unexpected(step_name: str, exc: BaseException, log_path: Path | None) -> None:
    """One line naming the step and where the traceback is; the traceback goes to the step log."""
    import traceback

    detail = " ".join(str(exc).split())[:300] or "(no message)"
    what = (
        "ran out of memory"
        if isinstance(exc, MemoryError)
        else f"failed unexpectedly ({type(exc).__name__}: {detail})"
    )
    where = f"the full traceback is in {log_path}" if log_path is not None else "traceback follows"
    log.error("step '%s' %s; this is a zonespill bug or an unsupported input — %s", step_name, what, where)
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if log_path is None:
        sys.stderr.write(trace)
        return
    for handler in logging.getLogger().handlers:
        handler.flush()
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write(trace)
