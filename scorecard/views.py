"""Pages of the scorecard: the executive view of a week, a metric's trend and records, the
print version, and the catalog ops edit. Every view checks its action in revops.permissions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from pipeline import dimensions, metrics
from pipeline.choices import AccountHealth, DealStage, LeadStage
from pipeline.selectors import RECONCILED_METRICS
from revops.csv import CsvRejected, csv_response
from revops.currencies import money_format
from revops.hooks import footer_notes, footer_queries
from revops.lists import filtered_rows, page_of
from revops.permissions import can, require
from revops.weeks import IsoWeek, company_tz
from scorecard import rendering, restatements, selectors
from scorecard.caching import (
    etag_for,
    not_modified,
    reader_identity,
    revalidated,
    week_cached,
    week_stamp_and,
)
from scorecard.charts import sparkline_svg, trend_figure
from scorecard.choices import MetricKind, Rag, Team
from scorecard.compute import metric_dimensions
from scorecard.drilldown import Column, Drilldown, drilldown_for, external_ids
from scorecard.formatting import format_plain, format_value
from scorecard.forms import (
    MetricCreateForm,
    MetricEditForm,
    PublishForm,
    QuotasUploadForm,
    SeriesImportForm,
    TargetForm,
)
from scorecard.models import Metric, MetricTarget, SeriesValue
from scorecard.series_csv import MAX_BYTES
from scorecard.services import catalog as catalog_services
from scorecard.services import snapshots
from scorecard.services.commentary import commentary_set, may_comment
from scorecard.targets import TargetBook
from scorecard.trust import trust_marks_for_week

RECORDS_PAGE_SIZE = 50
TREND_CHOICES = (13, 26, 52)


def _week_or_404(week: IsoWeek) -> IsoWeek:
    if week > IsoWeek.current():
        raise Http404("That week has not started yet.")
    return week


def _metric_or_404(key: str) -> Metric:
    return get_object_or_404(Metric, key=key)


def _slice_or_404(request: HttpRequest) -> dimensions.Slice:
    """The slice the query string names (?region=EMEA&team=Enterprise); 404 with the reason
    for a value no one defined."""
    try:
        return dimensions.slice_from_query(request.GET.items())
    except dimensions.UnknownValue as exc:
        raise Http404(str(exc)) from exc


@require_safe
@require("scorecard.view")
def scorecard_latest(request: HttpRequest) -> HttpResponse:
    """The week the Monday meeting discusses: the one that ended most recently."""
    return redirect("scorecard:week", IsoWeek.last_completed())


@require_safe
@require("scorecard.view")
def scorecard_week(request: HttpRequest, week: IsoWeek) -> HttpResponse:
    """A week's scorecard. For a published week and a reader who may not publish, the page
    comes from the shared cache with this reader's navigation and the footer's notes put in
    (caching.py); a client holding the same version gets a 304."""
    week = _week_or_404(week)
    slice = _slice_or_404(request)
    if any(key in request.GET and not request.GET[key].strip() for key in dimensions.BY_KEY):
        # The "Narrow to" form sends every dimension, chosen or not: the address names the
        # slice and nothing else.
        return redirect(reverse("scorecard:week", args=[week]) + rendering.slice_query(slice))
    if slice:
        # A slice's numbers are computed for the request (never frozen, never cached).
        body, _ = rendering.week_body(week, request=request, slice=slice)
        return render(
            request,
            "scorecard/scorecard_week.html",
            {
                "week": week,
                "body": mark_safe(body),
                "footer_notes": footer_notes("scorecard.week", request),
                "slice": slice,
            },
        )
    if not can(request.user, "scorecard.publish") and not messages.get_messages(request):
        # One query: the stamp, and the footer's counts in the same statement.
        stamp, values = week_stamp_and(
            week, selectors.TREND_WEEKS, also=footer_queries("scorecard.week")
        )
        notes = footer_notes("scorecard.week", request, values)
        if stamp is not None:
            reader = reader_identity(request.user)
            etag = etag_for(stamp, reader, notes)
            page, cacheable = rendering.week_page_for(
                request, week, stamp=stamp, reader=reader, notes=notes
            )
            if not cacheable:  # a live value in it: no version to revalidate
                return HttpResponse(page)
            if (unchanged := not_modified(request, etag)) is not None:
                return unchanged
            return revalidated(HttpResponse(page), etag)
    else:
        notes = footer_notes("scorecard.week", request)
    # Live weeks, and the publishers' page with its form, are rendered for the request.
    body, _ = rendering.week_body(
        week, can_publish=can(request.user, "scorecard.publish"), request=request
    )
    return render(
        request,
        "scorecard/scorecard_week.html",
        {"week": week, "body": mark_safe(body), "footer_notes": notes},
    )


@require_safe
@require("scorecard.view")
def scorecard_print(request: HttpRequest, week: IsoWeek) -> HttpResponse:
    week = _week_or_404(week)
    origin = f"{request.scheme}://{request.get_host()}"
    html, cacheable = week_cached(
        "week-print",
        week,
        rendering.PRINT_TREND_WEEKS,
        lambda: rendering.week_print(week, origin, timezone.now()),
        variant=hashlib.sha256(origin.encode()).hexdigest()[:16],
    )
    if not cacheable:
        return HttpResponse(html)
    etag = etag_for(hashlib.sha256(html.encode()).hexdigest())
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    return revalidated(HttpResponse(html), etag)


@require_POST
@require("scorecard.publish")
def scorecard_publish(request: HttpRequest, week: IsoWeek) -> HttpResponse:
    form = PublishForm(request.POST)
    form.is_valid()
    republish = request.POST.get("republish") == "1"
    try:
        snapshot = snapshots.snapshot_publish(
            week=week,
            by=request.user,
            reason=form.cleaned_data.get("reason", ""),
            republish=republish,
            expected=request.POST.get("expected", "")[:64],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        verb = "Republished" if snapshot.revision > 1 else "Published"
        messages.success(
            request, f"{verb} {week.label} (revision {snapshot.revision}); its values are frozen."
        )
    return redirect("scorecard:week", week)


@require_http_methods(["GET", "HEAD", "POST"])
@require("scorecard.publish")
def restatement_list(request: HttpRequest) -> HttpResponse:
    """Ops' list of published weeks whose frozen values differ from the live ones, with the
    size of each difference and its causes, and a bulk republish with one reason. Opening it
    runs the restatement check, so what it lists is what the executives' note says."""
    if request.method == "POST":
        labels = request.POST.getlist("week")[:200]
        expected = {label[:10]: request.POST.get(f"expected-{label[:10]}", "")[:64]
                    for label in labels}  # fmt: skip
        try:
            done = snapshots.snapshots_restate_pending(
                by=request.user, reason=request.POST.get("reason", "")[:2000], expected=expected
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"Republished {', '.join(w.label for w in done)}; their values are frozen again.",
            )
        return redirect("scorecard:restatements")
    found = snapshots.restatements_check()
    return render(
        request,
        "scorecard/restatements.html",
        {"pending": [{"restatement": r, "rows": restatements.preview_rows(r)} for r in found]},
    )


