"""Who may do what, for every URL of the project: one table, walked for every role.

`MATRIX` has one row per URL name: for each HTTP method the view serves, the roles that may
use it (PUBLIC: anyone, signed in or not). The test walks the project's URL resolver, so a new
URL without a row fails here until someone decides who may use it. For each role (anonymous,
executive, ops, sales lead, marketing lead) and each method:

- a role in the row is let through: not 401/403 and not sent to sign in (the answer may still
  be 404 or 400 for the sample ids and empty bodies used here; authorization is what is tested);
- a signed-in role not in the row gets 403 (the admin sends it to sign in instead);
- anonymous gets the sign-in page for pages and 401 for the API;
- a method the view does not serve is refused (405, or 403 when the role check comes first).

Ids in paths name real rows of the demo data seeded here (the first of the model the URL is
about, `SAMPLE_MODELS`), and a real mechanism, metric and week, so requests reach an object and
object-level rules (a dispute's filer) are exercised too.
"""

from __future__ import annotations

import functools

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from revops.permissions import Role
from revops.weeks import IsoWeek

pytestmark = pytest.mark.django_db

EX, OP, SL, ML = Role.EXECUTIVE, Role.OPS, Role.SALES_LEAD, Role.MARKETING_LEAD
ALL = frozenset({EX, OP, SL, ML})
OPS = frozenset({OP})
FILERS = frozenset({OP, SL, ML})
# For a step only the object's owner may take: the sample belongs to someone else, so every
# role is refused here (the owner's side is in tests/disputes).
NOBODY = frozenset()
PUBLIC = "public"

