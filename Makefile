# Attain — the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/attain

.PHONY: demo serve test test-sqlite test-postgres lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e ".[test,spark]"
	@touch $@

## demo: install, migrate the embedded SQLite database, load the demo organisation, serve on :8000
demo: $(VENV)/.installed
	$(BIN)/attain demo

## test: run the whole suite on SQLite, then on PostgreSQL (required when CI=true)
test: $(VENV)/.installed-test
	bash .ci/test-lanes

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/attain/engine
	cd src && ../$(BIN)/lint-imports --config ../pyproject.toml

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