def _trend_weeks(request: HttpRequest) -> int:
    try:
        weeks = int(request.GET.get("weeks", 13))
    except ValueError:
        return 13
    return weeks if weeks in TREND_CHOICES else 13


@require_safe
@require("scorecard.view")
def metric_week(request: HttpRequest, week: IsoWeek, key: str) -> HttpResponse:
    """One metric in one week: its value and how it came about, its trend, its definition and
    the way to the records behind it."""
    week = _week_or_404(week)
    metric = _metric_or_404(key)
    slice = _slice_or_404(request)
    weeks = _trend_weeks(request)
    trend = selectors.metric_trend(metric, week, weeks=weeks, slice=slice)
    cell = selectors.metric_week_cell(metric, week, slice=slice)
    definitions = list(metric.definitions.select_related("left", "right", "created_by"))
    used = next((d for d in definitions if d.version == cell.version), definitions[0])
    marks = {} if slice else trust_marks_for_week(week, [metric.key])
    snapshot = selectors.snapshot_get(week)
    commentary = None if slice else selectors.week_commentary(week, snapshot).get(metric.id)
    numerator_unit, denominator_unit = _part_units(metric, used)
    sliced_by = metric_dimensions(definitions[0])
    by = dimensions.BY_KEY.get(request.GET.get("by", ""))
    breakdown = _breakdown(request, metric, week, by, slice) if by in sliced_by else None
    return render(
        request,
        "scorecard/metric_week.html",
        {
            "metric": metric,
            "week": week,
            "cell": cell,
            "value_display": format_value(cell.value, metric.unit),
            "target_display": format_value(cell.target, metric.unit),
            "pace_display": format_value(cell.pace, metric.unit),
            "numerator_display": format_value(cell.numerator, numerator_unit),
            "denominator_display": format_value(cell.denominator, denominator_unit),
            "definition_used": used,
            "is_current_version": used.version == definitions[0].version,
            "trust": marks.get(metric.key),
            "commentary": commentary,
            "may_comment": may_comment(request.user, metric) and week <= IsoWeek.current(),
            "is_published": snapshot is not None,
            "charts": {"trend": trend_figure(trend, unit=metric.unit)},
            "trend": [
                {
                    "label": p.label,
                    "value": format_value(p.value, metric.unit),
                    "target": format_value(p.target, metric.unit),
                    "rag": p.rag,
                    "rag_label": Rag(p.rag).label,
                }
                for p in reversed(trend)
            ],
            "weeks": weeks,
            "trend_choices": TREND_CHOICES,
            "has_records": metric.kind != MetricKind.SERIES,
            "previous_week": week.shift(-1),
            "next_week": week.shift(1) if week < IsoWeek.current() else None,
            "slice": slice,
            "slice_query": rendering.slice_query(slice),
            "slice_and": urlencode(slice.query) + "&" if slice else "",
            "sliced_by": sliced_by,
            "by": by,
            "breakdown": breakdown,
        },
    )