# The one table. Keep it in URL order; a row per URL name, a key per method it serves.
MATRIX: dict[str, dict[str, frozenset | str]] = {
    "home": {"GET": ALL},
    "healthz": {"GET": PUBLIC},
    "login": {"GET": PUBLIC, "POST": PUBLIC, "PUT": PUBLIC},
    "logout": {"POST": PUBLIC},
    "profile": {"GET": ALL, "POST": ALL},
    "two-factor-verify": {"GET": ALL, "POST": ALL},
    "two-factor-setup": {"GET": ALL, "POST": ALL},
    # Golden records and field authority
    "pipeline:lead-list": {"GET": ALL},
    "pipeline:lead-detail": {"GET": ALL},
    "pipeline:deal-list": {"GET": ALL},
    "pipeline:deal-detail": {"GET": ALL},
    "pipeline:account-list": {"GET": ALL},
    "pipeline:account-detail": {"GET": ALL},
    "pipeline:authority": {"GET": ALL, "POST": OPS},
    "pipeline:exchange-rate-list": {"GET": ALL, "POST": OPS},
    "pipeline:system-list": {"GET": ALL, "POST": OPS},
    "pipeline:system-edit": {"POST": OPS},
    "pipeline:placeholder-list": {"POST": OPS},
    "pipeline:placeholder-delete": {"POST": OPS},
    "pipeline:system-retire": {"POST": OPS},
    "pipeline:exchange-rate-import": {"POST": OPS},
    "pipeline:exchange-rate-delete": {"POST": OPS},
    # Owners, teams and regions: everyone reads, ops change
    "pipeline:owner-list": {"GET": ALL},
    "pipeline:owner-import": {"POST": OPS},
    "pipeline:region-list": {"GET": ALL, "POST": OPS},
    "pipeline:region-edit": {"POST": OPS},
    "pipeline:region-delete": {"POST": OPS},
    # Imports: an ops tool
    "pipeline:import-list": {"GET": OPS},
    "pipeline:import-new": {"GET": OPS, "POST": OPS},
    "pipeline:import-detail": {"GET": OPS},
    "pipeline:import-mapping": {"GET": OPS, "POST": OPS},
    "pipeline:import-values": {"GET": OPS, "POST": OPS},
    "pipeline:import-status": {"GET": OPS},
    "pipeline:import-confirm": {"POST": OPS},
    "pipeline:import-retry": {"POST": OPS},
    "pipeline:import-errors": {"GET": OPS},
    "pipeline:import-held": {"GET": OPS},
    "pipeline:system-quality": {"GET": ALL},
    "pipeline:connection": {"GET": OPS},
    "pipeline:connection-save": {"POST": OPS},
    "pipeline:connection-test": {"POST": OPS},
    "pipeline:connection-sync": {"POST": OPS},
    "pipeline:connection-remove": {"POST": OPS},
    # Reconciliation: everyone reads, ops run and schedule
    "pipeline:reconciliation-run-list": {"GET": ALL},
    "pipeline:reconciliation-run-start": {"POST": OPS},
    "pipeline:reconciliation-run-detail": {"GET": ALL},
    "pipeline:reconciliation-run-export": {"GET": ALL},
    "pipeline:reconciliation-bridge": {"GET": ALL},
    "pipeline:reconciliation-discrepancy-list": {"GET": ALL},
    "pipeline:reconciliation-discrepancy-export": {"GET": ALL},
    "pipeline:reconciliation-discrepancy-detail": {"GET": ALL},
    "pipeline:reconciliation-schedule": {"GET": OPS, "POST": OPS},
    # Scorecard: everyone reads, ops publish and edit the catalog
    "scorecard:latest": {"GET": ALL},
    "scorecard:metric-catalog": {"GET": ALL},
    "scorecard:metric-new": {"GET": OPS, "POST": OPS},
    "scorecard:metric-quotas-import": {"POST": OPS},
    "scorecard:metric-detail": {"GET": ALL},
    "scorecard:metric-edit": {"GET": OPS, "POST": OPS},
    "scorecard:metric-target-add": {"POST": OPS},
    "scorecard:metric-target-delete": {"POST": OPS},
    "scorecard:metric-series-import": {"POST": OPS},
    "scorecard:week": {"GET": ALL},
    "scorecard:week-print": {"GET": ALL},
    "scorecard:week-publish": {"POST": OPS},
    "scorecard:restatements": {"GET": OPS, "POST": OPS},
    "scorecard:metric-week-commentary": {"POST": OPS},
    "scorecard:metric-week": {"GET": ALL},
    "scorecard:metric-records": {"GET": ALL},
    # Mechanisms: everyone reads, ops write
    "mechanisms:mechanism-list": {"GET": ALL},
    "mechanisms:mechanism-map": {"GET": ALL},
    "mechanisms:mechanism-new": {"GET": OPS, "POST": OPS},
    "mechanisms:mechanism-preview": {"POST": OPS},
    "mechanisms:my-actions": {"GET": ALL},
    # The sample action is someone else's: ops may tick any, its assignee their own.
    "mechanisms:mechanism-action-tick": {"POST": OPS},
    "mechanisms:mechanism-detail": {"GET": ALL},
    "mechanisms:mechanism-edit": {"GET": OPS, "POST": OPS},
    "mechanisms:mechanism-history": {"GET": ALL},
    "mechanisms:mechanism-compare": {"GET": ALL},
    "mechanisms:mechanism-restore": {"POST": OPS},
    "mechanisms:mechanism-link-add": {"POST": OPS},
    "mechanisms:mechanism-link-delete": {"POST": OPS},
    "mechanisms:mechanism-log-add": {"POST": OPS},
    "mechanisms:mechanism-log-delete": {"POST": OPS},
    "mechanisms:mechanism-action-add": {"POST": OPS},
    "mechanisms:mechanism-action-delete": {"POST": OPS},
    # Disputes: everyone reads; leads (and ops) file; ops triage and resolve. The sample dispute
    # was filed by a demo user: others may comment only as ops, and only its filer withdraws.
    "disputes:dispute-list": {"GET": ALL},
    "disputes:dispute-new": {"GET": FILERS, "POST": FILERS},
    "disputes:dispute-settings": {"GET": OPS, "POST": OPS},
    "disputes:dispute-detail": {"GET": ALL},
    "disputes:dispute-attachment": {"GET": ALL},
    "disputes:dispute-comment": {"POST": OPS},
    "disputes:dispute-review": {"POST": OPS},
    "disputes:dispute-assign": {"POST": OPS},
    "disputes:dispute-accept": {"POST": OPS},
    "disputes:dispute-reject": {"POST": OPS},
    "disputes:dispute-withdraw": {"POST": NOBODY},
    # Following a metric or a dispute, and one's own channels: everyone, for themselves
    "follows:settings": {"GET": ALL, "POST": ALL},
    "follows:test": {"POST": ALL},
    "follows:metric": {"POST": ALL},
    "follows:dispute": {"POST": ALL},
    # The audit log: ops only
    "audit:event-list": {"GET": OPS},
    # API
    "api:schema": {"GET": ALL},
    "api:docs": {"GET": ALL},
    "api:import-list": {"GET": OPS, "POST": OPS},
    "api:import-detail": {"GET": OPS},
    "api:import-confirm": {"POST": OPS},
    "api:import-retry": {"POST": OPS},
    "api:import-errors": {"GET": OPS},
    "api:preset-list": {"GET": OPS, "POST": OPS},
    "api:placeholder-email-list": {"GET": ALL, "POST": OPS},
    "api:placeholder-email-detail": {"GET": ALL, "DELETE": OPS},
    "api:exchange-rate-list": {"GET": ALL, "POST": OPS},
    "api:exchange-rate-detail": {"GET": ALL, "PUT": OPS, "DELETE": OPS},
    "api:reconciliation-run-start": {"POST": OPS},
    "api:lead-list": {"GET": ALL},
    "api:lead-detail": {"GET": ALL},
    "api:account-list": {"GET": ALL},
    "api:account-detail": {"GET": ALL},
    "api:deal-list": {"GET": ALL},
    "api:deal-detail": {"GET": ALL},
    "api:arr-change-list": {"GET": ALL},
    "api:arr-change-detail": {"GET": ALL},
    "api:source-lead-list": {"GET": ALL},
    "api:source-lead-detail": {"GET": ALL},
    "api:source-account-list": {"GET": ALL},
    "api:source-account-detail": {"GET": ALL},
    "api:source-deal-list": {"GET": ALL},
    "api:source-deal-detail": {"GET": ALL},
    "api:source-arr-change-list": {"GET": ALL},
    "api:source-arr-change-detail": {"GET": ALL},
    "api:system-list": {"GET": ALL},
    "api:system-detail": {"GET": ALL},
    "api:field-authority-list": {"GET": ALL},
    "api:field-authority-detail": {"GET": ALL},
    "api:reconciliation-run-list": {"GET": ALL},
    "api:reconciliation-run-detail": {"GET": ALL},
    "api:reconciliation-discrepancy-list": {"GET": ALL},
    "api:reconciliation-discrepancy-detail": {"GET": ALL},
    "api:reconciliation-bridge-list": {"GET": ALL},
    "api:reconciliation-bridge-detail": {"GET": ALL},
    "api:scorecard-metric-list": {"GET": ALL},
    "api:scorecard-metric-detail": {"GET": ALL},
    "api:scorecard-definition-list": {"GET": ALL},
    "api:scorecard-value-list": {"GET": ALL},
    "api:scorecard-week": {"GET": ALL},
    "api:scorecard-week-publish": {"POST": OPS},
    "api:scorecard-week-restatement": {"GET": OPS},
    "api:mechanism-list": {"GET": ALL, "POST": OPS},
    "api:mechanism-link-list": {"GET": ALL, "POST": OPS},
    "api:mechanism-link-detail": {"GET": ALL, "DELETE": OPS},
    "api:mechanism-log-list": {"GET": ALL, "POST": OPS},
    "api:mechanism-action-list": {"GET": ALL},
    "api:mechanism-detail": {"GET": ALL, "PATCH": OPS},
    "api:mechanism-version-list": {"GET": ALL},
    "api:mechanism-version-detail": {"GET": ALL},
    "api:mechanism-version-restore": {"POST": OPS},
    "api:dispute-list": {"GET": ALL, "POST": FILERS},
    "api:dispute-settings": {"GET": ALL, "PUT": OPS},
    "api:dispute-detail": {"GET": ALL},
    "api:dispute-comments": {"GET": ALL, "POST": OPS},
    "api:dispute-transitions": {"GET": ALL},
    "api:dispute-review": {"POST": OPS},
    "api:dispute-assign": {"POST": OPS},
    "api:dispute-accept": {"POST": OPS},
    "api:dispute-reject": {"POST": OPS},
    "api:dispute-withdraw": {"POST": NOBODY},
    "api:audit-event-list": {"GET": OPS},
}
# The Django admin: its site is open to ops staff only (everyone else is sent to sign in).
# Inside it, what ops may do table by table is Django's model permissions, which the roles
# migration grants the ops group (read-only for records that only imports change), so an ops
# request may meet the admin's own 403 but never the sign-in page.
ADMIN = {"GET": OPS, "POST": OPS}
# Its sign-in sends ops in, anonymous to the one sign-in page, and tells any other signed-in
# role it is not allowed (403) instead of sending it round between the two sign-ins.
ADMIN_SIGN_IN = {"admin:login": {"GET": OPS, "POST": OPS}, "admin:logout": {"POST": PUBLIC}}
# What a function view might serve: the row says which; the other must be refused.
FUNCTION_VIEW_METHODS = ("GET", "POST")
# Run last: each signs the client out or changes what the other requests see.
LAST = ("logout",)
# Their success is the sign-in page.
SIGNS_OUT = {"logout", "admin:login", "admin:logout"}


