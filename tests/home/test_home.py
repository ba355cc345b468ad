"""Each role's home: the executive's week, a team lead's metrics, disputes and actions, and
ops' work queue, read from the demo (seeded small, reconciled, published, with disputes in
every state and mechanisms overdue for inspection)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from disputes.models import Dispute, DisputeComment
from home import selectors
from pipeline.choices import BatchStatus, RunStatus
from pipeline.models import ImportBatch, ReconciliationRun
from revops.weeks import IsoWeek
from scorecard import selectors as scorecard_selectors
from scorecard.models import Metric, PendingRestatement, SnapshotValue
from tests.demo_data import seed_small_demo
from tests.factories import SourceSystemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    seed_small_demo()


def signed_in(client, username: str):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_an_executive_lands_on_the_published_top_line_with_one_arr_figure(client, demo):
    page = signed_in(client, "exec").get(reverse("home"))
    body = page.text
    week = IsoWeek.last_completed()
    assert page.context["card"].week == week
    assert page.context["card"].snapshot is not None
    assert [row.metric.key for row in page.context["card"].top_line] == [
        "arr", "new_bookings", "pipeline_coverage", "nrr",
    ]  # fmt: skip
    assert 'data-testid="executive-week"' in body
    assert body.count('class="spark"') == 4  # the top line's sparklines, drawn as SVG
    # The published ARR and nothing live beside it: the page says one number for ARR.
    assert "ARR today" not in body
    assert 'data-testid="work-queue"' not in body
    assert 'data-testid="team-metrics"' not in body


def test_turned_red_lists_metrics_red_this_week_that_were_not_red_the_week_before(demo):
    week = IsoWeek.last_completed()
    values = SnapshotValue.objects.filter(week_start__in=[week.monday, week.shift(-1).monday])
    mqls = values.filter(metric__key="mqls")
    mqls.filter(week_start=week.monday).update(rag="red")
    mqls.filter(week_start=week.shift(-1).monday).update(rag="green")
    win = values.filter(metric__key="win_rate")
    win.update(rag="red")  # red both weeks: not news
    found = {m.metric_key: m for m in scorecard_selectors.turned_red(week)}
    assert "mqls" in found
    assert found["mqls"].was == "On target"
    assert "win_rate" not in found


def test_a_sales_lead_lands_on_the_sales_metrics_their_disputes_and_their_actions(client, demo):
    page = signed_in(client, "sales").get(reverse("home"))
    sections = page.context["team_sections"]
    assert [s.team for s in sections] == ["sales"]
    assert {r.metric.team for r in sections[0].rows} == {"sales"}
    mine = page.context["my_disputes"]
    assert mine
    assert {d.filed_by.username for d in mine} == {"sales"}
    assert 'data-testid="executive-week"' not in page.text
    assert 'data-testid="work-queue"' not in page.text
    # What changed last on a dispute: a comment after the last step says who commented.
    dispute = mine[-1]
    ops = get_user_model().objects.get(username="ops")
    DisputeComment.objects.create(dispute=dispute, author=ops, body="Looking at it now.")
    again = signed_in(client, "sales").get(reverse("home"))
    first = again.context["my_disputes"][0]
    assert first.pk == dispute.pk  # the most recently changed comes first
    assert first.what_changed == "ops commented"
    assert "ops commented" in again.text


def test_a_marketing_lead_sees_the_marketing_section_only(client, demo):
    page = signed_in(client, "marketing").get(reverse("home"))
    assert [s.team for s in page.context["team_sections"]] == ["marketing"]
    assert 'data-metric="mqls"' in page.text
    assert 'data-metric="win_rate"' not in page.text


def test_ops_land_on_their_work_queue(client, demo):
    system = SourceSystemFactory()
    pending = ImportBatch.objects.create(
        system=system, object_type="lead", file_name="leads-week.csv", status=BatchStatus.PENDING
    )
    failed = ReconciliationRun.objects.create(status=RunStatus.FAILED, trigger="command")
    week = IsoWeek.last_completed()
    PendingRestatement.objects.create(
        week_start=week.monday, metrics=["mqls"], checked_at=timezone.now()
    )
    overdue = Dispute.objects.filter(status__in=["open", "in_review"]).first()
    overdue.due_at = timezone.now() - timedelta(days=1)
    overdue.save(update_fields=["due_at"])

    page = signed_in(client, "ops").get(reverse("home"))
    queue = page.context["queue"]
    assert queue.imports_to_confirm == [pending]
    assert queue.runs_failed == [failed]
    assert overdue in queue.disputes_overdue
    assert queue.disputes_to_triage  # the demo's open dispute nobody has taken
    assert queue.inspections_due  # the demo's mechanisms overdue for inspection
    assert [p.week_start for p in queue.restatements] == [week.monday]
    body = page.text
    assert reverse("pipeline:import-detail", args=[pending.pk]) in body
    assert reverse("pipeline:reconciliation-run-detail", args=[failed.pk]) in body
    assert reverse("disputes:dispute-detail", args=[overdue.pk]) in body
    assert f'<span class="count">{queue.total}</span>' in body
    assert "ARR today (live)" in body  # ops read the records live, and the label says so
    assert 'data-testid="executive-week"' not in body


def test_a_failed_run_leaves_the_queue_once_a_later_one_completed(demo):
    ReconciliationRun.objects.create(status=RunStatus.FAILED, trigger="command")
    assert len(selectors.work_queue().runs_failed) == 1
    ReconciliationRun.objects.create(status=RunStatus.COMPLETED, trigger="command")
    assert selectors.work_queue().runs_failed == []


def test_an_empty_queue_says_nothing_is_waiting(client, make_user):
    from revops.permissions import Role

    client.force_login(make_user(Role.OPS))
    SourceSystemFactory()  # past the first-run redirect to the systems page
    page = client.get(reverse("home"))
    assert page.context["queue"].total == 0
    assert "Nothing is waiting for you" in page.text


@pytest.mark.parametrize("username", ["exec", "sales", "marketing", "ops"])
def test_each_home_reads_in_a_fixed_handful_of_queries_however_much_there_is(
    client, demo, username
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from follows.services import follow_set
    from mechanisms.models import Action, Mechanism

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("home")).status_code == 200
        return len(captured.captured_queries)

    person = get_user_model().objects.get(username=username)
    mechanism = Mechanism.objects.first()
    disputes = list(Dispute.objects.all())
    metrics = list(Metric.objects.filter(key__in=["mqls", "win_rate", "arr", "nrr"]))

    def more(count: int) -> None:
        """`count` more of everything the page lists: actions, imports to confirm, disputes
        filed and followed, metrics followed."""
        for number in range(count):
            Action.objects.create(
                mechanism=mechanism, title=f"Action {number}", assignee=person,
                due_on=timezone.localdate(),
            )  # fmt: skip
            ImportBatch.objects.create(
                system=SourceSystemFactory(), object_type="lead", file_name=f"f{number}.csv",
                status=BatchStatus.PENDING,
            )  # fmt: skip
            dispute = disputes[number % len(disputes)]
            dispute.pk = None
            dispute.filed_by = person
            dispute.save()
            follow_set(user=person, dispute=dispute, following=True)
            follow_set(user=person, metric=metrics.pop(), following=True)

    signed_in(client, username)
    more(1)
    queries()  # the per-process caches filled once
    before = queries()
    more(3)
    assert queries() == before
    assert before <= 40
