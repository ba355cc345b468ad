"""Manual corrections ops make to the golden records, which identity resolution honours on
every later import: two email keys that are one person, and a field value set by hand."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from pipeline.choices import AUTHORITY_FIELDS, ObjectType

# Golden records a field override may correct (ARR changes are events, corrected at source).
OVERRIDABLE_TYPES = (ObjectType.LEAD, ObjectType.ACCOUNT, ObjectType.DEAL)


class LeadAlias(models.Model):
    """“These two are the same lead”: source rows whose email key is `alias_key` resolve to the
    golden lead keyed `canonical_key`. Keyed by `alias_key`; a canonical key is never itself an
    alias (the service re-points chains), so one lookup settles any email."""

    alias_key = models.CharField(max_length=254)
    canonical_key = models.CharField(max_length=254)
    reason = models.TextField()
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["alias_key"]
        verbose_name_plural = "lead aliases"
        constraints = [
            models.UniqueConstraint(fields=["alias_key"], name="pipeline_leadalias_alias_unique"),
            models.CheckConstraint(
                condition=~Q(alias_key=F("canonical_key")), name="pipeline_leadalias_not_self"
            ),
        ]
        indexes = [models.Index(fields=["canonical_key"], name="pipeline_leadalias_canon_idx")]

    def __str__(self) -> str:
        return f"{self.alias_key} → {self.canonical_key}"


def _override_field_valid() -> Q:
    condition = Q()
    for object_type in OVERRIDABLE_TYPES:
        condition |= Q(object_type=object_type, field__in=AUTHORITY_FIELDS[object_type])
    return condition


class FieldOverride(models.Model):
    """A value ops set by hand on one field of one golden record, with the reason. Applied after
    field authority on every resolution, so it survives re-imports until it is removed. Keyed by
    (object type, the golden record's key, field); `value` is the text form of the value (ISO
    dates and times), NULL for “no value”."""

    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    record_key = models.CharField(max_length=300, help_text="Lead email key, or account/deal key.")
    field = models.CharField(max_length=50)
    value = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL is "no value", "" is blank text
    reason = models.TextField()
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["object_type", "record_key", "field"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "record_key", "field"], name="pipeline_fieldoverride_unique"
            ),
            models.CheckConstraint(
                condition=_override_field_valid(), name="pipeline_fieldoverride_field_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.record_key}.{self.field} = {self.value!r}"
