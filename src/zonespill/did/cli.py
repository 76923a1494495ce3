"""CLI steps of the DiD family (imported by :mod:`zonespill.cli`); one per Snakemake rule."""

from __future__ import annotations

from zonespill.cli import forward

_MODULE = "zonespill.did.pipeline"

forward(
    "did-region",
    f"{_MODULE}:region_step",
    "region_year",
    "provenance",
    "outdir",
    "figure_dir",
    formats=True,
    ints=("master_seed",),
    doc="D1 + D2 + FD1: staggered DiD by tie type (CS, BJS, Sun-Abraham, TWFE) and CS event studies.",
)
forward(
    "did-pairs",
    f"{_MODULE}:pairs_step",
    "region_year",
    "pair_year",
    "regions",
    "provenance",
    "outdir",
    formats=True,
    doc="D3: pair-level (dyadic) convergence DiD by direction.",
)
forward(
    "did-spillover",
    f"{_MODULE}:spillover_step",
    "region_year",
    "weights",
    "weights_meta",
    "provenance",
    "outdir",
    formats=True,
    ints=("master_seed",),
    doc="D4: direct and spillover ATTs by neighbour exposure.",
)
forward(
    "did-bacon",
    f"{_MODULE}:bacon_step",
    "region_year",
    "provenance",
    "outdir",
    formats=True,
    doc="D5: Goodman-Bacon decomposition of the any-tie TWFE.",
)
