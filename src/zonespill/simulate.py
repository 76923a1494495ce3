"""Alias of :mod:`zonespill.simulation.dgp` (the module moved into the simulation package)."""

import sys

from zonespill.simulation import dgp as _dgp

sys.modules[__name__] = _dgp
