"""Publication tables stamped with their provenance.

Two table types are rendered to LaTeX, Markdown, CSV and HTML by :func:`write_table`:

* :class:`RegressionTable` -- several models side by side in the style of fixest ``etable``
  and Stata ``esttab``: coefficient with significance stars, standard error in parentheses
  below it, then a block of model statistics (N, fixed effects, SE type, data vintage, R², ...).
  Built from the long frames that estimators hand over (see ``docs/INTERFACES.md``) with
  :meth:`RegressionTable.from_long`.
* :class:`PlainTable` -- any descriptive frame (summary statistics, sigma by year, cross-tabs).

Every output is byte-identical across reruns (fixed number formatting, no timestamps) and
ends with a footer naming the table id, the provenance hash of the run that produced it and
the zonespill version. Design notes: ``docs/decisions/tables.md``.

LaTeX output fits the line: the largest font size at which the table fits is used, text
columns that are too wide become ragged-right paragraph columns, headers wrap, and tables
with more than ``tex_long_rows`` body rows are ``longtable`` s that break across pages. The
first lines of every ``.tex`` name the packages it needs (``booktabs``; ``array`` for
wrapped columns; ``longtable``) and the engine: pdfLaTeX, or XeLaTeX with ``xeCJK`` when the
table holds CJK characters (passed through unchanged).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import csv
import html
import io as _stdio
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from zonespill import __version__
from zonespill.errors import InputError
from zonespill.io import write_text

__all__ = [
    "FORMATS",
    "PlainTable",
    "RegressionTable",
    "Table",
    "footer_text",
    "format_number",
    "latex_escape",
    "render_table",
    "tex_preamble",
    "write_table",
]

FORMATS: tuple[str, ...] = ("tex", "md", "csv", "html")
"""Output formats understood by :func:`write_table` (also the file suffixes)."""

_TABLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HASH_RE = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")

#: Stats whose integer-valued floats are printed without decimals (compared case-insensitively).
#: A pandas ``value`` column that holds only numbers becomes float64, so ``N = 1234`` would
#: otherwise print as ``1234.000``.
COUNT_STATS: frozenset[str] = frozenset(
    {"n", "obs", "obs.", "observations", "clusters", "n clusters", "groups", "n groups", "units", "regions"}
)

Align = Literal["l", "c", "r"]


# ---------------------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------------------


def format_number(x: float, digits: int) -> str:
    """Format ``x`` with a fixed number of decimals, deterministically.

    Parameters
    ----------
    x
        The number. ``NaN`` gives an empty string, infinities ``inf`` / ``-inf``.
    digits
        Number of decimals (``>= 0``).

    Returns
    -------
    str
        E.g. ``format_number(-0.0004, 3) == "0.000"``: a value that rounds to zero never
        carries a minus sign.
    """
    x = float(x)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    s = f"{x:.{digits}f}"
    if s.startswith("-") and set(s[1:]) <= {"0", "."}:
        s = s[1:]
    return s


_LATEX_SPECIALS: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # Unicode symbols common in table labels that the default pdfLaTeX set-up lacks or
    # typesets badly; other non-ASCII text (accents, CJK) is passed through unchanged.
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "−": r"$-$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "·": r"$\cdot$",
    "≈": r"$\approx$",
    "≠": r"$\neq$",
    "→": r"$\rightarrow$",
    "←": r"$\leftarrow$",
    "↔": r"$\leftrightarrow$",
    "√": r"$\surd$",
    "∞": r"$\infty$",
    "∑": r"$\sum$",
    "ℓ": r"$\ell$",
    "⊗": r"$\otimes$",
    "∘": r"$\circ$",
    "∈": r"$\in$",
    "′": r"$'$",
    "…": r"\ldots{}",
    "⁰": r"\textsuperscript{0}",
    "¹": r"\textsuperscript{1}",
    "⁴": r"\textsuperscript{4}",
    "⁵": r"\textsuperscript{5}",
    "⁶": r"\textsuperscript{6}",
    "⁷": r"\textsuperscript{7}",
    "⁸": r"\textsuperscript{8}",
    "⁹": r"\textsuperscript{9}",
    "⁻": r"\textsuperscript{$-$}",
    "⁺": r"\textsuperscript{+}",
    "₀": r"$_0$",
    "₁": r"$_1$",
    "₂": r"$_2$",
    "ₜ": r"$_t$",
    "ᵢ": r"$_i$",
}
# Greek letters (lower and upper case that differ from Latin) in math mode.
_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "varepsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
    "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma",
    "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}
_LATEX_SPECIALS.update({ch: f"$\\{name}$" for ch, name in _GREEK.items()})


def latex_escape(text: str) -> str:
    """Escape ``text`` for LaTeX text mode.

    Parameters
    ----------
    text
        Arbitrary text (labels, titles, notes).

    Returns
    -------
    str
        Text in which the LaTeX special characters ``\\ & % $ # _ { } ~ ^ < > |`` are
        escaped and Unicode symbols common in labels (Greek letters, super- and subscripts,
        ±, ×, −, ≤, ≥, ≈, ·, ℓ, arrows, …) are replaced by LaTeX commands. Line breaks
        become spaces. Everything else, including Chinese characters, passes through unchanged.
    """
    text = " ".join(str(text).splitlines())
    out: list[str] = []
    for ch in text:
        accent = _LATEX_COMBINING.get(ch)
        if accent is not None and out:  # a combining accent (b̂, x̄) goes onto the character before it
            out[-1] = f"{accent}{{{out[-1]}}}"
        else:
            out.append(_LATEX_SPECIALS.get(ch, ch))
    return "".join(out)


#: Combining accents (U+0300 block) -> LaTeX text-mode accent commands.
_LATEX_COMBINING = {"\u0302": "\\^", "\u0304": "\\=", "\u0303": "\\~", "\u0301": "\\'", "\u0300": "\\`"}


_MD_SPECIALS = set("\\`*_[]<>|~#")


def _md_escape(text: str) -> str:
    text = " ".join(str(text).splitlines())
    return "".join("\\" + ch if ch in _MD_SPECIALS else ch for ch in text)


def footer_text(table_id: str, provenance_hash: str) -> str:
    """The footer line stamped on every output of a table.

    Parameters
    ----------
    table_id
        The table id.
    provenance_hash
        64 hexadecimal characters, optionally prefixed by ``sha256:``.

    Returns
    -------
    str
        ``"Table <id> · provenance sha256:<hash> · zonespill <version>"``.
    """
    return f"Table {table_id} · provenance sha256:{_check_hash(provenance_hash)} · zonespill {__version__}"


def _check_hash(provenance_hash: str) -> str:
    m = _HASH_RE.match(str(provenance_hash).strip().lower())
    if m is None:
        raise InputError(
            f"expected a sha256 provenance hash (64 hex characters, optionally 'sha256:'-prefixed), "
            f"got {provenance_hash!r}",
            source="write_table(provenance_hash=...)",
        )
    return m.group(1)


def _check_table_id(table_id: str) -> None:
    if not isinstance(table_id, str) or not _TABLE_ID_RE.match(table_id):
        raise InputError(
            f"table_id {table_id!r} must start with a letter or digit and contain only letters, digits, "
            "'_', '.' and '-' (it names the output files)",
            source="table_id",
        )


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return False


def _format_value(value: Any, digits: int, *, integer_floats: bool = False) -> tuple[str, bool]:
    """Render one cell value; returns ``(text, is_numeric)``."""
    if _is_missing(value):
        return "", False
    if isinstance(value, bool | np.bool_):
        return ("Yes" if value else "No"), False
    if isinstance(value, int | np.integer):
        return str(int(value)), True
    if isinstance(value, float | np.floating):
        fv = float(value)
        if integer_floats and fv.is_integer() and abs(fv) < 1e15:
            return str(int(fv)), True
        return format_number(fv, digits), True
    return str(value), False


def _check_notes(notes: Sequence[str], source: str) -> tuple[str, ...]:
    if isinstance(notes, str):
        notes = (notes,)
    out = tuple(str(n) for n in notes)
    if any(not n.strip() for n in out):
        raise InputError("notes must not be empty strings", source=source)
    return out


def _check_digits(digits: int, source: str) -> int:
    if isinstance(digits, bool) or not isinstance(digits, int | np.integer) or not 0 <= int(digits) <= 12:
        raise InputError(f"digits must be an integer between 0 and 12, got {digits!r}", source=source)
    return int(digits)


# ---------------------------------------------------------------------------------------
# layout shared by all renderers
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    text: str
    numeric: bool = False
    stars: str = ""
    paren: bool = False

    def plain(self) -> str:
        if not self.text:
            return ""
        body = f"({self.text})" if self.paren else self.text
        return body + self.stars

    def latex(self) -> str:
        if not self.text:
            return ""
        if self.numeric and self.text.startswith("-"):
            body = "$-$" + self.text[1:]
        elif self.numeric:
            body = self.text
        else:
            body = latex_escape(self.text)
        if self.paren:
            body = f"({body})"
        if self.stars:
            body += "$^{" + self.stars + "}$"
        return body


@dataclass(frozen=True)
class _Layout:
    table_id: str
    title: str
    header: tuple[str, ...]
    align: tuple[Align, ...]
    sections: tuple[tuple[tuple[str, tuple[_Cell, ...]], ...], ...]  # sections -> rows (kind, cells)
    notes: tuple[str, ...]
    csv_header: tuple[str, ...]
    csv_rows: tuple[tuple[str, ...], ...]
    regression: bool


# ---------------------------------------------------------------------------------------
# regression tables
# ---------------------------------------------------------------------------------------


def _normal_two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _stars_note(stars: tuple[float, ...]) -> str:
    def fmt(t: float) -> str:
        s = f"{t:.10f}".rstrip("0")
        decimals = len(s.split(".")[1])
        return f"{t:.{max(2, decimals)}f}"

    # stars are stored in decreasing order: the first threshold earns one star
    return ", ".join(f"{'*' * (i + 1)} p<{fmt(t)}" for i, t in enumerate(stars))


def _rows(mask: np.ndarray) -> list[int]:
    """1-based data row numbers where ``mask`` is true."""
    return [int(i) + 1 for i in np.flatnonzero(np.asarray(mask, dtype=bool))]


def _first_rows(first: Sequence[str], second: Sequence[str]) -> tuple[dict[tuple[str, str], int], list[int]]:
    """The 0-based row of each (first, second) pair, and the sorted 1-based rows of every pair
    that occurs more than once (empty when the pairs are a key)."""
    seen: dict[tuple[str, str], int] = {}
    dups: list[int] = []
    for i, key in enumerate(zip(first, second, strict=True)):
        if key in seen:
            dups.extend([seen[key] + 1, i + 1])
        else:
            seen[key] = i
    return seen, sorted(set(dups))


def _display_order(
    order: Sequence[Any] | None, present: list[str], what: str, *, listing: str = ""
) -> list[str]:
    """``present`` (first-seen order) or the user's ``{what}_order``, which must name present
    values once each; ``listing`` is appended to the not-present message."""
    if order is None:
        return present
    chosen = [str(v) for v in order]
    unknown = [v for v in chosen if v not in present]
    if unknown:
        raise InputError(
            f"{what}s {unknown} are not in the coefficient frame{listing}",
            source=f"{what}_order",
            column=what,
        )
    if len(set(chosen)) != len(chosen):
        raise InputError(f"{what}_order lists a {what} twice", source=f"{what}_order", column=what)
    return chosen


def _label_columns(
    frame: pd.DataFrame, columns: tuple[str, str], source: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``frame`` indexed 0..n-1 and its two label columns as text; a missing label names its rows."""
    out = frame.reset_index(drop=True)
    for col in columns:
        bad = _rows(out[col].isna().to_numpy())
        if bad:
            raise InputError("labels must not be missing", source=source, rows=bad, column=col)
    return out, out[columns[0]].astype(str).tolist(), out[columns[1]].astype(str).tolist()


