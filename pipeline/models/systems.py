"""Where numbers come from: source systems, the batches that bring their rows, and which
system is trusted for which field."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from pipeline.choices import (
    AUTHORITY_FIELDS,
    FINISHED_BATCH_STATUSES,
    ApplyMode,
    BatchStatus,
    ExportKind,
    FindingKind,
    ObjectType,
    SystemRole,
    Vendor,
)

RECORD_URL_EXAMPLE = "https://acme.my.salesforce.com/{id}"


def record_url_template_validate(value: str) -> None:
    """A system's record URL template: blank, or an http(s) address with `{id}` after the host
    (an id from a file must never choose the site a link opens)."""
    if not value:
        return
    try:
        parts = urlsplit(value)
    except ValueError:  # a broken [IPv6] host
        parts = None
    # Lower case, as the database's check reads it.
    if parts is None or not value.startswith(("https://", "http://")):
        raise ValidationError(
            f"A record URL starts with https:// or http://, e.g. {RECORD_URL_EXAMPLE}."
        )
    if "{id}" not in value:
        raise ValidationError(f"Put {{id}} where the record's id goes, e.g. {RECORD_URL_EXAMPLE}.")
    if "{id}" in parts.netloc:
        raise ValidationError("{id} goes in the address's path or query, not in its host.")
    try:
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValidationError("control character")
        URLValidator(schemes=["http", "https"])(value.replace("{id}", "id"))
    except ValidationError:
        raise ValidationError(
            f"{value!r} is not a web address, e.g. {RECORD_URL_EXAMPLE}."
        ) from None


class SourceSystem(models.Model):
    """One system of record that feeds the source of truth (e.g. HubSpot for marketing,
    Salesforce for sales). Keyed by its slug, which imports and the command line use."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    role = models.CharField(max_length=20, choices=SystemRole.choices)
    vendor = models.CharField(
        max_length=50,
        choices=Vendor.choices,
        default=Vendor.OTHER,
        blank=True,
        help_text="The product behind it: which built-in presets read its exports.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    retired_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A retired system keeps its records and history but takes no new imports.",
    )
    match_by_phone = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Leads of this system without an email are matched by phone number (E.164).",
    )
    record_url_template = models.CharField(
        "record URL",
        max_length=500,
        blank=True,
        default="",
        db_default="",
        validators=[record_url_template_validate],
        help_text=f"Where a record opens in this system, {{id}} standing for its id: "
        f"{RECORD_URL_EXAMPLE}.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=SystemRole.values), name="pipeline_sourcesystem_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(record_url_template="")
                | Q(record_url_template__regex=r"^https?://[^{}/?#]+[/?#].*\{id\}"),
                name="pipeline_sourcesystem_record_url_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    def record_url(self, external_id: str) -> str:
        """The address of the record `external_id` in this system ("" without a template); the
        id is URL-quoted, so a `/`, `?` or `#` in it stays part of the id."""
        if not self.record_url_template:
            return ""
        return self.record_url_template.replace("{id}", quote(str(external_id), safe=""))


class PlaceholderEmail(models.Model):
    """An email address people type when they have none (`a@a.com`), which must never merge
    leads: a lead whose email matches is keyed as if it had no email. Keyed by `pattern`, an
    address in email-key form, or a prefix ending in `@` (`noemail@` matches `noemail@x.com`)."""

    pattern = models.CharField(max_length=254)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["pattern"]
        constraints = [
            models.UniqueConstraint(fields=["pattern"], name="pipeline_placeholderemail_unique"),
            models.CheckConstraint(
                condition=Q(pattern__contains="@"), name="pipeline_placeholderemail_has_at"
            ),
        ]

    def __str__(self) -> str:
        return self.pattern

    @property
    def is_prefix(self) -> bool:
        return self.pattern.endswith("@")


class ImportPreset(models.Model):
    """A column mapping saved by ops staff under a name, for exports no built-in preset covers
    (built-in presets for Salesforce and HubSpot live in pipeline/presets.py). `mapping` has the
    same shape as a mapping file given to `import_records --mapping`."""

    name = models.CharField(max_length=100, unique=True)
    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    mapping = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(object_type__in=ObjectType.values),
                name="pipeline_importpreset_object_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# The phases of an import in the order they run (the service times each under its key; the
# batch page and the benchmark list them).
IMPORT_PHASES = {
    "sniff": "reading the header",
    "copy": "loading the file",
    "normalise": "normalising",
    "python checks": "checking emails and phones",
    "errors": "collecting errors",
    "check": "findings and picklists",
    "stage": "comparing with stored rows",
    "scope": "scoping the golden records",
    "golden upsert": "golden records and stage history",
    "analyze": "statistics",
    "source upsert": "source records",
    "rollups": "roll-ups",
    "dependents": "dependent records",
    "deletions": "marking deletions",
    "commit": "commit",
}


class ImportBatch(models.Model):
    """One file of one object type from one source system, with the mapping it was read with.
    A batch is checked before it writes anything, applies whole or not at all, and records who
    sent it, when, who confirmed it (when it waited for confirmation), the file's checksum,
    what it changed and every row it refused."""

    system = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="batches")
    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300, blank=True)
    file_name = models.CharField(max_length=255, blank=True, help_text="As the user named it.")
    file_size = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True)
    preset = models.CharField(max_length=100, blank=True)
    mapping = models.JSONField(default=dict, blank=True, help_text="The mapping it was read with.")
    status = models.CharField(
        max_length=10, choices=BatchStatus.choices, default=BatchStatus.QUEUED
    )
    apply_requested = models.BooleanField(
        default=False, help_text="Apply when the check passes, rather than wait for confirmation."
    )
    phase = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who confirmed a checked batch so it applies; empty when sent to apply at once.",
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    phases = models.JSONField(
        default=dict,
        blank=True,
        help_text='Seconds each phase of the last run took: {"copy": 0.41, "normalise": 1.2, …}.',
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    errors_total = models.PositiveIntegerField(
        default=0, help_text="Problems found; only the first ones are stored as row errors."
    )
    unknown_columns = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=dict, blank=True, help_text="First rows as mapped.")
    message = models.TextField(blank=True, help_text="Why the batch failed or was rejected.")
    export_kind = models.CharField(
        max_length=10,
        choices=ExportKind.choices,
        default=ExportKind.DELTA,
        help_text="A full export marks the system's records it no longer holds as deleted.",
    )
    apply_mode = models.CharField(max_length=10, choices=ApplyMode.choices, default=ApplyMode.WHOLE)
    rows_held = models.PositiveIntegerField(
        default=0, help_text="Rows with problems held back when only the valid rows applied."
    )
    rows_deleted = models.PositiveIntegerField(
        default=0, help_text="Records a full export no longer held, marked deleted."
    )
    rows_restored = models.PositiveIntegerField(
        default=0, help_text="Records marked deleted earlier that this file brought back."
    )
    # A sync's batch: the ids its API reported deleted since the last sync, marked deleted
    # when the batch applies (a file's deletions come from a full export instead).
    deleted_ids = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    sync_run = models.ForeignKey(
        "pipeline.SyncRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="batches",
        help_text="The API sync whose rows this batch holds.",
    )
    findings = models.JSONField(
        default=dict, blank=True, help_text="Data-quality findings by kind: how many rows."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(object_type__in=ObjectType.values),
                name="pipeline_importbatch_object_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="pipeline_importbatch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="pipeline_importbatch_progress_max"
            ),
        ]
        indexes = [
            models.Index(
                fields=["system", "object_type", "-created_at"], name="pipeline_batch_system_idx"
            )
        ]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"#{self.pk} {self.system} {self.get_object_type_display()} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_BATCH_STATUSES

    @property
    def phase_times(self) -> list[tuple[str, float]]:
        """(phase as people read it, seconds) in the order the phases ran."""
        phases = self.phases or {}
        return [(label, phases[key]) for key, label in IMPORT_PHASES.items() if key in phases]

    @property
    def rows_valid(self) -> int:
        """Rows that apply: every row, less those held back for their problems."""
        return self.rows_total - self.rows_held


