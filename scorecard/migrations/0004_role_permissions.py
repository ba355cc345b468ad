from django.db import migrations

from revops.migration_helpers import ROLE_GROUPS, grant_model_permissions, revoke_model_permissions


def grant(apps, schema_editor) -> None:
    # The admin shows ops every scorecard table; the pages decide who edits what through
    # revops.permissions, and the other roles read.
    grant_model_permissions(
        apps,
        "scorecard",
        {
            "ops": ("view",),
            "executive": ("view",),
            "sales_lead": ("view",),
            "marketing_lead": ("view",),
        },
    )


def revoke(apps, schema_editor) -> None:
    revoke_model_permissions(apps, "scorecard", ROLE_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("scorecard", "0003_weekly_publish_schedule"),
        ("revops", "0001_role_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
