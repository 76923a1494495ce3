"""zonespill: reproducible econometrics of cross-regional collaboration and spillovers.

Subpackages
-----------
contract, ingest      validated canonical tables (regions, panel, zones, collaborations, flows)
weights, geography    spatial weights with explicit unit ids
indicators            spillover-direction indicators (pair-year, region-year)
did                   difference-in-differences family
spatial               spatial panel and cross-section ML models
convergence           sigma, beta, spatial beta, Phillips-Sul clubs
tables, provenance    publication tables stamped with their provenance
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
