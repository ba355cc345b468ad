# RevOps source of truth. `make demo` brings the app up with demo data; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Local development and the demo run in DEBUG mode unless told otherwise; production sets DEBUG=0.
export DEBUG ?= 1

.PHONY: demo test install install-test serve worker beat migrate seed lint check db-stop clean help \
	bench-import bench-reconcile bench-scorecard bench-load bench-browser bench-markdown bench-sync \
	demo-sync test-fuzz

help:
	@echo "make demo    install, start the embedded PostgreSQL, migrate, seed and serve on :8000"
	@echo "make test    install the test extras and run the whole test suite"
	@echo "make worker  run a Celery worker (needs REDIS_URL)"
	@echo "make beat    run Celery beat with the database scheduler (needs REDIS_URL)"
	@echo "make lint    ruff, makemigrations --check and check --deploy"
	@echo "make db-stop stop the embedded PostgreSQL"
	@echo "make bench-reconcile [N=1000000]  reconciliation against datacompy (pandas, polars)"
	@echo "make bench-scorecard  seed scale 50 into a bench database, time the scorecard, load-test it"
	@echo "make bench-load  locust against gunicorn at demo scale 10: 50 users, then a surge of 200"
	@echo "make bench-browser  the scorecard, a trend and a records list in Chromium: load time and bytes, cold and warm"
	@echo "make bench-sync [N=1000000]  a Salesforce Bulk API sync from the local fake against importing the same file"
	@echo "make demo-sync  the local HubSpot and Salesforce fakes, for connecting the demo's systems (see README)"
	@echo "make bench-markdown  Markdown render time on pathological inputs, 2.5k to 20k characters"
	@echo "make test-fuzz   API and page-form fuzzing, FUZZ_EXAMPLES (200) each, plus the Markdown and CSV corpora"

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e '.[test]'
	@# Playwright drives Debian's Chromium where there is one; elsewhere it fetches its own.
	@test -x /usr/bin/chromium || $(VENV)/bin/playwright install chromium
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The demo serves its static files as production does: hashed names, gzip, a year's cache.
demo: install
	STATIC_MANIFEST=1 $(PY) manage.py demo

serve: install
	$(PY) manage.py runserver 127.0.0.1:8000

migrate: install
	$(PY) manage.py migrate

seed: install
	$(PY) manage.py seed_demo

# The suite runs on every core (pytest-xdist; each process its own test database). `--dist load`
# hands each process its tests in collection order, which pytest-django sorts so that the tests
# that flush the database (transactional ones) come after the rest. TEST_WORKERS=0: one process.
TEST_WORKERS ?= auto
test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist load

worker: install
	@test -n "$$REDIS_URL" || { echo "REDIS_URL is not set: without it tasks run in-process and no worker is needed."; exit 2; }
	$(VENV)/bin/celery -A revops worker --loglevel=INFO

beat: install
	@test -n "$$REDIS_URL" || { echo "REDIS_URL is not set: without it tasks run in-process and no beat is needed."; exit 2; }
	$(VENV)/bin/celery -A revops beat --loglevel=INFO

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	DEBUG=0 SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') ALLOWED_HOSTS=revops.example.com \
		$(PY) manage.py check --deploy --fail-level WARNING

# Benchmarks live in bench/: its manage.py commands (bench_import, scorecard_bench, bench_load)
# and bench/reconcile.py, a script.
# The benchmark's peers live in their own venv: datacompy caps pandas below the app's version.
BENCH_VENV := .venv-bench
N ?= 1000000

$(BENCH_VENV)/.installed: pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e '.[bench]'
	touch $@

bench-reconcile: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/reconcile.py --n $(N)
# A dedicated database: the benchmark seeds a million leads there and deletes its snapshots.
BENCH_SCORECARD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/revops_bench_scorecard

bench-scorecard: install
	@command -v wrk >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get install -y -qq wrk >/dev/null; } || \
		{ echo "wrk is not installed (Debian: apt-get install wrk)."; exit 2; }
	DATABASE_URL=$(BENCH_SCORECARD_DATABASE_URL) $(PY) manage.py scorecard_bench $(BENCH_ARGS)

db-stop: install
	$(PY) -c "from revops.db import embedded_stop; embedded_stop()"

clean:
	rm -rf $(VENV) $(BENCH_VENV) staticfiles .pytest_cache .ruff_cache

bench-import: install
	$(PY) manage.py bench_import $(if $(ROWS),--rows $(ROWS))

bench-sync: install
	$(PY) manage.py bench_sync $(if $(N),--rows $(N))

# Local stand-ins of HubSpot's and Salesforce's APIs for the demo (README: "Try it locally").
demo-sync: install
	$(PY) manage.py demo_sync

bench-markdown: install
	$(PY) manage.py bench_markdown

# API and page-form fuzzing with a large budget, and the Markdown and CSV corpora; `make test`
# runs the same tests with a small budget.
FUZZ_EXAMPLES ?= 200
test-fuzz: install-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -m fuzz

# Load and surge: locust in its own venv (its gevent pins stay out of the app's), gunicorn in
# production settings, demo scale 10 in a dedicated database.
LOAD_VENV := .venv-load
BENCH_LOAD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/revops_bench_load

$(LOAD_VENV)/.installed:
	test -x $(LOAD_VENV)/bin/python || $(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/pip install --quiet --upgrade pip
	$(LOAD_VENV)/bin/pip install --quiet "locust>=2.37,<3"
	touch $@

bench-load: install $(LOAD_VENV)/.installed
	DATABASE_URL=$(BENCH_LOAD_DATABASE_URL) $(PY) manage.py bench_load $(BENCH_ARGS)

# Pages in Chromium (Playwright, a test extra), cold and warm, at the demo's scale.
BENCH_BROWSER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/revops_bench_browser

bench-browser: install-test
	DATABASE_URL=$(BENCH_BROWSER_DATABASE_URL) $(PY) manage.py bench_browser $(BENCH_ARGS)
