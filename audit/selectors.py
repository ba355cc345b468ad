"""Reads of the audit log: the events newest first, and each event turned into a row people can
read (who, what, when, the operation and the changed fields before → after, secrets masked)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from audit.models import EVENT_MODELS, SECRET_FIELDS, AuditEvent

OPERATIONS = {"insert": "Created", "update": "Changed", "delete": "Deleted"}
MASK = "••••••"
# A value longer than this is cut on the page (the API gives it whole).
SHOWN_CHARS = 300


@dataclass(frozen=True)
class Table:
    """One tracked table as the filter offers it."""

    key: str  # the tracked model's label, "pipeline.importbatch"
    label: str
    model: type
    event_model: type


def _label(model: type) -> str:
    if model is User.groups.through:
        return "Role membership"
    return f"{model._meta.verbose_name[:1].upper()}{model._meta.verbose_name[1:]}"


def tracked_tables() -> list[Table]:
    """Every tracked table, in the order of audit.models.TRACKED."""
    from django.apps import apps

    return [
        Table(key=key, label=_label(apps.get_model(key)), model=apps.get_model(key), event_model=em)
        for key, em in EVENT_MODELS.items()
    ]


def table_for_event_model(label: str) -> Table | None:
    """The tracked table of an event model label ("audit.MechanismEvent")."""
    for table in tracked_tables():
        if table.event_model._meta.label == label:
            return table
    return None


def event_list() -> QuerySet[AuditEvent]:
    """Every insert, update and delete of a tracked table, newest first. The baselines copied
    when the log was switched on are not changes and are left out.

    Without their data and diff: PostgreSQL then skips computing them (a JSON diff against the
    previous event) for every event it sorts, and `event_rows` reads them for one page only.
    With 100,000 events, 0.16 s a page instead of 4.4 s."""
    return (
        AuditEvent.objects.filter(pgh_label__in=list(OPERATIONS))
        .defer("pgh_data", "pgh_diff")
        .order_by("-pgh_created_at", "-pgh_id", "pgh_model")
    )


def _with_data(events: list[AuditEvent]) -> dict[str, AuditEvent]:
    """The same events with their data and diff, one query per event table on the page."""
    ids: dict[str, list[int]] = {}
    for event in events:
        ids.setdefault(event.pgh_model, []).append(event.pgh_id)
    full: dict[str, AuditEvent] = {}
    for event_model, pks in ids.items():
        for event in AuditEvent.objects.across(event_model).filter(pgh_id__in=pks):
            full[event.pgh_slug] = event
    return full


def is_secret(field: str) -> bool:
    """Columns whose values never appear in the log, whatever their table."""
    return field in SECRET_FIELDS or field.endswith("_hash") or "password" in field


@dataclass(frozen=True)
class Change:
    """One field of an event: its value before and after (None where there is no side)."""

    field: str
    label: str
    before: Any
    after: Any

    @staticmethod
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"

    @property
    def before_text(self) -> str:
        return self.text(self.before)

    @property
    def after_text(self) -> str:
        return self.text(self.after)


@dataclass(frozen=True)
class EventRow:
    """One event as the page and the API show it."""

    id: str
    created_at: datetime
    operation: str
    operation_label: str
    table: str
    table_label: str
    object_id: str | None
    object_repr: str
    object_url: str | None
    user_id: int | None
    username: str | None
    source: str | None
    url: str | None
    changes: list[Change]
    # An update whose earlier state was never recorded: only the values after it are known.
    after_only: bool = False

    @property
    def who(self) -> str:
        if self.username:
            return self.username
        if self.user_id is not None:
            return f"user #{self.user_id} (deleted)"
        return f"system · {self.source}" if self.source else "system"


def _masked(field: str, value: Any) -> Any:
    return MASK if is_secret(field) and value not in (None, "") else value


def _field_labels(model: type) -> dict[str, tuple[int, str]]:
    """Column → (position, label) for a model's fields, in the model's order."""
    return {f.column: (i, str(f.verbose_name)) for i, f in enumerate(model._meta.concrete_fields)}


def _user_columns(model: type) -> set[str]:
    """Columns that point at a user (owner_id, updated_by_id…): shown as the username."""
    return {
        f.column
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model is User and not model._meta.auto_created
    }


def _changes(
    event: AuditEvent, model: type, usernames: dict[int, str]
) -> tuple[list[Change], bool]:
    labels = _field_labels(model)
    user_columns = _user_columns(model)

    def shown(field: str, value: Any) -> Any:
        if field in user_columns and value is not None:
            return usernames.get(value, f"user #{value}")
        return _masked(field, value)

    data: dict[str, Any] = event.pgh_data or {}
    diff: dict[str, list[Any]] = event.pgh_diff or {}
    pk = model._meta.pk.column
    after_only = False
    if event.pgh_label == "update" and diff:
        items = [(field, pair[0], pair[1]) for field, pair in diff.items()]
    elif event.pgh_label == "update":
        # No earlier event of this row (it predates the log, and its baseline is gone).
        after_only = True
        items = [(field, None, value) for field, value in data.items() if field != pk]
    elif event.pgh_label == "insert":
        items = [(f, None, v) for f, v in data.items() if f != pk and v not in (None, "", [], {})]
    else:
        items = [(f, v, None) for f, v in data.items() if f != pk and v not in (None, "", [], {})]
    changes = [
        Change(
            field=field,
            label=labels.get(field, (0, field))[1],
            before=shown(field, before),
            after=shown(field, after),
        )
        for field, before, after in items
    ]
    changes.sort(key=lambda c: labels.get(c.field, (len(labels), ""))[0])
    return changes, after_only


def _describe(model: type, data: dict[str, Any], names: dict[str, dict[int, str]]) -> str:
    """A short name for the row, read from the event's own data."""
    if model is User.groups.through:
        user = names["user"].get(data.get("user_id"), f"user #{data.get('user_id')}")
        group = names["group"].get(data.get("group_id"), f"group #{data.get('group_id')}")
        return f"{user} in {group}"
    label = model._meta.label_lower
    if label == "scorecard.metricdefinition":
        return f"version {data.get('version')} of metric #{data.get('metric_id')}"
    if label == "scorecard.metrictarget":
        return f"target from {data.get('starts_on')} of metric #{data.get('metric_id')}"
    if label == "scorecard.weeklysnapshot":
        return f"week of {data.get('week_start')}"
    if label == "django_celery_beat.crontabschedule":
        parts = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        return " ".join(str(data.get(p, "*")) for p in parts) + f" ({data.get('timezone', '')})"
    if label == "django_celery_beat.intervalschedule":
        return f"every {data.get('every')} {data.get('period')}"
    if label == "mechanisms.link":
        return f"mechanism #{data.get('source_id')} → #{data.get('target_id')}"
    for key in ("name", "username", "title", "key", "statement", "file_name"):
        if data.get(key):
            return str(data[key])
    return f"#{data.get(model._meta.pk.column)}"


