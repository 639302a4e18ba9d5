# sloplane: the two commands a new user needs are `make demo` and `make test`;
# `make unit` is the fast loop while editing, `make golden` rewrites the golden files.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# '.[all]' is every extra (api, detect, exporter); '.[dev]' is '.[all]' plus the test tools.
DEMO_STAMP := $(VENV)/.installed-all
DEV_STAMP := $(VENV)/.installed-dev
# Two pytest-xdist workers: most integration tests wait on servers, so two overlap well even
# on two cores; a file runs whole on one worker (tests/conftest.py). PARALLEL= runs serially.
PARALLEL ?= -n 2

.PHONY: demo test lint typecheck unit golden system-deps clean

$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$*]'
	touch $@

system-deps:
	./scripts/install-system-deps.sh

## demo: generate rules, unit tests, dashboards and routing for examples/ into build/, then check them
demo: $(DEMO_STAMP) system-deps
	$(BIN)/sloplane validate examples/slos/
	$(BIN)/sloplane list examples/slos/
	$(BIN)/sloplane generate examples/slos/ --out build/
	promtool check rules build/prometheus/*.rules.yml build/prometheus/stack/*.rules.yml
	cd build/prometheus && promtool test rules tests/*.test.yml stack/*.test.yml
	amtool check-config build/alertmanager/alertmanager.yml
	$(BIN)/sloplane check build/
	$(BIN)/sloplane generate examples/slos/ --out build/ --check

## test: install everything the tests need, then lint, type-check and run the whole suite (CI)
test: $(DEV_STAMP)
	./scripts/install-system-deps.sh --test
	$(BIN)/ruff check sloplane tests benchmarks
	$(BIN)/ruff format --check sloplane tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider $(PARALLEL)

## unit: the tests that need no binary and no server (under a minute; no apt, no lint)
unit: $(DEV_STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m "not integration" $(PARALLEL)

## golden: rewrite tests/golden/ from examples/slos; review `git diff tests/golden/` like code
golden: $(DEV_STAMP)
	$(BIN)/python -m tests.golden.update

clean:
	rm -rf build $(VENV) .mypy_cache .ruff_cache .pytest_cache
