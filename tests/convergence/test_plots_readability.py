"""FC2 / FC3 stay legible from 30 to 3,000 units: chosen labels only, scaled markers and lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.convergence import transition_paths
from zonespill.convergence.plots import (
    LEGACY_LABEL_ALL_MAX,
    beta_scatter_figure,
    plot_beta_scatter,
    transition_paths_figure,
)
from zonespill.errors import InputError
from zonespill.figures import use_agg

use_agg()


def _cross_section(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 0.5, n)
    y = 0.3 - 0.025 * x + rng.normal(0, 0.004, n)
    return pd.DataFrame({"log_initial": x, "growth": y, "region_id": [f"u{i:04d}" for i in range(n)]})


def _labels(fig: object) -> list[str]:
    return sorted(t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("u"))  # type: ignore[attr-defined]


def test_extremes_are_the_largest_residuals() -> None:
    cs = _cross_section(358, seed=1)
    # plant three outliers far from the line
    cs.loc[[5, 100, 300], "growth"] += [0.05, -0.06, 0.07]
    fig = beta_scatter_figure(cs, label="extremes", label_column="region_id", n_label=3)
    assert _labels(fig) == ["u0005", "u0100", "u0300"]
    # independent check: the k largest |residuals| of an OLS fit
    b, a = np.polyfit(cs["log_initial"], cs["growth"], 1)
    resid = (cs["growth"] - (a + b * cs["log_initial"])).abs()
    top = cs.loc[resid.nlargest(8).index, "region_id"].tolist()
    assert _labels(beta_scatter_figure(cs, label="extremes", label_column="region_id")) == sorted(top)
    assert any("largest |residuals|" in t.get_text() for t in fig.axes[0].texts)


def test_label_selection_list_none_and_errors() -> None:
    cs = _cross_section(50, seed=2)
    assert _labels(beta_scatter_figure(cs, label=["u0003", "u0049"], label_column="region_id")) == [
        "u0003",
        "u0049",
    ]
    assert _labels(beta_scatter_figure(cs, label=None)) == []
    # ids from the index when no label column is given
    idx = cs.set_index("region_id")
    assert _labels(beta_scatter_figure(idx, label=["u0007"])) == ["u0007"]
    with pytest.raises(InputError, match="not found") as exc:
        beta_scatter_figure(cs, label=["u9999"], label_column="region_id")
    assert exc.value.column == "region_id"
    with pytest.raises(InputError, match="extremes"):
        beta_scatter_figure(cs, label="no_such_column")


def test_legacy_label_column_labels_all_only_when_few() -> None:
    small = _cross_section(LEGACY_LABEL_ALL_MAX, seed=3)
    assert len(_labels(beta_scatter_figure(small, label="region_id"))) == LEGACY_LABEL_ALL_MAX
    big = _cross_section(358, seed=3)
    assert len(_labels(beta_scatter_figure(big, label="region_id"))) == 8


def test_markers_shrink_with_many_points() -> None:
    def marker(n: int) -> tuple[float, float]:
        fig = beta_scatter_figure(_cross_section(n, seed=4))
        coll = fig.axes[0].collections[0]
        return float(coll.get_sizes()[0]), float(coll.get_alpha())

    s30, a30 = marker(30)
    s3000, a3000 = marker(3000)
    assert s3000 < s30 and a3000 < a30
    assert s3000 >= 3.0 and a3000 >= 0.3


def test_beta_scatter_3000_points_written(tmp_path: Path) -> None:
    cs = _cross_section(3000, seed=5)
    cs["profile"] = np.where(np.arange(3000) % 3 == 0, "tie", "none")
    paths = plot_beta_scatter(
        cs, tmp_path / "fc2", label="extremes", label_column="region_id", groups="profile", n_label=10
    )
    assert all(p.stat().st_size > 0 for p in paths)


def test_transition_paths_many_units_coloured_by_club() -> None:
    rng = np.random.default_rng(6)
    n_units, n_t = 400, 12
    club = rng.integers(1, 4, n_units)
    rows = [
        {"u": f"r{i}", "t": 2000 + t, "y": float(np.exp(9 + 0.2 * club[i] + 0.01 * t + rng.normal(0, 0.02)))}
        for i in range(n_units)
        for t in range(n_t)
    ]
    df = pd.DataFrame(rows)
    tp = transition_paths(
        df, value="y", unit="u", time="t", clubs={f"r{i}": int(club[i]) for i in range(n_units)}
    )
    fig = transition_paths_figure(tp, clubs_only=False)
    lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == n_t]
    unit_lines = [ln for ln in lines if ln.get_alpha() is not None and ln.get_alpha() < 0.5]
    assert len(unit_lines) == n_units
    # each unit line carries its club's colour (the colour of that club's mean line)
    labels = {
        t.get_text().split(" ")[1]: h.get_color()
        for t, h in zip(
            fig.axes[0].get_legend().get_texts(), fig.axes[0].get_legend().legend_handles, strict=True
        )
    }
    assert set(labels) == {"1", "2", "3"}
    assert {ln.get_color() for ln in unit_lines} == set(labels.values())
    assert max(ln.get_linewidth() for ln in unit_lines) < 0.8
