"""Benchmark of zonespill.spatial.fit_panel (SAR and SDM, two-way fixed effects).

Synthetic seeded panel: regions on a square grid, queen contiguity, row-standardised,
T = 20, rho = 0.4, two regressors. Each (size, model) runs in a fresh process so that the
reported peak memory (``ru_maxrss``, whole process incl. the data) is its own. At N = 3,000
spreg's ``Panel_FE_Lag`` is run on the same data (after removing time means from y and X,
because spreg only removes unit effects) and compared.

Usage: ``python benchmarks/bench_spatial.py --sizes 3000,10000,100000``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

T = 20
RHO = 0.4


def grid_queen(side: int) -> sp.csr_matrix:
    idx = np.arange(side * side).reshape(side, side)
    rows, cols = [], []
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            a = idx[max(0, -di) : side - max(0, di), max(0, -dj) : side - max(0, dj)]
            b = idx[max(0, di) : side - max(0, -di) or None, max(0, dj) : side - max(0, -dj) or None]
            rows.append(a.ravel())
            cols.append(b.ravel())
    r, c = np.concatenate(rows), np.concatenate(cols)
    C = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(side * side, side * side))
    return sp.csr_matrix(sp.diags(1.0 / np.asarray(C.sum(axis=1)).ravel()) @ C)


def make_panel(n_target: int, seed: int = 1) -> tuple[pd.DataFrame, sp.csr_matrix, list[str]]:
    side = round(np.sqrt(n_target))
    W = grid_queen(side)
    n = W.shape[0]
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    alpha = rng.normal(size=T)
    X = rng.normal(size=(T, n, 2)) + 0.3 * mu[None, :, None]
    WX = np.stack([np.asarray(W @ X[t]) for t in range(T)])
    rhs = X @ np.array([1.0, -0.5]) + WX @ np.array([0.3, 0.2]) + mu[None, :] + alpha[:, None]
    rhs += rng.normal(size=(T, n))
    lu = spla.splu((sp.identity(n, format="csc") - RHO * W).tocsc())
    Y = lu.solve(rhs.T).T
    ids = [f"g{k:06d}" for k in range(n)]
    df = pd.DataFrame(
        {
            "unit": np.tile(ids, T),
            "year": np.repeat(np.arange(T), n),
            "y": Y.ravel(),
            "x1": X[:, :, 0].ravel(),
            "x2": X[:, :, 1].ravel(),
        }
    )
    return df, W, ids


def _child(n_target: int, model: str, with_spreg: bool, q: Any) -> None:
    from zonespill.spatial import fit_panel

    df, W, ids = make_panel(n_target)
    out: dict[str, Any] = {"n": W.shape[0], "model": model}
    t0 = time.perf_counter()
    res = fit_panel(
        df, W, w_ids=ids, y="y", x=["x1", "x2"], unit="unit", time="year", model=model, effects="twoways"
    )
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    out["rho"] = float(res.params["rho"])
    out["se_rho"] = float(res.bse["rho"])
    out["trace_se"] = res.info.get("trace_se", {})
    out["logdet"] = res.info["logdet"]
    if with_spreg:
        import libpysal
        import spreg

        n = W.shape[0]
        Y = df.y.to_numpy().reshape(T, n)
        Xs = df[["x1", "x2"]].to_numpy().reshape(T, n, 2)
        Yd = (Y - Y.mean(axis=1, keepdims=True)).reshape(-1, 1)
        Xd = (Xs - Xs.mean(axis=1, keepdims=True)).reshape(-1, 2)
        w = libpysal.weights.WSP(W).to_W(silence_warnings=True)
        w.transform = "o"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            ref = spreg.Panel_FE_Lag(Yd, Xd, w)
            out["spreg_seconds"] = time.perf_counter() - t0
        ours = np.r_[res.params[["x1", "x2", "rho"]].to_numpy()]
        theirs = np.asarray(ref.betas).ravel()
        out["max_abs_diff"] = float(np.max(np.abs(ours - theirs)))
        out["max_rel_diff"] = float(np.max(np.abs(ours / theirs - 1)))
        out["se_rel_diff"] = float(
            np.max(np.abs(res.bse[["x1", "x2", "rho"]].to_numpy() / np.sqrt(np.diag(ref.vm)) - 1))
        )
    q.put(out)


def run(n_target: int, model: str, with_spreg: bool) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(n_target, model, with_spreg, q))
    p.start()
    out = q.get()
    p.join()
    return dict(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3000,10000,100000")
    args = ap.parse_args()
    for s in [int(v) for v in args.sizes.split(",")]:
        for model in ("sar", "sdm"):
            r = run(s, model, with_spreg=(model == "sar" and s <= 3100))
            line = (
                f"N={r['n']:>7d} T={T} {model.upper():3s} twoways: {r['seconds']:7.2f} s, peak RSS "
                f"{r['peak_rss_gib']:.2f} GiB, rho={r['rho']:.6f} (se {r['se_rho']:.5f}), "
                f"logdet={r['logdet']}"
            )
            if r.get("trace_se"):
                line += ", trace MC se: " + ", ".join(f"{k}={v:.2g}" for k, v in r["trace_se"].items())
            print(line, flush=True)
            if "spreg_seconds" in r:
                print(
                    f"    spreg Panel_FE_Lag: {r['spreg_seconds']:.2f} s -> ratio "
                    f"{r['spreg_seconds'] / r['seconds']:.1f}x;"
                    f" max |diff| {r['max_abs_diff']:.2e} (rel {r['max_rel_diff']:.2e}),"
                    f" max SE rel diff {r['se_rel_diff']:.2e}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
