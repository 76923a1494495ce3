"""Few-cluster Monte Carlo (M1): coverage of analytic, wild-bootstrap and randomisation inference
for a DiD effect when only a few clusters are treated (issue 11 part 9).

Design: ``G`` equally sized clusters (one unit each, ``T`` periods), ``n_treated`` of them adopt at
a common date, true effect ``tau``; errors AR(1) within cluster, homoskedastic across clusters
(so cluster assignment is exchangeable and RI is exact).  The estimator is the TWFE coefficient,
unbiased here.  Each method's 95 % interval covers ``tau`` iff its test of ``H0: effect = tau``
does not reject, so coverage = 1 − rejection rate of the true value:

* analytic: CRV1 (fixest small-sample factor) t-statistic with normal critical values — what
  the estimators report by default;
* wild: WCR11 bootstrap-t p-value (``zonespill.did.inference.wcr_setup``; full enumeration when
  2^G ≤ n_boot);
* RI: permutation p-value of the sharp null "effect = tau everywhere" (cohort sizes kept).

With a single treated cluster no method is valid (the CRV1 variance rests on one cluster's
residuals, the wild bootstrap-t is degenerate, RI is exact only under exchangeability): those rows
are flagged "inference not possible" and carry no coverage verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.did.inference import FEProjector, permutations, ri_from_stats, wcr_setup
from zonespill.errors import InputError

DEFAULT_DESIGNS: tuple[tuple[int, int], ...] = ((31, 1), (31, 3), (31, 10), (12, 3))


@dataclass(frozen=True)
class FewClusterDesign:
    """One design: ``n_clusters`` clusters of which ``n_treated`` adopt at period ``T // 2 + 1``."""

    n_clusters: int
    n_treated: int
    n_periods: int = 8
    tau: float = 0.0
    rho: float = 0.5


def _simulate(rng: np.random.Generator, d: FewClusterDesign) -> tuple[np.ndarray, np.ndarray]:
    G, T = d.n_clusters, d.n_periods
    treated = np.zeros(G, dtype=bool)
    treated[rng.choice(G, d.n_treated, replace=False)] = True
    e = rng.normal(size=(G, T))
    for s in range(1, T):
        e[:, s] = d.rho * e[:, s - 1] + np.sqrt(1 - d.rho**2) * e[:, s]
    D = treated[:, None] & (np.arange(T)[None, :] >= T // 2)
    y = rng.normal(size=G)[:, None] + np.cumsum(rng.normal(0, 0.3, T))[None, :] + d.tau * D + e
    return y.ravel(), D.ravel().astype(float)


def few_cluster_study(
    designs: Sequence[FewClusterDesign] | None = None,
    *,
    reps: int = 1000,
    n_boot: int = 999,
    n_perm: int = 199,
    alpha: float = 0.05,
    seed: int,
) -> pd.DataFrame:
    """Run the few-cluster Monte Carlo.

    Returns
    -------
    DataFrame
        One row per design × method: ``G, n_treated, method, reps, rejection`` (share of
        replications rejecting the true effect at ``alpha``), ``coverage`` (= 1 − rejection),
        ``possible`` and ``note`` ("inference not possible" with a single treated cluster, where
        ``coverage`` is reported but must not be read as valid inference).
    """
    if designs is None:
        designs = [FewClusterDesign(G, k) for G, k in DEFAULT_DESIGNS]
    if reps < 1 or n_boot < 2 or n_perm < 1:
        raise InputError("reps, n_boot and n_perm must be positive (n_boot >= 2)", source="few_cluster_study")
    rng = np.random.default_rng(seed)
    z = float(stats.norm.ppf(1 - alpha / 2))
    rows = []
    for d in designs:
        if not 1 <= d.n_treated < d.n_clusters:
            raise InputError("need 1 <= n_treated < n_clusters", source="few_cluster_study")
        G, T = d.n_clusters, d.n_periods
        unit = np.repeat(np.arange(G), T)
        time = np.tile(np.arange(T), G)
        P = FEProjector(unit, time)
        N, K = G * T, 1 + (T - 1)  # unit FE nested in the clusters: fixest counts slope + time FE
        ssc = G / (G - 1) * (N - 1) / (N - K)
        post = (np.arange(T) >= T // 2).astype(float)
        rej = {"analytic": 0, "wild": 0, "ri": 0}
        for _ in range(reps):
            y, D = _simulate(rng, d)
            yt = y - d.tau * D  # test the true value: H0 effect = tau
            Xp = P(D)
            # analytic CRV1-normal
            b = float(Xp @ P(y) / (Xp @ Xp))
            u = P(y) - Xp * b
            sc = np.bincount(unit, weights=Xp * u, minlength=G)
            se = float(np.sqrt(ssc * (sc**2).sum()) / (Xp @ Xp))
            rej["analytic"] += abs(b - d.tau) / se > z
            # wild cluster restricted bootstrap-t
            w = wcr_setup(Xp[:, None], P(y), unit, np.array([1.0]), n_boot=n_boot,
                          seed=int(rng.integers(2**31)))
            rej["wild"] += w.pvalue_at(w.estimate - d.tau) < alpha
            # randomisation inference on the TWFE coefficient (assignments of the treated set)
            g_unit = np.zeros(G)
            g_unit[D.reshape(G, T)[:, -1] > 0] = 1.0
            perms, exact = permutations(g_unit, n_perm, int(rng.integers(2**31)))
            Dp = P((perms[:, unit] * post[time][None, :]).T)  # N × P projected treatment dummies
            den = (Dp * Dp).sum(axis=0)
            # sharp null "effect = tau": the statistic on y − tau·D under each assignment
            Ay = (Dp.T @ yt) / den
            Ad = (Dp.T @ D) / den
            o = ri_from_stats(np.array([b - d.tau]), np.array([1.0]), Ay[:, None], Ad[:, None],
                              exact=exact, alpha=alpha, post=np.array([False]))[0]
            rej["ri"] += o.pvalue < alpha
        possible = d.n_treated >= 2
        note = "" if possible else "inference not possible: 1 treated cluster"
        for m, r in rej.items():
            rows.append({"G": G, "n_treated": d.n_treated, "method": m, "reps": reps,
                         "rejection": r / reps, "coverage": 1 - r / reps, "possible": possible,
                         "note": note})
    return pd.DataFrame(rows)
