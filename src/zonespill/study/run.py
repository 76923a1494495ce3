"""Run one declared table: the step behind every table rule (``python -m zonespill study-table``).

The table's declaration (``study.tables`` entry, every default filled) picks a builder by
``family``/``design``; the builder writes the table (and its figures) through
:func:`zonespill.tables.write_table`. This module then records what happened in
``<output_dir>/study/<id>.json``: ``estimated``, or ``skipped`` with the reason — including an
estimator that raised (caught here, reported per table, never a bare traceback or a silent skip).
Input and configuration errors (:class:`~zonespill.errors.InputError`) still stop the run.
"""

from __future__ import annotations

import copy
import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import pandas as pd

from zonespill.errors import InputError
from zonespill.study import status
from zonespill.study.spec import Labels

log = logging.getLogger("zonespill")

#: The table id a design's builder writes (a declared table of that design takes its own id).
BUILDER_TABLE_ID: dict[str, str] = {
    "pairs": "D3",
    "spillover": "D4",
    "bacon": "D5",
    "sdm": "S1",
    "lm": "S2",
    "impacts": "S3",
    "compare": "S4",
    "sigma": "C1",
    "beta": "C2",
    "panel": "C3",
    "clubs": "C4",
    "club_members": "C4m",
    "club_ties": "C5",
    "m1": "M1",
}


class WeightFiles(TypedDict):
    """The spine's weights files, as keyword arguments of a step."""

    weights: Path
    weights_meta: Path


@dataclass(frozen=True)
class StepInputs:
    """The pipeline files a table step may read (only those its design needs are set)."""

    region_year: Path | None = None
    provenance: Path | None = None
    weights: Path | None = None
    weights_meta: Path | None = None
    pair_year: Path | None = None
    flow_pair_year: Path | None = None
    regions: Path | None = None
    collaborations: Path | None = None
    chunks: tuple[Path, ...] = ()
    summary_out: Path | None = None
    panel: Path | None = None

    def need(self, name: str) -> Path:
        value = getattr(self, name)
        if value is None:
            raise InputError(f"this table's design needs --{name.replace('_', '-')}", source="study-table")
        return Path(value)

    def weights_files(self) -> WeightFiles:
        """``weights`` and ``weights_meta`` as step keyword arguments (both needed)."""
        return WeightFiles(weights=self.need("weights"), weights_meta=self.need("weights_meta"))


# --------------------------------------------------------------------------- relabelling
_WORDS = (
    (re.compile(r"\bprovinces\b"), lambda lab: lab.plural),
    (re.compile(r"\bProvinces\b"), lambda lab: lab.plural[:1].upper() + lab.plural[1:]),
    (re.compile(r"\bprovince\b"), lambda lab: lab.singular),
    (re.compile(r"\bProvince\b"), lambda lab: lab.singular[:1].upper() + lab.singular[1:]),
    (re.compile(r"\bprovincial\b"), lambda lab: f"{lab.singular}-level"),
)


def relabel_text(text: str, lab: Labels) -> str:
    """Unit words of the estimator-family builders in the study's own unit names."""
    if lab.singular == "province":
        return text
    for pattern, repl in _WORDS:
        text = pattern.sub(repl(lab), text)
    return text


def _relabel(table: Any, lab: Labels) -> Any:
    if lab.singular == "province":
        return table
    from zonespill.tables import PlainTable, RegressionTable

    def sub(x: Any) -> Any:
        return relabel_text(x, lab) if isinstance(x, str) else x

    if isinstance(table, PlainTable):
        frame = table.frame.rename(columns=lambda c: sub(str(c)), index=sub)  # row labels too
        frame = frame.apply(lambda col: col.map(sub) if col.dtype == object else col)
        return PlainTable(
            frame,
            table_id=table.table_id,
            title=sub(table.title),
            notes=[sub(n) for n in table.notes],
            digits=table.digits,
        )
    if isinstance(table, RegressionTable):
        out = copy.copy(table)
        object.__setattr__(out, "title", sub(table.title))
        object.__setattr__(out, "notes", tuple(sub(n) for n in table.notes))
        object.__setattr__(
            out, "stats", tuple((sub(k), tuple(sub(v) for v in vals)) for k, vals in table.stats)
        )
        object.__setattr__(out, "term_labels", tuple(sub(t) for t in table.term_labels))
        object.__setattr__(out, "models", tuple(sub(m) for m in table.models))
        return out
    return table