# Where a tracked row is shown in the app; the rest link to their admin page, if any.
PAGES: dict[str, Callable[[dict[str, Any]], tuple[str, list[Any]]]] = {
    "pipeline.importbatch": lambda d: ("pipeline:import-detail", [d["id"]]),
    "pipeline.fieldauthority": lambda d: ("pipeline:authority", []),
    "scorecard.metric": lambda d: ("scorecard:metric-detail", [d["key"]]),
    "mechanisms.mechanism": lambda d: ("mechanisms:mechanism-detail", [d["slug"]]),
    "django_celery_beat.periodictask": lambda d: ("pipeline:reconciliation-schedule", []),
    "django_celery_beat.crontabschedule": lambda d: ("pipeline:reconciliation-schedule", []),
}


def _object_url(model: type, event: AuditEvent) -> str | None:
    if event.pgh_label == "delete":
        return None
    data = event.pgh_data or {}
    label = model._meta.label_lower
    try:
        if label in PAGES:
            name, args = PAGES[label](data)
            return reverse(name, args=args)
        opts = model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[event.pgh_obj_id])
    except (NoReverseMatch, KeyError):
        return None


def event_rows(events: Iterable[AuditEvent]) -> list[EventRow]:
    """The events as rows to show: their data and diff read for these events only, user and
    group names looked up in two queries."""
    page = list(events)
    full = _with_data(page)
    events = [
        (full[e.pgh_slug], table_for_event_model(e.pgh_model)) for e in page if e.pgh_slug in full
    ]
    user_ids = {e.user_id for e, _ in events if e.user_id is not None}
    group_ids = set()
    for e, table in events:
        data = e.pgh_data or {}
        if table is None:
            continue
        if table.model is User.groups.through:
            user_ids.add(data.get("user_id"))
            group_ids.add(data.get("group_id"))
        for column in _user_columns(table.model):
            user_ids.update([data.get(column), *(e.pgh_diff or {}).get(column, [])])
    user_ids.discard(None)
    names = {
        "user": dict(User.objects.filter(pk__in=user_ids).values_list("pk", "username")),
        "group": dict(Group.objects.filter(pk__in=group_ids).values_list("pk", "name")),
    }
    rows = []
    for event, table in events:
        if table is None:  # an event table no longer tracked
            continue
        changes, after_only = _changes(event, table.model, names["user"])
        rows.append(
            EventRow(
                id=event.pgh_slug,
                created_at=event.pgh_created_at,
                operation=event.pgh_label,
                operation_label=OPERATIONS.get(event.pgh_label, event.pgh_label),
                table=table.key,
                table_label=table.label,
                object_id=event.pgh_obj_id,
                object_repr=_describe(table.model, event.pgh_data or {}, names),
                object_url=_object_url(table.model, event),
                user_id=event.user_id,
                username=names["user"].get(event.user_id),
                source=event.source,
                url=event.url,
                changes=changes,
                after_only=after_only,
            )
        )
    return rows
