from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = "RevOps"
    default = True

    def ready(self) -> None:
        from revops import schema  # noqa: F401 - registers the token scheme with the schema
        from revops.auth import connect_user_cache

        connect_user_cache()


class RevopsAdminConfig(admin_apps.AdminConfig):
    """The admin site, with access decided by revops.permissions (see revops/admin.py)."""

    default = False
    default_site = "revops.admin.RevopsAdminSite"
