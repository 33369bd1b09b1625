# Two entry points for a fresh machine (Python 3.11, pip, git, make): `make demo` and `make test`.
PYTHON ?= python3
UV_HOME := .tools
UV := $(UV_HOME)/bin/uv
VENV := .venv
RUN := $(UV) run --frozen --no-sync
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PYTHON_DOWNLOADS := never

DEMO_DIR ?= data/demo
DEMO_AS_OF ?= 2023-01-31
DEMO_CITIZENS ?= 20000
DEMO_SHOTS ?= 5000

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__PARALLELISM := 4

.PHONY: install demo test lint unit integration deployment-test clean

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# Bytecode compiled once at install: every night starts several processes (CLI, ingest workers, Airflow
# tasks), and without it each compiles Great Expectations and the project from source (~3 CPU s each).
$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode
	$(VENV)/bin/python -m compileall -q -j 0 vaxsync transforms matching validation dags synth
	touch $@

install: $(VENV)/.synced

demo: install
	$(RUN) vaxsync synth --out $(DEMO_DIR) --citizens $(DEMO_CITIZENS) --shots $(DEMO_SHOTS) --snapshot-date $(DEMO_AS_OF)
	mkdir -p $(AIRFLOW_HOME)
	$(RUN) airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || (tail -n 20 $(AIRFLOW_HOME)/migrate.log; exit 1)
	VAXSYNC_REGISTRY_PATH=$(DEMO_DIR)/registry.parquet VAXSYNC_LANDING_DIR=$(DEMO_DIR)/landing \
	VAXSYNC_WAREHOUSE_PATH=$(DEMO_DIR)/warehouse.duckdb VAXSYNC_REPORTS_DIR=$(DEMO_DIR)/reports VAXSYNC_TASK_RETRIES=0 \
	$(RUN) airflow dags test vaccination_nightly_sync $(DEMO_AS_OF) > $(DEMO_DIR)/airflow_dags_test.log 2>&1 \
		|| (tail -n 40 $(DEMO_DIR)/airflow_dags_test.log; exit 1)
	VAXSYNC_WAREHOUSE_PATH=$(DEMO_DIR)/warehouse.duckdb VAXSYNC_REPORTS_DIR=$(DEMO_DIR)/reports \
	$(RUN) python notebooks/coverage_overview.py > $(DEMO_DIR)/notebook_output.txt
	$(RUN) python -m vaxsync.orchestration.show $(DEMO_DIR)/warehouse.duckdb $(DEMO_DIR)/reports

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports --no-cache

unit: install
	$(RUN) pytest tests/unit -q -n 2

integration: install
	$(RUN) pytest tests/integration -q -m "integration and not deployment"

# A real Airflow deployment (PostgreSQL at 127.0.0.1:5432, Redis at 127.0.0.1:6379, CeleryExecutor,
# two workers); a few minutes. See docs/deployment.md.
deployment-test: install
	$(RUN) pytest tests/integration -q -m deployment

test: lint unit integration

clean:
	rm -rf $(VENV) $(UV_HOME) .airflow data/demo .pytest_cache .mypy_cache .ruff_cache
