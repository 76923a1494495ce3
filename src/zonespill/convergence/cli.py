"""CLI steps of the convergence family (imported by :mod:`zonespill.cli`); one per Snakemake rule."""

from __future__ import annotations

import argparse

from zonespill.cli import _args, _fmt, step


@step("convergence-sigma", _args("region_year", "provenance", "outdir", "figure_stem", formats=True))
def _convergence_sigma(ns: argparse.Namespace) -> object:
    """C1 + FC1: sigma convergence by collaboration group."""
    from zonespill.convergence.pipeline import sigma_step

    return sigma_step(
        ns.options,
        region_year=ns.region_year,
        provenance=ns.provenance,
        outdir=ns.outdir,
        figure_stem=ns.figure_stem,
        formats=_fmt(ns),
    )


@step(
    "convergence-beta",
    _args("region_year", "weights", "weights_meta", "provenance", "outdir", "figure_stem", formats=True),
)
def _convergence_beta(ns: argparse.Namespace) -> object:
    """C2 + FC2: cross-sectional beta convergence with tie interactions (OLS, SEM, SAR)."""
    from zonespill.convergence.pipeline import beta_step

    return beta_step(
        ns.options,
        region_year=ns.region_year,
        weights=ns.weights,
        weights_meta=ns.weights_meta,
        provenance=ns.provenance,
        outdir=ns.outdir,
        figure_stem=ns.figure_stem,
        formats=_fmt(ns),
    )


@step(
    "convergence-panel", _args("region_year", "weights", "weights_meta", "provenance", "outdir", formats=True)
)
def _convergence_panel(ns: argparse.Namespace) -> object:
    """C3: panel beta convergence, two-way FE with tie interactions, and SDM."""
    from zonespill.convergence.pipeline import panel_step

    return panel_step(
        ns.options,
        region_year=ns.region_year,
        weights=ns.weights,
        weights_meta=ns.weights_meta,
        provenance=ns.provenance,
        outdir=ns.outdir,
        formats=_fmt(ns),
    )


@step(
    "convergence-clubs",
    _args("region_year", "regions", "collaborations", "provenance", "outdir", "figure_stem", formats=True),
)
def _convergence_clubs(ns: argparse.Namespace) -> object:
    """C4, C5 + FC3: Phillips-Sul clubs, clubs by tie direction, transition paths."""
    from zonespill.convergence.pipeline import clubs_step

    return clubs_step(
        ns.options,
        region_year=ns.region_year,
        regions=ns.regions,
        collaborations=ns.collaborations,
        provenance=ns.provenance,
        outdir=ns.outdir,
        figure_stem=ns.figure_stem,
        formats=_fmt(ns),
    )
