"""A local stand-in for HubSpot's CRM API, for tests and demos: an HTTP server on 127.0.0.1
holding an in-memory portal (contacts, companies, deals) and answering the requests that
`hubspot-api-client` (12.x) really sends, in the JSON shapes it deserializes.

Give the client `host` WITHOUT a trailing slash (`fake.base` has none): it builds each URL as
`host + "/crm/v3/..."`, so a host ending in "/" sends `//crm/v3/...`. HubSpot documents no
answer to that; this fake answers 404 (naming the cause) so a misconfigured host shows up in
tests, and `requests` records the target as sent:

    with FakeHubSpot() as fake:
        client = HubSpot(access_token="pat-na1-test", host=fake.base)

Mind that the client's urllib3 pool retries by itself unless given `retry=`: its default
`Retry(3)` silently re-sends a GET that timed out, and a 429 or 503 carrying `Retry-After`
(after sleeping that long), up to 3 times; POSTs (searches, association reads) are not.

What it models, from developers.hubspot.com (CRM objects v3, CRM search, associations v4, API
usage guidelines) and from what the real API is seen to answer where the docs are silent:
- `GET /crm/v3/objects/{type}` (list): `limit` (default 10, at most 100: larger asks get 100),
  `after` (the cursor from `paging.next.after`; as on HubSpot it is the id to go on from),
  `properties` (comma-separated or repeated, as the client sends them; an asked property the
  record lacks comes back null; `hs_object_id`, `createdate` and the last-modified property
  always come back; without `properties`, the object's default properties), `associations`
  (only when asked and when there are some; a primary company is listed twice, once as
  `contact_to_company` and once as `contact_to_company_unlabeled`, as HubSpot does since
  association labels), `archived=true` (the archived records only, with `archivedAt`; the
  client sends `True`/`False`). `paging.next` (`after` and `link`) only when more remain.
- `POST /crm/v3/objects/{type}/search`: `filterGroups` (ORed; filters in a group ANDed; at
  most 5 groups, 10 filters a group, 25 in all) with EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN,
  NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN; dates compare
  as epoch milliseconds or ISO 8601; `sorts` as objects or property names; `query` (a plain
  substring match here); `limit` at most 200; `after` an offset. `total`, and
  `paging.next.after` (no link) while more remain. A search cannot page past 10,000 results
  (`search_cap`): an `after` at or past it answers 400 VALIDATION_ERROR. Archived records are
  never found. As the usage guidelines note, search answers carry no X-HubSpot-RateLimit-*
  headers (`search_rate_headers = True` adds them).
- `POST /crm/v4/associations/{from}/{to}/batch/read`: each input's associated records with
  their association types (HUBSPOT_DEFINED; "Primary" and the unlabeled type). Inputs with
  none are left out of `results` and reported as HubSpot does: 207 Multi-Status, `numErrors`
  and an OBJECT_NOT_FOUND / `crm.associations.NO_ASSOCIATIONS_FOUND` error naming the id.
- Authentication: `Authorization: Bearer <token>` of `tokens` (token -> granted scopes).
  Absent or unknown: 401 INVALID_AUTHENTICATION; in `expired`: 401 EXPIRED_AUTHENTICATION;
  without the object's `crm.objects.{type}.read`: 403 MISSING_SCOPES naming the scope in
  `errors[].context.requiredGranularScopes`. Bodies are HubSpot's documented ones.
- Rate limits: every answer (but searches) carries X-HubSpot-RateLimit-Daily,
  -Daily-Remaining, -Interval-Milliseconds (10000), -Max and -Remaining, counted from the
  requests made; every answer carries X-HubSpot-Correlation-Id. `enforce_limits = True` makes
  the fake answer 429 past them (ten-secondly, daily, and the search endpoints' per-second
  limit) with HubSpot's documented RATE_LIMIT body.
- Faults, for tests: `fail_next` / `fail_after` make matching requests answer a status (429
  with HubSpot's rate-limit body and `Retry-After`; 401/403 with the bodies above; 5xx and
  others with a HubSpot-shaped error, whose `category` is this fake's guess: HubSpot
  documents no 5xx body), `delay_next` answers late (client timeouts).

Record timestamps are written as HubSpot writes them: ISO 8601 UTC with milliseconds and Z,
"2024-01-15T10:45:00.000Z" (`hubspot_time`). Property values are strings, as in the API.
Not modelled: writes through the API, search's indexing delay, per-input association paging.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

DEFAULT_TOKEN = "pat-na1-test"
OBJECT_TYPES = ("contacts", "companies", "deals")
# The names, singular names and object type ids HubSpot accepts in paths, to the plural.
ALIASES = {
    **{t: t for t in OBJECT_TYPES},
    "contact": "contacts",
    "0-1": "contacts",
    "company": "companies",
    "0-2": "companies",
    "deal": "deals",
    "0-3": "deals",
}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
# What a list or a search answers when no `properties` are asked (HubSpot's search guide).
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
# (from, to) -> (the "Primary" type id or None, the unlabeled type id): HubSpot-defined ids.
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int | None, int]] = {
    ("contacts", "companies"): (1, 279),
    ("companies", "contacts"): (2, 280),
    ("deals", "companies"): (5, 341),
    ("companies", "deals"): (6, 342),
    ("contacts", "deals"): (None, 4),
    ("deals", "contacts"): (None, 3),
}
FIRST_ID = {"contacts": 101, "companies": 5_000_001, "deals": 9_000_001}
SEARCH_CAP = 10_000
LIST_MAX = 100
SEARCH_MAX = 200
FILTER_GROUPS_MAX, FILTERS_PER_GROUP_MAX, FILTERS_MAX = 5, 10, 25

LIST_PATH = re.compile(r"^/crm/v3/objects/([^/]+)/?$")
SEARCH_PATH = re.compile(r"^/crm/v3/objects/([^/]+)/search/?$")
BATCH_READ_PATH = re.compile(r"^/crm/v4/associations/([^/]+)/([^/]+)/batch/read/?$")
ROUTES = (("GET", LIST_PATH, "list"), ("POST", SEARCH_PATH, "search"),
          ("POST", BATCH_READ_PATH, "batch"))  # fmt: skip

INVALID_AUTHENTICATION = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
EXPIRED_AUTHENTICATION = "The OAuth token used to make this call expired 1 minute(s) ago."
MISSING_SCOPES = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}
CATEGORIES = {400: "VALIDATION_ERROR", 404: "OBJECT_NOT_FOUND", 409: "CONFLICT"}

Json = dict[str, Any]


def hubspot_time(moment: datetime) -> str:
    """`moment` as HubSpot writes times in API JSON: "2024-01-15T10:45:00.000Z"."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _text(value: Any) -> str | None:
    """A property value as the API holds it: a string (or null)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return hubspot_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _millis(text: str) -> int | None:
    """Epoch milliseconds from epoch milliseconds or an ISO 8601 date or time."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _comparable(a: str, b: str) -> tuple[Any, Any]:
    """Two property values made comparable: as numbers, else as times, else as text."""
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na, nb
    ta, tb = _millis(a), _millis(b)
    if ta is not None and tb is not None:
        return ta, tb
    return a.casefold(), b.casefold()