def _url_patterns(patterns=None, prefix: str = "", namespace: str | None = None):
    """(name, route, pattern) for every URL the project serves."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            yield from _url_patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield name, prefix + str(pattern.pattern), pattern


def _is_admin(route: str) -> bool:
    return route.startswith("admin/")


def _served_methods(pattern: URLPattern) -> tuple[str, ...]:
    callback = pattern.callback
    if getattr(callback, "actions", None):  # DRF viewsets; HEAD and OPTIONS go with GET
        return tuple(m.upper() for m in callback.actions if m not in ("options", "head"))
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:  # DRF APIView, Django class-based views
        return tuple(
            method.upper()
            for method in view_class.http_method_names
            if method not in ("options", "head") and hasattr(view_class, method)
        )
    return FUNCTION_VIEW_METHODS


@functools.cache
def _sample_models():
    """The model whose first row stands in for an id: by the id's name where it says (a
    target, a link…), else by the first word of the URL's name that names a model."""
    from disputes.models import Dispute
    from mechanisms.models import Action, Link, LogEntry
    from pipeline import models as p
    from scorecard.models import MetricTarget

    by_kwarg = {
        "target_id": MetricTarget,
        "link_id": Link,
        "entry_id": LogEntry,
        "action_id": Action,
        "run_id": p.ReconciliationRun,
        "discrepancy_id": p.Discrepancy,
    }
    by_url = [  # most specific first
        ("exchange-rate", p.ExchangeRate),
        ("placeholder", p.PlaceholderEmail),
        ("region", p.Region),
        ("source-lead", p.SourceLead),
        ("source-account", p.SourceAccount),
        ("source-deal", p.SourceDeal),
        ("source-arr-change", p.SourceArrChange),
        ("arr-change", p.ArrChange),
        ("lead", p.Lead),
        ("deal", p.Deal),
        ("account", p.Account),
        ("import", p.ImportBatch),
        ("system", p.SourceSystem),
        ("field-authority", p.FieldAuthority),
        ("reconciliation-run", p.ReconciliationRun),
        ("discrepancy", p.Discrepancy),
        ("bridge", p.ReconciledMetricWeek),
        ("mechanism-link", Link),
        ("dispute", Dispute),
    ]
    return by_kwarg, by_url


