"""The scorecard's pages: who may see and do what, and what each page shows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.choices import MetricKind
from scorecard.models import Metric, MetricTarget, SeriesValue, WeeklySnapshot
from scorecard.services.catalog import metric_create, target_set
from scorecard.services.snapshots import scorecard_backfill, snapshot_publish
from tests.factories import LeadFactory
from tests.scorecard.conftest import W10, d, utc

pytestmark = pytest.mark.django_db

READERS = [Role.EXECUTIVE, Role.OPS, Role.SALES_LEAD, Role.MARKETING_LEAD]
NOT_OPS = [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD]


def read_pages() -> list[str]:
    return [
        reverse("scorecard:week", args=[W10]),
        reverse("scorecard:week-print", args=[W10]),
        reverse("scorecard:metric-week", args=[W10, "mqls"]),
        reverse("scorecard:metric-records", args=[W10, "mqls"]),
        reverse("scorecard:metric-catalog"),
        reverse("scorecard:metric-detail", args=["mqls"]),
    ]


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_the_scorecard_its_metrics_and_their_records(client_as, role):
    client = client_as(role)
    for url in read_pages():
        assert client.get(url).status_code == 200, url
    latest = client.get(reverse("scorecard:latest"))
    assert latest.url == reverse("scorecard:week", args=[IsoWeek.last_completed()])


def test_a_user_without_a_role_sees_none_of_it(client_as):
    client = client_as(None)
    for url in read_pages():
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("role", NOT_OPS)
def test_only_ops_publish_and_edit_metrics(client_as, role):
    client = client_as(role)
    assert client.post(reverse("scorecard:week-publish", args=[W10])).status_code == 403
    assert client.get(reverse("scorecard:metric-new")).status_code == 403
    assert client.get(reverse("scorecard:metric-edit", args=["mqls"])).status_code == 403
    target = reverse("scorecard:metric-target-add", args=["mqls"])
    assert client.post(target, {"starts_on": "2026-01-01", "value": "1"}).status_code == 403
    assert not WeeklySnapshot.objects.exists()
    assert not MetricTarget.objects.exists()
    page = client.get(reverse("scorecard:week", args=[W10]))
    assert "Publish" not in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/scorecard/2026-W54/",  # 2026 has 53 weeks
        "/scorecard/2026-W00/",
        "/scorecard/2030-W01/",  # not started yet
        "/scorecard/2026-W10/not_a_metric/",
        "/scorecard/2026-W10/not_a_metric/records/",
        "/scorecard/metrics/not_a_metric/",
        "/scorecard/26-W10/",
        "/scorecard/0001-W01/",  # a trend from there would run off the calendar
    ],
)
def test_a_week_or_metric_that_does_not_exist_is_a_404_not_an_error(client_as, path):
    assert client_as(Role.EXECUTIVE).get(path).status_code == 404


def test_the_scorecard_shows_sections_values_targets_changes_and_links(client_as):
    LeadFactory(created_at=utc(2026, 2, 25))  # W09: 1 lead
    for day in (2, 3, 4):
        LeadFactory(created_at=utc(2026, 3, day))  # W10: 3 leads
    target_set(metric=Metric.objects.get(key="leads_created"), by=None, starts_on=d("2026-01-01"),
               value=Decimal(4))  # fmt: skip
    snapshot_publish(week=W10, by=None)
    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:week", args=[W10]))
    card = page.context["card"]
    assert [row.metric.key for row in card.top_line] == [
        "arr", "new_bookings", "pipeline_coverage", "nrr",
    ]  # fmt: skip
    assert [s.label for s in card.sections] == ["Marketing", "Sales", "Customer success"]
    row = next(r for r in card.rows if r.metric.key == "leads_created")
    # 3 leads against 4: 75% of target is below the 90% red line. Up 2 from W09's 1.
    assert (row.value_display, row.target_display, row.rag) == ("3", "4", "red")
    assert (row.change_display, row.change_good) == ("+2", True)
    assert len(row.trend) == 13
    assert row.trend[-2].value == 1
    records = reverse("scorecard:metric-records", args=[W10, "leads_created"])
    assert f'href="{records}"' in page.text
    assert f'href="{reverse("scorecard:metric-week", args=[W10, "leads_created"])}"' in page.text
    # Its sparkline is drawn in the page, no script needed: this week's 3 is the last point.
    assert f"<title>{W10}: 3 (target 4)</title>" in page.text
    assert "plotly" not in page.text
    assert "Published" in page.text


def test_the_scorecard_page_reads_published_weeks_in_a_fixed_handful_of_queries(
    client_as, django_assert_max_num_queries
):
    scorecard_backfill(weeks=14)
    client = client_as(Role.EXECUTIVE)
    url = reverse("scorecard:week", args=[IsoWeek.last_completed()])
    client.get(url)
    # Session, user, roles, metrics, 13 weeks of values, the snapshot, the trust marks (one
    # asks whether any amount lacks an exchange rate, one whether a system to compare is
    # missing): never per metric.
    with django_assert_max_num_queries(10):
        assert client.get(url).status_code == 200


def test_a_week_nobody_published_is_shown_live_and_ops_can_publish_it(client_as):
    LeadFactory(created_at=utc(2026, 3, 3))
    client = client_as(Role.OPS)
    page = client.get(reverse("scorecard:week", args=[W10]))
    assert "Live · not yet published" in page.text
    assert all(row.cell.live for row in page.context["card"].rows)
    response = client.post(reverse("scorecard:week-publish", args=[W10]), follow=True)
    assert "Published 2026-W10 (revision 1)" in response.text
    assert "Republish" in response.text
    refused = client.post(reverse("scorecard:week-publish", args=[W10]), follow=True)
    assert "already published" in refused.text
    again = client.post(
        reverse("scorecard:week-publish", args=[W10]),
        {"republish": "1", "reason": "Late Salesforce sync"},
        follow=True,
    )
    assert "Republished 2026-W10 (revision 2)" in again.text
    assert "Late Salesforce sync" in again.text  # the revision history


def test_the_week_in_progress_is_live_and_has_no_publish_button(client_as):
    page = client_as(Role.OPS).get(reverse("scorecard:week", args=[IsoWeek.current()]))
    assert "Live · week in progress" in page.text
    assert "Publish" not in page.text
    assert page.context["next_week"] is None


def test_a_metric_added_after_a_week_was_published_shows_live_there(client_as):
    snapshot_publish(week=W10, by=None)
    metric_create(
        by=None, key="webinars", name="Webinars held", team="marketing", unit="count",
        up_is_good=True, kind=MetricKind.SERIES, definition="Webinars held in the week.",
    )  # fmt: skip
    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:week", args=[W10]))
    row = next(r for r in page.context["card"].rows if r.metric.key == "webinars")
    assert row.cell.live
    assert row.cell.value is None
    assert "Live: not in the published snapshot" in page.text


def test_the_metric_page_shows_its_trend_definition_and_version(client_as):
    for week in range(1, 11):
        LeadFactory(created_at=IsoWeek(2026, week).start)
    page = client_as(Role.SALES_LEAD).get(
        reverse("scorecard:metric-week", args=[W10, "leads_created"]), {"weeks": "26"}
    )
    assert page.context["weeks"] == 26
    figure = page.context["charts"]["trend"]
    assert len(figure["data"][-1]["x"]) == 26
    assert figure["data"][-1]["y"][-10:] == [1.0] * 10
    assert "Leads whose created date falls in the week" in page.text
    bad = page.client.get(page.request["PATH_INFO"], {"weeks": "9999"})
    assert bad.context["weeks"] == 13  # an odd length falls back rather than failing


def test_the_print_version_lists_every_metric_without_the_navigation(client_as):
    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:week-print", args=[W10]))
    assert 'class="topbar"' not in page.text
    for name in ("ARR", "MQLs", "Win rate", "Gross revenue retention"):
        assert f"<strong>{name}</strong>" in page.text


def test_ops_add_a_formula_metric_in_the_browser(client_as):
    client = client_as(Role.OPS)
    mqls, leads = Metric.objects.get(key="mqls"), Metric.objects.get(key="leads_created")
    response = client.post(
        reverse("scorecard:metric-new"),
        {
            "kind": "formula", "key": "lead_to_mql", "name": "Lead → MQL", "team": "marketing",
            "unit": "percent", "up_is_good": "1", "definition": "MQLs ÷ leads created × 100.",
            "left": mqls.id, "operator": "ratio", "right": leads.id, "factor": "100",
            "green_pct": "100", "red_pct": "",
        },
    )  # fmt: skip
    assert response.status_code == 302
    metric = Metric.objects.get(key="lead_to_mql")
    assert (metric.red_pct, metric.definitions.get().formula_display()) == (
        Decimal(90),
        "MQLs ÷ Leads created × 100",
    )


def test_the_new_metric_form_shows_errors_instead_of_failing(client_as):
    response = client_as(Role.OPS).post(
        reverse("scorecard:metric-new"),
        {"kind": "formula", "key": "mqls", "name": "x", "team": "marketing", "unit": "count",
         "up_is_good": "1", "definition": "x", "green_pct": "100"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "A formula needs metric A, an operator and metric B." in response.text
    assert 'name="key" value="mqls"' in response.text  # what was typed is kept


def test_ops_edit_a_metric_and_a_formula_change_reports_the_new_version(client_as):
    client = client_as(Role.OPS)
    win_rate = Metric.objects.get(key="win_rate")
    form = {
        "name": "Win rate (new business)", "team": "sales", "definition": "Won ÷ closed.",
        "window_weeks": "26", "green_pct": "100", "red_pct": "90", "position": "5",
        "is_active": "on", "note": "Quarterly view", "pacing": "business_days",
    }  # fmt: skip
    response = client.post(reverse("scorecard:metric-edit", args=["win_rate"]), form, follow=True)
    assert "definition version 2" in response.text
    win_rate.refresh_from_db()
    assert win_rate.name == "Win rate (new business)"
    bad = client.post(
        reverse("scorecard:metric-edit", args=["win_rate"]), {**form, "red_pct": "120"}
    )
    assert "must not be above green" in bad.text
    huge = client.post(
        reverse("scorecard:metric-edit", args=["win_rate"]), {**form, "green_pct": "123456789"}
    )
    assert huge.status_code == 200
    assert "Ensure that there are no more than 7 digits in total." in huge.text


def test_ops_set_targets_and_see_a_refusal_explained(client_as):
    client = client_as(Role.OPS)
    url = reverse("scorecard:metric-target-add", args=["new_bookings"])
    ok = client.post(url, {"starts_on": "2026-01-01", "value": "3600000", "period": "quarter"},
                     follow=True)  # fmt: skip
    assert "Target $3,600,000 per quarter from 1 Jan 2026 saved." in ok.text
    bad = client.post(url, {"starts_on": "2026-13-01", "value": "-5"}, follow=True)
    assert "The target was not saved." in bad.text
    # Shown again with what was typed, for the one mistake to be corrected.
    assert bad.status_code == 400
    assert 'value="2026-13-01"' in bad.text
    assert 'value="-5"' in bad.text
    assert MetricTarget.objects.count() == 1
    target = MetricTarget.objects.get()
    client.post(reverse("scorecard:metric-target-delete", args=["new_bookings", target.id]))
    assert not MetricTarget.objects.exists()


def test_ops_import_a_series_and_a_bad_file_is_refused_whole(client_as):
    metric = metric_create(
        by=None, key="webinars", name="Webinars held", team="marketing", unit="count",
        up_is_good=True, kind=MetricKind.SERIES, definition="Webinars held in the week.",
    )  # fmt: skip
    client = client_as(Role.OPS)
    url = reverse("scorecard:metric-series-import", args=["webinars"])
    good = SimpleUploadedFile("w.csv", b"week,value\n2026-W10,4\n2026-W11,6\n", "text/csv")
    done = client.post(url, {"file": good}, follow=True)
    assert "Imported 2 weeks from w.csv: 2 new, 0 replaced." in done.text
    bad = SimpleUploadedFile("w.csv", b"week,value\n2026-W12,4\n2026-W99,6\n", "text/csv")
    refused = client.post(url, {"file": bad})
    assert refused.status_code == 400
    assert "line 3, week: &#x27;2026-W99&#x27;: 2026 has no week 99" in refused.text
    assert SeriesValue.objects.filter(metric=metric).count() == 2
