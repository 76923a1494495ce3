"""CLI steps of the DiD family (imported by :mod:`zonespill.cli`); one per Snakemake rule."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from zonespill.cli import _args, _fmt, step


def _with(
    *names: str, seed: bool = False, figure_dir: bool = False
) -> Callable[[argparse.ArgumentParser], None]:
    """``_args(*names, formats=True)`` plus ``--master-seed`` / ``--figure-dir`` when asked."""
    base = _args(*names, formats=True)

    def configure(p: argparse.ArgumentParser) -> None:
        base(p)
        if seed:
            p.add_argument("--master-seed", dest="master_seed", type=int, default=0)
        if figure_dir:
            from pathlib import Path

            p.add_argument("--figure-dir", dest="figure_dir", type=Path, required=True)

    return configure


@step("did-region", _with("region_year", "provenance", "outdir", seed=True, figure_dir=True))
def _did_region(ns: argparse.Namespace) -> object:
    """D1 + D2 + FD1: staggered DiD by tie type (CS, BJS, Sun-Abraham, TWFE) and CS event studies."""
    from zonespill.did.pipeline import region_step

    return region_step(
        ns.options,
        region_year=ns.region_year,
        provenance=ns.provenance,
        outdir=ns.outdir,
        figure_dir=ns.figure_dir,
        formats=_fmt(ns),
        master_seed=ns.master_seed,
    )


@step("did-pairs", _with("region_year", "pair_year", "regions", "provenance", "outdir"))
def _did_pairs(ns: argparse.Namespace) -> object:
    """D3: pair-level (dyadic) convergence DiD by direction."""
    from zonespill.did.pipeline import pairs_step

    return pairs_step(
        ns.options,
        region_year=ns.region_year,
        pair_year=ns.pair_year,
        regions=ns.regions,
        provenance=ns.provenance,
        outdir=ns.outdir,
        formats=_fmt(ns),
    )


@step("did-spillover", _with("region_year", "weights", "weights_meta", "provenance", "outdir", seed=True))
def _did_spillover(ns: argparse.Namespace) -> object:
    """D4: direct and spillover ATTs by neighbour exposure."""
    from zonespill.did.pipeline import spillover_step

    return spillover_step(
        ns.options,
        region_year=ns.region_year,
        weights=ns.weights,
        weights_meta=ns.weights_meta,
        provenance=ns.provenance,
        outdir=ns.outdir,
        formats=_fmt(ns),
        master_seed=ns.master_seed,
    )


@step("did-bacon", _with("region_year", "provenance", "outdir"))
def _did_bacon(ns: argparse.Namespace) -> object:
    """D5: Goodman-Bacon decomposition of the any-tie TWFE."""
    from zonespill.did.pipeline import bacon_step

    return bacon_step(
        ns.options, region_year=ns.region_year, provenance=ns.provenance, outdir=ns.outdir, formats=_fmt(ns)
    )
