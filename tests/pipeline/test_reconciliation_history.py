"""History as long as the data: reconciliation and the backfill reach back to a date or to the
oldest record, and a reconciliation with one system only says so in a sentence."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command

from pipeline.choices import SystemRole
from pipeline.models import ReconciledMetricWeek, ReconciliationRun
from pipeline.services.identity import golden_resolve
from revops.weeks import IsoWeek
from scorecard.models import WeeklySnapshot
from scorecard.trust import trust_marks_for_week
from tests.factories import SourceLeadFactory, SourceSystemFactory

pytestmark = pytest.mark.django_db

OLD = datetime(2017, 3, 7, 10, tzinfo=UTC)  # a Tuesday of 2017-W10


@pytest.fixture
def crm():
    return SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)


@pytest.fixture
def mkt():
    return SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


def test_with_only_a_sales_system_the_run_says_which_system_is_missing(crm):
    SourceLeadFactory(system=crm, email="a@acme.com", created_at=OLD)
    with pytest.raises(CommandError) as refused:
        _run()
    assert "There is no marketing system yet" in str(refused.value)
    assert "Traceback" not in str(refused.value)
    assert not ReconciliationRun.objects.exists()  # nothing half-started


def test_with_only_a_sales_system_the_scorecard_says_not_reconciled_no_marketing_system(crm):
    week = IsoWeek.last_completed()
    mark = trust_marks_for_week(week, ["mqls", "new_bookings", "arr"])
    assert set(mark) == {"mqls", "new_bookings"}  # arr is not a reconciled metric
    assert mark["mqls"].label == "Not reconciled"
    assert mark["mqls"].detail == "There is no marketing system yet"


def test_since_reaches_back_to_2017(mkt, crm):
    for system in (mkt, crm):
        SourceLeadFactory(system=system, email="old@acme.com", created_at=OLD)
    out = _run("--since", "2017-01-01")
    run = ReconciliationRun.objects.get()
    assert run.status == "completed"
    assert (
        run.weeks == (IsoWeek.current().monday - IsoWeek.of(date(2017, 1, 1)).monday).days // 7 + 1
    )
    assert run.weeks > 260  # longer than the old limit
    old_week = ReconciledMetricWeek.objects.get(
        run=run, metric_key="leads_created", week_start=IsoWeek.of(OLD.date()).monday
    )
    assert (old_week.marketing_value, old_week.sales_value) == (1, 1)
    assert f"bridges for {run.weeks} weeks" in out


def test_all_reaches_back_to_the_oldest_record_of_the_two_systems(mkt, crm):
    SourceLeadFactory(system=mkt, email="old@acme.com", created_at=OLD)
    SourceLeadFactory(system=crm, email="new@acme.com", created_at=datetime(2025, 1, 7, tzinfo=UTC))
    _run("--all")
    run = ReconciliationRun.objects.get()
    first = IsoWeek.current().shift(-(run.weeks - 1))
    assert first == IsoWeek.of(OLD.date())


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "2017-13-01"], "is not a date like 2017-01-01"),
        (["--since", "1900-01-01"], "a run reaches back at most 2600"),
        (["--since", "2999-01-01"], "is in the future"),
    ],
)
def test_a_bad_since_is_a_sentence(mkt, crm, args, says):
    with pytest.raises(CommandError, match=says):
        _run(*args)


def test_the_backfill_reaches_back_to_the_oldest_record_in_passes(mkt):
    SourceLeadFactory(system=mkt, email="old@acme.com", created_at=OLD)
    golden_resolve()
    out = io.StringIO()
    call_command("scorecard_backfill", "--all", stdout=out)
    weeks = WeeklySnapshot.objects.order_by("week_start").values_list("week_start", flat=True)
    assert weeks[0] == IsoWeek.of(OLD.date()).monday
    assert weeks.last() == IsoWeek.last_completed().monday
    assert len(weeks) > 260  # more than one pass of five years
    assert f"Published {len(weeks)} weeks" in out.getvalue()
    call_command("scorecard_backfill", "--since", "2017-03-08", stdout=out)  # again: no-op
    assert WeeklySnapshot.objects.count() == len(weeks)
