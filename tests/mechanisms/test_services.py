"""Writes to mechanisms: versions, the optimistic lock, validation, links, the inspection log
and actions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from mechanisms.choices import Cadence, Direction, GoalKind, Status
from mechanisms.models import Goal, Link, Mechanism
from mechanisms.services.mechanisms import (
    EditConflict,
    GoalData,
    MechanismData,
    action_add,
    action_set_done,
    link_create,
    log_entry_add,
    log_entry_delete,
    mechanism_create,
    mechanism_restore,
    mechanism_update,
)
from mechanisms.versions import snapshot_list
from revops import markdown
from revops.permissions import Role
from tests.mechanisms.conftest import document, metric, reload

pytestmark = pytest.mark.django_db


def test_a_new_mechanism_is_version_one_with_its_goal(make_mechanism, ops_user):
    mechanism = make_mechanism(by=ops_user)
    assert (mechanism.slug, mechanism.version) == ("lead-routing", 1)
    goal = Goal.objects.get(mechanism=mechanism)
    assert (goal.kind, goal.metric.key, goal.target) == ("sla", "speed_to_lead", Decimal(4))
    [version] = snapshot_list(mechanism)
    assert (version.number, version.saved_by, version.comment) == (1, ops_user, "Created")


def test_every_save_is_a_version_saying_who_and_what_changed(make_mechanism, ops_user, make_user):
    mechanism = make_mechanism(by=ops_user)
    editor = make_user(Role.OPS, "ana")
    data = MechanismData.of(mechanism).with_changes(
        challenge="Leads go cold.", status=Status.RETIRED
    )
    saved = mechanism_update(mechanism=mechanism, data=data, by=editor, expected_version=1)
    assert saved.version == 2
    newest, oldest = snapshot_list(saved)
    assert (newest.number, oldest.number) == (2, 1)
    assert newest.saved_by == editor
    assert newest.comment == "Changed status, business challenge"
    assert newest.fields["challenge"] == "Leads go cold."
    assert oldest.fields["challenge"] == "MQLs wait **over a day** for a first touch."


def test_a_save_that_changes_nothing_is_not_a_version(make_mechanism, ops_user):
    mechanism = make_mechanism(by=ops_user)
    same = mechanism_update(
        mechanism=mechanism, data=MechanismData.of(mechanism), by=ops_user, expected_version=1
    )
    assert same.version == 1
    assert len(snapshot_list(mechanism)) == 1


def test_the_second_of_two_concurrent_saves_is_refused_and_the_first_stays(
    make_mechanism, make_user
):
    mechanism = make_mechanism()
    ana, bo = make_user(Role.OPS, "ana", first_name="Ana"), make_user(Role.OPS, "bo")
    # Both opened version 1; Ana saves first.
    opened = MechanismData.of(mechanism)
    mechanism_update(
        mechanism=mechanism,
        data=opened.with_changes(tool="Ana's tool"),
        by=ana,
        expected_version=1,
    )
    with pytest.raises(EditConflict) as refused:
        mechanism_update(
            mechanism=mechanism,
            data=opened.with_changes(adoption="Bo's adoption"),
            by=bo,
            expected_version=1,
        )
    assert "Ana saved this mechanism" in refused.value.messages[0]
    assert "(version 2) after you opened version 1" in refused.value.messages[0]
    current = reload(mechanism)
    assert (current.version, current.tool, current.adoption) == (
        2,
        "Ana's tool",
        "SDRs work the New MQL queue first.",
    )
    assert len(snapshot_list(current)) == 2


def test_restoring_an_old_version_is_itself_a_new_version(make_mechanism, ops_user):
    mechanism = make_mechanism(by=ops_user)
    data = MechanismData.of(mechanism)
    sla = data.goals[GoalKind.SLA]
    mechanism_update(
        mechanism=mechanism,
        data=data.with_changes(
            challenge="Rewritten.",
            goals={
                GoalKind.SLA: GoalData(**{**sla.__dict__, "target": Decimal(2)}),
                GoalKind.SMART: None,
            },
        ),  # fmt: skip
        by=ops_user,
        expected_version=1,
    )
    restored = mechanism_restore(mechanism=mechanism, number=1, by=ops_user, expected_version=2)
    assert restored.version == 3
    assert restored.challenge == "MQLs wait **over a day** for a first touch."
    assert Goal.objects.get(mechanism=mechanism).target == Decimal(4)
    newest = snapshot_list(restored)[0]
    assert newest.comment == "Restored version 1 — changed business challenge, SLA"
    assert [s.number for s in snapshot_list(restored)] == [3, 2, 1]


def test_restoring_brings_back_a_goal_that_was_removed_and_removes_one_that_was_added(
    make_mechanism, ops_user
):
    mechanism = make_mechanism(by=ops_user)
    smart = GoalData(
        statement="Speed to lead under 1 hour",
        metric=metric("speed_to_lead"),
        direction=Direction.AT_MOST,
        target=Decimal(1),
        due_on=date(2026, 12, 31),
        baseline=Decimal(6),
        baseline_on=date(2026, 7, 1),
    )
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(
            goals={GoalKind.SLA: None, GoalKind.SMART: smart}
        ),
        by=ops_user,
        expected_version=1,
    )
    assert list(Goal.objects.filter(mechanism=mechanism).values_list("kind", flat=True)) == [
        "smart"
    ]
    mechanism_restore(mechanism=mechanism, number=1, by=ops_user, expected_version=2)
    assert list(Goal.objects.filter(mechanism=mechanism).values_list("kind", flat=True)) == ["sla"]


def test_restore_refuses_a_stale_page_and_an_unknown_version(make_mechanism, ops_user):
    mechanism = make_mechanism(by=ops_user)
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(tool="Changed."),
        by=ops_user,
        expected_version=1,
    )
    with pytest.raises(EditConflict):
        mechanism_restore(mechanism=mechanism, number=1, by=ops_user, expected_version=1)
    with pytest.raises(ValidationError, match="has no version 9"):
        mechanism_restore(mechanism=mechanism, number=9, by=ops_user, expected_version=2)
    with pytest.raises(ValidationError, match="already the current version"):
        mechanism_restore(mechanism=mechanism, number=2, by=ops_user, expected_version=2)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "  "}, "name", "Give the mechanism a name."),
        ({"name": "x" * 121}, "name", "Keep the name to 120 characters"),
        ({"tags": ("ok", "not/ok")}, "tags", "Tags are letters, digits and hyphens"),
        ({"tags": tuple(f"t{i}" for i in range(13))}, "tags", "At most 12 tags"),
        ({"tenets": tuple(f"tenet {i}" for i in range(11))}, "tenets", "At most 10 tenets"),
        ({"tenets": ("y" * 201,)}, "tenets", "Keep each tenet to 200 characters"),
        ({"challenge": "z" * 20_001}, "challenge", "the most is 20,000"),
        ({"status": "paused"}, "status", "Unknown status"),
        ({"cadence": "daily"}, "cadence", "Unknown cadence"),
    ],
)
def test_bad_documents_are_refused_field_by_field(changes, field, message):
    with pytest.raises(ValidationError) as refused:
        mechanism_create(data=document(**changes), by=None)
    assert message in " ".join(refused.value.message_dict[field])
    assert not Mechanism.objects.exists()


def test_a_goal_needs_its_baseline_date_and_a_sane_order_of_dates():
    goal = GoalData(
        statement="Under 1 hour",
        metric=metric("speed_to_lead"),
        direction=Direction.AT_MOST,
        target=Decimal(1),
        due_on=date(2026, 6, 30),
        baseline=Decimal(6),
    )
    with pytest.raises(ValidationError, match="when the SLA's baseline was measured"):
        mechanism_create(data=document(goals={GoalKind.SLA: goal}), by=None)
    late = GoalData(**{**goal.__dict__, "baseline_on": date(2026, 7, 1)})
    with pytest.raises(ValidationError, match="baseline date is after its due date"):
        mechanism_create(data=document(goals={GoalKind.SLA: late}), by=None)


def test_names_are_unique_whatever_their_case_and_slugs_avoid_page_words(make_mechanism):
    make_mechanism("Lead Routing")
    with pytest.raises(ValidationError, match="already called"):
        make_mechanism("lead routing")
    assert make_mechanism("Map").slug == "map-2"  # /mechanisms/map/ is the map page
    assert make_mechanism("Lead-Routing!").slug == "lead-routing-2"


def test_tags_and_tenets_are_tidied():
    mechanism = mechanism_create(
        data=document(tags="Lead Flow, SLA,,sla", tenets="- First\n\n2. Second\n"), by=None
    )
    assert mechanism.tags == ["lead-flow", "sla"]
    assert mechanism.tenets == ["First", "Second"]


def test_markdown_is_stored_as_the_author_typed_it_and_sanitised_when_shown(make_mechanism):
    typed = "<script>alert(1)</script> and [x](javascript:alert(1)) **bold**"
    mechanism = make_mechanism(challenge=typed + "\r\n")
    assert reload(mechanism).challenge == typed
    html = str(markdown.render(reload(mechanism).challenge))
    assert "<script" not in html
    assert "javascript:" not in html
    assert "<strong>bold</strong>" in html


def test_an_inspection_log_entry_is_stored_as_typed(make_mechanism):
    entry = log_entry_add(
        mechanism=make_mechanism(),
        by=None,
        inspected_on=date(2026, 1, 5),
        found="MQLs < 1 hour <b>on target</b>",
        today=date(2026, 1, 6),
    )
    entry.refresh_from_db()
    assert entry.found == "MQLs < 1 hour <b>on target</b>"


def test_a_mechanism_cannot_link_to_itself(make_mechanism, ops_user):
    mechanism = make_mechanism()
    with pytest.raises(ValidationError, match="cannot be linked to itself"):
        link_create(source=mechanism, target=mechanism, by=ops_user)
    assert not Link.objects.exists()


def test_a_link_is_made_once_and_loops_are_allowed(make_mechanism, ops_user):
    capture, routing = make_mechanism("Lead Capture"), make_mechanism("Lead Routing")
    link_create(source=capture, target=routing, label="new leads", by=ops_user)
    with pytest.raises(ValidationError, match="Lead Capture already feeds Lead Routing"):
        link_create(source=capture, target=routing, by=ops_user)
    link_create(source=routing, target=capture, label="rejected leads", by=ops_user)
    assert Link.objects.count() == 2


def test_the_next_inspection_follows_the_newest_log_entry(make_mechanism, ops_user):
    today = date(2026, 3, 20)
    mechanism = make_mechanism(today=today, cadence=Cadence.MONTHLY)
    # Never inspected: the first inspection is one cadence after it started.
    assert reload(mechanism).next_inspection_on == date(2026, 4, 20)
    log_entry_add(
        mechanism=mechanism, by=ops_user, inspected_on=date(2026, 1, 31), found="ok", today=today
    )
    assert reload(mechanism).next_inspection_on == date(2026, 2, 28)  # 31 Jan + 1 month
    assert reload(mechanism).is_overdue(today)
    newest = log_entry_add(
        mechanism=mechanism,
        by=ops_user,
        inspected_on=date(2026, 3, 16),
        found="Speed to lead 3.1 h",
        changed="Added an alert",
        today=today,
    )
    current = reload(mechanism)
    assert (current.last_inspected_on, current.next_inspection_on) == (
        date(2026, 3, 16),
        date(2026, 4, 16),
    )
    assert not current.is_overdue(today)
    log_entry_delete(entry=newest, today=today)
    assert reload(mechanism).next_inspection_on == date(2026, 2, 28)


def test_changing_the_cadence_moves_the_next_inspection(make_mechanism, ops_user):
    mechanism = make_mechanism(cadence=Cadence.WEEKLY)
    log_entry_add(
        mechanism=mechanism,
        by=ops_user,
        inspected_on=timezone.localdate() - timedelta(days=10),
        found="ok",
    )
    assert reload(mechanism).is_overdue(timezone.localdate())
    mechanism = reload(mechanism)
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(cadence=Cadence.QUARTERLY),
        by=ops_user,
        expected_version=1,
    )
    assert not reload(mechanism).is_overdue(timezone.localdate())


def test_an_inspection_is_logged_once_it_has_happened_and_says_what_was_found(
    make_mechanism, ops_user
):
    mechanism = make_mechanism()
    with pytest.raises(ValidationError) as refused:
        log_entry_add(
            mechanism=mechanism,
            by=ops_user,
            inspected_on=timezone.localdate() + timedelta(days=1),
            found="  ",
        )
    assert set(refused.value.message_dict) == {"inspected_on", "found"}
    assert not mechanism.log.exists()


def test_only_active_mechanisms_are_overdue(make_mechanism, ops_user):
    mechanism = make_mechanism(status=Status.DRAFT)
    log_entry_add(
        mechanism=mechanism,
        by=ops_user,
        inspected_on=timezone.localdate() - timedelta(days=30),
        found="ok",
    )
    assert not reload(mechanism).is_overdue(timezone.localdate())


def test_ticking_an_action_records_who_and_when_and_reopening_clears_it(
    make_mechanism, ops_user, sales_lead
):
    action = action_add(
        mechanism=make_mechanism(),
        by=ops_user,
        title="  Review   territory rules ",
        assignee=sales_lead,
        due_on=date(2026, 4, 1),
    )
    assert action.title == "Review territory rules"
    action_set_done(action=action, by=sales_lead, done=True)
    action.refresh_from_db()
    assert (action.done, action.done_by) == (True, sales_lead)
    assert action.done_at is not None
    action_set_done(action=action, by=ops_user, done=False)
    action.refresh_from_db()
    assert (action.done, action.done_at, action.done_by) == (False, None, None)


def test_an_action_needs_a_title_and_an_active_assignee(make_mechanism, make_user):
    gone = make_user(Role.SALES_LEAD, "gone", is_active=False)
    with pytest.raises(ValidationError) as refused:
        action_add(
            mechanism=make_mechanism(), by=None, title=" ", assignee=gone, due_on=date(2026, 4, 1)
        )
    assert set(refused.value.message_dict) == {"title", "assignee"}
