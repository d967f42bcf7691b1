"""Secrets at rest: the Pinterest token (Fernet, rotating keys) and the inbox's sealed webhook bodies."""

from __future__ import annotations

import json
import zlib

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from app import crypto
from app.crypto import SealedBodies, SecretUnreadable
from tests.conftest import ENCRYPTION_KEY, SHOP
from tests.factories import web_order

NEW_KEY, OLD_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
TOKEN = "pina_test_token_0001"


# -- the Pinterest token ------------------------------------------------------------------------------------
def test_a_token_is_encrypted_with_the_newest_key_and_opens_while_its_key_is_listed() -> None:
    stored = crypto.encrypt(TOKEN, [NEW_KEY, OLD_KEY])
    assert TOKEN not in stored
    assert Fernet(NEW_KEY.encode()).decrypt(stored.encode()).decode() == TOKEN  # the newest key, listed first
    assert crypto.decrypt(stored, [NEW_KEY]) == TOKEN
    assert crypto.decrypt(stored, [OLD_KEY, NEW_KEY]) == TOKEN


def test_rotation_keeps_old_tokens_readable_until_their_key_is_dropped() -> None:
    before = crypto.encrypt(TOKEN, [OLD_KEY])
    assert crypto.decrypt(before, [NEW_KEY, OLD_KEY]) == TOKEN  # rotated: the old key listed second
    with pytest.raises(SecretUnreadable):
        crypto.decrypt(before, [NEW_KEY])  # the old key dropped before the token was saved again


@pytest.mark.parametrize("stored", ["", "not-a-fernet-token", crypto.encrypt(TOKEN, [NEW_KEY])[:-4] + "AAAA"])
def test_anything_else_is_unreadable_never_another_error(stored: str) -> None:
    with pytest.raises(SecretUnreadable):
        crypto.decrypt(stored, [NEW_KEY])


def test_without_keys_given_the_apps_are_used(app: Flask) -> None:
    stored = crypto.encrypt(TOKEN)
    assert Fernet(ENCRYPTION_KEY.encode()).decrypt(stored.encode()).decode() == TOKEN
    assert crypto.decrypt(stored) == TOKEN
    app.config["ENCRYPTION_KEYS"] = [NEW_KEY]
    with pytest.raises(SecretUnreadable):
        crypto.decrypt(stored)


# -- the inbox's sealed bodies ------------------------------------------------------------------------------
BODY = json.dumps(web_order(email="buyer@example.com")).encode()


def test_a_sealed_body_opens_with_its_keys_and_its_shop_only() -> None:
    sealed = SealedBodies([NEW_KEY]).seal(BODY, SHOP.encode())
    assert sealed[:1] == SealedBodies.VERSION and b"buyer@example.com" not in sealed
    assert len(sealed) < len(BODY) * 0.6  # compressed before it is encrypted
    assert SealedBodies([NEW_KEY]).open(sealed, SHOP.encode()) == BODY
    assert SealedBodies([NEW_KEY, OLD_KEY]).open(sealed, SHOP.encode()) == BODY  # a rotation lists it second
    assert SealedBodies([OLD_KEY, NEW_KEY]).open(sealed, SHOP.encode()) == BODY
    with pytest.raises(SecretUnreadable):
        SealedBodies([OLD_KEY]).open(sealed, SHOP.encode())  # the key that sealed it was dropped
    with pytest.raises(SecretUnreadable):
        SealedBodies([NEW_KEY]).open(sealed, b"other-shop.myshopify.com")  # moved to another shop's receipt
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretUnreadable):
        SealedBodies([NEW_KEY]).open(tampered, SHOP.encode())


def test_a_rotation_seals_with_the_newest_key() -> None:
    sealed = SealedBodies([NEW_KEY, OLD_KEY]).seal(BODY, SHOP.encode())
    assert SealedBodies([NEW_KEY]).open(sealed, SHOP.encode()) == BODY
    with pytest.raises(SecretUnreadable):
        SealedBodies([OLD_KEY]).open(sealed, SHOP.encode())


def test_two_seals_of_one_body_differ_and_a_body_sealed_before_this_format_still_opens() -> None:
    cipher = SealedBodies([NEW_KEY])
    assert cipher.seal(BODY, SHOP.encode()) != cipher.seal(BODY, SHOP.encode())  # a fresh nonce each time
    legacy = Fernet(NEW_KEY.encode()).encrypt(zlib.compress(BODY, 1))
    assert cipher.open(legacy, SHOP.encode()) == BODY
    with pytest.raises(SecretUnreadable):
        SealedBodies([OLD_KEY]).open(legacy, SHOP.encode())
