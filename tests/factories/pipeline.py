"""Minimal, valid pipeline records; each test states the values that matter to it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import factory
import factory.random

from pipeline import models
from pipeline.choices import ArrChangeKind, DealStage, SystemRole
from pipeline.services.currency import amounts_convert

factory.random.reseed_random(7)


def _convert(obj, create: bool, extracted, **kwargs) -> None:
    """Fill the converted amounts as every writer of deals and ARR changes does."""
    if not create:
        return
    amounts_convert(tables=(obj._meta.db_table,))
    converted = [
        f.name
        for f in obj._meta.concrete_fields
        if f.name in ("amount_at_close", "amount_at_creation", "amount_converted")
    ]
    obj.refresh_from_db(fields=converted)


class SourceSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SourceSystem
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"System {n}")
    slug = factory.Sequence(lambda n: f"system-{n}")
    role = SystemRole.SALES


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Account

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.com")
    key = factory.LazyAttribute(lambda a: a.domain)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Lead

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_key = factory.LazyAttribute(lambda lead: lead.email.lower())
    created_at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Deal
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"006{n:012d}")
    name = factory.Sequence(lambda n: f"Deal {n}")
    stage = DealStage.QUALIFICATION
    amount = Decimal("10000")
    created_at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    converted = factory.PostGeneration(_convert)


class ArrChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ArrChange
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"cs:{n}")
    account = factory.SubFactory(AccountFactory)
    kind = ArrChangeKind.NEW
    amount = Decimal("12000")
    effective_date = date(2026, 1, 5)
    converted = factory.PostGeneration(_convert)


class SourceLeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SourceLead

    system = factory.SubFactory(SourceSystemFactory)
    external_id = factory.Sequence(lambda n: f"L{n}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_key = factory.LazyAttribute(lambda s: s.email.strip().lower())
    created_at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


class SourceAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SourceAccount

    system = factory.SubFactory(SourceSystemFactory)
    external_id = factory.Sequence(lambda n: f"A{n}")
    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.com")
    domain_key = factory.LazyAttribute(lambda s: s.domain)


class SourceDealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SourceDeal
        skip_postgeneration_save = True

    system = factory.SubFactory(SourceSystemFactory)
    external_id = factory.Sequence(lambda n: f"D{n}")
    name = factory.Sequence(lambda n: f"Deal {n}")
    stage = DealStage.QUALIFICATION
    amount = Decimal("10000")
    created_at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    converted = factory.PostGeneration(_convert)
