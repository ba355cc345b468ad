"""HubSpot, through its CRM v3 objects API with `hubspot-api-client`, signed in with a
private app's access token.

- A first sync lists every contact, company and deal (`GET /crm/v3/objects/{type}`, paged by
  the `after` cursor, 100 a page), with deals' associated companies.
- Later syncs search for the records modified since the last one (`POST .../search`, 200 a
  page), paged by id rather than by offset: a search's offset cannot pass 10,000 results, and
  records modified at the same instant are neither skipped nor pulled twice.
- Deletions: archived records (`archived=true`) archived since the last sync.
- Pacing: the connector waits before HubSpot would refuse it, from the
  `X-HubSpot-RateLimit-Remaining` and `-Interval-Milliseconds` of each answer, and keeps
  searches under five a second. A 429 all the same (HubSpot's ten-second and daily limits,
  shared with the portal's other apps) waits for `Retry-After`; 5xx and timeouts are
  tried again with backoff; 401 asks for a new token; 403 names the missing scope.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from urllib3.util import Retry

from pipeline.connectors.base import (
    Connector,
    ConnectorError,
    Page,
    Transient,
    ca_bundle,
    retrying,
    rows_csv,
)
from pipeline.presets import builtin_preset

OBJECTS = {"lead": "contacts", "account": "companies", "deal": "deals"}
PRESETS = {
    "lead": "hubspot-api-contact",
    "account": "hubspot-api-company",
    "deal": "hubspot-api-deal",
}
# The property holding a record's last modification (contacts name it differently).
MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
ASSOCIATED = "associations.companies"  # the column a deal's company is written to
SCOPES = {
    "contacts": "crm.objects.contacts.read",
    "companies": "crm.objects.companies.read",
    "deals": "crm.objects.deals.read",
}
LIST_PAGE = 100
SEARCH_PAGE = 200
# Calls kept in hand in each ten-second window: at this many left, the connector waits for the
# window to pass instead of being refused (429). Searches: HubSpot allows 5 a second.
PACE_FLOOR = 1
SEARCHES_PER_SECOND = 5


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


class HubSpotConnector(Connector):
    label = "HubSpot"

    def __init__(self, connection, *, secret: str, on_call=None) -> None:
        super().__init__(connection, secret=secret, on_call=on_call)
        from hubspot import HubSpot

        bundle = ca_bundle()
        # urllib3 retries nothing itself (its default would re-send a GET after a 429 or a
        # timeout behind our back): every failure comes to `_call`, which counts, waits and
        # gives up by the connector's own rules.
        self.client = HubSpot(
            access_token=secret,
            host=connection.url,
            retry=Retry(total=0, redirect=False, raise_on_status=False),
            ssl_ca_cert=bundle if isinstance(bundle, str) else None,
        )

    # --- calls ------------------------------------------------------------------------------

    def _pace(self, search: bool) -> None:
        """Wait, before a call, rather than be refused: when the last answer said at most
        PACE_FLOOR calls are left in HubSpot's ten-second window, until that window has
        passed; and searches (whose answers carry no such headers) at most
        SEARCHES_PER_SECOND a second."""
        now = time.monotonic()
        if self._remaining is not None and self._remaining <= PACE_FLOOR:
            wait = self._window_start + self._interval - now
            if wait > 0:
                time.sleep(min(wait, self._interval))
            self._remaining = None  # the next answer starts the count again
        if search:
            wait = self._last_search + 1 / SEARCHES_PER_SECOND - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_search = time.monotonic()
        self._sent_at = time.monotonic()

    def _call(self, what: str, fn, *args, **kwargs):
        """One API call, with HubSpot's faults turned into ours, retried when they pass."""
        search = fn.__name__.startswith("do_search")

        def attempt():
            self._pace(search)
            self.call()
            try:
                data, _status, headers = fn(
                    *args,
                    _return_http_data_only=False,
                    _request_timeout=settings.CONNECTOR_TIMEOUT,
                    **kwargs,
                )
            except Exception as exc:
                # Each API module of the client has its own ApiException class.
                # (and its subclasses: ForbiddenException, ServiceException …).
                if type(exc).__module__.startswith("hubspot") and hasattr(exc, "status"):
                    raise self._fault(exc) from None
                # urllib3: timeouts, refused connections, TLS; each passes, or runs out.
                if type(exc).__module__.startswith("urllib3") or isinstance(exc, OSError):
                    raise Transient(f"{type(exc).__name__}: {exc}") from None
                raise
            self._limits(headers)
            return data

        return retrying(attempt, what=f"HubSpot: {what}")

    def _fault(self, exc) -> Exception:
        try:
            body = json.loads(exc.body or b"{}")
        except (ValueError, TypeError):
            body = {}
        category = body.get("category") or body.get("errorType") or ""
        if exc.status == 429:
            headers = dict(exc.headers or {})
            after = headers.get("Retry-After") or headers.get("retry-after")
            try:
                wait = float(after) if after else None
            except ValueError:
                wait = None
            policy = body.get("policyName") or "rate"
            if policy == "DAILY":
                return ConnectorError(
                    "HubSpot's daily API limit is used up; the sync resumes from here tomorrow."
                )
            return Transient(f"HubSpot's {policy.lower()} limit (429)", wait=wait or 10)
        if exc.status in (401,) or category in ("INVALID_AUTHENTICATION", "EXPIRED_AUTHENTICATION"):
            why = "has expired" if category == "EXPIRED_AUTHENTICATION" else "is not valid"
            return ConnectorError(
                f"HubSpot says the access token {why} (401). Reconnect: copy the private app's "
                "token again (Settings → Integrations → Private apps) and save it here.",
                reconnect=True,
            )
        if exc.status == 403:
            needed = []
            for error in body.get("errors") or []:
                needed += (error.get("context") or {}).get("requiredGranularScopes") or []
            scopes = ", ".join(needed) or "the read scopes of contacts, companies and deals"
            return ConnectorError(
                f"The private app is missing a scope: {scopes}. Add it on the app's Scopes tab "
                "in HubSpot, then test again."
            )
        if exc.status and exc.status >= 500:
            return Transient(f"HubSpot answered {exc.status}")
        message = body.get("message") or exc.reason or "no reason given"
        return ConnectorError(f"HubSpot refused the request ({exc.status}): {message}")

    def _limits(self, headers) -> None:
        headers = {k.lower(): v for k, v in dict(headers or {}).items()}
        left = headers.get("x-hubspot-ratelimit-remaining", "")
        interval = headers.get("x-hubspot-ratelimit-interval-milliseconds", "")
        if left.isdigit():
            if interval.isdigit():
                self._interval = int(interval) / 1000
            if self._remaining is None or int(left) > self._remaining:
                self._window_start = self._sent_at  # a window began (or calls rolled off)
            self._remaining = int(left)
        daily = headers.get("x-hubspot-ratelimit-daily")
        remaining = headers.get("x-hubspot-ratelimit-daily-remaining")
        if daily and remaining and daily.isdigit() and remaining.isdigit():
            self.last_limits = {"max": int(daily), "used": int(daily) - int(remaining)}

    last_limits: dict = {}
    # The ten-second window as the answers describe it (see _pace).
    _remaining: int | None = None
    _interval = 10.0
    _window_start = 0.0
    _sent_at = 0.0
    _last_search = 0.0

    def limits(self) -> dict:
        return dict(self.last_limits)

    # --- what the app asks ------------------------------------------------------------------

    def check(self) -> str:
        counted = []
        for object_type in self.connection.objects_synced:
            kind = OBJECTS[object_type]
            self._call(
                f"reading {kind}",
                self.client.crm.objects.basic_api.get_page_with_http_info,
                kind,
                limit=1,
            )
            counted.append(kind)
        left = ""
        if self.last_limits:
            used, most = self.last_limits["used"], self.last_limits["max"]
            left = f" {most - used:,} of today's {most:,} API calls are left."
        return f"Connected to HubSpot: the token reads {', '.join(counted)}.{left}"

    def preset_for(self, object_type: str) -> str:
        return PRESETS[object_type]

    def _columns(self, object_type: str) -> list[str]:
        return builtin_preset(PRESETS[object_type]).columns()

    def _properties(self, object_type: str) -> list[str]:
        return [c for c in self._columns(object_type) if c != ASSOCIATED]

    def pull(
        self, object_type: str, *, since: datetime | None, cursor: dict | None
    ) -> Iterator[Page]:
        cursor = dict(cursor or {})
        if cursor.get("phase", "records") == "records":
            if since is None:
                yield from self._list(object_type, cursor)
            else:
                yield from self._search(object_type, since, cursor)
            cursor = {"phase": "archived"}
        if since is not None:
            yield from self._archived(object_type, since, cursor)
        else:
            yield Page(csv=rows_csv(self._columns(object_type), [])[0], rows=0, cursor=None)

    def _row(self, object_type: str, record, companies: list[str] | None = None) -> dict:
        row = {name: value for name, value in (record.properties or {}).items()}
        row["hs_object_id"] = record.id
        if object_type == "deal":
            if companies is None:
                assoc = (getattr(record, "associations", None) or {}).get("companies")
                companies = [a.id for a in (assoc.results if assoc else [])]
            row[ASSOCIATED] = companies[0] if companies else ""
        return row

    def _list(self, object_type: str, cursor: dict) -> Iterator[Page]:
        kind = OBJECTS[object_type]
        after = cursor.get("after")
        columns = self._columns(object_type)
        while True:
            page = self._call(
                f"listing {kind}",
                self.client.crm.objects.basic_api.get_page_with_http_info,
                kind,
                limit=LIST_PAGE,
                after=after,
                properties=self._properties(object_type),
                associations=["companies"] if object_type == "deal" else None,
                archived=False,
            )
            rows = [self._row(object_type, r) for r in page.results or []]
            text, count = rows_csv(columns, rows)
            after = page.paging.next.after if page.paging and page.paging.next else None
            yield Page(
                csv=text,
                rows=count,
                cursor={"phase": "records", "after": after} if after else {"phase": "archived"},
            )
            if not after:
                return

    def _search(self, object_type: str, since: datetime, cursor: dict) -> Iterator[Page]:
        """The records modified since `since`, by id: each page asks for the ids after the
        last one seen (keyset paging), so HubSpot's 10,000-result cap on a search's offset is
        never reached and no record is pulled twice, however many share a modification time."""
        from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

        kind = OBJECTS[object_type]
        columns = self._columns(object_type)
        last_id = cursor.get("last_id", "0")
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=[
                    FilterGroup(
                        filters=[
                            Filter(
                                property_name=MODIFIED[kind], operator="GTE", value=_millis(since)
                            ),
                            Filter(property_name="hs_object_id", operator="GT", value=last_id),
                        ]
                    )
                ],
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                properties=self._properties(object_type),
                limit=SEARCH_PAGE,
                after="0",
            )
            page = self._call(
                f"searching {kind}",
                self.client.crm.objects.search_api.do_search_with_http_info,
                kind,
                public_object_search_request=request,
            )
            results = page.results or []
            companies = self._companies(results) if object_type == "deal" else {}
            rows = [self._row(object_type, r, companies.get(r.id, [])) for r in results]
            text, count = rows_csv(columns, rows)
            more = bool(page.paging and page.paging.next) and bool(results)
            if results:
                last_id = str(results[-1].id)
            yield Page(
                csv=text,
                rows=count,
                cursor={"phase": "records", "last_id": last_id} if more else {"phase": "archived"},
            )
            if not more:
                return

    def _companies(self, deals) -> dict[str, list[str]]:
        """Each deal's associated companies (the v4 associations batch read)."""
        from hubspot.crm.associations.v4 import (
            BatchInputPublicFetchAssociationsBatchRequest,
            PublicFetchAssociationsBatchRequest,
        )

        if not deals:
            return {}
        answer = self._call(
            "reading deals' companies",
            self.client.crm.associations.v4.batch_api.get_page_with_http_info,
            "deals",
            "companies",
            batch_input_public_fetch_associations_batch_request=BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=d.id) for d in deals]
            ),
        )
        return {
            str(item._from.id): [str(t.to_object_id) for t in item.to or []]
            for item in answer.results or []
        }

    def _archived(self, object_type: str, since: datetime, cursor: dict) -> Iterator[Page]:
        kind = OBJECTS[object_type]
        after = cursor.get("after") if cursor.get("phase") == "archived" else None
        columns = self._columns(object_type)
        while True:
            page = self._call(
                f"listing archived {kind}",
                self.client.crm.objects.basic_api.get_page_with_http_info,
                kind,
                limit=LIST_PAGE,
                after=after,
                archived=True,
            )
            deleted = [
                r.id for r in page.results or [] if r.archived_at is None or r.archived_at >= since
            ]
            after = page.paging.next.after if page.paging and page.paging.next else None
            yield Page(
                csv=rows_csv(columns, [])[0],
                rows=0,
                cursor={"phase": "archived", "after": after} if after else None,
                deleted=deleted,
            )
            if not after:
                return
