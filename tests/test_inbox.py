"""The webhook inbox: a webhook is acknowledged with one encrypted row; the worker maps it later."""

from __future__ import annotations

import json
import threading
import time
import zlib
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from app.crypto import SealedBodies, SecretUnreadable
from app.inbox import receipts as inbox_receipts
from app.inbox import routing
from app.models import Event, WebhookReceipt, db
from app.ops.scrape import render
from tests.conftest import SHOP, process_inbox
from tests.factories import completed_checkout, web_order


def receipts() -> list[WebhookReceipt]:
    db.session.rollback()
    return list(db.session.scalars(select(WebhookReceipt).order_by(WebhookReceipt.id)))


def event_count() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(Event)) or 0)


def test_the_request_stores_only_an_encrypted_body(post_webhook: Any) -> None:
    order = web_order(email="buyer@example.com")
    response = post_webhook(order, webhook_id="wh-in-1", drain=False)
    assert response.get_json() == {"status": "accepted"}
    [receipt] = receipts()
    assert receipt.outcome == inbox_receipts.WAITING and receipt.body is not None
    assert b"buyer@example.com" not in receipt.body and b"example.com" not in receipt.body
    assert event_count() == 0  # nothing mapped on the request path


def test_the_worker_maps_the_body_and_deletes_it(app: Flask, post_webhook: Any) -> None:
    order = web_order()
    post_webhook(order, webhook_id="wh-in-2", drain=False)
    assert process_inbox(app) == 1
    [receipt] = receipts()
    assert receipt.body is None and receipt.outcome == "queued"
    [event] = db.session.scalars(select(Event)).all()
    assert receipt.event_row_id == event.id and event.event_id == order["cart_token"]
    assert process_inbox(app) == 0  # nothing left


def test_a_redelivery_while_waiting_is_a_duplicate(app: Flask, post_webhook: Any) -> None:
    order = web_order()
    assert post_webhook(order, webhook_id="wh-in-3", drain=False).get_json() == {"status": "accepted"}
    assert post_webhook(order, webhook_id="wh-in-3", drain=False).get_json() == {"status": "duplicate"}
    process_inbox(app)
    assert post_webhook(order, webhook_id="wh-in-3").get_json() == {"status": "duplicate"}
    assert (len(receipts()), event_count()) == (1, 1)


