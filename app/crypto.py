"""Secrets at rest: Fernet with key rotation (ENCRYPTION_KEY lists keys newest first)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

# What the merchant is told when their saved Pinterest token cannot be decrypted: Pinterest never saw it.
UNREADABLE_TOKEN_MESSAGE = ("Pinbridge cannot read the stored token: the encryption key changed. "
                            "Paste the token again.")


class SecretUnreadable(Exception):
    """A stored secret was encrypted with a key that is no longer configured."""


def _fernet(keys: list[str] | None = None) -> MultiFernet:
    keys = keys if keys is not None else current_app.config["ENCRYPTION_KEYS"]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(plaintext: str, keys: list[str] | None = None) -> str:
    """Encrypt with the newest key."""
    return _fernet(keys).encrypt(plaintext.encode()).decode()


def decrypt(token: str, keys: list[str] | None = None) -> str:
    """Decrypt with whichever configured key encrypted it."""
    try:
        return _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("stored secret cannot be decrypted with the configured ENCRYPTION_KEY") from exc

