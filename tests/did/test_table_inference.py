"""Declared DiD tables: stars only from a valid small-sample method, never on thin or
one-treated-cluster rows; anticipation and pre-trend tests for every estimator (issue 11)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from zonespill.did import designs as D
from zonespill.did import pipeline as P
from zonespill.tables import RegressionTable, render_table

YEARS = list(range(2003, 2013))


def _panel(first: dict[str, int], *, effect: float = 0.3, lead: int = 0, noise: float = 0.02,
           seed: int = 0) -> pd.DataFrame:
    """y = α_i + λ_t + effect · 1{0 < g_i, t ≥ g_i − lead} + noise (treatment starts ``lead`` early)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, (rid, g) in enumerate(sorted(first.items())):
        for t in YEARS:
            d = float(g > 0 and t >= g - lead)
            rows.append({"unit": rid, "year": t, "cohort": g,
                         "y": 1.0 + 0.1 * k + 0.02 * (t - 2003) + effect * d + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


def _sample(first: dict[str, int], name: str, **kw: object) -> D.Sample:
    return D.Sample(name=name, data=_panel(first, **kw), first_year=YEARS[0], last_year=YEARS[-1])  # type: ignore[arg-type]


GOOD = {**{f"t{i}": 2007 for i in range(6)}, **{f"c{i}": 0 for i in range(8)}}
WILD = D.EstimatorSettings(n_boot=199, inference="wild")


def _row(sample: D.Sample, est: str, settings: D.EstimatorSettings) -> D.Estimate:
    r = D.estimate(sample, est, settings, seed=11)
    assert r.ok, r.reason
    return dataclasses.replace(r, design=sample.name)


@pytest.mark.parametrize("est", [D.CS_NOTYET, D.BJS, D.SA, D.TWFE])
def test_no_star_on_thin_or_single_treated_cluster_rows(est: str) -> None:
    good = _row(_sample(GOOD, "valid"), est, WILD)
    # 10 treated units against a single never-treated control, thin cells included on request
    thin_first = {**{f"t{i}": 2007 for i in range(10)}, "c0": 0}
    thin = _row(_sample(thin_first, "thin"), est, dataclasses.replace(WILD, include_thin_cells=True))
    # three treated units, all in one cluster: one treated cluster
    one = _sample(GOOD, "one treated cluster")
    cl = one.data["unit"].map(lambda u: "T" if u.startswith("t") else u)
    one = dataclasses.replace(one, data=one.data.assign(cl=cl), cluster="cl")
    single = _row(one, est, WILD)
    assert good.starred and good.pvalue < 0.01 and good.inference == "wild"
    assert thin.thin and not thin.starred and "fewer than" in str(thin.no_star_reason())
    assert not single.inference_possible and not single.starred
    assert "1 treated cluster" in str(single.no_star_reason())
    # the effect is large in every row: a normal p-value would star all three
    for r in (thin, single):
        assert abs(r.att / r.se) > 3
    frame, _ = D.estimates_frames([good, thin, single])
    tab = RegressionTable.from_long(frame, None, table_id="X", title="t")
    md = render_table(tab, "md", provenance_hash="0" * 64)
    lines = {t: next(ln for ln in md.splitlines() if ln.startswith(f"| {t} ")) for t in
             ("valid", "thin", "one treated cluster")}
    assert "\\*\\*\\*" in lines["valid"]
    assert "\\*" not in lines["thin"] and "\\*" not in lines["one treated cluster"]
    assert np.isnan(tab.pvalues[1][0]) and np.isnan(tab.pvalues[2][0])


def test_table_without_star_column_keeps_normal_stars() -> None:
    frame = pd.DataFrame({"model": ["m", "m"], "term": ["a", "b"], "estimate": [1.0, 1.0],
                          "se": [0.1, 0.1], "star": [True, False]})
    tab = RegressionTable.from_long(frame, None, table_id="X", title="t")
    assert tab.star_string(tab.pvalues[0][0]) == "***"
    assert tab.star_string(tab.pvalues[1][0]) == ""


@pytest.mark.parametrize("est", [D.CS_NOTYET, D.BJS, D.SA, D.TWFE])
def test_anticipation_reaches_every_estimator(est: str) -> None:
    first = {**{f"t{i}": 2007 for i in range(4)}, **{f"u{i}": 2010 for i in range(4)},
             **{f"c{i}": 0 for i in range(6)}}
    s = _sample(first, "lead", lead=1, noise=1e-4, effect=0.2)
    with_delta = _row(s, est, D.EstimatorSettings(n_boot=None, anticipation=1))
    without = _row(s, est, D.EstimatorSettings(n_boot=None, anticipation=0))
    assert with_delta.att == pytest.approx(0.2, abs=2e-3)
    assert abs(without.att - 0.2) > 0.01  # the anticipation year contaminates the δ = 0 comparison
    pre = with_delta.pretrend
    assert pre is not None and pre.method in ("wald", "wald-pinv")
    # the anticipation period is never a tested lead
    assert pre.pvalue > 1e-3


@pytest.mark.parametrize("est", [D.CS_NOTYET, D.BJS, D.SA, D.TWFE])
def test_pretrend_reported_for_every_estimator(est: str) -> None:
    s = _sample(GOOD, "valid")
    r = _row(s, est, D.EstimatorSettings(n_boot=None))
    assert r.pretrend is not None and np.isfinite(r.pretrend.pvalue) and r.pretrend.n_leads > 0
    notes = P._pretrend_notes({"valid": {"col": r}}, ["col"], anticipation=0)
    assert notes and "valid: col p " in notes[0] and "n/a" not in notes[0]


def test_inference_notes_name_method_clusters_and_no_star_reason() -> None:
    good = _row(_sample(GOOD, "valid"), D.TWFE, WILD)
    one = _sample(GOOD, "one")
    one = dataclasses.replace(one, data=one.data.assign(cl=one.data["unit"].str[0]), cluster="cl")
    single = _row(one, D.TWFE, WILD)
    from zonespill.study.spec import Labels

    notes = P._inference_notes({"valid": {"TWFE": good}, "one": {"TWFE": single}}, ["TWFE"],
                               lab=Labels("province", "provinces"), alpha=0.05)
    text = " ".join(notes)
    assert "wild cluster restricted bootstrap-t" in text
    assert "valid 14 clusters, 6 treated" in text
    assert "No star: one, TWFE: inference not possible: 1 treated cluster" in text


def test_fd1_uses_a_universal_base_with_anticipation_and_treated_counts(tmp_path, monkeypatch) -> None:
    from zonespill import figures

    from .test_pipeline import FIRST, _write_inputs

    calls: list[dict] = []

    def fake(table: pd.DataFrame, **kw: object) -> list:
        calls.append({"table": table, **kw})
        return []

    monkeypatch.setattr(figures, "plot_event_study", fake)
    paths = _write_inputs(tmp_path / "in", FIRST)
    table = {**P._declared_d1("D1"), "treatments": ["two_way"]}
    P.staggered_step({"n_boot": 0, "anticipation": 1}, region_year=paths["region_year"],
                     provenance=paths["provenance"], outdir=tmp_path / "t", figure_dir=tmp_path / "f",
                     formats=("md",), master_seed=1, table=table)
    assert len(calls) == 1
    kw = calls[0]
    assert kw["base_period"] == "universal" and kw["anticipation"] == 1 and kw["omitted"] == [-2]
    es = calls[0]["table"]
    # universal base: the reference period e = −δ − 1 is estimated as exactly zero
    assert es.loc[es["e"] == -2, "att"].abs().max() < 1e-12
    assert kw["n_treated"] is not None and int(kw["n_treated"].max()) >= 2
    md = (tmp_path / "t/D1.md").read_text(encoding="utf-8")
    assert "universal base period (reference e = -2), anticipation 1" in md
    assert "every estimator (CS, BJS, SA, TWFE) dates treatment from G − 1" in md


def test_programmes_behind_cohorts_and_dominance_flag() -> None:
    first = {**{f"t{i}": 2007 for i in range(4)}, "u0": 2010, **{f"c{i}": 0 for i in range(3)}}
    s = _sample(first, "two-way")
    py = pd.DataFrame({
        "collab_id": ["a", "b", "c", "d", "e"],
        "source_province": ["t0", "t1", "t2", "u0", "t3"],
        "target_province": ["x", "x", "x", "y", "x"],
        "direction": ["two_way"] * 5,
        "start_year": [2007, 2007, 2007, 2010, 2007],
        "programme": ["ne_east", "ne_east", "ne_east", "other", "pilot"],
        "same_province": 0,
    })
    tab = P.cohort_programmes(s, py, "two_way")
    got = {(int(r.cohort), r.programme): int(r.n_units) for r in tab.itertuples()}
    assert got == {(2007, "ne_east"): 3, (2007, "pilot"): 1, (2010, "other"): 1}
    notes = P._programme_notes({"two-way": tab}, ["two-way"])
    assert "2007: ne_east (3), pilot (1); 2010: other (1)" in notes[0]
    assert "two-way cohort 2007: 3 of its units first tied by programme ne_east" in notes[1]
    # a forward role counts only the tie's own side
    py["direction"] = "forward"
    assert P.cohort_programmes(s, py, "forward_receiver").empty


def test_baseline_covariate_and_never_treated_column(tmp_path) -> None:
    from .test_pipeline import _write_inputs

    first = {"11": 2006, "12": 2006, "13": 2006, "14": 2009, "15": 2009, "16": 2009, "21": 0}
    paths = _write_inputs(tmp_path / "in", first)
    ry = pd.read_parquet(paths["region_year"])
    out, notes = P.with_baseline_columns(ry, {"columns": [{"covariates": ["baseline_log_gdp_pc"]}]})
    first_year = ry["year"].min()
    expect = ry[ry["year"] == first_year].set_index("region_id")["log_gdp_pc"]
    assert np.allclose(out["baseline_log_gdp_pc"], out["region_id"].map(expect))
    assert notes and f"log_gdp_pc in {first_year}" in notes[0]
    table = {**P._declared_d1("D1"), "treatments": ["two_way"], "event_study": False,
             "columns": [{"estimator": "cs", "covariates": ["baseline_log_gdp_pc"]},
                         {"estimator": "cs_never"}]}
    P.staggered_step({"n_boot": 0}, region_year=paths["region_year"], provenance=paths["provenance"],
                     outdir=tmp_path / "t", figure_dir=tmp_path / "f", formats=("md",), master_seed=1,
                     table=table)
    md = (tmp_path / "t/D1.md").read_text(encoding="utf-8")
    assert "only 1 unit never treated (fewer than min\\_units\\_per\\_side = 2)" in md
    # with enough never-treated units both columns are estimated (the covariate one by DR)
    # treated and never-treated interleaved in the baseline level (the logit does not separate them)
    mixed = {"11": 2006, "12": 0, "13": 2006, "14": 0, "15": 2006, "16": 2009, "21": 0, "22": 2009,
             "23": 0, "24": 2009, "25": 0}
    paths = _write_inputs(tmp_path / "in2", mixed)
    P.staggered_step({"n_boot": 0}, region_year=paths["region_year"], provenance=paths["provenance"],
                     outdir=tmp_path / "t2", figure_dir=tmp_path / "f", formats=("md",), master_seed=1,
                     table=table)
    md = (tmp_path / "t2/D1.md").read_text(encoding="utf-8")
    assert "not estimable" not in md and "baseline\\_log\\_gdp\\_pc" in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| two-way"))
    assert row.count("0.") >= 2  # both columns carry an estimate


def test_note_when_star_and_printed_se_disagree() -> None:
    from zonespill.study.spec import Labels

    r = D.Estimate(design="row", estimator="BJS", att=0.078, se=0.070, pvalue=0.03, n_treated=9,
                   inference="wild", inference_label="wild cluster restricted bootstrap-t (x; 22 clusters)")
    agree = dataclasses.replace(r, se=0.02, pvalue=0.001)
    notes = " ".join(P._inference_notes({"row": {"BJS": r}, "ok": {"BJS": agree}}, ["BJS"],
                                        lab=Labels("province", "provinces"), alpha=0.05))
    assert "row, BJS: p = 0.030 vs |estimate/SE| = 1.11" in notes
    assert "ok, BJS" not in notes.split("can disagree")[1]


def test_bjs_notes_name_randomisation_inference_or_the_wild_null() -> None:
    from zonespill.study.spec import Labels

    s = _sample(GOOD, "valid")
    ri = _row(s, D.BJS, D.EstimatorSettings(n_boot=99, inference="ri"))
    wild = _row(s, D.BJS, WILD)
    assert ri.inference == "ri" and "randomisation inference" in ri.inference_label
    lab = Labels("province", "provinces")
    text_ri = " ".join(P._inference_notes({"valid": {"BJS imputation": ri}}, [], lab=lab, alpha=0.05))
    text_wild = " ".join(P._inference_notes({"valid": {"BJS imputation": wild}}, [], lab=lab, alpha=0.05))
    assert "BJS p-values by randomisation inference" in text_ri
    assert "homogeneous" not in text_ri
    assert "same effect τ0" in text_wild and "randomisation" not in text_wild


def test_bundled_d1_uses_the_wild_bootstrap_for_every_estimator() -> None:
    from zonespill.study.spec import load_study

    d1 = load_study({}).table("D1")
    bjs = [c for c in d1["columns"] if c.get("estimator") == "bjs"]
    assert bjs and all(not c.get("inference") for c in bjs) and d1["inference"] == "wild"
