"""Golden records: one row per real-world lead, account, deal and ARR change, built from the
source records by identity resolution and field authority. A golden record whose every
source is marked deleted keeps its row, with `deleted_at` set: kept for history, left out of
metrics."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from pipeline.choices import NEGATIVE_ARR_KINDS, DealStage, LeadStage
from pipeline.models.fields import AccountFields, ArrChangeFields, DealFields, LeadFields
from pipeline.models.systems import SourceSystem


class Account(AccountFields):
    """A company. Keyed by its normalised domain (lower case, no scheme, no `www.`); a company
    whose sources give no domain is keyed `<system slug>:<its id there>`. `arr` is the current
    annual recurring revenue: the sum of the account's ARR changes to date."""

    key = models.CharField(max_length=300)
    domain = models.CharField(max_length=255, blank=True, help_text="Normalised domain.")
    arr = models.DecimalField("ARR", max_digits=14, decimal_places=2, db_default=Decimal(0))
    customer_since = models.DateField(null=True, blank=True)
    churned_on = models.DateField(null=True, blank=True)
    first_seen_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    # Set by identity resolution when every source of the record is marked deleted (the
    # latest of their deletions); metrics and lists leave such a record out.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            *AccountFields.Meta.constraints,
            # Unique constraints rather than unique=True: Django would add a second, LIKE-only
            # index to every unique CharField, which imports would pay for on every row.
            models.UniqueConstraint(fields=["key"], name="pipeline_account_key_unique"),
            models.UniqueConstraint(
                fields=["domain"], condition=~Q(domain=""), name="pipeline_account_domain_unique"
            ),
            models.CheckConstraint(
                condition=Q(arr__gte=0), name="pipeline_account_arr_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["renewal_date"], name="pipeline_account_renewal_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_customer(self) -> bool:
        return self.customer_since is not None and self.churned_on is None


class Lead(LeadFields):
    """A person, keyed (`email_key`) by normalised email: the NFC, case-folded local part and
    the IDNA-encoded, lower-case domain, so `JOSE@EXÄMPLE.COM` and `jose@xn--exmple-cua.com`
    are one lead. A lead without a usable email (none, or a placeholder such as `a@a.com`) is
    keyed `tel:<E.164>` when its system matches by phone, else `<system slug>:<its id there>`."""

    email = models.CharField(
        max_length=254, blank=True, help_text="As the winning source wrote it."
    )
    email_key = models.CharField(max_length=300, help_text="The lead's key (see above).")
    phone = models.CharField(
        max_length=50, blank=True, db_default="", help_text="As the winning source wrote it."
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    # Kept by identity resolution (lead_won_rollup): MQL → won conversion counts it.
    won_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Start of the close date of the first won deal linked to the lead.",
    )
    first_seen_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    # Set by identity resolution when every source of the record is marked deleted (the
    # latest of their deletions); metrics and lists leave such a record out.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            *LeadFields.Meta.constraints,
            models.UniqueConstraint(fields=["email_key"], name="pipeline_lead_email_key_unique"),
            models.CheckConstraint(
                condition=~Q(email_key=""), name="pipeline_lead_email_key_not_blank"
            ),
        ]
        indexes = [
            # Weekly aggregation counts leads by the week each lifecycle timestamp falls in.
            models.Index(fields=["created_at"], name="pipeline_lead_created_idx"),
            # MQL→SQL conversion reads when each MQL became SQL, and speed to lead reads each
            # MQL's first touch: covering indexes answer both without visiting the table.
            models.Index(
                fields=["mql_at"],
                name="pipeline_lead_mql_idx",
                condition=Q(mql_at__isnull=False),
                include=["sql_at", "deleted_at"],
            ),
            models.Index(
                fields=["first_touch_at"],
                name="pipeline_lead_touch_idx",
                condition=Q(mql_at__isnull=False),
                include=["mql_at", "deleted_at"],
            ),
            models.Index(
                fields=["sql_at"], name="pipeline_lead_sql_idx", condition=Q(sql_at__isnull=False)
            ),
            models.Index(
                fields=["won_at"], name="pipeline_lead_won_idx", condition=Q(won_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.full_name or self.phone or self.email_key


class Deal(DealFields):
    """An opportunity. Keyed by its id in the CRM, which every system that syncs with the CRM
    carries (a HubSpot deal stores its Salesforce opportunity id); a deal no CRM knows is keyed
    `<system slug>:<its id there>`. Linked to the lead and account its sources name."""

    key = models.CharField(max_length=300)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    lead = models.ForeignKey(
        Lead,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        help_text="The lead this deal was converted from, if any.",
    )
    first_seen_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    # Set by identity resolution when every source of the record is marked deleted (the
    # latest of their deletions); metrics and lists leave such a record out.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = [models.F("created_at").desc(nulls_last=True), "-id"]
        constraints = [
            *DealFields.Meta.constraints,
            models.UniqueConstraint(fields=["key"], name="pipeline_deal_key_unique"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="pipeline_deal_created_idx"),
            models.Index(fields=["close_date"], name="pipeline_deal_close_idx"),
            # The few deals with no exchange rate for their date, found without a scan.
            models.Index(
                fields=["currency"],
                condition=Q(amount_at_close__isnull=True) | Q(amount_at_creation__isnull=True),
                name="pipeline_deal_unconverted_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ArrChange(ArrChangeFields):
    """A dated change to an account's annual recurring revenue: new, expansion, contraction or
    churn. `amount` is positive; `signed_amount` carries the direction. NRR and GRR for any
    window are sums over these rows. Keyed `<system slug>:<its id there>`."""

    key = models.CharField(max_length=300)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="arr_changes")
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="arr_changes"
    )
    first_seen_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    # Set by identity resolution when every source of the record is marked deleted (the
    # latest of their deletions); metrics and lists leave such a record out.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-effective_date", "-id"]
        constraints = [
            *ArrChangeFields.Meta.constraints,
            models.UniqueConstraint(fields=["key"], name="pipeline_arrchange_key_unique"),
        ]
        indexes = [
            models.Index(fields=["effective_date"], name="pipeline_arrchange_date_idx"),
            models.Index(fields=["account", "effective_date"], name="pipeline_arrchange_acct_idx"),
            models.Index(
                fields=["currency"],
                condition=Q(amount_converted__isnull=True),
                name="pipeline_arrchange_unconv_idx",
            ),
        ]
        verbose_name = "ARR change"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} on {self.effective_date}"

    @property
    def signed_amount(self) -> Decimal:
        return -self.amount if self.kind in NEGATIVE_ARR_KINDS else self.amount


class LeadStageChange(models.Model):
    """A lead entering a lifecycle stage at a moment, as reported by a system. Keyed by
    (lead, stage, moment); conversion and velocity are measured over these rows."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=16, choices=LeadStage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=LeadStage.choices)
    changed_at = models.DateTimeField()
    system = models.ForeignKey(
        SourceSystem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["lead", "changed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "to_stage", "changed_at"], name="pipeline_leadstagechange_unique"
            ),
            models.CheckConstraint(
                condition=Q(to_stage__in=LeadStage.values)
                & (Q(from_stage="") | Q(from_stage__in=LeadStage.values)),
                name="pipeline_leadstagechange_stage_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["to_stage", "changed_at"], name="pipeline_leadstage_when_idx")
        ]

    def __str__(self) -> str:
        return f"{self.lead} → {self.to_stage} at {self.changed_at:%Y-%m-%d}"


class DealStageChange(models.Model):
    """A deal entering a stage at a moment, with its amount then. Keyed by (deal, stage, moment).

    Two kinds: a change the app saw (an import moved the golden deal's stage; `external_id`
    blank, `changed_at` when the import applied), and a change the system recorded itself
    (Salesforce's OpportunityHistory: `system` and its `external_id`, `changed_at` when it
    happened). A recorded change stands in for a seen one of the same stage."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=16, choices=DealStage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=DealStage.choices)
    changed_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    system = models.ForeignKey(
        SourceSystem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # db_default: the golden upsert's own INSERT of the changes it sees names no such column.
    external_id = models.CharField(
        max_length=255, blank=True, db_default="", help_text="The system's own id of this change."
    )

    class Meta:
        ordering = ["deal", "changed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "to_stage", "changed_at"], name="pipeline_dealstagechange_unique"
            ),
            models.CheckConstraint(
                condition=Q(to_stage__in=DealStage.values)
                & (Q(from_stage="") | Q(from_stage__in=DealStage.values)),
                name="pipeline_dealstagechange_stage_valid",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="pipeline_dealstagechange_amount_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["to_stage", "changed_at"], name="pipeline_dealstage_when_idx")
        ]

    def __str__(self) -> str:
        return f"{self.deal} → {self.to_stage} at {self.changed_at:%Y-%m-%d}"
