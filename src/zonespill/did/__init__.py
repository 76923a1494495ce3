"""Difference-in-differences estimators for staggered adoption designs."""

from __future__ import annotations

from zonespill.did.callaway import CallawaySantAnnaResult, CSAggregate, WaldTest, callaway_santanna

__all__ = ["CSAggregate", "CallawaySantAnnaResult", "WaldTest", "callaway_santanna"]
