# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export FLASK_APP := app

.PHONY: run test test-sqlite lint bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

## run: web (gunicorn) + delivery worker on SQLite at http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/python -m app.localrun

## test: the whole suite (SQLite always; PostgreSQL when reachable or CI=true)
test: $(DEV_STAMP) browser
	$(BIN)/python -m pytest

## browser: Debian's Chromium for the embedded-page tests (never a downloaded browser build)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed; browser tests will be skipped (apt-get install chromium)"; fi; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app

## bench: real gunicorn, workers and a Pinterest stand-in on SQLite and PostgreSQL; prints the results table
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is required: apt-get install wrk"; exit 1; fi; }
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
