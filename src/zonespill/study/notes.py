"""Table notes computed from the numbers (never from a hard-coded sample size)."""

from __future__ import annotations

from collections.abc import Mapping

#: Below this many clusters, cluster-robust standard errors are known to over-reject
#: (Cameron, Gelbach and Miller 2008; MacKinnon and Webb 2017): the notes say so.
FEW_CLUSTERS = 50
#: A treated group with fewer units than this makes its ATT rest on a handful of units.
FEW_TREATED = 5


def small_sample_note(n_clusters: int, cluster_plural: str) -> str:
    """A warning when the number of clusters is small ('' otherwise)."""
    if n_clusters >= FEW_CLUSTERS:
        return ""
    return (
        f"Few clusters: {n_clusters} {cluster_plural} (fewer than {FEW_CLUSTERS}); cluster-robust standard "
        "errors and p-values can be too small — interpret them with care."
    )


def few_treated_note(treated: Mapping[str, int], unit_plural: str) -> str:
    """A warning naming the rows whose treated group is small ('' when none is)."""
    small = {k: v for k, v in treated.items() if 0 < v < FEW_TREATED}
    if not small:
        return ""
    listed = "; ".join(f"{k}: {v}" for k, v in small.items())
    return (
        f"Few treated {unit_plural} (fewer than {FEW_TREATED}) in: {listed}; these ATTs rest on very few "
        "units."
    )
