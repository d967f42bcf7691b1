"""Bodies no configured key opens: held sealed until the receipt retention, forgotten by a redaction, tried
again once per key set."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from flask import Flask

from app.inbox import routing
from tests.conftest import SHOP, process_inbox
from tests.factories import web_order
from tests.inbox.rows import event_count, receipts


def _hold_one(app: Flask, post_webhook: Any) -> None:
    post_webhook(web_order(), drain=False)
    right = app.config["ENCRYPTION_KEYS"]
    app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
    app.extensions.pop("pinbridge_receipts", None)
    assert process_inbox(app) == 1
    app.config["ENCRYPTION_KEYS"] = right
    app.extensions.pop("pinbridge_receipts", None)


def test_a_held_body_stays_until_the_receipt_retention(app: Flask, post_webhook: Any) -> None:
    from datetime import timedelta

    from app.inbox import unreadable
    from app.models import now_utc
    from app.ops import retention

    _hold_one(app, post_webhook)
    with app.app_context():
        assert retention.purge_receipts(now_utc() + timedelta(days=13), 14) == 0
        assert unreadable.count() == 1
        assert retention.purge_receipts(now_utc() + timedelta(days=15), 14) == 1
        assert unreadable.count() == 0


def test_customers_redact_deletes_held_bodies_it_cannot_search(app: Flask, post_webhook: Any) -> None:
    from app.inbox import unreadable

    _hold_one(app, post_webhook)
    post_webhook({"shop_domain": SHOP, "customer": {"id": 1, "email": "someone@example.com"},
                  "orders_to_redact": []}, "customers/redact")
    [held, _redact] = receipts()
    assert (held.held_body, held.outcome, held.detail) == (None, routing.UNREADABLE, unreadable.REDACTED)
    with app.app_context():
        assert unreadable.reopen() == 0  # nothing left to read later


def test_held_bodies_are_retried_once_per_key_set(app: Flask, post_webhook: Any) -> None:
    from app.inbox import unreadable

    _hold_one(app, post_webhook)  # held under a wrong key; the right one is configured again
    with app.app_context():
        assert unreadable.reopen() == 1 and unreadable.count() == 0
        assert unreadable.reopen() == 0
    assert process_inbox(app) == 1 and event_count() == 1
    assert [r.outcome for r in receipts()] == ["queued"]
