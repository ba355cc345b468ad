"""What migrations, commands and settings give the scorecard: the Monday schedule, plotly from
our own static files, the demo's published history."""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import pytest
from django.apps import apps as global_apps
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from revops.celery import app as celery_app
from revops.weeks import IsoWeek
from scorecard.models import Metric, MetricTarget, WeeklySnapshot

schedule_migration = importlib.import_module("scorecard.migrations.0003_weekly_publish_schedule")


@pytest.mark.django_db
def test_the_weekly_publish_runs_mondays_at_six_in_company_time_as_a_real_task():
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_week) == ("0", "6", "1")
    assert str(cron.timezone) == "UTC"  # settings.TIME_ZONE when the migration ran
    assert task.enabled
    celery_app.loader.import_default_modules()
    assert task.task in celery_app.tasks


@pytest.mark.django_db
def test_seeding_the_schedule_again_leaves_what_ops_changed():
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    task.enabled = False
    task.save()
    schedule_migration.create_schedule(global_apps, None)
    assert PeriodicTask.objects.filter(name=schedule_migration.TASK_NAME).count() == 1
    assert not PeriodicTask.objects.get(name=schedule_migration.TASK_NAME).enabled


def test_plotly_is_served_from_the_installed_package_not_a_cdn():
    found = finders.find("vendor/plotly.min.js")
    assert found
    assert Path(found).name == "plotly.min.js"
    assert Path(found).stat().st_size > 1_000_000
    listed = [path for finder in finders.get_finders() for path, _ in finder.list([])]
    assert "plotly.min.js" in listed  # collectstatic copies it (under the vendor/ prefix)


def test_collectstatic_puts_plotly_under_vendor(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "vendor" / "plotly.min.js").stat().st_size > 1_000_000


@pytest.mark.django_db
def test_the_scorecard_demo_sets_a_plan_an_email_formula_and_history_once():
    call_command("seed_demo", scale=0.02, stdout=io.StringIO())
    out = io.StringIO()
    call_command("scorecard_demo", scale=0.02, weeks=8, stdout=out)
    assert "8 weeks published" in out.getvalue()
    assert WeeklySnapshot.objects.count() == 8
    assert WeeklySnapshot.objects.order_by("-week_start")[0].week_start == (
        IsoWeek.last_completed().monday
    )
    ctr = Metric.objects.get(key="email_ctr")
    assert ctr.definitions.get().formula_display() == "Email clicks ÷ Email recipients × 100"
    targets = MetricTarget.objects.count()
    assert targets > 30
    again = io.StringIO()
    call_command("scorecard_demo", scale=0.02, weeks=8, stdout=again)
    assert "0 targets set, 0 weeks published, 8 already published" in again.getvalue()
    assert MetricTarget.objects.count() == targets
