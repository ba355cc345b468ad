"""Reads of a mechanism's versions (django-reversion revisions) and their comparison.

A version is numbered by the mechanism's `version` at that save. Its document is the
mechanism's stored fields plus the goals saved in the same revision."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils.safestring import SafeString, mark_safe
from reversion.models import Version

from mechanisms.choices import PART_FIELDS, PART_LABELS, Cadence, Direction, GoalKind, Status, Team
from mechanisms.models import Goal, Mechanism
from scorecard.formatting import format_value
from scorecard.models import Metric


@dataclass
class Snapshot:
    """One saved version of a mechanism's document."""

    number: int
    version: Version
    fields: dict[str, Any]
    goals: dict[str, dict[str, Any]]  # by goal kind

    @property
    def saved_at(self) -> datetime:
        return self.version.revision.date_created

    @property
    def saved_by(self):
        return self.version.revision.user

    @property
    def comment(self) -> str:
        return self.version.revision.comment

    def as_data(self):
        from mechanisms.services.mechanisms import mechanism_data_from_snapshot

        return mechanism_data_from_snapshot(self.fields, self.goals)


def _snapshots(mechanism: Mechanism, versions: list[Version]) -> list[Snapshot]:
    goal_type = ContentType.objects.get_for_model(Goal)
    goals_by_revision: dict[int, dict[str, dict]] = {}
    for goal_version in Version.objects.filter(
        revision_id__in=[v.revision_id for v in versions], content_type=goal_type
    ):
        stored = _fields(goal_version)
        if stored is not None:
            goals_by_revision.setdefault(goal_version.revision_id, {})[stored["kind"]] = stored
    snapshots = []
    for version in versions:
        stored = _fields(version)
        if stored is None:
            continue  # written by a model this code can no longer read
        snapshots.append(
            Snapshot(
                number=int(stored.get("version") or 0),
                version=version,
                fields=stored,
                goals=goals_by_revision.get(version.revision_id, {}),
            )
        )
    return snapshots


def _fields(version: Version) -> dict[str, Any] | None:
    try:
        return dict(version.field_dict)
    except Exception:  # reversion raises RevertError or a serializer error on old schemas
        return None


def snapshot_list(mechanism: Mechanism) -> list[Snapshot]:
    """Every version of the mechanism, newest first."""
    versions = list(
        Version.objects.get_for_object(mechanism).select_related("revision", "revision__user")
    )
    return sorted(_snapshots(mechanism, versions), key=lambda s: s.number, reverse=True)


def current_saved_at(mechanism: Mechanism) -> datetime:
    """When the current version was saved, as the history lists it (the revision's time, which
    a backdated save sets; `updated_at` also moves when an inspection is logged)."""
    version = (
        Version.objects.get_for_object(mechanism).select_related("revision").order_by("-pk").first()
    )
    return version.revision.date_created if version else mechanism.updated_at


def snapshot_get(mechanism: Mechanism, number: int) -> Snapshot | None:
    for snapshot in snapshot_list(mechanism):
        if snapshot.number == number:
            return snapshot
    return None


# --- Comparison -----------------------------------------------------------------------------


@dataclass
class CompareRow:
    """One field of two versions, side by side."""

    label: str
    left: SafeString
    right: SafeString
    changed: bool
    section: str = ""
    is_text: bool = False


_WORDS = re.compile(r"\s+|[^\s]+")


def word_diff(old: str, new: str) -> tuple[SafeString, SafeString]:
    """Two texts with what was removed marked in the first and what was added in the second,
    word by word. Escaped: the texts are shown as typed, never as HTML."""
    a, b = _WORDS.findall(old or ""), _WORDS.findall(new or "")
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        removed = html.escape("".join(a[i1:i2]))
        added = html.escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(removed)
            right.append(added)
            continue
        if removed:
            left.append(f"<del>{removed}</del>")
        if added:
            right.append(f"<ins>{added}</ins>")
    return mark_safe("".join(left)), mark_safe("".join(right))  # noqa: S308 - escaped above


def _plain(value: Any) -> SafeString:
    if value in (None, "", [], ()):
        return mark_safe('<span class="muted">—</span>')
    return mark_safe(html.escape(str(value)))


def _users(snapshots: list[Snapshot]) -> dict[int, str]:
    ids = {s.fields.get("owner_id") for s in snapshots} - {None}
    return {
        u.pk: u.get_full_name() or u.username for u in get_user_model().objects.filter(pk__in=ids)
    }


