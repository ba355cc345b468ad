"""Hostile input against every page form, as a browser can send it: no 5xx (issue 17).

The pages are found, not listed: each role (and an anonymous visitor, for the sign-in page)
walks the site from its home page over the small demo, one or two URLs per URL pattern of the
URL conf, and every <form> those pages render is collected with its fields — as the role that
was shown it, so the fuzzing reaches the code behind the permission check. Hypothesis then
fills each form: the value the page offered, text with NUL and control characters, huge
strings, unicode, numbers as text, tampered choice values, hostile files (the CSV corpus) or
the field left out; GET forms (filters) go in the query string, and every list page also gets
generated query strings. Each example runs in a savepoint rolled back after it, so a delete or
a sign-out does not change what the next example sees.

The budget is FUZZ_EXAMPLES examples per form: one in the normal suite (which walks as ops and
an anonymous visitor only, to stay near half a minute), 200 under `make test-fuzz`. Every
failing form is reported with the input that broke it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import hypothesis
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, URLResolver, get_resolver, resolve
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

from revops.permissions import Role
from tests.fuzz.corpora import HOSTILE_CSVS

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

# The normal suite (FUZZ_EXAMPLES unset) walks as ops and an anonymous visitor, one URL per
# pattern, one example per form, in about half a minute; `make test-fuzz` walks as every role.
LONG_RUN = "FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1"))
PER_PATTERN = 4 if LONG_RUN else 3  # concrete URLs visited per URL pattern and role
ALL_ROLES = (Role.OPS, Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD)
WALKERS = (*ALL_ROLES, None) if LONG_RUN else (Role.OPS, None)
SKIP_PREFIXES = ("/api/", "/admin/", "/static/", "/media/")
# Forms whose very purpose would end the walk (signing out); posting them is tested elsewhere.
SKIP_ACTIONS = ("/accounts/logout/",)
MISSING = object()
# Where the walk starts: the home page, and the disputes still open (their detail pages carry the
# workflow's forms; the first disputes linked from elsewhere may all be closed).
START = ["/", "/disputes/?status=open", "/disputes/?status=in_review"]


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[dict] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        try:
            route = resolve(urlsplit(self.action).path).route
        except Resolver404:
            route = self.action
        return (self.method, route, tuple(sorted(f["name"] for f in self.fields)))


class _Page(HTMLParser):
    """Links and forms of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower()}
            self._form["fields"] = []
            self.forms.append(self._form)
        elif self._form is None or "disabled" in a or not a.get("name"):
            return
        elif tag in ("input", "button"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            if kind in ("reset", "image"):
                return
            self._form["fields"].append(
                {"name": a["name"], "kind": kind, "value": a.get("value", ""), "options": []}
            )
        elif tag == "select":
            self._select = {"name": a["name"], "kind": "select", "value": "", "options": []}
            self._form["fields"].append(self._select)
        elif tag == "textarea":
            self._textarea = {"name": a["name"], "kind": "textarea", "value": "", "options": []}
            self._form["fields"].append(self._textarea)
        if tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _internal(url: str, base: str) -> str | None:
    absolute = urljoin(base, url)
    parts = urlsplit(absolute)
    if parts.netloc not in ("", "testserver") or parts.scheme not in ("", "http"):
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path.startswith(SKIP_PREFIXES) or path.startswith(SKIP_ACTIONS):
        return None
    return path


def _route(path: str) -> str | None:
    try:
        return resolve(urlsplit(path).path).route
    except Resolver404:
        return None


def page_routes(patterns=None, prefix: str = "") -> set[str]:
    """Every route of the URL conf outside the API and the admin."""
    routes: set[str] = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith(("api/", "admin/")):
            continue
        if isinstance(pattern, URLResolver):
            routes |= page_routes(pattern.url_patterns, route)
        else:
            routes.add(route)
    return routes


def crawl(client: Client, start: list[str]) -> tuple[set[str], list[Form]]:
    """The routes reached and the forms found, walking from the `start` pages."""
    seen_per_route: dict[str, int] = {}
    visited: set[str] = set()
    forms: list[Form] = []
    queue = deque(start)
    while queue:
        path = queue.popleft()
        route = _route(path)
        if path in visited or route is None or seen_per_route.get(route, 0) >= PER_PATTERN:
            continue
        visited.add(path)
        seen_per_route[route] = seen_per_route.get(route, 0) + 1
        response = client.get(path)
        assert response.status_code < 500, f"GET {path}: {response.status_code}"
        if "html" not in response.get("Content-Type", ""):
            continue
        page = _Page()
        page.feed(response.content.decode("utf-8", "replace"))
        for link in page.links:
            if (target := _internal(link, path)) is not None:
                queue.append(target)
        for raw in page.forms:
            action = _internal(raw["action"] or path, path)
            if action is not None:
                forms.append(Form(path, action, raw["method"], raw["fields"]))
    return set(seen_per_route), forms


# --- What a browser can put in a field ------------------------------------------------------

NASTY = [
    "\x00",
    "a\x00b",
    "%00",
    "\r\n",
    "\x1b[31m\x07\x08",
    "\u202e\u200b\ufeff",
    "😀" * 40,
    "x" * 100_000,
    "9" * 400,
    "-1",
    "0",
    "1e309",
    "NaN",
    "-0.0000001",
    "99999999999999999999",
    "2026-W99",
    "2026-02-30",
    "9999-99-99",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "true",
    " ",
]
text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
FILES = sorted(HOSTILE_CSVS)


def _value(spec: dict) -> st.SearchStrategy:
    kind = spec["kind"]
    if kind == "file":
        return st.one_of(
            st.sampled_from(FILES).map(
                lambda n: SimpleUploadedFile(f"{n[:20]}.csv", HOSTILE_CSVS[n], "text/csv")
            ),
            st.binary(max_size=2_000).map(lambda b: SimpleUploadedFile("x.csv", b, "text/csv")),
            st.just(MISSING),
        )
    offered = [spec["value"], *spec["options"]]
    return st.one_of(st.sampled_from(offered), text, st.just(MISSING))


def form_inputs(form: Form) -> st.SearchStrategy[dict]:
    fields = [f for f in form.fields if f["name"] != "csrfmiddlewaretoken"]
    submits = [f for f in fields if f["kind"] == "submit"]
    others = [f for f in fields if f["kind"] != "submit"]
    strategy = st.fixed_dictionaries({f["name"]: _value(f) for f in others})
    if submits:
        # A browser sends the one button pressed, with its own value (or a tampered one).
        pressed = st.sampled_from(submits).flatmap(
            lambda b: st.one_of(st.just(b["value"]), text).map(lambda v: {b["name"]: v})
        )
        strategy = st.tuples(strategy, pressed).map(lambda t: {**t[0], **t[1]})
    return strategy.map(lambda d: {k: v for k, v in d.items() if v is not MISSING})


def _send(client: Client, form: Form, data: dict):
    if form.method == "post":
        return client.post(form.action, data)
    query = urlencode({k: v for k, v in data.items() if isinstance(v, str)})
    return client.get(urlsplit(form.action).path + "?" + query)


QUERY_KEYS = [
    "page",
    "after",
    "before",
    "sort",
    "order",
    "q",
    "week",
    "metric",
    "status",
    "cursor",
    "system",
    "per",
]


def fuzz(client_for, role, form: Form, failures: list[str]) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(data=form_inputs(form))
    def check(data: dict) -> None:
        with transaction.atomic():
            client = client_for(role)
            response = _send(client, form, data)
            transaction.set_rollback(True)
        shown = {k: (v if isinstance(v, str) else "<file>")[:80] for k, v in data.items()}
        assert response.status_code < 500, f"{response.status_code} for {shown!r}"

    try:
        check()
    except (Exception, BaseExceptionGroup) as error:  # one failure must not hide the others
        failures.append(f"{role} {form.method.upper()} {form.action} (on {form.page}):\n{error}")


def test_no_page_form_answers_hostile_input_with_a_server_error(small_demo, make_user):
    users = {role: make_user(role, f"fuzz-{role.value}") for role in ALL_ROLES}

    def client_for(role: Role | None) -> Client:
        client = Client(raise_request_exception=True)
        if role is not None:
            client.force_login(users[role])
        return client

    started = time.monotonic()
    forms: dict[tuple, tuple[Role | None, Form]] = {}
    reached: set[str] = set()
    for role in WALKERS:
        routes, found = crawl(client_for(role), START if role else ["/accounts/login/"])
        reached |= routes
        for form in found:
            forms.setdefault(form.key, (role, form))  # the first role shown a form posts it

    # The URL conf is the list of what exists: most of it must be reached, as a page or as
    # the action of a form on one (the rest needs rows the small demo may not hold).
    covered = reached | {form.key[1] for _, form in forms.values()}
    conf = page_routes()
    missed = sorted(conf - covered)
    assert len(covered & conf) >= 0.7 * len(conf), f"the walk missed {missed}"
    assert len(forms) > 25, "the walk found too few forms"

    walked = time.monotonic() - started
    failures: list[str] = []
    for role, form in forms.values():
        fuzz(client_for, role, form, failures)

    # Query strings on every list and filter page reached, as any role may type them.
    for route in sorted(reached):
        if "<" in route:
            continue
        get_form = Form("/" + route, "/" + route, "get", [])
        get_form.fields = [
            {"name": k, "kind": "text", "value": "", "options": []} for k in QUERY_KEYS
        ]
        fuzz(client_for, Role.OPS, get_form, failures)

    print(  # shown with -s: what the run covered
        f"walked {len(reached)} routes in {walked:.0f} s; fuzzed {len(forms)} forms "
        f"({EXAMPLES} examples each) in {time.monotonic() - started - walked:.0f} s:",
        *sorted(f"{r} {f.method} {f.action}" for r, f in forms.values()),
        f"not reached ({len(missed)} of {len(conf)} routes): {', '.join(missed)}",
        sep="\n  ",
    )
    assert not failures, f"{len(failures)} form(s) failed:\n\n" + "\n\n".join(failures)
