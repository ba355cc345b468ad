"""MQL → won conversion joins the standard catalog: the share of MQLs whose lead has a won deal,
which needs deals linked to leads across systems (pipeline 0019). get_or_create on the key, as
0002 does, so a catalog ops have edited is never overwritten."""

from django.db import migrations

DEFINITION = (
    "Of the leads that became MQLs in the 13 weeks ending with this week, the share with a won "
    "deal (closed won, by its close date) by the end of this week, whichever system the deal "
    "is in. The newest MQLs have had less time to close, which pulls the rate down."
)


def create_metric(apps, schema_editor) -> None:
    Metric = apps.get_model("scorecard", "Metric")
    MetricDefinition = apps.get_model("scorecard", "MetricDefinition")
    after = Metric.objects.filter(key="mql_to_sql_rate").values_list("position", flat=True)
    metric, created = Metric.objects.get_or_create(
        key="mql_to_won_rate",
        defaults={
            "name": "MQL → won conversion",
            "team": "marketing",
            "unit": "percent",
            "up_is_good": True,
            "additive": False,
            "kind": "builtin",
            "definition": DEFINITION,
            "green_pct": 100,
            "red_pct": 90,
            "position": (after.first() or 0) + 5,
        },
    )
    if created:
        MetricDefinition.objects.create(
            metric=metric,
            version=1,
            builtin="mql_to_won_rate",
            window_weeks=13,
            definition=DEFINITION,
            note="Standard catalog",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("scorecard", "0005_definition_builtin_fingerprint"),
        ("pipeline", "0019_identity_without_email"),
    ]
    operations = [migrations.RunPython(create_metric, migrations.RunPython.noop)]
