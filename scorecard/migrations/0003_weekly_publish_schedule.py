"""The Monday 06:00 schedule that publishes last week's scorecard and sends the digest.

Seeded with get_or_create by name: a schedule ops have since edited (another hour, disabled) is
left exactly as they left it."""

from django.conf import settings
from django.db import migrations

TASK_NAME = "Scorecard: publish last week and send the digest"


def create_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    monday_six, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="6",
        day_of_week="1",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="scorecard.tasks.snapshot_publish_due_task",
        crontab=monday_six,
        enabled=True,
        description="Publishes the week that just ended (unless ops already did) and emails "
        "the digest to executives.",
    )


def delete_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scorecard", "0002_standard_metrics"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_schedule, delete_schedule)]
