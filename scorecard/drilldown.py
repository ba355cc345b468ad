"""The records behind a number: for each built-in metric and week, the golden records it
counted, as a queryset with the columns that explain the count.

Each queryset repeats, in the ORM, exactly the conditions of the metric's SQL in compute.py,
and the tests hold the two to the same counts and sums. For a ratio the queryset is the
denominator and `numerator` picks the records counted above the line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, DecimalField, F, Max, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django_filters import FilterSet

from pipeline import selectors as pipeline_selectors
from pipeline.choices import NEGATIVE_ARR_KINDS, ArrChangeKind, DealSource, DealType
from pipeline.filters import AccountFilter, DealFilter, LeadFilter
from pipeline.models import Account
from revops.weeks import IsoWeek, quarter_bounds


@dataclass(frozen=True)
class Column:
    label: str
    attr: str
    kind: str = "text"  # text, datetime, date, money, number, stage, health, flag


@dataclass
class Drilldown:
    """What one number counted."""

    kind: str  # lead, deal or account
    queryset: QuerySet
    columns: list[Column]
    filterset_class: type[FilterSet]
    description: str
    numerator: Q | None = None  # for a ratio: the records counted above the line
    numerator_label: str = ""
    denominator_label: str = ""
    sum_attr: str | None = None  # the number is a sum of this column (else a count)
    notes: list[str] = field(default_factory=list)


LEAD = [
    Column("Email", "email"),
    Column("Name", "full_name"),
    Column("Company", "company"),
    Column("Stage", "stage", "stage"),
    Column("Source", "source"),
    Column("Owner", "owner"),
    Column("Created", "created_at", "datetime"),
    Column("MQL", "mql_at", "datetime"),
    Column("SQL", "sql_at", "datetime"),
    Column("First touch", "first_touch_at", "datetime"),
]
DEAL = [
    Column("Deal", "name"),
    Column("Account", "account.name"),
    Column("Stage", "stage", "stage"),
    Column("Amount", "amount", "money"),
    Column("Type", "get_deal_type_display"),
    Column("Source", "get_source_display"),
    Column("Owner", "owner"),
    Column("Created", "created_at", "datetime"),
    Column("Close", "close_date", "date"),
]
ACCOUNT = [
    Column("Account", "name"),
    Column("Domain", "domain"),
    Column("Industry", "industry"),
    Column("Health", "health", "health"),
    Column("Owner", "owner"),
    Column("Renewal", "renewal_date", "date"),
]


def _signed_arr(before) -> Sum:
    """Sum of an account's ARR changes dated before `before`, contraction and churn negative."""
    amount = Case(
        When(arr_changes__kind__in=NEGATIVE_ARR_KINDS, then=-F("arr_changes__amount")),
        default=F("arr_changes__amount"),
        output_field=DecimalField(max_digits=16, decimal_places=2),
    )
    return Coalesce(
        Sum(amount, filter=Q(arr_changes__effective_date__lt=before)),
        Value(0),
        output_field=DecimalField(max_digits=16, decimal_places=2),
    )


def _window(week: IsoWeek, weeks: int) -> tuple:
    """Start (aware) and first day of the trailing window of `weeks` weeks ending with `week`."""
    first = week.shift(-(weeks - 1))
    return first.start, first.monday


