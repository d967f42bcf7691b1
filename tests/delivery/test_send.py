"""One claimed batch sent by `Sender` to the Pinterest stand-in, and what each answer leaves in the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from app import database, outbox
from app.delivery import Sender
from app.mapping import MappingOptions, map_order
from app.models import Event, ShopDeliveryState, db, now_utc
from app.pinterest import PinterestClient
from app.shops import get_or_create_shop
from tests.conftest import SHOP, stored_settings
from tests.factories import web_order
from tests.standins.pinterest import PinterestStandin

WORKER = "sender-under-test"
LEASE = 60  # seconds


@pytest.fixture
def sender(app: Flask, pinterest: PinterestStandin) -> Iterator[Sender]:
    client = PinterestClient(pinterest.base_url)
    yield Sender(client, None, worker_id=WORKER, clock=now_utc, rand=lambda: 0.5, lease_seconds=LEASE)
    client.close()


def claimed(count: int, **order_fields: Any) -> tuple[list[outbox.Claimed], list[dict[str, Any]]]:
    """`count` orders of the demo shop in the outbox, claimed by this sender."""
    shop = get_or_create_shop(SHOP)
    orders = [web_order(**order_fields) for _ in range(count)]
    now = now_utc()
    for order in orders:
        outbox.enqueue(shop.id, map_order(order, MappingOptions()), now=now - timedelta(minutes=1))
    db.session.commit()
    items = outbox.claim(WORKER, now_utc(), lease_seconds=LEASE, limit=1000)
    db.session.rollback()
    assert len(items) == count
    return items, orders


def events() -> dict[str, Event]:
    db.session.rollback()
    return {e.event_id: e for e in db.session.scalars(select(Event))}


def test_an_accepted_batch_is_delivered_as_claimed(sender: Sender, configure_shop: Any,
                                                   pinterest: PinterestStandin) -> None:
    configure_shop()
    items, orders = claimed(3)
    sender.deliver(items)
    [request] = pinterest.requests
    assert (request.ad_account_id, request.token, request.test) == ("549755885175", "pina_test_token_0001", False)
    assert request.events == [item.payload for item in items]
    assert pinterest.violations == []
    rows = events()
    assert {rows[o["cart_token"]].status for o in orders} == {"delivered"}
    assert {rows[o["cart_token"]].claimed_by for o in orders} == {None}
    state = db.session.get(ShopDeliveryState, items[0].shop_id)
    assert state is not None and state.last_success_at is not None and state.failure_class is None


def test_test_orders_go_in_a_request_of_their_own(sender: Sender, configure_shop: Any,
                                                 pinterest: PinterestStandin) -> None:
    configure_shop()
    shop = get_or_create_shop(SHOP)
    orders = [web_order(), web_order(test=True), web_order()]
    for order in orders:
        outbox.enqueue(shop.id, map_order(order, MappingOptions()), now=now_utc() - timedelta(minutes=1))
    db.session.commit()
    items = outbox.claim(WORKER, now_utc(), lease_seconds=LEASE, limit=1000)
    db.session.rollback()
    sender.deliver(items)
    sent = sorted((r.test, sorted(e["event_id"] for e in r.events)) for r in pinterest.requests)
    assert sent == [(False, sorted([orders[0]["cart_token"], orders[2]["cart_token"]])),
                    (True, [orders[1]["cart_token"]])]
    assert {e.status for e in events().values()} == {"delivered"}


def test_an_outage_backs_the_shop_off_and_keeps_the_events(sender: Sender, configure_shop: Any,
                                                          pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.set_mode("unavailable", retry_after=None)
    items, orders = claimed(2)
    sender.deliver(items)
    rows = events()
    assert {(rows[o["cart_token"]].status, rows[o["cart_token"]].error_code) for o in orders} == {
        ("pending", "unavailable")}
    assert all(rows[o["cart_token"]].available_at > now_utc() for o in orders)
    settings = stored_settings()
    assert settings.failure_streak == 1 and settings.backoff_until is not None
    state = db.session.get(ShopDeliveryState, items[0].shop_id)
    assert state is not None and state.failure_class == "pinterest"


def test_a_rejected_token_pauses_the_shop_and_keeps_the_events(sender: Sender, configure_shop: Any,
                                                              pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.reject_token("pina_test_token_0001", status=401, message="Authentication failed.")
    items, orders = claimed(2)
    sender.deliver(items)
    assert {(e.status, e.error_code) for e in events().values()} == {("pending", "credentials_rejected")}
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message) == ("rejected", "Authentication failed.")


def test_a_refused_batch_is_split_down_to_the_bad_event(sender: Sender, configure_shop: Any,
                                                        pinterest: PinterestStandin) -> None:
    configure_shop()
    items, orders = claimed(4)
    bad = orders[2]["cart_token"]
    pinterest.reject_batches_containing(lambda ev: ev["event_id"] == bad, message="Invalid currency.")
    sender.deliver(items)
    assert [len(r.events) for r in pinterest.requests] == [4, 2, 2, 1, 1]
    rows = events()
    assert rows[bad].status == "failed"
    assert {rows[o["cart_token"]].status for o in orders if o["cart_token"] != bad} == {"delivered"}


def test_credentials_removed_after_the_claim_send_nothing(sender: Sender, configure_shop: Any,
                                                          pinterest: PinterestStandin) -> None:
    configure_shop()
    items, _ = claimed(1)
    settings = stored_settings()
    settings.access_token_enc = None
    db.session.commit()
    sender.deliver(items)
    assert pinterest.requests == []
    assert {(e.status, e.error_code) for e in events().values()} == {("pending", "not_configured")}


def test_no_transaction_is_open_while_pinterest_answers(sender: Sender, app: Flask, configure_shop: Any,
                                                        pinterest: PinterestStandin) -> None:
    configure_shop()
    items, _ = claimed(2)
    pinterest.hold()

    def deliver() -> None:
        with app.app_context():
            sender.deliver(items)

    thread = threading.Thread(target=deliver)
    thread.start()
    try:
        pinterest.wait_for_requests(1, timeout=30)
        assert not database._SQLITE_WRITER.locked()  # SQLite: webhooks can write meanwhile
        if db.engine.dialect.name == "postgresql":
            open_transactions = db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"))
            assert open_transactions == 0
        db.session.rollback()
    finally:
        pinterest.release()
        thread.join(timeout=30)
    assert {e.status for e in events().values()} == {"delivered"}
