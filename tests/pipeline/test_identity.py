"""Golden records are built from the systems' records: one per person, company and deal, with
each field from the system its authority rule names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.choices import LeadStage, ObjectType, SystemRole
from pipeline.models import Account, FieldAuthority, Lead, SourceLead
from pipeline.normalise import NormaliseError, domain_key, email_key
from pipeline.services.identity import golden_resolve
from tests.factories import (
    SourceAccountFactory,
    SourceDealFactory,
    SourceLeadFactory,
    SourceSystemFactory,
)

pytestmark = pytest.mark.django_db

JAN_5 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
JAN_7 = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
JAN_12 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


@pytest.fixture
def crm():
    return SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)


@pytest.fixture
def mkt():
    return SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)


def test_email_key_folds_case_and_encodes_international_domains():
    assert email_key("  JOSE@EXÄMPLE.COM ") == "jose@xn--exmple-cua.com"
    assert email_key("jose@xn--exmple-cua.com") == "jose@xn--exmple-cua.com"
    with pytest.raises(NormaliseError):
        email_key("not-an-address")


def test_domain_key_strips_scheme_www_path_and_port():
    assert domain_key("https://www.Example.com/about?x=1") == "example.com"
    assert domain_key("WWW.acme.io:8443") == "acme.io"
    with pytest.raises(NormaliseError):
        domain_key("acme")


def test_one_person_in_two_systems_is_one_lead_with_fields_from_their_authorities(crm, mkt):
    SourceLeadFactory(
        system=crm,
        email="Ana@Acme.com",
        email_key="ana@acme.com",
        stage=LeadStage.SQL,
        mql_at=JAN_7,
        sql_at=JAN_12,
        source="Outbound",
        created_at=JAN_5,
    )
    SourceLeadFactory(
        system=mkt,
        email="ana@acme.com",
        email_key="ana@acme.com",
        stage=LeadStage.MQL,
        mql_at=JAN_5,
        source="Webinar",
        created_at=JAN_5,
    )
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="stage", system=crm)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="mql_at", system=mkt)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="source", system=mkt)

    result = golden_resolve()

    lead = Lead.objects.get()
    assert result.created[ObjectType.LEAD] == 1
    assert (lead.stage, lead.mql_at, lead.source) == (LeadStage.SQL, JAN_5, "Webinar")
    # No rule for sql_at: the CRM (sales comes first) decides.
    assert lead.sql_at == JAN_12
    assert set(SourceLead.objects.values_list("lead_id", flat=True)) == {lead.id}


def test_an_authority_that_holds_the_record_decides_even_when_its_value_is_blank(crm, mkt):
    SourceLeadFactory(system=crm, email_key="bo@acme.com", mql_at=JAN_7)
    SourceLeadFactory(system=mkt, email_key="bo@acme.com", mql_at=None)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="mql_at", system=mkt)
    golden_resolve()
    assert Lead.objects.get().mql_at is None


def test_changing_a_rule_and_resolving_again_changes_the_golden_value(crm, mkt):
    SourceLeadFactory(system=crm, email_key="cy@acme.com", source="Outbound")
    SourceLeadFactory(system=mkt, email_key="cy@acme.com", source="Webinar")
    golden_resolve()
    assert Lead.objects.get().source == "Outbound"
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="source", system=mkt)
    result = golden_resolve()
    assert Lead.objects.get().source == "Webinar"
    assert result.updated[ObjectType.LEAD] == 1


def test_resolving_twice_changes_nothing(crm, mkt):
    SourceLeadFactory(system=crm, email_key="di@acme.com")
    SourceLeadFactory(system=mkt, email_key="di@acme.com")
    golden_resolve()
    again = golden_resolve()
    assert again.created[ObjectType.LEAD] == again.updated[ObjectType.LEAD] == 0
    assert again.deleted[ObjectType.LEAD] == 0


def test_duplicates_in_one_system_merge_into_one_lead_represented_by_the_original(mkt):
    SourceLeadFactory(
        system=mkt,
        external_id="1",
        email="ed@acme.com",
        email_key="ed@acme.com",
        created_at=JAN_5,
        first_name="Ed",
    )
    SourceLeadFactory(
        system=mkt,
        external_id="2",
        email="ED@ACME.COM",
        email_key="ed@acme.com",
        created_at=JAN_12,
        first_name="Edward",
    )
    golden_resolve()
    lead = Lead.objects.get()
    assert (lead.created_at, lead.first_name) == (JAN_5, "Ed")
    assert SourceLead.objects.filter(lead=lead).count() == 2


def test_a_lead_no_system_holds_any_more_is_removed(crm):
    record = SourceLeadFactory(system=crm, email_key="old@acme.com")
    golden_resolve()
    SourceLead.objects.filter(pk=record.pk).update(email="new@acme.com", email_key="new@acme.com")
    result = golden_resolve()
    assert list(Lead.objects.values_list("email_key", flat=True)) == ["new@acme.com"]
    assert result.deleted[ObjectType.LEAD] == 1


def test_accounts_match_across_systems_by_domain_and_leads_join_them(crm, mkt):
    SourceAccountFactory(
        system=crm,
        external_id="001A",
        name="Acme Inc",
        domain="https://www.acme.com/",
        domain_key="acme.com",
    )
    SourceAccountFactory(
        system=mkt, external_id="9001", name="ACME", domain="acme.com", domain_key="acme.com"
    )
    SourceAccountFactory(
        system=crm, external_id="001B", name="No Website Ltd", domain="", domain_key=""
    )
    SourceLeadFactory(system=mkt, email_key="fay@acme.com")
    golden_resolve()
    acme = Account.objects.get(domain="acme.com")
    assert acme.name == "Acme Inc"  # the CRM comes first when no rule says otherwise
    # Without a domain, an account is keyed by its normalised name within its system.
    assert Account.objects.get(key="salesforce:no website ltd").domain == ""
    assert Lead.objects.get().account == acme


def test_a_marketing_deal_synced_from_the_crm_is_the_same_deal(crm, mkt):
    SourceAccountFactory(system=crm, external_id="001A", domain_key="acme.com")
    crm_deal = SourceDealFactory(
        system=crm, external_id="006X", account_external_id="001A", amount=50_000
    )
    SourceDealFactory(system=mkt, external_id="777", crm_id="006X", amount=45_000)
    converted = SourceLeadFactory(
        system=crm, email_key="gus@acme.com", converted_deal_external_id="006X"
    )
    golden_resolve()
    crm_deal.refresh_from_db()
    deal = crm_deal.deal
    assert deal.key == "006X"
    assert deal.source_records.count() == 2
    assert deal.amount == 50_000
    assert deal.account.domain == "acme.com"
    converted.refresh_from_db()
    assert deal.lead_id == converted.lead_id