def _require_columns(frame: pd.DataFrame, cols: Sequence[str], source: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}", source=source)
    for c in cols:
        if c not in frame.columns:
            raise InputError(
                f"required column is missing (columns present: {list(frame.columns)})",
                source=source,
                rows="all",
                column=c,
            )


def _numeric_column(frame: pd.DataFrame, col: str, source: str) -> np.ndarray:
    try:
        values = pd.to_numeric(frame[col], errors="raise")
    except (TypeError, ValueError):
        coerced = pd.to_numeric(frame[col], errors="coerce")
        bad = _rows(coerced.isna().to_numpy() & frame[col].notna().to_numpy())
        raise InputError("values must be numeric", source=source, rows=bad, column=col) from None
    return np.asarray(values, dtype=float)


@dataclass(frozen=True)
class RegressionTable:
    """Several regression models side by side, ready to render.

    Build it with :meth:`from_long`; the fields hold the resolved, ordered content.

    Attributes
    ----------
    table_id, title
        File stem / cross-reference id and the caption.
    models
        Column labels in display order.
    terms, term_labels
        Term names (as in the coefficient frame) in display order, and the row labels shown.
    estimates, ses, pvalues
        ``len(terms) x len(models)`` nested tuples; ``nan`` where a model lacks the term.
    stats
        ``(stat name, per-model rendered value)`` pairs in display order.
    notes
        All notes shown under the table (user notes, then the standard-error/stars line).
    stars
        Significance thresholds, decreasing (``p < stars[k]`` earns ``k + 1`` stars).
    digits
        Decimals for estimates, standard errors and float statistics.
    """

    table_id: str
    title: str
    models: tuple[str, ...]
    terms: tuple[str, ...]
    term_labels: tuple[str, ...]
    estimates: tuple[tuple[float, ...], ...]
    ses: tuple[tuple[float, ...], ...]
    pvalues: tuple[tuple[float, ...], ...]
    stats: tuple[tuple[str, tuple[str, ...]], ...]
    notes: tuple[str, ...]
    stars: tuple[float, ...]
    digits: int

    @classmethod
    def from_long(
        cls,
        coefs: pd.DataFrame,
        stats: pd.DataFrame | None,
        *,
        table_id: str,
        title: str,
        notes: Sequence[str] = (),
        term_labels: Mapping[str, str] | None = None,
        term_order: Sequence[str] | None = None,
        model_order: Sequence[str] | None = None,
        stars: Sequence[float] = (0.10, 0.05, 0.01),
        digits: int = 3,
    ) -> RegressionTable:
        """Build a table from the long frames estimators produce.

        Parameters
        ----------
        coefs
            Columns ``model, term, estimate, se`` and optionally ``pvalue`` and ``star``. One
            row per (model, term). Where ``pvalue`` is absent or missing, the two-sided normal
            p-value of ``estimate / se`` is used for the stars (and a note says so), except in
            rows with ``star`` False (no valid inference: thin cells, one treated cluster),
            which never carry a star.
        stats
            Columns ``model, stat, value`` (strings or numbers), e.g. ``N``, ``Fixed effects``,
            ``SE type``, ``Vintage``, ``R²``. Rows appear in order of first appearance.
            ``None`` or an empty frame for no statistics block.
        table_id
            Output file stem and LaTeX label (``tab:<table_id>``); letters, digits, ``_.-``.
        title
            Caption.
        notes
            Notes printed under the table, before the automatic standard-error/stars line.
        term_labels
            Display label per term (terms without an entry show their name).
        term_order
            Terms to show, in this order (like ``keep`` + ``order`` in esttab); terms not
            listed are omitted. Default: all terms in order of first appearance.
        model_order
            Models to show, in this order; default: order of first appearance in ``coefs``.
        stars
            Significance thresholds; ``p < t`` for ``k`` thresholds earns ``k`` stars.
            ``()`` disables stars.
        digits
            Decimals for estimates, standard errors and float-valued statistics.

        Returns
        -------
        RegressionTable

        Raises
        ------
        InputError
            Missing columns, non-numeric values, negative SEs, p-values outside [0, 1],
            duplicated (model, term) or (model, stat) rows, unknown models/terms in the
            orderings, or invalid thresholds.
        """
        _check_table_id(table_id)
        digits = _check_digits(digits, "RegressionTable.from_long(digits=...)")
        user_notes = _check_notes(notes, "RegressionTable.from_long(notes=...)")

        src = "coefs"
        _require_columns(coefs, ["model", "term", "estimate", "se"], src)
        if len(coefs) == 0:
            raise InputError("the coefficient frame has no rows", source=src, rows="all")
        c, model_col, term_col = _label_columns(coefs, ("model", "term"), src)
        est = _numeric_column(c, "estimate", src)
        se = _numeric_column(c, "se", src)
        bad = _rows(se < 0)
        if bad:
            raise InputError("standard errors must not be negative", source=src, rows=bad, column="se")
        if "pvalue" in c.columns:
            pv = _numeric_column(c, "pvalue", src).copy()
            bad = _rows((pv < 0) | (pv > 1))
            if bad:
                raise InputError("p-values must lie in [0, 1]", source=src, rows=bad, column="pvalue")
        else:
            pv = np.full(len(c), np.nan)
        # optional boolean column ``star``: False = no valid inference for this cell (thin support,
        # one treated cluster): no p-value is computed for it and it never carries a star
        no_star = (
            ~c["star"].fillna(True).astype(bool).to_numpy() if "star" in c.columns else np.zeros(len(c), bool)
        )
        pv[no_star] = np.nan
        computed_p = False
        for i in range(len(c)):
            if no_star[i]:
                continue
            if np.isnan(pv[i]) and np.isfinite(est[i]) and np.isfinite(se[i]) and se[i] > 0:
                pv[i] = _normal_two_sided_p(est[i] / se[i])
                computed_p = True

        seen, dups = _first_rows(model_col, term_col)
        if dups:
            raise InputError("duplicated (model, term) rows", source=src, rows=dups, column="term")

        # ---- model and term order -------------------------------------------------
        models_present = list(dict.fromkeys(model_col))
        models = _display_order(model_order, models_present, "model", listing=f" (models: {models_present})")
        terms = _display_order(term_order, list(dict.fromkeys(term_col)), "term")
        if not terms or not models:
            raise InputError("no terms or models left to show", source=src, rows="all")
        labels_map = {str(k): str(v) for k, v in (term_labels or {}).items()}
        labels = tuple(labels_map.get(t, t) for t in terms)

        def grid(values: np.ndarray) -> tuple[tuple[float, ...], ...]:
            out = []
            for t in terms:
                row = []
                for m in models:
                    idx = seen.get((m, t))
                    row.append(float(values[idx]) if idx is not None else math.nan)
                out.append(tuple(row))
            return tuple(out)

        # ---- thresholds ------------------------------------------------------------
        try:
            thresholds = tuple(sorted((float(s) for s in stars), reverse=True))
        except (TypeError, ValueError):
            raise InputError(f"stars must be numbers, got {stars!r}", source="stars") from None
        if any(not 0 < t < 1 for t in thresholds) or len(set(thresholds)) != len(thresholds):
            raise InputError(f"stars must be distinct thresholds in (0, 1), got {stars!r}", source="stars")

        # ---- statistics block ------------------------------------------------------
        stat_rows: list[tuple[str, tuple[str, ...]]] = []
        if stats is not None and len(stats) > 0:
            ssrc = "stats"
            _require_columns(stats, ["model", "stat", "value"], ssrc)
            s, smodel, sname = _label_columns(stats, ("model", "stat"), ssrc)
            unknown_rows = [i + 1 for i, m in enumerate(smodel) if m not in models_present]
            if unknown_rows:
                raise InputError(
                    f"model not in the coefficient frame (models: {models_present})",
                    source=ssrc,
                    rows=unknown_rows,
                    column="model",
                )
            sseen, sdups = _first_rows(smodel, sname)
            if sdups:
                raise InputError("duplicated (model, stat) rows", source=ssrc, rows=sdups, column="stat")
            values = s["value"].tolist()
            for name in dict.fromkeys(sname):
                cells = []
                for m in models:
                    idx = sseen.get((m, name))
                    if idx is None:
                        cells.append("")
                    else:
                        text, _ = _format_value(
                            values[idx], digits, integer_floats=name.strip().casefold() in COUNT_STATS
                        )
                        cells.append(text)
                stat_rows.append((name, tuple(cells)))

        all_notes = list(user_notes)
        se_line = "Standard errors in parentheses."
        if thresholds:
            se_line += " " + _stars_note(thresholds)
            if computed_p:
                se_line += " (two-sided normal p-values from estimate/SE where the estimator supplied none)"
            se_line += "."
        all_notes.append(se_line)

        return cls(
            table_id=table_id,
            title=str(title),
            models=tuple(models),
            terms=tuple(terms),
            term_labels=labels,
            estimates=grid(est),
            ses=grid(se),
            pvalues=grid(pv),
            stats=tuple(stat_rows),
            notes=tuple(all_notes),
            stars=thresholds,
            digits=digits,
        )

    @classmethod
    def from_results(
        cls,
        results: Sequence[Any],
        *,
        table_id: str,
        title: str,
        statistics: Mapping[str, str] | None = None,
        notes: Sequence[str] = (),
        term_labels: Mapping[str, str] | None = None,
        term_order: Sequence[str] | None = None,
        stars: Sequence[float] = (0.10, 0.05, 0.01),
        digits: int = 3,
    ) -> RegressionTable:
        """One column per result: anything with ``model``, ``tidy()`` and ``glance()`` (the protocol of
        :mod:`zonespill.study.protocol`; wrap estimator results with ``protocol.adapt``).

        ``statistics`` maps ``glance()`` keys to the row labels shown (in this order; a result
        without the key leaves its cell blank). A result with a ``reason`` (not estimable) keeps its
        column, blank, and its reason goes to the notes.
        """
        coef_rows: list[dict[str, Any]] = []
        stat_rows: list[dict[str, Any]] = []
        fail_notes: list[str] = []
        for r in results:
            reason = getattr(r, "reason", None)
            if reason:
                fail_notes.append(f"not estimable: {r.model}: {reason}.")
            for row in r.tidy().itertuples(index=False):
                coef_rows.append(
                    {
                        "model": r.model,
                        "term": row.term,
                        "estimate": row.estimate,
                        "se": row.std_error,
                        "pvalue": row.p_value,
                    }
                )
            glance = r.glance()
            for key, label in (statistics or {}).items():
                if glance.get(key) is not None:
                    stat_rows.append({"model": r.model, "stat": label, "value": glance[key]})
        models = [r.model for r in results]
        coefs = pd.DataFrame(coef_rows, columns=["model", "term", "estimate", "se", "pvalue"])
        if coefs.empty:  # nothing estimable: keep the columns (blank) and say why in the notes
            first = next(iter(term_order)) if term_order else "—"
            coefs = pd.DataFrame(
                {"model": models, "term": first, "estimate": np.nan, "se": np.nan, "pvalue": np.nan}
            )
        missing = [m for m in models if m not in set(coefs["model"])]
        if missing:  # a column with no estimate stays in the table, blank
            blank = {"term": coefs["term"].iloc[0], "estimate": np.nan, "se": np.nan, "pvalue": np.nan}
            extra = pd.DataFrame([{"model": m, **blank} for m in missing])
            coefs = pd.concat([coefs, extra], ignore_index=True)
        return cls.from_long(
            coefs,
            pd.DataFrame(stat_rows, columns=["model", "stat", "value"]),
            table_id=table_id,
            title=title,
            notes=[*notes, *fail_notes],
            term_labels=term_labels,
            term_order=term_order,
            model_order=models,
            stars=stars,
            digits=digits,
        )

    def star_string(self, p: float) -> str:
        """Stars earned by p-value ``p`` (empty for ``nan``)."""
        if math.isnan(p):
            return ""
        return "*" * sum(p < t for t in self.stars)

    def _layout(self) -> _Layout:
        coef_rows: list[tuple[str, tuple[_Cell, ...]]] = []
        csv_rows: list[tuple[str, ...]] = []
        for k, label in enumerate(self.term_labels):
            est_cells = [_Cell(label)]
            se_cells = [_Cell("")]
            est_csv = [label, "estimate"]
            se_csv = [label, "se"]
            for j in range(len(self.models)):
                e, s, p = self.estimates[k][j], self.ses[k][j], self.pvalues[k][j]
                ec = _Cell(
                    format_number(e, self.digits),
                    numeric=True,
                    stars=self.star_string(p) if not math.isnan(e) else "",
                )
                sc = _Cell(format_number(s, self.digits), numeric=True, paren=True)
                est_cells.append(ec)
                se_cells.append(sc)
                est_csv.append(ec.plain())
                se_csv.append(sc.plain())
            coef_rows.append(("estimate", tuple(est_cells)))
            coef_rows.append(("se", tuple(se_cells)))
            csv_rows.extend([tuple(est_csv), tuple(se_csv)])
        stat_rows: list[tuple[str, tuple[_Cell, ...]]] = []
        for name, values in self.stats:
            stat_rows.append(("stat", (_Cell(name), *(_Cell(v) for v in values))))
            csv_rows.append((name, "stat", *values))
        sections = (tuple(coef_rows), tuple(stat_rows)) if stat_rows else (tuple(coef_rows),)
        centred: list[Align] = ["c"] * len(self.models)
        return _Layout(
            table_id=self.table_id,
            title=self.title,
            header=("", *self.models),
            align=("l", *centred),
            sections=sections,
            notes=self.notes,
            csv_header=("term", "row", *self.models),
            csv_rows=tuple(csv_rows),
            regression=True,
        )


