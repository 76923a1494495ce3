"""Simulation and Monte Carlo (SIMULATED DATA), apart from the library and the study.

* :mod:`zonespill.simulation.dgp` — the seeded prefecture data-generating process on the real
  geography (formerly ``zonespill.simulate``);
* :mod:`zonespill.simulation.montecarlo` — replications, summaries and table M1 (formerly
  ``zonespill.montecarlo``); M1 is an optional declared table (family ``montecarlo``);
* :mod:`zonespill.simulation.cli` — the ``mc-chunk`` step.

``zonespill.simulate`` and ``zonespill.montecarlo`` remain importable as aliases of these modules.
"""
