from django.db import migrations

from revops.migration_helpers import grant_model_permissions, revoke_model_permissions


def grant(apps, schema_editor) -> None:
    # Ops staff see who has two-factor sign-in and delete a lost phone's device; nobody edits
    # or adds one in the admin (the key would be chosen, or read, by someone else).
    for app_label in ("otp_totp", "otp_static"):
        grant_model_permissions(apps, app_label, {"ops": ("view", "delete")})


def revoke(apps, schema_editor) -> None:
    for app_label in ("otp_totp", "otp_static"):
        revoke_model_permissions(apps, app_label, ("ops",))


class Migration(migrations.Migration):
    dependencies = [
        ("revops", "0002_api_tokens"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