# ---------------------------------------------------------------------------------------
# plain (descriptive) tables
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlainTable:
    """A descriptive table (summary statistics, sigma by year, cross-tabs).

    Parameters
    ----------
    frame
        The content. The index becomes the leading column(s) unless it is an unnamed
        integer index (row positions, e.g. after filtering), which is dropped; so a named
        ``year`` index, the rows of a cross-tab or the statistic names of ``describe()``
        are kept. MultiIndex columns are flattened by joining levels with ``" / "``.
        Column names are shown as headers.
    table_id
        Output file stem and LaTeX label; letters, digits, ``_.-``.
    title
        Caption.
    notes
        Notes printed under the table.
    digits
        Decimals for float cells: one integer for all columns, or a mapping from column
        name to decimals (columns not in the mapping use 3). Integer columns print as
        integers, booleans as Yes/No, missing values as blanks, strings unchanged.
    """

    frame: pd.DataFrame
    _: KW_ONLY
    table_id: str
    title: str
    notes: Sequence[str] = ()
    digits: int | Mapping[str, int] = 3
    _cells: tuple[tuple[tuple[str, bool], ...], ...] = field(init=False, repr=False)
    _columns: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_table_id(self.table_id)
        if not isinstance(self.frame, pd.DataFrame):
            raise InputError(
                f"expected a pandas DataFrame, got {type(self.frame).__name__}",
                source="PlainTable(frame=...)",
            )
        frame = self.frame.copy()
        if isinstance(frame.columns, pd.MultiIndex):
            frame.columns = [" / ".join(str(x) for x in col if str(x) != "") for col in frame.columns]
        positional = (
            frame.index.nlevels == 1
            and frame.index.name is None
            and pd.api.types.is_integer_dtype(frame.index.dtype)
        )
        if not positional:
            names = [
                n if n is not None else ("" if frame.index.nlevels == 1 else f"level_{i}")
                for i, n in enumerate(frame.index.names)
            ]
            frame.index = frame.index.set_names(names)
            frame = frame.reset_index()
        columns = tuple(str(c) for c in frame.columns)
        if len(set(columns)) != len(columns):
            raise InputError(
                f"column names must be unique, got {list(columns)}", source="PlainTable(frame=...)"
            )
        if not columns:
            raise InputError("the frame has no columns", source="PlainTable(frame=...)")
        if isinstance(self.digits, Mapping):
            unknown = [k for k in self.digits if str(k) not in columns]
            if unknown:
                raise InputError(
                    f"digits given for unknown columns {unknown}", source="PlainTable(digits=...)"
                )
            per_col = {str(k): _check_digits(v, "PlainTable(digits=...)") for k, v in self.digits.items()}
            default = 3
        else:
            per_col = {}
            default = _check_digits(self.digits, "PlainTable(digits=...)")
        cols_cells = []
        for name, col in zip(columns, frame.columns, strict=True):
            d = per_col.get(name, default)
            cols_cells.append([_format_value(v, d) for v in frame[col].tolist()])
        rows = tuple(tuple(cells[i] for cells in cols_cells) for i in range(len(frame)))
        object.__setattr__(self, "notes", _check_notes(self.notes, "PlainTable(notes=...)"))
        object.__setattr__(self, "frame", self.frame.copy())
        object.__setattr__(self, "_cells", rows)
        object.__setattr__(self, "_columns", columns)

    def _layout(self) -> _Layout:
        numeric_col = [
            any(cell[1] for cell in (r[j] for r in self._cells))
            and all(cell[1] or not cell[0] for cell in (r[j] for r in self._cells))
            for j in range(len(self._columns))
        ]
        align: tuple[Align, ...] = tuple("r" if num else "l" for num in numeric_col)
        rows = tuple(("data", tuple(_Cell(text, numeric=num) for text, num in r)) for r in self._cells)
        return _Layout(
            table_id=self.table_id,
            title=str(self.title),
            header=self._columns,
            align=align,
            sections=(rows,),
            notes=tuple(self.notes),
            csv_header=self._columns,
            csv_rows=tuple(tuple(text for text, _ in r) for r in self._cells),
            regression=False,
        )


