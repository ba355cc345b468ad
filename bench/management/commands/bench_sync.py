"""python manage.py bench_sync [--rows N]: what `make bench-sync` runs.

The local fake of Salesforce (demo/fakes/salesforce.py, HTTPS on loopback) serves N leads
through Bulk API 2.0 CSV pages of 50,000. The benchmark times, each in a scratch database of
its own (so both start from empty tables):

1. the import of the very same rows from one CSV file (the reference: an upload);
2. a first sync of a Salesforce system connected to the fake: signing in (JWT bearer), the Bulk
   query job, every results page over HTTPS, the pulled file, and its import.

Goal: the sync within 1.5x the file import (the API path adds no per-row cost). Prints the
figures; the last line is one JSON object with them."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand

from bench.helpers import scratch_database
from pipeline.choices import BatchStatus, ConnectorAuth, SyncStatus, SyncTrigger, Vendor
from pipeline.models import SourceLead, SourceSystem
from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for
from pipeline.services.sync import connection_save, sync_start


class Command(BaseCommand):
    help = "Benchmark a Salesforce Bulk API sync against importing the same rows from a file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rows", type=int, default=1_000_000)

    def handle(self, *args, rows: int, **options) -> None:
        from django.conf import settings

        from demo.fakes.salesforce import FakeSalesforce

        with FakeSalesforce() as fake:
            started = time.monotonic()
            path = fake.bulk_leads(rows)
            self.stdout.write(
                f"the fake serves {rows:,} leads ({path.stat().st_size / 1e6:.0f} MB of CSV), "
                f"generated in {time.monotonic() - started:.1f} s"
            )
            with scratch_database("bench_sync_file"):
                system = SourceSystem.objects.create(
                    name="Salesforce file", slug="sf-file", role="sales", vendor=Vendor.SALESFORCE
                )
                mapping, preset = mapping_for(object_type="lead", preset="salesforce-lead")
                batch = import_batch_create(
                    system=system, object_type="lead", mapping=mapping, preset=preset,
                    apply=True, path=path,
                )  # fmt: skip
                started = time.monotonic()
                batch = import_batch_run(batch.id, path=path)
                file_s = time.monotonic() - started
                if batch.status != BatchStatus.APPLIED:
                    raise RuntimeError(f"file import {batch.status}: {batch.message}")
                file_rows = batch.rows_created
                file_phases = batch.phase_times
            self.stdout.write(f"file import      {file_s:7.2f} s  ({file_rows:,} created)")

            settings.CONNECTOR_CA_BUNDLE = fake.ca_file
            with scratch_database("bench_sync_api"):
                system = SourceSystem.objects.create(
                    name="Salesforce", slug="salesforce", role="sales", vendor=Vendor.SALESFORCE
                )
                conn = connection_save(
                    system=system, by=None, auth=ConnectorAuth.SALESFORCE_JWT, url=fake.base,
                    username=fake.username, consumer_key=fake.consumer_key,
                    private_key=fake.private_key, objects_synced=["lead"],
                )  # fmt: skip
                started = time.monotonic()
                run = sync_start(conn=conn, trigger=SyncTrigger.COMMAND, run_now=True)
                sync_s = time.monotonic() - started
                if run.status != SyncStatus.SUCCEEDED:
                    raise RuntimeError(f"sync {run.status}: {run.message}")
                synced_rows = SourceLead.objects.count()
                batch = run.batches.get()
                import_s = sum(batch.phases.values()) if batch.phases else 0.0
                sync_phases = batch.phase_times
            self.stdout.write(
                f"sync            {sync_s:7.2f} s  ({synced_rows:,} leads, {run.api_calls} API "
                f"calls; its import {import_s:.2f} s, the API and the file "
                f"{sync_s - import_s:.2f} s)"
            )
        for label, phases in (("the file import", file_phases), ("the sync's import", sync_phases)):
            self.stdout.write(f"phases of {label}:")
            for name, seconds in phases:
                self.stdout.write(f"  {name:<34} {seconds:7.2f} s")
        ratio = sync_s / file_s
        self.stdout.write(f"sync / file import: {ratio:.2f}x (goal <= 1.5x)")
        self.stdout.write(
            json.dumps(
                {
                    "rows": rows,
                    "file_import_s": round(file_s, 2),
                    "sync_s": round(sync_s, 2),
                    "sync_import_s": round(import_s, 2),
                    "sync_api_s": round(sync_s - import_s, 2),
                    "api_calls": run.api_calls,
                    "sync_vs_file": round(ratio, 2),
                    "goal": 1.5,
                }
            )
        )
