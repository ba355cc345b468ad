"""Pages over the golden records. Every view checks its action in revops.permissions."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Prefetch, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_filters import FilterSet

from pipeline import charts, selectors
from pipeline.choices import (
    AUTHORITY_FIELDS,
    FIELD_LABELS,
    RECONCILED_FIELDS,
    BatchStatus,
    BridgeReason,
    DiscrepancyKind,
    FindingKind,
    ObjectType,
    ReconciliationTrigger,
    RunStatus,
    SystemRole,
    Vendor,
)
from pipeline.filters import (
    AccountFilter,
    DealFilter,
    DiscrepancyFilter,
    LeadFilter,
    ReconciliationRunFilter,
)
from pipeline.forms import (
    NEW_MAPPING,
    AuthorityForm,
    ExchangeRateForm,
    ExchangeRatesUploadForm,
    ImportUploadForm,
    MappingForm,
    OwnersUploadForm,
    PlaceholderEmailForm,
    RegionForm,
    RunStartForm,
    ScheduleForm,
    SourceSystemForm,
    ValueMapForm,
)
from pipeline.models import (
    Account,
    BridgeStep,
    Deal,
    ExchangeRate,
    FieldAuthority,
    ImportBatch,
    Lead,
    PlaceholderEmail,
    ReconciliationRun,
    Region,
    SourceSystem,
)
from pipeline.presets import BUILTIN_PRESETS
from pipeline.services import findings, picklists, reconciliation
from pipeline.services.authority import field_authority_set
from pipeline.services.currency import (
    ExchangeRatesRejected,
    exchange_rate_delete,
    exchange_rate_set,
    exchange_rates_import,
)
from pipeline.services.import_runs import (
    import_batch_newer_applied,
    import_batch_retry,
    import_batches_reap,
)
from pipeline.services.imports import (
    held_rows_lines,
    import_batch_confirm,
    import_batch_create,
    import_batch_draft_create,
    import_batch_draft_header,
    import_batch_draft_map,
    import_batch_enqueue,
    mapping_for,
    row_errors_csv,
)
from pipeline.services.owners import owners_import, region_delete, region_save
from pipeline.services.placeholders import placeholder_add, placeholder_remove
from pipeline.services.systems import system_add, system_retire, system_update
from revops.csv import CsvRejected, csv_response
from revops.lists import filtered_page
from revops.permissions import can, require
from revops.weeks import IsoWeek

PAGE_SIZE = 50


def _record_list(
    request: HttpRequest, filterset_class: type[FilterSet], queryset: QuerySet, template: str
) -> HttpResponse:
    listing = filtered_page(request, filterset_class, queryset, PAGE_SIZE)
    return render(request, template, listing.context)


@require_safe
@require("records.view")
def lead_list(request: HttpRequest) -> HttpResponse:
    return _record_list(request, LeadFilter, selectors.lead_list(), "pipeline/lead_list.html")


@require_safe
@require("records.view")
def deal_list(request: HttpRequest) -> HttpResponse:
    return _record_list(request, DealFilter, selectors.deal_list(), "pipeline/deal_list.html")


@require_safe
@require("records.view")
def account_list(request: HttpRequest) -> HttpResponse:
    return _record_list(
        request, AccountFilter, selectors.account_list(), "pipeline/account_list.html"
    )


# --- Record pages ----------------------------------------------------------------------------


@require_safe
@require("records.view")
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.select_related("account"), pk=pk)
    return render(
        request,
        "pipeline/lead_detail.html",
        {
            "lead": lead,
            "versions": selectors.record_versions(ObjectType.LEAD, lead),
            "history": lead.stage_changes.select_related("system").order_by("changed_at", "id"),
            "deals": lead.deals.order_by(F("created_at").desc(nulls_last=True), "-id"),
        },
    )


@require_safe
@require("records.view")
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(Deal.objects.select_related("account", "lead"), pk=pk)
    return render(
        request,
        "pipeline/deal_detail.html",
        {
            "deal": deal,
            "versions": selectors.record_versions(ObjectType.DEAL, deal),
            "history": deal.stage_changes.order_by("changed_at", "id"),
            "arr_changes": deal.arr_changes.order_by("effective_date"),
        },
    )


@require_safe
@require("records.view")
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=pk)
    return render(
        request,
        "pipeline/account_detail.html",
        {
            "account": account,
            "versions": selectors.record_versions(ObjectType.ACCOUNT, account),
            "arr_changes": account.arr_changes.order_by("effective_date", "id"),
            "deals": account.deals.order_by(F("created_at").desc(nulls_last=True), "-id")[:50],
            "leads": account.leads.order_by("-created_at")[:50],
            "lead_count": account.leads.count(),
        },
    )


@require("records.view")
def authority(request: HttpRequest) -> HttpResponse:
    """The field-authority rules of every object type; ops staff change them here."""
    may_edit = can(request.user, "authority.edit")
    object_type = request.POST.get("object_type") if request.method == "POST" else None
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("Only ops staff change field authority.")
        if object_type not in AUTHORITY_FIELDS:
            return HttpResponseBadRequest("Unknown object type.")
    forms_by_type = {}
    for kind in AUTHORITY_FIELDS:
        current = dict(
            FieldAuthority.objects.filter(object_type=kind).values_list("field", "system_id")
        )
        bound = request.POST if kind == object_type else None
        forms_by_type[kind] = AuthorityForm(bound, object_type=kind, current=current, prefix=kind)
    if object_type:
        form = forms_by_type[object_type]
        if form.is_valid():
            try:
                changed = field_authority_set(
                    object_type=object_type, rules=form.rules(), by=request.user
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                label = ObjectType(object_type).label.lower()
                if changed:
                    messages.success(
                        request,
                        f"Rules for {label}s saved ({', '.join(changed)}); "
                        f"golden {label}s are rebuilt to match.",
                    )
                else:
                    messages.info(request, f"No rule for {label}s changed.")
                return redirect("pipeline:authority")
    sections = [(ObjectType(kind).label, kind, form) for kind, form in forms_by_type.items()]
    return render(request, "pipeline/authority.html", {"sections": sections, "may_edit": may_edit})


# --- Currencies --------------------------------------------------------------------------------


def _exchange_rates_page(
    request: HttpRequest,
    *,
    form: ExchangeRateForm | None = None,
    upload: ExchangeRatesUploadForm | None = None,
    upload_errors: list | None = None,
    status: int = 200,
) -> HttpResponse:
    rates = ExchangeRate.objects.select_related("updated_by").order_by("currency", "-valid_from")
    by_currency: dict[str, list[ExchangeRate]] = {}
    for rate in rates:
        by_currency.setdefault(rate.currency, []).append(rate)
    context = {
        "company_currency": settings.COMPANY_CURRENCY,
        "by_currency": sorted(by_currency.items()),
        "may_edit": can(request.user, "exchange_rates.edit"),
        "form": form or ExchangeRateForm(),
        "upload": upload or ExchangeRatesUploadForm(),
        "upload_errors": upload_errors or [],
    }
    return render(request, "pipeline/exchange_rate_list.html", context, status=status)


@require("records.view")
def exchange_rate_list(request: HttpRequest) -> HttpResponse:
    """The company currency and the dated rates into it; ops staff add or change a rate here."""
    if request.method != "POST":
        return _exchange_rates_page(request)
    if not can(request.user, "exchange_rates.edit"):
        raise PermissionDenied("Only ops staff change exchange rates.")
    form = ExchangeRateForm(request.POST)
    if form.is_valid():
        try:
            rate = exchange_rate_set(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"{rate.currency} from {rate.valid_from:%Y-%m-%d}: {rate.rate_text}. "
                f"Amounts in {rate.currency} are reconverted.",
            )
            return redirect("pipeline:exchange-rate-list")
    return _exchange_rates_page(request, form=form, status=400)


@require_POST
@require("exchange_rates.edit")
def exchange_rate_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        exchange_rate_delete(by=request.user, rate_id=pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Rate deleted; its currency's amounts are reconverted.")
    return redirect("pipeline:exchange-rate-list")


@require_POST
@require("exchange_rates.edit")
def exchange_rate_import(request: HttpRequest) -> HttpResponse:
    """A CSV of rates, all or nothing: any bad row and every problem is listed, none applied."""
    upload = ExchangeRatesUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        return _exchange_rates_page(request, upload=upload, status=400)
    try:
        result = exchange_rates_import(by=request.user, file=upload.cleaned_data["file"])
    except ExchangeRatesRejected as exc:
        return _exchange_rates_page(request, upload=upload, upload_errors=exc.errors, status=400)
    messages.success(
        request,
        f"Rates imported: {result.created} new, {result.updated} changed, "
        f"{result.unchanged} unchanged.",
    )
    return redirect("pipeline:exchange-rate-list")


# --- Owners and regions ------------------------------------------------------------------------
# Everyone who reads records sees them; ops staff change them, with the action that lets them
# set up the systems the records come from ("systems.edit").

DIMENSIONS_EDIT = "systems.edit"


def _owners_page(
    request: HttpRequest,
    *,
    upload: OwnersUploadForm | None = None,
    upload_errors: list | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "directory": selectors.owner_directory(),
        "may_edit": can(request.user, DIMENSIONS_EDIT),
        "upload": upload or OwnersUploadForm(),
        "upload_errors": upload_errors or [],
    }
    return render(request, "pipeline/owner_list.html", context, status=status)


@require_safe
@require("records.view")
def owner_list(request: HttpRequest) -> HttpResponse:
    """The teams with their managers and owners, and the records naming each owner."""
    return _owners_page(request)


@require_POST
@require(DIMENSIONS_EDIT)
def owner_import(request: HttpRequest) -> HttpResponse:
    """An owners CSV, all or nothing: any bad row and every problem is listed, none applied."""
    upload = OwnersUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        return _owners_page(request, upload=upload, status=400)
    try:
        result = owners_import(data=upload.cleaned_data["file"].read(), by=request.user)
    except CsvRejected as exc:
        return _owners_page(request, upload=upload, upload_errors=exc.errors, status=400)
    messages.success(
        request,
        f"Owners imported: {result.created} new, {result.updated} changed, "
        f"{result.unchanged} unchanged; teams: {result.teams_created} new, "
        f"{result.teams_updated} with a new manager.",
    )
    return redirect("pipeline:owner-list")


def _regions_page(
    request: HttpRequest,
    *,
    form: RegionForm | None = None,
    edit: tuple[int, RegionForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "regions": Region.objects.prefetch_related("countries").order_by("name"),
        "unplaced": selectors.countries_in_no_region(),
        "may_edit": can(request.user, DIMENSIONS_EDIT),
        "form": form or RegionForm(),
        "edit": edit,
    }
    return render(request, "pipeline/region_list.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@require("records.view")
def region_list(request: HttpRequest) -> HttpResponse:
    """The regions and their countries; ops staff add a region here."""
    if request.method != "POST":
        return _regions_page(request)
    if not can(request.user, DIMENSIONS_EDIT):
        raise PermissionDenied("Only ops staff change regions.")
    form = RegionForm(request.POST)
    if form.is_valid():
        try:
            region = region_save(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{region.name} added.")
            return redirect("pipeline:region-list")
    return _regions_page(request, form=form, status=400)


@require_POST
@require(DIMENSIONS_EDIT)
def region_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a region or change its countries."""
    region = get_object_or_404(Region, pk=pk)
    form = RegionForm(request.POST, prefix=f"edit-{region.pk}")
    if form.is_valid():
        try:
            region_save(by=request.user, region=region, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{region.name} saved.")
            return redirect("pipeline:region-list")
    return _regions_page(request, edit=(region.pk, form), status=400)


@require_POST
@require(DIMENSIONS_EDIT)
def region_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    region = get_object_or_404(Region, pk=pk)
    region_delete(by=request.user, region=region)
    messages.success(request, f"{region.name} deleted: its countries are in no region now.")
    return redirect("pipeline:region-list")


# --- Imports ---------------------------------------------------------------------------------


@require_safe
@require("imports.view")
def import_list(request: HttpRequest) -> HttpResponse:
    import_batches_reap()  # a batch whose worker died shows failed, not running
    page = Paginator(selectors.import_batch_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "pipeline/import_list.html", {"page": page, "query": ""})


def _systems_page(
    request: HttpRequest, *, form=None, edit=None, placeholder_form=None, status: int = 200
):
    systems = SourceSystem.objects.annotate(
        batch_count=Count("batches"),
        conn_pk=F("connection__id"),
        connection_synced=F("connection__last_synced_at"),
    ).order_by(F("retired_at").asc(nulls_first=True), "name")
    return render(
        request,
        "pipeline/system_list.html",
        {
            "systems": systems,
            "form": form or SourceSystemForm(),
            "edit": edit,
            "can_edit": can(request.user, "systems.edit"),
            "missing": reconciliation.reconciliation_missing_system(),
            "vendors": Vendor.choices,
            "roles": SystemRole.choices,
            "placeholders": PlaceholderEmail.objects.all(),
            "placeholder_form": placeholder_form or PlaceholderEmailForm(),
        },
        status=status,
    )


@require_POST
@require("systems.edit")
def placeholder_list(request: HttpRequest) -> HttpResponse:
    """Add a placeholder email (everyone reads the list on the Systems page; ops edit it)."""
    form = PlaceholderEmailForm(request.POST)
    if form.is_valid():
        try:
            item = placeholder_add(by=request.user, pattern=form.cleaned_data["pattern"])
        except ValidationError as exc:
            form.add_error("pattern", exc)
        else:
            messages.success(request, f"{item.pattern} added: leads with it are no longer merged.")
            return redirect(f"{reverse('pipeline:system-list')}#placeholders")
    return _systems_page(request, placeholder_form=form, status=400)


@require_POST
@require("systems.edit")
def placeholder_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Take a placeholder email off the list: leads with it merge by it again."""
    item = get_object_or_404(PlaceholderEmail, pk=pk)
    placeholder_remove(by=request.user, item=item)
    messages.success(request, f"{item.pattern} removed: leads with it merge by it again.")
    return redirect(f"{reverse('pipeline:system-list')}#placeholders")


@require("records.view")
def system_list(request: HttpRequest) -> HttpResponse:
    """The source systems: everyone sees them; ops add one here (name, vendor and role)."""
    if request.method != "POST":
        return _systems_page(request)
    if not can(request.user, "systems.edit"):
        raise PermissionDenied("Only ops staff add source systems.")
    form = SourceSystemForm(request.POST)
    if form.is_valid():
        try:
            system = system_add(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"{system.name} added (slug {system.slug}). Import its first file next.",
            )
            return redirect(f"{reverse('pipeline:import-new')}?system={system.slug}")
    return _systems_page(request, form=form, status=400)


@require_POST
@require("systems.edit")
def system_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Rename a system, or change its vendor or role; its slug stays."""
    system = get_object_or_404(SourceSystem, slug=slug)
    form = SourceSystemForm(request.POST, prefix=f"edit-{system.pk}")
    if form.is_valid():
        try:
            system_update(by=request.user, system=system, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{system.name} saved.")
            return redirect("pipeline:system-list")
    return _systems_page(request, edit=(system.pk, form), status=400)


@require_POST
@require("systems.edit")
def system_retire_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Retire a system (its records stay; no new imports), or bring it back."""
    system = get_object_or_404(SourceSystem, slug=slug)
    retire = request.POST.get("retire") != "0"
    system_retire(by=request.user, system=system, retired=retire)
    messages.success(
        request,
        f"{system.name} retired: its records stay, it takes no new imports."
        if retire
        else f"{system.name} is back: it takes imports again.",
    )
    return redirect("pipeline:system-list")


@require("imports.run")
def import_new(request: HttpRequest) -> HttpResponse:
    # ?system=<slug or id>: the form starts on that system, offering its vendor's presets;
    # without one, on the first system the form lists, with its vendor's presets.
    active = SourceSystem.objects.filter(retired_at__isnull=True)
    given = request.GET.get("system", "")
    chosen = (
        active.filter(slug=given).first()
        or (active.filter(pk=int(given)).first() if given.isdigit() and len(given) < 10 else None)
        or active.first()
    )
    form = ImportUploadForm(
        request.POST or None,
        request.FILES or None,
        vendor=chosen.vendor if chosen else "",
        initial={"system": chosen} if chosen else None,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            if data["preset"] == NEW_MAPPING:
                # Stored without a mapping; the mapping page builds one from the file's header.
                batch = import_batch_draft_create(
                    system=data["system"],
                    object_type=data["object_type"],
                    by=request.user,
                    file_name=upload.name,
                    content=upload,
                    apply_mode=data["apply_mode"],
                    export_kind=data["export_kind"],
                )
                return redirect("pipeline:import-mapping", pk=batch.pk)
            mapping, preset = mapping_for(object_type=data["object_type"], preset=data["preset"])
            batch = import_batch_create(
                system=data["system"],
                object_type=data["object_type"],
                mapping=mapping,
                preset=preset,
                by=request.user,
                file_name=upload.name,
                content=upload,
                apply_mode=data["apply_mode"],
                export_kind=data["export_kind"],
            )
            import_batch_enqueue(batch)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("pipeline:import-detail", pk=batch.pk)
    return render(request, "pipeline/import_new.html", {"form": form})


@require("imports.run")
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch, pk=pk)
    if batch.status != BatchStatus.DRAFT:
        messages.info(request, "This import already has its mapping.")
        return redirect("pipeline:import-detail", pk=batch.pk)
    try:
        header = import_batch_draft_header(batch=batch)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("pipeline:import-detail", pk=batch.pk)
    # ?base=<built-in preset>: the form starts from it and the preset saves only the changes.
    base = request.POST.get("base", request.GET.get("base", ""))
    form = MappingForm(
        request.POST or None, object_type=batch.object_type, header=header, base=base
    )
    if request.method == "POST" and form.is_valid():
        try:
            preset = import_batch_draft_map(
                batch=batch,
                preset_name=form.cleaned_data["name"],
                mapping=form.mapping,
                by=request.user,
                mapping_data=form.mapping_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)  # a name in use shows next to the name
        else:
            messages.success(request, f"Preset “{preset.name}” saved; the file is being checked.")
            return redirect("pipeline:import-detail", pk=batch.pk)
    return render(
        request, "pipeline/import_mapping.html", {"batch": batch, "form": form, "header": header}
    )


@require("imports.run")
def import_values(request: HttpRequest, pk: int) -> HttpResponse:
    """The values a checked file holds in each choice field: ops map the unknown ones to ours,
    save them into the preset and check the same file again, in one click."""
    batch = get_object_or_404(ImportBatch.objects.select_related("system"), pk=pk)
    if batch.status == BatchStatus.DRAFT:
        return redirect("pipeline:import-mapping", pk=batch.pk)
    fields = picklists.batch_values(batch)
    needs_name = picklists.preset_needs_name(batch)
    form = ValueMapForm(
        request.POST or None,
        fields=fields,
        needs_name=needs_name,
        initial={"name": f"{batch.system.name} {batch.get_object_type_display().lower()}s"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            preset, again = picklists.import_batch_values_map(
                batch=batch,
                values=form.values(),
                by=request.user,
                preset_name=form.cleaned_data["name"],
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                form.add_error(None, exc.message_dict.get("name", exc.messages))
            else:
                form.add_error(None, exc)
        else:
            if again is None:
                messages.success(
                    request,
                    f"Values saved in the preset “{preset.name}”. This import's file was not "
                    "kept: import it again with that preset.",
                )
                return redirect("pipeline:import-detail", pk=batch.pk)
            messages.success(
                request, f"Values saved in the preset “{preset.name}”; the file is being checked."
            )
            return redirect("pipeline:import-detail", pk=again.pk)
    return render(
        request,
        "pipeline/import_values.html",
        {
            "batch": batch,
            "form": form,
            "base_label": BUILTIN_PRESETS.get(batch.preset, {}).get("label", ""),
        },
        status=400 if form.is_bound else 200,
    )


@require_safe
@require("imports.view")
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    import_batches_reap()
    batch = get_object_or_404(
        ImportBatch.objects.select_related("system", "created_by", "confirmed_by"), pk=pk
    )
    errors = batch.row_errors.all()[:200]
    preview = (batch.preview or {}).get("rows") or []
    # The preview's first cell is the row number as the problems list gives it.
    problems: dict[int, list[str]] = {}
    for row, column, message in batch.row_errors.filter(
        row__in=[r[0] for r in preview if r]
    ).values_list("row", "column", "message"):
        problems.setdefault(row, []).append(f"{column} {message}".strip() if column else message)
    earlier = None
    if batch.file_sha256:
        earlier = (
            ImportBatch.objects.filter(
                file_sha256=batch.file_sha256, system=batch.system, status=BatchStatus.APPLIED
            )
            .exclude(pk=batch.pk)
            .order_by("-created_at")
            .first()
        )
    return render(
        request,
        "pipeline/import_detail.html",
        {
            "batch": batch,
            "errors": errors,
            "preview_rows": [
                {"cells": r, "problems": problems.get(r[0], []) if r else []} for r in preview
            ],
            "preview_bad": len(problems),
            "earlier": earlier,
            # Confirming an older checked file after a newer one applied will not apply it.
            "newer": import_batch_newer_applied(batch)
            if batch.status == BatchStatus.PENDING
            else None,
            "may_run": can(request.user, "imports.run"),
            # File-wide findings (another vendor's header …) are warnings above the counts.
            "warnings": batch.row_findings.filter(row__isnull=True).order_by("id")[:10],
            "findings": [
                f for f in findings.batch_findings(batch) if f["kind"] != FindingKind.OTHER_VENDOR
            ],
            "unmapped": [v for v in (batch.preview or {}).get("values", []) if v["unknown"]],
        },
    )


@require_safe
@require("imports.view")
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the batch page's progress bar polls."""
    import_batches_reap()
    batch = get_object_or_404(ImportBatch, pk=pk)
    return JsonResponse(
        {
            "status": batch.status,
            "status_label": batch.get_status_display(),
            "phase": batch.phase,
            "progress": batch.progress,
            "finished": batch.is_finished or batch.status == BatchStatus.PENDING,
        }
    )


@require("imports.run")
@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch, pk=pk)
    try:
        import_batch_confirm(batch=batch, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("pipeline:import-detail", pk=batch.pk)


@require("imports.run")
@require_POST
def import_retry(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch, pk=pk)
    try:
        import_batch_retry(batch=batch, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Import #{batch.pk} is queued to run its file again.")
    return redirect("pipeline:import-detail", pk=batch.pk)


@require_safe
@require("imports.view")
def import_errors_csv(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch, pk=pk)
    response = HttpResponse(row_errors_csv(batch).getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-problems.csv"'
    return response


@require_safe
@require("imports.view")
def import_held_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The rows a batch held back, as the file had them, with a column saying what is wrong."""
    batch = get_object_or_404(ImportBatch, pk=pk)
    if not batch.rows_held:
        raise Http404("This import held no rows.")
    response = StreamingHttpResponse(held_rows_lines(batch), content_type="text/csv; charset=utf-8")
    stem = Path(batch.file_name or "import").stem[:80] or "import"
    response["Content-Disposition"] = f'attachment; filename="{stem}-held-rows-{batch.pk}.csv"'
    return response


@require_safe
@require("records.view")
def system_quality(request: HttpRequest, slug: str) -> HttpResponse:
    """Data-quality findings of one system, by kind, week over week."""
    system = get_object_or_404(SourceSystem, slug=slug)
    weeks = findings.quality_weeks()
    latest = (
        ImportBatch.objects.filter(system=system, status=BatchStatus.APPLIED)
        .exclude(findings={})
        .order_by("-finished_at", "-id")[:10]
    )
    return render(
        request,
        "pipeline/system_quality.html",
        {
            "system": system,
            "weeks": weeks,
            "rows": findings.quality_table(system, weeks),
            "latest": latest,
            "systems": SourceSystem.objects.exclude(pk=system.pk).order_by("name"),
        },
    )


# --- Reconciliation ------------------------------------------------------------------------------


@require_safe
@require("reconciliation.view")
def reconciliation_run_list(request: HttpRequest) -> HttpResponse:
    listing = filtered_page(
        request, ReconciliationRunFilter, selectors.reconciliation_run_list(), PAGE_SIZE
    )
    current = selectors.reconciliation_run_current()
    return render(
        request,
        "pipeline/reconciliation_run_list.html",
        {
            **listing.context,
            "current": current,
            "active": reconciliation.reconciliation_run_active(),
            "schedule": selectors.reconciliation_schedule_get(),
            "start_form": RunStartForm(),
        },
    )


@require("reconciliation.run")
@require_POST
def reconciliation_run_start(request: HttpRequest) -> HttpResponse:
    form = RunStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect("pipeline:reconciliation-run-list")
    try:
        run = reconciliation.reconciliation_start(
            by=request.user,
            trigger=ReconciliationTrigger.BROWSER,
            weeks=form.cleaned_data["weeks"],
        )
    except ValidationError as exc:
        messages.warning(request, " ".join(exc.messages))
        return redirect("pipeline:reconciliation-run-list")
    run.refresh_from_db()
    if run.status == RunStatus.COMPLETED:
        messages.success(request, f"Run #{run.pk} completed.")
    elif run.status in (RunStatus.FAILED, RunStatus.SKIPPED):
        messages.error(request, f"Run #{run.pk}: {run.message}")
    else:
        messages.success(request, f"Run #{run.pk} is queued; this page shows it when it ends.")
    return redirect("pipeline:reconciliation-run-detail", run_id=run.pk)


@require_safe
@require("reconciliation.view")
def reconciliation_run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(selectors.reconciliation_run_list(), pk=run_id)
    current = selectors.reconciliation_run_current()
    context: dict = {"run": run, "is_current": current is not None and current.pk == run.pk}
    if run.status == RunStatus.COMPLETED:
        context.update(_bridge_context(request, run))
        context["count_groups"] = _count_groups(run)
    return render(request, "pipeline/reconciliation_run_detail.html", context)


def _count_groups(run: ReconciliationRun) -> list[dict]:
    """The run's open discrepancies by object type and kind, mismatches split by field."""
    marketing = run.marketing_system.name if run.marketing_system else "marketing"
    sales = run.sales_system.name if run.sales_system else "sales"
    groups = []
    for object_type, title in ((ObjectType.LEAD, "Leads"), (ObjectType.DEAL, "Deals")):
        tiles = []
        for kind, label in (
            (DiscrepancyKind.MISSING_IN_SALES, f"Missing in {sales}"),
            (DiscrepancyKind.MISSING_IN_MARKETING, f"Missing in {marketing}"),
            (DiscrepancyKind.DUPLICATE, "Duplicates"),
        ):
            tiles.append(
                {
                    "label": label,
                    "count": run.counts.get(f"{object_type}.{kind}", 0),
                    "query": urlencode({"object_type": object_type, "kind": kind}),
                }
            )
        fields = [
            {
                "label": FIELD_LABELS[field],
                "count": run.counts.get(f"{object_type}.mismatch.{field}", 0),
                "query": urlencode(
                    {"object_type": object_type, "kind": DiscrepancyKind.MISMATCH, "field": field}
                ),
            }
            for field in RECONCILED_FIELDS[object_type]
        ]
        tiles.append(
            {
                "label": "Field mismatches",
                "count": sum(f["count"] for f in fields),
                "fields": [f for f in fields if f["count"]],
                "query": urlencode({"object_type": object_type, "kind": DiscrepancyKind.MISMATCH}),
            }
        )
        groups.append(
            {
                "title": title,
                "object_type": object_type,
                "tiles": tiles,
                "marketing_records": run.compared.get(f"{object_type}.marketing", 0),
                "sales_records": run.compared.get(f"{object_type}.sales", 0),
            }
        )
    return groups


def _bridge_context(request: HttpRequest, run: ReconciliationRun) -> dict:
    """The chosen metric's weeks, and the chosen week's bridge (default: the latest week with
    a difference), for the run detail page."""
    metric = request.GET.get("metric") or "mqls"
    errors = []
    if metric not in selectors.RECONCILED_METRICS:
        errors.append(f"There is no reconciled metric {metric!r}; showing MQLs.")
        metric = "mqls"
    weeks = selectors.metric_weeks_for_run(run, metric)
    chosen = None
    if request.GET.get("week"):
        try:
            week_start = IsoWeek.parse_input(request.GET["week"]).monday
        except ValueError as exc:
            errors.append(str(exc))
        else:
            chosen = next((w for w in weeks if w.week_start == week_start), None)
            if chosen is None:
                errors.append(
                    f"Run #{run.pk} has no bridge for {IsoWeek.of(week_start).label}: "
                    f"it covers {IsoWeek.of(run.first_week).label} to "
                    f"{IsoWeek.of(run.last_week).label}."
                )
    if chosen is None and weeks:
        # The week people meet about is the last complete one; the current week is partial.
        complete = [w for w in weeks if w.week_start < run.last_week] or weeks
        differing = [w for w in complete if w.marketing_value != w.sales_value]
        chosen = (differing or complete)[-1]
    marketing = run.marketing_system.name if run.marketing_system else "Marketing"
    sales = run.sales_system.name if run.sales_system else "Sales"
    steps = []
    figure = None
    if chosen is not None:
        week_label = IsoWeek.of(chosen.week_start).label
        for step in chosen.steps.all():
            link = None
            if step.reason in DISCREPANCY_OF_REASON:
                query = {
                    "status": "",
                    "run": run.pk,
                    "object_type": METRIC_OBJECT[metric],
                    "kind": DISCREPANCY_OF_REASON[step.reason],
                    "week": week_label,
                }
                if step.field and step.field in RECONCILED_FIELDS[METRIC_OBJECT[metric]]:
                    query["field"] = step.field
                    if step.reason == BridgeReason.OTHER_WEEK:
                        query["kind"] = DiscrepancyKind.MISMATCH
                    link = urlencode(query)
                elif step.reason != BridgeReason.OTHER_WEEK:
                    link = urlencode(query)
            steps.append(
                {
                    "label": (
                        label := charts.step_label(
                            step.reason, step.field, marketing=marketing, sales=sales
                        )
                    ),
                    # Mid-sentence: "never reached Salesforce", but "MQL date differs".
                    "sentence": label if label[1:2].isupper() else label[:1].lower() + label[1:],
                    "value": charts.format_value(metric, step.value, signed=True),
                    "records": step.records,
                    "link": link,
                }
            )
        figure = charts.waterfall_figure(
            chosen, list(chosen.steps.all()), marketing=marketing, sales=sales
        )
    return {
        "metric": metric,
        "metric_label": selectors.RECONCILED_METRICS[metric],
        "metrics": list(selectors.RECONCILED_METRICS.items()),
        "weeks": [
            {
                "row": w,
                "label": IsoWeek.of(w.week_start).label,
                "marketing": charts.format_value(metric, w.marketing_value),
                "sales": charts.format_value(metric, w.sales_value),
                "golden": charts.format_value(metric, w.golden_value),
                "difference": charts.format_value(metric, w.difference, signed=True),
                "unexplained": charts.format_value(metric, w.unexplained, signed=True),
            }
            for w in reversed(weeks)
        ],
        "chosen": chosen,
        "chosen_label": IsoWeek.of(chosen.week_start).label if chosen else "",
        "chosen_values": {
            "marketing": charts.format_value(metric, chosen.marketing_value),
            "sales": charts.format_value(metric, chosen.sales_value),
            "golden": charts.format_value(metric, chosen.golden_value),
            "unexplained": charts.format_value(metric, chosen.unexplained, signed=True),
        }
        if chosen
        else None,
        "steps": steps,
        "figure": figure,
        "bridge_errors": errors,
        "marketing_name": marketing,
        "sales_name": sales,
    }


# A bridge step's discrepancies, for its link to the list.
DISCREPANCY_OF_REASON = {
    BridgeReason.MISSING_IN_SALES: DiscrepancyKind.MISSING_IN_SALES,
    BridgeReason.MISSING_IN_MARKETING: DiscrepancyKind.MISSING_IN_MARKETING,
    BridgeReason.DUPLICATE: DiscrepancyKind.DUPLICATE,
    BridgeReason.MISMATCH: DiscrepancyKind.MISMATCH,
    BridgeReason.OTHER_WEEK: DiscrepancyKind.MISMATCH,
}
METRIC_OBJECT = {m.key: m.object_type for m in reconciliation.METRICS}


@require_safe
@require("reconciliation.view")
def reconciliation_bridge(request: HttpRequest) -> HttpResponse:
    """The bridge of a metric and week in the current run: the scorecard links here."""
    current = selectors.reconciliation_run_current()
    if current is None:
        messages.warning(request, "No reconciliation has completed yet, so there is no bridge.")
        return redirect("pipeline:reconciliation-run-list")
    query = urlencode({key: request.GET[key] for key in ("metric", "week") if request.GET.get(key)})
    url = reverse("pipeline:reconciliation-run-detail", kwargs={"run_id": current.pk})
    return redirect(f"{url}?{query}#bridge" if query else f"{url}#bridge")


def _discrepancy_filter_data(request: HttpRequest) -> QueryDict:
    # With no filter at all, the list starts at what needs fixing: the open ones.
    return request.GET if request.GET else QueryDict("status=open")


def _discrepancy_filter(request: HttpRequest) -> DiscrepancyFilter:
    return DiscrepancyFilter(
        _discrepancy_filter_data(request), queryset=selectors.discrepancy_list()
    )


@require_safe
@require("reconciliation.view")
def reconciliation_discrepancy_list(request: HttpRequest) -> HttpResponse:
    listing = filtered_page(
        request,
        DiscrepancyFilter,
        selectors.discrepancy_list(),
        PAGE_SIZE,
        data=_discrepancy_filter_data(request),
    )
    return render(
        request,
        "pipeline/discrepancy_list.html",
        {**listing.context, "query": listing.query or "status=open"},
    )


@require_safe
@require("reconciliation.view")
def reconciliation_discrepancy_export(request: HttpRequest) -> HttpResponse:
    filterset = _discrepancy_filter(request)
    if not filterset.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items())
        return HttpResponse(f"Bad filter: {errors}\n", status=400, content_type="text/plain")
    header = [
        "id",
        "status",
        "records",
        "kind",
        "field",
        "golden_key",
        "label",
        "fix_in",
        "left_system",
        "left_value",
        "right_system",
        "right_value",
        "week",
        "other_week",
        "first_seen_run",
        "first_seen_at",
        "last_seen_run",
        "last_seen_at",
        "resolved_run",
        "resolved_at",
    ]
    rows = filterset.qs.values_list(
        "id",
        "resolved_run_id",
        "object_type",
        "kind",
        "field",
        "golden_key",
        "label",
        "system__name",
        "left_system__name",
        "left_value",
        "right_system__name",
        "right_value",
        "week_start",
        "other_week_start",
        "first_seen_run_id",
        "first_seen_at",
        "last_seen_run_id",
        "last_seen_at",
        "resolved_run_id",
        "resolved_at",
    )

    def lines():
        yield header
        for row in rows.iterator(chunk_size=2000):
            row = list(row)
            row[1] = "resolved" if row[1] else "open"
            for i in (12, 13):
                row[i] = IsoWeek.of(row[i]).label if row[i] else ""
            yield row

    return csv_response(lines(), "discrepancies.csv")


@require_safe
@require("reconciliation.view")
def reconciliation_discrepancy_detail(request: HttpRequest, discrepancy_id: int) -> HttpResponse:
    discrepancy = get_object_or_404(selectors.discrepancy_list(), pk=discrepancy_id)
    records = selectors.discrepancy_records(discrepancy)
    return render(
        request,
        "pipeline/discrepancy_detail.html",
        {
            "d": discrepancy,
            "records": records,
            "field_label": FIELD_LABELS.get(discrepancy.field, discrepancy.field),
            "week_label": IsoWeek.of(discrepancy.week_start).label
            if discrepancy.week_start
            else "",
            "other_week_label": IsoWeek.of(discrepancy.other_week_start).label
            if discrepancy.other_week_start
            else "",
        },
    )


@require_safe
@require("reconciliation.view")
def reconciliation_run_export(request: HttpRequest, run_id: int) -> HttpResponse:
    """Every metric and week of one run with its bridge steps, one row per step."""
    run = get_object_or_404(ReconciliationRun, pk=run_id, status=RunStatus.COMPLETED)

    def lines():
        yield [
            "run",
            "metric",
            "week",
            "marketing_value",
            "sales_value",
            "golden_value",
            "step",
            "reason",
            "field",
            "step_value",
            "records",
            "unexplained",
        ]
        metrics = (
            run.metrics.prefetch_related(
                Prefetch("steps", queryset=BridgeStep.objects.order_by("position"))
            )
            .order_by("metric_key", "week_start")
            .iterator(chunk_size=500)
        )
        for mw in metrics:
            base = [
                run.pk,
                mw.metric_key,
                IsoWeek.of(mw.week_start).label,
                mw.marketing_value,
                mw.sales_value,
                mw.golden_value,
            ]
            for step in mw.steps.all():
                yield [*base, step.position, step.reason, step.field, step.value, step.records, ""]
            yield [*base, "", "unexplained", "", mw.unexplained, "", mw.unexplained]

    return csv_response(lines(), f"reconciliation-run-{run.pk}.csv")


@require("reconciliation.schedule")
def reconciliation_schedule(request: HttpRequest) -> HttpResponse:
    state = selectors.reconciliation_schedule_get()
    initial = {
        "enabled": state.enabled if state.exists else True,
        "at": state.at or time(2, 0),
        "days": state.days or list(range(1, 8)),
        "weeks": state.weeks,
    }
    form = ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            reconciliation.reconciliation_schedule_update(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Schedule saved.")
            return redirect("pipeline:reconciliation-run-list")
    return render(
        request, "pipeline/reconciliation_schedule.html", {"form": form, "schedule": state}
    )