Table = RegressionTable | PlainTable


# ---------------------------------------------------------------------------------------
# renderers
# ---------------------------------------------------------------------------------------


#: Body rows above which a LaTeX table becomes a ``longtable`` (breaks across pages).
TEX_LONG_ROWS = 45

#: Usable line width assumed when choosing font size and column widths, in points: the text
#: width of a 10pt ``article`` page (345pt) less a safety margin for the width estimates.
_TEX_LINE_PT = 320.0
_TEX_TABCOLSEP_PT = 6.0
# a long table too wide for the portrait line is set in landscape (pdflscape): the usable width
# is then the text height, conservatively this many points
_TEX_LANDSCAPE_PT = 500.0
#: Font size commands tried in order, with their nominal size in points.
_TEX_SIZES: tuple[tuple[str, float], ...] = (
    ("", 10.0),
    ("\\small", 9.0),
    ("\\footnotesize", 8.0),
    ("\\scriptsize", 7.0),
)
#: Narrowest paragraph column offered to wrapped text, in em.
_TEX_MIN_P_EM = 6.0

_CJK_RE = re.compile(
    "[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002fa1f]"
)
#: Characters after which a wrapped cell may break a long token (lists of ids, snake_case).
_BREAK_AFTER = ",;/_–—"


def _has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def _char_em(ch: str) -> float:
    """Estimated width of one typeset character in em (Computer Modern-like; CJK full width)."""
    if _CJK_RE.match(ch):
        return 1.0
    if ch == " ":
        return 0.34
    if ch.isupper() or ch in "mwMW%&@—":
        return 0.78
    if ch in "il.,;:'|!()[]":
        return 0.3
    return 0.52


