"""Difference-in-differences estimators for staggered adoption designs.

Callaway–Sant'Anna (:func:`callaway_santanna`), Sun–Abraham (:func:`sun_abraham`),
Borusyak–Jaravel–Spiess imputation (:func:`imputation`), two-way fixed effects (:func:`twfe`) and
the Goodman-Bacon decomposition (:func:`bacon_decomposition`); a simulated staggered panel with
known truth in :mod:`zonespill.did.simulate`.
"""

from __future__ import annotations

from zonespill.did._results import DiDResult
from zonespill.did.callaway import CallawaySantAnnaResult, CSAggregate, WaldTest, callaway_santanna
from zonespill.did.honest import honest_breakdown, honest_did
from zonespill.did.regression import bacon_decomposition, imputation, sun_abraham, twfe

__all__ = [
    "CSAggregate",
    "CallawaySantAnnaResult",
    "DiDResult",
    "WaldTest",
    "bacon_decomposition",
    "callaway_santanna",
    "honest_breakdown",
    "honest_did",
    "imputation",
    "sun_abraham",
    "twfe",
]