class ImportRowError(models.Model):
    """One problem with one cell (or row) of a batch's file. `row` is the row number as a
    spreadsheet shows it (the header is row 1); `column` the file's column, blank for a problem
    with the whole row or file."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField(null=True, blank=True)
    column = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=50, blank=True)
    value = models.TextField(blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["batch", "row", "id"]
        indexes = [models.Index(fields=["batch", "row"], name="pipeline_rowerror_batch_idx")]

    def __str__(self) -> str:
        return f"row {self.row} {self.column}: {self.message}"


class ImportHeldRow(models.Model):
    """A row of a batch's file held back because it had problems, when the batch applied only
    its valid rows: the file's cells as they were, and what was wrong, so that the held rows
    download as a CSV to fix and import again. Row 1 holds the file's header."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="held_rows")
    row = models.PositiveIntegerField()
    cells = models.JSONField(default=list)
    problem = models.TextField(blank=True)

    class Meta:
        ordering = ["batch", "row"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "row"], name="pipeline_heldrow_batch_row_uniq")
        ]

    def __str__(self) -> str:
        return f"#{self.batch_id} row {self.row}: {self.problem}"


class ImportFinding(models.Model):
    """A row an import accepted that someone should look at: a deal without an account, a
    placeholder email, a value no picklist mapping knows … (`FindingKind`). Only the first rows
    of each kind are stored; `ImportBatch.findings` counts them all."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="row_findings")
    kind = models.CharField(max_length=40)
    row = models.PositiveIntegerField(null=True, blank=True)
    column = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=50, blank=True)
    value = models.TextField(blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["batch", "kind", "row", "id"]
        indexes = [models.Index(fields=["batch", "kind", "row"], name="pipeline_finding_batch_idx")]

    def __str__(self) -> str:
        return f"row {self.row} {self.kind}: {self.message}"

    @property
    def kind_label(self) -> str:
        return finding_label(self.kind)


def finding_label(kind: str) -> str:
    try:
        return FindingKind(kind).label
    except ValueError:
        return kind.replace("_", " ").capitalize()


def _authority_field_valid() -> Q:
    condition = Q()
    for object_type, fields in AUTHORITY_FIELDS.items():
        condition |= Q(object_type=object_type, field__in=fields)
    return condition


class FieldAuthority(models.Model):
    """Which source system's value the golden record shows for one field of one object type,
    e.g. a lead's stage from the CRM and its MQL date from marketing automation. Keyed by
    (object type, field). Where no rule exists, or the winning system has no value, the most
    recently updated source value is shown."""

    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    field = models.CharField(max_length=50)
    system = models.ForeignKey(SourceSystem, on_delete=models.CASCADE, related_name="authorities")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["object_type", "field"]
        verbose_name_plural = "field authorities"
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "field"], name="pipeline_fieldauthority_unique"
            ),
            models.CheckConstraint(
                condition=_authority_field_valid(), name="pipeline_fieldauthority_field_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_object_type_display()}.{self.field} ← {self.system}"
