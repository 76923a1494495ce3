"""Monte Carlo study: chunking invariance, determinism, summary arithmetic, options, CLI steps.

Runs on the tiny .test geography (14 prefectures) so the whole file takes a few seconds.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill import montecarlo as mc
from zonespill.errors import ConfigError, InputError
from zonespill.io import read_parquet, write_json, write_parquet

REPO = Path(__file__).resolve().parents[1]
CENSUS = REPO / ".test/data/prefectures.csv"
PAIRINGS = REPO / ".test/data/pairings.csv"
OPTIONS = {
    "master_seed": 12345,
    "replications": 3,
    "chunks": 3,
    "n_periods": 8,
    "start_year": 2003,
    "census_columns": {"city_code": "code", "city": "name", "province_code": "province_code", "coord": "wkt"},
    "pairings_columns": {
        "program": "programme",
        "start_year": "start",
        "giver_code": "giver",
        "receiver_code": "receiver",
        "direction": "direction",
    },
}


def _chunks(options: dict, n_chunks: int) -> list[pd.DataFrame]:
    return [
        mc.run_chunk(options, census_csv=CENSUS, pairings_csv=PAIRINGS, chunk=c, n_chunks=n_chunks)
        for c in range(n_chunks)
    ]


_SCRIPT = """
import json, sys
from zonespill.io import write_parquet
from zonespill.montecarlo import run_chunk
opts, census, pairings, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for n_chunks in (1, 3):
    for c in range(n_chunks):
        frame = run_chunk({**opts, "chunks": n_chunks}, census_csv=census, pairings_csv=pairings, chunk=c,
                          n_chunks=n_chunks)
        write_parquet(f"{out}/split{n_chunks}_chunk{c}.parquet", frame)
"""


@pytest.fixture(scope="module")
def chunk_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1-chunk and 3-chunk runs in a fresh process with PYTHONHASHSEED=0, as the workflow runs them
    (pyfixest's TWFE differs in the last bit with the per-process string-hash order)."""
    out = tmp_path_factory.mktemp("chunks")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(OPTIONS), str(CENSUS), str(PAIRINGS), str(out)],
        check=True,
        env=env,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def one_chunk(chunk_files: Path) -> list[pd.DataFrame]:
    return [read_parquet(chunk_files / "split1_chunk0.parquet")]


@pytest.fixture(scope="module")
def three_chunks(chunk_files: Path) -> list[pd.DataFrame]:
    return [read_parquet(chunk_files / f"split3_chunk{c}.parquet") for c in range(3)]


def _write_outputs(root: Path, chunks: list[pd.DataFrame], options: dict) -> dict[str, bytes]:
    paths = []
    for i, frame in enumerate(chunks):
        paths.append(root / f"chunk_{i}.parquet")
        write_parquet(paths[-1], frame)
    prov = root / "provenance.json"
    write_json(prov, {"format": "test", "seeds": {"master_seed": 12345}})
    written = mc.summary_step(
        options,
        chunks=paths,
        provenance=prov,
        summary_out=root / "summary.parquet",
        outdir=root / "tables",
        formats=("tex", "md", "csv", "html"),
    )
    return {p.name: p.read_bytes() for p in written}


def test_summary_is_byte_identical_for_one_and_three_chunks(
    one_chunk: list[pd.DataFrame], three_chunks: list[pd.DataFrame], tmp_path: Path
) -> None:
    one = _write_outputs(tmp_path / "one", one_chunk, {**OPTIONS, "chunks": 1})
    three = _write_outputs(tmp_path / "three", list(reversed(three_chunks)), OPTIONS)
    assert set(one) == {"summary.parquet", "M1.tex", "M1.md", "M1.csv", "M1.html"}
    assert one["summary.parquet"] == three["summary.parquet"]
    for name in ("M1.tex", "M1.md", "M1.csv", "M1.html"):
        assert one[name] == three[name], name
    # and the replication rows themselves do not depend on the split
    rows_one = (
        pd.concat(one_chunk).sort_values(["replication", "estimator", "estimand"]).reset_index(drop=True)
    )
    rows_three = (
        pd.concat(three_chunks).sort_values(["replication", "estimator", "estimand"]).reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(rows_one, rows_three)


def test_chunks_partition_the_replications(three_chunks: list[pd.DataFrame]) -> None:
    assert [sorted(set(f["replication"])) for f in three_chunks] == [[0], [1], [2]]
    assert mc.chunk_replications(10, 1, 4) == [1, 5, 9]
    with pytest.raises(InputError, match=r"chunk 4 not in 0\.\.3"):
        mc.chunk_replications(10, 4, 4)


def test_rerun_is_deterministic_and_seeds_matter(chunk_files: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    again.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(OPTIONS), str(CENSUS), str(PAIRINGS), str(again)],
        check=True,
        env=env,
        timeout=300,
    )
    for name in ("split1_chunk0.parquet", "split3_chunk1.parquet"):
        assert (again / name).read_bytes() == (chunk_files / name).read_bytes()
    first = read_parquet(chunk_files / "split3_chunk1.parquet")
    other = mc.run_chunk(
        {**OPTIONS, "master_seed": 1}, census_csv=CENSUS, pairings_csv=PAIRINGS, chunk=1, n_chunks=3
    )
    assert not np.allclose(other["estimate"], first["estimate"], equal_nan=True)


