"""Maximum-likelihood engine shared by every spatial model.

The general model, per period ``t`` after the fixed-effects transformation, is

    y_t = rho L y_t + Z_t delta + u_t,     u_t = lambda L u_t + e_t,    e_t ~ N(0, s2 I)

with ``L`` the spatial-lag operator (``W`` applied per period; with Lee-Yu cross-unit
transformation ``L = J_n W``), ``Z = [X, W X_durbin]`` and ``rho`` / ``lambda`` switched on
or off by the model. For given ``(rho, lambda)`` the slopes and ``s2`` have closed forms;
the concentrated log-likelihood

    l_c(rho, lambda) = -N_eff/2 (log(2 pi) + 1 + log(SSE(rho, lambda) / N_eff))
                       + T_eff [log|I - rho W| + log|I - lambda W|]  (- T_eff [log(1 - rho) + log(1 - lambda)]
                         with the Lee-Yu cross-unit transformation)

is maximised with bounded Brent searches (nested for SARAR). ``SSE`` is evaluated from a
pre-computed cross-product matrix, so each evaluation costs O(k^3) plus one log-determinant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from zonespill.errors import EstimationError
from zonespill.spatial._spectrum import EIGEN_MAX_N, Spectrum, check_interior

#: absolute x-tolerance of the bounded Brent searches
XATOL = 1e-10
#: searches run on (lo + BOUND_INSET * width + BOUND_ABS_INSET, hi - ...)
BOUND_INSET = 1e-9
BOUND_ABS_INSET = 0.0


@contextmanager
def splm_optimizer() -> Iterator[None]:
    """Run the 1-D searches exactly as R's ``optimize`` in splm: Brent, ``tol = sqrt(eps)``.

    The search interval becomes ``(1/min Re(w) + eps, 1/max Re(w) - eps)`` as set up by
    spatialreg's ``jacobianSetup(method = "eigen")``. splm's estimates are only as precise
    as that tolerance (about 1.5e-8 absolute); the reference tests use this to reproduce
    them to rounding, the library default is the tighter ``XATOL``.
    """
    global XATOL, BOUND_INSET, BOUND_ABS_INSET
    saved = (XATOL, BOUND_INSET, BOUND_ABS_INSET)
    XATOL, BOUND_INSET, BOUND_ABS_INSET = float(np.finfo(float).eps ** 0.5), 0.0, float(np.finfo(float).eps)
    try:
        yield
    finally:
        XATOL, BOUND_INSET, BOUND_ABS_INSET = saved


@dataclass
class Design:
    """Transformed data and the operators that define one likelihood."""

    y: np.ndarray  # (T, n)
    Z: np.ndarray  # (T, n, p)
    names: list[str]
    lag: Callable[[np.ndarray], np.ndarray]
    spec: Spectrum
    N_eff: float
    T_eff: float
    unit_projection: bool = False  # Lee-Yu J_n transformation: Jacobian term and projected traces
    label: str = ""


@dataclass
class Core:
    """Raw output of the ML engine (parameter order: delta, rho, lambda)."""

    names: list[str]
    params: np.ndarray
    vcov: np.ndarray  # over params (sigma2 integrated out of the inverse)
    sigma2: float
    sigma2_se: float
    loglik: float
    has_rho: bool
    has_lam: bool
    resid: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    #: full information matrix and its inverse over (delta, rho, lambda, sigma2)
    info_matrix: np.ndarray | None = None
    vcov_full: np.ndarray | None = None


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0] * a.shape[1], -1)


def _per_period_solve(solve: Callable[[np.ndarray], np.ndarray], v: np.ndarray) -> np.ndarray:
    """Apply an ``n x n`` solve to each period of a ``(T, n)`` array."""
    return np.asarray(solve(v.T)).T


@dataclass
class Objective:
    """Concentrated log-likelihood of a design (see module docstring)."""

    conc: Callable[[float, float], float]
    opt: Callable[[float, float], float]  # conc without constants (what is maximised)
    sse: Callable[[float, float], float]
    jac: Callable[[float], float]
    Wy: np.ndarray | None
    WZ: np.ndarray | None


def make_objective(d: Design, *, has_rho: bool, has_lam: bool) -> Objective:
    """Build ``l_c(rho, lambda)`` from cross-products of ``[y, Ly, LLy, Z, LZ]``."""
    spec = d.spec
    y, Z = d.y, d.Z
    p = Z.shape[2]
    Wy = d.lag(y) if (has_rho or has_lam) else None
    WWy = d.lag(Wy) if (has_rho and has_lam and Wy is not None) else None
    WZ = d.lag(Z) if has_lam else None
    cols = [y[..., None]]
    if Wy is not None:
        cols.append(Wy[..., None])
    if WWy is not None:
        cols.append(WWy[..., None])
    cols.append(Z)
    if WZ is not None:
        cols.append(WZ)
    C = _flat(np.concatenate(cols, axis=2))
    M = C.T @ C
    iwy = 1 if Wy is not None else None
    iwwy = 2 if WWy is not None else None
    iz = 1 + int(Wy is not None) + int(WWy is not None)
    iwz = iz + p
    ncol = C.shape[1]

    sar_only = has_rho and not has_lam
    if sar_only:
        # SAR/SDM: SSE(rho) = e0'e0 - 2 rho e0'e1 + rho^2 e1'e1 with e0, e1 the residuals of y and
        # Ly on Z (no cancellation, and the same arithmetic as splm's conclikpan)
        Zf = _flat(Z)
        assert Wy is not None
        b01, *_ = np.linalg.lstsq(Zf, np.column_stack([y.ravel(), Wy.ravel()]), rcond=None)
        E01 = np.column_stack([y.ravel(), Wy.ravel()]) - Zf @ b01
        e00, e01, e11 = (
            float(E01[:, 0] @ E01[:, 0]),
            float(E01[:, 0] @ E01[:, 1]),
            float(E01[:, 1] @ E01[:, 1]),
        )

    def sse(r: float, lam: float) -> float:
        if sar_only:
            return max(e00 - 2 * r * e01 + r * r * e11, 1e-300)
        a = np.zeros(ncol)
        a[0] = 1.0
        if iwy is not None:
            a[iwy] = -(r + lam)
        if iwwy is not None:
            a[iwwy] = r * lam
        B = np.zeros((ncol, p))
        B[iz : iz + p, :] = np.eye(p)
        if WZ is not None:
            B[iwz : iwz + p, :] = -lam * np.eye(p)
        MB = M @ B
        ZZ = B.T @ MB
        Zy = MB.T @ a
        yy = float(a @ M @ a)
        try:
            cf = np.linalg.cholesky(ZZ)
        except np.linalg.LinAlgError as exc:
            raise EstimationError("transformed regressors are singular") from exc
        v = np.linalg.solve(cf, Zy)
        return max(yy - float(v @ v), 1e-300)

    def jac(r: float) -> float:
        if r == 0.0:
            return 0.0
        out = spec.ldet(r)
        if d.unit_projection:
            out -= float(np.log1p(-r))
        return d.T_eff * out

    def opt(r: float, lam: float) -> float:
        return -0.5 * d.N_eff * float(np.log(sse(r, lam))) + jac(r) + jac(lam)

    const = -0.5 * d.N_eff * (np.log(2 * np.pi) + 1.0 - np.log(d.N_eff))

    def conc(r: float, lam: float) -> float:
        return const + opt(r, lam)

    return Objective(conc, opt, sse, jac, Wy, WZ)


def fit_ml(d: Design, *, has_rho: bool, has_lam: bool) -> Core:
    """Maximise the likelihood of ``d`` and return estimates with the analytic information matrix."""
    spec = d.spec
    y, Z = d.y, d.Z
    obj = make_objective(d, has_rho=has_rho, has_lam=has_lam)
    conc, jac, Wy, WZ = obj.opt, obj.jac, obj.Wy, obj.WZ
    lo, hi = spec.bounds
    span = hi - lo
    blo, bhi = lo + BOUND_INSET * span + BOUND_ABS_INSET, hi - BOUND_INSET * span - BOUND_ABS_INSET
    if d.unit_projection:
        bhi = min(bhi, 1.0 - 1e-9)
    r_hat = lam_hat = 0.0
    nfev = 0
    if has_rho and has_lam:
        inner: dict[float, float] = {}

        def prof(r: float) -> float:
            res = _bounded_min(lambda lm: -conc(r, lm), blo, bhi)
            inner[r] = float(res.x)
            return float(res.fun)

        res = _bounded_min(prof, blo, bhi)
        r_hat = float(res.x)
        lam_hat = inner.get(r_hat) if r_hat in inner else None  # type: ignore[assignment]
        if lam_hat is None:
            prof(r_hat)
            lam_hat = inner[r_hat]
        nfev = int(res.nfev)
    elif has_rho:
        res = _bounded_min(lambda r: -conc(r, 0.0), blo, bhi)
        r_hat, nfev = float(res.x), int(res.nfev)
    elif has_lam:
        res = _bounded_min(lambda lm: -conc(0.0, lm), blo, bhi)
        lam_hat, nfev = float(res.x), int(res.nfev)
    if has_rho:
        check_interior("rho (Wy)", r_hat, (lo, min(hi, 1.0) if d.unit_projection else hi))
    if has_lam:
        check_interior("lambda (Wu)", lam_hat, (lo, min(hi, 1.0) if d.unit_projection else hi))

    # ---- final slopes by a direct least-squares fit on the filtered data
    yf = y.copy()
    if has_rho:
        assert Wy is not None
        yf = yf - r_hat * Wy
    Zf = Z
    if has_lam:
        assert WZ is not None
        yf = yf - lam_hat * d.lag(yf)
        Zf = Z - lam_hat * WZ
    Zff = _flat(Zf)
    yff = yf.ravel()
    delta, *_ = np.linalg.lstsq(Zff, yff, rcond=None)
    e = yff - Zff @ delta
    SSE = float(e @ e)
    s2 = SSE / d.N_eff
    loglik = -0.5 * d.N_eff * (np.log(2 * np.pi) + 1.0 + np.log(s2)) + jac(r_hat) + jac(lam_hat)

    # ---- analytic information matrix (parameters delta, rho, lambda, sigma2)
    Info, tr = _information_and_traces(d, delta, r_hat, lam_hat, s2, has_rho=has_rho, has_lam=has_lam)
    tr_se = dict(tr.get("se", {}))
    try:
        V = np.linalg.inv(Info)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("information matrix is singular") from exc
    params = [*delta.tolist()]
    names = list(d.names)
    if has_rho:
        params.append(r_hat)
        names.append("rho")
    if has_lam:
        params.append(lam_hat)
        names.append("lambda")
    info: dict[str, Any] = {
        "bounds": spec.bounds,
        "bounds_method": spec.bounds_method,
        "nfev": nfev,
        "logdet": "eigenvalues" if spec.dense else "sparse LU",
        "traces": "exact (dense)" if spec.dense else "power series + Hutchinson",
        "trace_se": tr_se,
        "eigen_max_n": EIGEN_MAX_N,
        "N_eff": d.N_eff,
        "T_eff": d.T_eff,
    }
    return Core(
        names,
        np.array(params),
        V[:-1, :-1],
        s2,
        float(np.sqrt(V[-1, -1])),
        float(loglik),
        has_rho,
        has_lam,
        e.reshape(y.shape),
        info,
        Info,
        V,
    )


def _bounded_min(f: Any, lo: float, hi: float) -> Any:
    """Brent's bounded scalar minimisation on ``[lo, hi]`` at the current tolerance ``XATOL``."""
    return minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": XATOL, "maxiter": 500})


