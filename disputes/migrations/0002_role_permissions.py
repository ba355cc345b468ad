from django.db import migrations

from revops.migration_helpers import ROLE_GROUPS, grant_model_permissions, revoke_model_permissions


def grant(apps, schema_editor) -> None:
    # Ops staff look disputes up in the admin, read-only: the workflow runs on the pages.
    grant_model_permissions(apps, "disputes", {"ops": ("view",)})


def revoke(apps, schema_editor) -> None:
    revoke_model_permissions(apps, "disputes", ROLE_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0001_disputes_transitions_comments_settings"),
        ("revops", "0001_role_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
