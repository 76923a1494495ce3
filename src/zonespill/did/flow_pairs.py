"""Pair-level DiD on flows (issue 9 part 7): does a collaboration tie change the flows between
its two partners — e.g. move a pair from one-way to two-way flows?

Units are unordered pairs of analysis units (a < b) observed in ``flow_pair_year.parquet`` (the
indicators step with ``inputs.flows``), one panel per flow kind. The outcome is any numeric
column of that table — the two-way index 1 − |s_ab| (default), the net flow share s_ab, or the
total flow F_ab + F_ba. A pair's cohort is the first start year of a tie between its partners
(any direction); pairs never tied are the controls. Standard errors are clustered two-way by the
two partners, as in the pair-level income-gap design (D3).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from zonespill.did import designs as D
from zonespill.errors import ConfigError, EstimationError, InputError

log = logging.getLogger("zonespill")

FLOW_PAIR_KEYS = ("unit_a", "unit_b", "kind", "year", "first_tie")
#: What the outcomes of flow_pair_year mean (table notes).
FLOW_OUTCOMES: dict[str, str] = {
    "two_way_index": "two-way flow index 1 − |s_ab| (0 = flows one way only, 1 = balanced)",
    "net_share_ab": "net flow share s_ab = (F_ab − F_ba)/(F_ab + F_ba), a < b",
    "flow_total": "total flow F_ab + F_ba",
    "flow_ab": "flow from a to b (a < b)",
    "flow_ba": "flow from b to a (a < b)",
}


def flow_pair_sample(
    flow_pair_year: pd.DataFrame,
    *,
    kind: str,
    outcome: str = "two_way_index",
    anticipation: int = 0,
    name: str | None = None,
) -> D.Sample:
    """Balanced pair panel of one flow kind for the staggered estimators.

    Pairs whose outcome is missing in some year (e.g. the two-way index in a year without any
    flow) and pairs first tied in or before the first year (no pre-treatment year) are left out
    and counted in ``dropped``. Clusters: the two partners (``unit_a``, ``unit_b``).
    """
    for c in (*FLOW_PAIR_KEYS, outcome):
        if c not in flow_pair_year.columns:
            raise InputError("column missing from flow_pair_year", source="flow_pair_year", rows="all",
                             column=c)
    f = flow_pair_year.loc[flow_pair_year["kind"].astype(str) == str(kind)]
    if f.empty:
        raise EstimationError(f"no flows of kind {kind!r}")
    a, b = f["unit_a"].astype(str), f["unit_b"].astype(str)
    frame = pd.DataFrame(
        {
            D.UNIT: (a + "|" + b).to_numpy(),
            D.TIME: f["year"].astype(int).to_numpy(),
            D.Y: pd.to_numeric(f[outcome], errors="coerce").astype(float).to_numpy(),
            D.G: pd.to_numeric(f["first_tie"], errors="coerce").fillna(0).astype(int).to_numpy(),
            "unit_a": a.to_numpy(),
            "unit_b": b.to_numpy(),
        }
    )
    frame, t0, t1, incomplete = D.balance(frame, unit=D.UNIT, time=D.TIME, outcome=D.Y)
    first = frame.drop_duplicates(D.UNIT).set_index(D.UNIT)[D.G]
    pre = first[(first > 0) & (first <= t0 + anticipation)]
    frame = frame.loc[~frame[D.UNIT].isin(pre.index)].reset_index(drop=True)
    dropped = (
        (len(pre), f"pairs first tied in or before {t0 + anticipation} (treated before the sample)"),
        (incomplete, f"pairs with a missing {outcome} in some year (e.g. no flow either way)"),
    )
    return D.Sample(name=name or str(kind), data=frame, first_year=t0, last_year=t1, dropped=dropped,
                    cluster=("unit_a", "unit_b"))


def _estimators(table: Mapping[str, Any], settings: D.EstimatorSettings) -> list[tuple[str, str]]:
    """(column header, estimator) of the declared columns (default: CS, CS never, BJS, TWFE)."""
    from zonespill.did.pipeline import COLUMN_ESTIMATORS, PAIR_ESTIMATORS

    cols = table.get("columns") or [{"estimator": e} for e in PAIR_ESTIMATORS]
    out = []
    for i, col in enumerate(cols):
        name = str(col.get("estimator") or "cs")
        est = (D.CS_NOTYET if settings.control_group == "notyet" else D.CS_NEVER) if name == "cs" \
            else COLUMN_ESTIMATORS.get(name, name)
        if est == D.SA:
            raise ConfigError("Sun–Abraham needs never-treated units per cohort cell; not offered for "
                              "pair panels (use cs, cs_never, bjs or twfe)", source="config",
                              column=f"study.tables.{table.get('id')}.columns.{i}.estimator")
        out.append((str(col.get("name") or D.ESTIMATOR_LABELS[est]), est))
    return out


def flow_pairs_step(
    options: Mapping[str, Any],
    *,
    region_year: Path,
    flow_pair_year: Path,
    provenance: Path,
    outdir: Path,
    formats: tuple[str, ...],
    table: Mapping[str, Any],
    labels: Any = None,
) -> list[Path]:
    """A declared ``flow_pairs`` table: one row per flow kind, one column per estimator."""
    import dataclasses

    from zonespill.did.pipeline import _common_notes, _read_inputs, _regression_table, _settings
    from zonespill.io import read_parquet
    from zonespill.steps import _labels
    from zonespill.study import status
    from zonespill.tables import write_table

    lab = _labels(labels)
    tid = str(table["id"])
    key = f"study.tables.{tid}"
    ry, phash = _read_inputs(region_year, provenance)
    fpy = read_parquet(flow_pair_year)
    outcome = str(table.get("outcome") or "two_way_index")
    if outcome not in fpy.columns or outcome in ("unit_a", "unit_b", "kind", "year"):
        numeric = [c for c in fpy.columns if c not in FLOW_PAIR_KEYS and c != "active_tie"]
        raise ConfigError(f"{outcome!r} is not a column of flow_pair_year (one of {numeric})",
                          source="config", column=f"{key}.outcome")
    kinds_all = sorted(fpy["kind"].astype(str).unique())
    kinds = [str(k) for k in table.get("kinds") or kinds_all]
    unknown = [k for k in kinds if k not in kinds_all]
    if unknown:
        raise ConfigError(f"flow kind(s) {unknown} not in the flows (kinds: {kinds_all})",
                          source="config", column=f"{key}.kinds")
    settings = dataclasses.replace(_settings(options), inference="analytic", n_boot=None)
    columns = _estimators(table, settings)
    results: list[D.Estimate] = []
    sample_notes: list[str] = []
    treated: dict[str, int] = {}
    n_pairs: dict[str, int] = {}
    partners: list[int] = []  # clusters per partner dimension, per kind
    for kind in kinds:
        sample = flow_pair_sample(fpy, kind=kind, outcome=outcome, anticipation=settings.anticipation)
        sample_notes.append(sample.describe())
        treated[kind] = sum(sample.cohort_sizes().values())
        n_pairs[kind] = sample.n_units
        partners += [int(sample.data["unit_a"].nunique()), int(sample.data["unit_b"].nunique())]
        for header, est in columns:
            r = D.estimate(sample, est, settings, bootstrap=False)
            results.append(dataclasses.replace(r, estimator=header))
            log.info("%s %s %s: att=%s se=%s %s", tid, kind, header, r.att, r.se, r.reason or "")
    what = FLOW_OUTCOMES.get(outcome, outcome)
    notes = [
        f"Outcome: {what}, per unordered pair of {lab.plural} (a < b) and year, one row per flow kind "
        f"({', '.join(f'{k}: {n_pairs[k]} pairs' for k in kinds)}). A pair is treated from the first start "
        "year of a tie between its partners (any direction); never-tied pairs with flows are the controls.",
        *_common_notes(ry, settings, units=f"SEs two-way clustered by both partner {lab.plural}",
                       labels=lab, treated=treated, n_clusters=(min(partners), max(partners)))[1:],
        "Two-way clustering by partner position is not full dyadic-robust clustering; wild-bootstrap "
        "and randomisation inference resample one clustering dimension and are not used here (analytic "
        "p-values; read stars with the few-cluster warning above, if any).",
        *sample_notes,
        *[lab.text(n) for n in table.get("notes") or ()],
    ]
    tbl = _regression_table(
        results,
        table_id=tid,
        title=lab.text(str(table.get("title") or "")) or f"Collaboration ties and {what}",
        notes=notes,
        model_order=[h for h, _ in columns],
        term_order=kinds,
        labelled=True,
    )
    if all(r.reason for r in results):
        status.skip("no estimator could be estimated for any flow kind: "
                    + "; ".join(sorted({str(r.reason) for r in results})))
    return write_table(tbl, outdir, provenance_hash=phash, formats=formats)
