"""Every environment read of the project, in one place.

Bad values fail at start-up with a message that names the variable, so a typo in a deployment
is caught by the first `manage.py` call rather than by the first user.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from revops.currencies import currency_parse

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}

_env = environ.Env()


def env_raw(name: str) -> str | None:
    """The variable's value, or None when it is unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    raw = env_raw(name)
    if raw is None:
        return default
    if raw.lower() not in TRUE | FALSE:
        raise ImproperlyConfigured(f"{name}={raw!r}: use 1/0, true/false, yes/no or on/off")
    return raw.lower() in TRUE


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env_raw(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be at least {minimum}")
    return value


def env_str(name: str, default: str | None = None) -> str | None:
    raw = env_raw(name)
    return default if raw is None else raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_raw(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",")]
    if not all(items):
        raise ImproperlyConfigured(f"{name}={raw!r}: empty item in comma-separated list")
    return items


def env_currency(name: str, default: str) -> str:
    """An ISO 4217 currency code such as USD or EUR, upper-cased."""
    raw = env_raw(name)
    if raw is None:
        return default
    code = currency_parse(raw)
    if code is None:
        raise ImproperlyConfigured(f"{name}={raw!r}: not an ISO 4217 currency code such as USD")
    return code


def env_phone_region(name: str, default: str) -> str:
    """A country code (ISO 3166, e.g. US, BR) that phone numbers without + are read in."""
    import phonenumbers

    raw = env_raw(name)
    if raw is None:
        return default
    code = raw.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ImproperlyConfigured(f"{name}={raw!r}: not a country code such as US, BR or DE")
    return code


def env_database(name: str) -> dict | None:
    """Django DATABASES entry from a postgres:// URL, or None when the variable is unset."""
    raw = env_raw(name)
    if raw is None:
        return None
    scheme = urlsplit(raw).scheme
    if scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"{name}={_redact(raw)!r}: only PostgreSQL is supported, e.g. "
            "postgres://user:password@host:5432/dbname"
        )
    try:
        config = _env.db_url_config(raw)
    except Exception as exc:  # django-environ raises assorted errors on malformed URLs
        raise ImproperlyConfigured(f"{name}={_redact(raw)!r}: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={_redact(raw)!r}: the URL names no database")
    # A unix socket folder as the host: percent-encoded (postgres://u@%2Ftmp%2Fpg/db) or in
    # the query string (postgres://u@/db?host=/tmp/pg), as libpq and pgserver write it.
    socket_host = parse_qs(urlsplit(raw).query).get("host")
    if socket_host:
        config["HOST"] = socket_host[0]
        config.get("OPTIONS", {}).pop("host", None)
    elif str(config.get("HOST", "")).lower().startswith("%2f"):
        config["HOST"] = unquote(config["HOST"])
    return config


def env_url(name: str, default: str) -> str:
    """An http(s) URL such as https://revops.example.com, without a trailing slash."""
    raw = env_raw(name) or default
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected https://host or http://host:port")
    return raw.rstrip("/")


def env_redis_url(name: str) -> str | None:
    raw = env_raw(name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name}={_redact(raw)!r}: expected redis://host:6379/0 or rediss://…"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ImproperlyConfigured(f"{name}={_redact(raw)!r}: the port is not a number") from None
    return raw


def redis_cache(url: str, *, database_name: str) -> dict:
    """The CACHES entry of a Redis cache. Keys start with the database's name
    (CACHE_KEY_PREFIX to choose another), so two installations sharing one Redis (a staging
    copy, a benchmark) never read each other's users."""
    return {
        "BACKEND": "revops.cache.ResilientRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX") or database_name,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }


def env_email(name: str, default: str) -> dict:
    raw = env_raw(name) or default
    try:
        config = _env.email_url_config(raw)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name}={_redact(raw)!r}: {exc}") from None
    if not config.get("EMAIL_BACKEND"):
        raise ImproperlyConfigured(
            f"{name}={_redact(raw)!r}: unknown scheme; use smtp://, smtp+tls://, "
            "consolemail:// or dummymail://"
        )
    return config


def _redact(url: str) -> str:
    """The URL with its password replaced, safe to show in an error message."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def env_fernet_keys(name: str) -> list[str]:
    """Fernet keys, comma-separated, newest first (the first encrypts; every one decrypts, so a
    key can be rotated in). Empty when unset."""
    from cryptography.fernet import Fernet

    keys = env_list(name, [])
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: key {number} is not a Fernet key (32 url-safe base64-encoded bytes; "
                'make one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())")'
            ) from None
    return keys
