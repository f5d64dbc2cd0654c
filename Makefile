# The README's two commands: `make run` and `make test`. Nothing else is needed
# on a fresh machine with Python 3.11+ (and, for the browser tests, Debian's
# chromium, which `make test` installs when it runs as root).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= $(or $(SALOMAT_TEST_PG_URL),postgresql+psycopg://postgres@127.0.0.1:5432/test)
DEPS_HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-10)

.PHONY: run test lint pytest-sqlite pytest-postgresql browser node clean bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-$(DEPS_HASH): $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev-$(DEPS_HASH): $(VENV)/.installed-$(DEPS_HASH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(VENV)/.installed-$(DEPS_HASH)
	$(BIN)/salomat db upgrade
	$(BIN)/salomat demo load
	$(BIN)/salomat serve --host $(HOST) --port $(PORT)

browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: chromium could not be installed: browser tests will be SKIPPED"; \
	else echo "WARNING: /usr/bin/chromium is missing and we are not root: browser tests will be SKIPPED"; fi

# The Node FHIR client and HL7's R4 JSON schema validator of the FHIR tests
# (tests/external/node, package-lock.json): installed with npm when the lock changes;
# without npm (or the registry) those tests are skipped, saying why.
NODE_DIR := tests/external/node
$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  if npm ci --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error >/dev/null; then touch $@; \
	  else echo "WARNING: npm ci failed in $(NODE_DIR): the Node FHIR client tests will be SKIPPED"; fi; \
	else echo "WARNING: npm is missing (Node.js 20+): the Node FHIR client tests will be SKIPPED"; fi

node: $(NODE_DIR)/node_modules/.installed

lint: $(VENV)/.installed-dev-$(DEPS_HASH)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

pytest-sqlite: $(VENV)/.installed-dev-$(DEPS_HASH)
	@echo "== pytest on SQLite =="
	SALOMAT_TEST_DB=sqlite $(BIN)/pytest

pytest-postgresql: $(VENV)/.installed-dev-$(DEPS_HASH)
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect(sys.argv[1].replace('+psycopg',''), connect_timeout=5).close()" '$(PG_URL)' 2>/dev/null; then \
	  echo "== pytest on PostgreSQL ($(PG_URL)) =="; \
	  SALOMAT_TEST_DB=postgresql SALOMAT_TEST_PG_URL='$(PG_URL)' $(BIN)/pytest; \
	else \
	  echo ""; echo "!! PostgreSQL tests SKIPPED: no server answers at $(PG_URL)"; \
	  echo "!! (set SALOMAT_TEST_PG_URL to a PostgreSQL 15+ server to run them)"; echo ""; \
	fi

# The two backends' suites are independent (a temporary SQLite file; a PostgreSQL database
# of its own) and run side by side on the two cores; each one's output is printed whole
# when it ends (--output-sync), so the two never interleave.
test: lint browser node
	@$(MAKE) --no-print-directory -j2 --output-sync=target pytest-sqlite pytest-postgresql

# the load generator, and pyspark for the Spark deduplication (which runs where Java 17+ is)
$(VENV)/.installed-bench-$(DEPS_HASH): $(VENV)/.installed-$(DEPS_HASH)
	$(BIN)/python -m pip install --quiet -e '.[bench,spark]'
	@touch $@

# The benchmark suite on PostgreSQL (never part of `make test`): a synthetic population
# of 1M people (`salomat synth`, generated once per size into the database
# bench_<country>_<size>), then API writes and reads against same-run baselines, person
# search, indicators, batch deduplication. Results: bench/results/<date>-bench.{json,md}.
# Smaller or several sizes: make bench BENCH_ARGS="--people 100000" (see docs/scaling.md).
bench: $(VENV)/.installed-bench-$(DEPS_HASH)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
