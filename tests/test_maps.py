"""F2 tie map: directed, curved, colour-coded arcs that stay readable from 60 to 5,000 ties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from zonespill.errors import InputError
from zonespill.figures import new_figure, use_agg
from zonespill.maps import (
    ARROW_STYLES,
    DIRECTION_COLOURS,
    DIRECTION_LABELS,
    ArcStyle,
    draw_tie_arcs,
    plot_tie_map,
    tie_arcs,
)

use_agg()


def _grid_regions(n_side: int) -> pd.DataFrame:
    rows = []
    for i in range(n_side):
        for j in range(n_side):
            rid = f"{i * n_side + j:04d}"
            wkt = f"POLYGON(({i} {j},{i + 1} {j},{i + 1} {j + 1},{i} {j + 1},{i} {j}))"
            rows.append({"region_id": rid, "geometry_wkt": wkt})
    return pd.DataFrame(rows)


def _random_ties(ids: list[str], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.choice(ids, n)
    b = rng.choice(ids, n)
    b = np.where(a == b, ids[0] if ids[0] != a[0] else ids[1], b)
    d = rng.choice(["forward", "reverse", "two_way", "unknown"], n, p=[0.5, 0.2, 0.2, 0.1])
    return pd.DataFrame(
        {
            "collab_id": [f"c{k}" for k in range(n)],
            "source_province": a,
            "target_province": b,
            "direction": d,
            "same_province": (a == b).astype(int),
        }
    )


def test_tie_arcs_merges_duplicates_and_keeps_orientation() -> None:
    ties = pd.DataFrame(
        {
            "collab_id": ["a", "b", "c", "c", "d", "e"],  # 'c' twice: tie-years of one tie
            "source_province": ["11", "11", "31", "31", "11", "44"],
            "target_province": ["62", "62", "11", "11", "31", "44"],
            "direction": ["forward", "forward", "reverse", "reverse", "two_way", "forward"],
        }
    )
    arcs = tie_arcs(ties)
    rows = {(r.source, r.target, r.direction): r.n_ties for r in arcs.itertuples()}
    assert rows == {("11", "62", "forward"): 2, ("31", "11", "reverse"): 1, ("11", "31", "two_way"): 1}
    assert arcs.attrs["self_ties"] == 1  # 44 -> 44 makes no arc and is counted
    # aggregation to groups
    agg = tie_arcs(ties, aggregate={"11": "N", "62": "W", "31": "E", "44": "S"})
    assert set(zip(agg["source"], agg["target"], strict=True)) == {("N", "W"), ("E", "N"), ("N", "E")}
    with pytest.raises(InputError, match="aggregate") as exc:
        tie_arcs(ties, aggregate={"11": "N"})
    assert exc.value.column == "source_province" and exc.value.rows == [3]
    with pytest.raises(InputError, match="unknown direction") as exc:
        tie_arcs(ties.assign(direction="sideways"))
    assert exc.value.column == "direction"


def test_one_arrow_per_tie_coloured_by_direction() -> None:
    ties = pd.DataFrame(
        {
            "source_province": ["A", "B", "A", "C"],
            "target_province": ["B", "A", "C", "B"],
            "direction": ["forward", "reverse", "two_way", "unknown"],
        }
    )
    pos = {"A": (0.0, 0.0), "B": (1.0, 0.0), "C": (0.5, 1.0)}
    fig = new_figure()
    ax = fig.add_subplot()
    arcs = tie_arcs(ties)
    patches = draw_tie_arcs(ax, arcs, pos)
    assert len(patches) == len(ties)
    by_gid = {p.get_gid(): p for p in patches}
    for rec in ties.itertuples():
        p = by_gid[f"{rec.direction}:{rec.source_province}->{rec.target_province}"]
        assert to_rgba(p.get_edgecolor())[:3] == to_rgba(DIRECTION_COLOURS[rec.direction])[:3]
        style = p.get_arrowstyle()
        # two-way: heads at both ends; others: one head, at the receiver
        assert (style.arrow == "<|-|>") == (rec.direction == "two_way")
        assert ARROW_STYLES[rec.direction] == style.arrow
        assert p.get_connectionstyle().rad == 0.25  # curved, not straight
    # A->B and B->A bend to opposite sides: their midpoints differ
    fig.canvas.draw()
    mids = {}
    for gid in ("forward:A->B", "reverse:B->A"):
        verts = by_gid[gid].get_path().vertices
        mids[gid] = verts[len(verts) // 2]
    assert not np.allclose(mids["forward:A->B"], mids["reverse:B->A"])


def test_arc_style_scales_with_count() -> None:
    s60, s5000 = ArcStyle.for_count(60), ArcStyle.for_count(5000)
    assert s5000.alpha < s60.alpha and s5000.linewidth < s60.linewidth and s5000.head < s60.head
    assert s5000.alpha >= 0.15 and s5000.linewidth >= 0.25  # still visible


@pytest.mark.parametrize(("n_side", "n_ties"), [(6, 60), pytest.param(30, 5000, marks=pytest.mark.slow)])
def test_plot_tie_map_renders_every_tie(tmp_path: Path, n_side: int, n_ties: int) -> None:
    regions = _grid_regions(n_side)
    ids = regions["region_id"].tolist()
    ry = pd.DataFrame({"region_id": ids * 2, "year": [2000] * len(ids) + [2001] * len(ids)})
    ry["growth"] = np.linspace(0.0, 0.1, len(ry))
    ties = _random_ties(ids, n_ties, seed=3)
    paths = plot_tie_map(regions, ry, ties, path_stem=tmp_path / "F2", title="ties")
    assert [p.name for p in paths] == ["F2.png", "F2.pdf"] and all(p.stat().st_size > 0 for p in paths)
    arcs = tie_arcs(ties[ties["same_province"] == 0])
    assert arcs["n_ties"].sum() == int((ties["same_province"] == 0).sum())


def test_plot_tie_map_deterministic(tmp_path: Path) -> None:
    regions = _grid_regions(4)
    ids = regions["region_id"].tolist()
    ry = pd.DataFrame({"region_id": ids, "year": 2000, "growth": np.arange(len(ids), dtype=float)})
    ties = _random_ties(ids, 30, seed=1)
    a = plot_tie_map(regions, ry, ties, path_stem=tmp_path / "a", title="t")
    b = plot_tie_map(regions, ry, ties, path_stem=tmp_path / "b", title="t")
    for p, q in zip(a, b, strict=True):
        assert p.read_bytes() == q.read_bytes()


def test_5000_ties_one_patch_each_without_saving() -> None:
    ids = [f"{k:04d}" for k in range(900)]
    ties = _random_ties(ids, 5000, seed=7)
    arcs = tie_arcs(ties)
    pos = {u: (float(k % 30), float(k // 30)) for k, u in enumerate(ids)}
    fig = new_figure()
    patches = draw_tie_arcs(fig.add_subplot(), arcs, pos)
    assert len(patches) == len(arcs) and arcs["n_ties"].sum() == 5000
    style = ArcStyle.for_count(len(arcs))
    assert all(p.get_alpha() == style.alpha for p in patches)
    colours = {p.get_gid().split(":")[0]: to_rgba(p.get_edgecolor())[:3] for p in patches}
    assert colours == {d: to_rgba(c)[:3] for d, c in DIRECTION_COLOURS.items()}


def test_tie_map_step_on_the_spine(spine: dict[str, Path], tmp_path: Path) -> None:
    from zonespill.io import read_parquet
    from zonespill.maps import tie_map_step

    paths = tie_map_step(
        regions=spine["regions"],
        region_year=spine["region_year"],
        pair_year=spine["pair_year"],
        path_stem=tmp_path / "F2",
    )
    assert all(p.stat().st_size > 0 for p in paths)
    py = read_parquet(spine["pair_year"])
    cross = py[py["same_province"] == 0].drop_duplicates("collab_id")
    arcs = tie_arcs(cross)
    assert arcs["n_ties"].sum() == len(cross)  # every cross-unit tie is drawn (merged or not)


def test_direction_panels_hold_one_direction_each(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from zonespill import figures

    captured: list[object] = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, stem: captured.append(fig) or [])
    regions = _grid_regions(5)
    ids = regions["region_id"].tolist()
    ry = pd.DataFrame({"region_id": ids, "year": 2000, "growth": np.arange(len(ids), dtype=float)})
    ties = _random_ties(ids, 200, seed=2)
    plot_tie_map(regions, ry, ties, path_stem=tmp_path / "p", title="t", panels="direction")
    fig = captured[0]
    maps = [ax for ax in fig.axes if ax.get_title()]  # type: ignore[attr-defined]
    assert len(maps) == ties["direction"].nunique()
    for ax in maps:
        dirs = {a.get_gid().split(":")[0] for a in ax.patches if a.get_gid()}
        assert len(dirs) == 1 and ax.get_title().startswith(DIRECTION_LABELS[dirs.pop()])
    # the legend names every colour, with its tie count
    texts = [t.get_text() for t in fig.legends[0].get_texts()]  # type: ignore[attr-defined]
    for d in ties["direction"].unique():
        assert f"{DIRECTION_LABELS[d]}: {int((ties['direction'] == d).sum())} ties" in texts
    with pytest.raises(InputError, match="panels"):
        plot_tie_map(regions, ry, ties, path_stem=tmp_path / "q", title="t", panels="grid")  # type: ignore[arg-type]