def information(
    d: Design,
    delta: np.ndarray,
    r: float,
    lam: float,
    s2: float,
    *,
    has_rho: bool,
    has_lam: bool,
) -> np.ndarray:
    """Analytic information matrix over ``(delta, rho, lambda, sigma2)`` at the given parameters."""
    return _information_and_traces(d, delta, r, lam, s2, has_rho=has_rho, has_lam=has_lam)[0]


def _information_and_traces(
    d: Design,
    delta: np.ndarray,
    r: float,
    lam: float,
    s2: float,
    *,
    has_rho: bool,
    has_lam: bool,
) -> tuple[np.ndarray, dict[str, Any]]:
    spec = d.spec
    Z = d.Z
    p = Z.shape[2]
    Zf = Z - lam * d.lag(Z) if has_lam else Z
    Zff = _flat(Zf)
    k = p + int(has_rho) + int(has_lam) + 1
    Info = np.zeros((k, k))
    Info[:p, :p] = Zff.T @ Zff / s2
    Teff = d.T_eff
    tr = traces(d, r, lam, has_rho=has_rho, has_lam=has_lam)
    isg = k - 1
    Info[isg, isg] = d.N_eff / (2 * s2 * s2)
    pos = p
    ir = p
    if has_rho:
        mu = np.einsum("tnk,k->tn", Z, delta)
        g = d.lag(_per_period_solve(spec.solver(r), mu))
        if has_lam:
            g = g - lam * d.lag(g)
        gf = g.ravel()
        Info[pos, pos] = Teff * (tr["GdtGd"] + tr["GG"]) + float(gf @ gf) / s2
        Info[:p, pos] = Info[pos, :p] = Zff.T @ gf / s2
        Info[pos, isg] = Info[isg, pos] = Teff * tr["G"] / s2
        ir = pos
        pos += 1
    if has_lam:
        Info[pos, pos] = Teff * (tr["HtH"] + tr["HH"])
        Info[pos, isg] = Info[isg, pos] = Teff * tr["H"] / s2
        if has_rho:
            Info[ir, pos] = Info[pos, ir] = Teff * (tr["HtGd"] + tr["HGd"])
    return Info, tr