BREAKDOWN_SORTS = {
    "value": lambda r: (r.cell.value is None, r.cell.value or 0),
    "label": lambda r: r.label.casefold(),
    "change": lambda r: (r.change is None, r.change or 0),
    "target": lambda r: (r.cell.target is None, r.cell.target or 0),
    "status": lambda r: (
        ["red", "amber", "green", "none"].index(r.cell.rag)
        if r.cell.rag in ("red", "amber", "green", "none")
        else 9
    ),
}


def _breakdown(request, metric, week, by, within) -> dict:
    """The metric's breakdown by dimension `by` in the week (within the page's slice), sorted
    as the reader asked (?sort=value, -value, label, change, target, status)."""
    rows = selectors.metric_breakdown(metric, week, by, within=within)
    sort = request.GET.get("sort", "-value")
    key = BREAKDOWN_SORTS.get(sort.lstrip("-"))
    if key is None:
        sort, key = "-value", BREAKDOWN_SORTS["value"]
    shown = sorted((r for r in rows if not r.is_rest), key=key, reverse=sort.startswith("-"))
    # The long tail and the records with no value come last, whatever the order.
    shown += [r for r in rows if r.is_rest]
    base = reverse("scorecard:metric-week", args=[week, metric.key])
    out = []
    for row in shown:
        query = rendering.slice_query(row.slice) if not row.is_rest else ""
        out.append(
            {
                "label": row.label,
                "value": format_value(row.cell.value, metric.unit),
                "raw": row.cell.value,
                "target": format_value(row.cell.target, metric.unit),
                "change": format_value(row.change, metric.unit) if row.change is not None else "",
                "change_good": None if not row.change else (row.change > 0) == metric.up_is_good,
                "rag": row.cell.rag,
                "rag_label": row.cell.rag_label,
                "note": row.cell.note,
                "url": f"{base}{query}" if query else "",
                "records_url": f"{base}records/{query}" if query else "",
                "spark": sparkline_svg(row.trend, unit=metric.unit),
                "is_rest": row.is_rest,
            }
        )
    total = None
    if metric.additive and all(r.cell.value is not None for r in rows):
        total = format_value(sum(r.cell.value for r in rows), metric.unit)
    frozen = bool(rows) and not any(r.cell.live for r in rows)
    return {"dimension": by, "rows": out, "sort": sort, "total": total, "frozen": frozen}


