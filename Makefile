# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NODE_STAMP := node_modules/.installed
export FLASK_APP := app

.PHONY: run test lint lock bench clean browser promtool

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs come from the hash-pinned lock files in requirements/, so every machine gets the tested versions.
# After changing dependencies in pyproject.toml: make lock.
$(STAMP): requirements/main.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/main.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP) $@

# Shopify's own JS packages (web pixel API, Polaris types, Admin schema, axe-core) from package-lock.json.
# `npm ci` refuses this lock (npm 11 drops other platforms' optional rollup builds from its sync check);
# `npm install` with a lock that satisfies package.json installs exactly the locked versions.
$(NODE_STAMP): package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

lock: $(DEV_STAMP)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements/main.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements/dev.txt

## run: web (gunicorn) + delivery worker on SQLite at http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/python -m app.ops.localrun

## test: the whole suite (SQLite always; PostgreSQL when reachable or CI=true)
test: $(DEV_STAMP) $(NODE_STAMP) browser promtool
	$(BIN)/python -m pytest

## browser: Debian's Chromium for the embedded-page tests (never a downloaded browser build)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed; browser tests will be skipped (apt-get install chromium)"; fi; }

## promtool: Debian's Prometheus tools, to check and unit-test deploy/prometheus/alerts.yml
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "promtool is not installed; alert rule tests will be skipped (apt-get install prometheus)"; fi; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app

## bench: real gunicorn, workers and a Pinterest stand-in on SQLite and PostgreSQL; prints the results table
## (bench/results/latest.md; docs/performance.md publishes a full run's)
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is required: apt-get install wrk"; exit 1; fi; }
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