def _sort_key(value: str | None) -> tuple[int, float, str]:
    if value in (None, ""):
        return (3, 0.0, "")
    number = _number(value)
    if number is not None:
        return (0, number, "")
    moment = _millis(value)
    if moment is not None:
        return (1, float(moment), "")
    return (2, 0.0, value.casefold())


class _BadRequest(Exception):
    """A request HubSpot would refuse with 400 VALIDATION_ERROR."""


@dataclass
class _Rule:
    """A fault for the requests whose path (with query) contains `path_contains`: the first
    `skip` of them pass, the next `count` get it."""

    path_contains: str
    count: int
    skip: int
    status: int = 0
    retry_after: str | None = None
    policy: str | None = None
    seconds: float = 0.0


class FakeHubSpot:
    """An in-memory HubSpot portal served over HTTP; a context manager (serving inside it).

    `records[type][id]` is {"properties", "createdAt", "updatedAt", "archived", "archivedAt",
    "associations": {to_type: [ids]}}; a contact's or deal's first company is its primary one.
    """

    def __init__(self, *, port: int = 0) -> None:
        self.records: dict[str, dict[str, Json]] = {t: {} for t in OBJECT_TYPES}
        self.tokens: dict[str, set[str]] = {
            DEFAULT_TOKEN: {f"crm.objects.{t}.read" for t in OBJECT_TYPES}
        }
        self.expired: set[str] = set()
        self.requests: list[tuple[str, str]] = []  # (method, path with query) of each request
        self.bodies: list[Any] = []  # each request's JSON body (None without one)
        self.calls = 0
        self.search_cap = SEARCH_CAP  # how far a search's offset may go
        self.daily_limit = 250_000  # private apps, Free and Starter
        self.ten_secondly_max = 100
        self.interval_seconds = 10.0  # the rolling window of ten_secondly_max
        self.search_per_second = 5
        self.enforce_limits = False
        self.refused: list[str] = []  # the policy of each request refused for a limit
        self.search_rate_headers = False
        self.lock = threading.RLock()
        self._next_id = dict(FIRST_ID)
        self._faults: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._recent: deque[float] = deque()  # monotonic times of the last ten seconds' requests
        self._recent_searches: deque[float] = deque()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake._serve(self)

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self)

            def do_PATCH(self) -> None:  # noqa: N802
                fake._serve(self)

            def do_PUT(self) -> None:  # noqa: N802
                fake._serve(self)

            def do_DELETE(self) -> None:  # noqa: N802
                fake._serve(self)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHubSpot:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the portal -------------------------------------------------------------------------

    def add(
        self,
        object_type: str,
        properties: dict[str, Any],
        *,
        associations: dict[str, list[str]] | None = None,
        at: datetime | None = None,
        updated_at: datetime | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """A new record; its id. `at` (or `updated_at`) is its last modification, now by
        default; `createdate` is `created_at`, the one in `properties`, or `at`. Sets
        `hs_object_id` and the modified property (`lastmodifieddate` on contacts,
        `hs_lastmodifieddate` on companies and deals). A contact's `associatedcompanyid` and
        its primary company are kept the same, as HubSpot keeps them."""
        kind = _kind(object_type)
        moment = at or updated_at or datetime.now(UTC)
        with self.lock:
            rid = str(self._next_id[kind])
            self._next_id[kind] += 1
            props = {name: _text(value) for name, value in properties.items()}
            if not props.get("createdate"):
                props["createdate"] = hubspot_time(created_at or moment)
            props["hs_object_id"] = rid
            props[MODIFIED[kind]] = hubspot_time(moment)
            links = {_kind(t): [str(i) for i in ids] for t, ids in (associations or {}).items()}
            if kind == "contacts":
                _primary_company(props, links)
            self.records[kind][rid] = {
                "properties": props,
                "createdAt": props["createdate"],
                "updatedAt": props[MODIFIED[kind]],
                "archived": False,
                "archivedAt": None,
                "associations": links,
            }
        return rid

    def update(
        self,
        object_type: str,
        id: str,
        properties: dict[str, Any],
        *,
        at: datetime | None = None,
    ) -> None:
        """Change properties of a record, modified `at` (now by default)."""
        kind = _kind(object_type)
        moment = hubspot_time(at or datetime.now(UTC))
        with self.lock:
            record = self.records[kind][str(id)]
            record["properties"].update({k: _text(v) for k, v in properties.items()})
            if kind == "contacts" and "associatedcompanyid" in properties:
                _primary_company(record["properties"], record["associations"])
            record["properties"][MODIFIED[kind]] = moment
            record["updatedAt"] = moment

    def archive(self, object_type: str, id: str, *, at: datetime | None = None) -> None:
        """Archive (delete) a record `at` (now by default): lists find it with archived=true."""
        with self.lock:
            record = self.records[_kind(object_type)][str(id)]
            record["archived"] = True
            record["archivedAt"] = hubspot_time(at or datetime.now(UTC))

    def demo_portal(self) -> FakeHubSpot:
        """Fill the portal with a small, fixed one: 6 companies, 20 contacts across the
        lifecycle stages, 8 deals on the companies. Returns the fake."""
        _fill_demo(self)
        return self

    # --- faults and what was asked ----------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: str | None = None,
        path_contains: str = "",
        skip: int = 0,
        policy: str | None = None,
    ) -> None:
        """Make the next `count` requests whose path (with its query) contains
        `path_contains` answer `status`, after letting `skip` of them through. A 429 answers
        HubSpot's rate-limit body for `policy` (TEN_SECONDLY_ROLLING, SECONDLY for searches,
        or DAILY), with `Retry-After` when given."""
        with self.lock:
            self._faults.append(
                _Rule(path_contains, count, skip, status, retry_after=retry_after, policy=policy)
            )

    def fail_after(self, n_requests: int, status: int, **options: Any) -> None:
        """`fail_next` once `n_requests` matching requests have passed: to fail the third page
        of a contacts listing, `fail_after(2, 429, path_contains="/objects/contacts?")`."""
        self.fail_next(status, skip=n_requests, **options)

    def delay_next(
        self, seconds: float, *, count: int = 1, path_contains: str = "", skip: int = 0
    ) -> None:
        """Answer the next `count` matching requests `seconds` late (after `skip` of them)."""
        with self.lock:
            self._delays.append(_Rule(path_contains, count, skip, seconds=seconds))

    def count(self, method: str, path_contains: str = "") -> int:
        """How many `method` requests had a path (with query) containing `path_contains`."""
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and path_contains in p)

    # --- serving ----------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        # The request line's target as sent: http.server's `path` turns a leading "//" into
        # "/", which would hide a client whose host ends in "/".
        parts = handler.requestline.split()
        target = parts[1] if len(parts) == 3 else handler.path
        status, body, headers = self._answer(
            handler.command, target, handler.headers.get("Authorization") or "", raw
        )
        data = json.dumps(body).encode()
        # A client that gave up waiting (a timeout test) has closed the socket.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json;charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)

    def _answer(
        self, method: str, target: str, authorization: str, raw: bytes
    ) -> tuple[int, Json, dict[str, str]]:
        path = target.partition("?")[0]
        search = method == "POST" and bool(SEARCH_PATH.match(path))
        with self.lock:
            self.calls += 1
            self.requests.append((method, target))
            now = time.monotonic()
            self._recent.append(now)
            while self._recent and self._recent[0] <= now - self.interval_seconds:
                self._recent.popleft()
            if search:
                self._recent_searches.append(now)
                while self._recent_searches and self._recent_searches[0] <= now - 1:
                    self._recent_searches.popleft()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            self.bodies.append(body)
            delay = _take(self._delays, target)
            fault = _take(self._faults, target)
        if delay:
            time.sleep(delay.seconds)
        correlation = str(uuid.uuid4())
        headers = {"X-HubSpot-Correlation-Id": correlation}
        if not search or self.search_rate_headers:
            headers.update(self._rate_headers())
        limited = self._over_limit(search) if self.enforce_limits else None
        if limited:
            self.refused.append(limited)
        if limited or (fault and fault.status == 429):
            if fault and fault.status == 429:
                limited = fault.policy or ("SECONDLY" if search else "TEN_SECONDLY_ROLLING")
                if fault.retry_after:
                    headers["Retry-After"] = fault.retry_after
            if "X-HubSpot-RateLimit-Remaining" in headers and limited != "DAILY":
                headers["X-HubSpot-RateLimit-Remaining"] = "0"
            return 429, self._rate_limited(limited or "TEN_SECONDLY_ROLLING", correlation), headers
        if fault:
            return fault.status, self._fault_body(fault.status, correlation), headers
        with self.lock:
            status, answer = self._route(method, path, target, authorization, raw)
        if answer.get("status") == "error":
            answer["correlationId"] = correlation
        return status, answer, headers

    def _route(
        self, method: str, path: str, target: str, authorization: str, raw: bytes
    ) -> tuple[int, Json]:
        token = authorization.removeprefix("Bearer ").strip()
        if token in self.expired:
            return 401, _error(EXPIRED_AUTHENTICATION, "EXPIRED_AUTHENTICATION")
        if not authorization.startswith("Bearer ") or token not in self.tokens:
            return 401, _error(INVALID_AUTHENTICATION, "INVALID_AUTHENTICATION")
        for verb, pattern, endpoint in ROUTES:
            match = pattern.match(path)
            if method != verb or not match:
                continue
            kinds = [ALIASES.get(name.lower()) for name in match.groups()]
            for name, kind in zip(match.groups(), kinds, strict=True):
                if kind is None:
                    return 400, _error(f"Unable to infer object type from: {name}")
            for kind in kinds:
                scope = f"crm.objects.{kind}.read"
                if scope not in self.tokens[token]:
                    return 403, _missing_scope(scope)
            try:
                if endpoint == "list":
                    return 200, self._list(kinds[0], target)
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise _BadRequest("Invalid input JSON: expected an object.")
                if endpoint == "search":
                    return 200, self._search(kinds[0], body)
                return self._batch_read(kinds[0], kinds[1], body)
            except ValueError as exc:
                return 400, _error(f"Invalid input JSON: {exc}")
            except _BadRequest as exc:
                return 400, _error(str(exc))
        hint = " (the client's host ends in '/': give it without)" if path.startswith("//") else ""
        return 404, _error(f"No route for {method} {path}{hint}", "OBJECT_NOT_FOUND")

    # --- the endpoints ----------------------------------------------------------------------

    def _list(self, kind: str, target: str) -> Json:
        path, _, query_string = target.partition("?")
        query = parse_qs(query_string, keep_blank_values=True)
        limit = min(_positive(_last(query, "limit") or "10", "limit"), LIST_MAX)
        after = _last(query, "after")
        start = _positive(after, "after", zero=True) if after else 0
        archived = (_last(query, "archived") or "false").lower() == "true"
        properties = _names(query.get("properties"))
        associations = [ALIASES[a.lower()] for a in _names(query.get("associations")) or []
                        if a.lower() in ALIASES]  # fmt: skip
        ids = sorted(
            int(rid)
            for rid, record in self.records[kind].items()
            if record["archived"] == archived and int(rid) >= start
        )
        page = ids[:limit]
        out: Json = {"results": [self._shape(kind, str(i), properties, associations) for i in page]}
        if len(ids) > limit:
            cursor = str(page[-1] + 1)
            pairs = [(k, v) for k, v in parse_qsl(query_string, keep_blank_values=True)
                     if k != "after"]  # fmt: skip
            link = f"{self.base}{path}?{urlencode([*pairs, ('after', cursor)])}"
            out["paging"] = {"next": {"after": cursor, "link": link}}
        return out

    def _search(self, kind: str, body: Json) -> Json:
        limit = _positive(str(body.get("limit", 10)), "limit")
        if limit > SEARCH_MAX:
            raise _BadRequest(f"limit must be less than or equal to {SEARCH_MAX}")
        offset = _positive(str(body.get("after") or 0), "after", zero=True)
        if offset >= self.search_cap:
            raise _BadRequest(
                f"Search results are limited to {self.search_cap:,}: "
                f"after ({offset}) must be less than {self.search_cap}."
            )
        groups = body.get("filterGroups") or []
        filters = [f for g in groups for f in g.get("filters") or []]
        if (
            len(groups) > FILTER_GROUPS_MAX
            or len(filters) > FILTERS_MAX
            or any(len(g.get("filters") or []) > FILTERS_PER_GROUP_MAX for g in groups)
        ):
            raise _BadRequest(
                f"A search takes at most {FILTER_GROUPS_MAX} filterGroups, "
                f"{FILTERS_PER_GROUP_MAX} filters in each and {FILTERS_MAX} in all."
            )
        text = str(body.get("query") or "").casefold()
        found = [
            rid
            for rid, record in sorted(self.records[kind].items(), key=lambda item: int(item[0]))
            if not record["archived"]
            and (not groups or any(self._passes(record, g.get("filters") or []) for g in groups))
            and (
                not text or any(text in (v or "").casefold() for v in record["properties"].values())
            )
        ]
        for name, descending in reversed(_sorts(body.get("sorts") or [])):
            found.sort(
                key=lambda rid, n=name: _sort_key(self.records[kind][rid]["properties"].get(n)),
                reverse=descending,
            )
        page = found[offset : offset + limit]
        properties = _names(body.get("properties")) or None
        out: Json = {
            "total": len(found),
            "results": [self._shape(kind, rid, properties, []) for rid in page],
        }
        if offset + limit < len(found):
            out["paging"] = {"next": {"after": str(offset + limit)}}
        return out

    def _passes(self, record: Json, filters: list[Json]) -> bool:
        return all(_test(record["properties"], f) for f in filters)

    def _batch_read(self, source: str, target: str, body: Json) -> tuple[int, Json]:
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise _BadRequest("inputs must be a list of {id}.")
        started = hubspot_time(datetime.now(UTC))
        results, errors = [], []
        for item in inputs:
            rid = str((item or {}).get("id"))
            record = self.records[source].get(rid)
            links = self._links(source, rid, target) if record and not record["archived"] else []
            if links:
                results.append(
                    {
                        "from": {"id": rid},
                        "to": [
                            {
                                "toObjectId": int(to),
                                "associationTypes": _v4_types(source, target, p),
                            }
                            for to, p in links
                        ],
                    }
                )
                continue
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": (
                        f"No {SINGULAR[target]} is associated with {SINGULAR[source]} {rid}."
                    ),
                    "context": {
                        "fromObjectId": [rid],
                        "fromObjectType": [SINGULAR[source]],
                        "toObjectType": [SINGULAR[target]],
                    },
                }
            )
        out: Json = {"status": "COMPLETE", "results": results}
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
        out["startedAt"] = started
        out["completedAt"] = hubspot_time(datetime.now(UTC))
        return (207 if errors else 200), out

    # --- records as the API shows them ------------------------------------------------------

    def _shape(
        self, kind: str, rid: str, properties: list[str] | None, associations: list[str]
    ) -> Json:
        record = self.records[kind][rid]
        names = (
            DEFAULT_PROPERTIES[kind]
            if properties is None
            else [*properties, "hs_object_id", "createdate", MODIFIED[kind]]
        )
        out: Json = {
            "id": rid,
            "properties": {n: record["properties"].get(n) for n in sorted(set(names))},
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": record["archived"],
        }
        if record["archived"]:
            out["archivedAt"] = record["archivedAt"]
        linked = {}
        for target in dict.fromkeys(associations):
            results = _v3_results(kind, target, self._links(kind, rid, target))
            if results:
                linked[target] = {"results": results}
        if linked:
            out["associations"] = linked
        return out

    def _links(self, source: str, rid: str, target: str) -> list[tuple[str, bool]]:
        """The live records of `target` associated with `source` record `rid`, each with
        whether the association is the primary one, held from either side."""
        if (source, target) not in ASSOCIATION_TYPES:
            return []
        found = list(self.records[source][rid]["associations"].get(target, []))
        for oid, other in self.records[target].items():
            if rid in other["associations"].get(source, []) and oid not in found:
                found.append(oid)
        return [
            (oid, self._primary(source, rid, target, oid))
            for oid in found
            if oid in self.records[target] and not self.records[target][oid]["archived"]
        ]

    def _primary(self, source: str, rid: str, target: str, oid: str) -> bool:
        """Whether company of the pair is the contact's or the deal's primary (first) one."""
        if ASSOCIATION_TYPES[(source, target)][0] is None:
            return False
        holder, holder_id, company = (
            (source, rid, oid) if target == "companies" else (target, oid, rid)
        )
        companies = self.records[holder][holder_id]["associations"].get("companies") or []
        return bool(companies) and companies[0] == company

    # --- rate limits ------------------------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        with self.lock:
            return {
                "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self.calls)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.interval_seconds * 1000)),
                "X-HubSpot-RateLimit-Max": str(self.ten_secondly_max),
                "X-HubSpot-RateLimit-Remaining": str(
                    max(0, self.ten_secondly_max - len(self._recent))
                ),
            }

    def _over_limit(self, search: bool) -> str | None:
        with self.lock:
            if self.calls > self.daily_limit:
                return "DAILY"
            if search and len(self._recent_searches) > self.search_per_second:
                return "SECONDLY"
            if len(self._recent) > self.ten_secondly_max:
                return "TEN_SECONDLY_ROLLING"
        return None

    def _rate_limited(self, policy: str, correlation: str) -> Json:
        body: Json = {
            "status": "error",
            "message": RATE_LIMIT_MESSAGES.get(policy, f"You have reached your {policy} limit."),
            "errorType": "RATE_LIMIT",
            "correlationId": correlation,
            "policyName": policy,
        }
        if policy != "DAILY":
            body["groupName"] = "publicapi:private-apps:fake-app"
        return body

    def _fault_body(self, status: int, correlation: str) -> Json:
        if status == 401:
            body = _error(INVALID_AUTHENTICATION, "INVALID_AUTHENTICATION")
        elif status == 403:
            body = _missing_scope("crm.objects.contacts.read")
        elif status >= 500:
            body = _error("internal error", "INTERNAL_ERROR")
        else:
            body = _error(f"fault injected: {status}", CATEGORIES.get(status, "VALIDATION_ERROR"))
        body["correlationId"] = correlation
        return body


