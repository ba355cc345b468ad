"""Secrets people enter are encrypted at rest, and a key can be rotated without losing them."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from revops.crypto import SecretUnreadable, secret_decrypt, secret_encrypt


def test_a_secret_is_stored_encrypted_and_reads_back(settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    stored = secret_encrypt("https://hooks.slack.com/services/T1/B2/s3cr3t")
    assert "s3cr3t" not in stored
    assert secret_decrypt(stored) == "https://hooks.slack.com/services/T1/B2/s3cr3t"


def test_a_rotated_key_still_reads_what_the_old_one_wrote(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    stored = secret_encrypt("token-1")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert secret_decrypt(stored) == "token-1"
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(SecretUnreadable, match="enter it again"):
        secret_decrypt(stored)


def test_without_a_key_one_is_derived_from_the_secret_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    stored = secret_encrypt("token-2")
    assert secret_decrypt(stored) == "token-2"
    settings.SECRET_KEY = "another-" + "x" * 50
    with pytest.raises(SecretUnreadable):
        secret_decrypt(stored)