def test_two_workers_route_a_receipt_once(app: Flask, post_webhook: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both read the same waiting rows; the guarded UPDATE lets only the first route them."""
    post_webhook(web_order(), webhook_id="wh-in-4", drain=False)
    post_webhook(web_order(), webhook_id="wh-in-5", drain=False)
    with app.app_context():
        stale = routing._read(10, None)  # what a second worker read before the first one committed
    assert process_inbox(app) == 2
    monkeypatch.setattr(routing, "_read", lambda *_: stale)
    with app.app_context():
        assert routing.process_pending() == 0
    assert event_count() == 2
    assert [r.outcome for r in receipts()] == ["queued", "queued"]


def test_an_order_and_its_checkout_in_one_batch_give_one_event(app: Flask, post_webhook: Any) -> None:
    order = web_order()
    checkout = completed_checkout(order)
    post_webhook(checkout, "checkouts/update", drain=False)
    post_webhook(order, drain=False)
    assert process_inbox(app) == 2
    assert event_count() == 1
    assert [r.outcome for r in receipts()] == ["queued", "replaced_checkout"]


def test_an_open_checkout_is_recorded_without_a_body(app: Flask, post_webhook: Any) -> None:
    checkout = completed_checkout(completed_at=None)
    assert post_webhook(checkout, "checkouts/update", drain=False).get_json() == {"status": "accepted"}
    [receipt] = receipts()
    assert (receipt.outcome, receipt.body) == ("checkout_open", None)
    assert process_inbox(app) == 0 and event_count() == 0


def test_a_body_the_key_cannot_read_is_recorded_not_retried_for_ever(app: Flask, post_webhook: Any) -> None:
    post_webhook(web_order(), webhook_id="wh-in-6", drain=False)
    app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]  # the old key was dropped
    app.extensions.pop("pinbridge_receipts", None)
    assert process_inbox(app) == 1
    [receipt] = receipts()
    assert (receipt.outcome, receipt.body) == (routing.UNREADABLE, None)
    assert event_count() == 0


def test_customers_redact_applies_to_what_still_waits(app: Flask, post_webhook: Any) -> None:
    order = web_order(email="redact-me@example.com")
    post_webhook(order, drain=False)
    customer = order["customer"]
    post_webhook({"shop_domain": SHOP, "customer": {"id": customer["id"], "email": "redact-me@example.com"},
                  "orders_to_redact": [order["id"]]}, "customers/redact", drain=False)
    assert event_count() == 0
    assert all(r.body is None for r in receipts())


def test_shop_redact_deletes_waiting_bodies(app: Flask, post_webhook: Any) -> None:
    post_webhook(web_order(), drain=False)
    post_webhook({"shop_domain": SHOP}, "app/uninstalled", drain=False)
    post_webhook({"shop_domain": SHOP}, "shop/redact", drain=False)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(WebhookReceipt.body.isnot(None))) == 0


def test_metrics_show_the_inbox_backlog(app: Flask, post_webhook: Any) -> None:
    post_webhook(web_order(), drain=False)
    post_webhook(web_order(), drain=False)
    with app.app_context():
        text = render()[0].decode()
    assert "pinbridge_inbox_bodies 2.0" in text
    assert "pinbridge_inbox_oldest_age_seconds " in text
    process_inbox(app)
    with app.app_context():
        text = render()[0].decode()
    assert "pinbridge_inbox_bodies 0.0" in text and "pinbridge_inbox_oldest_age_seconds 0.0" in text


def test_concurrent_webhooks_share_a_commit_and_each_gets_its_own_answer(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty deliveries at once (two of them the same webhook id): fewer commits, every answer right."""
    batches: list[int] = []
    real_store = inbox_receipts._store

    def slow_store(receipts: inbox_receipts.Receipts, rows: list[dict[str, Any]]) -> set[str]:
        batches.append(len(rows))
        time.sleep(0.05)  # a slow disk: others queue meanwhile
        return real_store(receipts, rows)

    monkeypatch.setattr(inbox_receipts, "_store", slow_store)
    answers: dict[int, str] = {}

    def deliver(n: int) -> None:
        with app.app_context():
            answers[n] = inbox_receipts.accept(
                webhook_id="wh-same" if n in (3, 4) else f"wh-group-{n}", shop_domain=SHOP,
                topic="orders/create", triggered_at=None, api_version="2026-10", raw=json.dumps(web_order()).encode())

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers.values()) == ["accepted"] * 19 + ["duplicate"]
    assert sum(batches) == 20 and len(batches) < 20  # receipts shared commits
    assert len(receipts()) == 19
    assert process_inbox(app) == 19 and event_count() == 19


def test_a_failed_commit_answers_every_webhook_in_it(app: Flask, post_webhook: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    def down(_receipts: inbox_receipts.Receipts, rows: list[dict[str, Any]]) -> set[str]:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(inbox_receipts, "_store", down)
    assert post_webhook(web_order(), drain=False).status_code == 503
    monkeypatch.undo()
    assert post_webhook(web_order(), drain=False).get_json() == {"status": "accepted"}  # nothing left stuck


# -- the body's seal ----------------------------------------------------------------------------------------
NEW_KEY, OLD_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
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


def test_two_seals_of_one_body_differ_and_a_body_sealed_before_this_format_still_opens() -> None:
    cipher = SealedBodies([NEW_KEY])
    assert cipher.seal(BODY, SHOP.encode()) != cipher.seal(BODY, SHOP.encode())  # a fresh nonce each time
    legacy = Fernet(NEW_KEY.encode()).encrypt(zlib.compress(BODY, 1))
    assert cipher.open(legacy, SHOP.encode()) == BODY
    with pytest.raises(SecretUnreadable):
        SealedBodies([OLD_KEY]).open(legacy, SHOP.encode())


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


def test_a_batch_reads_its_shops_once_and_writes_each_receipt_once(
    app: Flask, post_webhook: Any, configure_shop: Any
) -> None:
    configure_shop()
    for i in range(5):
        post_webhook(web_order(), webhook_id=f"wh-batch-{i}", drain=False)
    statements: list[tuple[str, bool]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, many: bool) -> None:
        statements.append((" ".join(statement.split()), many))

    db.session.rollback()
    sa_event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert routing.process_pending() == 5
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", seen)
    shop_reads = [s for s, _many in statements if s.startswith("SELECT") and "FROM shops" in s]
    assert len(shop_reads) == 1, shop_reads  # the batch's shops with their settings, not one per receipt
    receipt_writes = [(s, many) for s, many in statements if s.startswith("UPDATE webhook_receipts")]
    assert len(receipt_writes) == 1 and receipt_writes[0][1], receipt_writes  # one statement, a row each
    assert [r.outcome for r in receipts()] == ["queued"] * 5
    assert all(r.body is None for r in receipts())
