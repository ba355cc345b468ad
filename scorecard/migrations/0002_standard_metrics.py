"""The standard metric catalog, version 1 of each definition. Created with get_or_create on the
key, so a catalog ops have since edited is never overwritten (the data is frozen here: later
code changes must not change what this migration did)."""

from django.db import migrations

# key, name, team, unit, up is good, additive, calculator, trailing window, definition.
STANDARD = [
    (
        "arr", "ARR", "company", "currency", True, False, "arr", None,
        "Annual recurring revenue at the end of the week: for every account, the sum of its "
        "ARR changes (new and expansion, minus contraction and churn) dated on or before the "
        "week's Sunday. An account at zero or below counts as zero.",
    ),
    (
        "new_bookings", "New bookings", "company", "currency", True, True, "new_bookings", None,
        "Total amount of new-business deals won with a close date in the week. Expansions and "
        "renewals are not new bookings.",
    ),
    (
        "pipeline_coverage", "Pipeline coverage", "company", "ratio", True, False,
        "pipeline_coverage", None,
        "Open new-business pipeline expected to close this quarter, divided by what is left of "
        "the quarter's new-bookings target. Open means created by the end of the week and not "
        "closed before it ended; this quarter is the calendar quarter of the week's Sunday, "
        "judged by each deal's close date. Empty when the quarter's target is already met or "
        "there is no new-bookings target.",
    ),
    (
        "nrr", "Net revenue retention", "company", "percent", True, False, "nrr", 52,
        "ARR at the end of the week of the accounts that were customers 52 weeks (12 months) "
        "earlier, as a share of their ARR then. Expansion raises it, contraction and churn "
        "lower it; customers won since then are left out.",
    ),
    (
        "leads_created", "Leads created", "marketing", "count", True, True, "leads_created",
        None,
        "Leads whose created date falls in the week (Monday 00:00 to Sunday 24:00, company "
        "time). A person is one lead however many times the source systems hold them.",
    ),
    (
        "mqls", "MQLs", "marketing", "count", True, True, "mqls", None,
        "Leads that became marketing-qualified in the week, by their MQL date.",
    ),
    (
        "mql_to_sql_rate", "MQL → SQL conversion", "marketing", "percent", True, False,
        "mql_to_sql_rate", 13,
        "Of the leads that became MQLs in the 13 weeks ending with this week, the share that "
        "had become SQLs by the end of this week. The newest MQLs have had less time to "
        "convert, which pulls the rate down a little.",
    ),
    (
        "pipeline_created_marketing", "Marketing-sourced pipeline", "marketing", "currency",
        True, True, "pipeline_created_marketing", None,
        "Total amount of the deals created in the week whose source is marketing, of any deal "
        "type.",
    ),
    (
        "sqls", "SQLs", "sales", "count", True, True, "sqls", None,
        "Leads that became sales-qualified in the week, by their SQL date.",
    ),
    (
        "speed_to_lead", "Speed to lead", "sales", "hours", False, False, "speed_to_lead", None,
        "Median hours from a lead's MQL date to its first sales touch (call, email or "
        "meeting), over the MQLs whose first sales touch fell in the week. A touch before the "
        "MQL date counts as 0 hours. MQLs nobody has touched yet are not in the median.",
    ),
    (
        "pipeline_created", "Pipeline created", "sales", "currency", True, True,
        "pipeline_created", None,
        "Total amount of the new-business and expansion deals created in the week, whatever "
        "their source. Renewals are not new pipeline.",
    ),
    (
        "win_rate", "Win rate", "sales", "percent", True, False, "win_rate", 13,
        "New-business deals won as a share of new-business deals closed (won or lost), by "
        "count, over the 13 weeks ending with this week, by close date.",
    ),
    (
        "avg_deal_size", "Average deal size", "sales", "currency", True, False,
        "avg_deal_size", 13,
        "Average amount of the new-business deals won in the 13 weeks ending with this week, "
        "by close date.",
    ),
    (
        "sales_cycle", "Sales cycle", "sales", "days", False, False, "sales_cycle", 13,
        "Median days from a new-business deal's creation to its close, over the new-business "
        "deals won in the 13 weeks ending with this week, by close date.",
    ),
    (
        "deals_won", "Deals won", "sales", "count", True, True, "deals_won", None,
        "Deals of every type (new business, expansion and renewal) won with a close date in "
        "the week.",
    ),
    (
        "grr", "Gross revenue retention", "customer_success", "percent", True, False, "grr",
        52,
        "As net revenue retention, but each account counts at most its ARR of 52 weeks "
        "earlier: expansion is left out, contraction and churn count in full.",
    ),
    (
        "logo_churn", "Logos lost", "customer_success", "count", False, True, "logo_churn",
        None,
        "Customers lost in the week: accounts with a churn change dated in the week.",
    ),
    (
        "healthy_accounts", "Healthy accounts", "customer_success", "percent", True, False,
        "healthy_accounts", None,
        "Share of customers (accounts with ARR above zero at the end of the week) whose health "
        "is good in the customer-success system. The system keeps no history of health, so a "
        "week shows health as it was recorded when the week was computed; backfilled weeks "
        "use the health at the time of the backfill.",
    ),
]  # fmt: skip


def create_catalog(apps, schema_editor) -> None:
    Metric = apps.get_model("scorecard", "Metric")
    MetricDefinition = apps.get_model("scorecard", "MetricDefinition")
    for position, (key, name, team, unit, up, additive, builtin, window, text) in enumerate(
        STANDARD, start=1
    ):
        metric, created = Metric.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "team": team,
                "unit": unit,
                "up_is_good": up,
                "additive": additive,
                "kind": "builtin",
                "definition": text,
                "green_pct": 100,
                "red_pct": 90 if up else 110,
                "position": position * 10,
            },
        )
        if created:
            MetricDefinition.objects.create(
                metric=metric,
                version=1,
                builtin=builtin,
                window_weeks=window,
                definition=text,
                note="Standard catalog",
            )


class Migration(migrations.Migration):
    dependencies = [("scorecard", "0001_catalog_and_snapshots")]
    operations = [migrations.RunPython(create_catalog, migrations.RunPython.noop)]
