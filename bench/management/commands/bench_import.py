"""python manage.py bench_import [--rows N]: what `make bench-import` runs.

Generates a Salesforce-style lead export of N rows, times a bare COPY of it into a scratch
table (the floor), imports it end to end (parse, check, store source records, resolve golden
records), imports the identical file again, then the same rows re-exported in another order
(every row checked and compared). All in a scratch database, dropped afterwards.
Prints the figures; the last line is one JSON object with them."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand
from django.db import connection

from bench.helpers import scratch_database
from pipeline.choices import BatchStatus, SystemRole
from pipeline.models import SourceSystem
from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for

STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]
SOURCES = ["Web", "Webinar", "Paid Search", "Outbound", "Referral", "Event"]


def write_export(path: Path, rows: int, seed: int = 1) -> None:
    """A realistic lead export, written in chunks so memory stays flat."""
    rng = np.random.default_rng(seed)
    chunk = 100_000
    base = np.datetime64("2024-11-25T00:00:00")
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        ids = np.arange(start, start + n)
        created = base + rng.integers(0, 730 * 86400, n).astype("timedelta64[s]")
        status = np.array(STATUSES)[rng.integers(0, len(STATUSES), n)]
        converted = status == "Closed - Converted"
        frame = pd.DataFrame(
            {
                "Id": [f"00Q{i:015d}" for i in ids],
                "Email": [f"lead{i}@company{i % 97_003}.com" for i in ids],
                "FirstName": np.array(["Ana", "Ben", "Chloé", "Dev", "Eva"])[ids % 5],
                "LastName": np.array(["Smith", "Müller", "Okafor", "Nguyen"])[ids % 4],
                "Company": [f"Company {i % 97_003}" for i in ids],
                "Status": status,
                "LeadSource": np.array(SOURCES)[rng.integers(0, len(SOURCES), n)],
                "CreatedDate": pd.Series(created).dt.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "ConvertedDate": np.where(
                    converted, pd.Series(created).dt.strftime("%Y-%m-%d"), ""
                ),
                "ConvertedOpportunityId": np.where(converted, [f"006{i:015d}" for i in ids], ""),
                "IsConverted": np.where(converted, "true", "false"),
                "OwnerId": np.array(["005A", "005B", "005C"])[ids % 3],
            }
        )
        frame.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False)


def _reset_peak_rss() -> None:
    """Start the process's peak resident memory again from what it holds now (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class Command(BaseCommand):
    help = "Benchmark the importer against a bare COPY of the same file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--keep-db", action="store_true")

    def handle(self, *args, rows: int, keep_db: bool, **options) -> None:
        with tempfile.TemporaryDirectory() as tmp, scratch_database("bench_import", keep=keep_db):
            path = Path(tmp) / "salesforce_leads.csv"
            started = time.monotonic()
            write_export(path, rows)
            self.stdout.write(
                f"generated {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
                f"in {time.monotonic() - started:.1f} s"
            )
            copy_s = self._bare_copy(path)
            system = SourceSystem.objects.create(
                name="Salesforce", slug="salesforce", role=SystemRole.SALES
            )
            first_s, first = self._import(system, path)
            floor_s = self._write_floor()
            again_s, again = self._import(system, path)
            # The same rows, exported again in another order: a different file, so every row
            # is checked and compared with what is stored.
            shuffled = Path(tmp) / "salesforce_leads_reexport.csv"
            with shuffled.open("wb") as out:  # the header, then the rows last to first
                subprocess.run(["head", "-n", "1", str(path)], stdout=out, check=True)
                out.flush()
                tail = subprocess.Popen(["tail", "-n", "+2", str(path)], stdout=subprocess.PIPE)
                subprocess.run(["tac"], stdin=tail.stdout, stdout=out, check=True)
                tail.wait()
            compare_s, compared = self._import(system, shuffled)
        # The importer's own peak (reset before each import), not the file generator's.
        peak_mb = self.import_peak_mb
        figures = {
            "rows": rows,
            "copy_s": round(copy_s, 2),
            "first_import_s": round(first_s, 2),
            "reimport_s": round(again_s, 2),
            "reexport_s": round(compare_s, 2),
            "peak_mb": round(peak_mb),
            "rows_per_s": round(rows / first_s),
            "write_floor_s": round(floor_s, 2),
            "first_vs_copy": round(first_s / copy_s, 2),
            "write_floor_vs_copy": round(floor_s / copy_s, 2),
            "reimport_vs_copy": round(again_s / copy_s, 2),
            "reexport_vs_copy": round(compare_s / copy_s, 2),
            "first_created": first.rows_created,
            "reexport_unchanged": compared.rows_unchanged,
            "reimport_unchanged": again.rows_unchanged,
        }
        self.stdout.write(f"bare COPY            {copy_s:7.2f} s")
        self.stdout.write(
            f"first import         {first_s:7.2f} s  ({first_s / copy_s:.1f}x COPY, "
            f"{rows / first_s:,.0f} rows/s, {first.rows_created:,} created)"
        )
        self.stdout.write(
            f"write floor          {floor_s:7.2f} s  ({floor_s / copy_s:.1f}x COPY: the first "
            "import's source and golden rows written again into copies of their tables, indexes "
            "included)"
        )
        self.stdout.write(
            f"re-import unchanged  {again_s:7.2f} s  ({again_s / copy_s:.1f}x COPY, "
            f"{again.rows_unchanged:,} unchanged)"
        )
        self.stdout.write(
            f"re-export, same rows {compare_s:7.2f} s  ({compare_s / copy_s:.1f}x COPY, "
            f"{compared.rows_unchanged:,} unchanged; every row checked and compared)"
        )
        self.stdout.write(
            f"peak memory          {peak_mb:7.0f} MB  (the importer's, any of the three imports)"
        )
        for label, batch in (("first import", first), ("re-export", compared)):
            self.stdout.write(f"phases of the {label}:")
            for label, seconds in batch.phase_times:
                self.stdout.write(f"  {label:<34} {seconds:7.2f} s")
        figures["first_phases"] = first.phases
        figures["reexport_phases"] = compared.phases
        self.stdout.write(json.dumps(figures))

    def _bare_copy(self, path: Path) -> float:
        with connection.cursor() as cursor:
            header = path.open().readline().strip().split(",")
            cursor.execute(
                "CREATE TABLE bench_copy (" + ", ".join(f'"{c}" text' for c in header) + ")"
            )
            started = time.monotonic()
            with (
                cursor.cursor.copy(
                    "COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
                path.open("rb") as f,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            took = time.monotonic() - started
            cursor.execute("DROP TABLE bench_copy")
        return took

    def _write_floor(self) -> float:
        """What writing the first import's rows costs at the least: the source and golden rows
        copied, as one INSERT each in key order, into empty tables with the same indexes."""
        tables = ("pipeline_sourcelead", "pipeline_lead")
        keys = {"pipeline_sourcelead": "golden_key", "pipeline_lead": "email_key"}
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
            started = time.monotonic()
            for table in tables:
                cursor.execute(
                    f"INSERT INTO bench_{table} SELECT * FROM {table} ORDER BY {keys[table]}"
                )
            took = time.monotonic() - started
            for table in tables:
                cursor.execute(f"DROP TABLE bench_{table}")
        return took

    def _import(self, system: SourceSystem, path: Path):
        mapping, preset = mapping_for(object_type="lead", preset="salesforce-lead")
        batch = import_batch_create(
            system=system, object_type="lead", mapping=mapping, preset=preset, apply=True, path=path
        )
        _reset_peak_rss()
        started = time.monotonic()
        batch = import_batch_run(batch.id, path=path)
        took = time.monotonic() - started
        self.import_peak_mb = max(getattr(self, "import_peak_mb", 0), _peak_rss_mb())
        if batch.status != BatchStatus.APPLIED:
            raise RuntimeError(f"benchmark import {batch.status}: {batch.message}")
        return took, batch
