"""make bench-reconcile: reconcile N marketing against N sales lead records, against datacompy.

Generates N people as a marketing (HubSpot) and a sales (Salesforce) lead table with a known
set of injected differences (about 3% field mismatches, 2% one-sided, 0.5% duplicates), loads
them into the source-record table of a dedicated bench database, builds the golden records,
then, each phase in a fresh process so its peak memory is its own:

- run:      the reconciliation service (discrepancies with fingerprints, bridges for 104
            weeks), timed; then checked against the injected set: exactly those, no others;
- rerun:    the same again (the nightly case: every discrepancy updated, none added);
- pandas:   datacompy on pandas, the tables pulled with pandas.read_sql over SQLAlchemy;
- polars:   datacompy on polars, the tables pulled with polars.read_database_uri (connectorx).

Prints each figure and, last, one JSON line. The database is BENCH_DATABASE_URL, else
DATABASE_URL's server with a database named `<name>_bench`, else the embedded server's
`revops_bench`; it is created if missing and wiped on each load.

    python bench/reconcile.py --n 1000000 [--seed 7] [--shuffle]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MISMATCH_SHARE = 0.03
ONE_SIDED_SHARE = 0.02
DUPLICATE_SHARE = 0.005
WEEKS = 104
FIELDS = ("stage", "mql_at", "sql_at", "source", "owner")


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- Database -------------------------------------------------------------------------------------


def bench_database_url() -> str:
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL")
    if base:
        parts = urlsplit(base)
        name = parts.path.lstrip("/") or "revops"
        return urlunsplit(parts._replace(path=f"/{name}_bench"))
    from revops.db import _create_database, default_embedded_dir, embedded_database

    config = embedded_database(default_embedded_dir())
    _create_database(config["HOST"], "revops_bench")
    return f"postgres://postgres@{quote(config['HOST'], safe='')}/revops_bench"


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    from revops.env import env_database

    os.environ["_BENCH_URL"] = url
    db = env_database("_BENCH_URL")
    with psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def libpq_uri(*, connectorx: bool = False) -> str:
    """The bench database as a plain libpq URI, for the data-team clients. connectorx reads
    a socket directory (the embedded server's) only percent-encoded in the host part; it
    ignores libpq's `?host=` and would reach whatever listens on localhost instead."""
    from django.db import connection

    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    if (db["HOST"] or "").startswith("/"):
        if connectorx:
            return f"postgresql://{db['USER']}{password}@{quote(db['HOST'], safe='')}/{db['NAME']}"
        return f"postgresql://{db['USER']}{password}@/{db['NAME']}?host={db['HOST']}"
    port = db["PORT"] or "5432"
    return f"postgresql://{db['USER']}{password}@{db['HOST']}:{port}/{db['NAME']}"


# --- Data -----------------------------------------------------------------------------------------


def generate(n: int, seed: int, today):
    """Two lead tables (marketing, sales) and the differences injected between them."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = np.datetime64(str(today), "s") - np.timedelta64(WEEKS * 7, "D")
    span = WEEKS * 7 * 86400 - 3600
    keys = pd.Series(np.arange(n)).map("p{:09d}@bench.example".format).to_numpy()
    created = start + rng.integers(0, span, n).astype("timedelta64[s]")
    is_mql = rng.random(n) < 0.4
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    mql = np.where(is_mql, created + rng.integers(3600, 5 * 86400, n).astype("timedelta64[s]"), nat)
    is_sql = is_mql & (rng.random(n) < 0.3)
    sql = np.where(is_sql, mql + rng.integers(86400, 10 * 86400, n).astype("timedelta64[s]"), nat)
    end = start + np.timedelta64(span, "s")
    mql[mql > end] = np.datetime64("NaT")
    sql[(sql > end) | np.isnat(mql)] = np.datetime64("NaT")
    stage = np.where(~np.isnat(sql), "sql", np.where(~np.isnat(mql), "mql", "new"))
    sources = np.array(["Webinar", "Paid Search", "Organic", "Content", "Event", "Outbound"])
    owners = np.array([f"Rep {i}" for i in range(12)])
    base = pd.DataFrame(
        {
            "key": keys,
            "stage": stage,
            "source": sources[rng.integers(0, len(sources), n)],
            "owner": owners[rng.integers(0, len(owners), n)],
            "created_at": created,
            "mql_at": mql,
            "sql_at": sql,
        }
    )

    roles = rng.random(n)
    only_marketing = roles < ONE_SIDED_SHARE / 2
    only_sales = (roles >= ONE_SIDED_SHARE / 2) & (roles < ONE_SIDED_SHARE)
    both = ~only_marketing & ~only_sales
    sales = base[~only_marketing].copy()
    sales["external_id"] = [f"00Q{i:012d}" for i in sales.index]
    marketing = base[~only_sales].copy()
    marketing["external_id"] = [str(10_000_000_000 + i) for i in marketing.index]

    injected = [("missing_in_sales", "", k) for k in keys[only_marketing]]
    injected += [("missing_in_marketing", "", k) for k in keys[only_sales]]
    # One field mismatch per chosen person, among the people both systems hold.
    chosen = np.flatnonzero(both & (rng.random(n) < MISMATCH_SHARE))
    field_of = rng.integers(0, len(FIELDS), len(chosen))
    for f, field in enumerate(FIELDS):
        rows = chosen[field_of == f]
        if field == "mql_at":
            rows = rows[~np.isnat(mql[rows])]
            shift = rng.integers(1, 10, len(rows)).astype("timedelta64[D]")
            marketing.loc[rows, "mql_at"] = mql[rows] - shift
        elif field == "sql_at":
            rows = rows[~np.isnat(sql[rows])]
            marketing.loc[rows, "sql_at"] = pd.NaT
        elif field == "stage":
            marketing.loc[rows, "stage"] = np.where(stage[rows] == "new", "disqualified", "new")
        elif field == "source":
            current = marketing.loc[rows, "source"].to_numpy()
            marketing.loc[rows, "source"] = np.where(current == "Webinar", "Event", "Webinar")
        else:
            current = marketing.loc[rows, "owner"].to_numpy()
            marketing.loc[rows, "owner"] = np.where(current == "Rep 0", "Rep 1", "Rep 0")
        injected += [("mismatch", field, k) for k in keys[rows]]
    # Duplicates marketing holds: a later copy of the same person, same values.
    dup_rows = np.flatnonzero(~only_sales & (rng.random(n) < DUPLICATE_SHARE))
    dups = marketing.loc[dup_rows].copy()
    dups["external_id"] = [str(20_000_000_000 + i) for i in dup_rows]
    dups["created_at"] = dups["created_at"] + np.timedelta64(7, "D")
    marketing = pd.concat([marketing, dups])
    injected += [("duplicate", "", k) for k in keys[dup_rows]]
    return marketing, sales, injected


def phase_load(args) -> dict:
    """Wipe the bench tables and load both systems, the golden records and the truth."""
    import io

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from pipeline.models import SourceSystem
    from pipeline.services.identity import golden_resolve

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    marketing, sales, injected = generate(args.n, args.seed, timezone.localdate())
    generated_s = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE pipeline_bridgestep, pipeline_reconciledmetricweek, pipeline_discrepancy, "
            "pipeline_reconciliationrun, pipeline_leadstagechange, pipeline_sourcelead, "
            "pipeline_sourcedeal, pipeline_dealstagechange, pipeline_deal, pipeline_lead "
            "CASCADE"
        )
    hubspot, _ = SourceSystem.objects.update_or_create(
        slug="hubspot", defaults={"name": "HubSpot", "role": "marketing", "vendor": "HubSpot"}
    )
    salesforce, _ = SourceSystem.objects.update_or_create(
        slug="salesforce",
        defaults={"name": "Salesforce", "role": "sales", "vendor": "Salesforce"},
    )
    started = time.monotonic()
    columns = (
        "system_id, external_id, email, email_key, golden_key, stage, source, owner, "
        "created_at, mql_at, sql_at, first_name, last_name, company, "
        "account_external_id, converted_deal_external_id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for system, frame in ((hubspot, marketing), (salesforce, sales)):
            frame = frame.sort_values(["key", "created_at"], kind="stable")
            if args.shuffle:
                frame = frame.sample(frac=1, random_state=args.seed)
            copy_sql = (
                f"COPY pipeline_sourcelead ({columns}) FROM STDIN WITH (FORMAT csv, "
                r"NULL '\N', FORCE_NOT_NULL (first_name, last_name, company, "
                "account_external_id, converted_deal_external_id))"
            )
            with cursor.cursor.copy(copy_sql) as copy:
                for at in range(0, len(frame), 200_000):
                    chunk = frame.iloc[at : at + 200_000]
                    out = chunk.assign(
                        system_id=system.pk,
                        email=chunk["key"],
                        email_key=chunk["key"],
                        golden_key=chunk["key"],
                        first_name="",
                        last_name="",
                        company="",
                        account_external_id="",
                        converted_deal_external_id="",
                    )
                    for column in ("created_at", "mql_at", "sql_at"):
                        out[column] = out[column].astype("datetime64[s]").dt.tz_localize("UTC")
                    buffer = io.StringIO()
                    out[[c.strip() for c in columns.split(",")]].to_csv(
                        buffer,
                        header=False,
                        index=False,
                        na_rep=r"\N",
                        date_format="%Y-%m-%d %H:%M:%S%z",
                    )
                    copy.write(buffer.getvalue())
        cursor.execute("DROP TABLE IF EXISTS bench_injected")
        cursor.execute("CREATE TABLE bench_injected (kind text, field text, golden_key text)")
        with cursor.cursor.copy("COPY bench_injected FROM STDIN") as copy:
            for row in injected:
                copy.write_row(row)
    loaded_s = time.monotonic() - started
    started = time.monotonic()
    golden_resolve()
    resolved_s = time.monotonic() - started
    old = connection.connection.autocommit
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        # The COPY above wrote the source rows unlinked and golden_resolve then updated every
        # one of them (its golden link), leaving half of the heap and of every index dead: an
        # import writes each row once, linked. VACUUM FULL rewrites the table (in the order it
        # was loaded) and its indexes as an import leaves them: 836 MB → 425 MB of heap at a
        # million a side, and the reconciliation's covering index 615 → 304 MB.
        cursor.execute("VACUUM FULL pipeline_sourcelead")
        # What autovacuum would have done by the next night: statistics and visibility map.
        cursor.execute("VACUUM ANALYZE pipeline_sourcelead")
        cursor.execute("VACUUM ANALYZE pipeline_lead")
    connection.connection.autocommit = old
    result = {
        "marketing_rows": len(marketing),
        "sales_rows": len(sales),
        "injected": len(injected),
        "injected_by_kind": _by_kind(injected),
        "generate_s": round(generated_s, 2),
        "load_s": round(loaded_s, 2),
        "golden_resolve_s": round(resolved_s, 2),
        "load_order": "shuffled" if args.shuffle else "key order",
        "peak_mb": peak_mb(),
    }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_meta")
        cursor.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, load text)")
        cursor.execute(
            "INSERT INTO bench_meta VALUES (%s, %s)", [_load_key(args), json.dumps(result)]
        )
    return result


def _by_kind(rows) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, field, _ in rows:
        name = f"{kind}.{field}" if field else kind
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def phase_run(args) -> dict:
    """The reconciliation service, timed from the call to its commit."""
    from django.db import connection

    from pipeline.models.reconciliation import RUN_PHASES
    from pipeline.services.reconciliation import reconciliation_run_now

    started = time.monotonic()
    run = reconciliation_run_now(trigger="command", weeks=WEEKS)
    run_s = time.monotonic() - started
    if run.status != "completed":
        raise SystemExit(f"run {run.pk} {run.status}: {run.message}")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH found AS (
                SELECT kind, field, golden_key FROM pipeline_discrepancy
                WHERE resolved_run_id IS NULL
            )
            SELECT (SELECT count(*) FROM found),
                   (SELECT count(*) FROM (SELECT * FROM bench_injected EXCEPT ALL
                                          SELECT * FROM found) missed),
                   (SELECT count(*) FROM (SELECT * FROM found EXCEPT ALL
                                          SELECT * FROM bench_injected) extra),
                   (SELECT count(*) FROM pipeline_reconciledmetricweek WHERE run_id = %s),
                   (SELECT count(*) FROM pipeline_reconciledmetricweek
                    WHERE run_id = %s AND unexplained <> 0)
            """,
            [run.pk, run.pk],
        )
        found, missed, extra, metric_weeks, unexplained = cursor.fetchone()
    return {
        "run_s": round(run_s, 3),
        "found": found,
        "missed": missed,
        "extra": extra,
        "new": run.new_count,
        "resolved": run.resolved_count,
        "metric_weeks": metric_weeks,
        "weeks_with_unexplained": unexplained,
        # In the order the phases ran (the database keeps a JSON object's keys its own way).
        "phases": {key: run.phases[key] for key in RUN_PHASES if key in run.phases},
        "peak_mb": peak_mb(),
    }