def test_chunk_rows_cover_every_estimator_and_estimand(one_chunk: list[pd.DataFrame]) -> None:
    frame = one_chunk[0]
    assert tuple(frame.columns) == mc.CHUNK_COLUMNS
    pairs = set(zip(frame["estimator"], frame["estimand"], strict=True))
    assert pairs == {
        (e, m) for e in ("twfe", "cs_notyet", "bjs_imputation") for m in ("att_total", "tau")
    } | {("sar", "tau"), ("sar", "rho"), ("sar", "beta")}
    assert len(frame) == 3 * len(pairs)
    z = 1.959963984540054
    ok = frame["error"] == ""
    np.testing.assert_allclose(frame.loc[ok, "ci_upper"] - frame.loc[ok, "estimate"], z * frame.loc[ok, "se"])
    assert set(frame["n_units"]) == {14}


def test_twfe_on_a_clean_dgp_recovers_tau_and_summary_arithmetic(tmp_path: Path) -> None:
    # rho = gamma = b = 0 and a single tie type with an effect: total ATT == tau exactly and TWFE is unbiased
    params = {
        "rho": 0.0,
        "spillover": 0.0,
        "beta": 0.0,
        "tau_forward_giver": 0.0,
        "tau_reverse_giver": 0.0,
        "tau_reverse_receiver": 0.0,
        "tau_two_way": 0.0,
        "tau_forward_receiver": 0.02,
        "noise_sd": 0.002,
    }
    opts = {
        **OPTIONS,
        "replications": 4,
        "chunks": 1,
        "params": params,
        "did_estimators": ["twfe"],
        "spatial_models": [],
    }
    frame = mc.run_chunk(opts, census_csv=CENSUS, pairings_csv=PAIRINGS, chunk=0, n_chunks=1)
    att = frame[frame["estimand"] == "att_total"]
    np.testing.assert_allclose(att["truth"], 0.02, atol=1e-12)
    assert (att["estimate"] - 0.02).abs().max() < 0.01
    summary = mc.summarise([frame]).set_index("estimand")
    est = att["estimate"].to_numpy()
    covered = (att["ci_lower"] <= 0.02) & (att["ci_upper"] >= 0.02)
    assert summary.loc["att_total", "bias"] == pytest.approx(est.mean() - 0.02)
    assert summary.loc["att_total", "rmse"] == pytest.approx(math.sqrt(np.mean((est - 0.02) ** 2)))
    assert summary.loc["att_total", "coverage"] == pytest.approx(covered.mean())
    assert summary.loc["att_total", "n_reps"] == 4


def test_summarise_by_hand() -> None:
    base = {"estimator": "twfe", "estimand": "tau", "truth": 1.0, "error": "", "n_units": 5, "n_pairs": 1}
    rows = []
    for r, (est, se) in enumerate([(0.5, 0.1), (1.5, 1.0), (1.0, 0.5), (3.0, 0.5), (math.nan, math.nan)]):
        rows.append(
            {
                **base,
                "replication": r,
                "estimate": est,
                "se": se,
                "ci_lower": est - 2 * se,
                "ci_upper": est + 2 * se,
            }
        )
    rows[-1]["error"] = "EstimationError: no controls"
    frame = pd.DataFrame(rows)[list(mc.CHUNK_COLUMNS)]
    s = mc.summarise([frame.iloc[3:], frame.iloc[:3]]).iloc[0]
    e = np.array([0.5, 1.5, 1.0, 3.0])
    assert (s["n_reps"], s["n_failed"]) == (4, 1)
    assert s["bias"] == pytest.approx(0.5)
    assert s["rmse"] == pytest.approx(math.sqrt(np.mean((e - 1) ** 2)))
    assert s["sd_estimate"] == pytest.approx(np.std(e, ddof=1))
    assert s["mean_se"] == pytest.approx(0.525)
    assert s["se_ratio"] == pytest.approx(0.525 / np.std(e, ddof=1))
    assert s["coverage"] == pytest.approx(0.5)  # 0.5±0.2 misses, 1.5±2 and 1.0±1 cover, 3.0±1 misses
    with pytest.raises(InputError, match="more than one chunk"):
        mc.summarise([frame, frame])


def test_more_chunks_than_replications_gives_empty_chunks() -> None:
    frame = mc.run_chunk(
        {**OPTIONS, "replications": 1}, census_csv=CENSUS, pairings_csv=PAIRINGS, chunk=2, n_chunks=3
    )
    assert frame.empty and tuple(frame.columns) == mc.CHUNK_COLUMNS


