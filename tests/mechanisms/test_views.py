"""Mechanism pages: who sees and does what, the edit form and its refusals, sanitised display,
the live preview, the scorecard footer and everyone's actions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mechanisms.choices import Status
from mechanisms.models import Action, Link, LogEntry, Mechanism
from mechanisms.services.mechanisms import (
    MechanismData,
    action_add,
    link_create,
    log_entry_add,
    mechanism_create,
    mechanism_update,
)
from revops.permissions import Role
from revops.weeks import IsoWeek
from tests.mechanisms.conftest import document, reload

pytestmark = pytest.mark.django_db

READERS = [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD]


def form_data(mechanism: Mechanism, **changes) -> dict:
    """What the edit page posts back when nothing is touched, with `changes` typed in."""
    data = {
        "version": mechanism.version,
        "name": mechanism.name,
        "summary": mechanism.summary,
        "owner": mechanism.owner_id or "",
        "team": mechanism.team,
        "status": mechanism.status,
        "cadence": mechanism.cadence,
        "tags": ", ".join(mechanism.tags),
        "tenets": "\n".join(mechanism.tenets),
        "challenge": mechanism.challenge,
        "outputs": mechanism.outputs,
        "tool": mechanism.tool,
        "adoption": mechanism.adoption,
        "inspection": mechanism.inspection,
        "inputs": mechanism.inputs,
        "iteration": mechanism.iteration,
    }
    for goal in mechanism.goals.select_related("metric"):
        data.update(
            {
                f"{goal.kind}_statement": goal.statement,
                f"{goal.kind}_metric": goal.metric.key,
                f"{goal.kind}_direction": goal.direction,
                f"{goal.kind}_target": str(goal.target),
                f"{goal.kind}_due_on": goal.due_on.isoformat(),
            }
        )
    data.update(changes)
    return data


@pytest.mark.parametrize("role", [*READERS, Role.OPS])
def test_every_role_reads_the_list_the_map_a_mechanism_and_its_history(
    make_mechanism, client_as, role
):
    mechanism = make_mechanism()
    client = client_as(role)
    for url in (
        reverse("mechanisms:mechanism-list"),
        reverse("mechanisms:mechanism-map"),
        reverse("mechanisms:mechanism-detail", args=[mechanism.slug]),
        reverse("mechanisms:mechanism-history", args=[mechanism.slug]),
        reverse("mechanisms:my-actions"),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "Lead Routing" in page.text or url.endswith("my-actions/")


def test_a_user_without_a_role_reads_no_mechanism(make_mechanism, client_as):
    mechanism = make_mechanism()
    client = client_as(None)
    assert client.get(reverse("mechanisms:mechanism-list")).status_code == 403
    assert (
        client.get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug])).status_code == 403
    )


@pytest.mark.parametrize("role", READERS)
def test_readers_see_no_edit_controls(make_mechanism, client_as, role, ops_user):
    mechanism = make_mechanism()
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(tool="New tool."),
        by=ops_user,
        expected_version=1,
    )
    client = client_as(role)
    detail = client.get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug])).text
    main = detail[detail.index('<main class="page">') :]  # the header's sign-out form aside
    assert "Lead Routing" in main
    assert "New tool." in main
    for control in ("Edit</a>", "Log an inspection", "Add an action", "Link a mechanism",
                    "unlink", "Remove", "csrfmiddlewaretoken"):  # fmt: skip
        assert control not in main, control
    listing = client.get(reverse("mechanisms:mechanism-list")).text
    assert "New mechanism" not in listing
    history = client.get(reverse("mechanisms:mechanism-history", args=[mechanism.slug])).text
    assert "Restore" not in history
    compare = client.get(
        reverse("mechanisms:mechanism-compare", args=[mechanism.slug]), {"a": 1, "b": 2}
    ).text
    assert "Restore version" not in compare


@pytest.mark.parametrize("role", READERS)
def test_readers_are_refused_every_write_with_403(make_mechanism, client_as, role, make_user):
    mechanism = make_mechanism()
    other = make_mechanism("Lead Capture")
    link = link_create(source=other, target=mechanism, by=None)
    entry = log_entry_add(mechanism=mechanism, by=None, inspected_on=date(2026, 1, 5), found="ok")
    someone = make_user(Role.OPS, "someone")
    action = action_add(
        mechanism=mechanism, by=None, title="Do it", assignee=someone, due_on=date(2026, 1, 9)
    )
    client = client_as(role)
    slug = mechanism.slug
    attempts = [
        ("get", reverse("mechanisms:mechanism-new"), {}),
        ("post", reverse("mechanisms:mechanism-new"), {"name": "Sneaky"}),
        ("get", reverse("mechanisms:mechanism-edit", args=[slug]), {}),
        ("post", reverse("mechanisms:mechanism-edit", args=[slug]), form_data(mechanism)),
        ("post", reverse("mechanisms:mechanism-preview"), {"text": "hi"}),
        ("post", reverse("mechanisms:mechanism-restore", args=[slug, 1]), {"version": 1}),
        ("post", reverse("mechanisms:mechanism-link-add", args=[slug]), {}),
        ("post", reverse("mechanisms:mechanism-link-delete", args=[slug, link.pk]), {}),
        ("post", reverse("mechanisms:mechanism-log-add", args=[slug]), {}),
        ("post", reverse("mechanisms:mechanism-log-delete", args=[slug, entry.pk]), {}),
        ("post", reverse("mechanisms:mechanism-action-add", args=[slug]), {}),
        ("post", reverse("mechanisms:mechanism-action-delete", args=[slug, action.pk]), {}),
        ("post", reverse("mechanisms:mechanism-action-tick", args=[action.pk]), {"done": "1"}),
    ]
    for method, url, data in attempts:
        assert getattr(client, method)(url, data).status_code == 403, url
    assert Mechanism.objects.count() == 2
    assert (Link.objects.count(), LogEntry.objects.count()) == (1, 1)
    assert not Action.objects.get().done


def test_ops_create_a_mechanism_in_the_browser_form(client_as):
    client = client_as(Role.OPS)
    assert client.get(reverse("mechanisms:mechanism-new")).status_code == 200
    response = client.post(
        reverse("mechanisms:mechanism-new"),
        {
            "name": "Lead Capture",
            "team": "marketing",
            "status": "draft",
            "cadence": "weekly",
            "challenge": "Leads get lost.",
            "tags": "lead-flow",
            "sla_statement": "150 leads a week",
            "sla_metric": "leads_created",
            "sla_target": "150",
            "sla_due_on": "2026-12-31",
        },
    )
    mechanism = Mechanism.objects.get()
    assert response.url == reverse("mechanisms:mechanism-detail", args=["lead-capture"])
    goal = mechanism.goals.get()
    # The direction was left empty: it follows the metric (more leads is better).
    assert (goal.kind, goal.direction, str(goal.target)) == ("sla", "at_least", "150.0000")


def test_the_form_explains_what_a_half_filled_goal_lacks(client_as):
    response = client_as(Role.OPS).post(
        reverse("mechanisms:mechanism-new"),
        {"name": "X", "team": "revops", "status": "draft", "cadence": "weekly",
         "smart_statement": "Speed to lead under 1 hour"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Nothing was saved" in response.text
    assert response.text.count("The SMART goal needs this.") == 3  # metric, target, due date
    assert 'value="Speed to lead under 1 hour"' in response.text  # what was typed is kept
    assert not Mechanism.objects.exists()


def test_ops_edit_and_the_edit_page_shows_the_guiding_questions(make_mechanism, client_as):
    mechanism = make_mechanism()
    client = client_as(Role.OPS)
    page = client.get(reverse("mechanisms:mechanism-edit", args=[mechanism.slug])).text
    assert "Who benefits? What outcome is undesirable today, and what is its impact?" in page
    assert "How can it be quantified?" in page
    response = client.post(
        reverse("mechanisms:mechanism-edit", args=[mechanism.slug]),
        form_data(mechanism, tool="A new tool."),
    )
    assert response.status_code == 302
    assert (reload(mechanism).version, reload(mechanism).tool) == (2, "A new tool.")


def test_a_second_editor_is_refused_with_a_clear_message_and_keeps_their_text(
    make_mechanism, make_user
):
    mechanism = make_mechanism()
    ana = Client()
    ana.force_login(make_user(Role.OPS, "ana", first_name="Ana", last_name="Lima"))
    bo = Client()
    bo.force_login(make_user(Role.OPS, "bo"))
    opened = form_data(mechanism)  # both open version 1
    url = reverse("mechanisms:mechanism-edit", args=[mechanism.slug])
    assert ana.post(url, {**opened, "tool": "Ana's tool."}).status_code == 302
    refused = bo.post(url, {**opened, "adoption": "Bo's adoption text."})
    assert refused.status_code == 409
    assert "Not saved: someone else saved first." in refused.text
    assert "Ana Lima saved this mechanism" in refused.text
    assert "Bo&#x27;s adoption text." in refused.text  # still in the form, not lost
    assert "?a=1&amp;b=2" in refused.text  # a link to what Ana changed
    current = reload(mechanism)
    assert (current.version, current.tool) == (2, "Ana's tool.")
    assert current.adoption == "SDRs work the New MQL queue first."


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert('pwned')</script>",
        "[click](javascript:alert('pwned'))",
        "<img src=x onerror=\"alert('pwned')\">",
        "<svg onload=\"alert('pwned')\"><script>alert('pwned')</script></svg>",
    ],
)
def test_stored_script_is_neutralised_on_the_page(make_mechanism, client_as, payload):
    mechanism = make_mechanism()
    # Written around the service (as an old row or a raw SQL fix would be): display alone
    # must make it safe.
    Mechanism.objects.filter(pk=mechanism.pk).update(challenge=payload, iteration=payload)
    log_entry_add(mechanism=mechanism, by=None, inspected_on=date(2026, 1, 5), found=payload)
    LogEntry.objects.filter(mechanism=mechanism).update(found=payload)
    html = (
        client_as(Role.EXECUTIVE)
        .get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]))
        .text
    )
    body = html[html.index('<main class="page">') :]
    assert "<script>alert" not in body
    assert "<svg onload" not in body
    assert "<img src=x" not in body
    assert 'href="javascript:' not in body


def test_the_preview_returns_sanitised_html_to_ops_only(client_as):
    url = reverse("mechanisms:mechanism-preview")
    ops = client_as(Role.OPS)
    answer = ops.post(url, {"text": "**bold** <script>x()</script> [a](javascript:y())"})
    assert answer.json() == {
        "html": "<p><strong>bold</strong> &lt;script&gt;x()&lt;/script&gt; "
        '<a href="#" rel="noopener noreferrer nofollow">a</a></p>'
    }
    assert ops.get(url).status_code == 405
    too_long = ops.post(url, {"text": "x" * 20_001})
    assert too_long.status_code == 400
    assert "20000" in too_long.json()["error"]


def test_the_preview_needs_a_csrf_token(ops_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops_user)
    assert client.post(reverse("mechanisms:mechanism-preview"), {"text": "x"}).status_code == 403


def test_compare_shows_two_versions_side_by_side_with_the_words_that_changed(
    make_mechanism, client_as
):
    mechanism = make_mechanism()
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(
            challenge="MQLs wait over a week for a first touch.", status=Status.RETIRED
        ),
        by=None,
        expected_version=1,
    )
    page = client_as(Role.EXECUTIVE).get(
        reverse("mechanisms:mechanism-compare", args=[mechanism.slug]), {"a": 2, "b": 1}
    )
    html = page.text
    assert "Version 1 and version 2" in html  # the older version on the left
    # Word by word: "**over a day**" became "over a week".
    assert "<del>**over</del> a <del>day**</del>" in html
    assert "<ins>over</ins> a <ins>week</ins>" in html
    status_row = html[html.index('data-field="Mechanism: Status"') :].split("</tr>")[0]
    assert "changed" in status_row
    assert "Active" in status_row
    assert "Retired" in status_row
    assert page.context["changed"] == 2


def test_compare_without_two_known_versions_goes_back_to_the_history(make_mechanism, client_as):
    mechanism = make_mechanism()
    response = client_as(Role.EXECUTIVE).get(
        reverse("mechanisms:mechanism-compare", args=[mechanism.slug]), {"a": "1", "b": "x"}
    )
    assert response.url == reverse("mechanisms:mechanism-history", args=[mechanism.slug])


def test_ops_restore_from_the_history_page(make_mechanism, client_as):
    mechanism = make_mechanism()
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(tool="Changed."),
        by=None,
        expected_version=1,
    )
    client = client_as(Role.OPS)
    url = reverse("mechanisms:mechanism-restore", args=[mechanism.slug, 1])
    stale = client.post(url, {"version": 1}, follow=True)
    assert "Version 1 was not restored." in stale.text
    done = client.post(url, {"version": 2}, follow=True)
    assert "Restored version 1 as version 3." in done.text
    assert reload(mechanism).tool == "Salesforce assignment rules."


def test_a_link_to_itself_is_refused_on_the_page(make_mechanism, client_as):
    mechanism = make_mechanism()
    response = client_as(Role.OPS).post(
        reverse("mechanisms:mechanism-link-add", args=[mechanism.slug]),
        {"link-direction": "feeds", "link-other": mechanism.slug, "link-label": "loop"},
        follow=True,
    )
    assert "The link was not added. Lead Routing cannot be linked to itself" in response.text
    assert not Link.objects.exists()


def test_ops_link_log_and_add_actions_from_the_page(make_mechanism, client_as, sales_lead):
    mechanism, capture = make_mechanism(), make_mechanism("Lead Capture")
    client = client_as(Role.OPS)
    slug = mechanism.slug
    client.post(
        reverse("mechanisms:mechanism-link-add", args=[slug]),
        {"link-direction": "fed_by", "link-other": capture.slug, "link-label": "new leads"},
    )
    assert Link.objects.get().source == capture
    today = timezone.localdate()
    client.post(
        reverse("mechanisms:mechanism-log-add", args=[slug]),
        {"log-inspected_on": today.isoformat(), "log-inspected_by": sales_lead.pk,
         "log-found": "Median 3.2 h", "log-changed": "Alert added"},
    )  # fmt: skip
    entry = LogEntry.objects.get()
    assert (entry.inspected_by, entry.found) == (sales_lead, "Median 3.2 h")
    assert reload(mechanism).next_inspection_on == today + timedelta(days=7)
    client.post(
        reverse("mechanisms:mechanism-action-add", args=[slug]),
        {"action-title": "Review rules", "action-assignee": sales_lead.pk,
         "action-due_on": "2026-12-01"},
    )  # fmt: skip
    assert Action.objects.get().assignee == sales_lead


def test_a_future_inspection_is_refused_with_the_form_still_filled(make_mechanism, client_as):
    mechanism = make_mechanism()
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = client_as(Role.OPS).post(
        reverse("mechanisms:mechanism-log-add", args=[mechanism.slug]),
        {"log-inspected_on": tomorrow.isoformat(), "log-found": "Looks fine"},
    )
    assert response.status_code == 400
    assert "once it has happened" in response.text
    assert "Looks fine" in response.text
    assert not LogEntry.objects.exists()


def test_the_assignee_ticks_off_their_own_action_but_no_one_elses(
    make_mechanism, client_as, make_user
):
    mechanism = make_mechanism()
    sasha = make_user(Role.SALES_LEAD, "sasha")
    mine = action_add(
        mechanism=mechanism, by=None, title="Mine", assignee=sasha, due_on=date(2026, 1, 9)
    )
    theirs = action_add(
        mechanism=mechanism,
        by=None,
        title="Theirs",
        assignee=make_user(Role.MARKETING_LEAD, "mina"),
        due_on=date(2026, 1, 9),
    )
    client = Client()
    client.force_login(sasha)
    detail = client.get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug])).text
    assert f'action="{reverse("mechanisms:mechanism-action-tick", args=[mine.pk])}"' in detail
    assert f'action="{reverse("mechanisms:mechanism-action-tick", args=[theirs.pk])}"' not in (
        detail
    )
    tick = reverse("mechanisms:mechanism-action-tick", args=[mine.pk])
    assert client.post(tick, {"done": "1", "next": "my-actions"}).url == reverse(
        "mechanisms:my-actions"
    )
    mine.refresh_from_db()
    assert (mine.done, mine.done_by) == (True, sasha)
    other = reverse("mechanisms:mechanism-action-tick", args=[theirs.pk])
    assert client.post(other, {"done": "1"}).status_code == 403


def test_my_actions_lists_each_persons_open_actions_overdue_first(make_mechanism, make_user):
    mechanism = make_mechanism()
    sasha = make_user(Role.SALES_LEAD, "sasha")
    today = timezone.localdate()
    for title, due in (("Later", 10), ("Late", -3), ("Soon", 2)):
        action_add(
            mechanism=mechanism, by=None, title=title, assignee=sasha,
            due_on=today + timedelta(days=due),
        )  # fmt: skip
    action_add(
        mechanism=mechanism, by=None, title="Not mine", assignee=make_user(Role.OPS, "o"),
        due_on=today,
    )  # fmt: skip
    client = Client()
    client.force_login(sasha)
    page = client.get(reverse("mechanisms:my-actions"))
    assert [row["action"].title for row in page.context["rows"]] == ["Late", "Soon", "Later"]
    assert page.context["counts"] == {"open": 3, "overdue": 1}
    assert "1 overdue" in page.text


def test_the_list_flags_overdue_inspections_and_filters_them(make_mechanism, client_as):
    late = make_mechanism("Lead Capture")
    make_mechanism("Lead Routing")
    log_entry_add(
        mechanism=late,
        by=None,
        inspected_on=timezone.localdate() - timedelta(days=12),
        found="ok",
    )  # weekly: due 5 days ago
    client = client_as(Role.EXECUTIVE)
    listing = client.get(reverse("mechanisms:mechanism-list"))
    assert "1 active mechanism is overdue for inspection." in listing.text
    assert "Overdue 5 days" in listing.text
    overdue = client.get(reverse("mechanisms:mechanism-list"), {"overdue": "true"})
    assert [i["mechanism"].name for i in overdue.context["items"]] == ["Lead Capture"]
    bad = client.get(reverse("mechanisms:mechanism-list"), {"status": "paused"})
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.text


def test_the_list_page_reads_a_fixed_number_of_queries(
    make_mechanism, client_as, django_assert_max_num_queries
):
    client = client_as(Role.EXECUTIVE)
    for i in range(8):
        make_mechanism(f"Mechanism {i}")
    url = reverse("mechanisms:mechanism-list")
    client.get(url)
    # Session, user, roles, count, mechanisms, goals, overdue count, and the scorecard's reads
    # of the goals' metric (snapshot values, definitions, targets, the live computation):
    # none of it grows with the number of mechanisms.
    with django_assert_max_num_queries(22):
        assert client.get(url).status_code == 200


def test_the_scorecard_footer_counts_overdue_mechanisms_without_going_stale(
    make_mechanism, client_as
):
    from scorecard.services.snapshots import scorecard_backfill

    scorecard_backfill(weeks=13)
    client = client_as(Role.EXECUTIVE)
    url = reverse("scorecard:week", args=[IsoWeek.last_completed()])
    assert "every active mechanism has been inspected on time" in client.get(url).text
    late = make_mechanism()
    log_entry_add(
        mechanism=late,
        by=None,
        inspected_on=timezone.localdate() - timedelta(days=30),
        found="ok",
    )
    page = client.get(url).text  # the week's body comes from the cache; the footer does not
    assert "1 mechanism is overdue for inspection." in page
    assert f'href="{reverse("mechanisms:mechanism-list")}?overdue=true"' in page


def test_a_goal_whose_direction_is_left_alone_follows_its_metric(client_as):
    # The edit page's select starts on "as the metric says": fewer hours to lead is better.
    client_as(Role.OPS).post(
        reverse("mechanisms:mechanism-new"),
        {"name": "Routing", "team": "revops", "status": "draft", "cadence": "weekly",
         "sla_statement": "Under 4 hours", "sla_metric": "speed_to_lead", "sla_direction": "",
         "sla_target": "4", "sla_due_on": "2026-12-31"},
    )  # fmt: skip
    assert Mechanism.objects.get().goals.get().direction == "at_most"


def test_compare_shows_only_the_fields_that_changed(make_mechanism, client_as):
    mechanism = make_mechanism()
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(status=Status.RETIRED),
        by=None,
        expected_version=1,
    )
    html = (
        client_as(Role.EXECUTIVE)
        .get(reverse("mechanisms:mechanism-compare", args=[mechanism.slug]), {"a": 1, "b": 2})
        .text
    )
    assert "1 field differs; only it is shown" in html
    assert 'data-field="Mechanism: Status"' in html
    assert html.count('<tr class="diff mx-changed"') == 1
    assert "mx-same" not in html
    assert 'data-field="Mechanism: Name"' not in html


def test_compare_of_a_version_with_itself_says_they_are_the_same(make_mechanism, client_as):
    mechanism = make_mechanism()
    html = (
        client_as(Role.EXECUTIVE)
        .get(reverse("mechanisms:mechanism-compare", args=[mechanism.slug]), {"a": 1, "b": 1})
        .text
    )
    assert "The two versions are the same in every field." in html
    assert "mx-compare side-by-side" not in html


def test_detail_and_history_agree_on_when_the_version_was_saved(make_mechanism, client_as):
    # A backdated save (as the demo makes its history) and an inspection logged today, which
    # moves the row's updated_at but is not a new version.
    saved = timezone.make_aware(timezone.datetime(2026, 3, 2, 9, 30))
    mechanism = mechanism_create(data=document("Lead Routing"), by=None, when=saved)
    log_entry_add(
        mechanism=mechanism, by=None, inspected_on=timezone.localdate(), found="on target"
    )
    client = client_as(Role.EXECUTIVE)
    detail = client.get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug])).text
    history = client.get(reverse("mechanisms:mechanism-history", args=[mechanism.slug])).text
    assert "Version 1 · saved 2 Mar 2026, 09:30" in detail
    assert "2 Mar 2026, 09:30" in history


def test_the_edit_form_shows_the_markdown_as_the_author_typed_it(make_mechanism, client_as):
    mechanism = make_mechanism(challenge="Leads < 1 hour; <script>alert(1)</script>")
    client = client_as(Role.OPS)
    edit = client.get(reverse("mechanisms:mechanism-edit", args=[mechanism.slug])).text
    # Escaped once by the template, as any typed text is: not the &amp;lt; of a rewritten source.
    assert "Leads &lt; 1 hour; &lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in edit
    detail = client.get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug])).text
    assert "<script>alert" not in detail
