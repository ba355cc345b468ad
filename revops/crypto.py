"""Secrets users enter (a Slack webhook, a connector's token), encrypted at rest with Fernet.

The keys come from FIELD_ENCRYPTION_KEY (comma-separated, newest first: the first encrypts and
every one decrypts, so a key is rotated by putting the new one in front). Without it, a key is
derived from SECRET_KEY, so a development database works out of the box; a deployment sets its
own key, kept apart from the database backups."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret no configured key can decrypt (the key was changed without rotation)."""


def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        derived = hashlib.sha256(b"revops-field-encryption:" + settings.SECRET_KEY.encode())
        keys = [base64.urlsafe_b64encode(derived.digest()).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def secret_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY; enter it again."
        ) from None
