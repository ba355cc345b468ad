"""The weekly email to executives: the top line and what turned red, sent once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.models import Metric
from scorecard.services.catalog import target_set
from scorecard.services.digest import digest_build, digest_send
from scorecard.services.snapshots import snapshot_publish
from tests.factories import LeadFactory
from tests.scorecard.conftest import W10, d, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def red_week():
    """W09 and W10 with targets such that MQLs turn red in W10 and leads are red in both."""
    leads, mqls = Metric.objects.get(key="leads_created"), Metric.objects.get(key="mqls")
    target_set(metric=leads, by=None, starts_on=d("2026-01-01"), value=Decimal(10))
    target_set(metric=mqls, by=None, starts_on=d("2026-01-01"), value=Decimal(2))
    for _ in range(2):  # W09: 2 leads (red against 10), 2 MQLs (green against 2)
        LeadFactory(created_at=utc(2026, 2, 24), mql_at=utc(2026, 2, 25))
    LeadFactory(created_at=utc(2026, 3, 3), mql_at=utc(2026, 3, 4))  # W10: 1 lead, 1 MQL
    snapshot_publish(week=IsoWeek(2026, 9), by=None, send_digest=False)
    snapshot_publish(week=W10, by=None, send_digest=False)


def test_the_digest_leads_with_the_top_line_and_separates_new_reds_from_old(red_week):
    digest = digest_build(W10)
    assert [r.metric.key for r in digest.turned_red] == ["mqls"]  # green in W09, red in W10
    assert [r.metric.key for r in digest.still_red] == ["leads_created"]
    assert digest.subject == "Scorecard 2026-W10: 1 turned red, 2 red in all"
    text = digest.text
    assert text.index("TOP LINE") < text.index("ARR") < text.index("TURNED RED THIS WEEK")
    assert "- MQLs: 1 against a target of 2 (−1 vs last week)" in text
    assert "http://127.0.0.1:8000/scorecard/2026-W10/mqls/" in text
    assert "STILL RED\n- Leads created: 1 against 10" in text
    assert 'href="http://127.0.0.1:8000/scorecard/2026-W10/"' in digest.html


def test_the_digest_goes_to_active_executives_with_an_email_once(red_week, make_user):
    make_user(Role.EXECUTIVE, username="ceo", email="ceo@northwind.example")
    make_user(Role.EXECUTIVE, username="cfo", email="cfo@northwind.example")
    make_user(Role.EXECUTIVE, username="gone", email="gone@northwind.example", is_active=False)
    make_user(Role.EXECUTIVE, username="nomail")
    make_user(Role.OPS, username="ops", email="ops@northwind.example")
    assert digest_send(week=W10) == 2
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ceo@northwind.example",
        "cfo@northwind.example",
    ]
    message = mail.outbox[0]
    assert message.subject == "Scorecard 2026-W10: 1 turned red, 2 red in all"
    assert message.alternatives[0].mimetype == "text/html"
    assert digest_send(week=W10) == 0  # already sent
    assert len(mail.outbox) == 2


def test_no_digest_for_a_week_that_is_not_published():
    assert digest_send(week=W10) == 0
    assert mail.outbox == []


def test_a_failed_send_leaves_the_digest_unsent_for_a_retry(red_week, make_user, settings):
    make_user(Role.EXECUTIVE, username="ceo", email="ceo@northwind.example")
    settings.EMAIL_BACKEND = "tests.scorecard.test_digest.BrokenBackend"
    with pytest.raises(ConnectionError):
        digest_send(week=W10)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert digest_send(week=W10) == 1


class BrokenBackend:
    """An SMTP server that is down: the outside world, so the one thing mocked here."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def send_messages(self, messages) -> int:
        raise ConnectionError("smtp.example.com:587 refused the connection")
