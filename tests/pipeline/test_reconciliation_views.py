"""Reconciliation pages: who may see and do what, filters, CSV, bridge and schedule pages."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.staticfiles import finders
from django.template.defaultfilters import floatformat  # as the page rounds
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from pipeline.choices import SystemRole
from pipeline.models import Discrepancy, ReconciliationRun
from pipeline.models.reconciliation import RUN_PHASES
from pipeline.services import reconciliation
from pipeline.services.identity import golden_resolve
from revops.permissions import Role
from revops.weeks import IsoWeek
from tests.factories import SourceLeadFactory, SourceSystemFactory

pytestmark = pytest.mark.django_db

W = IsoWeek.of(timezone.localdate()).monday - timedelta(weeks=2)
MQL = datetime(W.year, W.month, W.day, 10, tzinfo=UTC) + timedelta(days=1)
READERS = [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD, Role.OPS]


@pytest.fixture
def reconciled():
    """HubSpot has 3 MQLs in week W, Salesforce 2: one lead never reached the CRM. A week
    earlier, one lead's owner in HubSpot is "=HYPERLINK(…)", which a spreadsheet would run."""
    mkt = SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    for email in ("a@acme.com", "b@acme.com"):
        for system in (mkt, crm):
            SourceLeadFactory(
                system=system,
                email=email,
                email_key=email,
                created_at=MQL,
                mql_at=MQL,
                owner="Ann",
            )
    SourceLeadFactory(
        system=mkt, email="c@acme.com", email_key="c@acme.com", created_at=MQL, mql_at=MQL
    )
    earlier = MQL - timedelta(weeks=1)
    for system, owner in ((mkt, '=HYPERLINK("http://evil.example","x")'), (crm, "Ann")):
        SourceLeadFactory(
            system=system, email="d@acme.com", email_key="d@acme.com", created_at=earlier,
            owner=owner,
        )  # fmt: skip
    golden_resolve()
    run = reconciliation.reconciliation_run_now(trigger="command", weeks=8)
    assert run.status == "completed"
    return run


PAGES = [
    ("pipeline:reconciliation-run-list", {}),
    ("pipeline:reconciliation-discrepancy-list", {}),
    ("pipeline:reconciliation-discrepancy-export", {}),
]


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_runs_bridges_and_discrepancies(client_as, reconciled, role):
    client = client_as(role)
    for name, _ in PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    detail = client.get(reverse("pipeline:reconciliation-run-detail", args=[reconciled.pk]))
    assert detail.status_code == 200
    discrepancy = Discrepancy.objects.first()
    assert (
        client.get(
            reverse("pipeline:reconciliation-discrepancy-detail", args=[discrepancy.pk])
        ).status_code
        == 200
    )
    # Only ops see the controls.
    assert (
        "Start a run" in detail.text or "Start a run" in client.get(reverse(PAGES[0][0])).text
    ) is (role == Role.OPS)


def test_a_run_page_says_how_long_each_phase_took(client_as, reconciled):
    phases = reconciled.phases
    # Every phase, timed, from the comparison to the statistics after the commit.
    assert set(phases) == set(RUN_PHASES)
    assert all(seconds >= 0 for seconds in phases.values())
    text = (
        client_as(Role.EXECUTIVE)
        .get(reverse("pipeline:reconciliation-run-detail", args=[reconciled.pk]))
        .text
    )
    assert f"Comparison {floatformat(phases['compare'], 2)} s" in text
    assert f"Statistics {floatformat(phases['analyze'], 2)} s" in text
    # In the order they ran, whatever order the database keeps the keys in.
    assert text.index("Comparison ") < text.index("Weekly totals ") < text.index("Statistics ")


