"""The bundled raw data is read-only: its bytes must match the MANIFEST."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "china"


def manifest() -> list[dict[str, str]]:
    with open(RAW / "MANIFEST", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["file"])
def test_manifest_sha256(entry: dict[str, str]) -> None:
    assert entry["source"] and entry["licence"] and entry["what"]
    digest = hashlib.sha256((RAW / entry["file"]).read_bytes()).hexdigest()
    assert digest == entry["sha256"], (
        f"{entry['file']} differs from the MANIFEST: raw inputs must not be edited"
    )


def test_every_file_is_listed() -> None:
    listed = {e["file"] for e in manifest()} | {"MANIFEST", "SHA256SUMS"}
    assert {p.name for p in RAW.iterdir()} <= listed
