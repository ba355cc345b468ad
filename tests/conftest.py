"""Shared fixtures: one user per role, and a test client signed in as any of them."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings

from revops.permissions import Role

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Users are made with a cheap hasher: the production one costs about 0.3 s a password on
    this hardware, on purpose, and the suite makes over a thousand users. No test is about the
    hash's strength; sign-in, lock-out and two-factor behave the same with either."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _no_frozen_slices(settings):
    """Publishing freezes no breakdowns unless a test asks (tests/scorecard/test_slices.py):
    each frozen dimension costs a computation of the week per value, in every publish."""
    settings.SCORECARD_FROZEN_DIMENSIONS = []


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: a page one test cached must not answer another."""
    from django.core.cache import cache

    from pipeline.selectors import connections_stale_forget

    cache.clear()
    connections_stale_forget()


@pytest.fixture
def make_user(db) -> Callable:
    def make(role: Role | None, username: str | None = None, **extra):
        User = get_user_model()
        name = username or (role.value if role else "norole")
        user = User.objects.create_user(username=name, password=PASSWORD, **extra)
        if role is not None:
            # get_or_create: a transactional test's flush may have removed the migration's rows.
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        return user

    return make


@pytest.fixture
def exec_user(make_user):
    return make_user(Role.EXECUTIVE)


@pytest.fixture
def ops_user(make_user):
    return make_user(Role.OPS)


@pytest.fixture
def sales_lead(make_user):
    return make_user(Role.SALES_LEAD)


@pytest.fixture
def marketing_lead(make_user):
    return make_user(Role.MARKETING_LEAD)


@pytest.fixture
def client_as(make_user) -> Callable[[Role | None], Client]:
    """`client_as(Role.OPS)`: a client signed in as a fresh user of that role."""

    def signed_in(role: Role | None) -> Client:
        client = Client()
        client.force_login(make_user(role))
        return client

    return signed_in


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    """Uploaded files land in a temporary folder, never in the project's var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    return settings.MEDIA_ROOT


def _seed_small_demo() -> None:
    """The whole demo chain of `make demo` at a small scale (about 200 leads): records, a
    reconciliation run, published weeks, mechanisms and disputes."""
    out = io.StringIO()
    call_command("seed_demo", scale=0.01, today=date(2026, 11, 24), stdout=out)
    call_command("reconcile", stdout=out)
    call_command("scorecard_demo", scale=0.01, weeks=6, stdout=out)
    call_command("mechanisms_demo", stdout=out)
    call_command("disputes_demo", stdout=out)


@pytest.fixture(scope="module")
def _small_demo_for_module(django_db_setup, django_db_blocker):
    """The small demo, seeded once for a module inside a transaction that is rolled back after
    its last test. Each test runs in a savepoint of that transaction (pytest-django's `db`), so
    what one test writes is gone before the next, and the demo stays as seeded."""
    with django_db_blocker.unblock(), transaction.atomic():
        _seed_small_demo()
        yield
        transaction.set_rollback(True)


@pytest.fixture
def small_demo(_small_demo_for_module, db) -> None:
    """Every page and endpoint has real rows to show: the small demo, seeded once per module.
    For a test that runs in a transaction of its own, use `small_demo_transactional`."""


@pytest.fixture
def small_demo_transactional(transactional_db) -> None:
    """The small demo for a transactional test (committed, flushed after the test)."""
    _seed_small_demo()


@pytest.fixture
def slack(settings):
    """A local Slack incoming-webhook receiver; the app may post to it (and only to it)."""
    from tests.fakes.slack import SlackReceiver

    with SlackReceiver() as receiver:
        settings.SLACK_WEBHOOK_PREFIXES = [receiver.base]
        yield receiver


@pytest.fixture
def hubspot(settings):
    """A local stand-in of HubSpot's CRM API (demo/fakes/hubspot.py); connectors wait little
    between tries against it."""
    from demo.fakes.hubspot import FakeHubSpot

    settings.CONNECTOR_BACKOFF_MS = 10
    settings.CONNECTOR_RETRIES = 2
    settings.CONNECTOR_TIMEOUT = 5
    with FakeHubSpot() as fake:
        yield fake