def _text_em(text: str) -> float:
    return sum(_char_em(c) for c in text)


def _cell_em(cell: _Cell) -> float:
    # stars are superscripts (~0.35em each); the rest as printed
    return _text_em(cell.plain()[: len(cell.plain()) - len(cell.stars)]) + 0.35 * len(cell.stars)


def _tokens(text: str) -> list[str]:
    """Pieces between which a wrapped cell can break: spaces, after ``,;/_``, around CJK characters."""
    out: list[str] = []
    cur = ""
    for ch in text:
        if ch.isspace():
            if cur:
                out.append(cur)
            cur = ""
        elif _CJK_RE.match(ch):
            if cur:
                out.append(cur)
            out.append(ch)
            cur = ""
        else:
            cur += ch
            if ch in _BREAK_AFTER:
                out.append(cur)
                cur = ""
    if cur:
        out.append(cur)
    return out


def _min_em(text: str) -> float:
    return max((_text_em(t) for t in _tokens(text)), default=0.0)


_HEADER_BREAK_RE = re.compile(r"(?<=[-–—/_])(?=\S)")


def _header_words(text: str) -> list[tuple[str, bool]]:
    """Header pieces and whether a space preceded each: breaks at spaces and after - – — / _."""
    out: list[tuple[str, bool]] = []
    for k, word in enumerate(str(text).split()):
        for m, piece in enumerate(_HEADER_BREAK_RE.split(word)):
            out.append((piece, k > 0 and m == 0))
    return out


