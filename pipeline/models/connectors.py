"""Connections to the source systems' APIs, and the syncs that pull their records.

A connection belongs to one source system. Its secret (a HubSpot access token, a Salesforce
private key or password) is stored encrypted (`revops.crypto`), never shown again and kept out
of the audit log. A sync is one import batch per object whose rows come from the API instead
of a file: the same mapping, checks, row errors, atomicity and audit as an upload."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from pipeline.choices import ConnectorAuth, ObjectType, SyncStatus, SyncTrigger
from pipeline.models.systems import SourceSystem

SYNC_OBJECT_ORDER = (ObjectType.ACCOUNT, ObjectType.LEAD, ObjectType.DEAL)
STREAM_LABELS = {
    "account": "Accounts",
    "lead": "Leads",
    "deal": "Deals",
    "deal_history": "Deal stage history",
}


def _default_objects() -> list[str]:
    return [str(o) for o in SYNC_OBJECT_ORDER]


class Connection(models.Model):
    """How the app reaches one system's API, and how far its syncs have got."""

    system = models.OneToOneField(SourceSystem, on_delete=models.CASCADE, related_name="connection")
    auth = models.CharField(max_length=30, choices=ConnectorAuth.choices)
    url = models.CharField(
        "API or login URL",
        max_length=300,
        help_text="HubSpot: https://api.hubapi.com. Salesforce: https://login.salesforce.com, "
        "https://test.salesforce.com for a sandbox, or the org's My Domain address.",
    )
    username = models.CharField(max_length=200, blank=True, help_text="Salesforce only.")
    consumer_key = models.CharField(
        max_length=300, blank=True, help_text="Salesforce connected app's consumer key."
    )
    # Fernet token (revops.crypto) of the secret; never rendered, never audited.
    secret = models.TextField(blank=True, editable=False)
    objects_synced = ArrayField(
        models.CharField(max_length=10, choices=ObjectType.choices), default=_default_objects
    )
    nightly = models.BooleanField(
        default=True, help_text="Sync every night before the reconciliation."
    )
    fresh_hours = models.PositiveSmallIntegerField(
        default=26,
        help_text="The scorecard warns when the last good sync is older than this.",
    )
    # Per object type: {"since": ISO time}, the high-water mark of the last applied sync.
    cursors = models.JSONField(default=dict, blank=True, editable=False)
    # {"used": n, "max": n, "at": ISO time}: the API allowance the system reported last.
    api_limits = models.JSONField(default=dict, blank=True, editable=False)
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField(null=True, blank=True, editable=False)
    last_test_message = models.TextField(blank=True, editable=False)
    last_synced_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Start of the last sync that applied."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(auth__in=ConnectorAuth.values), name="pipeline_connection_auth_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system.name} API"

    @property
    def vendor(self) -> str:
        return "hubspot" if self.auth == ConnectorAuth.HUBSPOT_TOKEN else "salesforce"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)


class SyncRun(models.Model):
    """One sync of a connection: per object what was pulled and what its import batch did.

    `progress` holds, per stream (an object type, or `deal_history`), the pull's resumable
    state: {"state": "pulling" | "pulled" | "applied" | "failed", "pulled": rows, "deleted":
    ids seen deleted, "file": path of the rows pulled so far, "bytes": how much of it is good,
    "cursor": where the API continues, "high_water": the latest modification time seen,
    "batch": import batch id, "created", "updated", "removed", "held", "message"}."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=SyncTrigger.choices)
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    full = models.BooleanField(default=False, help_text="Pulled everything, not only changes.")
    progress = models.JSONField(default=dict, blank=True)
    api_calls = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    resumed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SyncStatus.values), name="pipeline_syncrun_status_valid"
            ),
            # One sync of a connection at a time.
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(status__in=["queued", "running"]),
                name="pipeline_syncrun_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} of {self.connection.system.name}"

    @property
    def streams(self) -> list[dict]:
        """`progress` as the connection page lists it: each stream's label, name and state."""
        return [
            {"label": STREAM_LABELS.get(name, name.capitalize()), "name": name, **state}
            for name, state in (self.progress or {}).items()
        ]

    @property
    def is_active(self) -> bool:
        return self.status in (SyncStatus.QUEUED, SyncStatus.RUNNING)
