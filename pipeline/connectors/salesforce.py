"""Salesforce, through its REST and Bulk API 2.0 with `simple-salesforce`.

- Sign-in: a connected app with the OAuth 2.0 JWT bearer flow (consumer key, username and the
  private key whose certificate the app holds), or a username with password and security token
  (SOAP `login`, for orgs that allow it), against the login URL: production
  (https://login.salesforce.com), a sandbox (https://test.salesforce.com) or the org's My
  Domain. The session that comes back is used until Salesforce says it expired; then the
  connector signs in again once.
- A first sync pulls each object through a Bulk API 2.0 query job: CSV pages of up to 50,000
  rows, written as they come, so the API path adds no per-row work to the import's.
- Later syncs ask the REST `queryAll` for the rows whose `SystemModstamp` moved since the last
  sync, deleted ones included (`IsDeleted = true`: the Recycle Bin, for 15 days), paged by
  `nextRecordsUrl`.
- `REQUEST_LIMIT_EXCEEDED` (the org's daily API allowance) stops the sync where it is; 5xx and
  timeouts are tried again with backoff. The allowance left is read from `Sforce-Limit-Info`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import requests
from django.conf import settings

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

API_VERSION = "59.0"
# What each stream of a sync reads, in order: leads are the Lead object and then the contacts
# that did not come from a lead; a deal's stage history is OpportunityHistory.
OBJECTS = {
    "lead": ("Lead", "Contact"),
    "account": ("Account",),
    "deal": ("Opportunity",),
    "deal_history": ("OpportunityHistory",),
}
PRESETS = {
    "lead": "salesforce-lead",
    "account": "salesforce-account",
    "deal": "salesforce-opportunity",
}
# Read beside the preset's columns: the modification stamp (the cursor) and the deletion flag.
EXTRA = ("SystemModstamp", "IsDeleted")
BULK_PAGE = 50_000
# A contact is a person sales holds on an account. Salesforce converts a lead into a contact,
# so a contact some lead was converted into is that lead (the anti-join leaves it out); any
# other contact, one sales created by hand, is read as a lead of its own: its fields under the
# Lead columns the salesforce-lead preset reads, with the status CONTACT_STATUS (which the
# preset maps, and ops can map to another stage on a batch's page).
CONTACT_AS_LEAD = {
    "Id": "Id", "Email": "Email", "FirstName": "FirstName", "LastName": "LastName",
    "LeadSource": "LeadSource", "CreatedDate": "CreatedDate", "OwnerId": "OwnerId",
    "AccountId": "ConvertedAccountId", "SystemModstamp": "SystemModstamp",
    "IsDeleted": "IsDeleted",
}  # fmt: skip
CONTACT_STATUS = "Contact"
NOT_CONVERTED = "Id NOT IN (SELECT ConvertedContactId FROM Lead WHERE IsConverted = true)"
# OpportunityHistory: one row per change of an opportunity's stage, amount, probability or
# close date, never edited afterwards.
HISTORY_COLUMNS = ("Id", "OpportunityId", "StageName", "Amount", "CreatedDate")
BULK_POLL_SECONDS = 0.5

# What a token request's error means, in words ops can act on.
TOKEN_ERRORS = {
    "invalid_client_id": "Salesforce does not know the consumer key: copy it again from the "
    "connected app (Setup → App Manager → the app → View → Manage Consumer Details).",
    "user hasn't approved this consumer": "The user is not pre-authorised for the connected "
    "app: in its policies set 'Admin approved users are pre-authorized' and add the user's "
    "profile or permission set.",
    "ip restricted": "Salesforce refused the sign-in from this server's address: relax the "
    "connected app's IP restrictions or add this server to the org's trusted IP ranges.",
    "invalid assertion": "Salesforce rejected the signed assertion: the private key does not "
    "match the certificate uploaded to the connected app, or the login URL is not the org's.",
    "authentication failure": "Salesforce refused the username or password.",
}


class _Session(requests.Session):
    """Every request has a timeout, goes to the CA bundle chosen, and is counted."""

    def __init__(self, on_request) -> None:
        super().__init__()
        self.verify = ca_bundle()
        self._on_request = on_request

    def request(self, method, url, *args, **kwargs):  # noqa: D102 - requests' own
        kwargs.setdefault("timeout", settings.CONNECTOR_TIMEOUT)
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's own `verify`.
        kwargs.setdefault("verify", self.verify)
        self._on_request()
        response = super().request(method, url, *args, **kwargs)
        # "api-usage=18/15000": the org's API calls used today, on every REST answer.
        info = response.headers.get("Sforce-Limit-Info", "")
        if match := re.search(r"api-usage=(\d+)/(\d+)", info):
            self.usage = {"used": int(match.group(1)), "max": int(match.group(2))}
        return response

    usage: dict = {}


class SalesforceConnector(Connector):
    label = "Salesforce"

    def __init__(self, connection, *, secret: str, on_call=None) -> None:
        super().__init__(connection, secret=secret, on_call=on_call)
        self.session = _Session(self.call)
        self.sf = None
        self._fields: dict[str, set[str]] = {}

    # --- signing in -------------------------------------------------------------------------

    def _credentials(self) -> dict:
        try:
            return json.loads(self.secret)
        except ValueError:
            raise ConnectorError(
                "The stored credentials are unreadable: enter them again.", reconnect=True
            ) from None

    def _sign_in(self):
        from simple_salesforce import Salesforce

        conn = self.connection
        creds = self._credentials()
        try:
            if conn.auth == "salesforce_jwt":
                instance_url, token = self._jwt(creds)
                self.sf = Salesforce(
                    instance_url=instance_url,
                    session_id=token,
                    session=self.session,
                    version=API_VERSION,
                )
            else:
                token, instance = self._soap(creds)
                self.sf = Salesforce(
                    instance=instance,
                    session_id=token,
                    session=self.session,
                    version=API_VERSION,
                )
        except requests.RequestException as exc:
            raise ConnectorError(
                f"Salesforce's login URL {conn.url} could not be reached: {type(exc).__name__}."
            ) from None
        return self.sf

    def _jwt(self, creds: dict) -> tuple[str, str]:
        import jwt

        conn = self.connection
        now = int(time.time())
        claims = {"iss": conn.consumer_key, "sub": conn.username, "aud": conn.url, "exp": now + 180}
        try:
            assertion = jwt.encode(claims, creds.get("private_key", ""), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise ConnectorError(
                "The private key is not an RSA private key in PEM form (-----BEGIN PRIVATE "
                "KEY-----): enter it again.",
                reconnect=True,
            ) from None
        answer = self.session.post(
            f"{conn.url}/services/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        )
        return self._token_answer(answer)

    def _token_answer(self, answer: requests.Response) -> tuple[str, str]:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code >= 500:
            raise Transient(f"Salesforce's token endpoint answered {answer.status_code}")
        if answer.status_code != 200 or "access_token" not in body:
            text = body.get("error_description") or body.get("error") or answer.reason
            words = TOKEN_ERRORS.get(text) or TOKEN_ERRORS.get(body.get("error", ""))
            raise ConnectorError(
                words or f"Salesforce refused the sign-in: {text}.", reconnect=True
            )
        return body["instance_url"], body["access_token"]

    def _soap(self, creds: dict) -> tuple[str, str]:
        from simple_salesforce.exceptions import SalesforceAuthenticationFailed
        from simple_salesforce.login import soap_login

        conn = self.connection
        body = (
            '<?xml version="1.0" encoding="utf-8" ?>'
            '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:urn="urn:partner.soap.sforce.com">'
            '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
            f"<n1:username>{escape(conn.username)}</n1:username>"
            f"<n1:password>{escape(creds.get('password', '') + creds.get('security_token', ''))}"
            "</n1:password></n1:login></env:Body></env:Envelope>"
        )
        headers = {"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"}
        try:
            return soap_login(
                f"{conn.url}/services/Soap/u/{API_VERSION}", body, headers, None, self.session
            )
        except SalesforceAuthenticationFailed as exc:
            code = str(getattr(exc, "code", ""))
            if code.endswith("INVALID_LOGIN"):
                message = (
                    "Salesforce refused the username, password or security token (a "
                    "password change resets the token: Settings → Reset My Security Token)."
                )
            elif code.endswith("API_DISABLED_FOR_ORG"):
                message = "The API is not enabled for this org or user (profile: API Enabled)."
            elif code.endswith("LOGIN_MUST_USE_SECURITY_TOKEN"):
                message = "Salesforce wants the security token after the password."
            else:
                message = f"Salesforce refused the sign-in: {exc.message}"
            raise ConnectorError(message, reconnect=True) from None

    # --- calls ------------------------------------------------------------------------------

    def _call(self, what: str, fn):
        """`fn(sf)` with a signed-in client; Salesforce's faults turned into ours, a session
        that expired renewed once, failures that pass tried again."""
        from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

        renewed = False

        def attempt():
            nonlocal renewed
            sf = self.sf or retrying(self._sign_in, what="Salesforce: signing in")
            try:
                result = fn(sf)
            except SalesforceExpiredSession:
                if renewed:
                    raise ConnectorError(
                        "Salesforce ended the session again just after a new sign-in: check the "
                        "connected app's session policies, then reconnect.",
                        reconnect=True,
                    ) from None
                renewed = True
                self.sf = None
                raise Transient("the session expired; signing in again", wait=0) from None
            except SalesforceError as exc:
                raise self._fault(exc) from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise Transient(f"{type(exc).__name__}") from None
            return result

        return retrying(attempt, what=f"Salesforce: {what}")

    def _fault(self, exc) -> Exception:
        content = exc.content if isinstance(exc.content, list) else []
        codes = {item.get("errorCode") for item in content if isinstance(item, dict)}
        text = (
            "; ".join(str(item.get("message")) for item in content if isinstance(item, dict))
            or str(exc.content)[:200]
        )
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            used = self.limits()
            left = f" ({used['used']:,} of {used['max']:,} used)" if used else ""
            return ConnectorError(
                f"Salesforce's daily API allowance is used up{left}; the sync stopped and "
                "resumes from here when the allowance renews."
            )
        if "API_DISABLED_FOR_ORG" in codes or "API_CURRENTLY_DISABLED" in codes:
            return ConnectorError(
                "The API is not enabled for this org or user (profile: API Enabled)."
            )
        if exc.status and exc.status >= 500:
            return Transient(f"Salesforce answered {exc.status}")
        if "INVALID_FIELD" in codes or "INVALID_TYPE" in codes:
            return ConnectorError(
                f"Salesforce refused the query: {text}. The user may lack field-level access."
            )
        return ConnectorError(f"Salesforce refused the request ({exc.status}): {text}")

    def limits(self) -> dict:
        return dict(self.session.usage)

    # --- what the app asks ------------------------------------------------------------------

    def check(self) -> str:
        answer = self._call("reading the limits", lambda sf: sf.limits())
        names = []
        for stream in self.streams():
            self._columns(stream)
            names += [n for n in OBJECTS[stream] if n not in names]
        daily = (answer or {}).get("DailyApiRequests") or {}
        left = ""
        if daily.get("Max"):
            left = f" {daily['Remaining']:,} of today's {daily['Max']:,} API calls are left."
            self.session.usage = {"used": daily["Max"] - daily["Remaining"], "max": daily["Max"]}
        return (
            f"Connected to Salesforce as {self.connection.username}: it reads "
            f"{', '.join(names)}.{left}"
        )

    def streams(self) -> list[str]:
        streams = super().streams()
        if "deal" in streams:
            streams.insert(streams.index("deal") + 1, "deal_history")
        return streams

    def preset_for(self, object_type: str) -> str:
        return PRESETS[object_type]

    def _readable(self, name: str) -> set[str]:
        """The fields of the object this user can read (describe), cached."""
        if name not in self._fields:
            described = self._call(f"describing {name}", lambda sf: getattr(sf, name).describe())
            self._fields[name] = {f["name"] for f in described.get("fields", [])}
        return self._fields[name]

    def _lacking(self, name: str, missing: list[str]) -> ConnectorError:
        return ConnectorError(
            f"{name} has no field {', '.join(missing)} this user can read: grant field-level "
            "access, or import that object from a file."
        )

    def _columns(self, stream: str) -> list[str]:
        """What the file of a stream holds: the preset's columns the org has (a missing
        optional one, such as a custom MQL date, is left out), then the stamp and the
        deletion flag."""
        if stream == "deal_history":
            fields = self._readable("OpportunityHistory")
            if missing := [c for c in (*HISTORY_COLUMNS, *EXTRA) if c not in fields]:
                raise self._lacking("OpportunityHistory", missing)
            return [*HISTORY_COLUMNS, *EXTRA]
        preset = builtin_preset(PRESETS[stream])
        name = OBJECTS[stream][0]
        fields = self._readable(name)
        if missing := sorted(c for c in preset.required_columns() if c not in fields):
            raise self._lacking(name, missing)
        wanted = [c for c in preset.columns() if c in fields]
        return list(dict.fromkeys([*wanted, *EXTRA]))

    def _selected(self, stream: str, name: str) -> list[str]:
        """The fields a query of `name` selects for the stream."""
        columns = self._columns(stream)
        if name != "Contact":
            return columns
        fields = self._readable("Contact")
        wanted = [f for f, column in CONTACT_AS_LEAD.items() if column in columns]
        if missing := [f for f in ("Id", "LastName", "CreatedDate", *EXTRA) if f not in fields]:
            raise self._lacking("Contact", missing)
        return [f for f in wanted if f in fields]

    def pull(
        self, object_type: str, *, since: datetime | None, cursor: dict | None
    ) -> Iterator[Page]:
        cursor = dict(cursor or {})
        parts = OBJECTS[object_type]
        current = cursor.pop("part", parts[0])
        for n, name in enumerate(parts[parts.index(current) :], start=parts.index(current)):
            following = parts[n + 1] if n + 1 < len(parts) else None
            inner = cursor if name == current else {}
            pages = (
                self._bulk(object_type, name, inner)
                if since is None
                else self._query_all(object_type, name, since, inner)
            )
            for page in pages:
                if name == "Contact":
                    page.csv = _contacts_as_leads(page.csv, self._columns(object_type))
                if page.cursor is not None:
                    page.cursor = {**page.cursor, "part": name}
                elif following:
                    page.cursor = {"part": following}  # this object is done; the next one
                yield page

    def _soql(self, stream: str, name: str, since: datetime | None) -> str:
        columns = ", ".join(self._selected(stream, name))
        conditions = [NOT_CONVERTED] if name == "Contact" else []
        if since is not None:
            stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            conditions.append(f"SystemModstamp >= {stamp}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"SELECT {columns} FROM {name}{where}"

    def _bulk(self, stream: str, name: str, cursor: dict) -> Iterator[Page]:
        from simple_salesforce.bulk2 import ColumnDelimiter, LineEnding, Operation

        def client(sf):
            return getattr(sf.bulk2, name)._client

        job = cursor.get("job")
        if not job:
            soql = self._soql(stream, name, None)
            created = self._call(
                f"starting a Bulk API query of {name}",
                lambda sf: client(sf).create_job(
                    Operation.query, soql, ColumnDelimiter.COMMA, LineEnding.LF
                ),
            )
            job = created["id"]
        self._call(
            f"waiting for the Bulk API query of {name}",
            lambda sf: client(sf).wait_for_job(job, True, BULK_POLL_SECONDS),
        )
        locator = cursor.get("locator", "")
        while True:
            result = self._call(
                f"reading the Bulk API results of {name}",
                lambda sf, loc=locator: client(sf).get_query_results(job, loc, BULK_PAGE),
            )
            locator = result["locator"]
            text = result["records"]
            yield Page(
                csv=text,
                rows=result["number_of_records"],
                cursor={"job": job, "locator": locator} if locator else None,
            )
            if not locator:
                return

    def _query_all(self, stream: str, name: str, since: datetime, cursor: dict) -> Iterator[Page]:
        columns = self._selected(stream, name)
        soql = self._soql(stream, name, since)
        # A lead converted since into a contact the app already holds as a lead of its own:
        # that contact is now this lead, and its own record goes (marked deleted).
        merged = name == "Lead" and "ConvertedContactId" in self._readable("Lead")
        if merged:
            soql = soql.replace(" FROM Lead", ", ConvertedContactId FROM Lead", 1)
        soql += " ORDER BY SystemModstamp, Id"
        following = cursor.get("next")
        while True:
            if following:
                answer = self._call(
                    "reading the next page",
                    lambda sf, url=following: sf.query_more(
                        url, identifier_is_url=True, include_deleted=True
                    ),
                )
            else:
                answer = self._call(
                    f"querying {name}", lambda sf: sf.query(soql, include_deleted=True)
                )
            records = answer.get("records") or []
            live = [r for r in records if not r.get("IsDeleted")]
            deleted = [r["Id"] for r in records if r.get("IsDeleted")]
            if merged:
                deleted += [r["ConvertedContactId"] for r in live if r.get("ConvertedContactId")]
            text, count = rows_csv(columns, (_flat(r) for r in live))
            following = None if answer.get("done", True) else answer.get("nextRecordsUrl")
            yield Page(
                csv=text,
                rows=count,
                cursor={"next": following} if following else None,
                deleted=deleted,
            )
            if not following:
                return


def _contacts_as_leads(text: str, columns: list[str]) -> str:
    """Contacts' CSV (a header of Contact fields) as the Lead columns of the lead stream."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    if header is None:
        return out.getvalue()
    where = {CONTACT_AS_LEAD[f]: i for i, f in enumerate(header) if f in CONTACT_AS_LEAD}
    status = columns.index("Status") if "Status" in columns else None
    picks = [where.get(c) for c in columns]
    for row in reader:
        if not row:
            continue
        cells = ["" if i is None else row[i] for i in picks]
        if status is not None:
            cells[status] = CONTACT_STATUS
        writer.writerow(cells)
    return out.getvalue()


def _flat(record: dict) -> dict:
    row = {k: v for k, v in record.items() if k != "attributes"}
    for key, value in row.items():
        if isinstance(value, bool):
            row[key] = "true" if value else "false"
    return row
