"""Writes to mechanisms: the document and its versions, links, the inspection log and actions.

Pages, the API, the demo and the admin call these; each validates and explains a refusal with
a ValidationError a person can act on. A save of the document is one django-reversion revision
(the mechanism and its goals together), so every save is a version with who, when and what
changed; a restore is a save like any other."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import reversion
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from mechanisms.choices import (
    PART_FIELDS,
    PART_LABELS,
    Cadence,
    Direction,
    GoalKind,
    Status,
    Team,
)
from mechanisms.models import MAX_TAGS, MAX_TENETS, Action, Goal, Link, LogEntry, Mechanism
from mechanisms.schedule import next_inspection
from mechanisms.services.rendering import rendered_markdown_get
from revops import markdown
from scorecard.models import Metric

# Words the mechanism pages use where a slug goes: no mechanism may take them.
RESERVED_SLUGS = frozenset(
    {"map", "new", "preview", "my-actions", "actions", "links", "log-entries", "versions"}
)
TAG = re.compile(r"^[a-z0-9][a-z0-9\-]{0,39}$")
MAX_AMOUNT = Decimal("1e15")  # what Decimal(20, 4) holds, with room to spare


@dataclass(frozen=True)
class GoalData:
    """What a person sets for one goal."""

    statement: str
    metric: Metric
    direction: str
    target: Decimal
    due_on: date
    baseline: Decimal | None = None
    baseline_on: date | None = None


@dataclass(frozen=True)
class MechanismData:
    """The document of a mechanism as a person edits it: everything a version holds."""

    name: str
    summary: str = ""
    challenge: str = ""
    outputs: str = ""
    tool: str = ""
    adoption: str = ""
    inspection: str = ""
    inputs: str = ""
    iteration: str = ""
    owner: AbstractBaseUser | None = None
    team: str = Team.REVOPS
    status: str = Status.DRAFT
    cadence: str = Cadence.MONTHLY
    tags: tuple[str, ...] = ()
    tenets: tuple[str, ...] = ()
    goals: dict[str, GoalData | None] = field(default_factory=dict)  # by GoalKind

    @classmethod
    def of(cls, mechanism: Mechanism) -> MechanismData:
        """The mechanism as it stands, to change a few things and save."""
        goals = {g.kind: _goal_data(g) for g in mechanism.goals.select_related("metric")}
        return cls(
            name=mechanism.name,
            summary=mechanism.summary,
            **{name: getattr(mechanism, name) for name in PART_FIELDS},
            owner=mechanism.owner,
            team=mechanism.team,
            status=mechanism.status,
            cadence=mechanism.cadence,
            tags=tuple(mechanism.tags),
            tenets=tuple(mechanism.tenets),
            goals={kind: goals.get(kind) for kind in GoalKind.values},
        )

    def with_changes(self, **changes: Any) -> MechanismData:
        return replace(self, **changes)


def _goal_data(goal: Goal) -> GoalData:
    return GoalData(
        statement=goal.statement,
        metric=goal.metric,
        direction=goal.direction,
        target=goal.target,
        due_on=goal.due_on,
        baseline=goal.baseline,
        baseline_on=goal.baseline_on,
    )


class EditConflict(ValidationError):
    """Someone saved the mechanism after the editor opened it: their save stands, this one is
    refused. Carries the version the mechanism is at now."""

    def __init__(self, mechanism: Mechanism, expected: int) -> None:
        who = mechanism.updated_by
        name = (who.get_full_name() or who.username) if who else "someone"
        when = timezone.localtime(mechanism.updated_at).strftime("%-d %b %Y at %H:%M")
        super().__init__(
            f"{name} saved this mechanism on {when} (version {mechanism.version}) after you "
            f"opened version {expected}. Your changes were not saved, so theirs are not lost: "
            "compare the two, then edit the current version.",
            code="conflict",
        )
        self.mechanism = mechanism
        self.expected = expected


def normalise_tags(raw: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """`Lead Flow, SLA,,sla` → ("lead-flow", "sla"): lower case, words joined by hyphens,
    duplicates and blanks dropped, order kept."""
    items = raw.split(",") if isinstance(raw, str) else raw
    seen: dict[str, None] = {}
    for item in items:
        tag = re.sub(r"[\s_]+", "-", str(item).strip().lower())
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


def normalise_tenets(raw: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """One tenet per line (or list item); blank lines and list bullets dropped."""
    items = raw.splitlines() if isinstance(raw, str) else raw
    out = []
    for item in items:
        text = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", str(item)).strip()
        if text:
            out.append(text)
    return tuple(out)


def _validate(data: MechanismData, *, exclude_id: int | None) -> MechanismData:
    """The document tidied (Markdown as typed with `\\n` line endings, tags and tenets
    normalised), or a ValidationError naming each field that is wrong."""
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    name = " ".join(data.name.split())
    if not name:
        fail("name", "Give the mechanism a name.")
    elif len(name) > 120:
        fail("name", f"Keep the name to 120 characters (it has {len(name)}).")
    elif (
        Mechanism.objects.filter(name__iexact=name).exclude(pk=exclude_id).exists()
    ):  # the unique index is on lower(name): say so before the database does
        fail("name", f"Another mechanism is already called “{name}”.")
    summary = " ".join(data.summary.split())
    if len(summary) > 280:
        fail("summary", f"Keep the summary to 280 characters (it has {len(summary)}).")
    parts = {}
    for part in PART_FIELDS:
        # Stored as typed; the limit is on the text as it is rendered (each `<` of raw HTML
        # is shown as `&lt;`), so a text that passes here is always formatted.
        text = markdown.source_normalise(getattr(data, part))
        size = len(markdown.source_clean(text))
        if size > markdown.MAX_CHARS:
            fail(
                part,
                f"{PART_LABELS[part]} is {size:,} characters; the most is {markdown.MAX_CHARS:,}.",
            )
        parts[part] = text.strip("\n")
    if data.team not in Team.values:
        fail("team", f"Unknown team {data.team!r}.")
    if data.status not in Status.values:
        fail("status", f"Unknown status {data.status!r}.")
    if data.cadence not in Cadence.values:
        fail("cadence", f"Unknown cadence {data.cadence!r}.")
    if data.owner is not None and not data.owner.is_active:
        fail("owner", f"{data.owner.get_username()} is no longer active: choose another owner.")
    tags = normalise_tags(data.tags)
    bad = [t for t in tags if not TAG.match(t)]
    if bad:
        fail("tags", f"Tags are letters, digits and hyphens, up to 40 long: {', '.join(bad)}.")
    if len(tags) > MAX_TAGS:
        fail("tags", f"At most {MAX_TAGS} tags ({len(tags)} given).")
    tenets = normalise_tenets(data.tenets)
    if len(tenets) > MAX_TENETS:
        fail("tenets", f"At most {MAX_TENETS} tenets ({len(tenets)} given).")
    long = [i + 1 for i, t in enumerate(tenets) if len(t) > 200]
    if long:
        fail("tenets", f"Keep each tenet to 200 characters (tenet {long[0]} is longer).")
    goals: dict[str, GoalData | None] = {}
    for kind in GoalKind.values:
        goal = data.goals.get(kind)
        if goal is not None:
            goal = _validate_goal(kind, goal, fail)
        goals[kind] = goal
    if unknown := set(data.goals) - set(GoalKind.values):
        fail("goals", f"Unknown goal kinds: {', '.join(sorted(unknown))}.")
    if errors:
        raise ValidationError(errors)
    return replace(data, name=name, summary=summary, tags=tags, tenets=tenets, goals=goals, **parts)


def _validate_goal(kind: str, goal: GoalData, fail) -> GoalData:
    label = GoalKind(kind).label
    name = f"{kind}_goal"
    statement = " ".join(goal.statement.split())
    if not statement:
        fail(name, f"Say in one line what the {label} is.")
    elif len(statement) > 200:
        fail(name, f"Keep the {label}'s statement to 200 characters.")
    if goal.direction not in Direction.values:
        fail(name, f"The {label}'s direction must be one of {', '.join(Direction.values)}.")
    for what, amount in (("target", goal.target), ("baseline", goal.baseline)):
        if amount is not None and (not amount.is_finite() or abs(amount) >= MAX_AMOUNT):
            fail(name, f"The {label}'s {what} is not a number the scorecard can hold.")
    if goal.baseline is not None and goal.baseline_on is None:
        fail(name, f"Say when the {label}'s baseline was measured.")
    if goal.baseline_on is not None and goal.baseline_on > goal.due_on:
        fail(name, f"The {label}'s baseline date is after its due date.")
    return replace(goal, statement=statement)


def _slug_for(name: str) -> str:
    base = slugify(name)[:120] or "mechanism"
    taken = RESERVED_SLUGS | set(
        Mechanism.objects.filter(slug__startswith=base).values_list("slug", flat=True)
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _changed_labels(before: MechanismData | None, after: MechanismData) -> list[str]:
    """What a save changed, in the words of the edit page."""
    if before is None:
        return []
    labels = {
        "name": "name", "summary": "summary", "owner": "owner", "team": "team",
        "status": "status", "cadence": "cadence", "tags": "tags", "tenets": "tenets",
        **{part: PART_LABELS[part].lower() for part in PART_FIELDS},
    }  # fmt: skip
    changed = [
        label
        for name, label in labels.items()
        if _comparable(getattr(before, name)) != _comparable(getattr(after, name))
    ]
    for kind in GoalKind.values:
        if before.goals.get(kind) != after.goals.get(kind):
            changed.append(GoalKind(kind).label)
    return changed


def _comparable(value: Any) -> Any:
    if isinstance(value, AbstractBaseUser):
        return value.pk
    return value


def _write(
    mechanism: Mechanism,
    data: MechanismData,
    *,
    by: AbstractBaseUser | None,
    comment: str,
    today: date,
    when: datetime | None,
) -> Mechanism:
    """Store `data` on `mechanism` and its goals as one revision. Goals are saved before the
    mechanism: reversion serialises what it follows when the mechanism is saved."""
    was_active = mechanism.status == Status.ACTIVE and mechanism.pk is not None
    old_cadence = mechanism.cadence
    mechanism.name = data.name
    mechanism.summary = data.summary
    for part in PART_FIELDS:
        setattr(mechanism, part, getattr(data, part))
    mechanism.owner = data.owner
    mechanism.team = data.team
    mechanism.status = data.status
    mechanism.cadence = data.cadence
    mechanism.tags = list(data.tags)
    mechanism.tenets = list(data.tenets)
    mechanism.updated_by = by
    if mechanism.last_inspected_on is not None:
        mechanism.next_inspection_on = next_inspection(mechanism.last_inspected_on, data.cadence)
    elif (
        mechanism.next_inspection_on is None
        or data.cadence != old_cadence
        or (data.status == Status.ACTIVE and not was_active)
    ):
        # Never inspected: the first inspection falls one cadence after it starts running.
        mechanism.next_inspection_on = next_inspection(today, data.cadence)
    with reversion.create_revision(atomic=False):
        reversion.set_user(by)
        reversion.set_comment(comment)
        if when is not None:
            reversion.set_date_created(when)
        try:
            with transaction.atomic():
                if mechanism.pk is None:
                    mechanism.save()
                existing = {g.kind: g for g in mechanism.goals.all()}
                for kind in GoalKind.values:
                    wanted, goal = data.goals.get(kind), existing.get(kind)
                    if wanted is None:
                        if goal is not None:
                            goal.delete()
                        continue
                    goal = goal or Goal(mechanism=mechanism, kind=kind)
                    for name in (f.name for f in fields(GoalData)):
                        setattr(goal, name, getattr(wanted, name))
                    goal.save()
                mechanism.save()
                # Rendered once, here: the pages show the stored HTML.
                rendered_markdown_get(getattr(data, part) for part in PART_FIELDS)
        except IntegrityError as exc:
            if "mechanisms_mechanism_name_unique" in str(exc):
                raise ValidationError(
                    {"name": [f"Another mechanism is already called “{data.name}”."]}
                ) from None
            raise
    return mechanism


@transaction.atomic
def mechanism_create(
    *,
    data: MechanismData,
    by: AbstractBaseUser | None,
    today: date | None = None,
    when: datetime | None = None,
) -> Mechanism:
    """A new mechanism at version 1, with a slug made from its name."""
    data = _validate(data, exclude_id=None)
    mechanism = Mechanism(slug=_slug_for(data.name), created_by=by, version=1)
    if when is not None:
        mechanism.created_at = when
    return _write(
        mechanism,
        data,
        by=by,
        comment="Created",
        today=today or timezone.localdate(),
        when=when,
    )


@transaction.atomic
def mechanism_update(
    *,
    mechanism: Mechanism,
    data: MechanismData,
    by: AbstractBaseUser | None,
    expected_version: int,
    comment: str = "",
    today: date | None = None,
    when: datetime | None = None,
) -> Mechanism:
    """Save a new version of the document. `expected_version` is the version the editor
    started from: if someone saved since, EditConflict, and nothing changes. A save that
    changes nothing is not a new version."""
    current = (
        Mechanism.objects.select_for_update(of=("self",))
        .select_related("updated_by")
        .get(pk=mechanism.pk)
    )
    if current.version != expected_version:
        raise EditConflict(current, expected_version)
    data = _validate(data, exclude_id=current.pk)
    before = MechanismData.of(current)
    changed = _changed_labels(before, data)
    if not changed:
        return current
    current.version += 1
    summary = "Changed " + ", ".join(changed)
    return _write(
        current,
        data,
        by=by,
        comment=f"{comment} — {summary[0].lower()}{summary[1:]}" if comment else summary,
        today=today or timezone.localdate(),
        when=when,
    )


@transaction.atomic
def mechanism_restore(
    *,
    mechanism: Mechanism,
    number: int,
    by: AbstractBaseUser | None,
    expected_version: int,
) -> Mechanism:
    """Make version `number`'s document the current one, as a new version. Refused when the
    old version names a metric that no longer exists; an owner who has left is dropped."""
    from mechanisms.versions import snapshot_get  # versions read what this module writes

    current = (
        Mechanism.objects.select_for_update(of=("self",))
        .select_related("updated_by")
        .get(pk=mechanism.pk)
    )
    if current.version != expected_version:
        raise EditConflict(current, expected_version)
    snapshot = snapshot_get(current, number)
    if snapshot is None:
        raise ValidationError(f"{current.name} has no version {number}.")
    if number == current.version:
        raise ValidationError(f"Version {number} is already the current version.")
    data = snapshot.as_data()
    return mechanism_update(
        mechanism=current,
        data=data,
        by=by,
        expected_version=expected_version,
        comment=f"Restored version {number}",
    )


def mechanism_data_from_snapshot(fields_: dict, goals: dict[str, dict]) -> MechanismData:
    """Rebuild a document from a version's stored fields (used by restore)."""
    User = get_user_model()
    owner = None
    if fields_.get("owner_id") is not None:
        owner = User.objects.filter(pk=fields_["owner_id"], is_active=True).first()
    goal_data: dict[str, GoalData | None] = {}
    metric_ids = {g["metric_id"] for g in goals.values()}
    metrics = Metric.objects.in_bulk(metric_ids)
    for kind in GoalKind.values:
        stored = goals.get(kind)
        if stored is None:
            goal_data[kind] = None
            continue
        metric = metrics.get(stored["metric_id"])
        if metric is None:
            raise ValidationError(
                f"That version's {GoalKind(kind).label} is on a metric that no longer exists; "
                "it cannot be restored as it was."
            )
        goal_data[kind] = GoalData(
            statement=stored["statement"],
            metric=metric,
            direction=stored["direction"],
            target=Decimal(stored["target"]),
            due_on=_as_date(stored["due_on"]),
            baseline=None if stored.get("baseline") is None else Decimal(stored["baseline"]),
            baseline_on=_as_date(stored.get("baseline_on")),
        )
    return MechanismData(
        name=fields_["name"],
        summary=fields_.get("summary", ""),
        **{part: fields_.get(part, "") for part in PART_FIELDS},
        owner=owner,
        team=fields_.get("team", Team.REVOPS),
        status=fields_.get("status", Status.DRAFT),
        cadence=fields_.get("cadence", Cadence.MONTHLY),
        tags=tuple(fields_.get("tags") or ()),
        tenets=tuple(fields_.get("tenets") or ()),
        goals=goal_data,
    )


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


