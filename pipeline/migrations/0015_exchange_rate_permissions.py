from django.db import migrations

from revops.migration_helpers import grant_model_permissions


def grant(apps, schema_editor) -> None:
    # As 0009 did: for the exchange rates table: ops manage, the other roles read.
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
        ("pipeline", "0014_reconciliation_index_converted"),
        ("revops", "0001_role_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
