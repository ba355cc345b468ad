from django.apps import AppConfig


class FollowsConfig(AppConfig):
    """Following a metric or a dispute, and hearing about it by e-mail or Slack. It sits above
    scorecard and disputes and listens to their events (revops.hooks)."""

    name = "follows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from follows import listeners
        from revops import hooks

        hooks.register_listener("scorecard.week_published", listeners.week_published)
        hooks.register_listener("disputes.changed", listeners.dispute_changed)
