"""python manage.py import_records --system S --object lead|account|deal|arr
(--preset P | --mapping MAPPING.json) [--full [--confirm-deletions]] FILE"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from pipeline.choices import ApplyMode, BatchStatus, ExportKind, ObjectType
from pipeline.models import SourceSystem
from pipeline.presets import BUILTIN_PRESETS
from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "Import a CSV export into a source system: check every row, then write all of it or "
        f"nothing. Built-in presets: {', '.join(BUILTIN_PRESETS)}; saved presets by name."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--system", required=True, help="Source system slug, e.g. salesforce")
        parser.add_argument(
            "--object", required=True, choices=ObjectType.values, dest="object_type"
        )
        how = parser.add_mutually_exclusive_group(required=True)
        how.add_argument("--preset", help="A built-in preset key or a saved preset's name.")
        how.add_argument("--mapping", type=Path, help="A mapping JSON file.")
        parser.add_argument(
            "--check-only",
            action="store_true",
            help="Check the file and report problems; write nothing.",
        )
        parser.add_argument(
            "--valid-rows",
            action="store_true",
            help="Apply the valid rows and hold the rows with problems (listed on the batch, "
            "downloadable to fix), rather than refuse the whole file.",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="The file is a full export: the system's records it does not hold are marked "
            "deleted. Without it, the file holds changes only and deletes nothing.",
        )
        parser.add_argument(
            "--confirm-deletions",
            action="store_true",
            help="With --full: apply even if it marks more than half the system's records "
            "deleted (otherwise such a file is refused).",
        )

    def handle(
        self,
        *args,
        file: Path,
        system: str,
        object_type: str,
        preset: str | None,
        mapping: Path | None,
        check_only: bool,
        valid_rows: bool = False,
        full: bool,
        confirm_deletions: bool,
        **options,
    ) -> None:
        if confirm_deletions and not full:
            raise CommandError("--confirm-deletions goes with --full: a delta deletes nothing.")
        source = SourceSystem.objects.filter(slug=system).first()
        if source is None:
            known = ", ".join(SourceSystem.objects.values_list("slug", flat=True))
            if not known:
                raise CommandError(
                    f"No source system {system!r}: there is none yet. Add one first, e.g. "
                    f"manage.py system_add --name HubSpot --vendor hubspot --role marketing "
                    f"(or on the Systems page)."
                )
            raise CommandError(f"No source system {system!r}. Systems: {known}.")
        if not file.is_file():
            raise CommandError(f"{file}: no such file.")
        try:
            given = json.loads(mapping.read_text()) if mapping else None
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"{mapping}: cannot read the mapping ({exc}).") from None
        try:
            rules, preset_name = mapping_for(object_type=object_type, preset=preset, mapping=given)
            batch = import_batch_create(
                system=source,
                object_type=object_type,
                mapping=rules,
                preset=preset_name,
                apply=not check_only,
                path=file,
                apply_mode=ApplyMode.VALID_ROWS if valid_rows else ApplyMode.WHOLE,
                export_kind=ExportKind.FULL if full else ExportKind.DELTA,
                deletions_confirmed=confirm_deletions,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

        interactive = sys.stderr.isatty()

        def progress(phase: str, pct: int) -> None:
            line = f"{phase:<9} {pct:>3}%"
            if interactive:
                self.stderr.write(f"\r{line}", ending="")
            elif pct in (0, 100) or pct % 25 == 0:
                self.stderr.write(line)

        batch = import_batch_run(batch.id, path=file.resolve(), progress=progress)
        if interactive:
            self.stderr.write("")
        if batch.status == BatchStatus.APPLIED:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Batch #{batch.id}: {batch.rows_total:,} rows — "
                    f"{batch.rows_created:,} created, {batch.rows_updated:,} updated, "
                    f"{batch.rows_unchanged:,} unchanged"
                    + (f", {batch.rows_restored:,} restored" if batch.rows_restored else "")
                    + (f", {batch.rows_deleted:,} marked deleted" if full else "")
                    + "."
                    + (f" {batch.rows_held:,} held: {batch.message}" if batch.rows_held else "")
                )
            )
        elif batch.status == BatchStatus.PENDING:
            self.stdout.write(
                self.style.SUCCESS(
                    (
                        f"Batch #{batch.id}: all {batch.rows_total:,} rows are fine "
                        "(nothing written)."
                        if not batch.rows_held
                        else f"Batch #{batch.id}: {batch.message} (nothing written yet)"
                    )
                    + (
                        f" Applied, it would mark {batch.rows_deleted:,} records deleted."
                        if full
                        else ""
                    )
                )
            )
        else:
            self._problems(batch)
            raise CommandError(f"Batch #{batch.id} {batch.get_status_display()}: {batch.message}")
        if batch.rows_held:
            self._problems(batch)
        if batch.unknown_columns:
            self.stdout.write(f"Ignored columns: {', '.join(batch.unknown_columns)}")

    def _problems(self, batch) -> None:
        for error in batch.row_errors.all()[:SHOWN_ERRORS]:
            where = f"row {error.row}" if error.row else "file"
            column = f", column {error.column!r}" if error.column else ""
            value = f" ({error.value!r})" if error.value else ""
            self.stderr.write(f"  {where}{column}{value}: {error.message}")
        more = batch.errors_total - min(batch.errors_total, SHOWN_ERRORS)
        if more > 0:
            self.stderr.write(f"  … and {more:,} more; every one is listed on batch #{batch.id}.")
