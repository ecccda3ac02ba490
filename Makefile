# The only two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= $(shell for candidate in python3.12 python3.11 python3; do \
	if command -v $$candidate >/dev/null 2>&1 && $$candidate -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; then \
	command -v $$candidate; break; fi; done)
PYTEST_ARGS ?=
# Most tests wait on dbt, DuckDB, PostgreSQL or a browser in another process: on a 2-core machine
# three workers keep the cores busier than two (the fresh-clone CI went from 21 to 15 minutes);
# four were slower again (23 min 42 s against 21 min 16 s, the cores already saturated).
# A test file stays on one worker, so its module fixtures are built once.
PYTEST_WORKERS ?= 3
# uv installs the lock in parallel: about 45 s on a fresh machine where pip took 150 s.
UV_VERSION := 0.13.10

.PHONY: install demo test lint lock

# The dbt manifest the Dagster code location loads, parsed here once rather than at import.
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print)

install: $(STAMP) $(MANIFEST)

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -c "from pipelines.assets.dbt import prepare_manifest; prepare_manifest()"

$(STAMP): requirements.lock pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "coopcast needs Python 3.11 or 3.12 (pgserver has no wheel for 3.13)"; exit 1; fi
	@if [ ! -x $(BIN)/python ]; then echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@touch $(STAMP)

demo: install
	$(BIN)/coopcast demo

# pytest exits 5 when a selection holds no test; that is not a failure, everything else is.
# xdist would queue the files with the most tests first; the suite puts the slow files first
# (tests/conftest.py), so that a one-test file that runs the pipeline does not start last.
test: install
	@$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@home=$$(mktemp -d); COOPCAST_WAREHOUSE=$$home/warehouse.duckdb $(BIN)/dbt parse --project-dir dbt_project \
		--profiles-dir dbt_project --target-path $$home/target --log-path $$home/logs --quiet; \
		status=$$?; rm -rf $$home; exit $$status

# Regenerate the pinned lock after editing requirements.in (needs network access to PyPI).
lock:
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile requirements.in --universal --python-version 3.11 -o requirements.lock
