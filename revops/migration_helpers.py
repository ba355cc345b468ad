"""Helpers for data migrations that grant the role groups their model permissions.

Kept apart from revops.permissions on purpose: migrations must keep working when app code
changes, so this module only ever grows."""

from __future__ import annotations

ROLE_GROUPS = ("executive", "ops", "sales_lead", "marketing_lead")


def grant_model_permissions(apps, app_label: str, grants: dict[str, tuple[str, ...]]) -> None:
    """Give each group the listed actions (add/change/delete/view) on every model of the app.

    Django creates Permission rows after the whole migrate run (post_migrate), so on a fresh
    database they do not exist yet here: create them first, as post_migrate later would.
    """
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config(app_label)
    app_config.models_module = (
        True  # the migration state's stub has none; create_permissions needs one
    )
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, actions in grants.items():
        group = Group.objects.get(name=group_name)
        perms = Permission.objects.filter(
            content_type__app_label=app_label,
            codename__regex=rf"^({'|'.join(actions)})_",
        )
        group.permissions.add(*perms)


def revoke_model_permissions(apps, app_label: str, groups: tuple[str, ...]) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label=app_label)
    for group in Group.objects.filter(name__in=groups):
        group.permissions.remove(*perms)