def drilldown_for(builtin: str, week: IsoWeek, window: int | None) -> Drilldown | None:
    """The records behind built-in metric `builtin` in `week`; None for an unknown one."""
    start, end = week.start, week.end
    next_monday = week.monday + timedelta(days=7)
    leads = pipeline_selectors.lead_list()
    deals = pipeline_selectors.deal_list()
    n = window or 13
    label = week.label

    if builtin in ("leads_created", "mqls", "sqls"):
        column = {"leads_created": "created_at", "mqls": "mql_at", "sqls": "sql_at"}[builtin]
        verb = {"leads_created": "created", "mqls": "became MQLs", "sqls": "became SQLs"}
        return Drilldown(
            "lead",
            leads.filter(**{f"{column}__gte": start, f"{column}__lt": end}),
            LEAD,
            LeadFilter,
            f"Leads that {verb[builtin]} in {label}.",
        )
    if builtin == "mql_to_sql_rate":
        window_start, _ = _window(week, n)
        return Drilldown(
            "lead",
            leads.filter(mql_at__gte=window_start, mql_at__lt=end).annotate(
                reached_sql=Case(When(sql_at__lt=end, then=True), default=False)
            ),
            [*LEAD, Column("SQL by week's end", "reached_sql", "flag")],
            LeadFilter,
            f"Leads that became MQLs in the {n} weeks ending with {label}.",
            numerator=Q(sql_at__lt=end),
            numerator_label="that reached SQL by the end of the week",
            denominator_label=f"MQLs in the {n} weeks",
        )
    if builtin == "speed_to_lead":
        hours = RawSQL(
            'greatest(extract(epoch FROM "pipeline_lead"."first_touch_at" - '
            '"pipeline_lead"."mql_at"), 0) / 3600.0',
            [],
            output_field=DecimalField(),
        )
        return Drilldown(
            "lead",
            leads.filter(mql_at__isnull=False, first_touch_at__gte=start, first_touch_at__lt=end)
            .annotate(hours_to_touch=hours)
            .order_by("-hours_to_touch", "-id"),
            [*LEAD, Column("Hours to first touch", "hours_to_touch", "number")],
            LeadFilter,
            f"MQLs whose first sales touch was in {label}; the number is the median of the "
            "hours column.",
        )
    if builtin in ("pipeline_created", "pipeline_created_marketing"):
        created = deals.filter(created_at__gte=start, created_at__lt=end)
        if builtin == "pipeline_created":
            created = created.filter(deal_type__in=[DealType.NEW, DealType.EXPANSION])
            what = "New-business and expansion deals"
        else:
            created = created.filter(source=DealSource.MARKETING)
            what = "Marketing-sourced deals"
        return Drilldown(
            "deal", created, DEAL, DealFilter, f"{what} created in {label}.", sum_attr="amount"
        )
    if builtin == "pipeline_coverage":
        q_start, q_end = quarter_bounds(week.sunday)
        return Drilldown(
            "deal",
            deals.filter(
                deal_type=DealType.NEW,
                created_at__lt=end,
                close_date__gte=q_start,
                close_date__lt=q_end,
            ).filter(Q(is_closed=False) | Q(close_date__gte=next_monday)),
            DEAL,
            DealFilter,
            f"New-business deals open at the end of {label} with a close date from "
            f"{q_start:%-d %b} to {q_end - timedelta(days=1):%-d %b %Y}: the pipeline above the "
            "line.",
            sum_attr="amount",
        )
    if builtin in ("win_rate", "avg_deal_size", "sales_cycle"):
        _, first_day = _window(week, n)
        closed = deals.filter(
            deal_type=DealType.NEW, is_closed=True, close_date__gte=first_day,
            close_date__lt=next_monday,
        )  # fmt: skip
        if builtin == "win_rate":
            return Drilldown(
                "deal",
                closed,
                DEAL,
                DealFilter,
                f"New-business deals closed in the {n} weeks ending with {label}.",
                numerator=Q(is_won=True),
                numerator_label="that were won",
                denominator_label="closed (won or lost)",
            )
        won = closed.filter(is_won=True)
        if builtin == "avg_deal_size":
            return Drilldown(
                "deal",
                won,
                DEAL,
                DealFilter,
                f"New-business deals won in the {n} weeks ending with {label}; the number is "
                "their average amount.",
                sum_attr="amount",
            )
        days = RawSQL(
            '"pipeline_deal"."close_date" - ("pipeline_deal"."created_at" AT TIME ZONE %s)::date',
            [settings.TIME_ZONE],
        )
        return Drilldown(
            "deal",
            won.annotate(cycle_days=days).order_by("-cycle_days", "-id"),
            [*DEAL, Column("Days to close", "cycle_days", "number")],
            DealFilter,
            f"New-business deals won in the {n} weeks ending with {label}; the number is the "
            "median of the days column.",
        )
    if builtin in ("deals_won", "new_bookings"):
        won = deals.filter(is_won=True, close_date__gte=week.monday, close_date__lt=next_monday)
        if builtin == "new_bookings":
            won = won.filter(deal_type=DealType.NEW)
            return Drilldown(
                "deal", won, DEAL, DealFilter, f"New-business deals won in {label}.",
                sum_attr="amount",
            )  # fmt: skip
        return Drilldown("deal", won, DEAL, DealFilter, f"Deals of every type won in {label}.")

    accounts = Account.objects.all()
    arr_column = Column("ARR at week's end", "arr_at_end", "money")
    if builtin in ("arr", "healthy_accounts"):
        customers = (
            accounts.annotate(arr_at_end=_signed_arr(next_monday))
            .filter(arr_at_end__gt=0)
            .order_by("-arr_at_end", "name", "id")
        )
        if builtin == "arr":
            return Drilldown(
                "account",
                customers,
                [*ACCOUNT, arr_column],
                AccountFilter,
                f"Accounts with ARR above zero at the end of {label}.",
                sum_attr="arr_at_end",
            )
        return Drilldown(
            "account",
            customers,
            [*ACCOUNT, arr_column],
            AccountFilter,
            f"Customers at the end of {label} (ARR above zero).",
            numerator=Q(health="good"),
            numerator_label="in good health",
            denominator_label="customers",
            notes=["Health is as the customer-success system records it now."],
        )
    if builtin in ("nrr", "grr"):
        n = window or 52
        then = week.shift(-n)
        cohort = (
            accounts.annotate(
                arr_then=_signed_arr(then.monday + timedelta(days=7)),
                arr_at_end=_signed_arr(next_monday),
            )
            .filter(arr_then__gt=0)
            .order_by("-arr_then", "name", "id")
        )
        return Drilldown(
            "account",
            cohort,
            [*ACCOUNT, Column(f"ARR at end of {then.label}", "arr_then", "money"), arr_column],
            AccountFilter,
            f"Customers at the end of {then.label}, {n} weeks before {label}, with their ARR "
            "then and now; the number is the second column's total over the first's"
            + (" (each account capped at its ARR then)." if builtin == "grr" else "."),
            sum_attr="arr_then",
        )
    if builtin == "logo_churn":
        lost = (
            accounts.annotate(
                lost_on=Max(
                    "arr_changes__effective_date",
                    filter=Q(
                        arr_changes__kind=ArrChangeKind.CHURN,
                        arr_changes__effective_date__gte=week.monday,
                        arr_changes__effective_date__lt=next_monday,
                    ),
                )
            )
            .filter(lost_on__isnull=False)
            .order_by("lost_on", "name", "id")
        )
        return Drilldown(
            "account",
            lost,
            [*ACCOUNT, Column("Churned on", "lost_on", "date")],
            AccountFilter,
            f"Customers with a churn change dated in {label}.",
        )
    return None
