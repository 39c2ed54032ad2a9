# Two commands do everything on a fresh Debian machine with Python 3.11:
#   make run   - set up, migrate and start the server on http://localhost:8000
#   make test  - set up (with test extras and Chromium), lint and run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint format css venv test-deps migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,gpio]'
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(BIN)/sentra-tunnel migrate up

run: migrate
	DEBUG=$${DEBUG:-true} PORT=$(PORT) $(BIN)/sentra-tunnel serve

# Browser tests drive Debian's Chromium; install it when it is missing.
test-deps: $(VENV)/.installed-test
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

lint: test-deps
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest -q

# Development only: rebuild the committed, minified stylesheet from the templates (needs npm).
css:
	npm ci --no-audit --no-fund
	npm run css

# Capacity benchmark (bench/README.md): the full run, and one under 2 minutes.
# `make bench SOAK_S=600` adds a 10-minute soak; bench-quick never soaks.
.PHONY: bench bench-quick
bench: $(VENV)/.installed
	$(BIN)/pip install -q -r bench/requirements.txt
	$(BIN)/python -m bench.run $(if $(SOAK_S),--soak $(SOAK_S))

bench-quick: $(VENV)/.installed
	$(BIN)/pip install -q -r bench/requirements.txt
	$(BIN)/python -m bench.run --quick

format: test-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