def test_a_user_without_a_role_sees_nothing_of_it(client_as, reconciled):
    client = client_as(None)
    for name, _ in PAGES:
        assert client.get(reverse(name)).status_code == 403
    assert (
        client.get(reverse("pipeline:reconciliation-run-detail", args=[reconciled.pk])).status_code
        == 403
    )


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD])
def test_only_ops_start_runs_and_change_the_schedule(client_as, reconciled, role):
    client = client_as(role)
    response = client.post(reverse("pipeline:reconciliation-run-start"), {"weeks": 8})
    assert response.status_code == 403
    assert client.get(reverse("pipeline:reconciliation-schedule")).status_code == 403
    assert client.post(reverse("pipeline:reconciliation-schedule"), {}).status_code == 403
    assert ReconciliationRun.objects.count() == 1


def test_ops_start_a_run_from_the_browser(
    client_as, reconciled, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("pipeline:reconciliation-run-start"), {"weeks": 8})
    assert len(callbacks) == 1
    run = ReconciliationRun.objects.latest("id")
    assert response.url == reverse("pipeline:reconciliation-run-detail", args=[run.pk])
    # Without Redis the task runs in-process as it is enqueued.
    assert (run.status, run.trigger, run.started_by.groups.get().name) == (
        "completed",
        "browser",
        "ops",
    )


def test_starting_a_run_with_bad_weeks_says_why_and_starts_nothing(client_as, reconciled):
    client = client_as(Role.OPS)
    response = client.post(
        reverse("pipeline:reconciliation-run-start"), {"weeks": "lots"}, follow=True
    )
    assert response.status_code == 200
    assert "Enter a whole number" in response.text
    assert ReconciliationRun.objects.count() == 1


def test_the_bridge_link_opens_the_current_runs_waterfall(client_as, reconciled):
    client = client_as(Role.EXECUTIVE)
    week = IsoWeek.of(W).label
    response = client.get(
        reverse("pipeline:reconciliation-bridge"), {"metric": "mqls", "week": week}
    )
    detail = reverse("pipeline:reconciliation-run-detail", args=[reconciled.pk])
    assert response.url == f"{detail}?metric=mqls&week={week}#bridge"
    page = client.get(response.url)
    figure = page.context["figure"]
    # 3 MQLs in HubSpot, -1 never reached Salesforce, unexplained 0 = 2 in Salesforce.
    assert figure["data"][0]["y"] == [3.0, -1.0, 0.0, 0.0]
    assert figure["data"][0]["x"] == [
        "HubSpot",
        "Never reached Salesforce",
        "Unexplained",
        "Salesforce",
    ]
    assert (
        '3</strong> MQLs in HubSpot, <span class="step-value">−1</span> never reached Salesforce'
        in page.text
    )
    assert 'src="/static/vendor/plotly.min.js"' in page.text


def test_bad_bridge_parameters_show_a_message_not_an_error(client_as, reconciled):
    client = client_as(Role.EXECUTIVE)
    url = reverse("pipeline:reconciliation-run-detail", args=[reconciled.pk])
    for params, message in [
        ({"metric": "nope"}, "There is no reconciled metric"),
        ({"week": "2026-W99"}, "is not a week"),
        ({"week": "1999-W01"}, "has no bridge for 1999-W01"),
    ]:
        response = client.get(url, params)
        assert response.status_code == 200
        assert message in response.text


def test_the_bridge_without_any_completed_run_explains_itself(client_as):
    client = client_as(Role.EXECUTIVE)
    response = client.get(
        reverse("pipeline:reconciliation-bridge"), {"metric": "mqls"}, follow=True
    )
    assert response.status_code == 200
    assert "No reconciliation has completed yet" in response.text


def test_plotly_is_served_from_the_installed_package():
    found = finders.find("vendor/plotly.min.js")
    assert found is not None
    assert found.endswith("plotly/package_data/plotly.min.js")


