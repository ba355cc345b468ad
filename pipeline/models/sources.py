"""Source records: each row a source system exported, kept as that system said it, with
normalised fields and a link to the golden record identity resolution matched it to.

There is one table per object type; within a table the key is (system, external id), so
together the key is (system, object type, external id) and importing the same file twice
changes nothing. `batch` and `batch_row` say which file and row last changed a record.
A record a full export of its system no longer holds is marked deleted (`deleted_at`,
`deleted_batch`), never removed."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from pipeline.models.fields import AccountFields, ArrChangeFields, DealFields, LeadFields
from pipeline.models.golden import Account, ArrChange, Deal, Lead
from pipeline.models.systems import ImportBatch, SourceSystem


class SourceRecord(models.Model):
    # Indexed by the (system, external id) key's leading column already. No database
    # constraint: its check on every inserted row cost an import of a million rows 7 s at
    # commit. Imports write the id of the system they hold locked; a trigger on the systems'
    # table (migration 0028) refuses to delete a system that still has records, as PROTECT
    # does in the ORM.
    system = models.ForeignKey(
        SourceSystem,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    external_id = models.CharField(max_length=255, help_text="The record's id in its system.")
    # Provenance only, written set-based by imports: no database constraint (its check on
    # every inserted row cost an import of a million rows several seconds at commit).
    batch = models.ForeignKey(
        ImportBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
        help_text="The batch that last changed this record.",
    )
    batch_row = models.PositiveIntegerField(
        null=True, blank=True, help_text="Row of the batch's file this record came from."
    )
    golden_key = models.CharField(  # indexed in each table's Meta, without a LIKE index
        max_length=300, blank=True, help_text="The key of the golden record this row resolves to."
    )
    first_seen_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    # A full export of the system that no longer held the record marks it, set-based; any
    # later file that holds it again clears both. Nothing is ever hard-deleted.
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When a full export of its system no longer held it."
    )
    deleted_batch = models.ForeignKey(
        ImportBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,  # provenance, like `batch`
        db_index=False,
        help_text="The full export that no longer held it.",
    )

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["system", "external_id"], name="%(app_label)s_%(class)s_key"
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="%(app_label)s_%(class)s_external_id_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.external_id}"

    @property
    def record_url(self) -> str:
        """Where this record opens in its system ("" when ops set no record URL for it)."""
        return self.system.record_url(self.external_id)


class SourceLead(SourceRecord, LeadFields):
    """A lead or contact as one system holds it (a HubSpot contact, a Salesforce lead)."""

    email = models.CharField(max_length=254, blank=True)
    email_key = models.CharField(max_length=254, blank=True)
    phone = models.CharField(
        max_length=50, blank=True, db_default="", help_text="As the system wrote it."
    )
    phone_key = models.CharField(
        max_length=20, blank=True, db_default="", help_text="E.164, when it reads as one."
    )
    account_external_id = models.CharField(max_length=255, blank=True)
    account_system = models.ForeignKey(
        SourceSystem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
        help_text="The system account_external_id belongs to, when not this one.",
    )
    converted_deal_external_id = models.CharField(max_length=255, blank=True)
    # Maintained set-based by identity resolution, which only ever points it at a row it
    # just wrote; indexed by (lead, system) below.
    lead = models.ForeignKey(
        Lead,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_records",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [*SourceRecord.Meta.constraints, *LeadFields.Meta.constraints]
        indexes = [
            models.Index(fields=["lead", "system"], name="pipeline_srclead_lead_idx"),
            models.Index(fields=["golden_key"], name="pipeline_srclead_golden_idx"),
            # The few deleted rows, found without a scan: identity resolution asks whether
            # there are any before it ranks live sources first.
            models.Index(
                fields=["system"],
                condition=Q(deleted_at__isnull=False),
                name="pipeline_srclead_deleted_idx",
            ),
            models.Index(
                fields=["system", "converted_deal_external_id"],
                name="pipeline_srclead_converted_idx",
                condition=~Q(converted_deal_external_id=""),
            ),
            # Reconciliation reads each system's rows in key order, oldest first, so it can
            # merge-join the two systems and spot duplicates without sorting; the columns it
            # compares are included, so it reads this index and never the wide rows.
            models.Index(
                fields=["system", "golden_key", "created_at", "id"],
                include=[
                    "external_id",
                    "email",
                    "stage",
                    "source",
                    "owner",
                    "mql_at",
                    "sql_at",
                    "deleted_at",
                ],
                name="pipeline_srclead_recon_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email or self.phone or 'no email'} ({self.external_id})"


class SourceAccount(SourceRecord, AccountFields):
    """A company as one system holds it (a Salesforce account, a HubSpot company)."""

    domain = models.CharField(max_length=255, blank=True, help_text="Website or domain as given.")
    domain_key = models.CharField(max_length=255, blank=True)
    # Maintained set-based by identity resolution, which only ever points it at a row it
    # just wrote; indexed by (account, system) below.
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_records",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [*SourceRecord.Meta.constraints, *AccountFields.Meta.constraints]
        indexes = [
            models.Index(fields=["domain_key"], name="pipeline_srcacct_domain_idx"),
            models.Index(fields=["account", "system"], name="pipeline_srcacct_account_idx"),
            models.Index(fields=["golden_key"], name="pipeline_srcacct_golden_idx"),
            # The few deleted rows, found without a scan: identity resolution asks whether
            # there are any before it ranks live sources first.
            models.Index(
                fields=["system"],
                condition=Q(deleted_at__isnull=False),
                name="pipeline_srcacct_deleted_idx",
            ),
        ]


class SourceDeal(SourceRecord, DealFields):
    """A deal as one system holds it (a Salesforce opportunity, a HubSpot deal), with the ids
    that system gives for its account and originating lead."""

    account_external_id = models.CharField(max_length=255, blank=True)
    lead_external_id = models.CharField(max_length=255, blank=True)
    # A deal may name its lead or account by another system's id (closed deals that refer to
    # the marketing system's MQL id): the mapping says which system; NULL means this one.
    account_system = models.ForeignKey(
        SourceSystem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    lead_system = models.ForeignKey(
        SourceSystem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    crm_id = models.CharField(
        "CRM id",
        max_length=255,
        blank=True,
        help_text="The deal's id in the CRM, for a system that syncs deals with it.",
    )
    # Maintained set-based by identity resolution, which only ever points it at a row it
    # just wrote; indexed by (deal, system) below.
    deal = models.ForeignKey(
        Deal,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_records",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [*SourceRecord.Meta.constraints, *DealFields.Meta.constraints]
        indexes = [
            models.Index(fields=["deal", "system"], name="pipeline_srcdeal_deal_idx"),
            models.Index(fields=["golden_key"], name="pipeline_srcdeal_golden_idx"),
            # The few deleted rows, found without a scan: identity resolution asks whether
            # there are any before it ranks live sources first.
            models.Index(
                fields=["system"],
                condition=Q(deleted_at__isnull=False),
                name="pipeline_srcdeal_deleted_idx",
            ),
            models.Index(
                fields=["system", "golden_key", "created_at", "id"],
                include=[
                    "external_id",
                    "name",
                    "amount",
                    "amount_at_close",
                    "amount_at_creation",
                    "stage",
                    "close_date",
                    "source",
                    "deal_type",
                    "deleted_at",
                ],
                name="pipeline_srcdeal_recon_idx",
            ),  # fmt: skip
        ]


class SourceArrChange(SourceRecord, ArrChangeFields):
    """An ARR change as the customer-success system records it."""

    account_external_id = models.CharField(max_length=255)
    arr_change = models.ForeignKey(  # maintained by identity resolution, like the others
        ArrChange,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_records",
        db_constraint=False,
    )

    class Meta:
        constraints = [*SourceRecord.Meta.constraints, *ArrChangeFields.Meta.constraints]
        indexes = [
            models.Index(fields=["golden_key"], name="pipeline_srcarr_golden_idx"),
            # The few deleted rows, found without a scan: identity resolution asks whether
            # there are any before it ranks live sources first.
            models.Index(
                fields=["system"],
                condition=Q(deleted_at__isnull=False),
                name="pipeline_srcarr_deleted_idx",
            ),
        ]
        verbose_name = "source ARR change"


SOURCE_MODELS: dict[str, type[SourceRecord]] = {
    "lead": SourceLead,
    "account": SourceAccount,
    "deal": SourceDeal,
    "arr": SourceArrChange,
}


def source_fields(object_type: str) -> list[str]:
    """The data columns of a source table (what an import writes), in model order."""
    bookkeeping = {
        "id",
        "system",
        "batch",
        "batch_row",
        "golden_key",
        "deleted_at",
        "deleted_batch",
        "first_seen_at",
        "updated_at",
        "lead",
        "account",
        "deal",
        "arr_change",
        "is_closed",
        "is_won",
        # Derived from the data by pipeline.services.currency, never imported or picked.
        "amount_at_close",
        "amount_at_creation",
        "amount_converted",
    }
    return [
        f.column
        for f in SOURCE_MODELS[object_type]._meta.concrete_fields
        if f.name not in bookkeeping
    ]
