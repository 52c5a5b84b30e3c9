# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv run test lint fmt bench migrate lock clean

help:
	@echo "make run    start the whole stack locally (SQLite under var/ unless database URLs are set)"
	@echo "make test   run the test suite (PostgreSQL at 127.0.0.1:5432 when reachable)"
	@echo "make lint   ruff and mypy"
	@echo "make bench  performance figures as JSON"

# The code runs from the checkout (every entry point is `python -m …` from here); the venv holds the locked
# dependencies only: requirements.lock (runtime, what the image installs) and requirements-dev.lock (+ tools).
$(STAMP): requirements.lock requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $(STAMP)

# Regenerate the lock files after changing the dependencies in pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --no-header --quiet -o requirements.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --quiet -o requirements-dev.lock

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m deploy.run_local

migrate: $(STAMP)
	$(BIN)/python -m deploy.migrate registry eligibility ranking gateway

# pytest exits 5 when it collects no test: that is a failure here, not a pass.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services gateway deploy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m tests.bench $(BENCH)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
