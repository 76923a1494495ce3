"""Declared tables run end to end: a user's DiD table (covariates, cluster, sample from YAML),
estimator failures reported per table, the run summary and strict mode, labels from config."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from zonespill.io import write_parquet
from zonespill.provenance import write_provenance
from zonespill.study import status
from zonespill.study.run import table_step
from zonespill.study.spec import load_study, step_payload

TRUE_ATT, COVARIATE_EFFECT, SHIFT = 0.5, 1.0, 0.8

USER_TABLE = """
output_dir: results
master_seed: 7
analysis: {level: prefecture}
did: {n_boot: 0}
study:
  unit_label: {singular: city, plural: cities}
  variables: {y: {label: night lights, unit: DN}}
  tables:
    - id: U1
      title: "Policy and night lights ({units})"
      family: did
      design: staggered
      outcome: y
      treatments: [policy]
      cluster: cl
      sample: {groups: {grp: [a]}}
      columns:
        - {estimator: twfe, name: "TWFE"}
        - {estimator: twfe, name: "TWFE + x", covariates: [x]}
        - {estimator: cs_never, name: "CS"}
"""


def _panel(seed: int = 11) -> pd.DataFrame:
    """40 cities × 2000-2012; cohorts 2005 (10), 2008 (10), never (20); x rises with treatment."""
    rng = np.random.default_rng(seed)
    units = [f"c{i:02d}" for i in range(44)]
    cohort = {u: (2005 if i < 10 else 2008 if i < 20 else 0) for i, u in enumerate(units)}
    rows = []
    for i, u in enumerate(units):
        fe = rng.normal(0, 1)
        for t in range(2000, 2013):
            d = float(cohort[u] > 0 and t >= cohort[u])
            x = SHIFT * d + rng.normal(0, 0.2)
            y = fe + 0.05 * (t - 2000) + TRUE_ATT * d + COVARIATE_EFFECT * x + rng.normal(0, 0.1)
            if i >= 40:  # four group-b cities with a huge jump: only the sample filter keeps them out
                y += 50.0 * (t >= 2006)
            rows.append(
                {
                    "region_id": u,
                    "year": t,
                    "y": y,
                    "x": x,
                    "policy": int(d),
                    "cl": f"k{i // 2}",
                    "grp": "b" if i >= 40 else "a",
                    "vintage": "synthetic",
                }
            )
    return pd.DataFrame(rows)


def _csv(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    # DiD row labels carry their support, "policy [20 tr. / 20 never]": key rows by the name
    with open(path, encoding="utf-8", newline="") as fh:
        return {(r["term"].split(" [")[0], r["row"]): r for r in csv.DictReader(fh)}


@pytest.fixture
def spine(tmp_path: Path) -> dict[str, Path]:
    ry = tmp_path / "region_year.parquet"
    write_parquet(ry, _panel())
    prov = tmp_path / "provenance.json"
    write_provenance(prov, {"synthetic": True})
    return {"region_year": ry, "provenance": prov, "out": tmp_path / "out"}


def _run(config: dict, tid: str, spine: dict[str, Path]) -> status.TableStatus:
    payload = step_payload(config, load_study(config), tid)
    return table_step(
        json.loads(json.dumps(payload)),
        outdir=spine["out"] / "tables",
        figure_dir=spine["out"] / "figures",
        status_out=spine["out"] / "study" / f"{tid}.json",
        formats=("csv", "md"),
        region_year=spine["region_year"],
        provenance=spine["provenance"],
    )


def test_user_declared_did_table_uses_covariates_cluster_and_sample(spine: dict[str, Path]) -> None:
    import pyfixest as pf

    config = yaml.safe_load(USER_TABLE)
    result = _run(config, "U1", spine)
    assert result.status == "estimated" and result.reason == ""
    rows = _csv(spine["out"] / "tables/U1.csv")
    est = rows[("policy", "estimate")]
    plain, adjusted, cs = (float(est[c].rstrip("*")) for c in ("TWFE", "TWFE + x", "CS"))
    # without x the ATT absorbs the treatment-induced rise of x; with x it is the direct effect
    assert abs(plain - (TRUE_ATT + COVARIATE_EFFECT * SHIFT)) < 0.15
    assert abs(cs - (TRUE_ATT + COVARIATE_EFFECT * SHIFT)) < 0.15
    assert abs(adjusted - TRUE_ATT) < 0.1
    # the covariate-adjusted TWFE equals fixest's on the declared sample (group a only), clustered by cl
    d = _panel().query("grp == 'a'")
    fit = pf.feols("y ~ policy + x | region_id + year", data=d, vcov={"CRV1": "cl"})
    assert adjusted == pytest.approx(float(fit.coef()["policy"]), abs=5e-4)
    assert float(rows[("policy", "se")]["TWFE + x"].strip("()")) == pytest.approx(
        float(fit.se()["policy"]), abs=5e-4
    )
    assert rows[("Cluster", "stat")]["TWFE + x"] == "cl" and rows[("Covariates", "stat")]["TWFE + x"] == "x"
    text = (spine["out"] / "tables/U1.csv").read_text(encoding="utf-8")
    assert "night lights (DN)" in text and "SEs clustered by cl" in text
    assert "Sample: grp in ['a']" in text and "Sample: 40 cities, 2000–2012" in text  # group b left out
    assert "cohorts (treated units) 2005 (10), 2008 (10); never treated in 2000–2012: 20" in text
    assert "Few clusters: 20 clusters" in text  # from the number of cl values, not of cities
    assert "province" not in text.lower()
    md = (spine["out"] / "tables/U1.md").read_text(encoding="utf-8")
    assert "**Table U1: Policy and night lights (cities)**" in md


def test_an_estimator_exception_is_reported_for_its_table(spine: dict[str, Path], monkeypatch) -> None:
    from zonespill.did import pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(pipeline, "staggered_step", broken)
    result = _run(yaml.safe_load(USER_TABLE), "U1", spine)
    assert result.status == "skipped" and "RuntimeError: solver exploded" in result.reason
    text = (spine["out"] / "tables/U1.csv").read_text(encoding="utf-8")
    assert "not estimated" in text and "solver exploded" in text
    record = json.loads((spine["out"] / "study/U1.json").read_text(encoding="utf-8"))
    assert record["status"] == "skipped" and record["id"] == "U1"


def test_all_columns_failing_makes_the_table_skipped(spine: dict[str, Path]) -> None:
    config = yaml.safe_load(USER_TABLE)
    table = config["study"]["tables"][0]
    table["sample"] = {"groups": {"grp": ["a"]}, "years": [2000, 2004]}  # no treated cohort inside
    result = _run(config, "U1", spine)
    assert result.status == "skipped" and "no treated cohort" in result.reason


def test_run_summary_lists_every_table_and_strict_mode_fails(tmp_path: Path, capsys) -> None:
    paths = []
    for rec in (
        status.TableStatus("T3", "regression", "estimated", dropped_terms=("active_two_way",)),
        status.TableStatus(
            "S1", "spatial", "skipped", reason="3 unit(s) lack population: a (2004); b (2005); c (2006)"
        ),
    ):
        p = tmp_path / f"{rec.id}.json"
        status.write_status(p, rec)
        paths.append(p)
    out = tmp_path / "run_summary.json"
    summary = status.run_summary_step(
        {"strict": False, "tables": ["T3", "S1"]}, statuses=paths[::-1], out=out
    )
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == summary and [t["id"] for t in saved["tables"]] == ["T3", "S1"]
    assert saved["tables"][0]["dropped_terms"] == ["active_two_way"]
    assert saved["tables"][1] | {"reason": ""} == {
        "id": "S1",
        "family": "spatial",
        "status": "skipped",
        "reason": "",
        "dropped_terms": [],
        "failures": [],
        "figures": [],
    }
    printed = capsys.readouterr().out
    assert (
        "1 table(s) estimated, 1 skipped" in printed
        and "S1     skipped: 3 unit(s) lack population" in printed
    )
    with pytest.raises(status.StrictModeError, match=r"\['S1'\]"):
        status.run_summary_step({"strict": True, "tables": ["T3", "S1"]}, statuses=paths, out=out)


def test_spatial_skip_names_the_units_without_population() -> None:
    from zonespill.errors import EstimationError
    from zonespill.spatial import designs
    from zonespill.weights import SpatialWeights

    d = _panel().rename(columns={"y": "log_gdp_pc"})
    d = d[d["region_id"].isin([f"c{i:02d}" for i in range(6)])].sort_values(["region_id", "year"])
    d["growth"] = d.groupby("region_id")["log_gdp_pc"].diff()
    for k in ("forward_giver", "forward_receiver", "reverse", "two_way"):
        d[f"active_{k}"] = d["policy"]
    d.loc[(d["region_id"] == "c01") & (d["year"] % 2 == 0), "growth"] = np.nan  # no year is complete
    d.loc[(d["region_id"] == "c03") & (d["year"] % 2 == 1), "growth"] = np.nan
    ids = sorted(d["region_id"].unique())
    ring = pd.DataFrame({"i": ids, "j": ids[1:] + ids[:1], "w": 1.0})
    W = SpatialWeights.from_edge_list(ring, ids=ids, source="ring")
    with pytest.raises(
        EstimationError, match=r"2 unit\(s\) lack .*: c01 \(2002, 2004, .*\); c03 \(2001, 2003, "
    ):
        designs.growth_sample(d, W)


def test_a_failed_table_still_delivers_its_declared_figures(spine: dict[str, Path], monkeypatch) -> None:
    from zonespill.did import pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(pipeline, "staggered_step", broken)
    config = yaml.safe_load(USER_TABLE)
    config["study"]["tables"][0]["event_study"] = True
    result = _run(config, "U1", spine)
    assert result.status == "skipped" and result.figures == ("FD1_policy",)
    assert (spine["out"] / "figures/FD1_policy.png").stat().st_size > 1000
    assert (spine["out"] / "figures/FD1_policy.pdf").read_bytes().startswith(b"%PDF")
    assert any("figure FD1_policy not drawn" in f for f in result.failures)


def test_citation_note_of_a_declared_table_names_its_methods() -> None:
    from zonespill.study.run import citation_note_of

    d1 = {"id": "D1", "family": "did", "design": "staggered",
          "columns": [{"estimator": "cs"}, {"estimator": "sa", "inference": "wild"}]}
    note = citation_note_of(d1)
    assert note.startswith("References: Callaway and Sant'Anna (2021)")
    assert "Sun and Abraham (2021)" in note and "Cameron, Gelbach and Miller (2008)" in note
    assert citation_note_of({"id": "T1", "family": "descriptives", "design": "summary"}) == ""
class PanicException(BaseException):
    """Stands in for pyo3_runtime.PanicException (a Rust panic; derives from BaseException)."""


def test_an_estimator_panic_is_a_per_table_failure(spine: dict[str, Path], monkeypatch) -> None:
    from zonespill.did import pipeline

    def panics(*args: object, **kwargs: object) -> None:
        raise PanicException("attempt to divide by zero")

    monkeypatch.setattr(pipeline, "staggered_step", panics)
    result = _run(yaml.safe_load(USER_TABLE), "U1", spine)
    assert result.status == "skipped" and "PanicException: attempt to divide by zero" in result.reason
    assert "not estimated" in (spine["out"] / "tables/U1.md").read_text(encoding="utf-8")
    assert json.loads((spine["out"] / "study/U1.json").read_text(encoding="utf-8"))["status"] == "skipped"

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "staggered_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(yaml.safe_load(USER_TABLE), "U1", spine)
