"""Spatial panel and cross-section models estimated by maximum likelihood.

Public API
----------
fit_panel          fixed-effects spatial panel (SAR, SEM, SDM, SDEM, SLX, SARAR/SAC), splm-compatible;
                   dynamic=True: Yu-de Jong-Lee dynamic SAR/SDM with bias correction;
                   se_type="ml" | "qml" | "cluster"
fit_cross_section  cross-sectional ML SAR / SEM with intercept
lm_tests           LM lag / error and robust variants on the fixed-effects panel
SpatialResult      result object (params, bse, vcov, se_type, sigma2, loglik, impacts(), impact(),
                   impacts_table(), summary(), to_frame())
ImpactEstimate     one impact with se, interval and simulation draws (SpatialResult.impact)

Method and conventions: ``docs/methods/spatial.md`` and ``docs/decisions/spatial.md``.
"""

from __future__ import annotations

from zonespill.spatial._api import MODELS, fit_cross_section, fit_panel
from zonespill.spatial._impacts import ImpactEstimate
from zonespill.spatial._result import SpatialResult
from zonespill.spatial.lmtests import lm_tests

__all__ = ["MODELS", "ImpactEstimate", "SpatialResult", "fit_cross_section", "fit_panel", "lm_tests"]
