from django.db import migrations

from revops.migration_helpers import ROLE_GROUPS, grant_model_permissions, revoke_model_permissions


def grant(apps, schema_editor) -> None:
    # Ops staff manage every pipeline table (the admin keeps records themselves read-only);
    # the other roles read.
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


def revoke(apps, schema_editor) -> None:
    revoke_model_permissions(apps, "pipeline", ROLE_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0001_initial"),
        ("revops", "0001_role_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