SELECT = "SELECT golden_key, stage, source, owner, mql_at, sql_at FROM pipeline_sourcelead"


def _system_ids() -> tuple[int, int]:
    from pipeline.models import SourceSystem

    return (
        SourceSystem.objects.get(slug="hubspot").pk,
        SourceSystem.objects.get(slug="salesforce").pk,
    )


def _compare_summary(cmp, *, polars: bool) -> dict:
    both = cmp.intersect_rows
    mismatched = cmp.all_mismatch()
    stats = {
        s["column"]: int(s["unequal_cnt"])
        for s in cmp.column_stats
        if s["unequal_cnt"] and s["column"]
    }
    return {
        "only_marketing": len(cmp.df1_unq_rows),
        "only_sales": len(cmp.df2_unq_rows),
        "matched": len(both),
        "rows_with_mismatch": len(mismatched),
        "mismatch_by_column": stats,
        "polars": polars,
    }


def phase_pandas(args) -> dict:
    import pandas as pd
    import sqlalchemy
    from datacompy import PandasCompare

    mkt, crm = _system_ids()
    engine = sqlalchemy.create_engine(libpq_uri().replace("postgresql://", "postgresql+psycopg://"))
    started = time.monotonic()
    with engine.connect() as conn:
        df1 = pd.read_sql(sqlalchemy.text(f"{SELECT} WHERE system_id = {mkt}"), conn)
        df2 = pd.read_sql(sqlalchemy.text(f"{SELECT} WHERE system_id = {crm}"), conn)
    pulled = time.monotonic() - started
    cmp = PandasCompare(df1, df2, join_columns="golden_key", df1_name="hubspot",
                            df2_name="salesforce")  # fmt: skip
    summary = _compare_summary(cmp, polars=False)
    total = time.monotonic() - started
    return {"total_s": round(total, 2), "pull_s": round(pulled, 2), **summary, "peak_mb": peak_mb()}


