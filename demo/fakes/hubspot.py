"""A local stand-in for HubSpot's CRM API: an HTTP server on 127.0.0.1 answering the requests
`hubspot-api-client` really makes, with the response shapes of HubSpot's documentation.

What it models (developers.hubspot.com, CRM API v3 objects, search and v4 associations):
- `GET /crm/v3/objects/{type}`: a page of records ordered by id, `limit` (at most 100),
  `after` cursor in `paging.next.after`, `properties`, `associations`, `archived=true` for the
  archived records only (with `archivedAt`).
- `POST /crm/v3/objects/{type}/search`: filters on a property (GT, GTE, LT, LTE, EQ, values as
  epoch milliseconds), sorted ascending, `limit` at most 200, paged by offset; a search cannot
  page past 10,000 results (400); archived records are never found.
- `POST /crm/v4/associations/{from}/{to}/batch/read`: each input's associated records.
- A private app's bearer token: unknown → 401 INVALID_AUTHENTICATION, expired → 401
  EXPIRED_AUTHENTICATION, lacking the object's read scope → 403 MISSING_SCOPES.
- Rate-limit headers on every answer; `fail_next` makes the next matching requests answer
  429 (with `Retry-After`) or 5xx, `delay_next` answers late (a timeout).

The client takes the server's address as `host`, without a trailing slash:
`HubSpot(access_token=TOKEN, host=fake.base)`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TYPES = ("contacts", "companies", "deals")
MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DEFAULT_TOKEN = "pat-na1-test"
DAILY_LIMIT = 250_000
SEARCH_CAP = 10_000


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _parse_moment(value) -> float:
    """A filter value: epoch milliseconds or an ISO time, as epoch milliseconds."""
    text = str(value)
    if text.lstrip("-").isdigit():
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


class FakeHubSpot:
    def __init__(self, *, port: int = 0) -> None:
        self.records: dict[str, dict[str, dict]] = {t: {} for t in TYPES}
        self.tokens: dict[str, set[str]] = {DEFAULT_TOKEN: {f"crm.objects.{t}.read" for t in TYPES}}
        self.expired: set[str] = set()
        self.search_cap = SEARCH_CAP  # how far a search's offset may go (HubSpot: 10,000)
        self.requests: list[tuple[str, str]] = []
        self.calls = 0
        self._next_id = 100
        self._faults: list[dict] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake._serve(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self, "POST")

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
        properties: dict,
        *,
        associations: dict[str, list[str]] | None = None,
        at: datetime | None = None,
    ) -> str:
        at = at or datetime.now(UTC)
        with self._lock:
            self._next_id += 1
            rid = str(self._next_id)
        props = {k: (None if v is None else str(v)) for k, v in properties.items()}
        props.setdefault("createdate", _iso(at))
        props["hs_object_id"] = rid
        props[MODIFIED[object_type]] = _iso(at)
        self.records[object_type][rid] = {
            "properties": props,
            "createdAt": props["createdate"],
            "updatedAt": _iso(at),
            "updated_ms": _millis(at),
            "archived": False,
            "archivedAt": None,
            "associations": {k: list(v) for k, v in (associations or {}).items()},
        }
        return rid

    def update(self, object_type: str, rid: str, properties: dict, *, at: datetime | None = None):
        at = at or datetime.now(UTC)
        record = self.records[object_type][rid]
        record["properties"].update(
            {k: (None if v is None else str(v)) for k, v in properties.items()}
        )
        record["properties"][MODIFIED[object_type]] = _iso(at)
        record["updatedAt"], record["updated_ms"] = _iso(at), _millis(at)

    def archive(self, object_type: str, rid: str, *, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        record = self.records[object_type][rid]
        record["archived"], record["archivedAt"] = True, _iso(at)
        record["updatedAt"], record["updated_ms"] = _iso(at), _millis(at)

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: str | None = None,
        path_contains: str = "",
        skip: int = 0,
        policy: str = "TEN_SECONDLY_ROLLING",
    ) -> None:
        """Make `count` matching requests answer `status`, after letting `skip` matching
        requests through (so a test can fail the third page of a listing)."""
        self._faults.append(
            {"status": status, "count": count, "retry_after": retry_after,
             "path": path_contains, "skip": skip, "policy": policy, "delay": 0}
        )  # fmt: skip

    def delay_next(
        self, seconds: float, *, path_contains: str = "", count: int = 1, skip: int = 0
    ) -> None:
        """Answer `count` matching requests `seconds` late, after `skip` of them."""
        self._faults.append(
            {"status": 0, "count": count, "retry_after": None, "path": path_contains,
             "skip": skip, "policy": "", "delay": seconds}
        )  # fmt: skip

    def count(self, method: str, path_contains: str) -> int:
        return sum(1 for m, p in self.requests if m == method and path_contains in p)

    # --- serving ----------------------------------------------------------------------------

    def _fault(self, path: str) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["path"] in path and fault["count"] > 0:
                    if fault["skip"] > 0:
                        fault["skip"] -= 1
                        continue
                    fault["count"] -= 1
                    return dict(fault)
        return None

    def _send(self, handler, status: int, body: dict | None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else b""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-HubSpot-RateLimit-Daily", str(DAILY_LIMIT))
        handler.send_header("X-HubSpot-RateLimit-Daily-Remaining", str(DAILY_LIMIT - self.calls))
        handler.send_header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
        handler.send_header("X-HubSpot-RateLimit-Max", "190")
        handler.send_header("X-HubSpot-RateLimit-Remaining", "189")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler, status: int, message: str, category: str, **extra) -> None:
        self._send(
            handler,
            status,
            {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
             "category": category, **extra},
        )  # fmt: skip

    def _serve(self, handler, method: str) -> None:
        # The client may have given up waiting (a test of timeouts): nothing to answer then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._handle(handler, method)

    def _handle(self, handler, method: str) -> None:
        self.requests.append((method, handler.path))
        self.calls += 1
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        fault = self._fault(handler.path)
        if fault and fault["delay"]:
            time.sleep(fault["delay"])
        elif fault:
            if fault["status"] == 429:
                headers = {"Retry-After": fault["retry_after"]} if fault["retry_after"] else {}
                body = {"status": "error", "message": f"You have reached your {fault['policy'].lower()} limit.",
                        "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                        "policyName": fault["policy"], "groupName": "publicapi:private-apps"}  # fmt: skip
                return self._send(handler, 429, body, headers)
            return self._error(handler, fault["status"], "internal error", "INTERNAL_ERROR")
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if token in self.expired:
            return self._error(
                handler, 401, "The OAuth token used to make this call expired 1 minute(s) ago.",
                "EXPIRED_AUTHENTICATION",
            )  # fmt: skip
        if token not in self.tokens:
            return self._error(
                handler, 401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )  # fmt: skip
        url = urlsplit(handler.path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self._error(handler, 400, "Invalid input JSON", "VALIDATION_ERROR")
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
            kind = parts[3]
            if kind not in TYPES:
                return self._error(
                    handler, 400, f"Unable to infer object type from: {kind}", "VALIDATION_ERROR"
                )
            if f"crm.objects.{kind}.read" not in self.tokens[token]:
                return self._error(
                    handler, 403,
                    "This app hasn't been granted all required scopes to make this call. Read "
                    "more about required scopes here: https://developers.hubspot.com/scopes.",
                    "MISSING_SCOPES",
                    errors=[{"message": "One or more of the following scopes are required.",
                             "context": {"requiredGranularScopes": [f"crm.objects.{kind}.read"]}}],
                )  # fmt: skip
            if method == "GET" and len(parts) == 4:
                return self._send(handler, 200, self._list(kind, query))
            if method == "POST" and parts[4:] == ["search"]:
                return self._search(handler, kind, body)
        if parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"]:
            return self._send(handler, 200, self._associations(parts[3], parts[4], body))
        return self._error(handler, 404, f"No route for {method} {url.path}", "OBJECT_NOT_FOUND")

    def _shape(self, kind: str, rid: str, properties: list[str], associations: list[str]) -> dict:
        record = self.records[kind][rid]
        props = record["properties"]
        wanted = {"hs_object_id", "createdate", MODIFIED[kind], *properties}
        out = {
            "id": rid,
            "properties": {name: props.get(name) for name in sorted(wanted)},
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": record["archived"],
        }
        if record["archived"]:
            out["archivedAt"] = record["archivedAt"]
        linked = {
            name: {"results": [{"id": i, "type": f"{kind[:-1]}_to_{name[:-1]}"} for i in ids]}
            for name, ids in record["associations"].items()
            if name in associations and ids
        }
        if linked:
            out["associations"] = linked
        return out

    def _list(self, kind: str, query: dict) -> dict:
        limit = min(int((query.get("limit") or ["10"])[0]), 100)
        after = int((query.get("after") or ["0"])[0] or 0)
        archived = (query.get("archived") or ["false"])[
            0
        ].lower() == "true"  # the client sends True
        properties = ",".join(query.get("properties") or []).split(",")
        associations = ",".join(query.get("associations") or []).split(",")
        ids = sorted(
            (int(rid) for rid, r in self.records[kind].items() if r["archived"] == archived)
        )
        page = [i for i in ids if i > after][:limit]
        out: dict = {"results": [self._shape(kind, str(i), properties, associations) for i in page]}
        if page and page[-1] != ids[-1]:
            nxt = str(page[-1])
            out["paging"] = {
                "next": {"after": nxt, "link": f"{self.base}/crm/v3/objects/{kind}?after={nxt}"}
            }
        return out

    def _search(self, handler, kind: str, body: dict) -> None:
        limit = min(int(body.get("limit") or 10), 200)
        after = int(body.get("after") or 0)
        if after + limit > self.search_cap:
            return self._error(
                handler, 400,
                "There was a problem with the request. Search results are limited to 10,000.",
                "VALIDATION_ERROR",
            )  # fmt: skip
        matches = [rid for rid, r in self.records[kind].items() if not r["archived"]]
        for group in body.get("filterGroups") or []:
            for flt in group.get("filters") or []:
                matches = [rid for rid in matches if self._matches(kind, rid, flt)]
        sorts = body.get("sorts") or []
        key = sorts[0]["propertyName"] if sorts and isinstance(sorts[0], dict) else "hs_object_id"
        matches.sort(key=lambda rid: (self._value(kind, rid, key), int(rid)))
        page = matches[after : after + limit]
        out: dict = {
            "total": len(matches),
            "results": [self._shape(kind, rid, body.get("properties") or [], []) for rid in page],
        }
        if after + limit < len(matches):
            out["paging"] = {"next": {"after": str(after + limit)}}
        self._send(handler, 200, out)

    def _value(self, kind: str, rid: str, name: str) -> float:
        record = self.records[kind][rid]
        if name == MODIFIED[kind]:
            return record["updated_ms"]
        if name == "hs_object_id":
            return float(rid)
        value = record["properties"].get(name)
        try:
            return _parse_moment(value)
        except (TypeError, ValueError):
            return 0.0

    def _matches(self, kind: str, rid: str, flt: dict) -> bool:
        value = self._value(kind, rid, flt["propertyName"])
        given = _parse_moment(flt.get("value"))
        return {
            "GT": value > given, "GTE": value >= given, "LT": value < given,
            "LTE": value <= given, "EQ": value == given,
        }[flt.get("operator", "EQ")]  # fmt: skip

    def _associations(self, from_kind: str, to_kind: str, body: dict) -> dict:
        now = _iso(datetime.now(UTC))
        results = []
        for item in body.get("inputs") or []:
            record = self.records.get(from_kind, {}).get(str(item.get("id")))
            ids = (record or {}).get("associations", {}).get(to_kind) or []
            if ids:
                results.append({
                    "from": {"id": str(item["id"])},
                    "to": [{"toObjectId": int(i), "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}]} for i in ids],
                })  # fmt: skip
        return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}

    # --- a demo portal ----------------------------------------------------------------------

    def demo_portal(self) -> FakeHubSpot:
        """A small portal: companies, contacts through the lifecycle, deals on companies."""
        now = datetime.now(UTC)
        companies = [
            self.add("companies", {"name": n, "domain": d, "industry": i, "numberofemployees": e})
            for n, d, i, e in [
                ("Fjord Analytics", "fjord-analytics.example", "COMPUTER_SOFTWARE", 120),
                ("Kestrel Logistics", "kestrel-logistics.example", "LOGISTICS_AND_SUPPLY_CHAIN", 800),
                ("Lumen Health", "lumen-health.example", "HOSPITAL_HEALTH_CARE", 300),
            ]
        ]  # fmt: skip
        stages = ["lead", "marketingqualifiedlead", "salesqualifiedlead", "customer", "subscriber"]
        for n in range(20):
            stage = stages[n % len(stages)]
            created = now.replace(microsecond=0) - _days(60 - n * 2)
            props = {
                "email": f"person{n}@{['fjord-analytics', 'kestrel-logistics', 'lumen-health'][n % 3]}.example",
                "firstname": f"Person{n}", "lastname": "Demo", "company": "",
                "lifecyclestage": stage, "hs_analytics_source": ["ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING"][n % 3],
                "createdate": _iso(created), "hubspot_owner_id": str(9000 + n % 2),
                "associatedcompanyid": companies[n % 3],
            }  # fmt: skip
            if stage in ("marketingqualifiedlead", "salesqualifiedlead", "customer"):
                props["hs_lifecyclestage_marketingqualifiedlead_date"] = _iso(created + _days(3))
            if stage in ("salesqualifiedlead", "customer"):
                props["hs_lifecyclestage_salesqualifiedlead_date"] = _iso(created + _days(7))
            self.add("contacts", props)
        for n, (stage, amount) in enumerate(
            [("appointmentscheduled", 12000), ("qualifiedtobuy", 18000), ("contractsent", 24000),
             ("closedwon", 30000), ("closedwon", 9000), ("closedlost", 15000),
             ("presentationscheduled", 21000), ("decisionmakerboughtin", 27000)]
        ):  # fmt: skip
            created = now.replace(microsecond=0) - _days(50 - n * 3)
            self.add(
                "deals",
                {"dealname": f"Demo deal {n + 1}", "dealstage": stage, "amount": amount,
                 "closedate": _iso(created + _days(30)), "createdate": _iso(created),
                 "pipeline": "default", "dealtype": "newbusiness", "deal_currency_code": "USD",
                 "hubspot_owner_id": str(9000 + n % 2), "hs_analytics_source": "ORGANIC_SEARCH"},
                associations={"companies": [companies[n % 3]]},
            )  # fmt: skip
        return self


def _days(n: int):
    from datetime import timedelta

    return timedelta(days=n)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake HubSpot portal on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake = FakeHubSpot(port=args.port)
    fake.demo_portal()
    print(f"Fake HubSpot at {fake.base}, access token {DEFAULT_TOKEN}", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
