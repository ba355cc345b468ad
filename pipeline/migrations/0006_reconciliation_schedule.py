"""Seed the nightly reconciliation schedule (02:00 in the company's time zone) and give the
role groups their permissions on the reconciliation tables. get_or_create: a schedule ops
have edited is never overwritten, and the reverse leaves it alone too."""

import json

from django.conf import settings
from django.db import migrations
from django.utils import timezone

from revops.migration_helpers import grant_model_permissions

SCHEDULE_NAME = "Nightly reconciliation"
TASK = "pipeline.reconciliation_nightly"


def seed_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "kwargs": json.dumps({"weeks": 104}),
            "enabled": True,
            "description": "Compares marketing and sales records and numbers every night.",
        },
    )
    if created:
        # Beat reloads its schedule when this marker moves (the ORM signal does not fire in
        # migrations, which use historical models).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def grant(apps, schema_editor) -> None:
    grant_model_permissions(
        apps,
        "pipeline",
        {
            "ops": ("add", "change", "delete", "view"),
            "executive": ("view",),
            "sales_lead": ("view",),
            "marketing_lead": ("view",),
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0005_reconciliation_source_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("revops", "0001_role_groups"),
    ]
    operations = [
        migrations.RunPython(seed_schedule, migrations.RunPython.noop),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
