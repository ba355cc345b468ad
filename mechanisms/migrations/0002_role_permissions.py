from django.db import migrations

from revops.migration_helpers import ROLE_GROUPS, grant_model_permissions, revoke_model_permissions


def grant(apps, schema_editor) -> None:
    # The admin shows every role's readers the mechanism tables read-only; writes go through
    # the pages and the API, which version the document and validate it.
    grant_model_permissions(
        apps,
        "mechanisms",
        {
            "ops": ("view",),
            "executive": ("view",),
            "sales_lead": ("view",),
            "marketing_lead": ("view",),
        },
    )


def revoke(apps, schema_editor) -> None:
    revoke_model_permissions(apps, "mechanisms", ROLE_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("mechanisms", "0001_mechanisms_goals_links_log_actions"),
        ("revops", "0001_role_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
