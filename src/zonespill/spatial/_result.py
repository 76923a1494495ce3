"""Result object of the spatial estimators, with LeSage-Pace impacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from zonespill.spatial._impacts import ImpactEstimate, compute_impact
from zonespill.spatial._spectrum import Spectrum

LAG_MODELS = ("sar", "sdm", "sac")


@dataclass(frozen=True)
class SpatialResult:
    """Fitted spatial model (ML).

    Attributes
    ----------
    model, effects
        Model code (``sar, sem, sdm, sdem, slx, sac``) and fixed effects (``individual, time,
        twoways`` or ``none`` for a cross-section).
    params, bse
        Estimates and standard errors indexed by term: regressor names, ``W_<name>`` for
        spatially lagged regressors, ``rho`` (Wy) and ``lambda`` (Wu).
    vcov
        Inverse analytic information matrix over ``params`` (``sigma2`` integrated out).
    sigma2, loglik
        ML error variance (``SSE / N_eff``) and the full log-likelihood (constants and
        Jacobian included) at the optimum.
    nobs
        Number of observations used (``n * T``); ``info['N_eff']`` is the effective count.
    se_type
        ``"ml"`` (inverse information), ``"qml"`` (Lee 2004 sandwich) or ``"cluster"``
        (cluster-robust sandwich; ``info['n_clusters']``). ``info['se_note']`` describes it.
    dynamic
        Dynamic spatial panel (``y_lag``, ``W_y_lag`` terms). ``info['bias_correction']`` names the
        correction (``none``, ``ydl``, ``iterated``); ``info['params_uncorrected']`` and
        ``info['bias_estimate']`` hold the QML estimate and the estimated bias.
    """

    model: str
    effects: str
    params: pd.Series
    bse: pd.Series
    vcov: pd.DataFrame
    sigma2: float
    loglik: float
    nobs: int
    n_units: int
    n_periods: int
    lee_yu: bool
    x_names: tuple[str, ...]
    durbin: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _spec: Spectrum | None = field(default=None, repr=False, compare=False)
    se_type: str = "ml"
    dynamic: bool = False

    # ------------------------------------------------------------------ basic
    @property
    def k_params(self) -> int:
        """Number of estimated parameters including ``sigma2``."""
        return len(self.params) + 1

    @property
    def aic(self) -> float:
        return float(-2 * self.loglik + 2 * self.k_params)

    @property
    def bic(self) -> float:
        return float(-2 * self.loglik + np.log(self.nobs) * self.k_params)

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: ``estimate, se, z, pvalue`` indexed by term."""
        z = self.params / self.bse
        p = 2 * stats.norm.sf(np.abs(z))
        return pd.DataFrame({"estimate": self.params, "se": self.bse, "z": z, "pvalue": p})

    def summary(self) -> str:
        """Plain-text summary."""
        head = (
            f"Spatial {'dynamic ' if self.dynamic else ''}{self.model.upper()} model, "
            f"effects={self.effects}, "
            f"lee_yu={self.lee_yu}, se_type={self.se_type}"
            + (f", bias_correction={self.info.get('bias_correction')}" if self.dynamic else "")
            + "\n"
            f"n={self.n_units}, T={self.n_periods}, nobs={self.nobs}, sigma2={self.sigma2:.6g}, "
            f"loglik={self.loglik:.6f}, AIC={self.aic:.4f}\n"
        )
        return head + self.to_frame().to_string(float_format=lambda v: f"{v: .6g}")

    # ------------------------------------------------------------------ impacts
    def impact(
        self,
        term: str,
        kind: str = "total",
        *,
        horizon: str = "short",
        method: str = "simulation",
        n_sim: int = 1000,
        seed: int | None = 20240607,
        level: float = 0.95,
    ) -> ImpactEstimate:
        """One impact of one regressor with SE, interval and (simulation) draws.

        Parameters
        ----------
        term
            Regressor name (``y_lag`` in the dynamic model is allowed for the short run).
        kind
            ``direct``, ``indirect`` or ``total``.
        horizon
            ``short`` (``(I - rho W)^-1 (beta I + theta W)``) or, for the dynamic model, ``long``
            (``((1 - gamma) I - (rho + delta) W)^-1 (beta I + theta W)``).
        method
            ``simulation`` (LeSage-Pace draws from ``N(params, vcov)``, percentile interval; draws
            with rho outside its interval or, for the long run, non-stationary dynamics are dropped,
            ``n_draws_used`` says how many remain) or ``delta`` (delta method, normal interval).
        n_sim, seed, level
            Number of draws, their seed and the interval's coverage.

        The covariance used is this result's ``vcov`` (so ``se_type`` carries over).
        """
        return compute_impact(
            self, term, kind, horizon=horizon, method=method, n_sim=n_sim, seed=seed, level=level
        )

    def impacts_table(
        self,
        *,
        horizon: str = "short",
        method: str = "simulation",
        n_sim: int = 1000,
        seed: int | None = 20240607,
        level: float = 0.95,
        terms: list[str] | None = None,
    ) -> pd.DataFrame:
        """Direct, indirect and total impacts of every regressor (rows ``term x kind``), with SE and CI."""
        names = list(self.x_names) if terms is None else list(terms)
        if horizon == "long":
            names = [t for t in names if t != "y_lag"]
        rows = [
            self.impact(t, k, horizon=horizon, method=method, n_sim=n_sim, seed=seed, level=level).as_dict()
            for t in names
            for k in ("direct", "indirect", "total")
        ]
        return pd.DataFrame(rows).set_index(["term", "kind"])

    def impacts(self, n_sim: int = 1000, seed: int | None = 20240607) -> pd.DataFrame:
        """Direct, indirect and total impacts with standard errors (see :meth:`_impacts`)."""
        return self._impacts(n_sim=n_sim, seed=seed)

    def _impacts(
        self, n_sim: int = 1000, seed: int | None = 20240607, vcov: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Direct, indirect and total impacts with standard errors.

        For models with ``Wy`` (SAR, SDM, SARAC) the impact matrix of regressor ``k`` is
        ``S_k = (I - rho W)^{-1} (beta_k I + theta_k W)``; direct = ``mean diag S_k``, total =
        ``mean row sum S_k``, indirect = total - direct (exact at the estimates; for SDM the
        ``theta_k`` term is included). Standard errors are the standard deviations over
        ``n_sim`` draws from the asymptotic normal distribution of ``(rho, beta, theta)``
        (LeSage and Pace 2009), using the full covariance matrix. For models without ``Wy``
        (SEM, SLX, SDEM) impacts are linear in the parameters (direct = ``beta_k``, indirect
        = ``theta_k`` times the mean row sum of ``W``) and their SEs are analytic.
        """
        spec = self._spec
        if spec is None:
            raise RuntimeError("result carries no weights; impacts unavailable")
        names = list(self.x_names)
        n = spec.n
        trW = float(spec.W.diagonal().sum()) / n
        rowmean = float(spec.row_sums.mean())
        rows = []
        has_rho = self.model in LAG_MODELS
        p = self.params
        V = self.vcov if vcov is None else vcov
        if not has_rho:
            for nm in names:
                th = f"W_{nm}"
                b = float(p[nm])
                t = float(p[th]) if th in p.index else 0.0
                a_d = np.zeros(len(p))
                a_t = np.zeros(len(p))
                idx = {k: i for i, k in enumerate(p.index)}
                a_d[idx[nm]] = 1.0
                a_t[idx[nm]] = 1.0
                if th in idx:
                    a_d[idx[th]] = trW
                    a_t[idx[th]] = rowmean
                a_i = a_t - a_d
                Vm = V.to_numpy()
                rows.append(
                    {
                        "direct": b + trW * t,
                        "indirect": (rowmean - trW) * t,
                        "total": b + rowmean * t,
                        "se_direct": float(np.sqrt(a_d @ Vm @ a_d)),
                        "se_indirect": float(np.sqrt(max(a_i @ Vm @ a_i, 0.0))),
                        "se_total": float(np.sqrt(a_t @ Vm @ a_t)),
                    }
                )
            return pd.DataFrame(rows, index=pd.Index(names, name="term"))
        keys = ["rho", *names, *[f"W_{nm}" for nm in names if f"W_{nm}" in p.index]]
        mean = p[keys].to_numpy(dtype=float)
        cov = V.loc[keys, keys].to_numpy(dtype=float)
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(mean, cov, size=int(n_sim), method="eigh")
        lo, hi = spec.bounds
        ok = (draws[:, 0] > lo) & (draws[:, 0] < hi)
        draws = draws[ok]
        exact_tot = spec.row_standardised and spec.no_islands
        ones = np.ones(n)
        w1 = spec.row_sums

        def multipliers(rv: np.ndarray, point: bool) -> tuple[np.ndarray, ...]:
            trG = (
                np.array([spec.trG(float(r))[0] for r in rv])
                if not spec.dense
                else np.sum(spec.ev[None, :] / (1.0 - rv[:, None] * spec.ev[None, :]), axis=1).real
            )
            dA = 1.0 + rv * trG / n  # mean diag (I - rho W)^{-1}
            dAW = trG / n  # mean diag (I - rho W)^{-1} W
            if exact_tot:
                t1 = t2 = 1.0 / (1.0 - rv)
            elif point:
                t1 = np.array([spec.mean_inverse_rowsum(float(r), ones) for r in rv])
                t2 = np.array([spec.mean_inverse_rowsum(float(r), w1) for r in rv])
            else:
                J = Spectrum.series_length(float(np.max(np.abs(rv))), tol=1e-12)
                pm = spec.power_means(ones, J + 1)
                pw = rv[:, None] ** np.arange(J + 1)[None, :]
                t1 = pw @ pm[: J + 1]
                t2 = pw @ pm[1 : J + 2]
            return dA, dAW, t1, t2

        P = multipliers(np.array([mean[0]]), True)
        S = multipliers(draws[:, 0], False)
        for nm in names:
            ib = keys.index(nm)
            th = f"W_{nm}"
            it = keys.index(th) if th in keys else None

            def eff(m: tuple[np.ndarray, ...], b: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
                direct = b * m[0] + t * m[1]
                total = b * m[2] + t * m[3]
                return direct, total - direct, total

            b0 = np.array([mean[ib]])
            t0 = np.array([mean[it]]) if it is not None else np.zeros(1)
            pd_, pi_, pt_ = eff(P, b0, t0)
            bs = draws[:, ib]
            ts = draws[:, it] if it is not None else np.zeros(len(draws))
            sd, si, st = eff(S, bs, ts)
            rows.append(
                {
                    "direct": float(pd_[0]),
                    "indirect": float(pi_[0]),
                    "total": float(pt_[0]),
                    "se_direct": float(np.std(sd, ddof=1)),
                    "se_indirect": float(np.std(si, ddof=1)),
                    "se_total": float(np.std(st, ddof=1)),
                }
            )
        out = pd.DataFrame(rows, index=pd.Index(names, name="term"))
        out.attrs["n_sim"] = int(n_sim)
        out.attrs["n_draws_used"] = int(ok.sum())
        return out