# --- Links ----------------------------------------------------------------------------------


@transaction.atomic
def link_create(
    *, source: Mechanism, target: Mechanism, label: str = "", by: AbstractBaseUser | None
) -> Link:
    """The output of `source` becomes an input of `target`. A mechanism cannot feed itself,
    and each pair is linked once."""
    label = " ".join(label.split())
    if source.pk == target.pk:
        raise ValidationError(
            f"{source.name} cannot be linked to itself: a link takes one mechanism's output to "
            "another's input."
        )
    if len(label) > 80:
        raise ValidationError("Keep the label to 80 characters.")
    if Link.objects.filter(source=source, target=target).exists():
        raise ValidationError(f"{source.name} already feeds {target.name}.")
    try:
        with transaction.atomic():
            return Link.objects.create(source=source, target=target, label=label, created_by=by)
    except IntegrityError:  # a concurrent request made the same link first
        raise ValidationError(f"{source.name} already feeds {target.name}.") from None


def link_delete(*, link: Link) -> None:
    link.delete()


# --- Inspection log -------------------------------------------------------------------------


def _reschedule(mechanism: Mechanism, today: date) -> None:
    """Last and next inspection from the newest log entry (one cadence after it)."""
    last = mechanism.log.aggregate(last=Max("inspected_on"))["last"]
    mechanism.last_inspected_on = last
    if last is not None:
        mechanism.next_inspection_on = next_inspection(last, mechanism.cadence)
    elif mechanism.next_inspection_on is None:
        mechanism.next_inspection_on = next_inspection(today, mechanism.cadence)
    Mechanism.objects.filter(pk=mechanism.pk).update(
        last_inspected_on=mechanism.last_inspected_on,
        next_inspection_on=mechanism.next_inspection_on,
    )