def _header_lines(text: str, width_em: float) -> list[str]:
    """Greedy line fill of a header into lines no wider than ``width_em`` (a piece never splits)."""
    lines: list[str] = []
    cur = ""
    for piece, spaced in _header_words(text):
        trial = cur + (" " if spaced and cur else "") + piece
        if cur and _text_em(trial) > width_em:
            lines.append(cur)
            cur = piece
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines or [""]


@dataclass(frozen=True)
class _TexPlan:
    size: str  # font size command ("" = normal)
    colspec: tuple[str, ...]  # per column: "l"/"c"/"r" or a p{} spec
    wrap: tuple[bool, ...]  # per column: cell text may wrap (paragraph column)
    header_width_em: tuple[float | None, ...]  # per column: wrap the header at this width
    long: bool
    overfull_risk: bool  # even the smallest size does not fit the estimate
    landscape: bool = False  # a long table set on a landscape page (pdflscape)


def _tex_plan(lay: _Layout, long_rows: int) -> _TexPlan:
    """The portrait plan, or for a long table too wide for it even at the smallest size, the
    landscape plan (a float table is scaled to the line instead, see :func:`_render_tex`)."""
    plan = _tex_plan_at(lay, long_rows, _TEX_LINE_PT)
    if plan.long and plan.overfull_risk:
        wide = _tex_plan_at(lay, long_rows, _TEX_LANDSCAPE_PT)
        return replace(wide, landscape=True)
    return plan


def _tex_plan_at(lay: _Layout, long_rows: int, line_pt: float) -> _TexPlan:
    """Choose font size and column types so that the table fits the line width.

    Widths are estimated from the characters (see :func:`_char_em`); numeric columns never
    wrap, text columns (left-aligned, not numeric) may become ragged-right paragraph
    columns, headers may wrap at spaces. The largest font size that fits is used.
    """
    ncol = len(lay.header)
    rows = [cells for section in lay.sections for _kind, cells in section]
    body_w = [max((_cell_em(r[j]) for r in rows), default=0.0) for j in range(ncol)]
    body_min = [max((_min_em(r[j].plain()) for r in rows), default=0.0) for j in range(ncol)]
    head_w = [_text_em(h) for h in lay.header]
    head_min = [max((_text_em(w) for w, _ in _header_words(h)), default=0.0) for h in lay.header]
    # a column holding any text cell (labels, or statistics rows such as an SE description in an
    # estimate column) may become a paragraph column; its numbers never break (one token each)
    wrappable = [not all(r[j].numeric or not r[j].text for r in rows) for j in range(ncol)]
    n_body = len(rows)
    long = n_body > long_rows
    for size, pt in _TEX_SIZES:
        budget = line_pt / pt - ncol * 2 * _TEX_TABCOLSEP_PT / pt
        natural = [max(b, h) for b, h in zip(body_w, head_w, strict=True)]
        if sum(natural) <= budget:
            return _TexPlan(size, tuple(lay.align), (False,) * ncol, (None,) * ncol, long, False)
        # fixed columns keep their body width (header wrapped to it); text columns shrink
        fixed = [max(body_w[j], head_min[j]) for j in range(ncol)]
        # label columns keep a readable paragraph width; estimate columns only need their
        # longest unbreakable piece (a number with its stars, a word of a statistic)
        floor = [_TEX_MIN_P_EM if lay.align[j] == "l" else _TEX_MIN_P_EM / 2 for j in range(ncol)]
        minimal = [
            max(body_min[j], head_min[j], min(floor[j], natural[j])) if wrappable[j] else fixed[j]
            for j in range(ncol)
        ]
        last = size == _TEX_SIZES[-1][0]
        if sum(minimal) <= budget or last:
            spare = budget - sum(minimal)
            # give the spare width to the text columns in proportion to what they lack
            want = [natural[j] - minimal[j] if wrappable[j] else 0.0 for j in range(ncol)]
            total_want = sum(want)
            widths = [
                minimal[j] + (spare * want[j] / total_want if total_want > 0 and spare > 0 else 0.0)
                for j in range(ncol)
            ]
            widths = [min(w, natural[j]) for j, w in enumerate(widths)]
            colspec: list[str] = []
            wrap: list[bool] = []
            head: list[float | None] = []
            for j in range(ncol):
                if wrappable[j] and natural[j] > widths[j] + 1e-9:
                    # width as a share of the line, so the table scales with the document
                    frac = widths[j] * pt / line_pt
                    par = {"c": "\\centering", "r": "\\raggedleft"}.get(lay.align[j], "\\raggedright")
                    colspec.append(f">{{{par}\\arraybackslash}}p{{{frac:.3f}\\linewidth}}")
                    wrap.append(True)
                    head.append(None)
                else:
                    colspec.append(lay.align[j])
                    wrap.append(False)
                    head.append(widths[j] if head_w[j] > widths[j] + 1e-9 else None)
            return _TexPlan(size, tuple(colspec), tuple(wrap), tuple(head), long, sum(minimal) > budget)
    raise AssertionError("unreachable")  # pragma: no cover


def _wrap_breaks(latex: str) -> str:
    """Allow line breaks after the separators of long tokens in a paragraph cell."""
    # only inside tokens: a separator followed by a space already has its break
    out = latex.replace(r"\_", r"\_\allowbreak{}")
    return re.sub(r"([,;/–—])(?=[^\s\\])", r"\1\\allowbreak{}", out)


def note_breaks(latex: str, min_chars: int = 30) -> str:
    """Break points only inside long tokens of a note (paths, ids lists, hashes stay readable)."""
    return " ".join(_wrap_breaks(t) if len(t) > min_chars else t for t in latex.split(" "))


def _tex_header_cell(text: str, align: str, width_em: float | None) -> str:
    if width_em is None:
        return latex_escape(text)
    lines = _header_lines(text, width_em)
    if len(lines) == 1:
        return latex_escape(text)
    a = align if align in ("l", "c", "r") else "l"
    return (
        f"\\begin{{tabular}}[b]{{@{{}}{a}@{{}}}}"
        + r"\\".join(latex_escape(x) for x in lines)
        + r"\end{tabular}"
    )


