# Two commands for a newcomer: `make demo` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Test processes (pytest-xdist): "auto" is one per core; `make test PYTEST_WORKERS=0` runs in one.
PYTEST_WORKERS ?= auto
# One test file, one worker (--dist loadfile): a file's session fixtures (the demo, the privacy
# scan's simulated year) are built once. --dist loadgroup with xdist_group marks did not keep
# them together under pytest 9 (the group suffix is lost from the test ids): each was built on
# both workers.
PYTEST_DIST ?= loadfile
# pytest-randomly shuffles the order on every run and prints the seed in the header
# ("Using --randomly-seed=N"); to replay that order: `make test PYTEST_ARGS=--randomly-seed=N`.
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint typecheck format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/clauses demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict workflow
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) --durations=10 $(PYTEST_ARGS)

# The suite without the tests marked slow (the demo, real servers): for quick checks while coding.
test-fast: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict workflow

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/mail_delivery.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
