"""seed_demo builds a deterministic, realistic, idempotent demo through the source records."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory

from demo import northwind
from pipeline.models import Account, ArrChange, Deal, DealStageChange, Lead, SourceLead

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 24)
SCALE = 0.05  # 1,000 leads: enough for every kind of disagreement to appear


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", scale=SCALE, today=TODAY, stdout=out, **options)
    return out.getvalue()


def fingerprint() -> dict[str, object]:
    """Row counts and a digest of every golden record's contents."""
    queries = {
        "leads": "SELECT count(*), md5(string_agg(row(email_key, stage, source, owner, created_at,"
        " mql_at, sql_at, first_touch_at)::text, '|' ORDER BY email_key)) FROM pipeline_lead",
        "deals": "SELECT count(*), md5(string_agg(row(key, stage, amount, close_date, source,"
        " deal_type)::text, '|' ORDER BY key)) FROM pipeline_deal",
        "accounts": "SELECT count(*), md5(string_agg(row(key, name, arr, health)::text, '|'"
        " ORDER BY key)) FROM pipeline_account",
        "arr": "SELECT count(*), md5(string_agg(row(key, kind, amount, effective_date)::text, '|'"
        " ORDER BY key)) FROM pipeline_arrchange",
    }
    with connection.cursor() as cursor:
        result = {}
        for name, sql in queries.items():
            cursor.execute(sql)
            result[name] = cursor.fetchone()
    return result


def wipe() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks left pending
        cursor.execute(
            "TRUNCATE pipeline_sourcelead, pipeline_sourcedeal, pipeline_sourceaccount, "
            "pipeline_sourcearrchange, pipeline_leadstagechange, pipeline_dealstagechange, "
            "pipeline_arrchange, pipeline_deal, pipeline_lead, pipeline_account CASCADE"
        )


def test_same_seed_gives_the_same_data_and_another_seed_does_not():
    seed(seed=11)
    first = fingerprint()
    wipe()
    seed(seed=11)
    assert fingerprint() == first
    wipe()
    seed(seed=12)
    assert fingerprint() != first


def test_running_it_twice_duplicates_nothing_and_reports_no_changes():
    seed()
    counts = fingerprint()
    history = DealStageChange.objects.count()
    output = seed()
    assert fingerprint() == counts
    assert DealStageChange.objects.count() == history
    for line in output.splitlines():
        if " created " in line:
            assert " 0 created " in line, line
            assert " 0 updated " in line, line


def test_demo_has_the_promised_shape_at_scale_one_per_twenty():
    seed()
    assert 900 <= Lead.objects.count() <= 1_100
    assert Deal.objects.count() > 100
    customers = Account.objects.filter(customer_since__isnull=False, churned_on__isnull=True)
    assert customers.count() > 10
    assert ArrChange.objects.filter(kind="churn").exists()
    # Two years of history, nothing after the day it was built for.
    first = Lead.objects.order_by("created_at").first().created_at.date()
    last = Lead.objects.order_by("-created_at").first().created_at.date()
    assert (TODAY - first).days >= 700
    assert last < TODAY
    # A minority of deals in EUR and GBP, every one converted by the demo's monthly rates.
    shares = {
        c: Deal.objects.filter(currency=c).count() / Deal.objects.count() for c in ["EUR", "GBP"]
    }
    assert 0.08 < shares["EUR"] < 0.22
    assert 0.04 < shares["GBP"] < 0.16
    assert not Deal.objects.filter(amount_at_close__isnull=True).exists()
    assert not Deal.objects.filter(amount_at_creation__isnull=True).exists()
    assert not ArrChange.objects.filter(amount_converted__isnull=True).exists()


def test_systems_disagree_exactly_as_the_generator_injected():
    injected = northwind.generate(scale=SCALE, seed=7, today=TODAY).injected
    seed()
    only_marketing = Lead.objects.exclude(source_records__system__slug="salesforce").count()
    only_sales = Lead.objects.exclude(source_records__system__slug="hubspot").count()
    assert only_marketing == injected["lead_missing_in_sales"] > 0
    assert only_sales == injected["lead_missing_in_marketing"] > 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) - count(DISTINCT email_key) FROM pipeline_sourcelead s "
            "JOIN pipeline_sourcesystem ss ON ss.id = s.system_id WHERE ss.slug = 'hubspot'"
        )
        assert cursor.fetchone()[0] == injected["lead_duplicate_in_marketing"] > 0
        cursor.execute(
            "SELECT count(*) FROM pipeline_sourcelead c JOIN pipeline_sourcelead m "
            "ON m.lead_id = c.lead_id AND m.system_id <> c.system_id "
            "JOIN pipeline_sourcesystem cs ON cs.id = c.system_id AND cs.slug = 'salesforce' "
            "JOIN pipeline_sourcesystem ms ON ms.id = m.system_id AND ms.slug = 'hubspot' "
            "WHERE c.source <> m.source"
        )
        # Duplicated contacts copy their original's source, so they can add to the count.
        assert cursor.fetchone()[0] >= injected["lead_source_mismatch"] > 0
    assert SourceLead.objects.filter(email__regex=r"[^\x00-\x7f]").count() == 0


def test_demo_users_exist_for_each_role_and_their_printed_password_works():
    output = seed()
    assert "revops-demo" in output
    for username, role in [
        ("exec", "executive"),
        ("ops", "ops"),
        ("sales", "sales_lead"),
        ("marketing", "marketing_lead"),
    ]:
        request = RequestFactory().post("/accounts/login/")  # login throttling needs one
        user = authenticate(request, username=username, password="revops-demo")
        assert user is not None, username
        assert list(user.groups.values_list("name", flat=True)) == [role]
