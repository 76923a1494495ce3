"""The methods and data sources zonespill's tables rest on, as citable references.

One registry (:data:`REFERENCES`) of BibTeX entries with DOIs where they exist, and one mapping
(:data:`METHOD_REFERENCES`) from the method names used in declared tables (estimator ids,
inference methods, corrections) to reference keys. Tables put :func:`citation_note` in their
notes; the paper step writes :func:`bibtex` for exactly the keys the declared tables use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from zonespill.errors import ConfigError


@dataclass(frozen=True)
class Reference:
    """One BibTeX entry. ``cite`` is the short author–year form used in table notes."""

    key: str
    kind: str  # article | book | manual | misc
    cite: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def doi(self) -> str | None:
        return self.fields.get("doi")

    def to_bibtex(self) -> str:
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in self.fields.items())
        return f"@{self.kind}{{{self.key},\n{body}\n}}\n"


def _ref(key: str, kind: str, cite: str, **fields: str) -> Reference:
    return Reference(key, kind, cite, dict(fields))


_ENTRIES = [
    # --- difference-in-differences ---
    _ref("callaway2021", "article", "Callaway and Sant'Anna (2021)",
         author="Callaway, Brantly and Sant'Anna, Pedro H. C.",
         title="Difference-in-Differences with Multiple Time Periods",
         journal="Journal of Econometrics", year="2021", volume="225", number="2", pages="200--230",
         doi="10.1016/j.jeconom.2020.12.001"),
    _ref("santanna2020", "article", "Sant'Anna and Zhao (2020)",
         author="Sant'Anna, Pedro H. C. and Zhao, Jun",
         title="Doubly Robust Difference-in-Differences Estimators",
         journal="Journal of Econometrics", year="2020", volume="219", number="1", pages="101--122",
         doi="10.1016/j.jeconom.2020.06.003"),
    _ref("sun2021", "article", "Sun and Abraham (2021)",
         author="Sun, Liyang and Abraham, Sarah",
         title="Estimating Dynamic Treatment Effects in Event Studies with Heterogeneous Treatment Effects",
         journal="Journal of Econometrics", year="2021", volume="225", number="2", pages="175--199",
         doi="10.1016/j.jeconom.2020.09.006"),
    _ref("borusyak2024", "article", "Borusyak, Jaravel and Spiess (2024)",
         author="Borusyak, Kirill and Jaravel, Xavier and Spiess, Jann",
         title="Revisiting Event-Study Designs: Robust and Efficient Estimation",
         journal="Review of Economic Studies", year="2024", volume="91", number="6", pages="3253--3285",
         doi="10.1093/restud/rdae007"),
    _ref("goodmanbacon2021", "article", "Goodman-Bacon (2021)",
         author="Goodman-Bacon, Andrew",
         title="Difference-in-Differences with Variation in Treatment Timing",
         journal="Journal of Econometrics", year="2021", volume="225", number="2", pages="254--277",
         doi="10.1016/j.jeconom.2021.03.014"),
    _ref("rambachan2023", "article", "Rambachan and Roth (2023)",
         author="Rambachan, Ashesh and Roth, Jonathan",
         title="A More Credible Approach to Parallel Trends",
         journal="Review of Economic Studies", year="2023", volume="90", number="5", pages="2555--2591",
         doi="10.1093/restud/rdad018"),
    # --- inference with few clusters ---
    _ref("cameron2008", "article", "Cameron, Gelbach and Miller (2008)",
         author="Cameron, A. Colin and Gelbach, Jonah B. and Miller, Douglas L.",
         title="Bootstrap-Based Improvements for Inference with Clustered Errors",
         journal="Review of Economics and Statistics", year="2008", volume="90", number="3", pages="414--427",
         doi="10.1162/rest.90.3.414"),
    _ref("mackinnon2017", "article", "MacKinnon and Webb (2017)",
         author="MacKinnon, James G. and Webb, Matthew D.",
         title="Wild Bootstrap Inference for Wildly Different Cluster Sizes",
         journal="Journal of Applied Econometrics", year="2017", volume="32", number="2", pages="233--254",
         doi="10.1002/jae.2508"),
    _ref("roodman2019", "article", "Roodman, MacKinnon, Nielsen and Webb (2019)",
         author="Roodman, David and MacKinnon, James G. and Nielsen, Morten {\\O}rregaard and "
                "Webb, Matthew D.",
         title="Fast and Wild: Bootstrap Inference in Stata Using boottest",
         journal="The Stata Journal", year="2019", volume="19", number="1", pages="4--60",
         doi="10.1177/1536867X19830877"),
    _ref("mackinnon2020", "article", "MacKinnon and Webb (2020)",
         author="MacKinnon, James G. and Webb, Matthew D.",
         title="Randomization Inference for Difference-in-Differences with Few Treated Clusters",
         journal="Journal of Econometrics", year="2020", volume="218", number="2", pages="435--450",
         doi="10.1016/j.jeconom.2020.04.024"),
    # --- spatial econometrics ---
    _ref("lee2004", "article", "Lee (2004)",
         author="Lee, Lung-fei",
         title="Asymptotic Distributions of Quasi-Maximum Likelihood Estimators for Spatial "
               "Autoregressive Models",
         journal="Econometrica", year="2004", volume="72", number="6", pages="1899--1925",
         doi="10.1111/j.1468-0262.2004.00558.x"),
    _ref("lee2010", "article", "Lee and Yu (2010)",
         author="Lee, Lung-fei and Yu, Jihai",
         title="Estimation of Spatial Autoregressive Panel Data Models with Fixed Effects",
         journal="Journal of Econometrics", year="2010", volume="154", number="2", pages="165--185",
         doi="10.1016/j.jeconom.2009.08.001"),
    _ref("yu2008", "article", "Yu, de Jong and Lee (2008)",
         author="Yu, Jihai and de Jong, Robert and Lee, Lung-fei",
         title="Quasi-Maximum Likelihood Estimators for Spatial Dynamic Panel Data with Fixed Effects "
               "When Both n and T Are Large",
         journal="Journal of Econometrics", year="2008", volume="146", number="1", pages="118--134",
         doi="10.1016/j.jeconom.2008.08.002"),
    _ref("elhorst2014", "book", "Elhorst (2014)",
         author="Elhorst, J. Paul",
         title="Spatial Econometrics: From Cross-Sectional Data to Spatial Panels",
         publisher="Springer", address="Berlin, Heidelberg", year="2014",
         doi="10.1007/978-3-642-40340-8"),
    _ref("lesage2009", "book", "LeSage and Pace (2009)",
         author="LeSage, James and Pace, R. Kelley",
         title="Introduction to Spatial Econometrics",
         publisher="Chapman and Hall/CRC", address="Boca Raton", year="2009",
         doi="10.1201/9781420064254"),
    _ref("anselin1996", "article", "Anselin, Bera, Florax and Yoon (1996)",
         author="Anselin, Luc and Bera, Anil K. and Florax, Raymond and Yoon, Mann J.",
         title="Simple Diagnostic Tests for Spatial Dependence",
         journal="Regional Science and Urban Economics", year="1996", volume="26", number="1",
         pages="77--104",
         doi="10.1016/0166-0462(95)02111-6"),
    # --- convergence ---
    _ref("barro1992", "article", "Barro and Sala-i-Martin (1992)",
         author="Barro, Robert J. and Sala-i-Martin, Xavier",
         title="Convergence",
         journal="Journal of Political Economy", year="1992", volume="100", number="2", pages="223--251",
         doi="10.1086/261816"),
    _ref("nickell1981", "article", "Nickell (1981)",
         author="Nickell, Stephen",
         title="Biases in Dynamic Models with Fixed Effects",
         journal="Econometrica", year="1981", volume="49", number="6", pages="1417--1426",
         doi="10.2307/1911408"),
    _ref("dhaene2015", "article", "Dhaene and Jochmans (2015)",
         author="Dhaene, Geert and Jochmans, Koen",
         title="Split-Panel Jackknife Estimation of Fixed-Effect Models",
         journal="Review of Economic Studies", year="2015", volume="82", number="3", pages="991--1030",
         doi="10.1093/restud/rdv007"),
    _ref("phillips2007", "article", "Phillips and Sul (2007)",
         author="Phillips, Peter C. B. and Sul, Donggyu",
         title="Transition Modeling and Econometric Convergence Tests",
         journal="Econometrica", year="2007", volume="75", number="6", pages="1771--1855",
         doi="10.1111/j.1468-0262.2007.00811.x"),
    _ref("phillips2009", "article", "Phillips and Sul (2009)",
         author="Phillips, Peter C. B. and Sul, Donggyu",
         title="Economic Transition and Growth",
         journal="Journal of Applied Econometrics", year="2009", volume="24", number="7", pages="1153--1185",
         doi="10.1002/jae.1080"),
    _ref("sichera2019", "article", "Sichera and Pizzuto (2019)",
         author="Sichera, Roberto and Pizzuto, Pietro",
         title="ConvergenceClubs: A Package for Performing the Phillips and Sul's Club Convergence "
               "Clustering Procedure",
         journal="The R Journal", year="2019", volume="11", number="2", pages="142--151",
         doi="10.32614/RJ-2019-021"),
    _ref("hodrick1997", "article", "Hodrick and Prescott (1997)",
         author="Hodrick, Robert J. and Prescott, Edward C.",
         title="Postwar U.S. Business Cycles: An Empirical Investigation",
         journal="Journal of Money, Credit and Banking", year="1997", volume="29", number="1", pages="1--16",
         doi="10.2307/2953682"),
    # --- bundled data sources (data/raw/china/README.md and SOURCES.md) ---
    _ref("nbs_provincial", "misc", "National Bureau of Statistics of China (NBS)",
         author="{National Bureau of Statistics of China}",
         title="Provincial Annual Data: Gross Regional Product and Year-End Resident Population",
         howpublished="NBS data portal (data.stats.gov.cn), via public copies of its exports listed in "
                      "data/raw/china/SOURCES.md",
         year="2023", note="Vintages as recorded in data/raw/china/SOURCES.md"),
    _ref("dong2022census", "misc", "Dong (2022)",
         author="Dong, Lei",
         title="census: Chinese Prefecture-Level Census Data 2010--2020 with Boundaries",
         howpublished="GitHub repository leiii/census, MIT licence", year="2022"),
    _ref("ndrc2018zones", "misc", "NDRC et al. (2018)",
         author="{National Development and Reform Commission and others}",
         title="China Development Zones Audit Announcement Catalogue (2018 edition)",
         howpublished="Official catalogue; public document", year="2018"),
    _ref("zonespill_pairings", "misc", "zonespill pairings compilation (2026)",
         author="{The zonespill developers}",
         title="Cross-Regional Pairings and Co-Built Parks in China, 1994--2021",
         howpublished="data/raw/china/pairings.csv, sources S1--S33 in data/raw/china/SOURCES.md",
         year="2026"),
]

#: Every reference zonespill can cite, by key.
REFERENCES: dict[str, Reference] = {r.key: r for r in _ENTRIES}

#: Method (estimator id, inference method, correction, model) -> the references behind it.
METHOD_REFERENCES: dict[str, tuple[str, ...]] = {
    "cs": ("callaway2021", "santanna2020"),
    "sa": ("sun2021",),
    "bjs": ("borusyak2024",),
    "twfe": (),
    "bacon": ("goodmanbacon2021",),
    "honest_did": ("rambachan2023",),
    "wild": ("cameron2008", "roodman2019", "mackinnon2017"),
    "ri": ("mackinnon2020",),
    "sar": ("lee2010", "elhorst2014"),
    "sem": ("lee2010", "elhorst2014"),
    "sdm": ("lee2010", "elhorst2014", "lesage2009"),
    "sdem": ("elhorst2014",),
    "slx": ("elhorst2014",),
    "impacts": ("lesage2009",),
    "qml_sandwich": ("lee2004",),
    "lm_tests": ("anselin1996",),
    "dynamic_spatial": ("yu2008",),
    "sigma": ("barro1992",),
    "beta": ("barro1992",),
    "panel_beta": ("barro1992", "nickell1981"),
    "half_panel_jackknife": ("dhaene2015",),
    "clubs": ("phillips2007", "phillips2009", "sichera2019"),
    "hp_filter": ("hodrick1997",),
    "bundled_panel": ("nbs_provincial",),
    "bundled_geography": ("dong2022census",),
    "bundled_zones": ("ndrc2018zones",),
    "bundled_pairings": ("zonespill_pairings",),
}

_NEEDED = {
    "article": ("author", "title", "journal", "year"),
    "book": ("author", "title", "publisher", "year"),
}
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


def references_for(methods: Iterable[str]) -> list[str]:
    """Reference keys behind the given methods, in first-use order, without repeats."""
    keys: list[str] = []
    for method in methods:
        if method not in METHOD_REFERENCES:
            known = ", ".join(sorted(METHOD_REFERENCES))
            raise ConfigError(f"unknown method {method!r} for citations; known: {known}")
        keys += [k for k in METHOD_REFERENCES[method] if k not in keys]
    return keys


def citation_note(keys: Iterable[str]) -> str:
    """The note line that names the references of a table ('' when there are none)."""
    keys = list(dict.fromkeys(keys))
    unknown = [k for k in keys if k not in REFERENCES]
    if unknown:
        raise ConfigError(f"unknown reference key(s): {', '.join(unknown)}")
    return ("References: " + "; ".join(REFERENCES[k].cite for k in keys) + ".") if keys else ""


def bibtex(keys: Iterable[str]) -> str:
    """A .bib file holding exactly the given references (sorted by key, so output is deterministic)."""
    keys = sorted(set(keys))
    unknown = [k for k in keys if k not in REFERENCES]
    if unknown:
        raise ConfigError(f"unknown reference key(s): {', '.join(unknown)}")
    return "\n".join(REFERENCES[k].to_bibtex() for k in keys)


def check_registry() -> list[str]:
    """Problems in the registry (an empty list when every entry is well formed)."""
    problems = []
    for ref in REFERENCES.values():
        for name in _NEEDED.get(ref.kind, ("author", "title", "year")):
            if not ref.fields.get(name):
                problems.append(f"{ref.key}: missing {name}")
        if ref.doi is not None and not _DOI.match(ref.doi):
            problems.append(f"{ref.key}: malformed DOI {ref.doi!r}")
    for method, keys in METHOD_REFERENCES.items():
        problems += [f"method {method}: unknown key {k}" for k in keys if k not in REFERENCES]
    return problems