def _tex_requirements(lay: _Layout, plan: _TexPlan) -> list[str]:
    """Comment lines naming the packages and engine the table needs."""
    texts = [lay.title, *lay.header, *lay.notes]
    texts += [c.text for section in lay.sections for _k, cells in section for c in cells]
    packages = ["booktabs"]
    if any(plan.wrap):
        packages.append("array")
    if plan.long:
        packages.append("longtable")
    if plan.landscape:
        packages.append("pdflscape")
    elif plan.overfull_risk:
        packages.append("graphicx")
    lines = ["% Requires: " + ", ".join(f"\\usepackage{{{p}}}" for p in packages) + "."]
    if any(_has_cjk(t) for t in texts):
        lines.append(
            "% Engine: XeLaTeX with \\usepackage{xeCJK} and a CJK main font (\\setCJKmainfont{...}); "
            "the table holds CJK characters that pdfLaTeX cannot typeset."
        )
    else:
        lines.append("% Engine: pdfLaTeX (UTF-8 input), XeLaTeX or LuaLaTeX.")
    if plan.landscape:
        lines.append("% Layout: set on a landscape page (too wide for the portrait text width).")
    if plan.overfull_risk:
        lines.append(
            "% Warning: wider than the text width even at \\scriptsize with wrapped cells"
            + ("" if not plan.landscape else " on a landscape page")
            + ("; consider fewer columns." if plan.long else "; scaled down to the line width.")
        )
    return lines


def tex_preamble(tex: str) -> str:
    """The preamble lines a rendered ``.tex`` table asks for in its header comment.

    ``\\usepackage`` lines from ``% Requires:``; for a CJK table also ``\\usepackage{xeCJK}``
    (the CJK font, ``\\setCJKmainfont``, is the paper's choice and is not included).
    """
    lines: list[str] = []
    for line in tex.splitlines()[:8]:
        if line.startswith("% Requires: "):
            lines += re.findall(r"\\usepackage\{[^}]+\}", line)
        if line.startswith("% Engine: ") and "xeCJK" in line:
            lines.append("\\usepackage{xeCJK}")
    return "\n".join(lines)


def _render_tex(lay: _Layout, footer: str, *, long_rows: int = TEX_LONG_ROWS) -> str:
    plan = _tex_plan(lay, long_rows)
    ncol = len(lay.header)
    header = (
        " & ".join(
            _tex_header_cell(h, a, w)
            for h, a, w in zip(lay.header, lay.align, plan.header_width_em, strict=True)
        )
        + " \\\\"
    )

    def body_line(cells: Sequence[_Cell]) -> str:
        parts = [_wrap_breaks(c.latex()) if plan.wrap[j] else c.latex() for j, c in enumerate(cells)]
        return " & ".join(parts) + " \\\\"

    out = [
        f"% {lay.table_id}: generated by zonespill; do not edit by hand.",
        *_tex_requirements(lay, plan),
    ]
    spec = "".join(plan.colspec)
    notes: list[str] = []
    if lay.notes:
        # \sloppy: a note never sticks out of the line for want of a break point
        notes = [
            "{\\footnotesize\\raggedright\\sloppy",
            *(note_breaks(latex_escape(n)) + "\\par" for n in lay.notes),
            "}",
        ]
    if plan.long:
        if plan.landscape:
            out.append("\\begin{landscape}")
        out.append("\\begingroup")
        if plan.size:
            out.append(plan.size)
        out += [
            f"\\begin{{longtable}}{{{spec}}}",
            f"\\caption{{{latex_escape(lay.title)}}}\\label{{tab:{lay.table_id}}}\\\\",
            "\\toprule",
            header,
            "\\midrule",
            "\\endfirsthead",
            f"\\multicolumn{{{ncol}}}{{@{{}}l}}{{\\emph{{Table \\thetable{{}} (continued)}}}}\\\\",
            "\\toprule",
            header,
            "\\midrule",
            "\\endhead",
            "\\midrule",
            f"\\multicolumn{{{ncol}}}{{r@{{}}}}{{\\emph{{continued on next page}}}}\\\\",
            "\\endfoot",
            "\\bottomrule",
            "\\endlastfoot",
        ]
        first = True
        for section in lay.sections:
            if not section:
                continue
            if not first:
                out.append("\\midrule")
            first = False
            out.extend(body_line(cells) for _kind, cells in section)
        out.append("\\end{longtable}")
        out.extend(notes)
        out.append("\\endgroup")
        if plan.landscape:
            out.append("\\end{landscape}")
    else:
        out += ["\\begin{table}[htbp]", "\\centering"]
        if plan.size:
            out.append(plan.size)
        out += [
            f"\\caption{{{latex_escape(lay.title)}}}",
            f"\\label{{tab:{lay.table_id}}}",
            # last resort (too many columns for any font size): scale the tabular to the line
            # (down only: \\width is the natural width, never enlarged)
            *(
                ["\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%"]
                if plan.overfull_risk
                else []
            ),
            f"\\begin{{tabular}}{{{spec}}}",
            "\\toprule",
            header,
        ]
        for section in lay.sections:
            if not section:
                continue
            out.append("\\midrule")
            out.extend(body_line(cells) for _kind, cells in section)
        out.append("\\bottomrule")
        out.append("\\end{tabular}" + ("}" if plan.overfull_risk else ""))
        if notes:
            out.append("\\par\\smallskip")
            out.extend(notes)
        out.append("\\end{table}")
    out.append(f"% {footer}")
    return "\n".join(out) + "\n"


def _render_md(lay: _Layout, footer: str) -> str:
    sep = {"l": ":---", "c": ":---:", "r": "---:"}
    out = [
        f"**Table {_md_escape(lay.table_id)}: {_md_escape(lay.title)}**",
        "",
        "| " + " | ".join(_md_escape(h) for h in lay.header) + " |",
        "| " + " | ".join(sep[a] for a in lay.align) + " |",
    ]
    for section in lay.sections:
        for _kind, cells in section:
            out.append("| " + " | ".join(_md_escape(c.plain()) for c in cells) + " |")
    out.append("")
    for n in lay.notes:
        out.extend([_md_escape(n), ""])
    out.append(_md_escape(footer))
    return "\n".join(out) + "\n"


def _render_csv(lay: _Layout, footer: str) -> str:
    buf = _stdio.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(lay.csv_header)
    writer.writerows(lay.csv_rows)
    width = len(lay.csv_header)
    # notes and footer go in the first column; regression tables also tag them in "row"
    for text, tag in [*((n, "note") for n in lay.notes), (footer, "provenance")]:
        row = [text, tag] if lay.regression else [text]
        writer.writerow(row + [""] * (width - len(row)))
    return buf.getvalue()


