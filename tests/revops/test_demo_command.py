"""`make demo` runs `manage.py demo`; a second one while the first serves changes nothing."""

from __future__ import annotations

import fcntl

import pytest
from django.core.management import CommandError, call_command

from pipeline.models import Lead


@pytest.mark.django_db
def test_second_demo_while_one_runs_refuses_and_changes_nothing(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    lock_path = tmp_path / "var" / "demo.lock"
    lock_path.parent.mkdir()
    with open(lock_path, "w") as held:
        held.write("pid 4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(CommandError, match=r"already running \(pid 4242\)"):
            call_command("demo", no_serve=True, scale=0.01)
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_demo_reconciles_after_seeding_so_its_pages_have_a_run(settings, tmp_path):
    from pipeline.selectors import reconciliation_run_current

    settings.BASE_DIR = tmp_path
    call_command("demo", no_serve=True, scale=0.01)
    run = reconciliation_run_current()
    assert run is not None
    assert run.trigger == "command"
    assert run.open_count > 0  # the demo's systems disagree on purpose


@pytest.mark.django_db
def test_demo_seeds_the_mechanisms_after_the_scorecard(settings, tmp_path):
    from mechanisms.models import Mechanism

    settings.BASE_DIR = tmp_path
    call_command("demo", no_serve=True, scale=0.01)
    assert Mechanism.objects.count() == 5
    assert all(m.goals.exists() for m in Mechanism.objects.all())


# Committed for real: the notifications are sent on commit, as in `make demo`.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_demo_writes_its_mail_to_files_and_ends_with_the_sign_ins(settings, tmp_path):
    import importlib
    import io

    from django.apps import apps as django_apps

    # A transactional test before this one may have flushed the metric catalog its migration
    # made, and the demo's disputes are filed on its metrics: make it again, as that does.
    standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")
    standard_metrics.create_catalog(django_apps, None)
    settings.BASE_DIR = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    out = io.StringIO()
    call_command("demo", no_serve=True, scale=0.01, stdout=out)
    text = out.getvalue()
    files = sorted((tmp_path / "var" / "demo-mail").glob("*.eml"))
    assert files  # the disputes' notifications at least
    assert "Subject:" not in text  # no message reached the screen
    assert f"{len(files)} demo e-mails written to var/demo-mail/ (not sent)." in text
    last = text.rstrip("\n").splitlines()[-5:]
    assert last[0] == "Sign in at http://127.0.0.1:8000/ with password revops-demo:"
    assert [line.split()[0] for line in last[1:]] == ["exec", "ops", "sales", "marketing"]
    # A second run finds its disputes made and sends nothing: the folder holds this run's mail,
    # not the first run's as well.
    again = io.StringIO()
    call_command("demo", no_serve=True, scale=0.01, stdout=again)
    assert "demo e-mails written" not in again.getvalue()
    assert not list((tmp_path / "var" / "demo-mail").glob("*.eml"))
    assert again.getvalue().rstrip("\n").splitlines()[-5:] == last
