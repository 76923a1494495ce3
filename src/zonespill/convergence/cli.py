"""CLI steps of the convergence family (imported by :mod:`zonespill.cli`); one per Snakemake rule."""

from __future__ import annotations

from zonespill.cli import forward

_MODULE = "zonespill.convergence.pipeline"
_W = ("weights", "weights_meta")

forward(
    "convergence-sigma",
    f"{_MODULE}:sigma_step",
    "region_year",
    "provenance",
    "outdir",
    "figure_stem",
    formats=True,
    doc="C1 + FC1: sigma convergence by collaboration group.",
)
forward(
    "convergence-beta",
    f"{_MODULE}:beta_step",
    "region_year",
    *_W,
    "provenance",
    "outdir",
    "figure_stem",
    formats=True,
    doc="C2 + FC2: cross-sectional beta convergence with tie interactions (OLS, SEM, SAR).",
)
forward(
    "convergence-panel",
    f"{_MODULE}:panel_step",
    "region_year",
    *_W,
    "provenance",
    "outdir",
    formats=True,
    doc="C3: panel beta convergence, two-way FE with tie interactions, and SDM.",
)
forward(
    "convergence-clubs",
    f"{_MODULE}:clubs_step",
    "region_year",
    "regions",
    "collaborations",
    "provenance",
    "outdir",
    "figure_stem",
    formats=True,
    doc="C4, C5 + FC3: Phillips-Sul clubs, clubs by tie direction, transition paths.",
)
