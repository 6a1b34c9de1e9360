# make demo: set up .venv (with the control, chem, llm, vision and nethack extras), get the molecular data files (from ../shared/data
#            when it is there, else downloaded once), run every method's demo reproduction, then write report/index.html
# make test: set up .venv with the dev, control, chem, llm, vision and nethack extras, then ruff, import-linter and pytest
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --disable-pip-version-check -q
QUIET := 2>&1 | { grep -v "is ignored: it is neither" || true; }
# molecular data files (see `anthology data list`): the shared folder beside the checkout when it exists
SHARED_DATA := $(abspath ../shared/data)
export ANTHOLOGY_DATA ?= $(if $(wildcard $(SHARED_DATA)/seh),$(SHARED_DATA),)

.PHONY: demo test lint bench report clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[control,chem,llm,vision,nethack]" $(QUIET)
	$(PIP) --no-deps molsets $(QUIET)  # MOSES SMILES; its own dependencies do not build on Python 3.11
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[dev,control,chem,llm,vision,nethack]" $(QUIET)
	$(PIP) --no-deps molsets $(QUIET)  # MOSES SMILES; its own dependencies do not build on Python 3.11
	touch $@ $(VENV)/.core-installed

demo: $(VENV)/.core-installed
	$(BIN)/anthology data fetch
	@# Fashion-MNIST (DemP): Debian's package where apt works as root, else a download with checksums
	-@[ -d /usr/share/datasets/fashion-mnist ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; } || true
	$(BIN)/anthology data fetch fashion_mnist
	$(BIN)/anthology reproduce all --preset demo
	$(BIN)/anthology report

report: $(VENV)/.core-installed
	$(BIN)/anthology report --update-readmes .

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

# the data files come from ../shared/data when it is there, else are downloaded once; a skipped test fails
test: lint
	$(BIN)/anthology data fetch
	ANTHOLOGY_NO_SKIPS=1 $(BIN)/pytest -n 2 -q

BENCH := .venv-bench

$(BENCH)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/pip install --disable-pip-version-check -q -e ".[bench]" $(QUIET)
	touch $@

# Benchmarks run in their own venv: torchgfn (the peer) pins numpy < 2, which the library does not.
bench: $(BENCH)/.installed $(VENV)/.core-installed
	$(BENCH)/bin/python benchmarks/koopman_speed.py
	$(BENCH)/bin/python benchmarks/maxent_gfn_vs_torchgfn.py
	$(BENCH)/bin/python benchmarks/gfn_sampling_design.py
	$(BENCH)/bin/python benchmarks/sac_vs_sb3.py
	$(BENCH)/bin/python benchmarks/td3_vs_sb3.py
	$(BENCH)/bin/python benchmarks/gcg_speed.py 3
	$(BIN)/python benchmarks/nethack_throughput.py

clean:
	rm -rf $(VENV) $(BENCH) runs report
