"""Pages of mechanisms: the list, the map, a mechanism with its inspection panel, the edit page
with its live preview, versions and their comparison, and each person's actions. Every view
checks its action in revops.permissions; writes go through mechanisms.services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from mechanisms import graph, selectors, versions
from mechanisms.charts import goal_figure
from mechanisms.choices import PARTS, Health, Status
from mechanisms.filters import MechanismFilter
from mechanisms.forms import ActionForm, LinkForm, LogEntryForm, MechanismForm, PreviewForm
from mechanisms.models import Action, Link, LogEntry, Mechanism
from mechanisms.services import mechanisms as services
from mechanisms.services.rendering import rendered_markdown_get
from revops import markdown
from revops.lists import filtered_page
from revops.permissions import can, require

PAGE_SIZE = 50


def _mechanism_or_404(slug: str) -> Mechanism:
    mechanism = selectors.mechanism_get(slug)
    if mechanism is None:
        raise Http404("No mechanism has that address.")
    return mechanism


def _errors_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _form_errors(form, exc: ValidationError) -> None:
    """A service's refusal next to the field it names (or above the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@require_safe
@require("mechanisms.view")
def mechanism_list(request: HttpRequest) -> HttpResponse:
    listing = filtered_page(request, MechanismFilter, selectors.mechanism_list(), PAGE_SIZE)
    mechanisms = list(listing.page)
    statuses = selectors.goal_statuses(g for m in mechanisms for g in m.goals.all())
    today = timezone.localdate()
    items = [
        {
            "mechanism": m,
            "goals": [statuses[g.id] for g in m.goals.all()],
            "overdue": m.is_overdue(today),
            "days_overdue": (today - m.next_inspection_on).days if m.is_overdue(today) else 0,
        }
        for m in mechanisms
    ]
    return render(
        request,
        "mechanisms/mechanism_list.html",
        {
            **listing.context,
            "items": items,
            "overdue_count": selectors.overdue_inspection_count(today=today),
            "can_edit": can(request.user, "mechanisms.edit"),
        },
    )


@require_safe
@require("mechanisms.view")
def mechanism_map(request: HttpRequest) -> HttpResponse:
    include_retired = request.GET.get("retired") == "1"
    mechanisms, links = selectors.map_data(include_retired=include_retired)
    statuses = selectors.goal_statuses(g for m in mechanisms for g in m.goals.all())
    today = timezone.localdate()
    drawing = graph.layout(
        {m.id: m.name for m in mechanisms}, [(ln.source_id, ln.target_id, ln.label) for ln in links]
    )
    nodes = []
    for m in mechanisms:
        node = drawing.nodes[m.id]
        goals = [statuses[g.id] for g in m.goals.all()]
        nodes.append(
            {
                "mechanism": m,
                "node": node,
                "goals": goals,
                "health": selectors.worst_health(goals) or "none",
                "overdue": m.is_overdue(today),
                "x": round(node.x),
                "y": round(node.y),
                "text_x": round(node.x) + 16,
                "name_lines": [
                    (line, round(node.y) + 22 + 17 * i) for i, line in enumerate(node.lines)
                ],
                "status_y": round(node.y) + 22 + 17 * len(node.lines) + 2,
                "overdue_y": round(node.y) + 22 + 17 * len(node.lines) + 18,
                "goal_lines": [
                    (status, round(node.y) + graph.NODE_H - 12 - 16 * (len(goals) - 1 - i))
                    for i, status in enumerate(goals)
                ],
            }
        )
    return render(
        request,
        "mechanisms/mechanism_map.html",
        {
            "nodes": nodes,
            "edges": [
                {
                    "edge": e,
                    "label_x": round(e.label_x),
                    "label_y": round(e.label_y),
                    "rect_x": round(e.label_x - e.label_w / 2),
                    "rect_y": round(e.label_y) - 13,
                    "rect_w": round(e.label_w),
                    "rect_h": 14 * len(e.label_lines) + 4,
                    "lines": [
                        (line, round(e.label_y) + 14 * i) for i, line in enumerate(e.label_lines)
                    ],
                }
                for e in drawing.edges
            ],
            "width": round(drawing.width),
            "height": round(drawing.height),
            "node_w": graph.NODE_W,
            "node_h": graph.NODE_H,
            "include_retired": include_retired,
            "retired_count": sum(1 for m in selectors.mechanism_list() if m.status == "retired")
            if not include_retired
            else 0,
            "health_choices": Health.choices,
            "can_edit": can(request.user, "mechanisms.edit"),
        },
    )


