from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_builtins(sender, **kwargs) -> None:
    from scorecard.services.catalog import builtin_definitions_sync

    builtin_definitions_sync()


class ScorecardConfig(AppConfig):
    name = "scorecard"
    verbose_name = "Scorecard"

    def ready(self) -> None:
        # After every migrate: a changed declaration of a built-in is its next version.
        post_migrate.connect(_sync_builtins, sender=self, dispatch_uid="scorecard.sync_builtins")
