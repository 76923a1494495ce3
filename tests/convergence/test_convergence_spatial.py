"""Spatial beta convergence through zonespill.spatial (skipped until that package exists)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zonespill.convergence import beta, panel_beta

spatial = pytest.importorskip(
    "zonespill.spatial", reason="zonespill.spatial (spatial engineer) not importable yet"
)


def _grid_weights(side: int) -> pd.DataFrame:
    ids = [f"c{i:02d}" for i in range(side * side)]
    W = np.zeros((side * side, side * side))
    for r in range(side):
        for c in range(side):
            i = r * side + c
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < side and 0 <= cc < side:
                    W[i, rr * side + cc] = 1.0
    W = W / W.sum(axis=1, keepdims=True)
    return pd.DataFrame(W, index=ids, columns=ids)


def _panel(W: pd.DataFrame, T: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = list(W.index)
    ly = 9 + rng.normal(0, 0.3, len(ids))
    rows = []
    for t in range(T):
        rows += [{"unit": u, "year": 2000 + t, "y": float(np.exp(v))} for u, v in zip(ids, ly, strict=True)]
        shock = rng.normal(0, 0.02, len(ids))
        ly = ly + 0.05 - 0.1 * (ly - 9) + shock + 0.3 * (W.to_numpy() @ shock)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("model", ["sem", "sar"])
def test_cross_section_spatial_equals_direct_call(model: str) -> None:
    W = _grid_weights(6)
    df = _panel(W)
    res = beta(df, value="y", unit="unit", time="year", start=2000, end=2007, spatial=(model, W))
    a = df[df.year == 2000].set_index("unit")["y"]
    b = df[df.year == 2007].set_index("unit")["y"]
    cs = pd.DataFrame({"unit": a.index, "growth": (np.log(b[a.index]) - np.log(a)).to_numpy() / 7})
    cs["log_initial"] = np.log(a).to_numpy()
    direct = spatial.fit_cross_section(cs, W, y="growth", x=["log_initial"], unit="unit", model=model)
    pd.testing.assert_series_equal(res.params, direct.params.astype(float), rtol=1e-10)
    assert ("lambda" if model == "sem" else "rho") in res.params.index
    assert np.isfinite(res.speed) or res.b >= 0


def test_panel_spatial_sdm_runs() -> None:
    W = _grid_weights(5)
    df = _panel(W, T=10, seed=1)
    res = panel_beta(df, value="y", unit="unit", time="year", spatial=("sdm", W))
    assert "rho" in res.params.index and "log_lag" in res.params.index
    assert res.params["log_lag"] < 0