def _first_pk(model) -> int:
    return model.objects.order_by("pk").values_list("pk", flat=True).first() or 1


def _sample_kwargs(name: str, pattern: URLPattern, samples: dict[str, object]) -> dict:
    by_kwarg, by_url = _sample_models()
    kwargs = {}
    names = list(pattern.pattern.converters) + list(pattern.pattern.regex.groupindex)
    for kwarg in names:
        if kwarg in samples:
            kwargs[kwarg] = samples[kwarg]
        elif kwarg in by_kwarg:
            kwargs[kwarg] = _first_pk(by_kwarg[kwarg])
        elif kwarg in ("pk", "id"):
            model = next((m for word, m in by_url if word in (name or "")), None)
            kwargs[kwarg] = _first_pk(model) if model else 1
        else:
            kwargs[kwarg] = 1  # a version number, an admin object id
    return kwargs


def _requests(samples):
    """(name, method, url, rule, is_admin) for every URL and method, LAST ones at the end."""
    rows = []
    for name, route, pattern in _url_patterns():
        is_admin = _is_admin(route)
        row = ADMIN_SIGN_IN.get(name, ADMIN) if is_admin else MATRIX.get(name)
        if row is None:
            continue  # reported by the completeness test
        try:
            url = reverse(name, kwargs=_sample_kwargs(name, pattern, samples))
        except Exception:  # the admin's catch-all and like patterns that take no sample
            continue
        served = set(_served_methods(pattern))
        for method in sorted(served | set(FUNCTION_VIEW_METHODS) | set(row)):
            rows.append((name, method, url, row.get(method), is_admin))
    rows.sort(key=lambda r: r[0] in LAST)
    return rows


