# The verbs people expect. Every target sets up what it needs, so a fresh clone works.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest
# Tests run on pytest-xdist workers, one per CPU; a module (and the whole infra layer) stays on
# one worker (tests/conftest.py). `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= logical
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup

.PHONY: dev demo run test test-unit test-integration test-infra test-e2e lint format build synth deploy bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

dev: $(STAMP)

## The local demo: one order stream through simulated WooCommerce, BigCommerce and Magento into simulated QuickBooks Online and Desktop.
demo: $(STAMP)
	$(BIN)/connector demo

run: demo

## Every test layer: unit, integration (moto server), infra (CDK synth + cdk-nag), e2e (local runtime).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(PYTEST) $(PARALLEL) tests

test-unit test-integration test-infra test-e2e: $(STAMP)
	$(PYTEST) $(PARALLEL) tests/$(subst test-,,$@)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Lambda code asset and dependency layer, built with pip's platform wheels (no Docker).
build: $(STAMP)
	$(BIN)/python scripts/build_assets.py

synth: build
	npx --yes aws-cdk@2 synth -c tenant=$(or $(TENANT),example)

deploy: build
	npx --yes aws-cdk@2 deploy -c tenant=$(TENANT)

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf build cdk.out .pytest_cache .mypy_cache .ruff_cache
