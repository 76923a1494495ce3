"""Provenance records and deterministic seeds.

A provenance record says what a run was made from: input files (sha256 and size), the
resolved configuration, versions of the numerical stack, the Python version, the git
commit of the code and the seeds. It deliberately holds **no timestamps, hostnames, user
names or absolute paths of the repository**, so the same inputs, code and configuration
give the same record -- and the same :func:`provenance_hash` -- on every machine and every
rerun. That hash is printed in the footer of every table and figure caption.

:func:`derive_seed` derives all random seeds of the project from one master seed and a
list of labels, so a Monte Carlo replication's draws depend only on its labels (e.g. the
design and the replication number), never on how the replications are split into chunks
or jobs.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from zonespill import __version__
from zonespill.errors import ConfigError, InputError
from zonespill.io import write_json

__all__ = [
    "PACKAGES",
    "PROVENANCE_FORMAT",
    "UNCOMMITTED",
    "build_provenance",
    "derive_rng",
    "derive_seed",
    "git_commit",
    "package_versions",
    "provenance_hash",
    "read_provenance",
    "read_provenance_hash",
    "sha256_file",
    "write_provenance",
]

PROVENANCE_FORMAT = "zonespill-provenance/1"
"""Value of the ``format`` key; bump when the record's layout changes."""

UNCOMMITTED = "uncommitted"
"""``git_commit`` value when the code is not a clean git checkout."""

