"""Seed the nightly sync schedule (01:30 in the company's time zone, before the 02:00
reconciliation). get_or_create: a schedule ops have edited is never overwritten."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "Nightly sync"
TASK = "pipeline.syncs_nightly"


def seed_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="1",
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
            "enabled": True,
            "description": "Pulls each connected system's records from its API every night.",
        },
    )
    if created:
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0030_connections"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(seed_schedule, migrations.RunPython.noop)]
