# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The npm tools of the contract tests (tests/contract): installed from their lock file, like the venv.
CONTRACT := tests/contract
NODE_STAMP := $(CONTRACT)/node_modules/.installed

.PHONY: help venv run test lint fmt bench load fuzz migrate lock clean

help:
	@echo "make run    start the whole stack locally (its own PostgreSQL under var/postgres unless database URLs are set)"
	@echo "make test   run the test suite (PostgreSQL at TEST_POSTGRES_URL, else one of its own under var/)"
	@echo "make lint   ruff, mypy and the import contracts (.importlinter)"
	@echo "make bench  performance figures beside their targets (JSON on stdout, a table on stderr)"
	@echo "make load   60 s at 200 requests/s through the gateway (LOAD_ARGS='--rate 100 --seconds 30')"
	@echo "make fuzz   schemathesis over the merged OpenAPI document, FUZZ_EXAMPLES examples per operation"

# The code runs from the checkout (every entry point is `python -m …` from here); the venv holds the locked
# dependencies only: requirements.lock (runtime, what the image installs) and requirements-dev.lock (+ tools).
$(STAMP): requirements.lock requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $(STAMP)

# `--ignore-scripts`: none of the tools needs an install script (the one there is, @scarf/scarf, only reports
# downloads). Without npm nothing is installed: the contract tests then skip if node is missing too, else fail
# naming the missing tool (.ci/run installs both).
$(NODE_STAMP): $(CONTRACT)/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix $(CONTRACT) --ignore-scripts --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else \
	  echo "npm not found: the contract tests' tools are not installed (apt-get install nodejs npm)" >&2; \
	fi

# Regenerate the lock files after changing the dependencies in pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --no-header --quiet -o requirements.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --quiet -o requirements-dev.lock

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m deploy.run_local

# Every component's <NAME>_DATABASE_URL must be set (`make run` migrates its own local server's databases itself).
migrate: $(STAMP)
	$(BIN)/python -m deploy.migrate registry eligibility ranking monitoring notifications gateway

# pytest exits 5 when it collects no test: that is a failure here, not a pass.
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services gateway deploy
	$(BIN)/lint-imports .importlinter

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every figure beside its target and a ceiling measured in the same run (docs/performance.md). BENCH=registry runs
# one module; BENCH_FORMAT=table|json|both (default both: JSON on stdout, the table on stderr). Each run is also
# saved as var/bench/report-<UTC time>.json. The recipe is not echoed, so that `make bench > report.json` is JSON.
bench: $(STAMP)
	@$(BIN)/python -m tests.bench $(if $(BENCH_FORMAT),--format $(BENCH_FORMAT)) $(BENCH)

# The load test starts a stack of its own on PostgreSQL (or hits a running one: LOAD_ARGS='--url http://…').
load: $(STAMP)
	$(BIN)/python -m tests.load $(LOAD_ARGS)

# The full fuzz run; `make test` runs the same test with a few examples per operation.
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/e2e/test_fuzz.py -p no:cacheprovider

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(CONTRACT)/node_modules
