# The few commands people type. `make report` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= default
DATA_ROOT ?=

.PHONY: install test test-fast report lab lint format clean

install: $(STAMP)

# Re-installs only when the dependency list changes; the package itself is installed editable.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax notebooks tests

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not browser" tests

# `make report` = the default profile on the built-in data; PROFILE=smoke|default|long|gpu|full,
# DATA_ROOT=DIR (holding cityscapes/, edges2shoes/, face2simpson/) for the real datasets.
report: install
	$(BIN)/cg report --profile $(PROFILE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

# JupyterLab on the notebooks (progress bars show as widgets there).
lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: install
	$(BIN)/ruff check cg tests notebooks
	$(BIN)/ruff format --check cg tests

format: install
	$(BIN)/ruff format cg tests
	$(BIN)/ruff check --fix cg tests

clean:
	rm -rf reports .pytest_cache