def _cite(table: Any, note: str) -> Any:
    """The table with a note naming the references of its methods (zonespill.citations)."""
    if not note or note in table.notes:
        return table
    out = copy.copy(table)
    object.__setattr__(out, "notes", (*table.notes, note))
    return out


def _price_basis_note(region_year: Path | None) -> str:
    """'Money values: nominal …' or '… real (base year, index)' from the region-year table."""
    if region_year is None or not Path(region_year).is_file():
        return ""
    import pyarrow.parquet as pq

    if "price_basis" not in pq.read_schema(region_year).names:
        return "Money values: nominal (current prices; no deflator in inputs.deflator)."
    basis = sorted(set(pq.read_table(region_year, columns=["price_basis"]).column(0).to_pylist()) - {None})
    text = "; ".join(map(str, basis)) or "nominal"
    if text.startswith("real"):
        return f"Money values: {text}."
    return f"Money values: {text} (current prices; no deflator in inputs.deflator)."


def citation_note_of(table: Mapping[str, Any]) -> str:
    """'References: …' for a declared table: its design, column estimators and options."""
    from zonespill.citations import citation_note
    from zonespill.paper import items_from_study

    return citation_note(items_from_study([table])[0].reference_keys())


def _retarget(table: Any, table_id: str) -> Any:
    if table.table_id == table_id:
        return table
    out = copy.copy(table)
    object.__setattr__(out, "table_id", table_id)
    return out


# --------------------------------------------------------------------------- builders
Builder = Callable[..., object]


def _figure(table: Mapping[str, Any], figure_dir: Path, scratch: Path, i: int = 0) -> Path:
    figs = list(table.get("figures") or ())
    return Path(figure_dir) / figs[i] if i < len(figs) else scratch / f"undeclared_{i}"


