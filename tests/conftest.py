"""Shared fixtures: one user per role, and a test client signed in as any of them."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from revops.permissions import Role

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: a page one test cached must not answer another."""
    from django.core.cache import cache

    cache.clear()


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


@pytest.fixture
def small_demo(db) -> None:
    """The whole demo chain of `make demo` at a small scale (about 200 leads): records,
    a reconciliation run, published weeks, mechanisms and disputes, so every page and endpoint
    has real rows to show. Transactional when the test's marker says so."""
    out = io.StringIO()
    call_command("seed_demo", scale=0.01, today=date(2026, 11, 24), stdout=out)
    call_command("reconcile", stdout=out)
    call_command("scorecard_demo", scale=0.01, weeks=6, stdout=out)
    call_command("mechanisms_demo", stdout=out)
    call_command("disputes_demo", stdout=out)