@pytest.mark.parametrize(
    ("bad", "column"),
    [
        ({"replicates": 3}, "replicates"),
        ({"treatment": "forward"}, "treatment"),
        ({"chunks": 0}, "chunks"),
        ({"did_estimators": ["ols"]}, "did_estimators"),
        ({"params": {"rho": 1.5}}, "params"),
        ({"params": {"gamma": 1}}, "params"),
        ({"alpha": 2}, "alpha"),
    ],
)
def test_bad_options_name_the_key(bad: dict, column: str) -> None:
    with pytest.raises(ConfigError) as info:
        mc.resolve_options({**OPTIONS, **bad})
    assert info.value.column == column


def test_study_seed_comes_from_derive_seed() -> None:
    from zonespill.provenance import derive_seed

    assert mc.study_seed(12345) == derive_seed(12345, "montecarlo")


def test_cli_steps_write_chunk_summary_and_m1(tmp_path: Path) -> None:
    import json

    from zonespill.cli import main

    opts = json.dumps({**OPTIONS, "replications": 2, "chunks": 2, "spatial_models": []})
    chunks = []
    for c in range(2):
        out = tmp_path / f"chunk_{c}.parquet"
        code = main(
            [
                "mc-chunk",
                "--options",
                opts,
                "--census-csv",
                str(CENSUS),
                "--pairings-csv",
                str(PAIRINGS),
                "--chunk",
                str(c),
                "--n-chunks",
                "2",
                "--out",
                str(out),
            ]
        )
        assert code == 0
        chunks.append(str(out))
    write_json(tmp_path / "provenance.json", {"format": "test"})
    # M1 is a declared table: the one table step builds it (and records its status)
    table = {"id": "M1", "family": "montecarlo", "design": "m1", "title": "", "figures": []}
    payload = json.dumps({"table": table, "options": json.loads(opts), "master_seed": 0})
    code = main(
        [
            "study-table",
            "--options",
            payload,
            "--chunks",
            *chunks,
            "--provenance",
            str(tmp_path / "provenance.json"),
            "--summary-out",
            str(tmp_path / "summary.parquet"),
            "--outdir",
            str(tmp_path / "tables"),
            "--figure-dir",
            str(tmp_path / "figures"),
            "--status-out",
            str(tmp_path / "M1.json"),
            "--formats",
            "md,csv",
        ]
    )
    assert code == 0
    assert json.loads((tmp_path / "M1.json").read_text(encoding="utf-8"))["status"] == "estimated"
    md = (tmp_path / "tables/M1.md").read_text(encoding="utf-8")
    assert "Table M1" in md and "SIMULATED DATA" in md and "provenance sha256:" in md
    assert len(read_parquet(tmp_path / "summary.parquet")) == 6
    assert not (tmp_path / "tables/M1.tex").exists()
    # a bad option exits with status 2 and writes nothing
    bad = json.dumps({**OPTIONS, "treatment": "nope"})
    assert (
        main(
            [
                "mc-chunk",
                "--options",
                bad,
                "--census-csv",
                str(CENSUS),
                "--pairings-csv",
                str(PAIRINGS),
                "--chunk",
                "0",
                "--n-chunks",
                "1",
                "--out",
                str(tmp_path / "x.parquet"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "x.parquet").exists()


def test_few_clusters_table_flags_one_treated_cluster_and_states_coverage(tmp_path: Path) -> None:
    """M2: one row per design × method; a single treated cluster gets no coverage claim."""
    from zonespill.provenance import build_provenance, write_provenance
    from zonespill.simulation.montecarlo import few_clusters_step

    src = tmp_path / "x.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    prov = tmp_path / "provenance.json"
    write_provenance(prov, build_provenance(inputs={"x": src}, config={}, seeds={}, repo_dir=tmp_path))
    opts = {"few_clusters": {"reps": 40, "n_boot": 199, "n_perm": 39}, "alpha": 0.05}
    few_clusters_step(opts, provenance=prov, master_seed=7, outdir=tmp_path, formats=("csv", "md"))
    rows = pd.read_csv(tmp_path / "M2.csv", comment=None).dropna(subset=["method"])
    rows = rows[rows["method"].isin(["analytic (CRV1, normal)", "wild cluster bootstrap-t (WCR)",
                                     "randomisation inference"])]
    assert len(rows) == 12
    single = rows[rows["treated clusters"].astype(float) == 1]
    assert single["coverage"].isna().all() and single["verdict"].str.contains("not possible").all()
    several = rows[rows["treated clusters"].astype(float) > 1]
    assert several["coverage"].notna().all()
    again = tmp_path / "again"
    few_clusters_step(opts, provenance=prov, master_seed=7, outdir=again, formats=("csv",))
    assert (again / "M2.csv").read_bytes() == (tmp_path / "M2.csv").read_bytes()  # seeded: byte-identical