def _detail_context(request: HttpRequest, mechanism: Mechanism) -> dict:
    today = timezone.localdate()
    goals = list(mechanism.goals.all())
    statuses = selectors.goal_statuses(goals)
    panel = [statuses[g.id] for g in goals]
    can_edit = can(request.user, "mechanisms.edit")
    actions = list(
        mechanism.actions.select_related("assignee", "done_by").order_by("done", "due_on", "id")
    )
    log = list(selectors.log_for(mechanism)[:50])
    html = rendered_markdown_get(
        [getattr(mechanism, name) for name, _, _ in PARTS]
        + [text for entry in log for text in (entry.found, entry.changed)]
    )
    return {
        "mechanism": mechanism,
        "saved_at": versions.current_saved_at(mechanism),
        "parts": [(label, html[getattr(mechanism, name)]) for name, label, _ in PARTS],
        "panel": panel,
        "charts": {f"goal-{s.goal.kind}": goal_figure(s) for s in panel},
        "overdue": mechanism.is_overdue(today),
        "days_overdue": (today - mechanism.next_inspection_on).days
        if mechanism.is_overdue(today)
        else 0,
        "today": today,
        "incoming": mechanism.incoming.select_related("source").order_by("source__name"),
        "outgoing": mechanism.outgoing.select_related("target").order_by("target__name"),
        "log": [
            {"entry": entry, "found": html[entry.found], "changed": html[entry.changed]}
            for entry in log
        ],
        "actions": [
            {
                "action": a,
                "overdue": a.is_overdue(today),
                "can_tick": can_edit
                or (
                    a.assignee_id == request.user.pk
                    and can(request.user, "mechanisms.tick_own_actions")
                ),
            }
            for a in actions
        ],
        "open_actions": sum(1 for a in actions if not a.done),
        "overdue_actions": sum(1 for a in actions if a.is_overdue(today)),
        "can_edit": can_edit,
        "link_form": LinkForm(prefix="link") if can_edit else None,
        "log_form": LogEntryForm(prefix="log", initial={"inspected_by": request.user.pk})
        if can_edit
        else None,
        "action_form": ActionForm(prefix="action") if can_edit else None,
    }


@require_safe
@require("mechanisms.view")
def mechanism_detail(request: HttpRequest, slug: str) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    return render(request, "mechanisms/mechanism_detail.html", _detail_context(request, mechanism))


