"""Plot helpers write PNG + PDF deterministically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zonespill.convergence import beta, sigma, transition_paths
from zonespill.convergence.plots import plot_beta_scatter, plot_sigma, plot_transition_paths


def _df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"u": f"r{i}", "t": 2000 + t, "y": float(np.exp(9 + 0.1 * i + 0.02 * t + rng.normal(0, 0.01)))}
        for i in range(8)
        for t in range(10)
    ]
    return pd.DataFrame(rows)


def test_plots_are_written_and_deterministic(tmp_path: Path) -> None:
    df = _df()
    s = sigma(df, value="y", unit="u", time="t")
    out1 = plot_sigma({"all": s, "half": s * 0.5}, tmp_path / "a" / "sigma")
    out2 = plot_sigma({"all": s, "half": s * 0.5}, tmp_path / "b" / "sigma")
    assert [p.suffix for p in out1] == [".png", ".pdf"]
    for p, q in zip(out1, out2, strict=True):
        assert p.read_bytes() == q.read_bytes()
    res = beta(df, value="y", unit="u", time="t", start=2000, end=2009)
    cs = pd.DataFrame({"log_initial": [9.0, 9.5, 10.0], "growth": [0.03, 0.02, 0.01], "u": ["a", "b", "c"]})
    assert all(p.exists() for p in plot_beta_scatter(cs, tmp_path / "beta", result=res, label="u"))
    tp = transition_paths(df, value="y", unit="u", time="t")
    assert all(p.exists() for p in plot_transition_paths(tp, tmp_path / "tp"))
    assert all(p.exists() for p in plot_transition_paths(tp, tmp_path / "tp_units", clubs_only=False))
