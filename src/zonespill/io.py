"""Atomic, deterministic writers used by every CLI step.

Each writer writes to a temporary file in the destination folder and renames it into
place, so an interrupted step never leaves a truncated output behind. Parquet is written
without pandas metadata timestamps and with a fixed row order, so identical inputs give
byte-identical files.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{dest.name}.", suffix=suffix or dest.suffix or ".tmp", dir=dest.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; outputs get the usual permissions (0666 minus the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


# ".<output name>.<8 mkstemp characters><suffix>": the temporary file of `atomic_path`.
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)$")


def remove_stale_temporaries(
    root: str | os.PathLike[str], *, outputs: Iterable[str | os.PathLike[str]] | None = None
) -> list[Path]:
    """Delete temporary files that a killed :func:`atomic_path` writer left behind.

    A step killed between creating its temporary file and renaming it (SIGKILL, node
    failure) leaves a dot-prefixed temporary next to its output. Snakemake only deletes
    declared outputs of incomplete jobs, so the workflow calls this before any job starts.

    With ``outputs`` (the run's declared output paths; Snakemake wildcards such as
    ``{chunk}`` allowed), only temporaries *of those outputs* are removed, and only in
    their own folders: another run writing elsewhere under ``root`` (a sub-folder with its
    own ``output_dir``) is never touched. Without ``outputs`` every writer temporary under
    ``root`` is removed; only do that when nothing else writes there. Returns the files
    removed.
    """
    base = Path(root)
    if not base.exists():
        return []
    if outputs is None:
        removed = [p for p in sorted(base.rglob(".*")) if p.is_file() and _TEMPORARY.match(p.name)]
    else:
        removed = sorted(set(_temporaries_of(base, outputs)))
    for p in removed:
        p.unlink()
    return removed


def _temporaries_of(base: Path, outputs: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Writer temporaries of the declared ``outputs`` that lie under ``base``."""
    resolved = base.resolve()
    for out in outputs:
        pattern = Path(out)
        parent_glob = re.sub(r"\{[^}]*\}", "*", pattern.parent.as_posix())
        parts = re.split(r"(\{[^}]*\})", pattern.name)
        name = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        temp = re.compile(rf"^\.{name}\.[a-z0-9_]{{8}}(\.[A-Za-z0-9]+)$")
        parents = (
            [Path(g) for g in sorted(glob.glob(parent_glob))] if "*" in parent_glob else [Path(parent_glob)]
        )
        for parent in parents:
            try:
                parent.resolve().relative_to(resolved)
            except ValueError:
                continue  # outside the output folder: not ours to clean
            if not parent.is_dir():
                continue
            for p in parent.iterdir():
                if p.name.startswith(".") and p.is_file() and temp.match(p.name):
                    yield p


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``path`` only if the block succeeds."""
    with atomic_path(path) as tmp:
        if "b" in mode:
            with open(tmp, mode) as fh:
                yield fh
        else:
            with open(tmp, mode, encoding=encoding, newline="\n") as fh:
                yield fh


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Deterministic JSON (sorted keys, fixed indentation, trailing newline)."""
    write_text(path, json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n")


def write_parquet(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write ``frame`` (index dropped) to Parquet deterministically and atomically."""
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    # Drop pandas metadata: it embeds library versions, which would make files differ
    # across otherwise identical runs on machines with other patch versions.
    table = table.replace_schema_metadata(None)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=True, write_statistics=True)


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an intermediate Parquet file; a damaged one is named with the way to rebuild it.

    Snakemake reruns a step when its output is older than its inputs, not when the bytes
    were damaged (a disk or copy error keeps the timestamp), so say what to do.
    """
    from zonespill.errors import InputError

    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InputError(
            f"the file is damaged ({type(exc).__name__}); the rerun rebuilds it",
            source=f"corrupted intermediate {Path(path)}; delete it and rerun",
        ) from None


def write_csv(path: str | os.PathLike[str], frame: pd.DataFrame, **kwargs: Any) -> None:
    with atomic_open(path) as fh:
        frame.to_csv(fh, index=False, lineterminator="\n", **kwargs)
