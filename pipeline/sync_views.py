"""A source system's API connection: connect, test, sync now, disconnect, and its syncs.
Ops only: the page holds what signs in to the company's CRM."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from pipeline.choices import SyncTrigger
from pipeline.forms import ConnectionForm
from pipeline.models import Connection, SourceSystem, SyncRun
from pipeline.selectors import connection_freshness
from pipeline.services import sync
from revops.permissions import require

RUNS_SHOWN = 20
SECRET_FIELDS = ("token", "private_key", "password", "security_token")
# The form's fields each vendor's connection uses, in order.
VENDOR_FIELDS = {
    "hubspot": ("auth", "url", "token"),
    "salesforce": (
        "auth", "url", "username", "consumer_key", "private_key", "password", "security_token",
    ),
}  # fmt: skip
COMMON_FIELDS = ("objects_synced", "nightly", "fresh_hours")
DEFAULT_URLS = {"hubspot": sync.HUBSPOT_API, "salesforce": sync.SALESFORCE_LOGIN}


def _page(request: HttpRequest, system: SourceSystem, *, form=None, status: int = 200):
    conn = Connection.objects.filter(system=system).first()
    if form is None:
        initial = {
            "auth": conn.auth if conn else "",
            "url": conn.url if conn else DEFAULT_URLS.get(system.vendor, ""),
            "username": conn.username if conn else "",
            "consumer_key": conn.consumer_key if conn else "",
            "objects_synced": conn.objects_synced if conn else ["account", "lead", "deal"],
            "nightly": conn.nightly if conn else True,
            "fresh_hours": conn.fresh_hours if conn else 26,
        }
        form = ConnectionForm(initial=initial, vendor=system.vendor)
    runs = (
        list(SyncRun.objects.filter(connection=conn).prefetch_related("batches")[:RUNS_SHOWN])
        if conn
        else []
    )
    return render(
        request,
        "pipeline/connection.html",
        {
            "system": system,
            "conn": conn,
            "form": form,
            "fields": [
                form[name] for name in (*VENDOR_FIELDS.get(system.vendor, ()), *COMMON_FIELDS)
            ],
            "secret_fields": SECRET_FIELDS,
            "connectable": bool(form.fields["auth"].choices),
            "runs": runs,
            "active": next((r for r in runs if r.is_active), None),
            "freshness": connection_freshness(conn) if conn else None,
        },
        status=status,
    )


@require_safe
@require("systems.edit")
def connection_detail(request: HttpRequest, slug: str) -> HttpResponse:
    system = get_object_or_404(SourceSystem, slug=slug)
    return _page(request, system)


@require_POST
@require("systems.edit")
def connection_save(request: HttpRequest, slug: str) -> HttpResponse:
    system = get_object_or_404(SourceSystem, slug=slug)
    form = ConnectionForm(request.POST, vendor=system.vendor)
    if form.is_valid():
        try:
            sync.connection_save(system=system, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        else:
            messages.success(request, f"{system.name}'s connection saved. Test it next.")
            return redirect("pipeline:connection", slug=system.slug)
    return _page(request, system, form=form, status=400)


@require_POST
@require("systems.edit")
def connection_test(request: HttpRequest, slug: str) -> HttpResponse:
    conn = get_object_or_404(Connection, system__slug=slug)
    ok, message = sync.connection_test(conn)
    (messages.success if ok else messages.error)(request, message)
    return redirect("pipeline:connection", slug=slug)


@require_POST
@require("systems.edit")
def connection_sync(request: HttpRequest, slug: str) -> HttpResponse:
    conn = get_object_or_404(Connection.objects.select_related("system"), system__slug=slug)
    try:
        run = sync.sync_start(conn=conn, trigger=SyncTrigger.BROWSER, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        run.refresh_from_db()
        if run.is_active:
            messages.success(request, f"Sync #{run.pk} started: this page shows how it goes.")
        else:
            (messages.success if run.status == "succeeded" else messages.error)(
                request, f"Sync #{run.pk}: {run.get_status_display().lower()}. {run.message}"
            )
    return redirect("pipeline:connection", slug=slug)


@require_POST
@require("systems.edit")
def connection_remove(request: HttpRequest, slug: str) -> HttpResponse:
    conn = get_object_or_404(Connection.objects.select_related("system"), system__slug=slug)
    try:
        sync.connection_remove(conn=conn, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"{conn.system.name} disconnected: its credentials are deleted; its records stay.",
        )
    return redirect("pipeline:connection", slug=slug)