def test_discrepancy_list_filters_and_defaults_to_open(client_as, reconciled):
    client = client_as(Role.MARKETING_LEAD)
    default = client.get(reverse("pipeline:reconciliation-discrepancy-list"))
    # Latest week first.
    assert [d.golden_key for d in default.context["page"]] == ["c@acme.com", "d@acme.com"]
    assert default.context["filter"].form["status"].value() == "open"
    none = client.get(reverse("pipeline:reconciliation-discrepancy-list"), {"kind": "duplicate"})
    assert list(none.context["page"]) == []
    by_week = client.get(
        reverse("pipeline:reconciliation-discrepancy-list"),
        {"week": IsoWeek.of(W).label},
    )
    assert [d.golden_key for d in by_week.context["page"]] == ["c@acme.com"]
    bad = client.get(reverse("pipeline:reconciliation-discrepancy-list"), {"week": "soon"})
    assert bad.status_code == 200
    assert "is not a week" in bad.text


def test_discrepancy_list_query_count_does_not_grow_with_rows(
    client_as, reconciled, django_assert_max_num_queries
):
    client = client_as(Role.EXECUTIVE)
    with django_assert_max_num_queries(12):
        client.get(reverse("pipeline:reconciliation-discrepancy-list"), {"status": ""})


def test_csv_export_follows_the_filters_and_defuses_formulas(client_as, reconciled):
    client = client_as(Role.SALES_LEAD)
    response = client.get(
        reverse("pipeline:reconciliation-discrepancy-export"), {"kind": "missing_in_sales"}
    )
    assert response["Content-Disposition"] == 'attachment; filename="discrepancies.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["kind"], r["golden_key"], r["fix_in"], r["status"]) for r in rows] == [
        ("missing_in_sales", "c@acme.com", "Salesforce", "open")
    ]
    assert rows[0]["week"] == IsoWeek.of(W).label
    formula = client.get(reverse("pipeline:reconciliation-discrepancy-export"), {"field": "owner"})
    rows = list(csv.DictReader(io.StringIO(b"".join(formula.streaming_content).decode())))
    # A spreadsheet shows HubSpot's owner as text instead of running it.
    assert [(r["left_value"], r["right_value"]) for r in rows] == [
        ('\'=HYPERLINK("http://evil.example","x")', "Ann")
    ]
    empty = client.get(reverse("pipeline:reconciliation-discrepancy-export"), {"kind": "duplicate"})
    assert b"".join(empty.streaming_content).decode().count("\n") == 1  # the header only
    bad = client.get(reverse("pipeline:reconciliation-discrepancy-export"), {"week": "x"})
    assert bad.status_code == 400


def test_csv_cells_that_look_like_formulas_are_escaped():
    from revops.csv import csv_cell

    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell(-5) == -5
    assert csv_cell("Ann") == "Ann"


