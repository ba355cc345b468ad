"""Minimal, valid pipeline records; each test states the values that matter to it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import factory
import factory.random

from pipeline import models
from pipeline.choices import ArrChangeKind, DealStage, SystemRole

factory.random.reseed_random(7)


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

    key = factory.Sequence(lambda n: f"006{n:012d}")
    name = factory.Sequence(lambda n: f"Deal {n}")
    stage = DealStage.QUALIFICATION
    amount = Decimal("10000")
    created_at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


class ArrChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ArrChange

    key = factory.Sequence(lambda n: f"cs:{n}")
    account = factory.SubFactory(AccountFactory)
    kind = ArrChangeKind.NEW
    amount = Decimal("12000")
    effective_date = date(2026, 1, 5)


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

    system = factory.SubFactory(SourceSystemFactory)
    external_id = factory.Sequence(lambda n: f"D{n}")
    name = factory.Sequence(lambda n: f"Deal {n}")
    stage = DealStage.QUALIFICATION
    amount = Decimal("10000")
    created_at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