# --- helpers --------------------------------------------------------------------------------


def _kind(object_type: str) -> str:
    try:
        return ALIASES[object_type.lower()]
    except KeyError:
        raise ValueError(
            f"FakeHubSpot holds {', '.join(OBJECT_TYPES)}, not {object_type}"
        ) from None


def _primary_company(props: dict[str, str | None], links: dict[str, list[str]]) -> None:
    """Keep a contact's `associatedcompanyid` and its first (primary) company the same."""
    given = props.get("associatedcompanyid")
    companies = links.get("companies") or []
    if given:
        links["companies"] = [given, *(c for c in companies if c != given)]
    elif companies:
        props["associatedcompanyid"] = companies[0]


def _take(rules: list[_Rule], target: str) -> _Rule | None:
    """The rule that applies to this request, if any, counted down (call under the lock)."""
    for rule in list(rules):
        if rule.path_contains not in target:
            continue
        if rule.skip > 0:
            rule.skip -= 1
            continue
        rule.count -= 1
        if rule.count <= 0:
            rules.remove(rule)
        return rule
    return None


def _error(message: str, category: str = "VALIDATION_ERROR") -> Json:
    return {"status": "error", "message": message, "correlationId": "", "category": category}


def _missing_scope(scope: str) -> Json:
    return {
        "status": "error",
        "message": MISSING_SCOPES,
        "correlationId": "",
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [scope]},
            }
        ],
        "category": "MISSING_SCOPES",
    }


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _positive(text: str, name: str, *, zero: bool = False) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _BadRequest(f"{name} must be a whole number, not {text!r}") from None
    if number < (0 if zero else 1):
        raise _BadRequest(f"{name} must be at least {0 if zero else 1}")
    return number


