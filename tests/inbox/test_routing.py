"""The worker's side of the inbox: waiting receipts read, mapped and routed into the outbox exactly once."""

from __future__ import annotations

import threading
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy import event as sa_event

from app.inbox import routing
from app.models import Event, WebhookReceipt, db
from app.ops.scrape import render
from tests.conftest import SHOP, process_inbox
from tests.factories import completed_checkout, web_order
from tests.inbox.rows import event_count, receipts


def test_the_worker_maps_the_body_and_deletes_it(app: Flask, post_webhook: Any) -> None:
    order = web_order()
    post_webhook(order, webhook_id="wh-in-2", drain=False)
    assert process_inbox(app) == 1
    [receipt] = receipts()
    assert receipt.body is None and receipt.outcome == "queued"
    [event] = db.session.scalars(select(Event)).all()
    assert receipt.event_row_id == event.id and event.event_id == order["cart_token"]
    assert process_inbox(app) == 0  # nothing left


def test_two_workers_route_a_receipt_once(app: Flask, post_webhook: Any) -> None:
    """A real second worker: worker A has read the inbox and is mapping it when worker B routes.

    SQLite: A reads outside the write lock, B routes everything, and A's claim then finds every body
    taken. PostgreSQL: A locked the rows as it read them, so B leaves them to A without mapping them.
    """
    post_webhook(web_order(), webhook_id="wh-in-4", drain=False)
    post_webhook(web_order(), webhook_id="wh-in-5", drain=False)
    a_has_read, b_is_done = threading.Event(), threading.Event()
    routed: dict[str, int] = {}

    def pause_a_after_its_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == "worker-a" and "FROM shops" in statement and not a_has_read.is_set():
            a_has_read.set()  # A's read of the inbox is done; it is about to map what it read
            assert b_is_done.wait(30)

    def worker_a() -> None:
        with app.app_context():
            routed["a"] = routing.process_pending()

    event.listen(db.engine, "before_cursor_execute", pause_a_after_its_read)
    try:
        thread = threading.Thread(target=worker_a, name="worker-a")
        thread.start()
        assert a_has_read.wait(30)
        routed["b"] = routing.process_pending()
        b_is_done.set()
        thread.join(timeout=30)
    finally:
        event.remove(db.engine, "before_cursor_execute", pause_a_after_its_read)
    assert routed == ({"a": 2, "b": 0} if db.engine.dialect.name == "postgresql" else {"a": 0, "b": 2})
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
