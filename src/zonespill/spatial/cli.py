"""CLI steps of the spatial family (imported by :mod:`zonespill.cli`); one per Snakemake rule."""

from __future__ import annotations

from zonespill.cli import forward

_MODULE = "zonespill.spatial.pipeline"
_INPUTS = ("region_year", "weights", "weights_meta", "provenance", "outdir")

forward(
    "spatial-sdm",
    f"{_MODULE}:sdm_step",
    *_INPUTS,
    formats=True,
    doc="S1 + S3: spatial Durbin growth panel (without / with Lee-Yu, SAR) and its impacts.",
)
forward(
    "spatial-lm",
    f"{_MODULE}:lm_step",
    *_INPUTS,
    formats=True,
    doc="S2: LM and robust LM tests for spatial lag and error dependence.",
)
forward(
    "spatial-compare",
    f"{_MODULE}:comparison_step",
    *_INPUTS,
    formats=True,
    doc="S4: model comparison (FE, SAR, SEM, SDM, SDEM, SLX).",
)