@require("mechanisms.edit")
def mechanism_new(request: HttpRequest) -> HttpResponse:
    form = MechanismForm(
        request.POST or None,
        initial={"owner": request.user.pk, "status": Status.DRAFT, "team": "revops"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            mechanism = services.mechanism_create(data=form.to_data(), by=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"{mechanism.name} is saved as version 1.")
            return redirect("mechanisms:mechanism-detail", mechanism.slug)
    return render(
        request,
        "mechanisms/mechanism_form.html",
        {"form": form, "mechanism": None},
        status=400 if request.method == "POST" else 200,
    )


@require("mechanisms.edit")
def mechanism_edit(request: HttpRequest, slug: str) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    conflict = None
    if request.method == "POST":
        form = MechanismForm(request.POST)
        if form.is_valid():
            expected = form.cleaned_data.get("version")
            try:
                if expected is None:
                    raise ValidationError(
                        "The form did not say which version you edited; reload the page and "
                        "make your changes again."
                    )
                saved = services.mechanism_update(
                    mechanism=mechanism,
                    data=form.to_data(),
                    by=request.user,
                    expected_version=expected,
                )
            except services.EditConflict as exc:
                conflict = exc
                form.add_error(None, exc)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                if saved.version == mechanism.version:
                    messages.info(request, "Nothing changed, so no new version was saved.")
                else:
                    messages.success(request, f"Saved {saved.name} as version {saved.version}.")
                return redirect("mechanisms:mechanism-detail", saved.slug)
        status = 409 if conflict else 400
    else:
        form = MechanismForm(initial=MechanismForm.initial_for(mechanism))
        status = 200
    return render(
        request,
        "mechanisms/mechanism_form.html",
        {"form": form, "mechanism": mechanism, "conflict": conflict},
        status=status,
    )


@require_POST
@require("mechanisms.edit")
def markdown_preview(request: HttpRequest) -> JsonResponse:
    """The live preview: Markdown in, sanitised HTML out, exactly as the page will show it."""
    form = PreviewForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": " ".join(form.errors.get("text", ["Too long."]))}, status=400)
    return JsonResponse({"html": str(markdown.render(form.cleaned_data["text"]))})


@require_safe
@require("mechanisms.view")
def mechanism_history(request: HttpRequest, slug: str) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    snapshots = versions.snapshot_list(mechanism)
    return render(
        request,
        "mechanisms/mechanism_history.html",
        {
            "mechanism": mechanism,
            "snapshots": snapshots,
            "can_edit": can(request.user, "mechanisms.edit"),
        },
    )


def _number(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


@require_safe
@require("mechanisms.view")
def mechanism_compare(request: HttpRequest, slug: str) -> HttpResponse:
    """Two versions side by side: `?a=3&b=7` (the older one is always shown on the left)."""
    mechanism = _mechanism_or_404(slug)
    snapshots = {s.number: s for s in versions.snapshot_list(mechanism)}
    a, b = _number(request.GET.get("a")), _number(request.GET.get("b"))
    if a is None or b is None or a not in snapshots or b not in snapshots:
        messages.error(
            request,
            "Choose two versions to compare"
            + (f": this mechanism has versions 1 to {mechanism.version}." if snapshots else "."),
        )
        return redirect("mechanisms:mechanism-history", mechanism.slug)
    left, right = sorted((snapshots[a], snapshots[b]), key=lambda s: s.number)
    # Only what differs: a document of forty fields with two changed is read for the two.
    rows = [row for row in versions.compare(left, right) if row.changed]
    return render(
        request,
        "mechanisms/mechanism_compare.html",
        {
            "mechanism": mechanism,
            "left": left,
            "right": right,
            "rows": rows,
            "changed": len(rows),
            "numbers": sorted(snapshots, reverse=True),
            "can_edit": can(request.user, "mechanisms.edit"),
        },
    )


@require_POST
@require("mechanisms.edit")
def mechanism_restore(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    expected = _number(request.POST.get("version"))
    try:
        restored = services.mechanism_restore(
            mechanism=mechanism,
            number=number,
            by=request.user,
            expected_version=expected if expected is not None else -1,
        )
    except ValidationError as exc:
        messages.error(request, f"Version {number} was not restored. {_errors_text(exc)}")
        return redirect("mechanisms:mechanism-history", mechanism.slug)
    if restored.version == mechanism.version:
        messages.info(request, f"Version {number} is the same as the current one; nothing changed.")
    else:
        messages.success(request, f"Restored version {number} as version {restored.version}.")
    return redirect("mechanisms:mechanism-detail", mechanism.slug)


@require_POST
@require("mechanisms.edit")
def link_add(request: HttpRequest, slug: str) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    form = LinkForm(request.POST, prefix="link")
    if form.is_valid():
        other = form.cleaned_data["other"]
        source, target = (
            (mechanism, other)
            if form.cleaned_data["direction"] == LinkForm.FEEDS
            else (other, mechanism)
        )
        try:
            services.link_create(
                source=source, target=target, label=form.cleaned_data["label"], by=request.user
            )
        except ValidationError as exc:
            messages.error(request, f"The link was not added. {_errors_text(exc)}")
        else:
            messages.success(request, f"Linked: {source.name} → {target.name}.")
    else:
        messages.error(request, "The link was not added: choose a direction and a mechanism.")
    return redirect(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]) + "#links")


@require_POST
@require("mechanisms.edit")
def link_delete(request: HttpRequest, slug: str, link_id: int) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    link = get_object_or_404(
        Link.objects.select_related("source", "target").filter(
            Q(source=mechanism) | Q(target=mechanism)
        ),
        pk=link_id,
    )
    services.link_delete(link=link)
    messages.success(request, f"Removed the link {link.source.name} → {link.target.name}.")
    return redirect(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]) + "#links")


