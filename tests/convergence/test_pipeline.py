"""Convergence pipeline steps (C1–C5, FC1–FC3): outputs exist, degrade gracefully, are byte-deterministic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zonespill.convergence import designs, pipeline
from zonespill.errors import ConfigError

FORMATS = ("tex", "md", "csv", "html")


def _run_all(paths: dict[str, Path], out: Path, options: dict[str, Any] | None = None) -> list[Path]:
    opts = options or {}
    tables, figs = out / "tables", out / "figures"
    written = pipeline.sigma_step(
        opts,
        region_year=paths["region_year"],
        provenance=paths["provenance"],
        outdir=tables,
        figure_stem=figs / "FC1_sigma_groups",
        formats=FORMATS,
    )
    written += pipeline.beta_step(
        opts,
        region_year=paths["region_year"],
        weights=paths["weights"],
        weights_meta=paths["weights_meta"],
        provenance=paths["provenance"],
        outdir=tables,
        figure_stem=figs / "FC2_beta_scatter",
        formats=FORMATS,
    )
    written += pipeline.panel_step(
        opts,
        region_year=paths["region_year"],
        weights=paths["weights"],
        weights_meta=paths["weights_meta"],
        provenance=paths["provenance"],
        outdir=tables,
        formats=FORMATS,
    )
    written += pipeline.clubs_step(
        opts,
        region_year=paths["region_year"],
        regions=paths["regions"],
        collaborations=paths["collaborations"],
        provenance=paths["provenance"],
        outdir=tables,
        figure_stem=figs / "FC3_transition_paths",
        formats=FORMATS,
    )
    return written


def _names(written: list[Path], root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in written)


def test_tiny_spine_outputs_deterministic_and_clubs_skipped(spine: dict[str, Path], tmp_path: Path) -> None:
    a = _run_all(spine, tmp_path / "a")
    b = _run_all(spine, tmp_path / "b")
    assert _names(a, tmp_path / "a") == _names(b, tmp_path / "b")
    expected = {f"tables/{t}.{f}" for t in ("C1", "C2", "C3", "C4", "C4m", "C5") for f in FORMATS}
    expected |= {
        f"figures/{s}.{e}"
        for s in ("FC1_sigma_groups", "FC2_beta_scatter", "FC3_transition_paths")
        for e in ("png", "pdf")
    }
    assert set(_names(a, tmp_path / "a")) == expected
    for p, q in zip(sorted(a), sorted(b), strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name
    c4 = (tmp_path / "a" / "tables" / "C4.md").read_text(encoding="utf-8")
    assert "Clubs not estimated" in c4 and "8 years" in c4
    for t in ("C2", "C3"):
        csv = (tmp_path / "a" / "tables" / f"{t}.csv").read_text(encoding="utf-8")
        assert re.search(r"\bnan\b", csv, flags=re.IGNORECASE) is None


def _long_region_year(short: pd.DataFrame, years: range = range(2003, 2023), seed: int = 3) -> pd.DataFrame:
    """A 20-year panel on the tiny provinces, keeping their tie columns (last year's values)."""
    rng = np.random.default_rng(seed)
    last = short.sort_values("year").groupby("region_id").tail(1).set_index("region_id")
    ties = [c for c in short.columns if c.startswith(("first_", "active_", "n_"))]
    rows = []
    for i, u in enumerate(sorted(last.index)):
        level = 9.0 + 0.2 * i
        for t in years:
            level += 0.08 - 0.03 * (level - 9.6) + rng.normal(0, 0.01)
            row = {
                "region_id": u,
                "year": t,
                "gdp_pc": float(np.exp(level)),
                "log_gdp_pc": level,
                "vintage": "new",
            }
            row.update({c: last.loc[u, c] for c in ties})
            for c in ties:
                if c.startswith("active_"):
                    f = int(last.loc[u, "first_" + c[len("active_") :]])
                    row[c] = int(0 < f <= t)
            rows.append(row)
    return pd.DataFrame(rows)


def test_long_panel_runs_clubs_and_options(spine: dict[str, Path], tmp_path: Path) -> None:
    short = pd.read_parquet(spine["region_year"])
    long = _long_region_year(short)
    paths = dict(spine)
    paths["region_year"] = tmp_path / "region_year_long.parquet"
    long.to_parquet(paths["region_year"], index=False)
    written = _run_all(paths, tmp_path / "out", {"hp_lambda": 400, "merge": "PS", "spatial": False})
    assert len(written) == 6 * len(FORMATS) + 6
    c4 = (tmp_path / "out" / "tables" / "C4.csv").read_text(encoding="utf-8")
    assert "full panel" in c4 and "not estimated" not in c4
    # C4: sizes and log-t statistics with each club's own test; members in the companion table C4m
    c4t = pd.read_csv(tmp_path / "out" / "tables" / "C4.csv", comment=None)
    assert "passes (t > −1.65)" in c4t.columns and "members" not in c4t.columns
    c4m = pd.read_csv(tmp_path / "out" / "tables" / "C4m.csv")
    ids = {str(u) for u in long["region_id"].unique()}
    assert {str(u) for u in c4m["id"].dropna() if str(u) in ids} == ids  # one row per unit
    clubs = c4t[c4t["group"].astype(str).str.match(r"club \d")]
    for _, row in clubs.iterrows():
        k = str(row["group"]).split()[1]
        assert (c4m["club"] == f"club {k}").sum() == int(row["n"])
        assert row["passes (t > −1.65)"] == ("yes" if float(row["t"]) > -1.65 else "no")
    assert "NOMINAL" in c4 or "real" in c4
    c5 = (tmp_path / "out" / "tables" / "C5.csv").read_text(encoding="utf-8")
    assert "two-way partner pairs" in c5 and "all province pairs (benchmark)" in c5
    c2 = (tmp_path / "out" / "tables" / "C2.md").read_text(encoding="utf-8")
    assert "SEM" not in c2.split("Dependent variable")[0]  # spatial columns switched off


def test_core_option_reaches_the_club_algorithm(spine: dict[str, Path], tmp_path: Path) -> None:
    from zonespill.convergence import club_convergence

    long = _long_region_year(pd.read_parquet(spine["region_year"]))
    names = {u: u for u in long["region_id"].astype(str)}
    for core in ("abs_t", "t"):
        des = designs.club_design(long, names, core=core)
        assert des.result is not None and des.result.core == core
        panel = long.assign(log_gdp_pc=np.log(long["gdp_pc"]))
        ref = club_convergence(panel, value="log_gdp_pc", unit="region_id", time="year", filter="hp",
                               hp_lambda=400.0, merge="PS", time_trim=1 / 3, core=core)
        assert [sorted(m) for m in des.result.clubs["members"]] == [sorted(m) for m in ref.clubs["members"]]
    with pytest.raises(ConfigError, match=r"convergence\.core"):
        pipeline.convergence_options({"core": "largest"})


def test_unknown_option_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown convergence option"):
        pipeline.convergence_options({"hp_lamda": 100})
    assert pipeline.convergence_options(None)["hp_lambda"] == 400.0


def test_clubs_say_real_or_nominal(spine: dict[str, Path], tmp_path: Path) -> None:
    long = _long_region_year(pd.read_parquet(spine["region_year"]))
    cases = (("nominal", "NOMINAL"), ("real (base 2010, CPI; national)", "log real GDP per capita"))
    for basis, word in cases:
        path = tmp_path / f"ry_{word[:4]}.parquet"
        long.assign(price_basis=basis).to_parquet(path, index=False)
        out = tmp_path / word[:4]
        pipeline.clubs_step(
            {"spatial": False},
            region_year=path,
            regions=spine["regions"],
            collaborations=spine["collaborations"],
            provenance=spine["provenance"],
            outdir=out,
            figure_stem=out / "FC3",
            formats=("md",),
        )
        text = (out / "C4.md").read_text(encoding="utf-8")
        assert word in text and f"GDP per capita: {basis.split(' (')[0]}" in text
        assert word in (out / "C4m.md").read_text(encoding="utf-8")
