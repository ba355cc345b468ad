"""Seed the every-minute schedule that marks failed the imports whose worker died. get_or_create
by name: a schedule ops have edited (another interval, disabled) is never overwritten, and the
reverse leaves it alone too."""

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "Imports: mark failed those whose worker died"
TASK = "pipeline.import_batches_reap"


def seed_schedule(apps, schema_editor) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    _, created = PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK,
            "interval": every_minute,
            "enabled": True,
            "description": "An import left running by a worker that was killed is marked "
            "failed within a minute, with a Retry button, instead of staying 'running'.",
        },
    )
    if created:
        # Beat reloads its schedule when this marker moves (no ORM signal in migrations).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0017_batch_findings_export_kind"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(seed_schedule, migrations.RunPython.noop)]