@transaction.atomic
def log_entry_add(
    *,
    mechanism: Mechanism,
    by: AbstractBaseUser | None,
    inspected_on: date,
    found: str,
    changed: str = "",
    inspected_by: AbstractBaseUser | None = None,
    today: date | None = None,
) -> LogEntry:
    """Record an inspection: what was found and what was changed because of it. The next
    inspection then falls one cadence after the newest inspection."""
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if inspected_on > today:
        errors["inspected_on"] = ["An inspection is logged once it has happened, not before."]
    found = markdown.source_normalise(found).strip("\n")
    changed = markdown.source_normalise(changed).strip("\n")
    if not found.strip():
        errors["found"] = ["Say what the inspection found (“all on target” is a finding)."]
    for name, text in (("found", found), ("changed", changed)):
        size = len(markdown.source_clean(text))
        if size > markdown.MAX_CHARS:
            errors.setdefault(name, []).append(
                f"Keep it to {markdown.MAX_CHARS:,} characters ({size:,} given)."
            )
    if errors:
        raise ValidationError(errors)
    Mechanism.objects.select_for_update().filter(pk=mechanism.pk).first()
    entry = LogEntry.objects.create(
        mechanism=mechanism,
        inspected_on=inspected_on,
        inspected_by=inspected_by or by,
        found=found,
        changed=changed,
        created_by=by,
    )
    rendered_markdown_get([found, changed])
    _reschedule(mechanism, today)
    return entry


