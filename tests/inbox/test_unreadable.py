"""Bodies no configured key opens: forgotten by a redaction, tried again once per key set (held sealed until
the receipt retention: tests/inbox/test_records.py)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.inbox import routing
from tests.conftest import SHOP, process_inbox
from tests.inbox.rows import event_count, hold_one, receipts


def test_customers_redact_deletes_held_bodies_it_cannot_search(app: Flask, post_webhook: Any) -> None:
    from app.inbox import unreadable

    hold_one(app, post_webhook)
    post_webhook({"shop_domain": SHOP, "customer": {"id": 1, "email": "someone@example.com"},
                  "orders_to_redact": []}, "customers/redact")
    [held, _redact] = receipts()
    assert (held.held_body, held.outcome, held.detail) == (None, routing.UNREADABLE, unreadable.REDACTED)
    with app.app_context():
        assert unreadable.reopen() == 0  # nothing left to read later


def test_held_bodies_are_retried_once_per_key_set(app: Flask, post_webhook: Any) -> None:
    from app.inbox import unreadable

    hold_one(app, post_webhook)  # held under a wrong key; the right one is configured again
    with app.app_context():
        assert unreadable.reopen() == 1 and unreadable.count() == 0
        assert unreadable.reopen() == 0
    assert process_inbox(app) == 1 and event_count() == 1
    assert [r.outcome for r in receipts()] == ["queued"]
