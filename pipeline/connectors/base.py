"""What every connector shares: its errors, the pages it yields, retries with backoff, and the
CSV its pages are written as.

A connector reads one system's API and yields pages of CSV text whose header names the
columns of the system's built-in preset (`preset_for`), so that a sync is an import batch
whose rows come from the API instead of a file. Each page carries the cursor to continue after
it, so a sync that dies half-way resumes where its last good page ended."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
T = TypeVar("T")


class ConnectorError(Exception):
    """What went wrong talking to the system, in a sentence a RevOps person can act on.
    `reconnect`: the credentials no longer work and someone must enter them again."""

    def __init__(self, message: str, *, reconnect: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.reconnect = reconnect


class Transient(Exception):
    """A failure that passes (429, 5xx, a timeout): worth trying again after `wait` seconds
    (None: the backoff's own wait)."""

    def __init__(self, message: str, *, wait: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.wait = wait


@dataclass
class Page:
    """One page of an object's records. `csv` is CSV text, its header on the first line;
    `cursor` is where the pull continues after this page (None: this was the last);
    `deleted` the ids the system reported deleted."""

    csv: str
    rows: int
    cursor: dict | None
    deleted: list[str] = field(default_factory=list)


def url_check(url: str) -> str:
    """An API or login URL a connection may use: https, or http to this machine only (a local
    stand-in of the API). Returns it without a trailing slash."""
    url = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or not host or parts.scheme not in ("https", "http"):
        raise ValidationError(f"{url!r} is not a web address (https://…).")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValidationError("Use an https:// address: the connection carries its secret.")
    if parts.username or parts.password:
        raise ValidationError("Put the credentials in their own fields, not in the address.")
    return url


def ca_bundle() -> str | bool:
    """What TLS certificates are checked against: CONNECTOR_CA_BUNDLE, else the default."""
    return settings.CONNECTOR_CA_BUNDLE or True


def retrying(
    call: Callable[[], T], *, what: str, on_wait: Callable[[float], None] | None = None
) -> T:
    """Run `call`, trying again on `Transient` up to CONNECTOR_RETRIES times, waiting what
    the failure asks (Retry-After) or CONNECTOR_BACKOFF_MS doubling each time. Raises
    ConnectorError when the tries run out."""
    backoff = settings.CONNECTOR_BACKOFF_MS / 1000
    for attempt in range(settings.CONNECTOR_RETRIES + 1):
        try:
            return call()
        except Transient as exc:
            if attempt == settings.CONNECTOR_RETRIES:
                raise ConnectorError(
                    f"{what} kept failing ({exc.message}) after {attempt + 1} tries; the sync "
                    "stopped and resumes from here next time."
                ) from None
            wait = exc.wait if exc.wait is not None else backoff * 2**attempt
            logger.info("%s: %s; trying again in %.1f s", what, exc.message, wait)
            if on_wait:
                on_wait(wait)
            time.sleep(min(wait, 300))
    raise AssertionError("unreachable")


def rows_csv(columns: list[str], rows: Iterable[dict]) -> tuple[str, int]:
    """CSV text of `rows` (dicts keyed by column), header first; and how many rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        count += 1
    return out.getvalue(), count


class Connector:
    """One system's API. Subclasses implement `check`, `pull` and `limits`."""

    label = ""

    def __init__(self, connection, *, secret: str, on_call: Callable[[], None] | None = None):
        self.connection = connection
        self.secret = secret
        self._on_call = on_call or (lambda: None)

    def call(self) -> None:
        """Count one API call (the sync records how many it used)."""
        self._on_call()

    def check(self) -> str:
        """A sentence saying what worked; raises ConnectorError saying what did not."""
        raise NotImplementedError

    def streams(self) -> list[str]:
        """What a sync pulls, in order: the object types the connection syncs (accounts
        first, so leads and deals find theirs), and any stream the system adds."""
        from pipeline.models import SYNC_OBJECT_ORDER

        return [str(o) for o in SYNC_OBJECT_ORDER if o in self.connection.objects_synced]

    def preset_for(self, object_type: str) -> str:
        raise NotImplementedError

    def pull(
        self, object_type: str, *, since: datetime | None, cursor: dict | None
    ) -> Iterator[Page]:
        """The object's records changed since `since` (all of them when None), from `cursor`
        on (where an interrupted pull stopped), with the ids deleted since `since`."""
        raise NotImplementedError

    def limits(self) -> dict:
        """The API allowance the system reports: {"used": n, "max": n} or {}."""
        return {}