@pytest.fixture
def samples(small_demo) -> dict[str, object]:
    from mechanisms.models import Mechanism

    return {
        "slug": Mechanism.objects.order_by("pk").values_list("slug", flat=True).first(),
        "key": "mqls",
        "week": IsoWeek.last_completed(),
        "app_label": "pipeline",
    }


def test_every_url_of_the_project_has_a_row_in_the_table():
    names = {name for name, _route, _pattern in _url_patterns()}
    missing = sorted(
        f"{name or '<unnamed>'}: {route}"
        for name, route, _pattern in _url_patterns()
        if not _is_admin(route) and name not in MATRIX
    )
    assert not missing, "URLs with no row in MATRIX (decide who may use them):\n" + "\n".join(
        missing
    )
    stale = sorted(set(MATRIX) - names)
    assert not stale, f"rows for URLs that no longer exist: {stale}"


def test_every_row_names_the_methods_its_view_serves():
    wrong = []
    for name, _route, pattern in _url_patterns():
        row = MATRIX.get(name)
        if row is None or _served_methods(pattern) == FUNCTION_VIEW_METHODS:
            continue
        served = set(_served_methods(pattern))
        if set(row) != served:
            wrong.append(f"{name}: view serves {sorted(served)}, row says {sorted(row)}")
    assert not wrong, "\n".join(wrong)


def _verdict(response, *, name: str, allowed: bool, anonymous: bool, api: bool, admin: bool):
    status = response.status_code
    location = response.headers.get("Location", "")
    to_login = status == 302 and (
        reverse("login") in location or reverse("admin:login") in location
    )
    if allowed and admin and name not in SIGNS_OUT:
        return not to_login and status != 401, "into the admin site"
    if allowed:
        let_through = status not in (401, 403) and (not to_login or name in SIGNS_OUT)
        return let_through, "let through"
    if anonymous:
        # The API answers 401; pages (the API's docs page among them) send to sign in.
        return (status == 401 if api else to_login), ("401" if api else "redirect to sign in")
    if admin and name == "admin:login":
        return status == 403, "403"
    if admin:
        return to_login, "redirect to sign in"
    return status == 403, "403"


@pytest.mark.parametrize(
    "role", [None, EX, OP, SL, ML], ids=lambda r: r.value if r else "anonymous"
)
def test_each_role_gets_exactly_what_the_table_allows(role, samples, make_user):
    client = Client()
    user = make_user(role, f"matrix-{role.value if role else 'anonymous'}") if role else None
    wrong = []
    for name, method, url, rule, is_admin in _requests(samples):
        if user is not None:
            client.force_login(user)  # the logout row signs out; every request starts signed in
        response = client.generic(method, url)
        if rule is None:  # a method the view does not serve: refused, whoever asks
            location = response.headers.get("Location", "")
            refused = response.status_code in (401, 403, 405) or (
                # Sent to sign in, or (the admin's logout, for those the admin is closed to)
                # back to the admin's front door, which sends them to sign in.
                response.status_code == 302
                and ("login" in location or (is_admin and location == reverse("admin:index")))
            )
            ok, expected = refused, "refused (405, or 401/403/sign-in first)"
        else:
            ok, expected = _verdict(
                response,
                name=name,
                allowed=rule == PUBLIC or (role is not None and role in rule),
                anonymous=role is None,
                api=url.startswith("/api/") and name != "api:docs",
                admin=is_admin,
            )
        if not ok:
            got = response.status_code
            wrong.append(f"{method} {url} ({name}): expected {expected}, got {got}")
    assert not wrong, f"{len(wrong)} answer(s) differ from the table:\n" + "\n".join(wrong)
