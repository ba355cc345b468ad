"""What ops tell the app about the people and places behind the records, so every number can be
sliced by them (pipeline/dimensions.py): the owners the records name, the teams they belong to
and the managers of those teams, and the regions, each a set of countries."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now, Upper


class Team(models.Model):
    """A sales or customer-success team, with its manager."""

    name = models.CharField(max_length=100)
    manager = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="pipeline_team_name_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="pipeline_team_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class Owner(models.Model):
    """An owner as the records name one (`key`: the owner field of a lead, a deal or an
    account, e.g. a name or a CRM user id), with the name to show, their team and office."""

    key = models.CharField(max_length=100, help_text="As the records' owner field holds it.")
    name = models.CharField(max_length=100, blank=True, help_text="Shown; the key when blank.")
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="owners"
    )
    office = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="pipeline_owner_key_unique"),
            models.CheckConstraint(condition=~Q(key=""), name="pipeline_owner_key_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name or self.key


class Region(models.Model):
    """A set of countries ops name together, e.g. EMEA. A country belongs to one region at
    most, so the regions' numbers add up to the company's."""

    name = models.CharField(max_length=100)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="pipeline_region_name_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="pipeline_region_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class RegionCountry(models.Model):
    """A country of a region, as the records' country field writes it (compared without case
    or surrounding spaces: `Germany`, `GERMANY ` and `germany` are one country)."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="countries")
    country = models.CharField(max_length=100)

    class Meta:
        ordering = ["region", "country"]
        constraints = [
            models.UniqueConstraint(Upper("country"), name="pipeline_regioncountry_country_unique"),
            models.CheckConstraint(
                condition=~Q(country=""), name="pipeline_regioncountry_not_blank"
            ),
        ]
        verbose_name_plural = "region countries"

    def __str__(self) -> str:
        return f"{self.country} ({self.region})"