def _build(
    table: Mapping[str, Any],
    payload: Mapping[str, Any],
    inputs: StepInputs,
    *,
    outdir: Path,
    figure_dir: Path,
    formats: tuple[str, ...],
    scratch: Path,
) -> None:
    """Call the builder of the table's design (imports are local: a step loads only its family)."""
    design = str(table["design"])
    opts = dict(payload.get("options") or {})
    lab = Labels.from_json(payload.get("labels"))
    seed = int(payload.get("master_seed", 0))
    title = lab.text(str(table.get("title") or "")) or None
    common: dict[str, Any] = {"outdir": outdir, "formats": formats}
    prov = inputs.need("provenance")
    if design == "m1":
        from zonespill.simulation.montecarlo import summary_step

        summary_step(
            {**opts, "master_seed": seed},
            chunks=list(inputs.chunks),
            provenance=prov,
            summary_out=inputs.need("summary_out"),
            **common,
        )
        return
    if design == "few_clusters":
        from zonespill.simulation.montecarlo import few_clusters_step

        few_clusters_step(
            opts, provenance=prov, master_seed=seed, table_id=str(table["id"]), title=title, **common
        )
        return
    ry = inputs.need("region_year")
    # what the study-layer steps (summary, dispersion, panel_ols) all take
    layer: dict[str, Any] = {
        "region_year": ry,
        "provenance": prov,
        "labels": lab,
        "table_id": table["id"],
        "title": title,
        **common,
    }
    if design == "summary":
        from zonespill.steps import table_descriptives_step

        table_descriptives_step(
            variables=table.get("variables"),
            extra_notes=[lab.text(n) for n in table.get("notes") or ()],
            **layer,
        )
    elif design == "dispersion":
        from zonespill.steps import table_sigma_step

        table_sigma_step(
            figure_stem=_figure(table, figure_dir, scratch), outcome=str(table["outcome"]), **layer
        )
    elif design == "panel_ols":
        from zonespill.steps import table_twfe_step

        table_twfe_step(
            outcome=str(table["outcome"]),
            columns=table["columns"],
            fixed_effects=table["fixed_effects"],
            regressors=table.get("regressors") or (),
            covariates=table.get("covariates") or (),
            sample=table.get("sample"),
            cluster=table["cluster"],
            extra_notes=[lab.text(n) for n in table.get("notes") or ()],
            **layer,
        )
    elif table["family"] == "did":
        from zonespill.did import pipeline as did

        if design == "staggered":
            did.staggered_step(
                opts,
                region_year=ry,
                provenance=prov,
                figure_dir=figure_dir,
                master_seed=seed,
                table=table,
                labels=lab,
                pair_year=inputs.pair_year,
                **common,
            )
        elif design == "honest":
            did.honest_step(opts, region_year=ry, provenance=prov, table=table, labels=lab, **common)
        elif design == "pairs":
            did.pairs_step(
                opts,
                region_year=ry,
                pair_year=inputs.need("pair_year"),
                regions=inputs.need("regions"),
                provenance=prov,
                master_seed=seed,
                **common,
            )
        elif design == "flow_pairs":
            from zonespill.did.flow_pairs import flow_pairs_step

            flow_pairs_step(opts, region_year=ry, flow_pair_year=inputs.need("flow_pair_year"),
                            provenance=prov, table=table, labels=lab, **common)
        elif design == "spillover":
            did.spillover_step(
                opts,
                region_year=ry,
                **inputs.weights_files(),
                provenance=prov,
                master_seed=seed,
                **common,
            )
        elif design == "recode":
            did.recode_step(
                opts,
                region_year=ry,
                panel=inputs.need("panel"),
                regions=inputs.need("regions"),
                collaborations=inputs.need("collaborations"),
                **inputs.weights_files(),
                provenance=prov,
                master_seed=seed,
                table=table,
                recode=payload.get("recode"),
                analysis=payload.get("analysis"),
                labels=lab,
                **common,
            )
        else:
            did.bacon_step(opts, region_year=ry, provenance=prov, **common)
    elif table["family"] == "spatial":
        from zonespill.spatial import pipeline as sp

        fn = {"sdm": sp.sdm_step, "impacts": sp.sdm_step, "lm": sp.lm_step, "compare": sp.comparison_step}[
            design
        ]
        fn(
            {**opts, "master_seed": seed},
            region_year=ry,
            **inputs.weights_files(),
            provenance=prov,
            **common,
        )
    elif table["family"] == "convergence":
        from zonespill.convergence import pipeline as cv

        stem = _figure(table, figure_dir, scratch)
        opts = {**opts, "master_seed": seed}
        if design == "sigma":
            cv.sigma_step(opts, region_year=ry, provenance=prov, figure_stem=stem, **common)
        elif design == "beta":
            cv.beta_step(
                opts, region_year=ry, provenance=prov, figure_stem=stem, **inputs.weights_files(), **common
            )
        elif design == "panel":
            cv.panel_step(opts, region_year=ry, provenance=prov, **inputs.weights_files(), **common)
        else:
            cv.clubs_step(
                opts,
                region_year=ry,
                regions=inputs.need("regions"),
                collaborations=inputs.need("collaborations"),
                provenance=prov,
                figure_stem=stem,
                pair_year=inputs.pair_year if design == "club_ties" else None,
                **common,
            )
    else:
        raise InputError(
            f"no builder for design {design!r} of family {table['family']!r}", source="study-table"
        )


def _is_panic(exc: BaseException) -> bool:
    from zonespill.did.designs import is_panic

    return is_panic(exc)


def _placeholder(
    table_id: str, title: str, reason: str, outdir: Path, formats: tuple[str, ...], provenance: Path | None
) -> None:
    """The table an estimator failure leaves: one row saying why (so nothing vanishes silently)."""
    from zonespill import provenance as prov
    from zonespill.tables import PlainTable, write_table

    phash = prov.read_provenance_hash(provenance) if provenance is not None else "0" * 64
    frame = pd.DataFrame([{"result": "not estimated", "reason": reason}])
    write_table(
        PlainTable(frame, table_id=table_id, title=title or table_id, notes=(f"Not estimated: {reason}",)),
        outdir,
        provenance_hash=phash,
        formats=formats,
    )


