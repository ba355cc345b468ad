"""Dated exchange rates into the company currency."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExchangeRate(models.Model):
    """What one unit of `currency` is worth in the company currency from `valid_from` on, e.g.
    COP at 0.00025 when the company counts in USD. Keyed by (currency, valid_from). The rate in
    force on a day is the row of that currency with the latest `valid_from` on or before it; a
    day before a currency's first row has no rate, and amounts on it are not converted. The
    company currency has no rows: it converts at 1."""

    currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    valid_from = models.DateField(help_text="The first day the rate is in force.")
    rate = models.DecimalField(
        max_digits=24,
        decimal_places=10,
        help_text="Company-currency units one unit of the currency is worth.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            # Also the index the rate-in-force lookup reads (currency =, valid_from <= … DESC).
            models.UniqueConstraint(
                fields=["currency", "valid_from"], name="pipeline_exchangerate_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="pipeline_exchangerate_positive"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="pipeline_exchangerate_currency_iso",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate_text} from {self.valid_from}"

    @property
    def rate_text(self) -> str:
        """The rate without trailing zeros, never in exponent form (10, not 1E+1)."""
        return f"{self.rate.normalize():f}"
