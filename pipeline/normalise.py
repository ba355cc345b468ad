"""Pure functions that turn what a source system wrote into the keys identity resolution uses."""

from __future__ import annotations

import re
import unicodedata

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class NormaliseError(ValueError):
    """A value that cannot become a key; the message says why, for the row-level report."""


def email_key(raw: str) -> str:
    """The lead key of an email address: NFC, case-folded local part and the IDNA-encoded,
    lower-case domain, so `JOSE@EXÄMPLE.COM` and `jose@xn--exmple-cua.com` are the same key."""
    value = unicodedata.normalize("NFC", raw.strip())
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain:
        raise NormaliseError(f"{raw!r} is not an email address")
    return f"{local.casefold()}@{domain_key(domain)}"


def domain_key(raw: str) -> str:
    """The account key of a website or domain: lower case, no scheme, no `www.`, no path or
    port, IDNA-encoded. `https://www.Example.com/about` → `example.com`."""
    value = unicodedata.normalize("NFC", raw.strip())
    value = _SCHEME.sub("", value)
    value = re.split(r"[/?#]", value, maxsplit=1)[0]
    value = value.rsplit("@", 1)[-1]  # user@host forms in URLs
    value = value.split(":", 1)[0].rstrip(".").lower()
    if value.startswith("www."):
        value = value[4:]
    if not value or "." not in value or " " in value:
        raise NormaliseError(f"{raw!r} is not a domain")
    try:
        return value.encode("idna").decode("ascii")
    except UnicodeError:
        raise NormaliseError(f"{raw!r} is not a valid internationalised domain") from None
