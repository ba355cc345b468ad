"""A local stand-in for Salesforce's APIs, for tests and benchmarks: an HTTPS server on
127.0.0.1 (its certificate, for 127.0.0.1 and localhost, is made at start-up and signed by a
throw-away CA whose PEM is `ca_file`; `folder=` keeps and reuses them) holding an in-memory org
and answering what `simple-salesforce` and the app's connector really send, in the shapes
Salesforce documents.

What it models (Salesforce REST API, Bulk API 2.0 and OAuth 2.0 developer guides):
- Sign-in. `POST /services/oauth2/token` with the JWT bearer flow (an RS256 assertion signed
  with the connected app's registered key; `iss` the consumer key, `sub` the username, `aud`
  the login URL, `exp` ahead) or the username-password flow (password + security token); and
  the SOAP `login` call (`POST /services/Soap/u/{version}`, loginResponse with `sessionId` and
  `serverUrl`). The documented failures: 400 `invalid_client_id` "client identifier invalid",
  `invalid_grant` "user hasn't approved this consumer" (unknown user), "invalid assertion" (bad
  signature, expired, wrong audience), "authentication failure", "ip restricted"
  (`ip_restricted`); the SOAP faults INVALID_LOGIN and LOGIN_MUST_USE_SECURITY_TOKEN.
- Sessions. Every REST call needs `Authorization: Bearer <token>` of an issued token that has
  not expired (`session_seconds`, 2 hours) or been ended (`expire_sessions()`); otherwise 401
  `[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`.
- REST, any `vNN.N`: `query` and `queryAll` (only queryAll sees rows in the Recycle Bin,
  `IsDeleted = true`), pages of `page_size` records (2,000 by default; `Sforce-Query-Options:
  batchSize=N` asks for fewer) chained by `nextRecordsUrl`. As documented, a queryAll's
  `nextRecordsUrl` says `/query/`, and either resource continues it with deleted rows still
  included; a locator is a snapshot taken when the query ran (`expire_query_locators()` ends
  them: 400 INVALID_QUERY_LOCATOR). Also `limits`, `sobjects` (describeGlobal),
  `sobjects/{Object}` and `/describe`, `sobjects/{Object}/{Id}`, and `/services/data` (the
  versions, no sign-in needed).
- The daily allowance: each authorised REST call counts (`used`, of `daily_limit`, 15,000);
  every such answer carries `Sforce-Limit-Info: api-usage=<used>/<max>`; once used up, calls
  answer 403 `[{"message": "TotalRequests Limit exceeded.", "errorCode":
  "REQUEST_LIMIT_EXCEEDED"}]`.
- Bulk API 2.0 query jobs (`/jobs/query`): create (state UploadComplete), poll (InProgress for
  the first `bulk_in_progress_polls` polls, then JobComplete with numberRecordsProcessed),
  abort (PATCH state Aborted), delete (204), results as CSV pages: header row on each page,
  every value double-quoted, nulls as empty cells, booleans `true`/`false`, datetimes
  `2024-01-15T10:45:00.000Z`, headers `Sforce-NumberOfRecords` and `Sforce-Locator` (an opaque
  string, base64 of the next row number as Salesforce's look, or `null` on the last page).
  Without `maxRecords` a page holds `bulk_default_page` rows (50,000: Salesforce only says it
  picks a size; this is simple-salesforce's default too). COUNT() and OFFSET are refused.
- Bench mode: `bulk_leads(n)` makes Bulk API Lead jobs serve n generated leads from CSV files
  written once (no row is held in memory; a page is a byte range at row boundaries), and
  `bulk_csv_path` is that very file, for importing the same rows from a file.
- Faults: `fail_next(status, ...)` (any status, body and headers; after `skip` matching
  requests, so the Nth page of a pagination can fail), `delay_next(seconds, ...)` (a timeout),
  `expire_sessions()`; `requests` records every (method, path?query) and `calls` the REST ones.

Values are written as Salesforce writes them: JSON datetimes `2024-01-15T10:45:00.000+0000`,
dates `2024-01-15`, booleans true/false. Ids are 18 characters with the object's key prefix
(00Q Lead, 003 Contact, 001 Account, 006 Opportunity, 008 OpportunityHistory) and the
case-safe suffix; a 15-character id finds the same record in a filter. Opportunity changes of
stage, amount, probability or close date add OpportunityHistory rows, as Salesforce does.
`add` takes an unknown `…__c` field as a custom field of the object (describe then lists it).

SOQL understood: `SELECT f, ... | COUNT() FROM Object [WHERE cond] [ORDER BY f [ASC|DESC]
[NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`, a cond being `field op value` (=, !=, <>, <,
<=, >, >=, LIKE, IN (...), NOT IN (...), and the semi-join and anti-join `Id [NOT] IN (SELECT
ref FROM Other [WHERE cond])`) combined with AND, OR, NOT and parentheses; values
are unquoted datetime (2024-01-15T10:45:00Z, +01:00, .000) and date literals, numbers,
true/false, null and quoted strings; text compares case-insensitively, as in Salesforce. An
unknown object answers 400 INVALID_TYPE, an unknown field INVALID_FIELD, a literal of the wrong
type INVALID_FIELD ("... must be of type dateTime and should not be enclosed in quotes"),
anything else MALFORMED_QUERY, each with Salesforce's "ERROR at Row:1:Column:N" text.

    with FakeSalesforce() as fake:
        fake.demo_org()
        session = fake.session()  # verify=fake.ca_file, and REQUESTS_CA_BUNDLE ignored
        token = session.post(f"{fake.base}/services/oauth2/token", data={...}).json()

`python -m demo.fakes.salesforce --port 8766 [--folder DIR] [--bulk-leads N]` serves the demo
org until interrupted, printing where to find the CA file and the connected app's key.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import operator
import os
import re
import secrets
import shutil
import signal
import ssl
import tempfile
import threading
import time
import traceback
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    import requests

# --- the org's shape --------------------------------------------------------------------------

KEY_PREFIXES = {
    "Lead": "00Q",
    "Contact": "003",
    "Account": "001",
    "Opportunity": "006",
    "OpportunityHistory": "008",
}
_AUDIT = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "CreatedById": "reference",
    "LastModifiedDate": "datetime",
    "LastModifiedById": "reference",
    "SystemModstamp": "datetime",
}
SCHEMA: dict[str, dict[str, str]] = {
    "Lead": {
        **_AUDIT, "OwnerId": "reference", "FirstName": "string", "LastName": "string",
        "Name": "string", "Title": "string", "Email": "email", "Phone": "phone",
        "Company": "string", "Website": "url", "Industry": "picklist", "NumberOfEmployees": "int",
        "Country": "string", "Status": "picklist", "LeadSource": "picklist", "Rating": "picklist",
        "IsConverted": "boolean", "ConvertedDate": "date", "ConvertedAccountId": "reference",
        "ConvertedContactId": "reference", "ConvertedOpportunityId": "reference",
    },
    "Contact": {
        **_AUDIT, "OwnerId": "reference", "AccountId": "reference", "FirstName": "string",
        "LastName": "string", "Name": "string", "Title": "string", "Email": "email",
        "Phone": "phone", "LeadSource": "picklist", "MailingCountry": "string",
    },
    "Account": {
        **_AUDIT, "OwnerId": "reference", "Name": "string", "Website": "url",
        "Industry": "picklist", "Type": "picklist", "NumberOfEmployees": "int",
        "AnnualRevenue": "currency", "BillingCountry": "string", "CurrencyIsoCode": "picklist",
    },
    "Opportunity": {
        **_AUDIT, "OwnerId": "reference", "AccountId": "reference", "Name": "string",
        "StageName": "picklist", "Amount": "currency", "CloseDate": "date",
        "Probability": "percent", "ForecastCategoryName": "picklist", "LeadSource": "picklist",
        "Type": "picklist", "IsClosed": "boolean", "IsWon": "boolean",
        "CurrencyIsoCode": "picklist",
    },
    # Immutable in Salesforce: no LastModified fields.
    "OpportunityHistory": {
        "Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime",
        "CreatedById": "reference", "SystemModstamp": "datetime",
        "OpportunityId": "reference", "StageName": "picklist", "Amount": "currency",
        "ExpectedRevenue": "currency", "CloseDate": "date", "Probability": "percent",
        "ForecastCategory": "picklist", "PrevAmount": "currency", "PrevCloseDate": "date",
    },
}  # fmt: skip
PLURALS = {
    "Lead": "Leads",
    "Contact": "Contacts",
    "Account": "Accounts",
    "Opportunity": "Opportunities",
    "OpportunityHistory": "Opportunity History",
}
REQUIRED = {
    "Lead": ("LastName", "Company"),
    "Contact": ("LastName",),
    "Account": ("Name",),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "OpportunityHistory": ("OpportunityId",),
}
REFERENCE_TO = {
    "OwnerId": "User",
    "CreatedById": "User",
    "LastModifiedById": "User",
    "AccountId": "Account",
    "ConvertedAccountId": "Account",
    "ConvertedContactId": "Contact",
    "ConvertedOpportunityId": "Opportunity",
    "OpportunityId": "Opportunity",
}
KINDS = {"id", "reference", "string", "email", "url", "phone", "picklist", "textarea",
         "boolean", "datetime", "date", "int", "double", "currency", "percent"}  # fmt: skip
_TEXT = {"id", "reference", "string", "email", "url", "phone", "picklist", "textarea"}
_NUMBERS = {"int", "double", "currency", "percent"}
_SYSTEM = set(_AUDIT) | {"Name", "IsClosed", "IsWon"}
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
# Stage: (probability, forecast category), Salesforce's default sales process.
STAGES = {
    "Prospecting": (10, "Pipeline"),
    "Qualification": (10, "Pipeline"),
    "Needs Analysis": (20, "Pipeline"),
    "Value Proposition": (50, "Pipeline"),
    "Id. Decision Makers": (60, "Pipeline"),
    "Perception Analysis": (70, "Pipeline"),
    "Proposal/Price Quote": (75, "Pipeline"),
    "Negotiation/Review": (90, "Commit"),
    "Closed Won": (100, "Closed"),
    "Closed Lost": (0, "Omitted"),
}

CONSUMER_KEY = "3MVG9fake.Salesforce.connected.app.consumer.key"
CONSUMER_SECRET = "FAKE0CONSUMER0SECRET0123456789"
USERNAME = "sync@acme.example"
PASSWORD = "correct-horse-battery"
SECURITY_TOKEN = "FAKEtoken0123456789"
DAILY_LIMIT = 15_000
BULK_DEFAULT_PAGE = 50_000
JSON_TYPE = "application/json;charset=UTF-8"
_NOT_FOUND = "The requested resource does not exist"
# What a sync of Lead selects (the salesforce-lead preset's columns this org has, then the
# cursor and the deletion flag): the order of the file `bulk_leads` writes first, so a sync's
# job is served from it without another pass.
BENCH_COLUMNS = (
    "Id", "Email", "FirstName", "LastName", "Company", "Status", "LeadSource", "CreatedDate",
    "ConvertedDate", "ConvertedOpportunityId", "OwnerId", "ConvertedAccountId",
    "SystemModstamp", "IsDeleted",
)  # fmt: skip
_BENCH_CHUNK = 50_000

# --- values -----------------------------------------------------------------------------------


def _ms(moment: datetime) -> datetime:
    """In UTC, to the millisecond, as Salesforce keeps datetimes."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _now() -> datetime:
    return _ms(datetime.now(UTC))


