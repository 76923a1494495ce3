"""Atomic writers and the clean-up of a killed writer's temporary files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from zonespill.io import atomic_path, remove_stale_temporaries, write_parquet


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("partial", encoding="utf-8")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_remove_stale_temporaries_removes_only_writer_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "results" / "tables"
    out.mkdir(parents=True)
    stale = out / ".T1.csv.k3x_9q2a.csv"
    stale.write_text("half", encoding="utf-8")
    keep = [out / ".gitkeep", out / "T1.csv", out / ".hidden.config"]
    for p in keep:
        p.write_text("x", encoding="utf-8")
    assert remove_stale_temporaries(tmp_path / "results") == [stale]
    assert not stale.exists()
    assert all(p.exists() for p in keep)
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_parquet_is_byte_identical_across_writes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_parquet(tmp_path / "one.parquet", frame)
    write_parquet(tmp_path / "two.parquet", frame)
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()


def test_stale_clean_up_touches_only_this_runs_declared_outputs(tmp_path: Path) -> None:
    """A concurrent run with its own output folder inside results/ keeps its live temporaries."""
    res = tmp_path / "results"
    ours = [res / "tables" / ".T1.csv.k3x_9q2a.csv", res / "montecarlo" / ".chunk_3.parquet.ab12cd34.parquet"]
    theirs = [
        res / "other_run" / "tables" / ".T1.csv.zz99yy88.csv",  # same output name, another run's folder
        res / "tables" / ".T9.csv.k3x_9q2a.csv",  # not an output of this run
    ]
    for p in ours + theirs:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("half", encoding="utf-8")
    declared = [str(res / "tables" / "T1.csv"), str(res / "montecarlo" / "chunk_{chunk}.parquet")]
    removed = remove_stale_temporaries(res, outputs=declared)
    assert removed == sorted(ours)
    assert all(not p.exists() for p in ours) and all(p.exists() for p in theirs)
    # outputs outside the output folder are never cleaned
    outside = tmp_path / "elsewhere" / ".x.csv.abcdefgh.csv"
    outside.parent.mkdir()
    outside.write_text("x", encoding="utf-8")
    assert remove_stale_temporaries(res, outputs=[str(tmp_path / "elsewhere" / "x.csv")]) == []
    assert outside.exists()
