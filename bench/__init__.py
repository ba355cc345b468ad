"""The benchmarks, each what one `make bench-*` target runs:

- management/commands/bench_import.py    make bench-import: the importer against a bare COPY
- management/commands/scorecard_bench.py make bench-scorecard: compute, backfill, wrk load
- management/commands/bench_load.py      make bench-load: locust against gunicorn (locustfile.py)
- reconcile.py                           make bench-reconcile: a script, run in .venv-bench,
  against datacompy; it imports nothing from this package, so it runs standalone
- helpers.py                             what the commands share
"""