_HTML_STYLE = (
    "table{border-collapse:collapse;font-family:serif}"
    "caption{font-weight:bold;padding-bottom:.4em}"
    "thead tr:first-child th{border-top:2px solid #000}"
    "thead th{border-bottom:1px solid #000}"
    "tbody+tbody tr:first-child>*{border-top:1px solid #000}"
    "tbody tr:last-child>*{border-bottom:2px solid #000}"
    "th,td{padding:.15em .8em}"
    "td.l,th.l{text-align:left}td.c,th.c{text-align:center}td.r,th.r{text-align:right}"
    "tfoot td{font-size:.85em;text-align:left;border:none}"
    "p.provenance{font-size:.75em;color:#555}"
)


def _render_html(lay: _Layout, footer: str) -> str:
    esc = html.escape
    ncol = len(lay.header)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>Table {esc(lay.table_id)}: {esc(lay.title)}</title>",
        f"<style>{_HTML_STYLE}</style>",
        "</head>",
        "<body>",
        f'<table id="{esc(lay.table_id)}">',
        f"<caption>{esc(lay.title)}</caption>",
        "<thead>",
        "<tr>"
        + "".join(
            f'<th scope="col" class="{a}">{esc(h)}</th>' for h, a in zip(lay.header, lay.align, strict=True)
        )
        + "</tr>",
        "</thead>",
    ]
    for section in lay.sections:
        if not section:
            continue
        out.append("<tbody>")
        for kind, cells in section:
            first, rest = cells[0], cells[1:]
            row = f'<tr class="{kind}"><th scope="row" class="{lay.align[0]}">{esc(first.plain())}</th>'
            row += "".join(
                f'<td class="{a}">{esc(c.plain())}</td>' for c, a in zip(rest, lay.align[1:], strict=True)
            )
            out.append(row + "</tr>")
        out.append("</tbody>")
    if lay.notes:
        out.append("<tfoot>")
        out.extend(f'<tr><td colspan="{ncol}">{esc(n)}</td></tr>' for n in lay.notes)
        out.append("</tfoot>")
    out.append("</table>")
    out.append(f'<p class="provenance">{esc(footer)}</p>')
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"


_RENDERERS = {"tex": _render_tex, "md": _render_md, "csv": _render_csv, "html": _render_html}


def render_table(table: Table, fmt: str, *, provenance_hash: str, tex_long_rows: int = TEX_LONG_ROWS) -> str:
    """Render ``table`` to one format without writing it.

    Parameters
    ----------
    table
        A :class:`RegressionTable` or :class:`PlainTable`.
    fmt
        One of :data:`FORMATS`.
    provenance_hash
        Hash of the run's provenance record (see :func:`zonespill.provenance.provenance_hash`).
    tex_long_rows
        LaTeX only: a table with more body rows than this is a ``longtable`` that breaks
        across pages (header repeated, "continued" lines); default :data:`TEX_LONG_ROWS`.

    Returns
    -------
    str
        The file content.
    """
    if fmt not in _RENDERERS:
        raise InputError(f"unknown table format {fmt!r}; choose from {list(FORMATS)}", source="formats")
    if not isinstance(table, RegressionTable | PlainTable):
        raise InputError(
            f"expected a RegressionTable or PlainTable, got {type(table).__name__}", source="table"
        )
    if (
        isinstance(tex_long_rows, bool)
        or not isinstance(tex_long_rows, int | np.integer)
        or tex_long_rows < 0
    ):
        raise InputError(
            f"tex_long_rows must be an integer >= 0, got {tex_long_rows!r}", source="tex_long_rows"
        )
    footer = footer_text(table.table_id, provenance_hash)
    if fmt == "tex":
        return _render_tex(table._layout(), footer, long_rows=int(tex_long_rows))
    return _RENDERERS[fmt](table._layout(), footer)


class TableObserver:
    """Sees every table a step writes (see :func:`observe_tables`).

    ``only``: table ids to write (others are dropped silently: they belong to another declared
    table whose own step writes them); ``titles``: declared titles replacing the builder's.
    """

    def __init__(
        self,
        only: Sequence[str] | None = None,
        titles: Mapping[str, str] | None = None,
        transform: Callable[[Table], Table] | None = None,
    ) -> None:
        self.only = None if only is None else frozenset(only)
        self.titles = dict(titles or {})
        self.transform = transform
        self.tables: list[Table] = []

    def seen(self, table: Table) -> Table | None:
        if self.only is not None and table.table_id not in self.only:
            return None
        title = self.titles.get(table.table_id)
        if title:
            table = copy.copy(table)
            object.__setattr__(table, "title", str(title))
        if self.transform is not None:
            table = self.transform(table)
        self.tables.append(table)
        return table


_OBSERVER: contextvars.ContextVar[TableObserver | None] = contextvars.ContextVar(
    "zonespill_tables", default=None
)


@contextlib.contextmanager
def observe_tables(
    only: Sequence[str] | None = None,
    titles: Mapping[str, str] | None = None,
    transform: Callable[[Table], Table] | None = None,
) -> Iterator[TableObserver]:
    """Within the block, :func:`write_table` writes only the tables in ``only``, under the declared
    ``titles`` (then ``transform``), and records them (the study layer reads status and dropped
    terms from them)."""
    observer = TableObserver(only, titles, transform)
    token = _OBSERVER.set(observer)
    try:
        yield observer
    finally:
        _OBSERVER.reset(token)


def write_table(
    table: Table,
    outdir: str | Path,
    *,
    provenance_hash: str,
    formats: Sequence[str] = FORMATS,
    tex_long_rows: int = TEX_LONG_ROWS,
) -> list[Path]:
    """Write ``table`` as ``<outdir>/<table_id>.<fmt>`` for each format, atomically.

    Parameters
    ----------
    table
        A :class:`RegressionTable` or :class:`PlainTable`.
    outdir
        Destination folder (created if needed).
    provenance_hash
        sha256 of the run's provenance record (64 hex characters, optionally prefixed
        ``sha256:``); printed in the footer of every output.
    formats
        Any of ``"tex"``, ``"md"``, ``"csv"``, ``"html"``.
    tex_long_rows
        See :func:`render_table`.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.
    """
    if isinstance(formats, str):
        formats = (formats,)
    observer = _OBSERVER.get()
    if observer is not None:
        kept = observer.seen(table)
        if kept is None:  # not this step's table (another declared table shares the builder)
            return []
        table = kept
    unknown = [f for f in formats if f not in _RENDERERS]
    if unknown:
        raise InputError(f"unknown table formats {unknown}; choose from {list(FORMATS)}", source="formats")
    contents = [
        (fmt, render_table(table, fmt, provenance_hash=provenance_hash, tex_long_rows=tex_long_rows))
        for fmt in dict.fromkeys(formats)
    ]
    paths = []
    for fmt, text in contents:
        path = Path(outdir) / f"{table.table_id}.{fmt}"
        write_text(path, text)
        paths.append(path)
    return paths
