"""Tests for zonespill.figures: deterministic PNG/PDF output and the plot helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill.errors import InputError
from zonespill.figures import new_figure, plot_event_study, plot_lines, save_figure, use_agg

use_agg()


def _event_table(series: bool = False, band: str | None = None) -> pd.DataFrame:
    e = np.arange(-4, 5)
    att = 0.05 * e.clip(min=0) + 0.01 * np.sin(e)
    frame = pd.DataFrame({"e": e, "att": att, "se": 0.02 + 0.002 * np.abs(e)})
    if band:
        frame[f"{band}_lower"] = frame["att"] - 3 * frame["se"]
        frame[f"{band}_upper"] = frame["att"] + 3 * frame["se"]
    if series:
        other = frame.assign(att=frame["att"] * 0.8, est="sun_abraham")
        frame = pd.concat([frame.assign(est="callaway_santanna"), other], ignore_index=True)
    return frame


def _sample_figure() -> object:
    fig = new_figure()
    ax = fig.add_subplot()
    x = np.linspace(0, 1, 50)
    ax.plot(x, np.sin(6 * x), label="sin")
    ax.set_title("Test — ß and ±")
    ax.legend()
    return fig


def test_save_figure_byte_identical(tmp_path: Path) -> None:
    fig = _sample_figure()
    a = save_figure(fig, tmp_path / "a" / "fig")  # type: ignore[arg-type]
    b = save_figure(fig, tmp_path / "b" / "fig")  # type: ignore[arg-type]
    assert [p.name for p in a] == ["fig.png", "fig.pdf"]
    for p, q in zip(a, b, strict=True):
        assert p.read_bytes() == q.read_bytes()
    # a freshly built identical figure gives the same bytes, too
    c = save_figure(_sample_figure(), tmp_path / "c" / "fig")  # type: ignore[arg-type]
    for p, q in zip(a, c, strict=True):
        assert p.read_bytes() == q.read_bytes()
    png, pdf = (p.read_bytes() for p in a)
    assert png.startswith(b"\x89PNG")
    assert pdf.startswith(b"%PDF")
    assert b"matplotlib" not in png.lower()
    for key in (b"/CreationDate", b"/ModDate", b"/Producer", b"/Creator"):
        assert key not in pdf
    # no temporary files left behind
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["fig.pdf", "fig.png"]


def test_save_figure_keeps_dots_in_stem_and_rejects_suffix(tmp_path: Path) -> None:
    paths = save_figure(_sample_figure(), tmp_path / "sigma.v2")  # type: ignore[arg-type]
    assert [p.name for p in paths] == ["sigma.v2.png", "sigma.v2.pdf"]
    with pytest.raises(InputError, match="suffix"):
        save_figure(_sample_figure(), tmp_path / "fig.png")  # type: ignore[arg-type]


@pytest.mark.parametrize("band", [None, "uniform", "cband", "ucb"])
def test_plot_event_study_deterministic(tmp_path: Path, band: str | None) -> None:
    table = _event_table(band=band)
    a = plot_event_study(table, title="Event study", path_stem=tmp_path / "a" / "es", base_period="varying")
    b = plot_event_study(table, title="Event study", path_stem=tmp_path / "b" / "es", base_period="varying")
    for p, q in zip(a, b, strict=True):
        assert p.read_bytes() == q.read_bytes()


def test_plot_event_study_band_changes_output(tmp_path: Path) -> None:
    plain = plot_event_study(_event_table(), title="t", path_stem=tmp_path / "plain", base_period="varying")
    banded = plot_event_study(
        _event_table(band="uniform"), title="t", path_stem=tmp_path / "band", base_period="varying"
    )
    assert plain[0].read_bytes() != banded[0].read_bytes()


def test_plot_event_study_series_and_ci_columns(tmp_path: Path) -> None:
    table = _event_table(series=True, band="uniform")
    table["ci_lower"] = table["att"] - 0.04
    table["ci_upper"] = table["att"] + 0.04
    table = table.drop(columns="se")
    # reference period with a missing interval is drawn without error
    table.loc[table["e"] == -1, ["ci_lower", "ci_upper"]] = np.nan
    paths = plot_event_study(
        table, title="Two estimators", path_stem=tmp_path / "es2", series="est", base_period="varying"
    )
    assert all(p.stat().st_size > 0 for p in paths)


def test_plot_event_study_validation(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        plot_event_study(pd.DataFrame({"e": [0], "att": [1.0]}), title="t", path_stem=tmp_path / "x")
    assert exc.value.column == "se"
    dup = pd.DataFrame({"e": [0, 0], "att": [1.0, 2.0], "se": [0.1, 0.1]})
    with pytest.raises(InputError, match="twice") as exc:
        plot_event_study(dup, title="t", path_stem=tmp_path / "x")
    assert exc.value.rows == [1, 2]
    bad = pd.DataFrame({"e": [0, 1], "att": ["a", 2.0], "se": [0.1, 0.1]})
    with pytest.raises(InputError) as exc:
        plot_event_study(bad, title="t", path_stem=tmp_path / "x")
    assert exc.value.rows == [1] and exc.value.column == "att"
    assert not list(tmp_path.iterdir())


def test_plot_lines(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"year": [2003, 2001, 2002], "sigma": [0.40, 0.50, 0.45], "sigma_w": [0.41, 0.52, np.nan]}
    )
    a = plot_lines(
        frame,
        "year",
        ["sigma", "sigma_w"],
        title="Sigma",
        ylabel="SD of log GDP pc",
        path_stem=tmp_path / "a",
    )
    b = plot_lines(
        frame,
        "year",
        ["sigma", "sigma_w"],
        title="Sigma",
        ylabel="SD of log GDP pc",
        path_stem=tmp_path / "b",
    )
    for p, q in zip(a, b, strict=True):
        assert p.read_bytes() == q.read_bytes()
    with pytest.raises(InputError) as exc:
        plot_lines(frame, "year", ["nope"], title="t", ylabel="y", path_stem=tmp_path / "c")
    assert exc.value.column == "nope"


# ----------------------------------------------------------------------------- FD1 readability
def _universal_table(anticipation: int = 0) -> pd.DataFrame:
    """Synthetic universal-base event study: the omitted period is exactly 0 with no SE."""
    e = np.arange(-5, 4)
    att = np.where(e >= 0, 0.1 + 0.02 * e, 0.01 * np.cos(e))
    se = np.full(len(e), 0.03)
    ref = -1 - anticipation
    att[e == ref] = 0.0
    se[e == ref] = np.nan
    # treated units per e: the late event times rest on one unit
    n = np.array([3, 4, 6, 6, 6, 6, 5, 1, 1])
    return pd.DataFrame({"e": e, "att": att, "se": se, "n_treated": n})


def _hollow_points(ax: object) -> set[float]:
    from matplotlib.colors import to_rgba

    out: set[float] = set()
    for line in ax.get_lines():  # type: ignore[attr-defined]
        if line.get_marker() == "o" and to_rgba(line.get_markerfacecolor()) == to_rgba("white"):
            out.update(float(x) for x in line.get_xdata())
    return out


def test_event_study_treated_strip_hollow_points_and_reference() -> None:
    from zonespill.figures import event_study_figure

    table = _universal_table()
    fig = event_study_figure(table, title="t")
    ax, strip = fig.axes
    # the strip shows one bar per event time, height = treated units
    heights = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in strip.patches}
    assert heights == dict(zip(table["e"].tolist(), table["n_treated"].astype(float).tolist(), strict=True))
    # estimates on < 2 treated units (e = 2, 3) are hollow; nothing else is
    assert _hollow_points(ax) == {2.0, 3.0}
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "rests on < 2 treated units" in labels
    assert any(lab.startswith("omitted (reference) period e = -1") for lab in labels)
    # the reference line sits at the omitted period e = -1 (universal base, no anticipation)
    vlines = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert vlines == [-1]
    # min_treated moves the threshold
    fig5 = event_study_figure(table, title="t", min_treated=5)
    assert _hollow_points(fig5.axes[0]) == {-5.0, -4.0, 2.0, 3.0}


def test_event_study_anticipation_shifts_reference_and_shades_window() -> None:
    from matplotlib.patches import Polygon, Rectangle

    from zonespill.figures import event_study_figure

    table = _universal_table(anticipation=2)
    fig = event_study_figure(table, title="t", anticipation=2)
    ax = fig.axes[0]
    vlines = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert vlines == [-3]
    spans = [p for p in ax.patches if isinstance(p, Polygon | Rectangle)]
    assert len(spans) == 1
    span = spans[0]
    xs = span.get_xy()[:, 0] if isinstance(span, Polygon) else [span.get_x(), span.get_x() + span.get_width()]
    assert min(xs) == -2.5 and max(xs) == -0.5
    assert any("anticipation window" in t.get_text() for t in fig.legends[0].get_texts())
    # the same table read with the default anticipation 0 puts the base at e = -1, where the
    # table has an estimate: refused, because the reference line would sit on an estimate
    with pytest.raises(InputError, match="base period") as exc:
        event_study_figure(table, title="t", base_period="universal")
    assert exc.value.column == "att" and exc.value.rows == [5]
    # without an explicit base period such a table can only be varying-base: drawn so, and said
    legend = [t.get_text() for t in event_study_figure(table, title="t").legends[0].get_texts()]
    assert any("varying base" in t and "read from the table" in t for t in legend)
    assert not any(t.startswith("omitted (reference)") for t in legend)


def test_event_study_varying_base_and_counts_from_panel() -> None:
    from zonespill.figures import event_study_figure, treated_units_by_event_time

    panel = pd.DataFrame(
        {
            "unit": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
            "year": [2000, 2001, 2002, 2003] * 3,
            "cohort": [2002] * 4 + [2001] * 4 + [0] * 4,
        }
    )
    counts = treated_units_by_event_time(panel, unit="unit", time="year", cohort="cohort")
    # a: e = -2..1, b: e = -1..2; c never treated
    assert counts.to_dict() == {-2: 1, -1: 2, 0: 2, 1: 2, 2: 1}
    table = pd.DataFrame({"e": [-2, -1, 0, 1, 2], "att": [0.02, -0.01, 0.1, 0.12, 0.2], "se": 0.05})
    fig = event_study_figure(table, title="t", base_period="varying", n_treated=counts)
    ax = fig.axes[0]
    assert _hollow_points(ax) == {-2.0, 2.0}
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("varying base" in lab for lab in labels)
    # e = -1 is an estimate here, so it is drawn as one (filled)
    filled = {
        float(x)
        for ln in ax.get_lines()
        if ln.get_marker() == "o" and ln.get_markerfacecolor() != "white"
        for x in ln.get_xdata()
    }
    assert -1.0 in filled


def test_event_study_without_counts_keeps_single_axis(tmp_path: Path) -> None:
    from zonespill.figures import event_study_figure

    table = _universal_table().drop(columns="n_treated")
    assert len(event_study_figure(table, title="t").axes) == 1
    paths = plot_event_study(table, title="t", path_stem=tmp_path / "u", omitted=[-1])
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(InputError, match="base_period"):
        plot_event_study(table, title="t", path_stem=tmp_path / "v", base_period="fixed")  # type: ignore[arg-type]
