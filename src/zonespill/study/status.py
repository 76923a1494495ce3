"""What happened to each declared table: ``estimated`` or ``skipped`` (with the reason), the terms
dropped and the columns that failed. One JSON record per table (``<output_dir>/study/<id>.json``);
:func:`run_summary_step` gathers them into ``<output_dir>/run_summary.json``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zonespill.errors import ZonespillError

log = logging.getLogger("zonespill")

ESTIMATED, SKIPPED = "estimated", "skipped"
# Words the table builders use in notes and placeholder rows for a column or table that failed.
_FAIL_WORDS = ("not estimable", "not estimated", "no estimator could be estimated")


@dataclass
class Recorder:
    """Filled by the builders of one table while its step runs."""

    skips: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


_RECORDER: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("zonespill_status", default=None)


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    rec = Recorder()
    token = _RECORDER.set(rec)
    try:
        yield rec
    finally:
        _RECORDER.reset(token)


def skip(reason: str) -> None:
    """The table being built cannot be estimated (its placeholder table says why)."""
    rec = _RECORDER.get()
    if rec is not None:
        rec.skips.append(" ".join(reason.split()))


def dropped_terms(terms: Sequence[str]) -> None:
    """Terms left out of a table's models (no variation, collinear, …)."""
    rec = _RECORDER.get()
    if rec is not None:
        rec.dropped.extend(t for t in terms if t not in rec.dropped)


def column_failure(text: str) -> None:
    """One column (specification) of the table failed; the others are shown."""
    rec = _RECORDER.get()
    if rec is not None:
        rec.failures.append(" ".join(text.split()))


@dataclass(frozen=True)
class TableStatus:
    id: str
    family: str
    status: str
    reason: str = ""
    dropped_terms: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["dropped_terms"] = list(self.dropped_terms)
        out["failures"] = list(self.failures)
        out["figures"] = list(self.figures)
        return out


def _failed_text(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in _FAIL_WORDS)


def _table_failed(table: Any) -> tuple[bool, str]:
    """Whether a written table holds no estimate at all, and the reason its notes give."""
    notes = [str(n) for n in getattr(table, "notes", ())]
    reason = "; ".join(n for n in notes if _failed_text(n))
    if hasattr(table, "estimates"):
        values = [v for row in table.estimates for v in row]
        return (not any(math.isfinite(v) for v in values)), reason
    frame = getattr(table, "frame", None)
    if frame is None or frame.empty:
        return True, reason or "the table is empty"
    first = frame.iloc[0].astype(str).str.lower().tolist()
    if len(frame) == 1 and any(v in ("not estimated", "not estimable") for v in first):
        given = str(frame.iloc[0].get("reason", "")) if "reason" in frame.columns else ""
        return True, given or reason
    return False, reason


def _dropped_from_table(table: Any) -> list[str]:
    out: list[str] = []
    for name, values in getattr(table, "stats", ()):
        if str(name).lower().startswith("dropped"):
            out += [t.strip() for v in values for t in str(v).split(",") if t.strip()]
    return list(dict.fromkeys(out))


def derive_status(
    table_id: str, family: str, tables: Sequence[Any], rec: Recorder, figures: Sequence[str] = ()
) -> TableStatus:
    """Status of a table from what its step wrote and recorded."""
    mine = [t for t in tables if getattr(t, "table_id", None) == table_id]
    failures = list(rec.failures)
    dropped = list(rec.dropped)
    for t in mine:
        failures += [" ".join(str(n).split()) for n in getattr(t, "notes", ()) if _failed_text(str(n))]
        dropped += _dropped_from_table(t)
    failures = list(dict.fromkeys(failures))
    dropped = list(dict.fromkeys(dropped))
    if rec.skips:
        reason = "; ".join(dict.fromkeys(rec.skips))
        return TableStatus(table_id, family, SKIPPED, reason, tuple(dropped), tuple(failures), tuple(figures))
    if not mine:
        return TableStatus(
            table_id, family, SKIPPED, "the step wrote no table", tuple(dropped), (), tuple(figures)
        )
    failed, reason = _table_failed(mine[-1])
    if failed:
        return TableStatus(
            table_id,
            family,
            SKIPPED,
            reason or "no estimate",
            tuple(dropped),
            tuple(failures),
            tuple(figures),
        )
    return TableStatus(table_id, family, ESTIMATED, "", tuple(dropped), tuple(failures), tuple(figures))


def write_status(path: Path, status: TableStatus) -> None:
    from zonespill.io import write_json

    write_json(path, status.to_json())


# --------------------------------------------------------------------------- run summary
def summary_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The printed end-of-run summary: one line per declared table."""
    lines = []
    n_skip = sum(r["status"] != ESTIMATED for r in records)
    lines.append(f"zonespill run summary: {len(records) - n_skip} table(s) estimated, {n_skip} skipped")
    for r in records:
        text = f"  {r['id']:<6} {r['status']}"
        if r.get("reason"):
            text += f": {r['reason']}"
        if r.get("dropped_terms"):
            text += f" [dropped terms: {', '.join(r['dropped_terms'])}]"
        if r.get("failures") and r["status"] == ESTIMATED:
            text += f" [{len(r['failures'])} column(s) or cell(s) not estimable: see the table notes]"
        lines.append(text)
    return lines


class StrictModeError(ZonespillError):
    """``study.strict: true`` and at least one declared table was skipped."""


def run_summary_step(options: Mapping[str, Any], *, statuses: Sequence[Path], out: Path) -> dict[str, Any]:
    """Gather the tables' status records into ``run_summary.json`` and print the summary.

    ``options``: ``{"strict": bool, "tables": [declared ids in order]}``. In strict mode any
    skipped table fails the step (after the summary is written and printed).
    """
    from zonespill.io import write_json

    records = [json.loads(Path(p).read_text(encoding="utf-8")) for p in statuses]
    order = {tid: i for i, tid in enumerate(options.get("tables") or [])}
    records.sort(key=lambda r: order.get(r["id"], len(order)))
    strict = bool(options.get("strict", False))
    summary = {
        "strict": strict,
        "estimated": sum(r["status"] == ESTIMATED for r in records),
        "skipped": sum(r["status"] != ESTIMATED for r in records),
        "tables": records,
    }
    write_json(out, summary)
    lines = summary_lines(records)
    print("\n".join(lines), flush=True)  # the end-of-run summary on the console
    log.debug("%s", "\n".join(lines))
    skipped = [r["id"] for r in records if r["status"] != ESTIMATED]
    if strict and skipped:
        raise StrictModeError(f"study.strict is true and table(s) {skipped} were skipped (reasons in {out})")
    return summary