PACKAGES: tuple[str, ...] = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "statsmodels",
    "linearmodels",
    "pyfixest",
    "libpysal",
    "shapely",
    "matplotlib",
    "snakemake",
    "zonespill",
)
"""Distributions whose versions are recorded."""

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 digest of a file's bytes.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.

    Raises
    ------
    InputError
        If the file does not exist or is not a regular file.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("input file not found (or not a regular file)", source=str(p))
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` when a distribution is not installed).

    ``zonespill`` itself falls back to ``zonespill.__version__`` when the package runs from
    a source tree without installed metadata.
    """
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = __version__ if name == "zonespill" else None
    return out


def git_commit(repo_dir: str | os.PathLike[str]) -> str:
    """HEAD commit of ``repo_dir``, or ``"uncommitted"``.

    Returns the 40-character sha of ``HEAD`` when ``repo_dir`` is inside a git work tree
    whose *tracked* files have no uncommitted changes (staged or not). Returns
    ``"uncommitted"`` when there are such changes, when there is no repository or no
    commit yet, or when git is not installed. Untracked files are ignored (outputs and
    scratch files must not flip the record); a new, not-yet-added source file is therefore
    not detected. Never raises.
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}

    def git(*args: str, timeout: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=repo_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )

    try:
        head = git("rev-parse", "--verify", "HEAD", timeout=30)
        if head.returncode != 0:
            return UNCOMMITTED
        sha = head.stdout.strip()
        status = git("status", "--porcelain", "--untracked-files=no", timeout=60)
    except (OSError, subprocess.SubprocessError):
        return UNCOMMITTED
    if status.returncode != 0 or status.stdout.strip():
        return UNCOMMITTED
    if len(sha) != 40 or any(ch not in "0123456789abcdef" for ch in sha):
        return UNCOMMITTED
    return sha


def _canonical(obj: Any, where: str) -> Any:
    """Convert ``obj`` to plain JSON types, refusing anything that is not deterministic."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        if not math.isfinite(f):
            raise ConfigError(f"non-finite number {f!r} cannot be recorded", source="config", column=where)
        return f
    if isinstance(obj, os.PathLike):
        return Path(obj).as_posix()
    if isinstance(obj, datetime.date | datetime.time):  # e.g. YAML dates; datetime is a date subclass
        return obj.isoformat()
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ConfigError(f"keys must be strings, got {k!r}", source="config", column=where)
            out[k] = _canonical(v, f"{where}.{k}" if where else k)
        return out
    if isinstance(obj, list | tuple):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, set | frozenset):
        items = [_canonical(v, where) for v in obj]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    raise ConfigError(
        f"value of type {type(obj).__name__} cannot be recorded deterministically",
        source="config",
        column=where,
    )


def _record_path(path: Path, repo_dir: Path) -> str:
    """Path relative to the repository when inside it (machine independent), else as given."""
    try:
        return path.resolve().relative_to(repo_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def build_provenance(
    *,
    inputs: Mapping[str, str | os.PathLike[str]],
    config: Mapping[str, Any],
    seeds: Mapping[str, int],
    repo_dir: str | os.PathLike[str],
) -> dict[str, Any]:
    """Assemble the provenance record of a run.

    Parameters
    ----------
    inputs
        Label -> input file. Each file is hashed.
    config
        The resolved configuration (JSON-like: mappings with string keys, lists, strings,
        finite numbers, booleans, ``None``; paths become POSIX strings, dates ISO strings,
        sets sorted lists).
    seeds
        Name -> integer seed used by the run.
    repo_dir
        Root of the code repository (for the git commit and to record input paths
        relative to it).

    Returns
    -------
    dict
        Keys ``format``, ``inputs`` (label -> ``{"path", "sha256", "size"}``), ``config``,
        ``packages`` (name -> version or ``None``), ``python`` (e.g. ``"3.11.7"``),
        ``git_commit`` (sha or ``"uncommitted"``) and ``seeds``. No timestamps or host
        information.

    Raises
    ------
    InputError
        An input file is missing, or a seed is not a non-negative integer.
    ConfigError
        The configuration holds a value that cannot be recorded deterministically.
    """
    repo = Path(repo_dir)
    recorded_inputs: dict[str, dict[str, Any]] = {}
    for label, raw in inputs.items():
        p = Path(raw)
        if not p.is_file():
            raise InputError(f"input '{label}' not found (or not a regular file)", source=str(p))
        recorded_inputs[str(label)] = {
            "path": _record_path(p, repo),
            "sha256": sha256_file(p),
            "size": p.stat().st_size,
        }
    recorded_seeds: dict[str, int] = {}
    for name, seed in seeds.items():
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
            raise InputError(
                f"seed must be a non-negative integer, got {seed!r}", source="seeds", column=str(name)
            )
        recorded_seeds[str(name)] = int(seed)
    return {
        "format": PROVENANCE_FORMAT,
        "inputs": recorded_inputs,
        "config": _canonical(dict(config), ""),
        "packages": package_versions(),
        "python": platform.python_version(),
        "git_commit": git_commit(repo),
        "seeds": recorded_seeds,
    }


def _canonical_json(prov: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(
            _canonical(dict(prov), ""),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except ConfigError as exc:
        raise InputError(exc.reason, source="provenance record", column=exc.column) from None
    return text.encode("utf-8")


def provenance_hash(prov: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a provenance record.

    Canonical JSON: sorted keys, no whitespace (``separators=(",", ":")``), UTF-8,
    non-ASCII characters unescaped. Key order and indentation of a stored file therefore
    never change the hash.
    """
    return hashlib.sha256(_canonical_json(prov)).hexdigest()


def write_provenance(path: str | os.PathLike[str], prov: Mapping[str, Any]) -> str:
    """Write ``prov`` as deterministic JSON (atomically) and return its hash."""
    canonical = json.loads(_canonical_json(prov))
    write_json(path, canonical)
    return provenance_hash(canonical)


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a provenance record written by :func:`write_provenance`."""
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("provenance file not found", source=str(p)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", source=str(p), rows=[exc.lineno]) from None
    if not isinstance(obj, dict):
        raise InputError("a provenance record must be a JSON object", source=str(p))
    return obj


def read_provenance_hash(path: str | os.PathLike[str]) -> str:
    """Hash of the provenance record stored at ``path`` (see :func:`provenance_hash`)."""
    return provenance_hash(read_provenance(path))


def _labels_spawn_key(labels: tuple[str | int, ...]) -> tuple[int, ...]:
    parts = []
    for lab in labels:
        if isinstance(lab, bool) or not isinstance(lab, str | int | np.integer):
            raise InputError(f"seed labels must be str or int, got {lab!r}", source="derive_seed(labels)")
        parts.append(["s", lab] if isinstance(lab, str) else ["i", int(lab)])
    digest = hashlib.sha256(
        json.dumps(parts, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4))


def derive_seed(master_seed: int, *labels: str | int) -> int:
    """Derive a seed for one labelled random stream from the master seed.

    The labels are encoded as a JSON list of ``["s", text]`` / ``["i", integer]`` pairs (so
    ``"1"`` and ``1`` differ), hashed with sha256, and the digest split into eight 32-bit
    words used as the ``spawn_key`` of ``numpy.random.SeedSequence(entropy=master_seed)``.
    The first 64-bit word of its state, shifted right by one bit, is returned.

    Because the seed depends only on ``master_seed`` and the labels, a Monte Carlo
    replication seeded with ``derive_seed(master, "design-A", rep)`` draws the same numbers
    whether replications run in one job or in chunks of any size, in any order.

    Parameters
    ----------
    master_seed
        Non-negative integer (the project's configured seed).
    *labels
        Strings or integers naming the stream (e.g. module, design, replication).

    Returns
    -------
    int
        In ``[0, 2**63)``: fits a signed 64-bit column and is accepted by
        ``numpy.random.default_rng``. For legacy APIs that need 32 bits use
        ``seed % 2**32``.
    """
    if isinstance(master_seed, bool) or not isinstance(master_seed, int | np.integer) or int(master_seed) < 0:
        raise InputError(
            f"master seed must be a non-negative integer, got {master_seed!r}",
            source="derive_seed(master_seed)",
        )
    ss = np.random.SeedSequence(entropy=int(master_seed), spawn_key=_labels_spawn_key(labels))
    return int(ss.generate_state(1, dtype=np.uint64)[0]) >> 1


def derive_rng(master_seed: int, *labels: str | int) -> np.random.Generator:
    """``numpy.random.default_rng(derive_seed(master_seed, *labels))``."""
    return np.random.default_rng(derive_seed(master_seed, *labels))