@require_POST
@require("mechanisms.edit")
def log_add(request: HttpRequest, slug: str) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    form = LogEntryForm(request.POST, prefix="log")
    if form.is_valid():
        try:
            entry = services.log_entry_add(
                mechanism=mechanism,
                by=request.user,
                inspected_on=form.cleaned_data["inspected_on"],
                inspected_by=form.cleaned_data["inspected_by"] or request.user,
                found=form.cleaned_data["found"],
                changed=form.cleaned_data["changed"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            mechanism.refresh_from_db()
            messages.success(
                request,
                f"Inspection of {entry.inspected_on:%-d %b %Y} logged; the next one is due "
                f"{mechanism.next_inspection_on:%-d %b %Y}.",
            )
            return redirect(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]) + "#log")
    context = _detail_context(request, mechanism)
    context["log_form"] = form
    context["open_log_form"] = True
    return render(request, "mechanisms/mechanism_detail.html", context, status=400)


@require_POST
@require("mechanisms.edit")
def log_delete(request: HttpRequest, slug: str, entry_id: int) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    entry = get_object_or_404(LogEntry, pk=entry_id, mechanism=mechanism)
    services.log_entry_delete(entry=entry)
    messages.success(request, f"Removed the inspection of {entry.inspected_on:%-d %b %Y}.")
    return redirect(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]) + "#log")


@require_POST
@require("mechanisms.edit")
def action_add(request: HttpRequest, slug: str) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    form = ActionForm(request.POST, prefix="action")
    if form.is_valid():
        try:
            action = services.action_add(
                mechanism=mechanism,
                by=request.user,
                title=form.cleaned_data["title"],
                assignee=form.cleaned_data["assignee"],
                due_on=form.cleaned_data["due_on"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            who = action.assignee.get_full_name() or action.assignee.username
            messages.success(request, f"Action for {who} added, due {action.due_on:%-d %b %Y}.")
            return redirect(
                reverse("mechanisms:mechanism-detail", args=[mechanism.slug]) + "#actions"
            )
    context = _detail_context(request, mechanism)
    context["action_form"] = form
    context["open_action_form"] = True
    return render(request, "mechanisms/mechanism_detail.html", context, status=400)


@require_POST
@require("mechanisms.view")
def action_tick(request: HttpRequest, action_id: int) -> HttpResponse:
    """Tick an action off or reopen it: ops staff any, everyone else their own."""
    action = get_object_or_404(Action.objects.select_related("mechanism"), pk=action_id)
    own = action.assignee_id == request.user.pk and can(request.user, "mechanisms.tick_own_actions")
    if not (own or can(request.user, "mechanisms.edit")):
        raise PermissionDenied("Only the assignee or ops staff may tick this action off.")
    done = request.POST.get("done") in ("1", "on", "true")
    services.action_set_done(action=action, by=request.user, done=done)
    messages.success(request, f"“{action.title}” {'done' if done else 'reopened'}.")
    back = request.POST.get("next", "")
    if back == "my-actions":
        return redirect("mechanisms:my-actions")
    return redirect(
        reverse("mechanisms:mechanism-detail", args=[action.mechanism.slug]) + "#actions"
    )


@require_POST
@require("mechanisms.edit")
def action_delete(request: HttpRequest, slug: str, action_id: int) -> HttpResponse:
    mechanism = _mechanism_or_404(slug)
    action = get_object_or_404(Action, pk=action_id, mechanism=mechanism)
    services.action_delete(action=action)
    messages.success(request, f"Removed “{action.title}”.")
    return redirect(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]) + "#actions")


@require_safe
@require("mechanisms.view")
def my_actions(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    if show not in ("open", "done", "all"):
        show = "open"
    today = timezone.localdate()
    page = Paginator(selectors.action_list_for(request.user, show=show), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "mechanisms/my_actions.html",
        {
            "page": page,
            "rows": [{"action": a, "overdue": a.is_overdue(today)} for a in page],
            "show": show,
            "counts": selectors.action_counts_for(request.user, today=today),
            "query": f"show={show}",
        },
    )