@require_POST
@require("scorecard.view")
def metric_week_commentary(request: HttpRequest, week: IsoWeek, key: str) -> HttpResponse:
    """The owner (or ops) write the metric's commentary for the week; on a published week it
    is a republish of that commentary, with a reason when it changes what was frozen."""
    week = _week_or_404(week)
    metric = _metric_or_404(key)
    if not may_comment(request.user, metric):
        raise PermissionDenied("Only the metric's owner or ops write its commentary.")
    try:
        commentary_set(
            metric=metric,
            week=week,
            body=request.POST.get("body", "")[:20_000],
            by=request.user,
            reason=request.POST.get("reason", "")[:2000],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Commentary on {metric.name} for {week.label} saved.")
    return redirect("scorecard:metric-week", week, metric.key)


def _part_units(metric: Metric, definition) -> tuple[str, str]:
    """The units of a metric's numerator and denominator: a built-in's from its declaration
    (amounts for money ratios), a formula's or series' from its own unit."""
    spec = metrics.spec_get(definition.builtin) if definition.builtin else None
    if spec is not None:
        return spec.part_units
    unit = "count" if metric.unit in ("percent", "hours", "days") else metric.unit
    return unit, unit


def _cell(row: object, attr: str) -> object:
    value = row
    for part in attr.split("."):
        value = getattr(value, part, None) if value is not None else None
        if callable(value):
            value = value()
    return value


_STAGE_LABELS = {**dict(LeadStage.choices), **dict(DealStage.choices)}
_HEALTH_LABELS = dict(AccountHealth.choices)


def _display(value: object, column: Column, row: object) -> dict:
    """A records-table cell: its text, its CSS class and, for stages and health, its chip.
    Amounts read as on every page (revops.currencies.money_format): `$13,600`, `EUR 1,200`."""
    kind = column.kind
    if value is None or value == "":
        return {"text": "—", "cls": "muted"}
    if kind == "datetime":
        local = timezone.localtime(value, company_tz())
        return {"text": local.strftime("%Y-%m-%d %H:%M"), "cls": "nowrap"}
    if kind == "date":
        return {"text": value.isoformat(), "cls": "nowrap"}
    if kind == "money":  # in the company currency
        return {"text": money_format(value), "cls": "num"}
    if kind == "amount":  # as the source gave it, in the record's currency
        return {"text": money_format(value, _cell(row, "currency")), "cls": "num"}
    if kind == "number":
        return {"text": f"{Decimal(value):,.1f}", "cls": "num"}
    if kind == "flag":
        return {"text": "yes" if value else "no"}
    if kind == "stage":
        return {"text": _STAGE_LABELS.get(value, value), "chip": f"stage stage-{value}"}
    if kind == "health":
        return {"text": _HEALTH_LABELS.get(value, value), "chip": f"health health-{value}"}
    return {"text": str(value)}


def _csv_value(value: object, kind: str) -> object:
    """A cell of the records CSV: labels for stages and health ("Closed lost"), amounts as
    plain numbers (their currency is in the header or the next column), times in the company's
    time zone."""
    if value is None:
        return ""
    if kind == "stage":
        return _STAGE_LABELS.get(value, value)
    if kind == "health":
        return _HEALTH_LABELS.get(value, value)
    if kind == "ids":
        return "; ".join(value)
    if isinstance(value, Decimal):
        return format_plain(value)
    if isinstance(value, datetime):
        return timezone.localtime(value, company_tz()).isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


# The golden record's id, first: with each system's ids after it, a row of the export can be
# matched back to the record here and in every system.
_RECORD_ID = Column("Id", "pk")


def _csv_rows(drilldown: Drilldown, rows: QuerySet) -> Iterator[list]:
    rows, id_columns = external_ids(drilldown, rows)
    columns = [_RECORD_ID, *id_columns, *drilldown.columns]
    yield [c.label for c in columns]
    for row in rows.iterator(chunk_size=2000):
        yield [_csv_value(_cell(row, c.attr), c.kind) for c in columns]


def _records_row(record: object, columns: list[Column], kind: str) -> dict:
    """One row of the records table: its cells and the address of its record, which its first
    cell links to (named "Lead #12" when that cell is blank, a lead without an email say)."""
    cells = [{**_display(_cell(record, c.attr), c, record), "label": c.label} for c in columns]
    if cells and cells[0]["text"] == "—":
        cells[0] = {**cells[0], "text": f"{kind.capitalize()} #{record.pk}", "cls": ""}
    return {"url": reverse(f"pipeline:{kind}-detail", args=[record.pk]), "cells": cells}


@require_safe
@require("scorecard.view")
def metric_records(request: HttpRequest, week: IsoWeek, key: str) -> HttpResponse:
    """The records a number counted, filterable, paginated and exportable as CSV."""
    week = _week_or_404(week)
    metric = _metric_or_404(key)
    slice = _slice_or_404(request)
    definition = selectors.definition_current_map([metric.id])[metric.id]
    cell = selectors.metric_week_cell(metric, week, slice=slice)
    if metric.kind == MetricKind.FORMULA:
        return render(
            request,
            "scorecard/metric_records_formula.html",
            {"metric": metric, "week": week, "definition": definition},
        )
    if metric.kind == MetricKind.SERIES:
        values = SeriesValue.objects.filter(metric=metric).select_related("batch")
        return render(
            request,
            "scorecard/metric_records_series.html",
            {"metric": metric, "week": week, "values": values.order_by("-week_start")[:200]},
        )
    drilldown = drilldown_for(definition.builtin, week, definition.window_weeks)
    if drilldown is None:
        raise Http404("This metric has no records to show.")
    base = drilldown.queryset
    if slice:
        try:
            base = base.filter(dimensions.slice_q(slice, base.model))
        except ValueError as exc:
            raise Http404(f"{metric.name}'s records are not sliced that way.") from exc
    part = request.GET.get("part", "")
    if drilldown.numerator is not None and part == "numerator":
        base = base.filter(drilldown.numerator)
    params = request.GET.copy()
    for name in ("part", "page", "format", *dimensions.BY_KEY):
        params.pop(name, None)
    filterset, rows = filtered_rows(drilldown.filterset_class, base, params)

    if request.GET.get("format") == "csv":
        filename = f"{metric.key}-{week.label}{'-' + part if part else ''}.csv"
        return csv_response(_csv_rows(drilldown, rows), filename, bom=True)

    page, query = page_of(request, rows, RECORDS_PAGE_SIZE)
    part = part if drilldown.numerator is not None else ""
    total = None
    if drilldown.sum_attr and not filterset.is_bound:
        total = rows.aggregate(total=Sum(drilldown.sum_attr))["total"]
    columns = [c for c in drilldown.columns if c.html]
    return render(
        request,
        "scorecard/metric_records.html",
        {
            "metric": metric,
            "week": week,
            "cell": cell,
            "value_display": format_value(cell.value, metric.unit),
            "drilldown": drilldown,
            "columns": columns,
            "filter": filterset,
            "page": page,
            "rows": [_records_row(r, columns, drilldown.kind) for r in page],
            "query": query,
            "part": part,
            "filter_keep": {**slice.query, **({"part": part} if part else {})},
            "total": total,
            "is_published_value": not cell.live,
            "slice": slice,
            "slice_query": rendering.slice_query(slice),
        },
    )


@require_safe
@require("scorecard.view")
def metric_catalog(request: HttpRequest) -> HttpResponse:
    return _metric_catalog_page(request)


def _metric_catalog_page(
    request: HttpRequest,
    *,
    upload: QuotasUploadForm | None = None,
    upload_errors: list | None = None,
    status: int = 200,
) -> HttpResponse:
    """The catalog; with `upload_errors`, shown again (400) listing a refused targets file's
    problems."""
    catalog = list(selectors.metric_catalog())
    definitions = selectors.definition_current_map()
    targets = TargetBook.load()
    today = timezone.localdate()
    groups = []
    for team in selectors.TEAM_ORDER:
        rows = []
        for m in catalog:
            if m.team != team:
                continue
            target = targets.row_on(m.id, today)
            rows.append(
                {
                    "metric": m,
                    "definition": definitions.get(m.id),
                    "target": format_value(target.value, m.unit, compact=True) if target else "",
                    "target_period": target.period if target and m.additive else "",
                }
            )
        if rows:
            groups.append((Team(team).label, rows))
    can_edit = can(request.user, "scorecard.edit_metrics")
    return render(
        request,
        "scorecard/metric_catalog.html",
        {
            "groups": groups,
            "can_edit": can_edit,
            "upload": (upload or QuotasUploadForm()) if can_edit else None,
            "upload_errors": upload_errors or [],
        },
        status=status,
    )


@require_POST
@require("scorecard.edit_metrics")
def metric_quotas_import(request: HttpRequest) -> HttpResponse:
    """A CSV of targets and quotas, all or nothing: every problem is listed, none applied."""
    upload = QuotasUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        return _metric_catalog_page(request, upload=upload, status=400)
    try:
        result = catalog_services.targets_import(
            by=request.user, data=upload.cleaned_data["file"].read()
        )
    except CsvRejected as exc:
        return _metric_catalog_page(request, upload=upload, upload_errors=exc.errors, status=400)
    messages.success(
        request,
        f"Targets imported for {', '.join(result.metrics)}: {result.created} new, "
        f"{result.updated} replaced.",
    )
    return redirect("scorecard:metric-catalog")


@require_safe
@require("scorecard.view")
def metric_detail(request: HttpRequest, key: str) -> HttpResponse:
    return _metric_detail_page(request, _metric_or_404(key))


def _metric_detail_page(
    request: HttpRequest, metric: Metric, target_form: TargetForm | None = None
) -> HttpResponse:
    """The metric's page; with `target_form`, shown again (400) with the target as posted."""
    definitions = list(metric.definitions.select_related("left", "right", "created_by"))
    can_edit = can(request.user, "scorecard.edit_metrics")
    sliced_by = metric_dimensions(definitions[0])
    targets = list(metric.targets.select_related("created_by"))
    return render(
        request,
        "scorecard/metric_detail.html",
        {
            "metric": metric,
            "definitions": definitions,
            "current": definitions[0],
            "targets": [
                (t, format_value(t.value, metric.unit)) for t in targets if not t.dimension
            ],
            # A slice's targets (quotas): by dimension in display order, value, newest first.
            "slice_targets": [
                (t, dimensions.BY_KEY[t.dimension].label, format_value(t.value, metric.unit))
                for t in sorted(
                    (t for t in targets if t.dimension in dimensions.BY_KEY),
                    key=lambda t: (
                        list(dimensions.BY_KEY).index(t.dimension),
                        t.dimension_value.casefold(),
                        -t.starts_on.toordinal(),
                    ),
                )
            ],
            "sliced_by": sliced_by,
            "imports": metric.imports.select_related("created_by")[:20],
            "can_edit": can_edit,
            "tolerance_shown": metric.key in RECONCILED_METRICS,
            "target_form": (target_form or TargetForm(metric=metric, dimensions=sliced_by))
            if can_edit
            else None,
            "import_form": SeriesImportForm() if can_edit else None,
            "latest_week": IsoWeek.last_completed(),
        },
        status=400 if target_form is not None else 200,
    )


@require("scorecard.edit_metrics")
def metric_new(request: HttpRequest) -> HttpResponse:
    form = MetricCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            metric = catalog_services.metric_create(
                by=request.user,
                key=data["key"],
                name=data["name"],
                team=data["team"],
                unit=data["unit"],
                up_is_good=data["up_is_good"],
                kind=data["kind"],
                definition=data["definition"],
                additive=data.get("additive", False),
                formula=form.formula() if data["kind"] == MetricKind.FORMULA else None,
                green_pct=data["green_pct"],
                red_pct=data.get("red_pct"),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{metric.name} is in the catalog.")
            return redirect("scorecard:metric-detail", metric.key)
    return render(request, "scorecard/metric_form.html", {"form": form, "metric": None})


@require("scorecard.edit_metrics")
def metric_edit(request: HttpRequest, key: str) -> HttpResponse:
    metric = _metric_or_404(key)
    current = metric.definitions.order_by("-version").first()
    form = MetricEditForm(request.POST or None, metric=metric, current=current)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = catalog_services.metric_update(
                metric=metric,
                by=request.user,
                name=data["name"],
                team=data["team"],
                definition=data["definition"],
                green_pct=data["green_pct"],
                red_pct=data["red_pct"],
                position=data["position"],
                is_active=data["is_active"],
                unit=data.get("unit") or None,
                up_is_good=data.get("up_is_good") if "up_is_good" in form.fields else None,
                additive=data.get("additive") if "additive" in form.fields else None,
                window_weeks=data.get("window_weeks"),
                formula=form.formula() if "operator" in form.fields else None,
                note=data.get("note", ""),
                owner=data.get("owner"),
                pacing=data.get("pacing"),
                tolerance_abs=data.get("tolerance_abs"),
                tolerance_pct=data.get("tolerance_pct"),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if result.new_version:
                messages.success(
                    request,
                    f"Saved. How {metric.name} is computed changed: this is definition version "
                    f"{result.new_version.version}; published weeks keep the version they used.",
                )
            else:
                messages.success(request, f"Saved {metric.name}.")
            return redirect("scorecard:metric-detail", metric.key)
    return render(
        request,
        "scorecard/metric_form.html",
        {"form": form, "metric": metric, "current": current},
    )


@require_POST
@require("scorecard.edit_metrics")
def metric_target_add(request: HttpRequest, key: str) -> HttpResponse:
    metric = _metric_or_404(key)
    sliced_by = metric_dimensions(metric.definitions.order_by("-version").first())
    form = TargetForm(request.POST, metric=metric, dimensions=sliced_by)
    if form.is_valid():
        try:
            target = catalog_services.target_set(
                metric=metric,
                by=request.user,
                starts_on=form.cleaned_data["starts_on"],
                value=form.cleaned_data["value"],
                period=form.cleaned_data.get("period", "week"),
                dimension=form.cleaned_data.get("dimension", ""),
                dimension_value=form.cleaned_data.get("dimension_value", ""),
            )
        except ValidationError as exc:
            messages.error(request, "The target was not saved. " + " ".join(exc.messages))
            return _metric_detail_page(request, metric, target_form=form)
        whose = f" for {target.dimension_value}" if target.dimension else ""
        messages.success(
            request,
            f"Target{whose} {format_value(target.value, metric.unit)} "
            f"{target.get_period_display()} from {target.starts_on:%-d %b %Y} saved.",
        )
        return redirect(reverse("scorecard:metric-detail", args=[metric.key]) + "#targets")
    errors = "; ".join(
        f"{form.fields[f].label or f}: {' '.join(e)}" if f in form.fields else " ".join(e)
        for f, e in form.errors.items()
    )
    messages.error(request, f"The target was not saved. {errors}")
    # Shown again with what was typed, not a redirect to an empty form.
    return _metric_detail_page(request, metric, target_form=form)


@require_POST
@require("scorecard.edit_metrics")
def metric_target_delete(request: HttpRequest, key: str, target_id: int) -> HttpResponse:
    metric = _metric_or_404(key)
    target = get_object_or_404(MetricTarget, pk=target_id, metric=metric)
    catalog_services.target_delete(target=target)
    whose = f" for {target.dimension_value}" if target.dimension else ""
    messages.success(request, f"Target{whose} from {target.starts_on:%-d %b %Y} removed.")
    return redirect(reverse("scorecard:metric-detail", args=[metric.key]) + "#targets")


@require_POST
@require("scorecard.edit_metrics")
def metric_series_import(request: HttpRequest, key: str) -> HttpResponse:
    metric = _metric_or_404(key)
    form = SeriesImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file to import.")
        return redirect("scorecard:metric-detail", metric.key)
    upload = form.cleaned_data["file"]
    try:
        batch = catalog_services.series_import(
            metric=metric,
            by=request.user,
            data=upload.read(MAX_BYTES + 1),
            file_name=upload.name,
        )
    except catalog_services.SeriesImportError as exc:
        return render(
            request,
            "scorecard/series_import_errors.html",
            {"metric": metric, "errors": exc.row_errors, "file_name": upload.name},
            status=400,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Imported {batch.rows_created + batch.rows_updated} weeks from {batch.file_name}: "
            f"{batch.rows_created} new, {batch.rows_updated} replaced.",
        )
    return redirect("scorecard:metric-detail", metric.key)
