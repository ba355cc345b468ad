"""The database refuses data that breaks the revenue model's rules, whoever writes it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from pipeline.choices import ArrChangeKind, DealStage, ObjectType
from pipeline.models import ArrChange, Deal, FieldAuthority, Lead, SourceLead
from tests.factories import (
    AccountFactory,
    ArrChangeFactory,
    DealFactory,
    LeadFactory,
    SourceLeadFactory,
    SourceSystemFactory,
)

pytestmark = pytest.mark.django_db


def refused(make) -> bool:
    try:
        with transaction.atomic():
            make()
    except IntegrityError:
        return True
    return False


def test_negative_deal_amount_is_refused():
    assert refused(lambda: DealFactory(amount=Decimal("-1")))
    assert not refused(lambda: DealFactory(amount=Decimal("0")))


def test_deal_stage_outside_the_pipeline_is_refused():
    assert refused(lambda: DealFactory(stage="won-ish"))


def test_deal_currency_must_be_an_iso_code():
    assert refused(lambda: DealFactory(currency="usd"))
    assert not refused(lambda: DealFactory(currency="EUR"))


def test_deal_won_and_closed_flags_follow_the_stage():
    deal = DealFactory(stage=DealStage.CLOSED_WON)
    deal.refresh_from_db()
    assert (deal.is_won, deal.is_closed) == (True, True)
    Deal.objects.filter(pk=deal.pk).update(stage=DealStage.CLOSED_LOST)
    deal.refresh_from_db()
    assert (deal.is_won, deal.is_closed) == (False, True)


def test_duplicate_lead_email_key_is_refused():
    LeadFactory(email="ana@example.com", email_key="ana@example.com")
    assert refused(lambda: LeadFactory(email="ANA@example.com", email_key="ana@example.com"))


def test_lead_stage_outside_the_lifecycle_is_refused():
    assert refused(lambda: LeadFactory(stage="hot"))


def test_two_accounts_cannot_share_a_domain_but_many_can_have_none():
    AccountFactory(domain="acme.com", key="acme.com")
    assert refused(lambda: AccountFactory(domain="acme.com", key="crm:1"))
    AccountFactory(domain="", key="crm:2")
    AccountFactory(domain="", key="crm:3")


def test_negative_arr_is_refused():
    assert refused(lambda: AccountFactory(arr=Decimal("-5")))


def test_arr_change_amount_must_be_positive_and_its_sign_comes_from_the_kind():
    assert refused(lambda: ArrChangeFactory(amount=Decimal("0")))
    churn = ArrChangeFactory(kind=ArrChangeKind.CHURN, amount=Decimal("500"))
    assert churn.signed_amount == Decimal("-500")
    assert refused(lambda: ArrChangeFactory(kind="refund"))


def test_source_record_is_unique_per_system_and_external_id():
    crm = SourceSystemFactory(slug="crm")
    mkt = SourceSystemFactory(slug="mkt", role="marketing")
    SourceLeadFactory(system=crm, external_id="00Q1")
    # The same id in another system is another record.
    SourceLeadFactory(system=mkt, external_id="00Q1")
    assert refused(lambda: SourceLeadFactory(system=crm, external_id="00Q1"))
    assert SourceLead.objects.count() == 2


def test_blank_external_id_is_refused():
    assert refused(lambda: SourceLeadFactory(external_id=""))


def test_field_authority_only_names_real_fields_once():
    crm = SourceSystemFactory(slug="crm")
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="stage", system=crm)
    assert refused(
        lambda: FieldAuthority.objects.create(
            object_type=ObjectType.LEAD, field="stage", system=crm
        )
    )
    assert refused(
        lambda: FieldAuthority.objects.create(
            object_type=ObjectType.LEAD, field="amount", system=crm
        )
    )
    assert not refused(
        lambda: FieldAuthority.objects.create(
            object_type=ObjectType.DEAL, field="amount", system=crm
        )
    )


def test_weekly_aggregation_columns_are_indexed():
    from django.db import connection

    with connection.cursor() as cursor:
        indexes = {
            table: {
                c["columns"][0]
                for c in connection.introspection.get_constraints(cursor, table).values()
                if c["index"] and c["columns"]
            }
            for table in (Lead._meta.db_table, Deal._meta.db_table, ArrChange._meta.db_table)
        }
    assert {"created_at", "mql_at", "sql_at"} <= indexes[Lead._meta.db_table]
    assert {"created_at", "close_date"} <= indexes[Deal._meta.db_table]
    assert "effective_date" in indexes[ArrChange._meta.db_table]


def test_lead_full_name_and_timestamps_round_trip():
    lead = LeadFactory(
        first_name="Zoë", last_name="Åberg", mql_at=datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    )
    lead.refresh_from_db()
    assert lead.full_name == "Zoë Åberg"
    assert lead.mql_at.date() == date(2026, 1, 6)
