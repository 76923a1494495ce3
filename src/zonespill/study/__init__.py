"""The study layer: declared tables (``study`` config section) → estimates → tables, run summary.

The library (ingest, contract, geography, weights, indicators, estimators, renderers) knows
nothing of any paper; this package turns the declared specifications into calls of it.
"""

from zonespill.study.spec import Labels, Study, load_study, step_payload

__all__ = ["Labels", "Study", "load_study", "step_payload"]
