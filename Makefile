# zonespill — the two commands a user needs: `make run` and `make test`.
# Both create .venv (if missing) and install the pinned dependencies first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.zonespill-installed
CORES  ?= 2

findings: run
	$(BIN)/python -m zonespill readme-findings --readme README.md --findings results/findings.md

.PHONY: findings run test report paper package lint typecheck bench lock clean-results slurm-deps tex-deps

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

report: run
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --report results/report.html

# A paper skeleton (results/paper/main.tex, .md, .html, references.bib) from the run's declared tables.
paper: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) paper

# A replication package (results/replication/ and results/replication.tar.gz + .sha256).
package: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) replication_package

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakemake --lint --cores 1

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^zonespill' > requirements.lock

clean-results:
	rm -rf results .snakemake/incomplete

# System packages for the local single-node SLURM test (Debian/Ubuntu, as root).
slurm-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge

# Optional TeX (Debian/Ubuntu, as root): compiles the paper skeleton and lets the LaTeX tests run.
tex-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq texlive-latex-base texlive-latex-recommended \
		texlive-latex-extra texlive-xetex texlive-lang-chinese
