"""Quotas: ops set a slice's own target (a team's, an owner's, a region's) on the metric's
page or upload a file of them on the catalog; a bad file sets nothing and says where it is
wrong; everyone else reads them; nothing typed or uploaded is a server error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pipeline.models import Owner, Region, RegionCountry, Team
from revops.permissions import Role
from scorecard.models import Metric, MetricTarget

pytestmark = pytest.mark.django_db

ADD = "scorecard:metric-target-add"
IMPORT = "scorecard:metric-quotas-import"
HEADER = "metric,period,dimension,value,target,starts_on\n"


@pytest.fixture
def teams():
    enterprise = Team.objects.create(name="Enterprise", manager="Ann")
    Team.objects.create(name="SMB", manager="Cy")
    Owner.objects.create(key="alice", team=enterprise)
    RegionCountry.objects.create(region=Region.objects.create(name="EMEA"), country="Germany")


def targets() -> list[tuple]:
    return list(
        MetricTarget.objects.order_by(
            "metric__key", "dimension", "dimension_value", "starts_on"
        ).values_list("metric__key", "dimension", "dimension_value", "period", "value", "starts_on")
    )


def upload(text: str | bytes, name: str = "quotas.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


# --- One target on the metric's page -----------------------------------------------------------


def test_ops_set_a_teams_quota_and_it_is_listed_apart_from_the_companys(client_as, teams):
    client = client_as(Role.OPS)
    url = reverse(ADD, args=["new_bookings"])
    company = {"starts_on": "2026-01-01", "value": "1000000", "period": "quarter"}
    assert client.post(url, company).status_code == 302
    quota = {**company, "value": "600000", "dimension": "team", "dimension_value": " enterprise "}
    response = client.post(url, quota, follow=True)
    assert "Target for Enterprise $600,000 per quarter from 1 Jan 2026 saved." in response.text
    # Stored as the team is spelled, so the Enterprise slice finds it.
    assert targets() == [
        ("new_bookings", "", "", "quarter", Decimal("1000000"), date(2026, 1, 1)),
        ("new_bookings", "team", "Enterprise", "quarter", Decimal("600000"), date(2026, 1, 1)),
    ]
    page = response.context
    assert [t.dimension for t, _ in page["targets"]] == [""]
    [(t, label, shown)] = page["slice_targets"]
    assert (label, t.dimension_value, shown) == ("Team", "Enterprise", "$600,000")
    assert 'data-testid="slice-targets"' in response.text


def test_the_form_offers_only_the_dimensions_the_metric_is_sliced_by(client_as):
    client = client_as(Role.OPS)
    deals = client.get(reverse("scorecard:metric-detail", args=["new_bookings"]))
    leads = client.get(reverse("scorecard:metric-detail", args=["mqls"]))
    deal_choices = [k for k, _ in deals.context["target_form"].fields["dimension"].choices]
    lead_choices = [k for k, _ in leads.context["target_form"].fields["dimension"].choices]
    assert deal_choices[0] == ""
    assert {"team", "owner", "region", "product"} <= set(deal_choices)
    assert "product" not in lead_choices
    assert "channel" in lead_choices


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"dimension": "team", "dimension_value": "Enterprize"}, "no team called “Enterprize”"),
        ({"dimension": "team", "dimension_value": ""}, "Say which team"),
        ({"dimension": "", "dimension_value": "Enterprise"}, "Choose what it is"),
        ({"dimension": "planet", "dimension_value": "Mars"}, "Select a valid choice"),
        ({"dimension": "owner", "dimension_value": "x" * 101}, "at most 100 characters"),
        ({"dimension": "region", "dimension_value": "APAC"}, "no region called"),
    ],
)
def test_a_refused_quota_is_explained_and_nothing_is_saved(client_as, teams, data, said):
    url = reverse(ADD, args=["new_bookings"])
    posted = {"starts_on": "2026-01-01", "value": "5", "period": "week", **data}
    response = client_as(Role.OPS).post(url, posted)
    assert response.status_code == 400
    assert said in response.text
    assert not MetricTarget.objects.exists()


def test_a_quota_by_a_dimension_the_metric_is_not_sliced_by_is_refused(client_as):
    url = reverse(ADD, args=["mqls"])
    data = {"starts_on": "2026-01-01", "value": "5", "period": "week", "dimension": "product"}
    response = client_as(Role.OPS).post(url, {**data, "dimension_value": "Platform"})
    assert response.status_code == 400
    assert not MetricTarget.objects.exists()


def test_ops_remove_a_quota(client_as, teams):
    client = client_as(Role.OPS)
    url = reverse(ADD, args=["new_bookings"])
    data = {"starts_on": "2026-01-01", "value": "5", "period": "week", "dimension": "owner"}
    assert client.post(url, {**data, "dimension_value": "bob"}).status_code == 302
    target = MetricTarget.objects.get()
    delete = reverse("scorecard:metric-target-delete", args=["new_bookings", target.id])
    response = client.post(delete, follow=True)
    assert "Target for bob from 1 Jan 2026 removed." in response.text
    assert not MetricTarget.objects.exists()


# --- A file of quotas on the catalog -----------------------------------------------------------


def test_ops_upload_quotas_and_a_second_upload_replaces_them(client_as, teams):
    client = client_as(Role.OPS)
    text = (
        "\ufeffMetric;Period;Dimension;Value;Target;From\r\n"
        "new_bookings;quarter;team;Enterprise;600000;2026-01-01\r\n"
        "new_bookings;;owner;alice;50000;2026-01-01\r\n"
        "mqls;week;region;emea;40;2026-01-05\r\n"
        "mqls;;;;100;2026-01-05\r\n"
    )
    response = client.post(reverse(IMPORT), {"file": upload(text)}, follow=True)
    assert "Targets imported for mqls, new_bookings: 4 new, 0 replaced." in response.text
    assert targets() == [
        ("mqls", "", "", "week", Decimal("100"), date(2026, 1, 5)),
        ("mqls", "region", "EMEA", "week", Decimal("40"), date(2026, 1, 5)),
        ("new_bookings", "owner", "alice", "week", Decimal("50000"), date(2026, 1, 1)),
        ("new_bookings", "team", "Enterprise", "quarter", Decimal("600000"), date(2026, 1, 1)),
    ]
    again = HEADER + "new_bookings,quarter,team,enterprise,650000,2026-01-01\n"
    response = client.post(reverse(IMPORT), {"file": upload(again)}, follow=True)
    assert "1 new" not in response.text
    assert "0 new, 1 replaced" in response.text
    quota = MetricTarget.objects.get(dimension="team")
    assert (quota.dimension_value, quota.value) == ("Enterprise", Decimal("650000"))


def test_a_quotas_file_with_bad_rows_lists_each_by_row_and_column_and_sets_nothing(
    client_as, teams
):
    text = HEADER + (
        "new_bookings,quarter,team,Enterprise,600000,2026-01-01\n"  # row 2: fine on its own
        "no_such_metric,week,team,SMB,1,2026-01-01\n"  # 3
        "mqls,week,product,Platform,1,2026-01-01\n"  # 4: mqls is not sliced by product
        "new_bookings,fortnight,planet,Mars,1,2026-01-01\n"  # 5: period and dimension
        "new_bookings,week,team,SMB,-3,2026-02-30\n"  # 6: target and date
        "new_bookings,week,team,,1,2026-01-01\n"  # 7: no value
        "win_rate,quarter,,,25,2026-01-01\n"  # 8: a rate has no quarterly target
        "new_bookings,quarter,team,enterprise,1,2026-01-01\n"  # 9: row 2 again
        "new_bookings,week,team,Enterprize,1,2026-01-01\n"  # 10: no such team
    )
    client = client_as(Role.OPS)
    response = client.post(reverse(IMPORT), {"file": upload(text)})
    assert response.status_code == 400
    errors = [(e.row, e.column) for e in response.context["upload_errors"]]
    assert errors == [
        (3, "metric"),
        (4, "dimension"),
        (5, "period"),
        (5, "dimension"),
        (6, "target"),
        (6, "starts_on"),
        (7, "value"),
        (8, "period"),
        (9, "starts_on"),
    ]
    assert "There is no metric with the key “no_such_metric”." in response.text
    assert "Nothing was imported" in response.text
    assert not MetricTarget.objects.exists()

    # A team no one defined is found by target_set: still nothing is kept of the other rows.
    text = HEADER + (
        "new_bookings,quarter,team,Enterprise,600000,2026-01-01\n"
        "new_bookings,week,team,Enterprize,1,2026-01-01\n"
    )
    response = client.post(reverse(IMPORT), {"file": upload(text)})
    assert response.status_code == 400
    assert [(e.row, e.column) for e in response.context["upload_errors"]] == [(3, "value")]
    assert "There is no team called “Enterprize”." in response.text
    assert not MetricTarget.objects.exists()


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"),
        (b"metric\x00,target\n", "binary"),
        (b"metric,target\nmqls,5\n", "no column dimension, value, starts_on"),
        (HEADER.encode(), "no targets"),
        (HEADER.encode() + b'mqls,week,,,"5,2026-01-01\n', "quote left open"),
        (HEADER.encode() + b"mqls,week,,,1e999999,2026-01-01\n", "below"),
        (HEADER.encode() + b"mqls,week,,,NaN,2026-01-01\n", "not a number"),
        (HEADER.encode() + b"mqls,week,,,1.23456,2026-01-01\n", "4 decimal places"),
        (HEADER.encode() + b"mqls,week,,,5,99999-01-01\n", "not a date"),
    ],
)
def test_a_file_that_is_not_a_quotas_table_is_a_400_in_a_sentence(client_as, data, said):
    response = client_as(Role.OPS).post(reverse(IMPORT), {"file": upload(data)})
    assert response.status_code == 400
    assert said in response.text
    assert not MetricTarget.objects.exists()


def test_an_upload_without_a_file_is_a_400(client_as):
    response = client_as(Role.OPS).post(reverse(IMPORT), {})
    assert response.status_code == 400
    assert response.context["upload"].errors["file"]


# --- Who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD])
def test_other_roles_read_quotas_and_may_not_set_them(client_as, teams, role):
    MetricTarget.objects.create(
        metric=Metric.objects.get(key="new_bookings"), starts_on=date(2026, 1, 1), value=Decimal(5),
        dimension="team", dimension_value="Enterprise",
    )  # fmt: skip
    client = client_as(role)
    detail = client.get(reverse("scorecard:metric-detail", args=["new_bookings"]))
    assert detail.status_code == 200
    assert "Enterprise" in detail.text
    assert "Set target" not in detail.text
    catalog = client.get(reverse("scorecard:metric-catalog"))
    assert catalog.status_code == 200
    assert "Import targets" not in catalog.text
    data = {"starts_on": "2026-01-01", "value": "5", "dimension": "team", "dimension_value": "SMB"}
    assert client.post(reverse(ADD, args=["new_bookings"]), data).status_code == 403
    file = {"file": upload(HEADER + "new_bookings,week,team,SMB,5,2026-01-01\n")}
    assert client.post(reverse(IMPORT), file).status_code == 403
    assert MetricTarget.objects.count() == 1


def test_the_catalog_offers_ops_the_quotas_upload_which_takes_only_a_post(client_as):
    client = client_as(Role.OPS)
    page = client.get(reverse("scorecard:metric-catalog"))
    assert page.status_code == 200
    assert reverse(IMPORT) in page.text
    assert client.get(reverse(IMPORT)).status_code == 405
