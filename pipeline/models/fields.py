"""Field sets shared by a golden record and the source records it is built from, so that a
field authority rule can copy a value across without translation."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from pipeline.choices import (
    AccountHealth,
    ArrChangeKind,
    DealSource,
    DealStage,
    DealType,
    LeadStage,
)
from revops.currencies import company_currency

# Constraint names in abstract models must be unique per concrete class.
_N = "%(app_label)s_%(class)s_"


class LeadFields(models.Model):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    company = models.CharField(max_length=255, blank=True)
    stage = models.CharField(max_length=16, choices=LeadStage.choices, default=LeadStage.NEW)
    source = models.CharField(
        max_length=100, blank=True, help_text="Channel that brought the lead, e.g. Webinar."
    )
    owner = models.CharField(max_length=100, blank=True)
    # db_default: the statements that write these rows name the columns they fill.
    country = models.CharField(max_length=100, blank=True, db_default="")
    created_at = models.DateTimeField(help_text="When the lead was created in its system.")
    mql_at = models.DateTimeField("MQL at", null=True, blank=True)
    sal_at = models.DateTimeField("SAL at", null=True, blank=True)
    sql_at = models.DateTimeField("SQL at", null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    disqualified_at = models.DateTimeField(null=True, blank=True)
    first_touch_at = models.DateTimeField(
        null=True, blank=True, help_text="First sales touch (call, email, meeting)."
    )

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=LeadStage.values), name=_N + "stage_valid"
            ),
        ]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class AccountFields(models.Model):
    name = models.CharField(max_length=255)
    industry = models.CharField(max_length=100, blank=True)
    segment = models.CharField(
        max_length=100, blank=True, db_default="", help_text="e.g. Enterprise, Mid-market, SMB."
    )
    country = models.CharField(max_length=100, blank=True, db_default="")
    employees = models.PositiveIntegerField(null=True, blank=True)
    owner = models.CharField(max_length=100, blank=True)
    health = models.CharField(max_length=10, choices=AccountHealth.choices, blank=True)
    renewal_date = models.DateField(null=True, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(health="") | Q(health__in=AccountHealth.values),
                name=_N + "health_valid",
            ),
        ]


class DealFields(models.Model):
    name = models.CharField(max_length=255)
    stage = models.CharField(max_length=16, choices=DealStage.choices)
    amount = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    currency = models.CharField(max_length=3, default=company_currency)
    # In the company currency, kept by pipeline.services.currency.amounts_convert; NULL when no
    # rate is in force for the currency on the day, so the deal is never summed unconverted.
    amount_at_close = models.DecimalField(
        max_digits=24,
        decimal_places=6,
        null=True,
        blank=True,
        editable=False,
        help_text="Amount in the company currency at the rate on the close date (else created).",
    )
    amount_at_creation = models.DecimalField(
        max_digits=24,
        decimal_places=6,
        null=True,
        blank=True,
        editable=False,
        help_text="Amount in the company currency at the rate on the day it was created.",
    )
    created_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the deal was created (engaged) in its system. An early deal may have "
        "none yet; a closed one always has one.",
    )
    close_date = models.DateField(
        null=True, blank=True, help_text="Expected close while open; actual close once closed."
    )
    source = models.CharField(max_length=10, choices=DealSource.choices, blank=True)
    deal_type = models.CharField(max_length=10, choices=DealType.choices, default=DealType.NEW)
    owner = models.CharField(max_length=100, blank=True)
    product = models.CharField(max_length=100, blank=True, db_default="")
    is_closed = models.GeneratedField(
        expression=Q(stage__in=[DealStage.CLOSED_WON, DealStage.CLOSED_LOST]),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    is_won = models.GeneratedField(
        expression=Q(stage=DealStage.CLOSED_WON),
        output_field=models.BooleanField(),
        db_persist=True,
    )

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=DealStage.values), name=_N + "stage_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name=_N + "amount_non_negative"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name=_N + "currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(source="") | Q(source__in=DealSource.values), name=_N + "source_valid"
            ),
            models.CheckConstraint(
                condition=Q(deal_type__in=DealType.values), name=_N + "deal_type_valid"
            ),
        ]


class ArrChangeFields(models.Model):
    kind = models.CharField(max_length=12, choices=ArrChangeKind.choices)
    amount = models.DecimalField(
        max_digits=24,
        decimal_places=6,
        help_text="Annual amount, always positive; contraction and churn reduce ARR by it.",
    )
    currency = models.CharField(max_length=3, default=company_currency)
    effective_date = models.DateField()
    amount_converted = models.DecimalField(  # kept like DealFields.amount_at_close
        max_digits=24,
        decimal_places=6,
        null=True,
        blank=True,
        editable=False,
        help_text="Amount in the company currency at the rate on the effective date.",
    )

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ArrChangeKind.values), name=_N + "kind_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name=_N + "amount_positive"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name=_N + "currency_iso"
            ),
        ]
