"""Few-cluster Monte Carlo M1 (issue 11 part 9)."""

from __future__ import annotations

import pytest

from zonespill.did.fewclusters import FewClusterDesign, few_cluster_study
from zonespill.errors import InputError


def test_few_cluster_study_shape_and_flags() -> None:
    r = few_cluster_study([FewClusterDesign(12, 1), FewClusterDesign(12, 3)], reps=3, n_boot=64,
                          n_perm=20, seed=0)
    assert list(r["method"].unique()) == ["analytic", "wild", "ri"]
    one = r[r["n_treated"] == 1]
    assert not one["possible"].any() and one["note"].str.contains("inference not possible").all()
    assert r.loc[r["n_treated"] == 3, "possible"].all()
    assert ((r["coverage"] + r["rejection"]) == 1).all()
    with pytest.raises(InputError):
        few_cluster_study([FewClusterDesign(5, 5)], reps=1, seed=0)


@pytest.mark.slow
def test_few_cluster_coverage() -> None:
    """G = 31 with 1, 3, 10 treated clusters and G = 12 with 3: where >= 3 clusters are treated,
    wild or RI coverage lies in [0.90, 0.99]; analytic CRV1-normal under-covers with 3 of 31;
    a single treated cluster is flagged."""
    r = few_cluster_study(reps=150, n_boot=399, n_perm=199, seed=11)
    cov = r.set_index(["G", "n_treated", "method"])["coverage"]
    for G, k in ((31, 3), (31, 10), (12, 3)):
        assert any(0.90 <= cov[(G, k, m)] <= 0.99 for m in ("wild", "ri")), (G, k, cov.loc[(G, k)])
    assert cov[(31, 3, "analytic")] < 0.90
    assert not r.loc[r["n_treated"] == 1, "possible"].any()
