"""A short, generated "Findings" section (for the bundled data: "Findings on the bundled data").

Built only from the tables the pipeline wrote (their CSV versions), so the README's
findings can never drift from the results: ``make findings`` reruns the pipeline if needed
and splices ``results/findings.md`` into README.md between two marker comments.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zonespill.io import write_text

START, END = "<!-- findings:start -->", "<!-- findings:end -->"


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _title(table_dir: Path, table_id: str) -> str:
    md = table_dir / f"{table_id}.md"
    if md.exists():
        first = md.read_text(encoding="utf-8").splitlines()[0]
        return first.strip("*").split(":", 1)[-1].strip()
    return table_id


def _regression_lines(rows: list[dict[str, str]], max_terms: int) -> list[str]:
    models = [c for c in rows[0] if c not in ("term", "row")]
    est = [r for r in rows if r.get("row") == "estimate"]
    ses = {r["term"]: r for r in rows if r.get("row") == "se"}
    lines = []
    for model in (models[0], models[-1]) if len(models) > 1 else (models[0],):
        cells = [
            f"{r['term']} {r[model]} {ses.get(r['term'], {}).get(model, '')}".strip()
            for r in est
            if r.get(model)
        ]
        if cells:
            lines.append(f"column {model}: " + "; ".join(cells[:max_terms]))
    n = [r for r in rows if r.get("row") == "stat" and r.get("term") in ("N", "Observations")]
    if n:
        lines.append("N: " + ", ".join(f"{m} {n[0][m]}" for m in models if n[0].get(m)))
    return lines


def _plain_lines(rows: list[dict[str, str]]) -> list[str]:
    # notes and the provenance footer fill only the first cell of their row
    body = [r for r in rows if sum(1 for v in r.values() if v) >= 2]
    if not body:
        return []
    cols = list(body[0])[:7]
    picks = [body[0]] if len(body) == 1 else [body[0], body[-1]]
    return ["; ".join(f"{c} = {r[c]}" for c in cols if r.get(c)) for r in picks]


def _dispersion_lines(body: list[dict[str, str]]) -> list[str]:
    years = [r for r in body if r.get("year", "").isdigit()]
    if not years or "sd_log" not in years[0]:
        return []
    return [
        f"SD of the log outcome: {years[0]['sd_log']} in {years[0]['year']}, "
        f"{years[-1]['sd_log']} in {years[-1]['year']}."
    ]


def build_findings(table_dir: Path, *, max_terms: int = 6, summary: Mapping[str, Any] | None = None) -> str:
    """Markdown summarising every declared table (CSV versions in ``table_dir``).

    With the run ``summary`` (``run_summary.json``), tables follow the declared order and
    skipped tables are listed with their reason instead of being left out silently.
    """
    out = [
        "*Generated from `results/tables/*.csv` by `make findings`; estimates as "
        "coefficient (SE), stars as defined in each table's notes, where the sample sizes and any "
        "few-clusters warnings are stated: read these as descriptions of the data, not as causal claims.*",
        "",
    ]
    records = list((summary or {}).get("tables") or [])
    if records:
        ids = [str(r["id"]) for r in records]
    else:
        ids = [
            p.stem for p in sorted(table_dir.glob("*.csv"), key=lambda p: (p.stem[0], len(p.stem), p.stem))
        ]
    skipped = {str(r["id"]): r for r in records if r.get("status") != "estimated"}
    for tid in ids:
        if tid in skipped:
            out.append(f"- **{tid}** ({_title(table_dir, tid)}): skipped — {skipped[tid].get('reason', '')}")
            continue
        path = table_dir / f"{tid}.csv"
        if not path.exists():
            continue
        rows = _read(path)
        if not rows:
            continue
        body = [r for r in rows if r.get("row") not in ("note", "provenance")]
        is_regression = "row" in rows[0] and any(r.get("row") == "estimate" for r in rows)
        lines = _regression_lines(body, max_terms) if is_regression else _plain_lines(body)
        lines = _dispersion_lines(body) or lines
        if lines:
            out.append(f"- **{tid}** ({_title(table_dir, tid)}): " + " — ".join(lines))
    return "\n".join(out) + "\n"


def findings_step(*, table_dir: Path, out: Path, summary: Path | None = None) -> str:
    import json

    record = json.loads(Path(summary).read_text(encoding="utf-8")) if summary is not None else None
    text = build_findings(table_dir, summary=record)
    write_text(out, text)
    return text


def splice_readme(readme: Path, findings: Path) -> bool:
    """Replace the text between the findings markers in README; True if it changed."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise ValueError(f"{readme} has no findings markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = head + START + "\n" + findings.read_text(encoding="utf-8") + END + tail
    if new != text:
        write_text(readme, new)
        return True
    return False
