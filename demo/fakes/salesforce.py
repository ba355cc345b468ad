"""A local stand-in for Salesforce's APIs: an HTTPS server on 127.0.0.1 (a self-signed
certificate it makes at start-up; `ca_file` is its PEM) answering what `simple-salesforce`
really sends, with the response shapes of Salesforce's documentation.

What it models:
- Sign-in: `POST /services/oauth2/token` with the OAuth 2.0 JWT bearer flow (RS256 assertion:
  `iss` the consumer key, `sub` the username, `aud` the login URL, `exp` ahead) or the
  username-password flow, and the SOAP `login` call (`POST /services/Soap/u/{version}`). Their
  documented failures: `invalid_client_id`, `invalid_grant` ("user hasn't approved this
  consumer", "invalid assertion", "authentication failure", "ip restricted"), INVALID_LOGIN.
- REST: `query` and `queryAll` (the latter sees deleted rows, `IsDeleted = true`) paged by
  `nextRecordsUrl`; `sobjects/{Object}/describe`; `limits`; the `Sforce-Limit-Info` header on
  every answer; 401 INVALID_SESSION_ID once sessions expire; 403 REQUEST_LIMIT_EXCEEDED once
  the daily allowance is used.
- Bulk API 2.0 query jobs: create, poll (InProgress, then JobComplete), CSV result pages with
  `Sforce-Locator` and `Sforce-NumberOfRecords`. `bulk_leads(n)` serves n generated leads
  from a file, as byte ranges, for a benchmark.
- Faults: `fail_next` (any status and body, after `skip` matching requests), `delay_next`.

SOQL: `SELECT a, b FROM Object [WHERE f op value [AND …]] [ORDER BY f, g] [LIMIT n]`, where op
is =, >, >=, < or <= and a value is a datetime or date literal, a number, true/false or a
quoted string.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PREFIX = {"Lead": "00Q", "Contact": "003", "Account": "001", "Opportunity": "006"}
FIELDS = {
    "Lead": ["Id", "FirstName", "LastName", "Email", "Company", "Status", "LeadSource",
             "CreatedDate", "ConvertedDate", "ConvertedOpportunityId", "ConvertedAccountId",
             "OwnerId", "IsConverted", "IsDeleted", "SystemModstamp", "LastModifiedDate"],
    "Account": ["Id", "Name", "Website", "Industry", "NumberOfEmployees", "OwnerId", "IsDeleted",
                "CreatedDate", "SystemModstamp", "LastModifiedDate"],
    "Opportunity": ["Id", "Name", "AccountId", "StageName", "Amount", "CloseDate", "CreatedDate",
                    "LeadSource", "Type", "OwnerId", "IsClosed", "IsWon", "CurrencyIsoCode",
                    "IsDeleted", "SystemModstamp", "LastModifiedDate"],
    "Contact": ["Id", "FirstName", "LastName", "Email", "AccountId", "OwnerId", "IsDeleted",
                "CreatedDate", "SystemModstamp", "LastModifiedDate"],
}  # fmt: skip
DATETIMES = {"CreatedDate", "SystemModstamp", "LastModifiedDate", "ConvertedDate"}
CONSUMER_KEY = "3MVG9fake.consumer.key"
USERNAME = "sync@acme.example"
DAILY_LIMIT = 15_000
BULK_DEFAULT_PAGE = 50_000  # Salesforce's default maxRecords when none is asked


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _csv_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _self_signed(folder: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key in `folder`: the ones there, else new ones."""
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.exists() and key_path.exists():
        return str(cert_path), str(key_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(days=1))
        .not_valid_after(_now() + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def generate_keypair() -> tuple[str, str]:
    """(private key PEM, public key PEM) for a connected app's JWT bearer flow."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^\s*(\w+)\s*(>=|<=|=|>|<)\s*(.+?)\s*$")


def _literal(text: str):
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return dt.date.fromisoformat(text)
    try:
        return float(text)
    except ValueError:
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text}'") from None


class FakeSalesforce:
    def __init__(
        self,
        *,
        login_url: str | None = None,
        page_size: int = 2000,
        port: int = 0,
        folder: Path | None = None,
    ) -> None:
        """`folder` keeps the certificate (and is reused: a client trusting it keeps doing so
        across restarts); `port` 0 takes a free one."""
        self.folder = folder or Path(tempfile.mkdtemp(prefix="fake-salesforce-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file, key_file = _self_signed(self.folder)
        self.objects: dict[str, dict[str, dict]] = {name: {} for name in FIELDS}
        self.consumer_key = CONSUMER_KEY
        self.consumer_secret = "fake-consumer-secret"
        self.username, self.password, self.security_token = USERNAME, "pass-word", "TOKEN123"
        self.private_key, self.public_key = generate_keypair()
        self.page_size = page_size
        self.daily_limit = DAILY_LIMIT
        self.ip_restricted = False
        self.used = 0
        self.calls = 0
        self.requests: list[tuple[str, str]] = []
        self.sessions: set[str] = set()
        self._cursors: dict[str, tuple[list[dict], list[str], str]] = {}
        self._jobs: dict[str, dict] = {}
        self._faults: list[dict] = []
        self._lock = threading.Lock()
        self._serial = 0
        self.bulk_csv_path: Path | None = None
        self._bulk_offsets: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:  # noqa: N802
                fake._handle(self, "PATCH")

            def do_DELETE(self) -> None:  # noqa: N802
                fake._handle(self, "DELETE")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.login_url = login_url or self.base
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSalesforce:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the org ----------------------------------------------------------------------------

    def _id(self, sobject: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{PREFIX[sobject]}{self._serial:012d}AAA"

    def add(self, sobject: str, fields: dict, *, at: dt.datetime | None = None) -> str:
        at = at or _now()
        rid = self._id(sobject)
        record = {name: None for name in FIELDS[sobject]}
        record.update({"Id": rid, "IsDeleted": False, "CreatedDate": at, **fields})
        record["SystemModstamp"] = record["LastModifiedDate"] = at
        self.objects[sobject][rid] = record
        return rid

    def update(self, sobject: str, rid: str, fields: dict, *, at: dt.datetime | None = None):
        at = at or _now()
        self.objects[sobject][rid].update(fields)
        self.objects[sobject][rid]["SystemModstamp"] = at
        self.objects[sobject][rid]["LastModifiedDate"] = at

    def delete(self, sobject: str, rid: str, *, at: dt.datetime | None = None) -> None:
        """To the Recycle Bin: seen only by queryAll, with IsDeleted true."""
        self.update(sobject, rid, {"IsDeleted": True}, at=at)

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        path_contains: str = "",
        skip: int = 0,
        body=None,
        headers: dict | None = None,
    ) -> None:
        """Make `count` matching requests answer `status` (with `body`, JSON), after letting
        `skip` matching requests through."""
        self._faults.append(
            {"status": status, "count": count, "path": path_contains, "skip": skip,
             "body": body, "headers": headers or {}, "delay": 0}
        )  # fmt: skip

    def delay_next(self, seconds: float, *, path_contains: str = "", count: int = 1) -> None:
        self._faults.append(
            {"status": 0, "count": count, "path": path_contains, "skip": 0, "body": None,
             "headers": {}, "delay": seconds}
        )  # fmt: skip

    def count(self, method: str, path_contains: str) -> int:
        return sum(1 for m, p in self.requests if m == method and path_contains in p)

    def bulk_leads(self, n: int) -> Path:
        """Serve `n` generated leads through Bulk API 2.0 from one CSV file (also the file a
        benchmark imports); `query` jobs on Lead then page through it by byte ranges."""
        path = self.folder / f"leads-{n}.csv"
        statuses = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                    "Closed - Not Converted"]  # fmt: skip
        sources = ["Web", "Partner Referral", "Trade Show", "Advertisement"]
        base = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        header = ("Id,FirstName,LastName,Email,Company,Status,LeadSource,CreatedDate,"
                  "ConvertedDate,ConvertedOpportunityId,OwnerId,IsConverted,SystemModstamp,"
                  "IsDeleted\n")  # fmt: skip
        offsets = []
        with open(path, "w", encoding="utf-8") as out:
            out.write(header)
            position = len(header.encode())
            chunk = []
            for i in range(n):
                if i % BULK_DEFAULT_PAGE == 0:
                    offsets.append(position + sum(len(c) for c in chunk))
                created = _csv_time(base + dt.timedelta(minutes=i % 400_000))
                status = statuses[i % 4]
                converted = status == "Closed - Converted"
                line = (
                    f'"00Q{i:012d}AAA","Lead{i}","Bench","lead{i}@bench{i % 5000}.example",'
                    f'"Bench {i % 5000}","{status}","{sources[i % 4]}","{created}",'
                    f'"{created[:10] if converted else ""}","{f"006{i:012d}AAA" if converted else ""}",'
                    f'"005{i % 200:012d}AAA","{"true" if converted else "false"}","{created}","false"\n'
                )
                chunk.append(line)
                if len(chunk) >= 10_000:
                    text = "".join(chunk)
                    out.write(text)
                    position += len(text.encode())
                    chunk = []
            text = "".join(chunk)
            out.write(text)
        self.bulk_csv_path, self._bulk_offsets = path, offsets
        self._bulk_header = header.encode()
        self._bulk_n = n
        return path

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

    def _send(self, handler, status: int, body, *, content_type="application/json",
              headers: dict | None = None) -> None:  # fmt: skip
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body, default=str).encode() if body is not None else b""
        handler.send_response(status)
        handler.send_header("Content-Type", f"{content_type};charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Sforce-Limit-Info", f"api-usage={self.used}/{self.daily_limit}")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _errors(self, handler, status: int, code: str, message: str) -> None:
        self._send(handler, status, [{"message": message, "errorCode": code}])

    def _handle(self, handler, method: str) -> None:
        self.requests.append((method, handler.path))
        self.calls += 1
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        fault = self._fault(handler.path)
        if fault and fault["delay"]:
            time.sleep(fault["delay"])
        elif fault:
            return self._send(
                handler, fault["status"],
                fault["body"] if fault["body"] is not None
                else [{"message": "An unexpected error occurred.", "errorCode": "UNKNOWN_EXCEPTION"}],
                headers=fault["headers"],
            )  # fmt: skip
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        if url.path == "/services/oauth2/token" and method == "POST":
            return self._token(handler, parse_qs(raw.decode()))
        if url.path.startswith("/services/Soap/u/") and method == "POST":
            return self._soap(handler, raw.decode())
        match = re.match(r"^/services/data/v(\d+\.\d)/?(.*)$", url.path)
        if not match:
            return self._errors(handler, 404, "NOT_FOUND", "The requested resource does not exist")
        version, rest = match.group(1), match.group(2).rstrip("/")
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if token not in self.sessions:
            return self._errors(handler, 401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.used >= self.daily_limit:
            return self._errors(
                handler, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
            )
        self.used += 1
        try:
            return self._rest(handler, method, version, rest, query, raw)
        except SoqlError as exc:
            return self._errors(handler, 400, exc.code, exc.message)

    def _token(self, handler, form: dict) -> None:
        grant = (form.get("grant_type") or [""])[0]
        if self.ip_restricted:
            return self._send(
                handler, 400, {"error": "invalid_grant", "error_description": "ip restricted"}
            )
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            assertion = (form.get("assertion") or [""])[0]
            try:
                unverified = jwt.decode(assertion, options={"verify_signature": False})
            except jwt.PyJWTError:
                return self._send(
                    handler,
                    400,
                    {"error": "invalid_grant", "error_description": "invalid assertion"},
                )
            if unverified.get("iss") != self.consumer_key:
                return self._send(
                    handler,
                    400,
                    {
                        "error": "invalid_client_id",
                        "error_description": "client identifier invalid",
                    },
                )
            if unverified.get("sub") != self.username:
                return self._send(
                    handler,
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "user hasn't approved this consumer",
                    },
                )
            try:
                jwt.decode(
                    assertion, self.public_key, algorithms=["RS256"], audience=self.login_url
                )
            except jwt.PyJWTError:
                return self._send(
                    handler,
                    400,
                    {"error": "invalid_grant", "error_description": "invalid assertion"},
                )
        elif grant == "password":
            if (form.get("client_id") or [""])[0] != self.consumer_key:
                return self._send(
                    handler,
                    400,
                    {
                        "error": "invalid_client_id",
                        "error_description": "client identifier invalid",
                    },
                )
            given = (form.get("password") or [""])[0]
            if (form.get("username") or [""])[
                0
            ] != self.username or given != self.password + self.security_token:
                return self._send(
                    handler,
                    400,
                    {"error": "invalid_grant", "error_description": "authentication failure"},
                )
        else:
            return self._send(
                handler,
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        session = "00Dfake!" + secrets.token_urlsafe(24)
        self.sessions.add(session)
        self._send(handler, 200, {
            "access_token": session, "scope": "api", "instance_url": self.base,
            "id": f"{self.base}/id/00D000000000001AAA/005000000000001AAA",
            "token_type": "Bearer", "issued_at": str(int(time.time() * 1000)),
        })  # fmt: skip

    def _soap(self, handler, body: str) -> None:
        user = re.search(r"<n1:username>(.*?)</n1:username>", body, re.S)
        word = re.search(r"<n1:password>(.*?)</n1:password>", body, re.S)
        ok = (user and word and user.group(1) == self.username
              and word.group(1) == self.password + self.security_token)  # fmt: skip
        if not ok:
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
                "<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid "
                "username, password, security token; or user locked out.</faultstring><detail>"
                "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"
                "<sf:exceptionMessage>Invalid username, password, security token; or user "
                "locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
                "</soapenv:Body></soapenv:Envelope>"
            )
            return self._send(handler, 500, fault, content_type="text/xml")
        session = "00Dfake!" + secrets.token_urlsafe(24)
        self.sessions.add(session)
        answer = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
            f"<serverUrl>{self.base}/services/Soap/u/59.0/00D000000000001</serverUrl>"
            f"<sessionId>{session}</sessionId><userId>005000000000001AAA</userId>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        self._send(handler, 200, answer, content_type="text/xml")

    def _rest(self, handler, method, version, rest, query, raw) -> None:
        if rest == "limits":
            return self._send(handler, 200, {
                "DailyApiRequests": {"Max": self.daily_limit, "Remaining": self.daily_limit - self.used},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(self._jobs)},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            })  # fmt: skip
        describe = re.match(r"^sobjects/(\w+)/describe$", rest)
        if describe:
            name = describe.group(1)
            if name not in FIELDS:
                return self._errors(
                    handler, 404, "NOT_FOUND", "The requested resource does not exist"
                )
            return self._send(handler, 200, {"name": name, "fields": [
                {"name": f, "type": "datetime" if f in DATETIMES else "string"} for f in FIELDS[name]]})  # fmt: skip
        if rest in ("query", "queryAll"):
            soql = (query.get("q") or [""])[0]
            records, fields, sobject = self._select(soql, include_deleted=rest == "queryAll")
            return self._page(handler, version, records, fields, sobject, 0)
        more = re.match(r"^query/(01g\w+)-(\d+)$", rest)
        if more:
            if more.group(1) not in self._cursors:
                return self._errors(handler, 400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            records, fields, sobject = self._cursors[more.group(1)]
            return self._page(handler, version, records, fields, sobject, int(more.group(2)),
                              locator=more.group(1))  # fmt: skip
        if rest == "jobs/query" and method == "POST":
            return self._job_create(handler, version, json.loads(raw or b"{}"))
        job = re.match(r"^jobs/query/(750\w+)(/results)?$", rest)
        if job:
            return self._job(handler, method, job.group(1), bool(job.group(2)), query)
        return self._errors(handler, 404, "NOT_FOUND", "The requested resource does not exist")

    def _select(self, soql: str, *, include_deleted: bool):
        match = _SOQL.match(soql)
        if not match:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token in: {soql[:80]}")
        sobject = match.group("object")
        if sobject not in FIELDS:
            raise SoqlError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        fields = [f.strip() for f in match.group("fields").split(",")]
        for name in fields:
            if name not in FIELDS[sobject]:
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
        rows = [r for r in self.objects[sobject].values() if include_deleted or not r["IsDeleted"]]
        for condition in re.split(r"\s+AND\s+", match.group("where") or "", flags=re.I):
            if not condition.strip():
                continue
            parsed = _CONDITION.match(condition)
            if not parsed:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{condition}'")
            name, op, value = parsed.group(1), parsed.group(2), _literal(parsed.group(3))
            if name not in FIELDS[sobject]:
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
            rows = [r for r in rows if _compare(r.get(name), op, value)]
        if match.group("order"):
            keys = [k.split()[0] for k in match.group("order").split(",")]
            rows.sort(key=lambda r: tuple(str(r.get(k) or "") for k in keys))
        if match.group("limit"):
            rows = rows[: int(match.group("limit"))]
        return rows, fields, sobject

    def _shape(self, record: dict, fields: list[str], sobject: str, version: str) -> dict:
        out = {"attributes": {"type": sobject,
                              "url": f"/services/data/v{version}/sobjects/{sobject}/{record['Id']}"}}  # fmt: skip
        for name in fields:
            value = record.get(name)
            if isinstance(value, dt.datetime):
                value = _json_time(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            out[name] = value
        return out

    def _page(self, handler, version, records, fields, sobject, start, *, locator=None) -> None:
        chunk = records[start : start + self.page_size]
        done = start + self.page_size >= len(records)
        body = {"totalSize": len(records), "done": done,
                "records": [self._shape(r, fields, sobject, version) for r in chunk]}  # fmt: skip
        if not done:
            locator = locator or "01g" + secrets.token_hex(6).upper()
            self._cursors[locator] = (records, fields, sobject)
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/query/{locator}-{start + self.page_size}"
            )
        self._send(handler, 200, body)

    def _job_create(self, handler, version: str, body: dict) -> None:
        operation = body.get("operation", "query")
        soql = body.get("query", "")
        match = _SOQL.match(soql)
        sobject = match.group("object") if match else ""
        use_file = self.bulk_csv_path is not None and sobject == "Lead"
        if not use_file:
            records, fields, sobject = self._select(soql, include_deleted=operation == "queryAll")
        else:
            records, fields = [], []
        job_id = "750" + secrets.token_hex(6).upper()
        self._jobs[job_id] = {
            "records": records, "fields": fields, "file": use_file, "polls": 0,
            "info": {"id": job_id, "operation": operation, "object": sobject,
                     "createdById": "005000000000001AAA", "createdDate": _json_time(_now()),
                     "state": "UploadComplete", "concurrencyMode": "Parallel",
                     "contentType": "CSV", "apiVersion": float(version), "lineEnding": "LF",
                     "columnDelimiter": "COMMA"},
        }  # fmt: skip
        self._send(handler, 200, self._jobs[job_id]["info"])

    def _job(self, handler, method: str, job_id: str, results: bool, query: dict) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return self._errors(handler, 404, "NOT_FOUND", "The requested resource does not exist")
        if method in ("PATCH", "DELETE"):
            job["info"]["state"] = "Aborted"
            return self._send(handler, 200, job["info"])
        if not results:
            job["polls"] += 1
            count = self._bulk_n if job["file"] else len(job["records"])
            job["info"]["state"] = "InProgress" if job["polls"] == 1 else "JobComplete"
            job["info"]["numberRecordsProcessed"] = count
            return self._send(handler, 200, job["info"])
        page = int((query.get("maxRecords") or [BULK_DEFAULT_PAGE])[0])
        start = int((query.get("locator") or ["0"])[0] or 0)
        if job["file"]:
            return self._file_page(handler, start, page)
        rows = job["records"][start : start + page]
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(job["fields"])
        for record in rows:
            writer.writerow([_csv_value(record.get(f)) for f in job["fields"]])
        nxt = start + page if start + page < len(job["records"]) else None
        self._send(handler, 200, out.getvalue(), content_type="text/csv",
                   headers={"Sforce-Locator": str(nxt) if nxt else "null",
                            "Sforce-NumberOfRecords": str(len(rows))})  # fmt: skip

    def _file_page(self, handler, start: int, page: int) -> None:
        """Rows start … start+page of the bench file, as one byte range (page sizes are
        multiples of the index step, BULK_DEFAULT_PAGE, or the whole file)."""
        step = BULK_DEFAULT_PAGE
        first = start // step
        last = min(len(self._bulk_offsets), (start + page) // step)
        size = self.bulk_csv_path.stat().st_size
        begin = self._bulk_offsets[first]
        end = self._bulk_offsets[last] if last < len(self._bulk_offsets) else size
        with open(self.bulk_csv_path, "rb") as f:
            f.seek(begin)
            data = self._bulk_header + f.read(end - begin)
        rows = min(self._bulk_n, start + page) - start
        nxt = start + page if start + page < self._bulk_n else None
        self._send(handler, 200, data, content_type="text/csv",
                   headers={"Sforce-Locator": str(nxt) if nxt else "null",
                            "Sforce-NumberOfRecords": str(rows)})  # fmt: skip

    # --- a demo org -------------------------------------------------------------------------

    def demo_org(self) -> FakeSalesforce:
        now = _now().replace(microsecond=0)
        accounts = [
            self.add("Account", {"Name": n, "Website": w, "Industry": i, "NumberOfEmployees": e,
                                 "OwnerId": "005000000000001AAA"}, at=now - dt.timedelta(days=90))
            for n, w, i, e in [("Fjord Analytics", "https://fjord-analytics.example", "Technology", 120),
                               ("Kestrel Logistics", "kestrel-logistics.example", "Transportation", 800),
                               ("Lumen Health", "www.lumen-health.example", "Healthcare", 300)]
        ]  # fmt: skip
        statuses = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                    "Closed - Not Converted"]  # fmt: skip
        for n in range(20):
            created = now - dt.timedelta(days=60 - n * 2)
            status = statuses[n % 4]
            fields = {"FirstName": f"Person{n}", "LastName": "Demo",
                      "Email": f"person{n}@{['fjord-analytics', 'kestrel-logistics', 'lumen-health'][n % 3]}.example",
                      "Company": ["Fjord Analytics", "Kestrel Logistics", "Lumen Health"][n % 3],
                      "Status": status, "LeadSource": ["Web", "Partner Referral", "Trade Show"][n % 3],
                      "OwnerId": f"00500000000000{n % 2 + 1}AAA", "IsConverted": status == "Closed - Converted"}  # fmt: skip
            if status == "Closed - Converted":
                fields["ConvertedDate"] = (created + dt.timedelta(days=10)).date()
                fields["ConvertedAccountId"] = accounts[n % 3]
            self.add("Lead", fields, at=created)
        stages = [("Prospecting", 12000), ("Qualification", 18000), ("Proposal/Price Quote", 24000),
                  ("Closed Won", 30000), ("Closed Won", 9000), ("Closed Lost", 15000),
                  ("Negotiation/Review", 21000), ("Needs Analysis", 27000)]  # fmt: skip
        for n, (stage, amount) in enumerate(stages):
            created = now - dt.timedelta(days=50 - n * 3)
            self.add("Opportunity", {
                "Name": f"Demo opportunity {n + 1}", "AccountId": accounts[n % 3], "StageName": stage,
                "Amount": amount, "CloseDate": (created + dt.timedelta(days=30)).date(),
                "LeadSource": "Web", "Type": "New Customer", "OwnerId": "005000000000001AAA",
                "IsClosed": stage.startswith("Closed"), "IsWon": stage == "Closed Won",
                "CurrencyIsoCode": "USD"}, at=created)  # fmt: skip
        return self


def _compare(left, op: str, right) -> bool:
    if left is None:
        return op == "=" and right is None
    if (
        isinstance(right, dt.datetime)
        and isinstance(left, dt.date)
        and not isinstance(left, dt.datetime)
    ):
        left = dt.datetime.combine(left, dt.time(), dt.UTC)
    if isinstance(right, float) and not isinstance(left, bool):
        left = float(left)
    try:
        return {"=": left == right, ">": left > right, ">=": left >= right,
                "<": left < right, "<=": left <= right}[op]  # fmt: skip
    except TypeError:
        return False


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return _csv_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Salesforce org on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    fake = FakeSalesforce(port=args.port).demo_org()
    key_path = fake.folder / "connected-app-private-key.pem"
    key_path.write_text(fake.private_key)
    print(
        f"Fake Salesforce at {fake.base}\n  CA file (CONNECTOR_CA_BUNDLE): {fake.ca_file}\n"
        f"  consumer key: {fake.consumer_key}\n  username: {fake.username}\n"
        f"  private key: {key_path}\n  password + token: {fake.password} / {fake.security_token}",
        flush=True,
    )
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
