# hepsift: the two commands of the README, and the set-up they share.
# `make demo` runs the main job; `make test` runs lint, types and the test suite.
# Both create (or reuse) the virtual environment in .venv and install everything (all extras).
# `make test-min` (CI) runs the fast tests in a second environment, .venv-min, holding the core
# dependencies only, each at the minimum version pyproject.toml declares.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hepsift-installed
MIN_VENV ?= .venv-min
MIN_STAMP := $(MIN_VENV)/.hepsift-installed

.PHONY: demo test test-min lint typecheck pytest install clean bench

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: a bare `torch` requirement would pull several GB of CUDA wheels.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $@

# Core dependencies pinned to their declared minimums (wheels only: a minimum without a wheel
# for this Python is a wrong minimum); no extras, so tests needing one are skipped.
$(MIN_STAMP): pyproject.toml Makefile .ci/min-constraints.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) .ci/min-constraints.py pyproject.toml > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip install --quiet --only-binary=:all: \
		-c $(MIN_VENV)/constraints.txt -e . "pytest>=8" "pytest-timeout>=2.3" "hypothesis>=6.100" packaging
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hepsift run

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

test-min: $(MIN_STAMP)
	$(MIN_VENV)/bin/python -m pytest -m "not slow" -p no:cacheprovider

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(MIN_VENV) .pytest_cache .mypy_cache .ruff_cache build dist
