"""Copy every row that already exists in a tracked table into its event table as a "baseline"
event, so the first change after the audit log is switched on still shows its before values
(pghistory diffs an event against the previous event of the same row). Baselines are not
changes: the log pages leave them out."""

from django.db import migrations


def baseline(apps, schema_editor, only=None):
    """`only`: the names of the event models to fill (a later migration's new tables)."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    for event_model in apps.get_app_config("audit").get_models():
        if event_model._meta.proxy or not event_model.__name__.endswith("Event"):
            continue
        if only is not None and event_model.__name__ not in only:
            continue
        tracked = event_model._meta.get_field("pgh_obj").related_model._meta.concrete_model
        pk = tracked._meta.pk.column
        columns = [
            quote(f.column) for f in event_model._meta.fields if not f.name.startswith("pgh_")
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(event_model._meta.db_table)} "
                f"({', '.join(columns)}, pgh_created_at, pgh_label, pgh_obj_id) "
                f"SELECT {', '.join(columns)}, NOW(), 'baseline', {quote(pk)} "
                f"FROM {quote(tracked._meta.db_table)} ORDER BY {quote(pk)}"
            )


def baseline_remove(apps, schema_editor):
    quote = schema_editor.connection.ops.quote_name
    for event_model in apps.get_app_config("audit").get_models():
        if not event_model._meta.proxy and event_model.__name__.endswith("Event"):
            schema_editor.execute(
                f"DELETE FROM {quote(event_model._meta.db_table)} WHERE pgh_label = 'baseline'"
            )


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_audit_events")]

    operations = [migrations.RunPython(baseline, baseline_remove)]