def phase_polars(args) -> dict:
    import polars as pl
    from datacompy.polars import PolarsCompare

    mkt, crm = _system_ids()
    uri = libpq_uri(connectorx=True)
    started = time.monotonic()
    df1 = pl.read_database_uri(f"{SELECT} WHERE system_id = {mkt}", uri, engine="connectorx")
    df2 = pl.read_database_uri(f"{SELECT} WHERE system_id = {crm}", uri, engine="connectorx")
    pulled = time.monotonic() - started
    cmp = PolarsCompare(df1, df2, join_columns="golden_key", df1_name="hubspot",
                        df2_name="salesforce")  # fmt: skip
    summary = _compare_summary(cmp, polars=True)
    total = time.monotonic() - started
    return {"total_s": round(total, 2), "pull_s": round(pulled, 2), **summary, "peak_mb": peak_mb()}


def phase_reused(args) -> dict | None:
    """What an earlier load of the same N, seed and order left, if it is still there."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_meta') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT load FROM bench_meta WHERE key = %s", [_load_key(args)])
        row = cursor.fetchone()
        if row:
            # Earlier runs go, so the first run is measured as a first run again.
            cursor.execute(
                "TRUNCATE pipeline_bridgestep, pipeline_reconciledmetricweek, "
                "pipeline_discrepancy, pipeline_reconciliationrun CASCADE"
            )
    return json.loads(row[0]) if row else None


def _load_key(args) -> str:
    return f"n={args.n} seed={args.seed} shuffle={args.shuffle}"


PHASES = {
    "reused": phase_reused,
    "load": phase_load,
    "run": phase_run,
    "pandas": phase_pandas,
    "polars": phase_polars,
}


def run_phase(name: str, args, url: str) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--n", str(args.n), "--seed",
               str(args.seed)] + (["--shuffle"] if args.shuffle else [])  # fmt: skip
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"phase {name} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _phases(seconds: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f} s" for name, value in seconds.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shuffle", action="store_true", help="load rows in random order")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data an earlier load of the same N made"
    )
    parser.add_argument("--phase", choices=sorted(PHASES))
    args = parser.parse_args()
    if args.phase:
        django_setup()
        print(json.dumps(PHASES[args.phase](args)))
        return

    url = bench_database_url()
    ensure_database(url)
    print(f"bench-reconcile: N = {args.n:,} (shared 2-core machine; figures are noisy)")
    load = (run_phase("reused", args, url) if args.reuse else None) or run_phase("load", args, url)
    print(
        f"  loaded {load['marketing_rows']:,} marketing and {load['sales_rows']:,} sales rows "
        f"({load['load_order']}) in {load['load_s']} s; golden records in "
        f"{load['golden_resolve_s']} s; injected {load['injected']:,} differences "
        f"{load['injected_by_kind']}"
    )
    run = run_phase("run", args, url)
    print(
        f"  reconciliation: {run['run_s']:.2f} s, peak {run['peak_mb']} MB; found "
        f"{run['found']:,} (missed {run['missed']}, extra {run['extra']}); "
        f"{run['metric_weeks']} metric weeks, {run['weeks_with_unexplained']} with unexplained"
    )
    print(f"    phases: {_phases(run['phases'])}")
    rerun = run_phase("run", args, url)
    print(f"  rerun (nightly, nothing changed): {rerun['run_s']:.2f} s, {rerun['new']} new")
    print(f"    phases: {_phases(rerun['phases'])}")
    pandas = run_phase("pandas", args, url)
    print(
        f"  datacompy pandas: {pandas['total_s']:.2f} s (pull {pandas['pull_s']:.2f} s), "
        f"peak {pandas['peak_mb']} MB; only marketing {pandas['only_marketing']:,}, only "
        f"sales {pandas['only_sales']:,}, rows with a mismatch {pandas['rows_with_mismatch']:,}"
    )
    polars = run_phase("polars", args, url)
    print(
        f"  datacompy polars: {polars['total_s']:.2f} s (pull {polars['pull_s']:.2f} s), "
        f"peak {polars['peak_mb']} MB; only marketing {polars['only_marketing']:,}, only "
        f"sales {polars['only_sales']:,}, rows with a mismatch {polars['rows_with_mismatch']:,}"
    )
    exact = run["missed"] == 0 and run["extra"] == 0 and run["found"] == load["injected"]
    summary = {
        "n": args.n,
        "run_s": run["run_s"],
        "rerun_s": rerun["run_s"],
        "phases": run["phases"],
        "rerun_phases": rerun["phases"],
        "datacompy_pandas_s": pandas["total_s"],
        "datacompy_polars_s": polars["total_s"],
        "speedup_vs_pandas": round(pandas["total_s"] / run["run_s"], 1),
        "speedup_vs_polars": round(polars["total_s"] / run["run_s"], 1),
        "peak_mb": run["peak_mb"],
        "datacompy_pandas_peak_mb": pandas["peak_mb"],
        "datacompy_polars_peak_mb": polars["peak_mb"],
        "injected": load["injected"],
        "found": run["found"],
        "exact": exact,
        "load_order": load["load_order"],
    }
    print(
        f"  reconciliation is {summary['speedup_vs_pandas']}x datacompy-pandas and "
        f"{summary['speedup_vs_polars']}x datacompy-polars; exact: {exact}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
