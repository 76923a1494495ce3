"""Tests for zonespill.tables: regression and plain tables in tex/md/csv/html."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zonespill import __version__
from zonespill.errors import InputError
from zonespill.tables import (
    FORMATS,
    PlainTable,
    RegressionTable,
    format_number,
    latex_escape,
    render_table,
    tex_preamble,
    write_table,
)

HASH = "0123456789abcdef" * 4


def _coefs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["(1)", "(1)", "(2)", "(2)", "(2)"],
            "term": ["treat_post", "log_gdp_pc", "treat_post", "log_gdp_pc", "nb_share"],
            "estimate": [0.12345, -0.0001, 0.5, -1.2, 3.0],
            "se": [0.05, 0.01, 0.1, 2.0, 1.0],
        }
    )


def _stats() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["(1)", "(2)", "(1)", "(2)", "(1)", "(2)", "(1)", "(2)"],
            "stat": ["N", "N", "Fixed effects", "Fixed effects", "SE type", "SE type", "Vintage", "Vintage"],
            "value": [
                1234,
                1200,
                "region & year",
                "region, year",
                "cluster (region)",
                "cluster (region)",
                "2024_rev",
                "2024_rev",
            ],
        }
    )


def _table(**kwargs: object) -> RegressionTable:
    base: dict[str, object] = {"table_id": "T3", "title": "Main results"}
    base.update(kwargs)
    return RegressionTable.from_long(_coefs(), _stats(), **base)  # type: ignore[arg-type]


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --------------------------------------------------------------------------- formatting


def test_format_number_fixed_digits_and_negative_zero() -> None:
    assert format_number(1.23456, 3) == "1.235"
    assert format_number(-0.0004, 3) == "0.000"
    assert format_number(-0.0, 2) == "0.00"
    assert format_number(-0.4, 0) == "0"
    assert format_number(-0.0006, 3) == "-0.001"
    assert format_number(float("nan"), 3) == ""
    assert format_number(2.0, 0) == "2"


def test_latex_escape_specials() -> None:
    raw = r"a_b 50% & #1 $x {y} ~z ^w \ <>|"
    esc = latex_escape(raw)
    for frag in (
        r"a\_b",
        r"50\%",
        r"\&",
        r"\#1",
        r"\$x",
        r"\{y\}",
        r"\textasciitilde{}z",
        r"\textasciicircum{}w",
        r"\textbackslash{}",
        r"\textless{}",
        r"\textgreater{}",
        r"\textbar{}",
    ):
        assert frag in esc
    # Chinese text passes through unchanged; R² becomes a text superscript
    assert latex_escape("广东省") == "广东省"
    assert latex_escape("R²") == r"R\textsuperscript{2}"
    # no unescaped special character survives
    stripped = esc
    for cmd in (r"\_", r"\%", r"\&", r"\#", r"\$", r"\{", r"\}"):
        stripped = stripped.replace(cmd, "")
    stripped = stripped.replace("{}", "")
    for bad in "_%&#$~^":
        assert bad not in stripped


# --------------------------------------------------------------------------- regression tables


def test_stars_thresholds() -> None:
    # normal p from z: z=1.7 -> p=0.089 (*), z=2.0 -> p=0.0455 (**), z=2.6 -> p=0.0093 (***), z=1.6 -> none
    coefs = pd.DataFrame(
        {"model": ["m"] * 4, "term": ["a", "b", "c", "d"], "estimate": [1.7, 2.0, 2.6, 1.6], "se": [1.0] * 4}
    )
    t = RegressionTable.from_long(coefs, None, table_id="S", title="s")
    rows = _csv_rows(render_table(t, "csv", provenance_hash=HASH))
    est = {r[0]: r[2] for r in rows if r[1] == "estimate"}
    assert est == {"a": "1.700*", "b": "2.000**", "c": "2.600***", "d": "1.600"}
    assert any("two-sided normal p-values" in n for n in t.notes)


def test_supplied_pvalues_and_boundaries() -> None:
    coefs = pd.DataFrame(
        {
            "model": ["m"] * 5,
            "term": ["a", "b", "c", "d", "e"],
            "estimate": [1.0] * 5,
            "se": [1.0] * 5,
            "pvalue": [0.10, 0.0999, 0.05, 0.01, 0.009],
        }
    )
    t = RegressionTable.from_long(coefs, None, table_id="S", title="s")
    assert [t.star_string(p[0]) for p in t.pvalues] == ["", "*", "*", "**", "***"]
    assert not any("two-sided normal" in n for n in t.notes)
    # custom thresholds, given in any order
    t2 = RegressionTable.from_long(coefs, None, table_id="S", title="s", stars=(0.01, 0.05))
    assert t2.stars == (0.05, 0.01)
    assert [t2.star_string(p[0]) for p in t2.pvalues] == ["", "", "", "*", "**"]
    assert "* p<0.05, ** p<0.01" in t2.notes[-1]
    t3 = RegressionTable.from_long(coefs, None, table_id="S", title="s", stars=())
    assert t3.star_string(0.0) == ""


def test_star_note_in_all_formats() -> None:
    t = _table()
    for fmt in FORMATS:
        text = render_table(t, fmt, provenance_hash=HASH)
        if fmt == "tex":
            assert r"* p\textless{}0.10, ** p\textless{}0.05, *** p\textless{}0.01" in text
        elif fmt == "md":
            assert r"\* p\<0.10, \*\* p\<0.05, \*\*\* p\<0.01" in text
        elif fmt == "html":
            assert "* p&lt;0.10, ** p&lt;0.05, *** p&lt;0.01" in text
        else:
            assert "* p<0.10, ** p<0.05, *** p<0.01" in text


def test_model_and_term_ordering_and_labels() -> None:
    t = _table(
        model_order=["(2)", "(1)"],
        term_order=["log_gdp_pc", "treat_post"],
        term_labels={"treat_post": "Treated × post"},
    )
    assert t.models == ("(2)", "(1)")
    assert t.terms == ("log_gdp_pc", "treat_post")
    assert t.term_labels == ("log_gdp_pc", "Treated × post")
    rows = _csv_rows(render_table(t, "csv", provenance_hash=HASH))
    assert rows[0] == ["term", "row", "(2)", "(1)"]
    assert rows[1] == ["log_gdp_pc", "estimate", "-1.200", "0.000"]
    assert rows[2] == ["log_gdp_pc", "se", "(2.000)", "(0.010)"]
    assert rows[3][0] == "Treated × post"
    # nb_share was not kept
    assert all(r[0] != "nb_share" for r in rows)
    tex = render_table(t, "tex", provenance_hash=HASH)
    assert r"Treated $\times$ post" in tex
    assert tex.index("log\\_gdp\\_pc") < tex.index("Treated")


def test_default_order_is_first_appearance() -> None:
    t = _table()
    assert t.models == ("(1)", "(2)")
    assert t.terms == ("treat_post", "log_gdp_pc", "nb_share")


def test_missing_terms_shown_blank() -> None:
    t = _table()
    rows = _csv_rows(render_table(t, "csv", provenance_hash=HASH))
    nb_est = next(r for r in rows if r[0] == "nb_share" and r[1] == "estimate")
    nb_se = next(r for r in rows if r[0] == "nb_share" and r[1] == "se")
    assert nb_est == ["nb_share", "estimate", "", "3.000***"]
    assert nb_se == ["nb_share", "se", "", "(1.000)"]
    tex = render_table(t, "tex", provenance_hash=HASH)
    assert "nb\\_share &  & 3.000$^{***}$ \\\\" in tex
    md = render_table(t, "md", provenance_hash=HASH)
    assert "| nb\\_share |  | 3.000\\*\\*\\* |" in md


def test_stats_rows_and_count_formatting() -> None:
    stats = pd.DataFrame(
        {
            "model": ["(1)", "(2)", "(1)", "(2)"],
            "stat": ["N", "N", "R²", "R²"],
            "value": [1234.0, 1200.0, 0.5, 0.61234],
        }
    )
    t = RegressionTable.from_long(_coefs(), stats, table_id="T", title="t")
    assert t.stats == (("N", ("1234", "1200")), ("R²", ("0.500", "0.612")))
    tex = render_table(t, "tex", provenance_hash=HASH)
    assert r"R\textsuperscript{2} & 0.500 & 0.612 \\" in tex
    # a stat missing for one model is blank
    t2 = _table()
    rows = _csv_rows(render_table(t2, "csv", provenance_hash=HASH))
    assert ["Fixed effects", "stat", "region & year", "region, year"] in rows
    assert ["N", "stat", "1234", "1200"] in rows


def test_negative_numbers_latex_minus() -> None:
    tex = render_table(_table(), "tex", provenance_hash=HASH)
    assert "$-$1.200" in tex
    assert "-0.000" not in tex
    assert "$-$0.000" not in tex


def test_escaping_in_every_format() -> None:
    coefs = pd.DataFrame({"model": ["A & B"], "term": ["x_<1>%"], "estimate": [1.0], "se": [0.1]})
    t = RegressionTable.from_long(
        coefs,
        None,
        table_id="E_1",
        title="Growth & 50% <b>bold</b> #1",
        notes=["Source: 统计年鉴 | vintage_2024"],
    )
    tex = render_table(t, "tex", provenance_hash=HASH)
    assert r"\caption{Growth \& 50\% \textless{}b\textgreater{}bold\textless{}/b\textgreater{} \#1}" in tex
    assert r"A \& B" in tex
    assert r"x\_\textless{}1\textgreater{}\%" in tex
    assert "统计年鉴 \\textbar{} vintage\\_2024" in tex
    html_text = render_table(t, "html", provenance_hash=HASH)
    assert "<b>" not in html_text
    assert "Growth &amp; 50% &lt;b&gt;bold&lt;/b&gt; #1" in html_text
    assert "x_&lt;1&gt;%" in html_text
    md = render_table(t, "md", provenance_hash=HASH)
    assert r"A & B" in md
    assert r"x\_\<1\>%" in md
    assert r"统计年鉴 \| vintage\_2024" in md
    # the pipe table keeps its column count despite the '|' in a note and labels
    table_lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert all(ln.replace("\\|", "").count("|") == 3 for ln in table_lines)


def test_notes_present_in_all_formats() -> None:
    t = _table(notes=["Clustered by province.", "Sample: 2000–2020."])
    for fmt in FORMATS:
        text = render_table(t, fmt, provenance_hash=HASH)
        assert "Clustered by province." in text
        assert "Sample: 2000–2020." in text
        assert "Standard errors in parentheses." in text


def test_footer_present_and_last_in_all_formats() -> None:
    t = _table()
    footer = f"Table T3 · provenance sha256:{HASH} · zonespill {__version__}"
    for fmt in FORMATS:
        text = render_table(t, fmt, provenance_hash="sha256:" + HASH)
        last = text.rstrip("\n").splitlines()[-1]
        if fmt == "html":
            assert f'<p class="provenance">{footer}</p>' in text
            assert last == "</html>"
        elif fmt == "tex":
            assert last == f"% {footer}"
        elif fmt == "csv":
            assert _csv_rows(text)[-1][0] == footer
        else:
            assert last == footer


def test_write_table_byte_identical(tmp_path: Path) -> None:
    paths1 = write_table(_table(), tmp_path / "a", provenance_hash=HASH)
    paths2 = write_table(_table(), tmp_path / "b", provenance_hash=HASH)
    assert [p.name for p in paths1] == ["T3.tex", "T3.md", "T3.csv", "T3.html"]
    for p1, p2 in zip(paths1, paths2, strict=True):
        assert p1.read_bytes() == p2.read_bytes()
    first = [p.read_bytes() for p in paths1]
    write_table(_table(), tmp_path / "a", provenance_hash=HASH)
    assert [p.read_bytes() for p in paths1] == first
    # only the outputs are left behind (no temporary files)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["T3.csv", "T3.html", "T3.md", "T3.tex"]
    # csv is UTF-8 without index and readable by pandas
    df = pd.read_csv(paths1[2], dtype=str, keep_default_na=False)
    assert list(df.columns) == ["term", "row", "(1)", "(2)"]


def test_write_table_subset_of_formats(tmp_path: Path) -> None:
    paths = write_table(_table(), tmp_path, provenance_hash=HASH, formats=("md",))
    assert paths == [tmp_path / "T3.md"]
    with pytest.raises(InputError, match="unknown table formats"):
        write_table(_table(), tmp_path, provenance_hash=HASH, formats=("docx",))


def test_bad_provenance_hash_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sha256"):
        write_table(_table(), tmp_path, provenance_hash="abc")
    assert not list(tmp_path.iterdir())


class _Checker(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input", "col"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> (open: {self.stack})"
        self.stack.pop()


def test_html_well_formed() -> None:
    text = render_table(_table(notes=["a < b"]), "html", provenance_hash=HASH)
    assert text.startswith("<!DOCTYPE html>\n")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == []
    for tag in ("table", "caption", "thead", "tbody", "tfoot", "th", "td"):
        assert tag in checker.seen
    assert text.index("<caption>") < text.index("<thead>") < text.index("<tbody>") < text.index("<tfoot>")


def test_input_errors_name_rows_and_columns() -> None:
    bad = _coefs()
    bad.loc[2, "se"] = -1.0
    with pytest.raises(InputError) as exc:
        RegressionTable.from_long(bad, None, table_id="T", title="t")
    assert exc.value.rows == [3] and exc.value.column == "se"
    dup = pd.concat([_coefs(), _coefs().iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match="duplicated") as exc:
        RegressionTable.from_long(dup, None, table_id="T", title="t")
    assert exc.value.rows == [1, 6]
    with pytest.raises(InputError) as exc:
        RegressionTable.from_long(_coefs().drop(columns="se"), None, table_id="T", title="t")
    assert exc.value.column == "se"
    with pytest.raises(InputError, match="not in the coefficient frame"):
        _table(model_order=["(3)"])
    with pytest.raises(InputError, match="not in the coefficient frame"):
        _table(term_order=["nope"])
    with pytest.raises(InputError, match="table_id"):
        _table(table_id="bad id/")
    with pytest.raises(InputError, match="stars"):
        _table(stars=(0.1, 0.1))
    pv = _coefs().assign(pvalue=[0.1, 1.5, 0.2, 0.3, 0.4])
    with pytest.raises(InputError) as exc:
        RegressionTable.from_long(pv, None, table_id="T", title="t")
    assert exc.value.rows == [2] and exc.value.column == "pvalue"
    stats = _stats()
    stats.loc[0, "model"] = "(9)"
    with pytest.raises(InputError) as exc:
        RegressionTable.from_long(_coefs(), stats, table_id="T", title="t")
    assert exc.value.rows == [1] and exc.value.column == "model"


def test_missing_se_and_estimate_cells() -> None:
    coefs = pd.DataFrame(
        {"model": ["m", "m"], "term": ["a", "b"], "estimate": [1.0, np.nan], "se": [np.nan, 0.5]}
    )
    t = RegressionTable.from_long(coefs, None, table_id="T", title="t")
    rows = _csv_rows(render_table(t, "csv", provenance_hash=HASH))
    assert rows[1] == ["a", "estimate", "1.000"]
    assert rows[2] == ["a", "se", ""]
    assert rows[3] == ["b", "estimate", ""]


# --------------------------------------------------------------------------- plain tables


def test_plain_table_formats() -> None:
    frame = pd.DataFrame(
        {"sigma": [0.51234, 0.4], "n": [31, 30], "region": ["广东", "R&D_zone"]},
        index=pd.Index([2001, 2002], name="year"),
    )
    t = PlainTable(
        frame, table_id="S1", title="Sigma by year", notes=["Provinces only."], digits={"sigma": 2}
    )
    rows = _csv_rows(render_table(t, "csv", provenance_hash=HASH))
    assert rows[0] == ["year", "sigma", "n", "region"]
    assert rows[1] == ["2001", "0.51", "31", "广东"]
    assert rows[2] == ["2002", "0.40", "30", "R&D_zone"]
    assert rows[3][0] == "Provinces only."
    assert rows[4][0].startswith("Table S1 · provenance sha256:")
    tex = render_table(t, "tex", provenance_hash=HASH)
    assert r"\begin{tabular}{rrrl}" in tex
    assert r"2001 & 0.51 & 31 & 广东 \\" in tex
    assert r"R\&D\_zone" in tex
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex


def test_plain_table_range_index_dropped_and_missing_blank() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, -0.0001], "b": pd.array([1, None, 3], dtype="Int64")})
    t = PlainTable(frame, table_id="P", title="p", digits=2)
    rows = _csv_rows(render_table(t, "csv", provenance_hash=HASH))
    assert rows[0] == ["a", "b"]
    assert rows[1:4] == [["1.00", "1"], ["", ""], ["0.00", "3"]]


def test_plain_table_crosstab_multiindex_columns() -> None:
    df = pd.DataFrame(
        {"dir": ["forward", "reverse", "forward"], "level": ["nat", "prov", "prov"], "k": ["x", "x", "y"]}
    )
    ct = pd.crosstab(df["dir"], [df["level"], df["k"]])
    t = PlainTable(ct, table_id="X", title="cross-tab")
    rows = _csv_rows(render_table(t, "csv", provenance_hash=HASH))
    assert rows[0][0] == "dir"
    assert "nat / x" in rows[0]


def test_plain_table_validation() -> None:
    with pytest.raises(InputError, match="unknown columns"):
        PlainTable(pd.DataFrame({"a": [1.0]}), table_id="P", title="p", digits={"z": 1})
    with pytest.raises(InputError, match="DataFrame"):
        PlainTable([1, 2], table_id="P", title="p")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- LaTeX compile


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_tex_compiles(tmp_path: Path) -> None:
    t = _table(
        notes=["Notes with 50% & under_scores, R² and ± signs."],
        term_labels={"treat_post": "Treated × post", "nb_share": "σ_{nb} ~ ^ \\ #"},
    )
    write_table(t, tmp_path, provenance_hash=HASH, formats=("tex",))
    p = PlainTable(pd.DataFrame({"x": [1.5, -2.0], "y": ["a_b", "c&d"]}), table_id="P1", title="Plain")
    write_table(p, tmp_path, provenance_hash=HASH, formats=("tex",))
    doc = tmp_path / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        "\\input{T3.tex}\n\\input{P1.tex}\n\\end{document}\n",
        encoding="utf-8",
    )
    res = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    assert (tmp_path / "doc.pdf").exists()


def test_plain_table_index_rules() -> None:
    frame = pd.DataFrame({"gdp": [1.0, 2.0, 3.0, 4.0]})
    filtered = frame[frame["gdp"] > 1.5]  # unnamed integer index = row positions: dropped
    rows = _csv_rows(render_table(PlainTable(filtered, table_id="F", title="f"), "csv", provenance_hash=HASH))
    assert rows[0] == ["gdp"]
    assert rows[1] == ["2.000"]
    desc = frame.describe().loc[["count", "mean"]]  # unnamed string index = labels: kept
    rows = _csv_rows(render_table(PlainTable(desc, table_id="D", title="d"), "csv", provenance_hash=HASH))
    assert rows[0] == ["", "gdp"]
    assert rows[1] == ["count", "4.000"]
    assert rows[2] == ["mean", "2.500"]


# --------------------------------------------------------------------------- LaTeX layout at scale
def _names(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    syll = [
        "an",
        "bei",
        "chang",
        "de",
        "feng",
        "guang",
        "hai",
        "jiang",
        "lin",
        "ning",
        "qing",
        "shan",
        "zhou",
    ]
    return ["".join(rng.choice(syll, 3)).capitalize() for _ in range(n)]


def _long_plain(n: int) -> PlainTable:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "region_id": [f"{110000 + 100 * i}" for i in range(n)],
            "name": _names(n, 1),
            "description": [
                f"unit {i} in group {i % 7}; "
                + " ".join(_names(4, i))
                + " and a rather long free-text comment"
                for i in range(n)
            ],
            "growth": rng.normal(0.05, 0.02, n),
            "club": rng.integers(1, 5, n),
        }
    )
    return PlainTable(frame, table_id="L1", title="Many units", notes=["Long table note."])


def _members_table(n: int) -> PlainTable:
    """The shape C4 had: all members of a club in one cell (29,906pt overfull at 358 units)."""
    names = _names(n, 2)
    frame = pd.DataFrame(
        {
            "club": [1, 2],
            "n": [n // 2, n - n // 2],
            "members": [", ".join(names[: n // 2]), ", ".join(names[n // 2 :])],
            "ids": [
                ",".join(str(110000 + i) for i in range(60)),
                ",".join(str(220000 + i) for i in range(60)),
            ],
        }
    )
    return PlainTable(frame, table_id="C4x", title="Club membership")


def _wide_regression() -> RegressionTable:
    models = [f"Callaway–Sant'Anna not-yet-treated ({k})" for k in range(1, 9)]
    coefs = pd.DataFrame(
        {
            "model": models * 2,
            "term": ["any_tie_with_a_long_label"] * 8 + ["forward_receiver"] * 8,
            "estimate": np.linspace(-0.2, 0.3, 16),
            "se": np.full(16, 0.05),
        }
    )
    return RegressionTable.from_long(coefs, None, table_id="W1", title="Wide", notes=["n"])


def _stats_text_regression(n_terms: int = 40) -> RegressionTable:
    """The shape C3 had: nine estimate columns whose statistics rows hold sentences
    (SE descriptions) — 1,154pt overfull as centred columns on a portrait page."""
    models = [f"({k}) SDM, jackknife" for k in range(1, 9)]
    terms = [f"active tie {t} × log level (t−1, centred)" for t in range(n_terms)]
    coefs = pd.DataFrame(
        {
            "model": [m for _ in terms for m in models],
            "term": [t for t in terms for _ in models],
            "estimate": np.linspace(-0.2, 0.3, len(terms) * len(models)),
            "se": 0.05,
        }
    )
    stats = pd.DataFrame(
        {
            "model": models,
            "stat": "SE",
            "value": ["clustered by province (CRV1 of the jackknife combination, 31 clusters)"] * len(models),
        }
    )
    return RegressionTable.from_long(coefs, stats, table_id="C9", title="Nine columns", notes=["n"])


def test_tex_text_statistics_wrap_and_a_too_wide_long_table_goes_landscape() -> None:
    tex = render_table(_stats_text_regression(), "tex", provenance_hash=HASH)
    lines = tex.splitlines()
    assert "\\usepackage{pdflscape}" in lines[1] and "landscape" in lines[3]
    assert "\\begin{landscape}" in tex and "\\end{landscape}" in tex
    assert tex.count("\\centering\\arraybackslash}p{") == 8  # the estimate columns wrap, centred
    assert "Warning" not in tex  # it fits the landscape line


def test_tex_long_table_is_longtable_and_names_its_packages() -> None:
    tex = render_table(_long_plain(100), "tex", provenance_hash=HASH)
    lines = tex.splitlines()
    assert lines[1].startswith("% Requires: ") and "\\usepackage{longtable}" in lines[1]
    assert lines[2].startswith("% Engine: pdfLaTeX")
    assert "\\begin{longtable}" in tex and "\\endhead" in tex and "continued" in tex
    assert "\\begin{table}" not in tex  # a float cannot break across pages
    assert tex.count(" \\\\\n") >= 100
    short = render_table(_long_plain(10), "tex", provenance_hash=HASH)
    assert "longtable" not in short and "\\begin{tabular}" in short
    # the threshold is a keyword
    assert "\\begin{longtable}" in render_table(_long_plain(10), "tex", provenance_hash=HASH, tex_long_rows=5)
    with pytest.raises(InputError, match="tex_long_rows"):
        render_table(_long_plain(10), "tex", provenance_hash=HASH, tex_long_rows=-1)


def test_tex_wide_cells_wrap_numbers_do_not() -> None:
    tex = render_table(_members_table(358), "tex", provenance_hash=HASH)
    spec = next(line for line in tex.splitlines() if line.startswith("\\begin{tabular}"))
    # the members and ids columns wrap (paragraph columns), the numeric ones stay right-aligned
    assert spec.count("p{") == 2 and spec.startswith("\\begin{tabular}{rr>")
    assert "\\usepackage{array}" in tex.splitlines()[1]
    assert "110000,\\allowbreak{}110001" in tex  # id lists get break points
    # a table that fits keeps plain columns and no extra package
    small = render_table(_table(), "tex", provenance_hash=HASH)
    assert "p{" not in small and small.splitlines()[1] == "% Requires: \\usepackage{booktabs}."


def test_tex_wide_regression_shrinks_font_and_wraps_headers() -> None:
    tex = render_table(_wide_regression(), "tex", provenance_hash=HASH)
    assert any(line in ("\\small", "\\footnotesize", "\\scriptsize") for line in tex.splitlines())
    assert "\\begin{tabular}[b]{@{}c@{}}" in tex  # model names broken over lines


def test_tex_cjk_names_engine() -> None:
    frame = pd.DataFrame({"省份": ["广东省", "黑龙江省"], "增长": [0.05, 0.03]})
    tex = render_table(PlainTable(frame, table_id="Z", title="省级增长"), "tex", provenance_hash=HASH)
    assert "% Engine: XeLaTeX with \\usepackage{xeCJK}" in tex


def _preamble_from(tex: str) -> str:
    """The preamble the .tex asks for, read from its own comment lines only."""
    lines = tex_preamble(tex).splitlines()
    assert lines[0] == "\\usepackage{booktabs}"
    if "xeCJK" in tex.splitlines()[2]:
        fonts = subprocess.run(
            ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
        )
        family = sorted(f.split(",")[0].strip() for f in fonts.stdout.splitlines() if f.strip())
        if not family:
            pytest.skip("no simplified-Chinese font installed (fc-list :lang=zh-cn is empty)")
        assert "\\usepackage{xeCJK}" in lines
        lines.append(f"\\setCJKmainfont{{{family[0]}}}")
    return "\n".join(lines)


def _compile(tmp_path: Path, tex: str, engine: str, runs: int = 1) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "t.tex").write_text(tex, encoding="utf-8")
    doc = (
        "\\documentclass{article}\n"
        + _preamble_from(tex)
        + "\n\\begin{document}\n\\input{t.tex}\n\\end{document}\n"
    )
    (tmp_path / "doc.tex").write_text(doc, encoding="utf-8")
    for _ in range(runs):  # longtable settles its column widths over two runs
        res = subprocess.run(
            [engine, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert res.returncode == 0, res.stdout[-3000:]
    return (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")


def _no_tex(engine: str) -> bool:
    return shutil.which(engine) is None


@pytest.mark.skipif(_no_tex("pdflatex"), reason="pdflatex not installed: LaTeX output not compiled")
def test_tex_members_and_wide_tables_compile_without_overfull(tmp_path: Path) -> None:
    for k, table in enumerate([_members_table(358), _wide_regression(), _long_plain(60),
                               _stats_text_regression()]):
        log = _compile(
            tmp_path / str(k), render_table(table, "tex", provenance_hash=HASH), "pdflatex", runs=2
        )
        assert "Overfull \\hbox" not in log, table.table_id


@pytest.mark.skipif(_no_tex("pdflatex"), reason="pdflatex not installed: LaTeX output not compiled")
def test_tex_3000_rows_compile_without_overfull(tmp_path: Path) -> None:
    log = _compile(tmp_path, render_table(_long_plain(3000), "tex", provenance_hash=HASH), "pdflatex", runs=2)
    assert "Overfull \\hbox" not in log
    pages = int(log.split("Output written on doc.pdf (")[1].split(" page")[0])
    assert pages > 20  # it really broke across pages


@pytest.mark.skipif(_no_tex("xelatex"), reason="xelatex not installed: CJK LaTeX output not compiled")
def test_tex_cjk_compiles_with_xelatex_without_overfull(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "省份": ["广东省", "黑龙江省", "新疆维吾尔自治区"] * 3,
            "合作园区": ["深圳（哈尔滨）产业园区，由两地政府共同建设并按照平等互利原则运营管理"] * 9,
            "增长": np.linspace(0.01, 0.09, 9),
        }
    )
    t = PlainTable(frame, table_id="Z1", title="省级增长与合作", notes=["注：数据来自统计年鉴。"])
    log = _compile(tmp_path, render_table(t, "tex", provenance_hash=HASH), "xelatex")
    assert "Overfull \\hbox" not in log
    assert "Missing character" not in log  # the CJK font named in the preamble was used


def test_latex_escape_puts_combining_accents_on_their_letter() -> None:
    from zonespill.tables import latex_escape

    assert latex_escape("2·b\u0302 and x\u0304") == "2$\\cdot$\\^{b} and \\={x}"