def _metrics(snapshots: list[Snapshot]) -> dict[int, Metric]:
    ids = {g.get("metric_id") for s in snapshots for g in s.goals.values()} - {None}
    return Metric.objects.in_bulk(ids)


def _goal_lines(goal: dict | None, metrics: dict[int, Metric]) -> dict[str, str]:
    if goal is None:
        return {}
    metric = metrics.get(goal.get("metric_id"))
    unit = metric.unit if metric else "count"

    def amount(raw: Any) -> str:
        if raw is None:
            return ""
        try:
            return format_value(Decimal(str(raw)), unit)
        except (InvalidOperation, ValueError):
            return str(raw)

    def day(raw: Any) -> str:
        if raw is None:
            return ""
        value = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        return value.strftime("%-d %b %Y")

    direction = goal.get("direction")
    return {
        "Statement": goal.get("statement", ""),
        "Metric": metric.name if metric else f"(metric #{goal.get('metric_id')}, since removed)",
        "Target": f"{Direction(direction).label if direction in Direction.values else ''} "
        f"{amount(goal.get('target'))}".strip(),
        "Baseline": " on ".join(
            x for x in (amount(goal.get("baseline")), day(goal.get("baseline_on"))) if x
        ),
        "Due": day(goal.get("due_on")),
    }


def _choice(choices, value: Any) -> str:
    return choices(value).label if value in choices.values else str(value or "")


def compare(left: Snapshot, right: Snapshot) -> list[CompareRow]:
    """Every field of two versions side by side, the changed ones marked; long texts with the
    words removed and added highlighted."""
    users = _users([left, right])
    metrics = _metrics([left, right])
    rows: list[CompareRow] = []

    def row(label: str, a: Any, b: Any, section: str = "") -> None:
        rows.append(CompareRow(label, _plain(a), _plain(b), a != b, section))

    def who(snapshot: Snapshot) -> str:
        owner = snapshot.fields.get("owner_id")
        return users.get(owner, f"user #{owner}") if owner else ""

    section = "Mechanism"
    row("Name", left.fields.get("name"), right.fields.get("name"), section)
    row("Summary", left.fields.get("summary"), right.fields.get("summary"), section)
    row(
        "Status",
        _choice(Status, left.fields.get("status")),
        _choice(Status, right.fields.get("status")),
        section,
    )
    row("Owner", who(left), who(right), section)
    row(
        "Team",
        _choice(Team, left.fields.get("team")),
        _choice(Team, right.fields.get("team")),
        section,
    )
    row(
        "Inspection cadence",
        _choice(Cadence, left.fields.get("cadence")),
        _choice(Cadence, right.fields.get("cadence")),
        section,
    )
    row(
        "Tags",
        ", ".join(left.fields.get("tags") or []),
        ", ".join(right.fields.get("tags") or []),
        section,
    )
    for kind in GoalKind.values:
        a_lines = _goal_lines(left.goals.get(kind), metrics)
        b_lines = _goal_lines(right.goals.get(kind), metrics)
        label = GoalKind(kind).label
        if not a_lines and not b_lines:
            row(label, "", "", label)
            continue
        for name in ("Statement", "Metric", "Target", "Baseline", "Due"):
            row(name, a_lines.get(name, ""), b_lines.get(name, ""), label)
    for part in PART_FIELDS:
        a, b = left.fields.get(part) or "", right.fields.get(part) or ""
        if a == b:
            shown = _plain(a) if not a else mark_safe(html.escape(a))
            rows.append(CompareRow(PART_LABELS[part], shown, shown, False, "The seven parts", True))
        else:
            la, rb = word_diff(a, b)
            rows.append(CompareRow(PART_LABELS[part], la, rb, True, "The seven parts", True))
    a_tenets = "\n".join(left.fields.get("tenets") or [])
    b_tenets = "\n".join(right.fields.get("tenets") or [])
    if a_tenets == b_tenets:
        shown = _plain(a_tenets) if not a_tenets else mark_safe(html.escape(a_tenets))
        rows.append(CompareRow("Tenets", shown, shown, False, "Tenets", True))
    else:
        la, rb = word_diff(a_tenets, b_tenets)
        rows.append(CompareRow("Tenets", la, rb, True, "Tenets", True))
    return rows