def test_run_bridges_export_has_every_step_and_the_unexplained_rest(client_as, reconciled):
    client = client_as(Role.EXECUTIVE)
    response = client.get(reverse("pipeline:reconciliation-run-export", args=[reconciled.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    mqls = [r for r in rows if r["metric"] == "mqls" and r["week"] == IsoWeek.of(W).label]
    assert [(r["reason"], r["step_value"]) for r in mqls] == [
        ("missing_in_sales", "-1.00"),
        ("unexplained", "0.00"),
    ]


def test_discrepancy_detail_shows_both_records_and_marks_the_difference(client_as, reconciled):
    client = client_as(Role.EXECUTIVE)
    a = SourceLeadFactory._meta.model.objects.filter(email_key="a@acme.com")
    a.filter(system__slug="salesforce").update(owner="Bo")
    reconciliation.reconciliation_run_now(trigger="command", weeks=8)
    mismatch = Discrepancy.objects.get(field="owner", golden_key="a@acme.com")
    page = client.get(reverse("pipeline:reconciliation-discrepancy-detail", args=[mismatch.pk]))
    rows = {row.name: row for row in page.context["records"].rows}
    assert (rows["owner"].left, rows["owner"].right, rows["owner"].differs) == ("Ann", "Bo", True)
    assert rows["mql_at"].differs is False
    assert 'class="diff diff-focus" data-field="owner"' in page.text


def test_the_nightly_schedule_exists_at_two_and_ops_change_it_in_the_browser(client_as):
    task = PeriodicTask.objects.get(name=reconciliation.SCHEDULE_NAME)
    assert (task.task, task.crontab.hour, task.crontab.minute, task.enabled) == (
        "pipeline.reconciliation_nightly",
        "2",
        "0",
        True,
    )
    client = client_as(Role.OPS)
    page = client.get(reverse("pipeline:reconciliation-schedule"))
    assert page.context["form"].initial["at"].strftime("%H:%M") == "02:00"
    before = PeriodicTasks.last_change()

    response = client.post(
        reverse("pipeline:reconciliation-schedule"),
        {"enabled": "on", "at": "05:30", "days": ["1", "2", "3", "4", "5"], "weeks": "13"},
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == (
        "5",
        "30",
        "1,2,3,4,5",
    )
    assert json.loads(task.kwargs) == {"weeks": 13}
    assert task.description.startswith("Last changed by ops on")
    assert PeriodicTasks.last_change() != before  # beat reloads its schedule
    listing = client.get(reverse("pipeline:reconciliation-run-list"))
    assert "5 days a week at 05:30" in listing.text


def test_bad_schedule_input_is_refused_with_messages_and_changes_nothing(client_as):
    client = client_as(Role.OPS)
    task = PeriodicTask.objects.get(name=reconciliation.SCHEDULE_NAME)
    response = client.post(
        reverse("pipeline:reconciliation-schedule"),
        {"at": "25:99", "weeks": "0"},
    )
    assert response.status_code == 200
    assert "Enter a valid time" in response.text
    assert "Choose at least one day of the week" in response.text
    assert "greater than or equal to 1" in response.text
    task.refresh_from_db()
    assert (task.crontab.hour, task.crontab.minute) == ("2", "0")


def test_a_paused_schedule_shows_as_paused(client_as):
    client = client_as(Role.OPS)
    client.post(
        reverse("pipeline:reconciliation-schedule"),
        {"at": "02:00", "days": [str(d) for d in range(1, 8)], "weeks": "104"},
    )
    assert not PeriodicTask.objects.get(name=reconciliation.SCHEDULE_NAME).enabled
    assert "Paused" in client.get(reverse("pipeline:reconciliation-run-list")).text


def test_ops_inspect_runs_and_discrepancies_read_only_in_the_admin(client_as, reconciled):
    client = client_as(Role.OPS)
    assert client.get(reverse("admin:pipeline_discrepancy_changelist")).status_code == 200
    assert client.get(reverse("admin:pipeline_reconciliationrun_changelist")).status_code == 200
    assert client.get(reverse("admin:pipeline_discrepancy_add")).status_code == 403


def test_discrepancy_detail_reads_stage_labels_not_codes(client_as, reconciled):
    a = SourceLeadFactory._meta.model.objects.filter(email_key="a@acme.com")
    a.filter(system__slug="salesforce").update(stage="sql")
    a.filter(system__slug="hubspot").update(stage="mql")
    reconciliation.reconciliation_run_now(trigger="command", weeks=8)
    mismatch = Discrepancy.objects.get(field="stage", golden_key="a@acme.com")
    page = client_as(Role.EXECUTIVE).get(
        reverse("pipeline:reconciliation-discrepancy-detail", args=[mismatch.pk])
    )
    stage = {row.name: row for row in page.context["records"].rows}["stage"]
    assert {stage.left, stage.right} == {"SQL", "MQL"}
    assert stage.differs is True


def test_discrepancy_list_writes_weeks_zero_padded(client_as, reconciled):
    Discrepancy.objects.filter(golden_key="c@acme.com").update(
        week_start=IsoWeek(2027, 4).monday, other_week_start=IsoWeek(2027, 9).monday
    )
    page = client_as(Role.OPS).get(
        reverse("pipeline:reconciliation-discrepancy-list"), {"status": ""}
    )
    assert "2027-W04 / 2027-W09" in page.text
    assert "2027-W4<" not in page.text
    assert "2027-W4 " not in page.text
