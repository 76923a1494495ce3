"""CLI steps of the spatial family (imported by :mod:`zonespill.cli`); one per Snakemake rule."""

from __future__ import annotations

import argparse

from zonespill.cli import _args, _fmt, step

_INPUTS = ("region_year", "weights", "weights_meta", "provenance", "outdir")


@step("spatial-sdm", _args(*_INPUTS, formats=True))
def _spatial_sdm(ns: argparse.Namespace) -> object:
    """S1 + S3: spatial Durbin growth panel (without / with Lee–Yu, SAR) and its impacts."""
    from zonespill.spatial.pipeline import sdm_step

    return sdm_step(
        ns.options,
        region_year=ns.region_year,
        weights=ns.weights,
        weights_meta=ns.weights_meta,
        provenance=ns.provenance,
        outdir=ns.outdir,
        formats=_fmt(ns),
    )


@step("spatial-lm", _args(*_INPUTS, formats=True))
def _spatial_lm(ns: argparse.Namespace) -> object:
    """S2: LM and robust LM tests for spatial lag and error dependence."""
    from zonespill.spatial.pipeline import lm_step

    return lm_step(
        ns.options,
        region_year=ns.region_year,
        weights=ns.weights,
        weights_meta=ns.weights_meta,
        provenance=ns.provenance,
        outdir=ns.outdir,
        formats=_fmt(ns),
    )


@step("spatial-compare", _args(*_INPUTS, formats=True))
def _spatial_compare(ns: argparse.Namespace) -> object:
    """S4: SAR, SEM, SDM, SDEM and SLX compared by log-likelihood and AIC."""
    from zonespill.spatial.pipeline import comparison_step

    return comparison_step(
        ns.options,
        region_year=ns.region_year,
        weights=ns.weights,
        weights_meta=ns.weights_meta,
        provenance=ns.provenance,
        outdir=ns.outdir,
        formats=_fmt(ns),
    )
