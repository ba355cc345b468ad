"""The connection page: ops connect a system to its API, test it and sync it; the secret is
stored encrypted, never shown again and never written to the audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import TRACKED
from pipeline.choices import SyncStatus, Vendor
from pipeline.models import Connection, Lead, SyncRun
from pipeline.services.systems import system_add
from revops.crypto import secret_decrypt
from revops.permissions import Role

pytestmark = pytest.mark.django_db
TOKEN = "pat-na1-test"


@pytest.fixture
def system(db):
    return system_add(by=None, name="HubSpot", role="marketing", vendor=Vendor.HUBSPOT)


def save(client, system, **fields):
    data = {"auth": "hubspot_token", "objects_synced": ["account", "lead", "deal"],
            "nightly": "on", "fresh_hours": "26", **fields}  # fmt: skip
    return client.post(reverse("pipeline:connection-save", args=[system.slug]), data)


def test_ops_connect_and_the_token_is_encrypted_and_never_shown(client_as, system, hubspot):
    client = client_as(Role.OPS)

    response = save(client, system, url=hubspot.base, token=TOKEN)

    assert response.status_code == 302
    conn = Connection.objects.get(system=system)
    assert TOKEN not in conn.secret
    assert secret_decrypt(conn.secret) == TOKEN
    page = client.get(reverse("pipeline:connection", args=[system.slug]))
    assert TOKEN not in page.content.decode()
    assert "A secret is stored" in page.content.decode()
    excluded = dict(TRACKED)[Connection]
    assert "secret" in excluded
    from audit.models import ConnectionEvent

    assert ConnectionEvent.objects.exists()
    assert not any(
        TOKEN in str(value)
        for event in ConnectionEvent.objects.values()
        for value in event.values()
    )


def test_saving_again_with_the_token_blank_keeps_it(client_as, system, hubspot):
    client = client_as(Role.OPS)
    save(client, system, url=hubspot.base, token=TOKEN)

    save(client, system, url=hubspot.base, token="", fresh_hours="48")

    conn = Connection.objects.get(system=system)
    assert secret_decrypt(conn.secret) == TOKEN
    assert conn.fresh_hours == 48


def test_a_first_connection_without_a_token_says_so(client_as, system):
    response = save(client_as(Role.OPS), system, token="")

    assert response.status_code == 400
    assert "has none stored" in response.content.decode()
    assert not Connection.objects.exists()


def test_a_plain_http_address_elsewhere_is_refused(client_as, system):
    response = save(client_as(Role.OPS), system, url="http://api.hubapi.com", token=TOKEN)

    assert response.status_code == 400
    assert "Use an https:// address" in response.content.decode()


def test_test_and_sync_now_from_the_page(
    client_as, system, hubspot, django_capture_on_commit_callbacks
):
    hubspot.add("contacts", {"email": "ana@acme.example", "lifecyclestage": "lead",
                             "createdate": "2026-11-02T10:00:00.000Z"})  # fmt: skip
    client = client_as(Role.OPS)
    save(client, system, url=hubspot.base, token=TOKEN)

    tested = client.post(reverse("pipeline:connection-test", args=[system.slug]), follow=True)
    assert "Connected to HubSpot" in tested.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("pipeline:connection-sync", args=[system.slug]))
    synced = client.get(reverse("pipeline:connection", args=[system.slug]))

    run = SyncRun.objects.get()
    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert Lead.objects.get().email == "ana@acme.example"
    html = synced.content.decode()
    assert 'data-testid="sync-run"' in html
    assert "1 pulled" in html


def test_a_system_of_another_vendor_cannot_connect(client_as):
    other = system_add(by=None, name="Gainsight", role="customer_success", vendor="gainsight")

    page = client_as(Role.OPS).get(reverse("pipeline:connection", args=[other.slug]))

    assert 'data-testid="not-connectable"' in page.content.decode()


def test_the_scorecard_footer_warns_of_data_older_than_it_should_be(client_as, system, hubspot):
    from datetime import timedelta

    from django.utils import timezone

    from pipeline.selectors import connections_stale

    client = client_as(Role.OPS)
    save(client, system, url=hubspot.base, token=TOKEN)
    assert [f.system for f in connections_stale()] == ["HubSpot"]  # never synced
    Connection.objects.update(last_synced_at=timezone.now() - timedelta(hours=2))
    assert connections_stale() == []
    Connection.objects.update(last_synced_at=timezone.now() - timedelta(hours=30))
    (stale,) = connections_stale()
    assert "30 hours old" in stale.sentence
    assert "under 26 hours" in stale.sentence


def test_the_scorecard_page_says_whose_data_is_late(client_as, system, hubspot):
    from datetime import timedelta

    from django.utils import timezone

    from revops.weeks import IsoWeek
    from scorecard.services.snapshots import scorecard_backfill

    scorecard_backfill(weeks=2)
    save(client_as(Role.OPS), system, url=hubspot.base, token=TOKEN)
    Connection.objects.update(last_synced_at=timezone.now() - timedelta(hours=40))
    url = reverse("scorecard:week", args=[IsoWeek.last_completed()])

    executive = client_as(Role.EXECUTIVE).get(url).content.decode()

    assert "HubSpot&#x27;s data is 40 hours old" in executive
    assert "The numbers above may lag." in executive
