"""Alias of :mod:`zonespill.simulation.montecarlo` (the module moved into the simulation package)."""

import sys

from zonespill.simulation import montecarlo as _montecarlo

sys.modules[__name__] = _montecarlo
