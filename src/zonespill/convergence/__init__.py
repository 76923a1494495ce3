"""Convergence analysis: sigma, beta (cross-section and panel), Phillips–Sul clubs.

Public API
----------
- :func:`sigma` — dispersion by period (SD of logs, CV, Theil, Gini).
- :func:`beta` — cross-sectional beta convergence (OLS, or SEM/SAR via ``zonespill.spatial``).
- :func:`panel_beta` — panel beta convergence with fixed effects (or spatial panel models),
  optionally with the half-panel jackknife bias correction.
- :func:`convergence_speed`, :func:`speed_from_impacts` — speed and half-life with SEs and
  intervals (unbounded half-life flagged); :func:`check_reference_group` — refuse an
  interaction design with a too-small reference group.
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
from zonespill.convergence.speed import (
    SpeedResult,
    check_reference_group,
    convergence_speed,
    speed_from_impacts,
)

__all__ = [
    "BetaResult",
    "ClubResult",
    "JackknifeResult",
    "LogTResult",
    "SpeedResult",
    "TransitionPaths",
    "beta",
    "check_reference_group",
    "club_convergence",
    "convergence_speed",
    "hp_filter",
    "log_t_test",
    "panel_beta",
    "sigma",
    "speed_from_impacts",
    "split_panel_jackknife",
    "transition_paths",
]