def _names(values: Any) -> list[str] | None:
    """Property or object names as a list: repeated, comma-separated, or both."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    names = [n.strip() for value in values for n in str(value).split(",")]
    return list(dict.fromkeys(n for n in names if n))


def _sorts(sorts: list[Any]) -> list[tuple[str, bool]]:
    """A search's sorts as (property, descending): objects, JSON objects as text, or names."""
    out = []
    for sort in sorts:
        if isinstance(sort, str) and sort.strip().startswith("{"):
            sort = json.loads(sort)
        if isinstance(sort, dict):
            name = sort.get("propertyName")
            if not name:
                raise _BadRequest("A sort needs a propertyName.")
            out.append((str(name), str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"))
        else:
            out.append((str(sort), False))
    return out


def _test(props: dict[str, str | None], flt: Json) -> bool:
    """Whether a record's properties pass one search filter."""
    name, operator = flt.get("propertyName"), str(flt.get("operator") or "EQ").upper()
    if not name:
        raise _BadRequest("A filter needs a propertyName.")
    have = props.get(name)
    if operator == "HAS_PROPERTY":
        return have not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return have in (None, "")
    if have in (None, ""):
        return operator in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    value = str(flt.get("value", ""))

    def compare(other: str) -> int:
        a, b = _comparable(have, other)
        return (a > b) - (a < b)

    checks = {
        "EQ": lambda: compare(value) == 0,
        "NEQ": lambda: compare(value) != 0,
        "LT": lambda: compare(value) < 0,
        "LTE": lambda: compare(value) <= 0,
        "GT": lambda: compare(value) > 0,
        "GTE": lambda: compare(value) >= 0,
        "BETWEEN": lambda: compare(value) >= 0 and compare(str(flt.get("highValue", ""))) <= 0,
        "IN": lambda: any(compare(str(v)) == 0 for v in flt.get("values") or []),
        "NOT_IN": lambda: all(compare(str(v)) != 0 for v in flt.get("values") or []),
        "CONTAINS_TOKEN": lambda: value.strip("*").casefold() in have.casefold(),
        "NOT_CONTAINS_TOKEN": lambda: value.strip("*").casefold() not in have.casefold(),
    }
    if operator not in checks:
        raise _BadRequest(f"Unknown filter operator: {operator}")
    return checks[operator]()


def _v3_results(source: str, target: str, links: list[tuple[str, bool]]) -> list[Json]:
    """v3's association list: a primary company appears twice, labelled and unlabeled."""
    primary_type = ASSOCIATION_TYPES[(source, target)][0]
    name = f"{SINGULAR[source]}_to_{SINGULAR[target]}"
    plain = f"{name}_unlabeled" if primary_type is not None else name
    out = []
    for oid, primary in links:
        if primary:
            out.append({"id": oid, "type": name})
        out.append({"id": oid, "type": plain})
    return out


def _v4_types(source: str, target: str, primary: bool) -> list[Json]:
    primary_type, plain_type = ASSOCIATION_TYPES[(source, target)]
    types = [{"category": "HUBSPOT_DEFINED", "typeId": plain_type, "label": None}]
    if primary and primary_type is not None:
        types.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": primary_type, "label": "Primary"})
    return types


# --- the demo portal ------------------------------------------------------------------------

OWNERS = ("75310001", "75310002", "75310003")
DEMO_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
COMPANIES = [
    # name, domain, industry, employees
    ("Northwind Traders", "northwind-traders.example", "WHOLESALE", 240),
    ("Contoso Analytics", "contoso-analytics.example", "COMPUTER_SOFTWARE", 85),
    ("Fabrikam Logistics", "fabrikam-logistics.example", "LOGISTICS_AND_SUPPLY_CHAIN", 1200),
    ("Tailspin Health", "tailspin-health.example", "HOSPITAL_HEALTH_CARE", 430),
    ("Wide World Retail", "wideworld-retail.example", "RETAIL", 3100),
    ("Adventure Works Finance", "adventureworks-finance.example", "FINANCIAL_SERVICES", 610),
]
CONTACTS = [
    # first, last, company index or None, lifecycle stage, original source
    ("Ava", "Lindqvist", 0, "customer", "ORGANIC_SEARCH"),
    ("Ben", "Okafor", 0, "salesqualifiedlead", "PAID_SEARCH"),
    ("Chloe", "Marchetti", 0, "lead", "EMAIL_MARKETING"),
    ("Daniel", "Ferreira", 1, "opportunity", "REFERRALS"),
    ("Elif", "Yilmaz", 1, "marketingqualifiedlead", "ORGANIC_SEARCH"),
    ("Felix", "Brandt", 1, "lead", "SOCIAL_MEDIA"),
    ("Grace", "Nakamura", 2, "customer", "OFFLINE"),
    ("Hugo", "Laurent", 2, "marketingqualifiedlead", "PAID_SOCIAL"),
    ("Isla", "McAllister", 2, "salesqualifiedlead", "DIRECT_TRAFFIC"),
    ("Jonas", "Eriksen", 3, "marketingqualifiedlead", "ORGANIC_SEARCH"),
    ("Keira", "Mensah", 3, "lead", "EMAIL_MARKETING"),
    ("Luca", "Romano", 3, "opportunity", "PAID_SEARCH"),
    ("Maya", "Chen", 4, "customer", "REFERRALS"),
    ("Noah", "Schmidt", 4, "marketingqualifiedlead", "SOCIAL_MEDIA"),
    ("Olivia", "Dubois", 4, "salesqualifiedlead", "ORGANIC_SEARCH"),
    ("Pavel", "Novak", 5, "marketingqualifiedlead", "OTHER_CAMPAIGNS"),
    ("Quinn", "Harper", 5, "lead", "DIRECT_TRAFFIC"),
    ("Rosa", "Alvarez", 5, "salesqualifiedlead", "EMAIL_MARKETING"),
    ("Sami", "Haddad", None, "marketingqualifiedlead", "ORGANIC_SEARCH"),
    ("Tara", "Quinn", None, "lead", "PAID_SOCIAL"),
]
# The days after creation at which a contact reached each stage on its way.
STAGE_DAYS = {
    "lead": 0,
    "marketingqualifiedlead": 3,
    "salesqualifiedlead": 10,
    "opportunity": 18,
    "customer": 35,
}
DEALS = [
    # company index, name, stage, amount, currency, deal type, days open, contact index
    (0, "Northwind Traders — Platform", "closedwon", "48000", "USD", "newbusiness", 45, 0),
    (1, "Contoso Analytics — Pilot", "presentationscheduled", "12500", "USD", "newbusiness", 60, 3),
    (2, "Fabrikam Logistics — Fleet rollout", "closedwon", "96000", "EUR", "newbusiness", 50, 6),
    (2, "Fabrikam Logistics — Add-on seats", "appointmentscheduled", "8400", "EUR",
     "existingbusiness", 70, 8),
    (3, "Tailspin Health — Clinics", "decisionmakerboughtin", "36000", "USD", "newbusiness",
     40, 11),
    (4, "Wide World Retail — Stores", "closedwon", "150000", "USD", "newbusiness", 55, 12),
    (4, "Wide World Retail — Analytics", "closedlost", "22000", "USD", "newbusiness", 30, 14),
    (5, "Adventure Works Finance — Compliance", "contractsent", "64000", "GBP", "newbusiness",
     65, 17),
]  # fmt: skip


def _fill_demo(fake: FakeHubSpot) -> None:
    company_ids = []
    for n, (name, domain, industry, employees) in enumerate(COMPANIES):
        created = DEMO_START - timedelta(days=60 - n * 7)
        company_ids.append(
            fake.add(
                "companies",
                {
                    "name": name,
                    "domain": domain,
                    "industry": industry,
                    "numberofemployees": employees,
                    "hubspot_owner_id": OWNERS[n % len(OWNERS)],
                    "lifecyclestage": "customer" if n in (0, 2, 4) else "lead",
                },
                created_at=created,
                at=created + timedelta(days=90),
            )
        )
    contact_ids = []
    for n, (first, last, company, stage, source) in enumerate(CONTACTS):
        created = DEMO_START + timedelta(days=n * 6, hours=n % 5)
        domain = COMPANIES[company][1] if company is not None else "mail.example"
        props: dict[str, Any] = {
            "email": f"{first}.{last}@{domain}".lower(),
            "firstname": first,
            "lastname": last,
            "company": COMPANIES[company][0] if company is not None else None,
            "lifecyclestage": stage,
            "hs_analytics_source": source,
            "hubspot_owner_id": OWNERS[n % len(OWNERS)],
        }
        reached = created
        for step, days in STAGE_DAYS.items():
            if days <= STAGE_DAYS[stage]:
                reached = created + timedelta(days=days, minutes=17 * n)
                props[f"hs_lifecyclestage_{step}_date"] = reached
        contact_ids.append(
            fake.add(
                "contacts",
                props,
                associations={"companies": [company_ids[company]]} if company is not None else None,
                created_at=created,
                at=reached + timedelta(hours=2),
            )
        )
    for n, (company, name, stage, amount, currency, kind, days, contact) in enumerate(DEALS):
        created = DEMO_START + timedelta(days=20 + n * 9)
        fake.add(
            "deals",
            {"dealname": name, "dealstage": stage, "amount": amount,
             "closedate": created + timedelta(days=days), "pipeline": "default",
             "dealtype": kind, "deal_currency_code": currency,
             "hs_analytics_source": CONTACTS[contact][4],
             "hubspot_owner_id": OWNERS[n % len(OWNERS)]},
            associations={"companies": [company_ids[company]], "contacts": [contact_ids[contact]]},
            created_at=created,
            at=created + timedelta(days=days, hours=3),
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake HubSpot portal on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake = FakeHubSpot(port=args.port).demo_portal()
    print(f"Fake HubSpot at {fake.base} (access token {DEFAULT_TOKEN}); Ctrl-C stops it.")
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()
    fake.server.server_close()


if __name__ == "__main__":
    main()
