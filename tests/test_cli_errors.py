"""The CLI never shows a raw traceback: input errors are one line, anything unexpected names the
step and the log that holds the traceback (issue 10 part 4)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from zonespill import cli
from zonespill.errors import InputError


@pytest.fixture
def steps() -> Iterator[None]:
    def boom(ns: argparse.Namespace) -> None:
        raise KeyError("gdp_pc")  # a bug deep inside a step

    def reject(ns: argparse.Namespace) -> None:
        raise InputError("value is not a number", source="panel.csv", rows=[6], column="gdp_new")

    cli._STEPS["test-boom"] = (boom, lambda p: None)
    cli._STEPS["test-reject"] = (reject, lambda p: None)
    yield
    del cli._STEPS["test-boom"], cli._STEPS["test-reject"]


def test_unexpected_exception_names_the_step_and_the_log(
    steps: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "logs/step.log"
    assert cli.main(["test-boom", "--log", str(log)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert (
        len(lines) == 1 and "step 'test-boom'" in lines[0] and str(log) in lines[0] and "KeyError" in lines[0]
    )
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "gdp_pc" in text


def test_input_error_is_one_line(steps: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["test-reject", "--log", str(tmp_path / "x.log")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["ERROR zonespill: panel.csv, row(s) 6, column 'gdp_new': value is not a number"]


def test_corrupted_intermediate_is_reported_with_the_fix(tmp_path: Path) -> None:
    from zonespill.io import read_parquet

    bad = tmp_path / "results/canonical/panel.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a parquet file at all")
    with pytest.raises(InputError) as info:
        read_parquet(bad)
    assert f"corrupted intermediate {bad}; delete it and rerun" in str(info.value)
    assert "magic bytes" not in str(info.value)