def json_datetime(moment: datetime) -> str:
    """2024-01-15T10:45:00.000+0000, as the REST API writes a datetime."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def csv_datetime(moment: datetime) -> str:
    """2024-01-15T10:45:00.000Z, as Bulk API CSV results write a datetime."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _parse_datetime(text: str) -> datetime:
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _ms(moment)


def _coerce(kind: str, value: Any) -> Any:
    """A Python value for a field of this kind: datetime (UTC), date, bool, int, float, str."""
    if value is None or (isinstance(value, str) and value == "" and kind != "boolean"):
        return None
    if kind == "datetime":
        if isinstance(value, datetime):
            return _ms(value if value.tzinfo else value.replace(tzinfo=UTC))
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return _parse_datetime(str(value))
    if kind == "date":
        if isinstance(value, datetime):
            return value.astimezone(UTC).date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value)[:10])
    if kind == "boolean":
        return value.strip().lower() == "true" if isinstance(value, str) else bool(value)
    if kind == "int":
        return int(value)
    if kind in _NUMBERS:
        return float(value)
    return str(value)


def _kind_of(name: str, value: Any) -> str:
    """A new custom field's type, from a value (or, for null, its name)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, int):
        return "int"
    if isinstance(value, (float, Decimal)):
        return "double"
    return "datetime" if value is None and "date" in name.lower() else "string"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return json_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    """One Bulk API CSV cell: quoted, or empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = csv_datetime(value)
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def _from_cell(kind: str, cell: str) -> Any:
    return None if cell == "" else _coerce(kind, cell[1:-1].replace('""', '"'))


def _label(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.removesuffix("__c")).replace(" Id", " ID")


# --- ids --------------------------------------------------------------------------------------

_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(id15: str) -> str:
    """The 18-character, case-safe form of a 15-character id (Salesforce's suffix: per block of
    five characters, a letter for which of them are upper case)."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if "A" <= ch <= "Z")
        suffix += _CHECKSUM[bits]
    return id15 + suffix


def _make_id(prefix: str, number: int, pod: str = "5g") -> str:
    return salesforce_id(f"{prefix}{pod}{number:010d}")


# --- certificates -----------------------------------------------------------------------------


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA (cert.pem: what clients trust), and a server certificate it signs for 127.0.0.1
    and localhost (server.pem, server.key). Two certificates rather than one self-signed, so
    that strict verification (Python 3.13's VERIFY_X509_STRICT) accepts them too. Those the
    folder already holds are kept while valid for another day, so a client configured with
    cert.pem keeps trusting a restarted server."""
    ca_file, cert_file, key_file = folder / "cert.pem", folder / "server.pem", folder / "server.key"
    now = datetime.now(UTC)
    if ca_file.exists() and cert_file.exists() and key_file.exists():
        try:
            held = x509.load_pem_x509_certificate(cert_file.read_bytes())
            if held.not_valid_after_utc > now + timedelta(days=1):
                return ca_file, cert_file, key_file
        except ValueError:
            pass
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Salesforce test CA")])
    usage = {
        "content_commitment": False,
        "key_encipherment": False,
        "data_encipherment": False,
        "key_agreement": False,
        "encipher_only": False,
        "decipher_only": False,
    }
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


# --- SOQL -------------------------------------------------------------------------------------


class SoqlError(Exception):
    """A query Salesforce refuses: its errorCode and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<word>[A-Za-z_][A-Za-z0-9_.]*)""",
    re.VERBOSE,
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


@dataclass
class _Cond:
    field: str
    kind: str
    op: str  # = != < <= > >= IN "NOT IN" LIKE
    value: Any  # a typed literal; a list for IN; a compiled pattern for LIKE


@dataclass
class _Sub:
    """A semi-join's (IN) or anti-join's (NOT IN) subquery: the ids one field of another
    object holds, over the rows its condition keeps."""

    sobject: str
    field: str
    where: _Cond | _Logic | None


@dataclass
class _Logic:
    op: str  # AND OR NOT
    parts: list[_Cond | _Logic]


@dataclass
class Soql:
    """A parsed query: names are the fields' and object's own spelling."""

    text: str
    sobject: str
    fields: list[str]
    count: bool = False  # COUNT(): only the number
    count_field: str | None = None  # COUNT(field): one AggregateResult
    where: _Cond | _Logic | None = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # name, desc, nulls first
    limit: int | None = None
    offset: int | None = None


