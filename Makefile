# Lakeward: `make demo` and `make test` bootstrap .venv from nothing, then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint sql bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet 'torch==2.13.0+cpu'  # the CPU build, before anything asks for torch
	$(BIN)/python -m pip install --quiet -e '.[dev,ml]'
	@touch $(STAMP)

demo: $(STAMP)  ## generate the sample lake and profile it through the profile_lake flow
	$(BIN)/lakeward demo

test: $(STAMP)  ## every test tier that can run here; skipped tiers say why
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## unit tier only (no JVM, no server)
	$(BIN)/python -m pytest -m "not spark and not prefect and not cluster and not server"

lint: $(STAMP)
	$(BIN)/ruff check platform flows tests bench
	$(BIN)/ruff format --check platform flows tests bench
	$(BIN)/mypy

sql: $(STAMP)  ## re-render sql/ from the catalog models
	$(BIN)/lakeward catalog ddl --dialect sqlite > sql/catalog.sqlite.sql
	$(BIN)/lakeward catalog ddl --dialect postgresql > sql/catalog.postgresql.sql

bench: $(STAMP)
	$(BIN)/python bench/profile_lake.py
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/dp.py
	$(BIN)/python bench/he.py
	$(BIN)/python bench/dedup.py --units 2,21

clean:
	rm -rf $(VENV) .lakeward .pytest_cache .mypy_cache .ruff_cache
