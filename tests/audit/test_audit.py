"""The audit log: every change to the data people edit, written by database triggers, with who
made it, when, and each changed field before and after; read by ops staff only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import selectors
from audit.models import EVENT_MODELS, AuditEvent
from mechanisms.models import Mechanism
from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch, Lead, SourceSystem
from revops.models import ApiToken
from revops.permissions import Role
from tests.factories import LeadFactory, SourceSystemFactory
from tests.mechanisms.test_views import form_data
from tests.revops.test_api_tokens import create_token

pytestmark = pytest.mark.django_db

API = "/api/v1/audit/"
PAGE = "/audit/"


def rows(**filters) -> list[selectors.EventRow]:
    """The log as the page reads it, optionally filtered as the page filters it."""
    from audit.filters import AuditEventFilter

    events = AuditEventFilter(filters or None, queryset=selectors.event_list()).qs
    return selectors.event_rows(events)


def changes(row: selectors.EventRow) -> dict:
    return {c.field: (c.before, c.after) for c in row.changes}


def test_an_edit_on_a_page_records_who_what_when_before_and_after(make_mechanism, make_user):
    mechanism = make_mechanism()
    ana = make_user(Role.OPS, "ana")
    client = Client()
    client.force_login(ana)
    before = timezone.now()
    edit = reverse("mechanisms:mechanism-edit", args=[mechanism.slug])
    response = client.post(edit, form_data(mechanism, tool="HubSpot forms."))
    assert response.status_code == 302

    [row] = rows(model="mechanisms.mechanism", operation="update")
    assert (row.username, row.url, row.object_id) == ("ana", edit, str(mechanism.pk))
    assert row.object_repr == "Lead Routing"
    assert row.object_url == reverse("mechanisms:mechanism-detail", args=[mechanism.slug])
    # Only what changed: the text, the version counter and who and when.
    assert changes(row)["tool"] == ("Salesforce assignment rules.", "HubSpot forms.")
    assert changes(row)["version"] == (1, 2)
    assert changes(row)["updated_by_id"] == (None, "ana")  # a user column shows the username
    assert "challenge" not in changes(row)
    assert row.created_at >= before - timedelta(seconds=5)

    page = client.get(PAGE, {"model": "mechanisms.mechanism", "operation": "update"})
    assert page.status_code == 200
    assert "Salesforce assignment rules.</del> → <ins" in page.text
    assert "HubSpot forms.</ins>" in page.text


def test_a_change_through_the_api_with_a_token_records_the_tokens_user(make_mechanism, make_user):
    mechanism = make_mechanism()
    owner = Client()
    owner.force_login(make_user(Role.OPS, "scripted"))
    key = create_token(owner)
    response = Client().patch(
        f"/api/v1/mechanisms/{mechanism.slug}/",
        {"version": 1, "tool": "Set by a script."},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 200

    [row] = rows(model="mechanisms.mechanism", operation="update")
    assert row.username == "scripted"
    assert row.url == f"/api/v1/mechanisms/{mechanism.slug}/"
    assert changes(row)["tool"][1] == "Set by a script."


def test_a_bulk_update_and_raw_sql_are_recorded_by_the_triggers():
    system = SourceSystemFactory(name="HubSpot", vendor="HubSpot")
    SourceSystem.objects.filter(pk=system.pk).update(description="Bulk, no save(), no signal.")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pipeline_sourcesystem SET vendor = 'Raw SQL' WHERE id = %s", [system.pk]
        )

    updates = rows(model="pipeline.sourcesystem", operation="update")
    assert [changes(row) for row in updates] == [
        {"vendor": ("HubSpot", "Raw SQL")},
        {"description": ("", "Bulk, no save(), no signal.")},
    ]
    assert all(row.who == "system" for row in updates)  # no request, command or task


def test_a_delete_is_recorded_with_the_values_it_had():
    system = SourceSystemFactory(name="Old CRM")
    pk = system.pk
    SourceSystem.objects.filter(pk=pk).delete()

    [row] = rows(model="pipeline.sourcesystem", operation="delete")
    assert row.object_id == str(pk)
    assert row.object_repr == "Old CRM"
    assert row.object_url is None
    assert changes(row)["name"] == ("Old CRM", None)


def test_a_created_row_shows_its_values():
    SourceSystemFactory(name="Marketo", vendor="Marketo")
    [row] = rows(model="pipeline.sourcesystem", operation="insert")
    assert changes(row)["name"] == (None, "Marketo")
    assert row.operation_label == "Created"


def test_golden_records_are_not_tracked():
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(owner="someone-else")
    lead.delete()
    assert "pipeline.lead" not in EVENT_MODELS
    assert not any(row.table.startswith("pipeline.") for row in rows())


def test_an_import_batchs_progress_is_not_an_event_its_status_is(ops_user):
    batch = ImportBatch.objects.create(
        system=SourceSystemFactory(), object_type="lead", status=BatchStatus.QUEUED
    )
    for progress in (10, 20, 30):
        ImportBatch.objects.filter(pk=batch.pk).update(
            progress=progress, phase="Reading", heartbeat_at=timezone.now()
        )
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)

    [row] = rows(model="pipeline.importbatch", operation="update")
    assert changes(row) == {"status": ("queued", "running")}
    assert row.object_url == reverse("pipeline:import-detail", args=[batch.pk])


def test_role_membership_is_recorded(make_user):
    user = make_user(None, "newcomer")
    user.groups.add(Group.objects.get(name=Role.OPS.value))
    user.groups.clear()
    membership = rows(model="auth.user_groups")
    assert [(r.operation, r.object_repr) for r in membership] == [
        ("delete", "newcomer in ops"),
        ("insert", "newcomer in ops"),
    ]


def test_password_and_token_hashes_never_reach_the_log(client_as, make_user):
    ops = client_as(Role.OPS)
    create_token(ops)
    token = ApiToken.objects.get()
    other = make_user(Role.SALES_LEAD, "changes-password")
    other.set_password("another-correct-horse")
    other.save()

    # The password hash and the key hash are not even columns of the event tables.
    for model in (EVENT_MODELS["auth.user"], EVENT_MODELS["revops.apitoken"]):
        columns = {f.column for f in model._meta.fields}
        assert not columns & {"password", "key_hash"}
    # A password change alone is no event: nothing recordable changed.
    assert not rows(model="auth.user", operation="update")
    response = ops.get(API, {"model": "revops.apitoken"})
    [created] = response.json()["results"]
    assert {c["field"]: c["after"] for c in created["changes"]}["name"] == "Weekly export"
    assert token.key_hash not in response.content.decode()
    page = ops.get(PAGE).text
    assert "Weekly export" in page
    assert other.password not in page
    assert token.key_hash not in page


def test_secret_columns_are_masked_should_one_ever_be_stored():
    assert selectors._masked("key_hash", "abc") == selectors.MASK
    assert selectors._masked("password", "pbkdf2_sha256$…") == selectors.MASK
    assert selectors._masked("name", "Weekly export") == "Weekly export"


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD, None])
def test_only_ops_staff_read_the_audit_log(client_as, role):
    client = client_as(role)
    assert client.get(PAGE).status_code == 403
    assert client.get(API).status_code == 403
    assert f'href="{PAGE}"' not in client.get(reverse("home")).text


def test_anonymous_visitors_are_sent_to_sign_in_and_the_api_answers_401(client):
    page = client.get(PAGE)
    assert page.status_code == 302
    assert page.url.startswith(reverse("login"))
    assert client.get(API).status_code == 401


def test_ops_staff_find_the_log_in_the_navigation(client_as):
    # On an empty install ops land on the Systems page first: the navigation is the same.
    home = client_as(Role.OPS).get(reverse("home"), follow=True).text
    assert f'href="{PAGE}"' in home


def test_filters_by_table_user_object_operation_and_date(make_user, make_mechanism):
    ana = make_user(Role.OPS, "ana")
    bo = make_user(Role.OPS, "bo")
    first = SourceSystemFactory(name="One")
    second = SourceSystemFactory(name="Two")
    mechanism = make_mechanism()
    for user, obj, field in ((ana, first, "name"), (bo, second, "description")):
        client = Client()
        client.force_login(user)
        # A change made in a request as that user, through the admin (ops may use it).
        client.post(
            reverse("admin:pipeline_sourcesystem_change", args=[obj.pk]),
            {"name": obj.name, "slug": obj.slug, "role": obj.role, "vendor": obj.vendor,
             "description": obj.description, field: f"Edited by {user.username}"},
        )  # fmt: skip
    client = Client()
    client.force_login(ana)

    def api(**params) -> list[dict]:
        response = client.get(API, params)
        assert response.status_code == 200, response.content
        return response.json()["results"]

    by_ana = api(user="ana")
    assert {(e["table"], e["object_id"]) for e in by_ana} == {
        ("pipeline.sourcesystem", str(first.pk))
    }
    assert by_ana[0]["changes"] == [
        {"field": "name", "label": "name", "before": first.name, "after": "Edited by ana"}
    ]
    assert {e["object_id"] for e in api(model="pipeline.sourcesystem", object_id=second.pk)} == {
        str(second.pk)
    }
    assert {e["table"] for e in api(model="mechanisms.mechanism")} == {"mechanisms.mechanism"}
    assert all(e["operation"] == "insert" for e in api(operation="insert"))
    today = timezone.localdate()
    assert api(since=today.isoformat(), until=today.isoformat())
    assert api(until=(today - timedelta(days=1)).isoformat()) == []
    assert api(user="nobody") == []
    assert Mechanism.objects.filter(pk=mechanism.pk).exists()


@pytest.mark.parametrize(
    "params", [{"model": "pipeline.lead"}, {"since": "yesterday"}, {"operation": "drop"}]
)
def test_a_bad_filter_is_a_400_on_the_api_and_an_error_on_the_page(client_as, params):
    client = client_as(Role.OPS)
    assert client.get(API, params).status_code == 400
    page = client.get(PAGE, params)
    assert page.status_code == 200
    assert "field-error" in page.text


def test_the_api_pages_with_a_cursor_newest_first(client_as):
    for n in range(5):
        SourceSystemFactory(name=f"System {n}")
    client = client_as(Role.OPS)
    first = client.get(API, {"model": "pipeline.sourcesystem", "page_size": 3}).json()
    assert [e["object_repr"] for e in first["results"]] == ["System 4", "System 3", "System 2"]
    second = client.get(first["next"]).json()
    assert [e["object_repr"] for e in second["results"]] == ["System 1", "System 0"]


def test_a_celery_task_marks_its_changes_with_its_name():
    from celery import shared_task

    @shared_task(name="tests.audit.rename_system")
    def rename_system(pk: int) -> None:
        SourceSystem.objects.filter(pk=pk).update(name="Renamed by a task")

    system = SourceSystemFactory(name="Before")
    rename_system.delay(system.pk)  # eager in tests: the same signals as on a worker
    [row] = rows(model="pipeline.sourcesystem", operation="update")
    assert row.who == "system · task:tests.audit.rename_system"


def test_the_pages_queries_do_not_grow_with_the_events_on_it(client_as):
    client = client_as(Role.OPS)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    SourceSystemFactory(name="System 0")
    queries()  # the first request of a session also saves the session
    few = queries()
    # All still on the first page, beside the user's own events and those the migrations left
    # (the standard catalog's): more would push an event table off the page.
    for n in range(1, 15):
        SourceSystemFactory(name=f"System {n}", vendor=f"Vendor {n}")
    # One more query per event table on the page (its events' data and diffs), none per event.
    assert queries() == few


def test_every_tracked_table_has_its_triggers_in_the_database():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgname LIKE 'pgtrigger_audit_%%' GROUP BY c.relname"
        )
        installed = dict(cursor.fetchall())
    tracked = {em.pgh_tracked_model._meta.db_table for em in EVENT_MODELS.values()}
    assert installed == {table: 3 for table in tracked}
    assert AuditEvent._meta.proxy


@pytest.mark.django_db(transaction=True)
def test_a_management_command_marks_its_changes_with_its_name():
    import os
    import subprocess
    import sys
    from pathlib import Path

    settings = connection.settings_dict
    host = settings["HOST"] or "127.0.0.1"
    auth = f"{settings['USER']}:{settings['PASSWORD'] or ''}"
    url = (  # the embedded PostgreSQL listens on a unix socket folder
        f"postgres://{auth}@/{settings['NAME']}?host={host}"
        if host.startswith("/")
        else f"postgres://{auth}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from pipeline.models import SourceSystem; "
         "SourceSystem.objects.create(name='From a command', slug='cmd', role='sales')"],
        cwd=root, env={**os.environ, "DATABASE_URL": url, "DEBUG": "1"}, check=True,
        capture_output=True,
    )  # fmt: skip
    [row] = rows(model="pipeline.sourcesystem", operation="insert")
    assert (row.object_repr, row.who) == ("From a command", "system · command:shell")


def test_paging_the_api_one_event_at_a_time_gives_every_event_once_when_ids_and_times_tie(
    make_user,
):
    """One transaction stamps its events with one time, and each event table numbers its own
    events: two tables' events can tie on both. Paging must still list each exactly once."""
    client = Client()
    client.force_login(make_user(Role.OPS, username="pager-ops"))
    tables = [EVENT_MODELS["pipeline.sourcesystem"], EVENT_MODELS["pipeline.importpreset"]]
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'pgh_id'), 5000)",
                [model._meta.db_table],
            )
    from django.db import transaction

    from pipeline.models import ImportPreset

    with transaction.atomic():
        for i in range(3):
            SourceSystem.objects.create(name=f"Tie {i}", slug=f"tie-{i}", role="sales")
            ImportPreset.objects.create(
                name=f"tie-{i}", object_type="lead", mapping={"object": "lead", "fields": {}}
            )
    expected = {e.pgh_slug for e in selectors.event_list()}
    seen: list[str] = []
    url = f"{API}?page_size=1"
    while url:
        body = client.get(url).json()
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
