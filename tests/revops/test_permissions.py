"""Who may do what: the role groups the migration creates and the one table that answers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.urls import reverse

from revops.permissions import RULES, Role, can

pytestmark = pytest.mark.django_db

ALL = {Role.EXECUTIVE, Role.OPS, Role.SALES_LEAD, Role.MARKETING_LEAD}

# The expected answer for every action, written out by hand: a change to RULES must change this.
EXPECTED = {
    "records.view": ALL,
    "authority.edit": {Role.OPS},
    "exchange_rates.edit": {Role.OPS},
    "systems.edit": {Role.OPS},
    "imports.view": {Role.OPS},
    "imports.run": {Role.OPS},
    "scorecard.view": ALL,
    "scorecard.publish": {Role.OPS},
    "scorecard.edit_metrics": {Role.OPS},
    "admin.use": {Role.OPS},
    "reconciliation.view": ALL,
    "reconciliation.run": {Role.OPS},
    "reconciliation.schedule": {Role.OPS},
    "mechanisms.view": ALL,
    "mechanisms.edit": {Role.OPS},
    "mechanisms.tick_own_actions": ALL,
    "disputes.view": ALL,
    "disputes.file": {Role.OPS, Role.SALES_LEAD, Role.MARKETING_LEAD},
    "disputes.comment": {Role.OPS, Role.SALES_LEAD, Role.MARKETING_LEAD},
    "disputes.withdraw_own": {Role.OPS, Role.SALES_LEAD, Role.MARKETING_LEAD},
    "disputes.triage": {Role.OPS},
    "disputes.resolve": {Role.OPS},
    "disputes.settings": {Role.OPS},
    "audit.view": {Role.OPS},
    "follows.use": ALL,
}


def test_every_action_has_an_expected_row():
    assert set(EXPECTED) == set(RULES)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", list(Role))
def test_role_action_table(make_user, role, action):
    user = make_user(role)
    assert can(user, action) is (role in EXPECTED[action])


def test_migration_creates_the_four_role_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_ops_may_change_pipeline_tables_and_others_only_view():
    ops = Group.objects.get(name=Role.OPS)
    executive = Group.objects.get(name=Role.EXECUTIVE)
    ops_perms = set(ops.permissions.values_list("codename", flat=True))
    exec_perms = set(executive.permissions.values_list("codename", flat=True))
    assert {"change_sourcesystem", "view_lead", "delete_fieldauthority"} <= ops_perms
    assert "view_lead" in exec_perms
    assert not {p for p in exec_perms if not p.startswith("view_")}


def test_user_without_a_role_may_do_nothing(make_user):
    user = make_user(None)
    assert not any(can(user, action) for action in RULES)


def test_anonymous_and_inactive_users_may_do_nothing(make_user):
    inactive = make_user(Role.OPS, is_active=False)
    for action in RULES:
        assert not can(AnonymousUser(), action)
        assert not can(inactive, action)


def test_superuser_may_do_everything(make_user):
    root = make_user(None, username="root", is_superuser=True)
    assert all(can(root, action) for action in RULES)


def test_unknown_action_fails_loudly_instead_of_denying(ops_user):
    with pytest.raises(KeyError):
        can(ops_user, "records.veiw")


def test_the_readme_says_where_ops_edit_schedules_and_the_admin_agrees(client_as, settings):
    ops = client_as(Role.OPS)
    assert ops.get("/admin/django_celery_beat/periodictask/").status_code == 403
    assert ops.get(reverse("pipeline:reconciliation-schedule")).status_code == 200
    readme = (settings.BASE_DIR / "README.md").read_text()
    assert "editable in the admin under *Periodic tasks*" not in readme
    assert "not the\n  admin's *Periodic tasks*, is where ops edit it" in readme