class _Parser:
    def __init__(self, text: str, schema: Mapping[str, Mapping[str, str]]) -> None:
        self.text, self.schema = text, schema
        self.tokens = self._tokenize(text)
        self.i = 0
        self.sobject = ""

    def _tokenize(self, text: str) -> list[_Tok]:
        tokens, pos = [], 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match:
                raise self.error("MALFORMED_QUERY", f"unexpected token: '{text[pos]}'", pos)
            if match.lastgroup != "space":
                tokens.append(_Tok(match.lastgroup or "", match.group(), pos))
            pos = match.end()
        return tokens

    def error(self, code: str, message: str, pos: int) -> SoqlError:
        line_start = self.text.rfind("\n", 0, pos) + 1
        line_end = self.text.find("\n", pos)
        line = self.text[line_start : line_end if line_end >= 0 else len(self.text)]
        row, column = self.text.count("\n", 0, pos) + 1, pos - line_start
        return SoqlError(
            code, f"\n{line}\n{' ' * column}^\nERROR at Row:{row}:Column:{column + 1}\n{message}"
        )

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        token = self.peek()
        if token is None:
            raise self.unexpected()
        self.i += 1
        return token

    def unexpected(self) -> SoqlError:
        token = self.peek()
        if token is None:
            return self.error("MALFORMED_QUERY", "unexpected token: <EOF>", len(self.text))
        return self.error("MALFORMED_QUERY", f"unexpected token: '{token.text}'", token.pos)

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token and token.kind == "word" and token.text.upper() in words:
            self.i += 1
            return True
        return False

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token and token.kind == "punct" and token.text == char:
            self.i += 1
            return True
        return False

    def expect_word(self, word: str) -> None:
        if not self.word(word):
            raise self.unexpected()

    def expect_punct(self, char: str) -> None:
        if not self.punct(char):
            raise self.unexpected()

    def name(self) -> _Tok:
        token = self.take()
        if token.kind != "word":
            self.i -= 1
            raise self.unexpected()
        return token

    def resolve(self, token: _Tok) -> tuple[str, str]:
        fields = self.schema[self.sobject]
        for name, kind in fields.items():
            if name.lower() == token.text.lower():
                return name, kind
        raise self.error(
            "INVALID_FIELD",
            f"No such column '{token.text}' on entity '{self.sobject}'. If you are attempting "
            "to use a custom field, be sure to append the '__c' after the custom field name. "
            "Please reference your WSDL or the describe call for the appropriate names.",
            token.pos,
        )

    def number(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            self.i -= 1
            raise self.unexpected()
        return int(token.text)

    def parse(self) -> Soql:
        self.expect_word("SELECT")
        selected: list[_Tok] = []
        count, count_token = False, None
        if self.word("COUNT"):
            self.expect_punct("(")
            count_token = None if self.punct(")") else self.name()
            if count_token is not None:
                self.expect_punct(")")
            count = count_token is None
        else:
            selected.append(self.name())
            while self.punct(","):
                selected.append(self.name())
        self.expect_word("FROM")
        target = self.name()
        for sobject in self.schema:
            if sobject.lower() == target.text.lower():
                self.sobject = sobject
        if not self.sobject:
            raise self.error(
                "INVALID_TYPE",
                f"sObject type '{target.text}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                target.pos,
            )
        fields: list[str] = []
        for token in selected:
            name, _kind = self.resolve(token)
            if name in fields:
                raise self.error("MALFORMED_QUERY", f"duplicate field selected: {name}", token.pos)
            fields.append(name)
        query = Soql(text=self.text, sobject=self.sobject, fields=fields, count=count)
        if count_token is not None:
            query.count_field = self.resolve(count_token)[0]
        if self.word("WHERE"):
            query.where = self.disjunction()
        if self.word("ORDER"):
            self.expect_word("BY")
            while True:
                name, _kind = self.resolve(self.name())
                descending = self.word("DESC")
                if not descending:
                    self.word("ASC")
                nulls_first = not descending
                if self.word("NULLS"):
                    if self.word("FIRST"):
                        nulls_first = True
                    else:
                        self.expect_word("LAST")
                        nulls_first = False
                query.order.append((name, descending, nulls_first))
                if not self.punct(","):
                    break
        if self.word("LIMIT"):
            query.limit = self.number()
        if self.word("OFFSET"):
            query.offset = self.number()
        if self.peek() is not None:
            raise self.unexpected()
        return query

    def disjunction(self) -> _Cond | _Logic:
        parts = [self.conjunction()]
        while self.word("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _Logic("OR", parts)

    def conjunction(self) -> _Cond | _Logic:
        parts = [self.factor()]
        while self.word("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else _Logic("AND", parts)

    def factor(self) -> _Cond | _Logic:
        if self.word("NOT"):
            return _Logic("NOT", [self.factor()])
        if self.punct("("):
            inner = self.disjunction()
            self.expect_punct(")")
            return inner
        return self.condition()

    def condition(self) -> _Cond:
        token = self.name()
        name, kind = self.resolve(token)
        op_token = self.peek()
        if op_token is not None and op_token.kind == "op":
            self.i += 1
            op = "!=" if op_token.text == "<>" else op_token.text
            return _Cond(name, kind, op, self.literal(name, kind))
        negated = self.word("NOT")
        if self.word("IN"):
            self.expect_punct("(")
            if self.word("SELECT"):
                sub = self.subquery(name, kind, token)
                return _Cond(name, kind, "NOT IN" if negated else "IN", sub)
            values = [self.literal(name, kind)]
            while self.punct(","):
                values.append(self.literal(name, kind))
            self.expect_punct(")")
            return _Cond(name, kind, "NOT IN" if negated else "IN", values)
        if not negated and self.word("LIKE"):
            pattern = self.literal(name, kind)
            if kind not in _TEXT or not isinstance(pattern, str):
                raise self.error("INVALID_FIELD", f"invalid operator on field: {name}", token.pos)
            regex = "".join(
                ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern
            )
            return _Cond(name, kind, "LIKE", re.compile(f"^{regex}$", re.I | re.S))
        raise self.unexpected()

    def subquery(self, name: str, kind: str, token: _Tok) -> _Sub:
        """`(SELECT field FROM Object [WHERE cond])` after IN: both sides ids, as Salesforce
        requires of a semi-join or anti-join."""
        if kind not in ("id", "reference"):
            raise self.error(
                "INVALID_FIELD",
                f"The left operand field in a semi join must be an ID or a reference: {name}",
                token.pos,
            )
        selected = self.name()
        self.expect_word("FROM")
        target = self.name()
        outer, self.sobject = self.sobject, ""
        for sobject in self.schema:
            if sobject.lower() == target.text.lower():
                self.sobject = sobject
        if not self.sobject or self.sobject == outer:
            self.sobject = outer
            raise self.error("INVALID_TYPE", f"sObject type '{target.text}' in a semi join "
                             "must be another object", target.pos)  # fmt: skip
        field_name, field_kind = self.resolve(selected)
        if field_kind not in ("id", "reference"):
            self.sobject = outer
            raise self.error(
                "INVALID_FIELD",
                f"The selected field in a semi join must be an ID or a reference: {field_name}",
                selected.pos,
            )
        where = self.disjunction() if self.word("WHERE") else None
        sub = _Sub(self.sobject, field_name, where)
        self.sobject = outer
        self.expect_punct(")")
        return sub

    def literal(self, name: str, kind: str) -> Any:
        token = self.take()
        if token.kind == "word" and token.text.lower() == "null":
            return None
        if kind in _TEXT:
            if token.kind == "string":
                return re.sub(
                    r"\\(.)",
                    lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
                    token.text[1:-1],
                )
            if token.kind == "punct":
                self.i -= 1
                raise self.unexpected()
            raise self.error(
                "INVALID_FIELD",
                f"value of filter criterion for field '{name}' must be of type string and "
                "should be enclosed in quotes",
                token.pos,
            )
        expected = {"datetime": "datetime", "date": "date", "boolean": "word"}.get(kind, "number")
        if token.kind == expected and (
            expected != "word" or token.text.lower() in ("true", "false")
        ):
            if kind == "datetime":
                return _parse_datetime(token.text)
            if kind == "date":
                return date.fromisoformat(token.text)
            if kind == "boolean":
                return token.text.lower() == "true"
            return float(token.text) if "." in token.text or kind != "int" else int(token.text)
        if token.kind == "punct":
            self.i -= 1
            raise self.unexpected()
        label = {"datetime": "dateTime", "int": "integer"}.get(
            kind, kind if kind in ("date", "boolean") else "double"
        )
        raise self.error(
            "INVALID_FIELD",
            f"value of filter criterion for field '{name}' must be of type {label} and should "
            "not be enclosed in quotes",
            token.pos,
        )


def _norm(kind: str, value: Any) -> Any:
    if isinstance(value, str):
        if kind in ("id", "reference"):
            return value[:15]  # a 15- or 18-character id, the same record
        if kind in _TEXT:
            return value.casefold()
    return value


def _matches(node: _Cond | _Logic, row: Mapping[str, Any]) -> bool:
    if isinstance(node, _Logic):
        if node.op == "AND":
            return all(_matches(part, row) for part in node.parts)
        if node.op == "OR":
            return any(_matches(part, row) for part in node.parts)
        return not _matches(node.parts[0], row)
    value = row.get(node.field)
    if node.op in ("IN", "NOT IN"):
        found = value is not None and _norm(node.kind, value) in {
            _norm(node.kind, v) for v in node.value
        }
        return found if node.op == "IN" else not found
    if node.op == "LIKE":
        return value is not None and node.value.match(value) is not None
    if node.value is None:
        return (value is None) == (node.op == "=") if node.op in ("=", "!=") else False
    if value is None:
        return node.op == "!="  # SOQL's != keeps the rows where the field is null
    return _OPS[node.op](_norm(node.kind, value), _norm(node.kind, node.value))


def _condition_fields(node: _Cond | _Logic) -> set[str]:
    if isinstance(node, _Cond):
        return {node.field}
    return set().union(*(_condition_fields(part) for part in node.parts))


def _sort(rows: list[dict], order: list[tuple[str, bool, bool]], kinds: Mapping[str, str]):
    for name, descending, nulls_first in reversed(order):
        null_rank = 0 if nulls_first != descending else 1
        kind = kinds[name]
        rows.sort(
            key=lambda row, n=name, k=kind, r=null_rank: (
                (r, "") if row.get(n) is None else (1 - r, _norm(k, row[n]))
            ),
            reverse=descending,
        )


# --- Bulk API result files --------------------------------------------------------------------


@dataclass
class _Results:
    """A job's CSV: the header line, then rows; `offsets[i]` is where row i starts in the file
    and `offsets[-1]` where the last one ends, so a page is one byte range."""

    path: Path
    header: bytes
    offsets: array

    @property
    def rows(self) -> int:
        return len(self.offsets) - 1

    def size(self, first: int, stop: int) -> int:
        return len(self.header) + self.offsets[stop] - self.offsets[first]

    def chunks(self, first: int, stop: int) -> Iterator[bytes]:
        yield self.header
        with open(self.path, "rb") as file:
            file.seek(self.offsets[first])
            left = self.offsets[stop] - self.offsets[first]
            while left > 0:
                data = file.read(min(left, 1 << 20))
                if not data:
                    return
                left -= len(data)
                yield data


def _write_results(
    path: Path, fields: list[str], sep: str, eol: str, batches: Iterable[list[str]]
) -> _Results:
    header = (sep.join(f'"{name}"' for name in fields) + eol).encode()
    offsets = array("Q", [len(header)])
    position, eol_size = len(header), len(eol.encode())
    with open(path, "wb") as out:
        out.write(header)
        for lines in batches:
            if not lines:
                continue
            text = eol.join(lines) + eol
            data = text.encode()
            out.write(data)
            if len(data) == len(text):  # ASCII: a line's bytes are its characters
                sizes: Iterable[int] = map(len, lines)
            else:
                sizes = (len(line.encode()) for line in lines)
            for size in sizes:
                position += size + eol_size
                offsets.append(position)
    return _Results(path, header, offsets)


_FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Henry", "Isla", "Jack", "Kai",
    "Lena", "Mason", "Nora", "Oliver", "Priya", "Quinn", "Ravi", "Sofia", "Tom", "Uma",
    "Victor", "Wen", "Xavier", "Yara", "Zoe", "Aaron", "Bianca", "Carlos", "Dana", "Elif",
    "Farah", "Gabriel", "Hana", "Ivan", "Julia", "Kenji", "Laura", "Marco", "Nadia",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Lopez",
    "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez",
    "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Novak", "Berg", "Sato", "Okafor",
)  # fmt: skip
_COMPANIES = (
    ("Fjord Analytics", "fjordanalytics.example"), ("Kestrel Logistics", "kestrel.example"),
    ("Lumen Health", "lumenhealth.example"), ("Copperleaf Retail", "copperleaf.example"),
    ("Brightwater Energy", "brightwater.example"), ("Northwind Traders", "northwind.example"),
    ("Halcyon Media", "halcyon.example"), ("Ironbark Capital", "ironbark.example"),
    ("Juniper Foods", "juniperfoods.example"), ("Marlowe Legal", "marlowe.example"),
    ("Orchid Biotech", "orchidbio.example"), ("Pinecrest Schools", "pinecrest.example"),
    ("Quarry Robotics", "quarry.example"), ("Redwood Insurance", "redwood.example"),
    ("Saffron Travel", "saffron.example"), ("Tidewater Shipping", "tidewater.example"),
    ("Umber Architecture", "umber.example"), ("Vantage Telecom", "vantage.example"),
    ("Willow Pharmacy", "willowrx.example"), ("Yellowstone Outdoor", "yellowstone.example"),
    ("Zephyr Aviation", "zephyr.example"), ("Alder Software", "aldersoft.example"),
    ("Basalt Construction", "basalt.example"), ("Cobalt Security", "cobaltsec.example"),
    ("Delta Dental Labs", "deltalabs.example"), ("Ember Games", "embergames.example"),
    ("Foxglove Fashion", "foxglove.example"), ("Granite Bank", "granitebank.example"),
    ("Harbor Hotels", "harborhotels.example"), ("Indigo Printing", "indigoprint.example"),
)  # fmt: skip
_LEAD_SOURCES = (
    "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show",
    "Employee Referral", "Other",
)  # fmt: skip
# 20 leads in a row: 8 open, 6 working, 3 converted, 3 not converted.
_STATUS_CYCLE = tuple(LEAD_STATUSES[i] for i in (0, 1, 0, 2, 1, 0, 3, 1, 0, 0,
                                                 1, 2, 0, 3, 1, 0, 2, 1, 3, 0))  # fmt: skip


@cache
def _times_of_day() -> tuple[str, ...]:
    """'T10:45:00.000Z"' for each second of a day: the tail of a quoted CSV datetime."""
    return tuple(f'T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000Z"' for s in range(86_400))


def _bench_descending(query: Soql) -> bool:
    """Whether a query of the generated leads reads them backwards; the rows come in Id,
    CreatedDate and SystemModstamp order, so other orders are refused."""
    if not query.order:
        return False
    first, descending, _nulls = query.order[0]
    if first not in _BenchLeads.MONOTONIC:
        raise SoqlError(
            "MALFORMED_QUERY",
            "The fake's generated leads can be ordered by Id, CreatedDate, SystemModstamp or "
            "LastModifiedDate only",
        )
    return descending


class _BenchLeads:
    """n leads made from their row number alone, as quoted CSV cells a column at a time. Ids
    and stamps rise with the row number, so the rows are in Id, CreatedDate and SystemModstamp
    order; CreatedDate spreads over two years from 2022-01-03."""

    MONOTONIC = ("Id", "CreatedDate", "SystemModstamp", "LastModifiedDate")

    def __init__(self, n: int, owners: list[str], user_id: str) -> None:
        self.n = n
        self.t0 = int(datetime(2022, 1, 3, 8, tzinfo=UTC).timestamp())
        self.span = 730 * 86_400
        first_day = self.t0 // 86_400
        epoch = date(1970, 1, 1)
        self.days = {
            d: (epoch + timedelta(days=d)).isoformat() for d in range(first_day, first_day + 800)
        }
        firsts, lasts = _FIRST_NAMES, _LAST_NAMES
        nf, nl, nc = len(firsts), len(lasts), len(_COMPANIES)
        q_first = [f'"{x}"' for x in firsts]
        q_last = [f'"{x}"' for x in lasts]
        low_first, low_last = [x.lower() for x in firsts], [x.lower() for x in lasts]
        q_company = [f'"{name}"' for name, _ in _COMPANIES]
        domains = [domain for _, domain in _COMPANIES]
        q_status = [f'"{s}"' for s in _STATUS_CYCLE]
        converted = [s == "Closed - Converted" for s in _STATUS_CYCLE]
        q_converted = ['"true"' if c else '"false"' for c in converted]
        q_source = [f'"{s}"' for s in _LEAD_SOURCES]
        q_owner = [f'"{o}"' for o in owners]
        no, ns = len(q_owner), len(q_source)
        q_user = f'"{user_id}"'
        days, t0, span, size = self.days, self.t0, self.span, max(n, 1)

        def ids(prefix: str, only_converted: bool = False) -> Callable[[range], list[str]]:
            head = f"{prefix}8b"
            tail = salesforce_id(f"{head}0000000000")[15:]  # digits never change the suffix
            if only_converted:
                return lambda rows: [
                    f'"{head}{i:010d}{tail}"' if converted[i % 20] else "" for i in rows
                ]
            return lambda rows: [f'"{head}{i:010d}{tail}"' for i in rows]

        def stamps(offset: int) -> Callable[[range], list[str]]:
            def make(rows: range) -> list[str]:
                tod = _times_of_day()
                return [
                    f'"{days[d]}{tod[s]}'
                    for d, s in (divmod(t0 + i * span // size + offset, 86_400) for i in rows)
                ]

            return make

        def converted_dates(rows: range) -> list[str]:
            return [
                f'"{days[(t0 + i * span // size) // 86_400 + 1 + i % 30]}"'
                if converted[i % 20]
                else ""
                for i in rows
            ]

        later = 45 * 86_400 + 3 * 3600  # last modified after any conversion
        self.columns: dict[str, Callable[[range], list[str]]] = {
            "Id": ids("00Q"),
            "FirstName": lambda rows: [q_first[i % nf] for i in rows],
            "LastName": lambda rows: [q_last[i // nf % nl] for i in rows],
            "Name": lambda rows: [f'"{firsts[i % nf]} {lasts[i // nf % nl]}"' for i in rows],
            "Email": lambda rows: [
                f'"{low_first[i % nf]}.{low_last[i // nf % nl]}{i}@{domains[i % nc]}"' for i in rows
            ],
            "Company": lambda rows: [q_company[i % nc] for i in rows],
            "Status": lambda rows: [q_status[i % 20] for i in rows],
            "LeadSource": lambda rows: [q_source[i % ns] for i in rows],
            "IsConverted": lambda rows: [q_converted[i % 20] for i in rows],
            "IsDeleted": lambda rows: ['"false"'] * len(rows),
            "CreatedDate": stamps(0),
            "SystemModstamp": stamps(later),
            "LastModifiedDate": stamps(later),
            "ConvertedDate": converted_dates,
            "ConvertedOpportunityId": ids("006", only_converted=True),
            "ConvertedAccountId": ids("001", only_converted=True),
            "ConvertedContactId": ids("003", only_converted=True),
            "OwnerId": lambda rows: [q_owner[i % no] for i in rows],
            "CreatedById": lambda rows: [q_user] * len(rows),
            "LastModifiedById": lambda rows: [q_user] * len(rows),
        }

    def cells(self, name: str, rows: range) -> list[str]:
        make = self.columns.get(name)
        return make(rows) if make else [""] * len(rows)

    def ranges(self, descending: bool) -> Iterator[range]:
        if descending:
            for stop in range(self.n, 0, -_BENCH_CHUNK):
                yield range(stop - 1, max(stop - _BENCH_CHUNK, 0) - 1, -1)
        else:
            for start in range(0, self.n, _BENCH_CHUNK):
                yield range(start, min(start + _BENCH_CHUNK, self.n))


# --- the server -------------------------------------------------------------------------------


@dataclass
class _Rule:
    status: int
    delay: float
    count: int
    skip: int
    path_contains: str
    body: Any
    headers: dict[str, str]


@dataclass
class _Cursor:
    sobject: str
    fields: list[str]
    rows: list[dict]
    batch: int
    locator: str = ""


@dataclass
class _Job:
    id: str
    operation: str
    query: Soql
    version: str
    line_ending: str
    delimiter: str
    created: datetime
    state: str = "UploadComplete"
    modstamp: datetime | None = None
    polls: int = 0
    results: _Results | None = None
    error: str | None = None
    seconds: float = 0.0
    ready: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    stream: Callable[[], Iterator[bytes]] | None = None
    length: int = 0


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), headers=dict(headers or {}))


def _errors(status: int, code: str, message: str) -> _Reply:
    return _json(status, [{"message": message, "errorCode": code}])


def _oauth_error(error: str, description: str) -> _Reply:
    return _json(400, {"error": error, "error_description": description})


_FAULT_BODIES = {
    400: ("MALFORMED_QUERY", "unexpected token"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", _NOT_FOUND),
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1234567890-12345 (-1234567890)",
    ),
    503: ("SERVER_UNAVAILABLE", "Server is unavailable. Try again later."),
}
_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^",
               "BACKQUOTE": "`"}  # fmt: skip
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeSalesforce) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer (a timeout a test asked for): nothing to report.
        Errors in the fake's own code are caught earlier and kept in `fake.errors`."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions use it
    disable_nagle_algorithm = True  # else headers then body cost a delayed ACK (40 ms) a call
    timeout = 120
    server: _Server

    def handle(self) -> None:
        try:
            self.request.do_handshake()  # here, not in the accepting thread
        except OSError:
            return
        super().handle()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.fake._serve(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._serve(self, "POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self.server.fake._serve(self, "PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self.server.fake._serve(self, "PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self.server.fake._serve(self, "DELETE")

    def log_message(self, *args: Any) -> None:
        pass


class FakeSalesforce:
    """An org, its connected app and its integration user, served on https://127.0.0.1:PORT.

    Bind on construction (`port=0`: any free port), serve from `start()` or `with`."""

    def __init__(
        self,
        *,
        port: int = 0,
        version: str = "59.0",
        login_url: str | None = None,
        page_size: int = 2000,
        daily_limit: int = DAILY_LIMIT,
        consumer_key: str = CONSUMER_KEY,
        consumer_secret: str = CONSUMER_SECRET,
        username: str = USERNAME,
        password: str = PASSWORD,
        security_token: str = SECURITY_TOKEN,
        folder: Path | str | None = None,
    ) -> None:
        """`folder` keeps the certificates and the connected app's key (reused from there
        when present: whoever trusts cert.pem or holds the key keeps working across restarts);
        by default a temporary folder, removed by `close()`."""
        self._own_folder = folder is None
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="fake-salesforce-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._work = Path(tempfile.mkdtemp(prefix="fake-salesforce-data-"))  # job result files
        ca_file, cert_file, key_file = _certificates(self.folder)
        self.ca_file = str(ca_file)
        self.version = version
        self.page_size = page_size
        self.daily_limit = daily_limit
        self.used = 0  # API requests counted today
        self.calls = 0  # REST requests received
        self.requests: list[tuple[str, str]] = []
        self.errors: list[str] = []  # the fake's own failures (answered 500), for a test to see
        # The connected app and its user.
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.username, self.password, self.security_token = username, password, security_token
        self.ip_restricted = False
        self.trusted_ip = False  # True: the password alone, without the token, signs in
        self.session_seconds = 7200.0
        self.sessions: dict[str, float] = {}  # access token -> when it expires (epoch)
        self.org_id = _make_id("00D", 1)
        self.user_id = _make_id("005", 1)
        self.owners = [_make_id("005", n) for n in range(2, 6)]
        self.public_key: Any = None
        self.key_file = self.folder / "connected-app-private-key.pem"
        if not self._own_folder and self.key_file.exists():
            self.private_key = self.key_file.read_text()
            self.public_key = serialization.load_pem_private_key(
                self.private_key.encode(), None
            ).public_key()
        else:
            self.private_key = self.generate_keypair()
        if not self._own_folder:
            self.key_file.write_text(self.private_key)
            self.key_file.chmod(0o600)
        # The org.
        self.schema = {name: dict(fields) for name, fields in SCHEMA.items()}
        self.objects: dict[str, dict[str, dict]] = {name: {} for name in self.schema}
        # Bulk API 2.0.
        self.bulk_in_progress_polls = 1
        self.bulk_default_page = BULK_DEFAULT_PAGE
        self.bulk_csv_path: Path | None = None
        self.bulk_bytes_served = 0
        self._lock = threading.RLock()
        self._serial = itertools.count(1)
        self._cursors: dict[str, _Cursor] = {}
        self._jobs: dict[str, _Job] = {}
        self._faults: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._bench: _BenchLeads | None = None
        self._bench_files: dict[tuple[tuple[str, ...], str, str], _Results] = {}
        self._bench_lock = threading.Lock()

        self.server = _Server(("127.0.0.1", port), self)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = self.server.server_address[1]
        self.base = f"https://127.0.0.1:{self.port}"
        self.login_url = (login_url or self.base).rstrip("/")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeSalesforce:
        self.thread.start()
        return self

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self._work, ignore_errors=True)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> FakeSalesforce:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(self) -> requests.Session:
        """A requests session that trusts this server. `trust_env` is off because requests
        lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify` for any request
        that does not pass `verify` itself, which simple-salesforce never does."""
        import requests

        session = requests.Session()
        session.verify = self.ca_file
        session.trust_env = False
        return session

    # --- the connected app ----------------------------------------------------------------------

    def generate_keypair(self) -> str:
        """A new RSA key for the connected app: its public half registered (what uploading the
        certificate does), the private half returned as PEM (-----BEGIN PRIVATE KEY-----) and
        kept as `private_key`."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = key.public_key()
        self.private_key = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return self.private_key

    def register_key(self, pem: str | bytes) -> None:
        """Register a certificate or public key (PEM) of the tests' own as the app's."""
        data = pem.encode() if isinstance(pem, str) else pem
        if b"CERTIFICATE" in data:
            self.public_key = x509.load_pem_x509_certificate(data).public_key()
        else:
            self.public_key = serialization.load_pem_public_key(data)

    def expire_sessions(self) -> None:
        """End every session: REST calls answer 401 INVALID_SESSION_ID until a new sign-in."""
        with self._lock:
            self.sessions.clear()

    def expire_query_locators(self) -> None:
        """End every REST query cursor (Salesforce drops them after 15 idle minutes)."""
        with self._lock:
            self._cursors.clear()

    # --- the org --------------------------------------------------------------------------------

    def add_field(self, sobject: str, name: str, kind: str = "string") -> None:
        """A custom field (e.g. MQL_Date__c, "datetime") on an object, null on existing rows."""
        if kind not in KINDS:
            raise ValueError(f"unknown field type {kind!r}: one of {sorted(KINDS)}")
        with self._lock:
            self._fields(sobject)[name] = kind
            for record in self.objects[sobject].values():
                record.setdefault(name, False if kind == "boolean" else None)

    def _fields(self, sobject: str) -> dict[str, str]:
        if sobject not in self.schema:
            raise KeyError(f"sObject type '{sobject}' is not supported")
        return self.schema[sobject]

    def _clean(self, sobject: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        schema = self._fields(sobject)
        names = {name.lower(): name for name in schema}
        out = {}
        for key, value in fields.items():
            name = names.get(key.lower())
            if name is None and key.endswith("__c"):
                self.add_field(sobject, key, _kind_of(key, value))
                name = key
            if name is None:
                raise KeyError(f"No such column '{key}' on entity '{sobject}'")
            out[name] = _coerce(schema[name], value)
        return out

    def _derive(self, sobject: str, record: dict, given: Mapping[str, Any]) -> None:
        """What Salesforce fills in itself: names, checkbox defaults, stage consequences."""
        for name, kind in self.schema[sobject].items():
            if kind == "boolean" and record.get(name) is None:
                record[name] = False
        if "Name" in record and sobject in ("Lead", "Contact"):
            record["Name"] = " ".join(
                p for p in (record.get("FirstName"), record.get("LastName")) if p
            )
        if sobject == "Opportunity" and "StageName" in given:
            stage = record.get("StageName") or ""
            probability, forecast = STAGES.get(stage, (None, "Pipeline"))
            closed = stage.startswith("Closed")
            defaults = {
                "IsClosed": closed,
                "IsWon": stage == "Closed Won",
                "Probability": None if probability is None else float(probability),
                "ForecastCategoryName": forecast,
            }
            for name, value in defaults.items():
                if name not in given:
                    record[name] = value

    def _stamp(self, record: dict, at: datetime | None) -> datetime:
        moment = _coerce("datetime", at) if at is not None else _now()
        record["SystemModstamp"] = moment
        if "LastModifiedDate" in record:
            record["LastModifiedDate"] = moment
            record["LastModifiedById"] = self.user_id
        return moment

    def add(self, sobject: str, fields: Mapping[str, Any], *, at: datetime | None = None) -> str:
        """Create a record (as of `at`, default now; `CreatedDate` may be given apart) and
        return its Id (an "Id" given is kept). An unknown standard field raises KeyError; an
        unknown custom one (`…__c`) is added to the object, its type taken from the value.
        Required fields are not enforced: this sets up data, it is not the REST create."""
        values = self._clean(sobject, fields)
        with self._lock:
            schema = self.schema[sobject]
            record: dict[str, Any] = dict.fromkeys(schema)
            moment = self._stamp(record, at)
            record_id = values.pop("Id", None) or _make_id(
                KEY_PREFIXES[sobject], next(self._serial)
            )
            record.update(Id=record_id, CreatedDate=moment, CreatedById=self.user_id)
            if "OwnerId" in schema:
                record["OwnerId"] = self.user_id
            record.update(values)
            self._derive(sobject, record, values)
            self.objects[sobject][record["Id"]] = record
            if sobject == "Opportunity":
                self._history(record, None, record["SystemModstamp"])
            return record["Id"]

    def _record(self, sobject: str, record_id: str) -> dict:
        self._fields(sobject)
        rows = self.objects[sobject]
        if record_id in rows:
            return rows[record_id]
        for rid, record in rows.items():
            if rid[:15] == record_id[:15]:
                return record
        raise KeyError(f"no {sobject} {record_id}")

    def update(
        self, sobject: str, record_id: str, fields: Mapping[str, Any], *, at: datetime | None = None
    ) -> None:
        """Change fields; SystemModstamp and LastModifiedDate move to `at` (default now)."""
        values = self._clean(sobject, fields)
        with self._lock:
            record = self._record(sobject, record_id)
            if record["IsDeleted"]:
                raise ValueError(f"ENTITY_IS_DELETED: {sobject} {record_id} is deleted")
            before = dict(record)
            record.update(values)
            self._derive(sobject, record, values)
            moment = self._stamp(record, at)
            tracked = ("StageName", "Amount", "Probability", "CloseDate")
            if sobject == "Opportunity" and any(record[f] != before[f] for f in tracked):
                self._history(record, before, moment)

    def delete(self, sobject: str, record_id: str, *, at: datetime | None = None) -> None:
        """To the Recycle Bin: IsDeleted true, SystemModstamp moved; seen only by queryAll."""
        with self._lock:
            record = self._record(sobject, record_id)
            record["IsDeleted"] = True
            self._stamp(record, at)

    def undelete(self, sobject: str, record_id: str, *, at: datetime | None = None) -> None:
        with self._lock:
            record = self._record(sobject, record_id)
            record["IsDeleted"] = False
            self._stamp(record, at)

    def purge(self, sobject: str, record_id: str) -> None:
        """Gone for good (the Recycle Bin emptied, or 15 days passed): not even queryAll."""
        with self._lock:
            del self.objects[sobject][self._record(sobject, record_id)["Id"]]

    def _history(self, opportunity: dict, before: dict | None, moment: datetime) -> None:
        amount, probability = opportunity.get("Amount"), opportunity.get("Probability")
        row: dict[str, Any] = dict.fromkeys(self.schema["OpportunityHistory"])
        row.update(
            Id=_make_id(KEY_PREFIXES["OpportunityHistory"], next(self._serial)),
            IsDeleted=False, CreatedDate=moment, CreatedById=self.user_id, SystemModstamp=moment,
            OpportunityId=opportunity["Id"], StageName=opportunity.get("StageName"),
            Amount=amount, CloseDate=opportunity.get("CloseDate"), Probability=probability,
            ForecastCategory=opportunity.get("ForecastCategoryName"),
            ExpectedRevenue=None if amount is None or probability is None
            else amount * probability / 100,
            PrevAmount=before.get("Amount") if before else None,
            PrevCloseDate=before.get("CloseDate") if before else None,
        )  # fmt: skip
        self.objects["OpportunityHistory"][row["Id"]] = row

    # --- faults and counters ----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        path_contains: str = "",
        skip: int = 0,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Make `count` requests whose path contains `path_contains` answer `status`, after
        letting `skip` of them through (skip=2, path_contains="/query/": the third page
        fails). `body`: JSON (a list or dict), or text/bytes; by default Salesforce's error
        for that status (401 INVALID_SESSION_ID, 403 REQUEST_LIMIT_EXCEEDED, 503
        SERVER_UNAVAILABLE, ...)."""
        with self._lock:
            self._faults.append(
                _Rule(status, 0.0, count, skip, path_contains, body, dict(headers or {}))
            )

    def delay_next(
        self, seconds: float, *, count: int = 1, path_contains: str = "", skip: int = 0
    ) -> None:
        """Answer `count` matching requests `seconds` late (for a client's timeout)."""
        with self._lock:
            self._delays.append(_Rule(0, seconds, count, skip, path_contains, None, {}))

    def count(self, method: str, path_contains: str = "") -> int:
        """How many requests of this method had `path_contains` in their path and query."""
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and path_contains in p)

    def _take(self, rules: list[_Rule], path: str) -> _Rule | None:
        with self._lock:
            for rule in rules:
                if rule.path_contains not in path:
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                rule.count -= 1
                if rule.count <= 0:
                    rules.remove(rule)
                return rule
        return None

    def _fault_reply(self, rule: _Rule) -> _Reply:
        headers = dict(rule.headers)
        content_type = headers.pop("Content-Type", None)
        if rule.body is None:
            code, message = _FAULT_BODIES.get(
                rule.status, ("UNKNOWN_EXCEPTION", HTTPStatus(rule.status).phrase)
            )
            reply = _errors(rule.status, code, message)
        elif isinstance(rule.body, (bytes, str)):
            data = rule.body.encode() if isinstance(rule.body, str) else rule.body
            reply = _Reply(rule.status, data, content_type="text/plain;charset=UTF-8")
        else:
            reply = _json(rule.status, rule.body)
        if content_type:
            reply.content_type = content_type
        reply.headers.update(headers)
        return reply

    # --- serving ------------------------------------------------------------------------------

    def _serve(self, handler: _Handler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        target = handler.path
        with self._lock:
            self.requests.append((method, target))
        delay = self._take(self._delays, target)
        if delay is not None:
            time.sleep(delay.delay)
        fault = self._take(self._faults, target)
        if fault is not None:
            reply = self._fault_reply(fault)
        else:
            try:
                reply = self._route(method, target, handler.headers, body)
            except Exception:
                self.errors.append(traceback.format_exc())
                reply = _errors(500, "UNKNOWN_EXCEPTION", self.errors[-1][-2000:])
        try:
            handler.send_response(reply.status)
            if reply.status != 204:
                handler.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            size = reply.length if reply.stream is not None else len(reply.body)
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            if reply.stream is not None:
                for chunk in reply.stream():
                    handler.wfile.write(chunk)
            elif reply.body:
                handler.wfile.write(reply.body)
        except OSError:  # the client went away (its timeout); ssl.SSLError is an OSError
            handler.close_connection = True

    def _route(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        url = urlsplit(target)
        path, params = url.path, parse_qs(url.query, keep_blank_values=True)
        if path == "/services/oauth2/token":
            if method != "POST":
                return _errors(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")
            return self._token(parse_qs(body.decode("utf-8", "replace")))
        soap = re.fullmatch(r"/services/Soap/u/(\d+\.\d)(?:/.*)?", path)
        if soap and method == "POST":
            return self._soap_login(soap.group(1), body)
        if path.rstrip("/") == "/services/data" and method == "GET":
            return _json(200, self._versions())
        rest = re.fullmatch(r"/services/data/v(\d+\.\d)(/.*)?", path)
        if not rest:
            return _errors(404, "NOT_FOUND", _NOT_FOUND)
        with self._lock:
            self.calls += 1
            if not self._authorised(headers.get("Authorization") or ""):
                return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
            refused = self.used >= self.daily_limit
            if not refused:
                self.used += 1
            usage = f"api-usage={self.used}/{self.daily_limit}"
        if refused:
            reply = _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        else:
            version, parts = rest.group(1), [p for p in (rest.group(2) or "").split("/") if p]
            try:
                reply = self._rest(method, version, parts, params, headers, body)
            except SoqlError as exc:
                reply = _errors(400, exc.code, exc.message)
        reply.headers.setdefault("Sforce-Limit-Info", usage)
        return reply

    def _authorised(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return False
        expires = self.sessions.get(token.strip())
        return expires is not None and expires > time.time()

    def _issue(self) -> str:
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(72)}"
        with self._lock:
            self.sessions[token] = time.time() + self.session_seconds
        return token

    def _token_answer(self, **extra: str) -> _Reply:
        return _json(
            200,
            {
                "access_token": self._issue(),
                "scope": "api",
                "instance_url": self.base,
                "id": f"{self.base}/id/{self.org_id}/{self.user_id}",
                "token_type": "Bearer",
                **extra,
            },
        )

    def _token(self, form: dict[str, list[str]]) -> _Reply:
        def value(name: str) -> str:
            return (form.get(name) or [""])[0]

        grant = value("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_bearer(value("assertion"))
        if grant == "password":
            if value("client_id") != self.consumer_key:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if value("client_secret") != self.consumer_secret:
                return _oauth_error("invalid_client", "invalid client credentials")
            if value("username") != self.username or not self._password_ok(value("password")):
                return _oauth_error("invalid_grant", "authentication failure")
            if self.ip_restricted:
                return _oauth_error("invalid_grant", "ip restricted")
            issued = str(int(time.time() * 1000))
            return self._token_answer(issued_at=issued, signature=secrets.token_urlsafe(32))
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _password_ok(self, given: str) -> bool:
        return given == self.password + self.security_token or (
            self.trusted_ip and given == self.password
        )

    def _jwt_bearer(self, assertion: str) -> _Reply:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        if claims.get("iss") != self.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if claims.get("sub") != self.username:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        try:
            # exp and aud are checked below: simple-salesforce sends exp as a string.
            jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
            )
            expires = float(claims.get("exp"))
        except (jwt.PyJWTError, TypeError, ValueError):
            return _oauth_error("invalid_grant", "invalid assertion")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if self.login_url not in [str(a).rstrip("/") for a in audiences if a]:
            return _oauth_error("invalid_grant", "invalid assertion")
        if expires <= time.time():
            return _oauth_error("invalid_grant", "invalid assertion")
        if self.ip_restricted:
            return _oauth_error("invalid_grant", "ip restricted")
        return self._token_answer()

    def _soap_login(self, version: str, body: bytes) -> _Reply:
        values: dict[str, str] = {}
        try:
            for element in ElementTree.fromstring(body).iter():
                values[element.tag.rsplit("}", 1)[-1]] = element.text or ""
        except ElementTree.ParseError:
            return self._soap_fault("soapenv:Client", "INVALID_LOGIN", "Unable to parse the login")
        username, password = values.get("username", ""), values.get("password", "")
        if username == self.username and password == self.password and not self.trusted_ip:
            return self._soap_fault(
                "sf:LOGIN_MUST_USE_SECURITY_TOKEN",
                "LOGIN_MUST_USE_SECURITY_TOKEN",
                "Invalid username, password, security token; or user locked out. Are you at a "
                "new location? When accessing Salesforce--either via a desktop client or the "
                "API--from outside of your company's trusted networks, you must add a security "
                "token to your password to log in.",
            )
        if username != self.username or not self._password_ok(password):
            return self._soap_fault(
                "sf:INVALID_LOGIN",
                "INVALID_LOGIN",
                "Invalid username, password, security token; or user locked out.",
            )
        token, org = escape(self._issue()), self.org_id
        answer = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            "<loginResponse><result>"
            f"<metadataServerUrl>{self.base}/services/Soap/m/{version}/{org}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{self.base}/services/Soap/u/{version}/{org}</serverUrl>"
            f"<sessionId>{token}</sessionId><userId>{self.user_id}</userId>"
            f"<userInfo><organizationId>{org}</organizationId>"
            f"<organizationName>Acme (fake)</organizationName><userId>{self.user_id}</userId>"
            f"<userName>{escape(self.username)}</userName>"
            f"<sessionSecondsValid>{int(self.session_seconds)}</sessionSecondsValid>"
            "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return _Reply(200, answer.encode(), content_type="text/xml;charset=UTF-8")

    def _soap_fault(self, faultcode: str, code: str, message: str) -> _Reply:
        fault = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" '
            'xmlns:sf="urn:fault.partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            f"<soapenv:Fault><faultcode>{faultcode}</faultcode>"
            f"<faultstring>{code}: {escape(message)}</faultstring><detail>"
            '<sf:LoginFault xsi:type="sf:LoginFault">'
            f"<sf:exceptionCode>{code}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
            "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        )
        return _Reply(500, fault.encode(), content_type="text/xml;charset=UTF-8")

    def _versions(self) -> list[dict[str, str]]:
        out = []
        for major in range(31, int(float(self.version)) + 1):
            season = ("Winter", "Spring", "Summer")[(major - 59) % 3]
            out.append(
                {
                    "label": f"{season} '{24 + (major - 59) // 3:02d}",
                    "url": f"/services/data/v{major}.0",
                    "version": f"{major}.0",
                }
            )
        return out

    # --- REST -----------------------------------------------------------------------------------

    def _rest(
        self,
        method: str,
        version: str,
        parts: list[str],
        params: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> _Reply:
        def allow(*methods: str) -> _Reply | None:
            if method in methods:
                return None
            return _errors(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are {','.join(methods)}",
            )

        root = f"/services/data/v{version}"
        head, size = (parts[0] if parts else ""), len(parts)
        if size == 0:
            names = ("sobjects", "query", "queryAll", "limits", "jobs")
            return allow("GET") or _json(200, {n: f"{root}/{n}" for n in names})
        if head == "limits" and size == 1:
            return allow("GET") or _json(200, self._limits())
        if head in ("query", "queryAll") and size == 1:
            return allow("GET") or self._query(version, head, params, headers)
        if head in ("query", "queryAll") and size == 2:
            return allow("GET") or self._query_more(version, parts[1])
        if head == "sobjects":
            if size == 1:
                return allow("GET") or _json(200, self._describe_global(version))
            if parts[1] not in self.schema:
                return _errors(404, "NOT_FOUND", _NOT_FOUND)
            if size == 2:
                info = {"objectDescribe": self._object_info(parts[1], version), "recentItems": []}
                return allow("GET") or _json(200, info)
            if size == 3 and parts[2] == "describe":
                return allow("GET") or _json(200, self._describe(parts[1], version))
            if size == 3:
                return allow("GET") or self._get_record(version, parts[1], parts[2], params)
        if head == "jobs" and size >= 2 and parts[1] == "query":
            if size == 2:
                if method == "POST":
                    return self._job_create(version, body)
                return allow("GET", "POST") or self._job_list()
            job = self._jobs.get(parts[2])
            if job is None:
                return _errors(404, "NOT_FOUND", _NOT_FOUND)
            if size == 3:
                if method == "PATCH":
                    return self._job_patch(job, body)
                if method == "DELETE":
                    with self._lock:
                        self._jobs.pop(job.id, None)
                    return _Reply(204)
                return allow("GET", "PATCH", "DELETE") or _json(200, self._job_poll(job))
            if size == 4 and parts[3] == "results":
                return allow("GET") or self._job_results(job, params)
        return _errors(404, "NOT_FOUND", _NOT_FOUND)

    def _limits(self) -> dict[str, dict[str, int]]:
        with self._lock:
            jobs = len(self._jobs)
            storage = self.bulk_bytes_served // 1_000_000
        return {
            "DailyApiRequests": {
                "Max": self.daily_limit,
                "Remaining": max(self.daily_limit - self.used, 0),
            },
            "DailyAsyncApexExecutions": {"Max": 250_000, "Remaining": 250_000},
            "DailyBulkApiBatches": {"Max": 15_000, "Remaining": 15_000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562 - storage},
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": max(10_000 - jobs, 0)},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
        }

    def parse(self, soql: str) -> Soql:
        """Parse a query against this org's schema (raises SoqlError as Salesforce answers)."""
        return _Parser(soql, self.schema).parse()

    def select(self, query: Soql | str, *, include_deleted: bool = False) -> list[dict]:
        """The rows a query returns (copies), in its order, after OFFSET and LIMIT."""
        if isinstance(query, str):
            query = self.parse(query)
        with self._lock:
            where = self._joined(query.where)
            rows = [
                dict(row)
                for row in self.objects[query.sobject].values()
                if (include_deleted or not row["IsDeleted"])
                and (where is None or _matches(where, row))
            ]
        _sort(rows, query.order, self.schema[query.sobject])
        if query.offset:
            rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        return rows

    def _joined(self, node: _Cond | _Logic | None) -> _Cond | _Logic | None:
        """The condition with each subquery replaced by the ids it selects (live rows only,
        as in Salesforce, whichever resource runs the outer query)."""
        if node is None:
            return None
        if isinstance(node, _Logic):
            return _Logic(node.op, [self._joined(part) for part in node.parts])
        if not isinstance(node.value, _Sub):
            return node
        sub = node.value
        ids = [
            row[sub.field]
            for row in self.objects[sub.sobject].values()
            if not row["IsDeleted"]
            and row.get(sub.field) is not None
            and (sub.where is None or _matches(self._joined(sub.where), row))
        ]
        return _Cond(node.field, node.kind, node.op, ids)

    def _record_json(self, sobject: str, version: str, row: Mapping, fields: list[str]) -> dict:
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{version}/sobjects/{sobject}/{row['Id']}",
            }
        }
        for name in fields:
            out[name] = _json_value(row.get(name))
        return out

    def _query(
        self,
        version: str,
        endpoint: str,
        params: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> _Reply:
        text = (params.get("q") or [""])[0]
        if not text.strip():
            return _errors(400, "MALFORMED_QUERY", "A query string has to be specified")
        query = self.parse(text)
        rows = self.select(query, include_deleted=endpoint == "queryAll")
        if query.count:
            return _json(200, {"totalSize": len(rows), "done": True, "records": []})
        if query.count_field is not None:
            number = sum(1 for row in rows if row.get(query.count_field) is not None)
            record = {"attributes": {"type": "AggregateResult"}, "expr0": number}
            return _json(200, {"totalSize": 1, "done": True, "records": [record]})
        batch = self.page_size
        options = re.search(r"batchSize=(\d+)", headers.get("Sforce-Query-Options") or "")
        if options:
            batch = min(batch, max(200, min(2000, int(options.group(1)))))
        cursor = _Cursor(query.sobject, query.fields, rows, max(batch, 1))
        return self._page(version, cursor, 0)

    def _page(self, version: str, cursor: _Cursor, start: int) -> _Reply:
        stop = min(start + cursor.batch, len(cursor.rows))
        done = stop >= len(cursor.rows)
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": done}
        if not done:
            with self._lock:
                if not cursor.locator:
                    cursor.locator = _make_id("01g", next(self._serial))
                    self._cursors[cursor.locator] = cursor
            # A queryAll's locator too is under /query/, as Salesforce writes it.
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor.locator}-{stop}"
        body["records"] = [
            self._record_json(cursor.sobject, version, row, cursor.fields)
            for row in cursor.rows[start:stop]
        ]
        return _json(200, body)

    def _query_more(self, version: str, locator: str) -> _Reply:
        match = re.fullmatch(r"(01g\w+?)(?:-(\d+))?", locator)
        cursor = self._cursors.get(match.group(1)) if match else None
        if match is None or cursor is None:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(version, cursor, int(match.group(2) or 0))

    def _object_info(self, sobject: str, version: str) -> dict[str, Any]:
        root = f"/services/data/v{version}/sobjects/{sobject}"
        editable = sobject != "OpportunityHistory"
        return {
            "name": sobject,
            "label": _label(sobject),
            "labelPlural": PLURALS.get(sobject, sobject + "s"),
            "keyPrefix": KEY_PREFIXES[sobject],
            "custom": False,
            "queryable": True,
            "retrieveable": True,
            "searchable": editable,
            "createable": editable,
            "updateable": editable,
            "deletable": editable,
            "replicateable": True,
            "urls": {
                "sobject": root,
                "describe": f"{root}/describe",
                "rowTemplate": f"{root}/{{ID}}",
            },
        }

    def _describe_global(self, version: str) -> dict[str, Any]:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [self._object_info(name, version) for name in self.schema],
        }

    def _describe(self, sobject: str, version: str) -> dict[str, Any]:
        fields = []
        for name, kind in self.schema[sobject].items():
            fields.append(
                {
                    "name": name,
                    "label": _label(name),
                    "type": kind,
                    "length": 18 if kind in ("id", "reference") else 255 if kind in _TEXT else 0,
                    "nillable": name not in _AUDIT and kind != "boolean"
                    and name not in REQUIRED.get(sobject, ()),
                    "custom": name.endswith("__c"),
                    "filterable": True,
                    "sortable": True,
                    "createable": name not in _SYSTEM,
                    "updateable": name not in _SYSTEM,
                    "referenceTo": [REFERENCE_TO.get(name, "User")] if kind == "reference" else [],
                }
            )  # fmt: skip
        return {**self._object_info(sobject, version), "fields": fields}

    def _get_record(
        self, version: str, sobject: str, record_id: str, params: dict[str, list[str]]
    ) -> _Reply:
        with self._lock:
            try:
                row = dict(self._record(sobject, record_id))
            except KeyError:
                return _errors(404, "NOT_FOUND", _NOT_FOUND)
        if row["IsDeleted"]:
            return _errors(404, "ENTITY_IS_DELETED", "entity is deleted")
        wanted = (params.get("fields") or [""])[0]
        fields = list(self.schema[sobject])
        if wanted:
            names = {name.lower(): name for name in fields}
            fields = []
            for asked in wanted.split(","):
                if asked.strip().lower() not in names:
                    message = f"No such column '{asked}' on sobject of type {sobject}"
                    return _errors(400, "INVALID_FIELD", message)
                fields.append(names[asked.strip().lower()])
        return _json(200, self._record_json(sobject, version, row, fields))

    # --- Bulk API 2.0 query jobs ----------------------------------------------------------------

    def _job_info(self, job: _Job, *, full: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.query.sobject,
            "createdById": self.user_id,
            "createdDate": json_datetime(job.created),
            "systemModstamp": json_datetime(job.modstamp or job.created),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version),
            "lineEnding": job.line_ending,
            "columnDelimiter": job.delimiter,
        }
        if full:
            complete = job.state == "JobComplete" and job.results is not None
            info.update(
                jobType="V2Query",
                numberRecordsProcessed=job.results.rows if complete and job.results else 0,
                retries=0,
                totalProcessingTime=int(job.seconds * 1000) if complete else 0,
                isPkChunkingSupported=True,
            )
            if job.error:
                info["errorMessage"] = job.error
        return info

    def _job_create(self, version: str, body: bytes) -> _Reply:
        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            return _errors(400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
        if not isinstance(spec, dict):
            return _errors(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
        operation = spec.get("operation")
        if operation not in ("query", "queryAll"):
            return _errors(400, "INVALIDJOB", f"Invalid operation for a query job: {operation}")
        delimiter = spec.get("columnDelimiter") or "COMMA"
        line_ending = spec.get("lineEnding") or "LF"
        if delimiter not in _DELIMITERS or line_ending not in _LINE_ENDINGS:
            return _errors(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        if (spec.get("contentType") or "CSV") != "CSV":
            return _errors(400, "INVALIDJOB", "Only CSV is supported for query jobs")
        query = self.parse(str(spec.get("query") or ""))
        if query.count or query.count_field or query.offset is not None:
            return _errors(
                400,
                "INVALIDJOB",
                "Bulk API 2.0 query jobs do not support aggregate functions (COUNT) or OFFSET",
            )
        job = _Job(
            id=_make_id("750", next(self._serial)),
            operation=operation,
            query=query,
            version=version,
            line_ending=line_ending,
            delimiter=delimiter,
            created=_now(),
        )
        bench = self._bench if query.sobject == "Lead" else None
        if bench is not None:
            _bench_descending(query)  # refuses an order the generated rows cannot give
        rows = None if bench else self.select(query, include_deleted=operation == "queryAll")
        with self._lock:
            self._jobs[job.id] = job
        threading.Thread(target=self._process, args=(job, bench, rows), daemon=True).start()
        return _json(200, self._job_info(job))

    def _process(self, job: _Job, bench: _BenchLeads | None, rows: list[dict] | None) -> None:
        started = time.monotonic()
        sep, eol = _DELIMITERS[job.delimiter], _LINE_ENDINGS[job.line_ending]
        try:
            if bench is not None:
                job.results = self._bench_results(bench, job.query, sep, eol, job.id)
            else:
                fields = job.query.fields
                lines = [sep.join(_cell(row.get(name)) for name in fields) for row in rows or []]
                path = self._work / f"job-{job.id}.csv"
                job.results = _write_results(path, fields, sep, eol, [lines])
        except Exception as exc:
            job.error = f"{type(exc).__name__}: {exc}"
            self.errors.append(traceback.format_exc())
        job.seconds = time.monotonic() - started
        job.ready.set()

    def _job_poll(self, job: _Job) -> dict[str, Any]:
        with self._lock:
            if job.state in ("UploadComplete", "InProgress"):
                job.polls += 1
                if job.ready.is_set() and job.polls > self.bulk_in_progress_polls:
                    job.state = "Failed" if job.error else "JobComplete"
                else:
                    job.state = "InProgress"
                job.modstamp = _now()
            return self._job_info(job, full=True)

    def _job_list(self) -> _Reply:
        with self._lock:
            records = [self._job_info(job) for job in self._jobs.values()]
        return _json(200, {"done": True, "records": records, "nextRecordsUrl": None})

    def _job_patch(self, job: _Job, body: bytes) -> _Reply:
        try:
            state = json.loads(body or b"{}").get("state")
        except (ValueError, AttributeError):
            state = None
        if state != "Aborted":
            return _errors(400, "INVALIDJOB", "A query job can only be set to Aborted")
        with self._lock:
            if job.state in ("JobComplete", "Failed"):
                return _errors(400, "INVALIDJOB", f"The job is already {job.state}")
            job.state, job.modstamp = "Aborted", _now()
        return _json(200, self._job_info(job))

    def _job_results(self, job: _Job, params: dict[str, list[str]]) -> _Reply:
        if job.state != "JobComplete" or job.results is None:
            return _errors(400, "INVALIDJOB", f"The job is not complete: its state is {job.state}")
        try:
            page = int((params.get("maxRecords") or [str(self.bulk_default_page)])[0])
            locator = (params.get("locator") or [""])[0]
            first = int(base64.b64decode(locator + "=" * (-len(locator) % 4))) if locator else 0
        except ValueError:
            return _errors(400, "INVALIDREQUEST", "Invalid maxRecords or locator")
        results = job.results
        if page <= 0 or not 0 <= first <= results.rows:
            return _errors(400, "INVALIDREQUEST", "Invalid maxRecords or locator")
        stop = min(first + page, results.rows)
        following = base64.b64encode(str(stop).encode()).decode().rstrip("=")
        size = results.size(first, stop)
        with self._lock:
            self.bulk_bytes_served += size
        return _Reply(
            200,
            content_type="text/csv",
            headers={
                "Sforce-Locator": following if stop < results.rows else "null",
                "Sforce-NumberOfRecords": str(stop - first),
            },
            stream=lambda: results.chunks(first, stop),
            length=size,
        )

    # --- bench mode -----------------------------------------------------------------------------

    def bulk_leads(self, n: int, *, columns: Iterable[str] | None = None) -> Path:
        """From now on Bulk API jobs on Lead serve `n` generated leads (REST queries still see
        `objects`). Writes the CSV of `columns` (default BENCH_COLUMNS: what a sync selects)
        and returns its path, also `bulk_csv_path`; a job selecting other columns, or with a
        WHERE, gets a file of its own, written while the job is InProgress."""
        names = list(columns or BENCH_COLUMNS)
        query = self.parse(f"SELECT {', '.join(names)} FROM Lead")
        with self._bench_lock:
            self._bench = _BenchLeads(n, self.owners, self.user_id)
            self._bench_files = {}
        results = self._bench_results(self._bench, query, ",", "\n", f"b{next(self._serial)}")
        self.bulk_csv_path = results.path
        return results.path

    def _bench_results(
        self, bench: _BenchLeads, query: Soql, sep: str, eol: str, name: str
    ) -> _Results:
        descending = _bench_descending(query)
        plain = query.where is None and query.limit is None and not descending
        key = (tuple(query.fields), sep, eol)
        with self._bench_lock:
            if plain and key in self._bench_files:
                return self._bench_files[key]
            path = self._work / f"leads-{bench.n}-{name}.csv"
            kinds = self.schema["Lead"]

            def batches() -> Iterator[list[str]]:
                left = query.limit
                for rows in bench.ranges(descending):
                    columns = [bench.cells(f, rows) for f in query.fields]
                    lines = list(map(sep.join, zip(*columns, strict=True)))
                    if query.where is not None:
                        names = sorted(_condition_fields(query.where))
                        cells = {f: bench.cells(f, rows) for f in names}
                        lines = [
                            line
                            for j, line in enumerate(lines)
                            if _matches(
                                query.where, {f: _from_cell(kinds[f], cells[f][j]) for f in names}
                            )
                        ]
                    if left is not None:
                        lines, left = lines[:left], left - min(left, len(lines))
                    yield lines
                    if left == 0:
                        return

            results = _write_results(path, query.fields, sep, eol, batches())
            if plain:
                self._bench_files[key] = results
            return results

    # --- a demo org -----------------------------------------------------------------------------

    def demo_org(self) -> FakeSalesforce:
        """A small org of a B2B software seller, the first half of 2024: 5 accounts, 20 leads
        (4 converted into contacts and opportunities, 1 in the Recycle Bin), 8 opportunities
        whose stage moves leave OpportunityHistory rows, and a few more contacts."""
        start = datetime(2024, 1, 8, 9, 30, tzinfo=UTC)

        def day(n: int, hour: int = 0) -> datetime:
            return start + timedelta(days=n, hours=hour)

        rep = self.owners
        accounts = [
            self.add("Account", {
                "Name": name, "Website": site, "Industry": industry, "NumberOfEmployees": size,
                "Type": kind, "BillingCountry": country, "OwnerId": rep[n % 3],
                "AnnualRevenue": revenue, "CurrencyIsoCode": "USD",
            }, at=day(n * 3))
            for n, (name, site, industry, size, kind, country, revenue) in enumerate([
                ("Fjord Analytics", "https://www.fjordanalytics.example", "Technology", 120,
                 "Prospect", "Norway", 14_000_000.0),
                ("Kestrel Logistics", "https://kestrel.example", "Transportation", 850,
                 "Customer - Direct", "United States", 210_000_000.0),
                ("Lumen Health", "www.lumenhealth.example", "Healthcare", 300, "Prospect",
                 "United Kingdom", 48_000_000.0),
                ("Copperleaf Retail", "https://copperleaf.example/", "Retail", 2400,
                 "Customer - Channel", "Canada", 640_000_000.0),
                ("Brightwater Energy", "https://www.brightwater.example", "Energy", 560,
                 "Prospect", "Germany", 95_000_000.0),
            ])
        ]  # fmt: skip
        # (account, name, amount, currency, source, created day, [(stage, day)...], close day)
        deals = [
            (0, "Fjord Analytics - Platform", 36_000.0, "USD", "Web", 10,
             [("Prospecting", 10), ("Qualification", 18)], 120),
            (1, "Kestrel Logistics - Fleet", 120_000.0, "USD", "Partner Referral", 12,
             [("Prospecting", 12), ("Needs Analysis", 25)], 140),
            (2, "Lumen Health - Clinics", 54_000.0, "USD", "Trade Show", 20,
             [("Prospecting", 20), ("Proposal/Price Quote", 44)], 100),
            (3, "Copperleaf Retail - Stores", 250_000.0, "USD", "Web", 24,
             [("Qualification", 24), ("Negotiation/Review", 70)], 95),
            (4, "Brightwater Energy - Grid", 88_000.0, "EUR", "Employee Referral", 30,
             [("Prospecting", 30), ("Proposal/Price Quote", 52), ("Closed Won", 81)], 81),
            (1, "Kestrel Logistics - Warehouses", 64_000.0, "USD", "Web", 35,
             [("Qualification", 35), ("Negotiation/Review", 60), ("Closed Won", 88)], 88),
            (0, "Fjord Analytics - Data Team", 18_000.0, "USD", "Phone Inquiry", 40,
             [("Prospecting", 40), ("Closed Lost", 66)], 66),
            (2, "Lumen Health - Research", 42_000.0, "USD", "Web", 47,
             [("Prospecting", 47), ("Value Proposition", 63)], 150),
        ]  # fmt: skip
        opportunities = []
        for n, (account, name, amount, currency, source, created, moves, close) in enumerate(deals):
            deal = self.add("Opportunity", {
                "Name": name, "AccountId": accounts[account], "StageName": moves[0][0],
                "Amount": amount, "CloseDate": day(close).date(), "LeadSource": source,
                "Type": "New Customer", "OwnerId": rep[n % 3], "CurrencyIsoCode": currency,
            }, at=day(created, 2))  # fmt: skip
            for stage, when in moves[1:]:
                self.update("Opportunity", deal, {"StageName": stage}, at=day(when, 5))
            opportunities.append(deal)
        # (first, last, company index or name, status, source, created day, converted into)
        people = [
            ("Ava", "Lindqvist", 0, 0, "Web", 2, None),
            ("Ben", "Okafor", 1, 1, "Partner Referral", 4, None),
            ("Chloe", "Martin", 2, 2, "Trade Show", 6, 2),
            ("Daniel", "Sato", 3, 1, "Web", 7, None),
            ("Emma", "Novak", 4, 2, "Employee Referral", 9, 4),
            ("Felix", "Berg", "Halcyon Media", 0, "Purchased List", 11, None),
            ("Grace", "Nguyen", 1, 2, "Web", 13, 5),
            ("Henry", "Adams", "Ironbark Capital", 3, "Purchased List", 15, None),
            ("Isla", "Campbell", 0, 2, "Phone Inquiry", 16, 6),
            ("Jack", "Rivera", "Juniper Foods", 1, "Web", 18, None),
            ("Kai", "Walker", "Marlowe Legal", 0, "Other", 21, None),
            ("Lena", "Scott", "Orchid Biotech", 3, "Trade Show", 23, None),
            ("Mason", "Hill", 3, 1, "Web", 26, None),
            ("Nora", "Flores", "Quarry Robotics", 0, "Web", 29, None),
            ("Oliver", "Green", "Redwood Insurance", 3, "Purchased List", 33, None),
            ("Priya", "Raman", "Saffron Travel", 1, "Partner Referral", 38, None),
            ("Quinn", "Baker", "Tidewater Shipping", 0, "Web", 44, None),
            ("Ravi", "Mehta", 4, 1, "Trade Show", 51, None),
            ("Sofia", "Torres", "Umber Architecture", 0, "Web", 58, None),
            ("Tom", "Harris", "Vantage Telecom", 0, "Phone Inquiry", 64, None),
        ]  # fmt: skip
        sites = {n: site for n, (_, site) in enumerate(_COMPANIES[:5])}
        for n, (first, last, company, status, source, created, deal) in enumerate(people):
            if isinstance(company, int):
                company_name, domain = _COMPANIES[company][0], sites[company]
            else:
                company_name, domain = company, company.split()[0].lower() + ".example"
            email = f"{first.lower()}.{last.lower()}@{domain}"
            lead = self.add("Lead", {
                "FirstName": first, "LastName": last, "Email": email, "Company": company_name,
                "Status": LEAD_STATUSES[0 if deal is not None else status], "LeadSource": source,
                "OwnerId": rep[n % 3], "Title": ("VP Operations", "Head of Data", "CTO",
                                                 "Director of IT")[n % 4],
            }, at=day(created, 1))  # fmt: skip
            if deal is not None:
                index = deals[deal][0]
                when = day(deals[deal][5], 1)
                contact = self.add("Contact", {
                    "FirstName": first, "LastName": last, "Email": email,
                    "AccountId": accounts[index], "OwnerId": rep[n % 3], "LeadSource": source,
                }, at=when)  # fmt: skip
                self.update("Lead", lead, {
                    "Status": "Closed - Converted", "IsConverted": True,
                    "ConvertedDate": when.date(), "ConvertedAccountId": accounts[index],
                    "ConvertedContactId": contact, "ConvertedOpportunityId": opportunities[deal],
                }, at=when)  # fmt: skip
            elif status != 0:
                self.update("Lead", lead, {"Status": LEAD_STATUSES[status]}, at=day(created + 5))
        self.delete("Lead", next(iter(self.objects["Lead"])), at=day(70))
        for first, last, account in (("Marta", "Kowalski", 1), ("Hugo", "Lambert", 3)):
            self.add("Contact", {
                "FirstName": first, "LastName": last, "AccountId": accounts[account],
                "Email": f"{first.lower()}.{last.lower()}@{sites[account]}",
                "Title": "Procurement Manager", "OwnerId": rep[0],
            }, at=day(5))  # fmt: skip
        return self


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve a fake Salesforce org (the demo org) over HTTPS on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--bulk-leads", type=int, default=0, help="also serve N generated leads")
    parser.add_argument(
        "--folder", help="keep the certificates and the app's key here, for later runs too"
    )
    args = parser.parse_args(argv)
    fake = FakeSalesforce(port=args.port, folder=args.folder).demo_org()
    key_file = fake.key_file
    if not key_file.exists():
        key_file.write_text(fake.private_key)
        os.chmod(key_file, 0o600)
    if args.bulk_leads:
        fake.bulk_leads(args.bulk_leads)
    with fake:
        print(f"Fake Salesforce: {fake.base} (API v{fake.version})")
        print(f"  CA file (CONNECTOR_CA_BUNDLE): {fake.ca_file}")
        print(f"  consumer key: {fake.consumer_key}")
        print(f"  username: {fake.username}")
        print(f"  private key (JWT bearer): {key_file}")
        print(f"  password + security token: {fake.password} + {fake.security_token}")
        if fake.bulk_csv_path:
            print(f"  bulk leads CSV: {fake.bulk_csv_path}")
        print("Ctrl-C stops it.", flush=True)
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` too removes the temporary files
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