@transaction.atomic
def log_entry_delete(*, entry: LogEntry, today: date | None = None) -> None:
    """Remove an entry logged by mistake; the schedule follows the newest one left."""
    mechanism = entry.mechanism
    Mechanism.objects.select_for_update().filter(pk=mechanism.pk).first()
    entry.delete()
    _reschedule(mechanism, today or timezone.localdate())


# --- Actions --------------------------------------------------------------------------------


@transaction.atomic
def action_add(
    *,
    mechanism: Mechanism,
    by: AbstractBaseUser | None,
    title: str,
    assignee: AbstractBaseUser,
    due_on: date,
) -> Action:
    """A step someone must take, by a date."""
    title = " ".join(title.split())
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["Say what has to be done."]
    elif len(title) > 200:
        errors["title"] = ["Keep it to 200 characters."]
    if not assignee.is_active:
        errors["assignee"] = [f"{assignee.get_username()} is no longer active."]
    if errors:
        raise ValidationError(errors)
    return Action.objects.create(
        mechanism=mechanism, title=title, assignee=assignee, due_on=due_on, created_by=by
    )


@transaction.atomic
def action_set_done(*, action: Action, by: AbstractBaseUser | None, done: bool) -> Action:
    """Tick an action off (or open it again). Who ticked it and when is kept."""
    if action.done == done:
        return action
    action.done = done
    action.done_at = timezone.now() if done else None
    action.done_by = by if done else None
    action.save(update_fields=["done", "done_at", "done_by"])
    return action


def action_delete(*, action: Action) -> None:
    action.delete()