def _missing_figures(table: Mapping[str, Any], figure_dir: Path, rec: status.Recorder) -> None:
    """A declared figure the builder did not draw (the table was skipped, or the estimator failed)
    is drawn as a panel saying so: the declared outputs always exist, and the figure says why."""
    from zonespill import figures

    reason = "; ".join(rec.skips) or "not estimated (see the table notes)"
    for fig_id in table.get("figures") or ():
        stem = figure_dir / fig_id
        if stem.with_suffix(".png").exists() and stem.with_suffix(".pdf").exists():
            continue
        figures.use_agg()
        fig = figures.new_figure()
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_title(fig_id)
        ax.text(0.5, 0.5, f"not estimated:\n{reason}", ha="center", va="center", wrap=True, fontsize="small")
        figures.save_figure(fig, stem)
        rec.failures.append(f"figure {fig_id} not drawn: {reason}")


def table_step(
    options: Mapping[str, Any],
    *,
    outdir: Path,
    figure_dir: Path,
    status_out: Path,
    formats: tuple[str, ...],
    region_year: Path | None = None,
    provenance: Path | None = None,
    weights: Path | None = None,
    weights_meta: Path | None = None,
    pair_year: Path | None = None,
    regions: Path | None = None,
    collaborations: Path | None = None,
    chunks: tuple[Path, ...] | list[Path] = (),
    summary_out: Path | None = None,
    panel: Path | None = None,
    flow_pair_year: Path | None = None,
) -> status.TableStatus:
    """Build one declared table and record its status.

    ``options`` is :func:`zonespill.study.spec.step_payload`: the resolved table declaration
    (``table``), its family options (``options``), ``labels``, ``master_seed`` and ``digits``.
    """
    from zonespill.tables import observe_tables

    table = dict(options["table"])
    tid = str(table["id"])
    lab = Labels.from_json(options.get("labels"))
    inputs = StepInputs(
        region_year=region_year,
        provenance=provenance,
        weights=weights,
        weights_meta=weights_meta,
        pair_year=pair_year,
        flow_pair_year=flow_pair_year,
        regions=regions,
        collaborations=collaborations,
        chunks=tuple(chunks),
        summary_out=summary_out,
        panel=panel,
    )
    writes = BUILDER_TABLE_ID.get(str(table["design"]), tid)
    title = lab.text(str(table.get("title") or ""))

    cite = citation_note_of(table)
    price = _price_basis_note(region_year) if table["family"] != "montecarlo" else ""

    def transform(t: Any) -> Any:
        out = _relabel(_retarget(t, tid), lab)
        if price and not any("nominal" in n or "real (" in n for n in out.notes):
            out = _cite(out, price)  # every table on the data says whether its values are nominal or real
        return _cite(out, cite)

    with (
        tempfile.TemporaryDirectory(prefix="zonespill-scratch-") as scratch,
        status.recording() as rec,
        observe_tables(only=[writes], titles={writes: title} if title else None, transform=transform) as seen,
    ):
        try:
            _build(
                table,
                options,
                inputs,
                outdir=Path(outdir),
                figure_dir=Path(figure_dir),
                formats=tuple(formats),
                scratch=Path(scratch),
            )
        except InputError:
            raise
        except BaseException as exc:  # an estimator failed outright: report it for this table
            # a Rust panic (pyo3 PanicException) derives from BaseException: caught too; interrupts are not
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
            # the traceback goes to the step's log file (for a bug report), the reason to the summary
            log.error("table %s not estimated: %s", tid, reason, exc_info=True)
            status.skip(reason)
            _placeholder(tid, title, reason, Path(outdir), tuple(formats), provenance)
    _missing_figures(table, Path(figure_dir), rec)
    result = status.derive_status(
        tid, str(table["family"]), seen.tables, rec, figures=table.get("figures") or ()
    )
    status.write_status(Path(status_out), result)
    log.info("table %s: %s%s", tid, result.status, f" ({result.reason})" if result.reason else "")
    return result
