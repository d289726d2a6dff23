# The only interface: CI calls `make test`, newcomers `make dev`. Every target installs what it
# needs into .venv on first use, with pinned versions.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
CORE := layers/core/wxcomponent
CLIENT := layers/client/wxcomponent_client
# sam build looks for python3.12 on PATH: the venv's own interpreter is one.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# No telemetry from SAM: builds and tests reach nothing but the package registries.
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv dev dev-reset test test-unit test-integration test-infra test-e2e soak bench chromium checkov lint format hooks build deploy clean

help:
	@echo "make dev     the whole system on loopback (gateway :3000, WeChat sandbox :3100, emulator :8000)"
	@echo "make dev-reset  forget what make dev saved (.local/dev-state.json): the next make dev starts fresh"
	@echo "make test    lint, then every test (unit, integration, infra)"
	@echo "make lint    ruff (lint, format, complexity) + mypy --strict, over the code and the tests; the import contracts"
	@echo "make format  ruff format + the fixes ruff can make"
	@echo "make hooks   install the pre-commit hooks (the same checks, on every commit)"
	@echo "make test-e2e  the browser ring (installs Debian's chromium)"
	@echo "make bench   the benchmarks (cold start, warm cost, crypto, requests, sweep scale, cost), into docs/BENCHMARKS.md"
	@echo "make soak    the long reliability proofs (crashes, load, storage faults, fuzzing)"
	@echo "make build   sam build (no Docker)"
	@echo "make deploy  sam deploy --guided"

$(STAMP): requirements-dev.txt constraints.txt layers/core/requirements.txt layers/client/pyproject.toml
	@test -x $(PY) || "$$(infra/python312.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

dev: $(STAMP)
	$(PY) -m infra.local

# make dev keeps its table, secret and sandbox in .local/dev-state.json (or $$WXCOMPONENT_DEV_STATE).
dev-reset: $(STAMP)
	$(PY) -m infra.local --reset

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(CORE) $(CLIENT) functions/*/app.py infra examples tests bench
	PYTHONPATH=layers/core $(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

hooks: $(STAMP)
	$(BIN)/pre-commit install

# Debian's Chromium for the browser ring (never a browser download: see docs/e2e.md).
chromium:
	@infra/install-chromium.sh

# checkov in a venv of its own: its pins (boto3 among them) clash with ours. Offline: --skip-download.
CHECKOV_STAMP := $(VENV)/checkov/.installed
$(CHECKOV_STAMP): infra/checkov-requirements.txt | $(STAMP)
	@test -x $(VENV)/checkov/bin/python || $(PY) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet --disable-pip-version-check -r infra/checkov-requirements.txt
	@touch $@

checkov: $(CHECKOV_STAMP)

# Coverage of the core and the handlers by every ring, printed at the end (files not fully covered, and the total).
# Two workers (pytest-xdist): much of a test's time is spent waiting on the emulator, the sandbox, a
# browser or a spawned process, so on CI's two cores they overlap (590 s -> 350 s); each worker has its
# own emulator, every server takes a free port, and the client venvs and node_modules build under a lock.
# worksteal: a worker that runs out takes queued tests from the other, so a long one does not end the run alone.
# The lint and checkov's venv (pip, 40 s on a fresh clone) run side by side: each keeps one core busy.
test: chromium $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target lint checkov
	$(BIN)/pytest -n 2 --dist worksteal --cov --cov-report=term:skip-covered

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration

test-infra: $(STAMP) checkov
	$(BIN)/pytest tests/infra

# The long variants of the reliability proofs (docs/RELIABILITY.md): 50 refresher crashes, 60 s of load, 20 faulty
# sweeps, a million coverage-guided inputs.
# The benchmarks of issue 13, rewriting docs/BENCHMARKS.md (ratios within one run; counts as they are).
bench: $(STAMP)
	PYTHONPATH=layers/core:. $(PY) -m bench

soak: $(STAMP)
	WXCOMPONENT_CRASHES=50 $(BIN)/pytest tests/integration/test_crashes.py
	WXCOMPONENT_LOAD_SECONDS=60 $(BIN)/pytest -s tests/integration/test_load.py
	WXCOMPONENT_FAULT_ROUNDS=20 $(BIN)/pytest -s tests/integration/test_storage_faults.py
	WXCOMPONENT_FUZZ_RUNS=1000000 $(BIN)/pytest -s tests/unit/test_coverage_guided_fuzz.py

test-e2e: $(STAMP) chromium
	$(BIN)/pytest tests/e2e

build: $(STAMP)
	$(BIN)/sam build --template template.yaml

deploy: build
	$(BIN)/sam deploy --guided

clean:
	rm -rf $(VENV) .aws-sam
