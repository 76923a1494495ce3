"""The one vocabulary of ties and derived indicator columns (library-defined names and labels).

Data-specific labels (what the output measure is, its currency, the unit names) are not here:
they come from the config (``study.variables``, ``study.unit_label``, ``analysis.level``).
"""

from __future__ import annotations

#: Region-level tie types of the indicators (``first_<K>`` / ``active_<K>`` / ``n_<K>`` columns).
REGION_TIES: tuple[str, ...] = ("forward_giver", "forward_receiver", "reverse", "two_way", "any")
#: Pair-level directions; ``pooled`` = any direction.
PAIR_DIRECTIONS: tuple[str, ...] = ("forward", "reverse", "two_way", "pooled")

#: Display label of every tie type, role and direction.
TIE_LABELS: dict[str, str] = {
    "forward_giver": "forward giver",
    "forward_receiver": "forward receiver",
    "reverse_giver": "reverse giver",
    "reverse_receiver": "reverse receiver",
    "reverse": "reverse (either role)",
    "two_way": "two-way",
    "any": "any tie",
    "forward": "forward",
    "pooled": "pooled (any direction)",
}

#: Generic labels of the columns the indicators step derives (the output measure is called
#: "output" unless ``study.variables`` names it, e.g. ``gdp_pc: {label: GDP per capita, unit: yuan}``).
DERIVED_LABELS: dict[str, str] = {
    "gdp_pc": "output per capita",
    "log_gdp_pc": "log output per capita",
    "growth": "growth of log output per capita",
    "lag_log_gdp_pc": "log output p.c. (t−1)",
    "population": "population",
    "zones_total": "approved zones (cumulative)",
    "zones_national": "approved zones: national level",
    "zone_area_ha": "approved zone area (ha)",
    "partner_log_gap": "partner log income gap",
    "nb_share_active": "share of neighbours with a tie",
    "active_any": "any active tie",
    **{f"active_{k}": TIE_LABELS[k] for k in ("forward_giver", "forward_receiver", "reverse", "two_way")},
    **{f"n_{k}": f"active ties: {TIE_LABELS[k]}" for k in ("forward_giver", "forward_receiver", "two_way")},
    "n_reverse": "active ties: reverse (either role)",
}


def tie_label(key: str) -> str:
    """Label of a tie type / direction (the key itself when unknown, e.g. a user column)."""
    return TIE_LABELS.get(key, key)