def traces(d: Design, r: float, lam: float, *, has_rho: bool, has_lam: bool) -> dict[str, Any]:
    """Traces entering the information matrix (projected by ``J_n`` under Lee-Yu)."""
    spec = d.spec
    n = spec.n
    out: dict[str, Any] = {}
    se: dict[str, float] = {}
    if spec.dense:
        I = np.eye(n)
        Wd = spec.Wd
        # G = W (I - rW)^-1 = (I - rW)^-1 W: one LU solve, no explicit inverse
        G = np.linalg.solve(I - r * Wd, Wd) if r != 0.0 else Wd
        if lam != 0.0:
            H = np.linalg.solve(I - lam * Wd, Wd)
            Gd = (I - lam * Wd) @ np.linalg.solve((I - lam * Wd).T, G.T).T  # B G B^-1
        else:  # no error lag: B = I, H = W
            H, Gd = Wd, G
        if d.unit_projection:
            # J M J with J = I - 11'/n, by centring rows and columns (O(n²), not a dense product)
            def centre(M: np.ndarray) -> np.ndarray:
                return M - M.mean(axis=0, keepdims=True) - M.mean(axis=1, keepdims=True) + M.mean()

            H, Gd = centre(H), centre(Gd)  # only these enter the traces
        out["G"] = float(np.trace(Gd))
        out["GG"] = float(np.sum(Gd * Gd.T))
        out["GdtGd"] = float(np.sum(Gd * Gd))
        out["H"] = float(np.trace(H))
        out["HH"] = float(np.sum(H * H.T))
        out["HtH"] = float(np.sum(H * H))
        out["HtGd"] = float(np.sum(H * Gd))
        out["HGd"] = float(np.sum(H.T * Gd))
        out["se"] = se
        return out
    W = spec.W
    c_r = 1.0 / (1.0 - r)
    c_l = 1.0 / (1.0 - lam)

    def proj(v: np.ndarray) -> np.ndarray:
        return v - v.mean(axis=0, keepdims=True) if d.unit_projection else v

    Z0 = spec._probe_matrix()
    m = Z0.shape[1]

    def hutch(vals: np.ndarray) -> tuple[float, float]:
        return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(m))

    W2 = (W @ W).tocsr()
    ones = np.ones(n)

    def exact_inner(Pa: Any, Pb: Any) -> float:
        """``tr((J Pa J)' (J Pb J))`` for sparse ``Pa, Pb`` (J = I without Lee-Yu projection)."""
        val = float(Pa.multiply(Pb).sum())
        if d.unit_projection:
            val += (
                -float((Pa @ ones) @ (Pb @ ones)) / n
                - float((Pa.T @ ones) @ (Pb.T @ ones)) / n
                + float(ones @ (Pa @ ones)) * float(ones @ (Pb @ ones)) / n**2
            )
        return val

    def inner_cv(Az: np.ndarray, Bz: np.ndarray, Pa: Any, Pb: Any, Zp: np.ndarray) -> tuple[float, float]:
        """Hutchinson ``tr(A'B)`` with control variate ``tr(Pa'Pb)`` (sparse polynomials, exact)."""
        PAz, PBz = proj(Pa @ Zp), proj(Pb @ Zp)
        vals = np.einsum("ij,ij->j", Az, Bz) - np.einsum("ij,ij->j", PAz, PBz) + exact_inner(Pa, Pb)
        return hutch(vals)

    PG = (W + r * W2).tocsr()
    PH = (W + lam * W2).tocsr()

    def own_traces(a: float, c: float, name: str) -> None:
        """``tr(G(a))`` and ``tr(G(a)^2)`` (``G(a) = W (I - a W)^-1``), less the projection's part."""
        t, s = spec.trG(a)
        t2, s2_ = spec.trG2(a)
        if d.unit_projection:
            t, t2 = t - c, t2 - c**2
        out[name], out[name + name] = t, t2
        se[name], se[name + name] = s, s2_

    if has_rho:
        own_traces(r, c_r, "G")
        solve_a = spec.solver(r)
        solve_b = spec.solver(lam)
        Zp = proj(Z0)
        Gdz = proj(solve_b(Zp)) if has_lam else Zp
        Gdz = proj(W @ solve_a(Gdz))
        if has_lam:
            Gdz = proj(Gdz - lam * (W @ Gdz))
        out["GdtGd"], se["GdtGd"] = inner_cv(Gdz, Gdz, PG, PG, Zp)
    if has_lam:
        own_traces(lam, c_l, "H")
        solve_b = spec.solver(lam)
        Zp = proj(Z0)
        Hz = proj(W @ solve_b(Zp))
        out["HtH"], se["HtH"] = inner_cv(Hz, Hz, PH, PH, Zp)
        if has_rho:
            solve_bt = spec.solver_t(lam)
            HTz = proj(solve_bt(W.T @ Zp))
            out["HtGd"], se["HtGd"] = inner_cv(Hz, Gdz, PH, PG, Zp)
            out["HGd"], se["HGd"] = inner_cv(HTz, Gdz, PH.T.tocsr(), PG, Zp)
    out["se"] = se
    return out
