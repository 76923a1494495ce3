"""Convergence analysis: sigma, beta (cross-section and panel), Phillips–Sul clubs.

Public API
----------
- :func:`sigma` — dispersion by period (SD of logs, CV, Theil, Gini).
- :func:`beta` — cross-sectional beta convergence (OLS, or SEM/SAR via ``zonespill.spatial``).
- :func:`panel_beta` — panel beta convergence with fixed effects (or spatial panel models),
  optionally with the half-panel jackknife bias correction.
- :func:`split_panel_jackknife` — Dhaene–Jochmans half-panel jackknife of any panel estimator.
- :func:`club_convergence` — Phillips–Sul log-t test, clubs and merging (matches
  ConvergenceClubs 2.2.5).
- :func:`log_t_test`, :func:`hp_filter`, :func:`transition_paths` — building blocks.

Methods: ``docs/methods/convergence.md``; conventions: ``docs/decisions/convergence.md``.
"""

from zonespill.convergence.beta import BetaResult, beta, panel_beta
from zonespill.convergence.clubs import (
    ClubResult,
    LogTResult,
    TransitionPaths,
    club_convergence,
    log_t_test,
    transition_paths,
)
from zonespill.convergence.hp import hp_filter
from zonespill.convergence.jackknife import JackknifeResult, split_panel_jackknife
from zonespill.convergence.sigma import sigma

__all__ = [
    "BetaResult",
    "ClubResult",
    "JackknifeResult",
    "LogTResult",
    "TransitionPaths",
    "beta",
    "club_convergence",
    "hp_filter",
    "log_t_test",
    "panel_beta",
    "sigma",
    "split_panel_jackknife",
    "transition_paths",
]
