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
    a = plot_event_study(table, title="Event study", path_stem=tmp_path / "a" / "es")
    b = plot_event_study(table, title="Event study", path_stem=tmp_path / "b" / "es")
    for p, q in zip(a, b, strict=True):
        assert p.read_bytes() == q.read_bytes()


def test_plot_event_study_band_changes_output(tmp_path: Path) -> None:
    plain = plot_event_study(_event_table(), title="t", path_stem=tmp_path / "plain")
    banded = plot_event_study(_event_table(band="uniform"), title="t", path_stem=tmp_path / "band")
    assert plain[0].read_bytes() != banded[0].read_bytes()


def test_plot_event_study_series_and_ci_columns(tmp_path: Path) -> None:
    table = _event_table(series=True, band="uniform")
    table["ci_lower"] = table["att"] - 0.04
    table["ci_upper"] = table["att"] + 0.04
    table = table.drop(columns="se")
    # reference period with a missing interval is drawn without error
    table.loc[table["e"] == -1, ["ci_lower", "ci_upper"]] = np.nan
    paths = plot_event_study(table, title="Two estimators", path_stem=tmp_path / "es2", series="est")
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
