"""The worker routes the inbox a share per waiting shop: one shop's burst holds no other shop's orders."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select

from app.inbox import fair, routing
from app.inbox import receipts as inbox_receipts
from app.models import WebhookReceipt, db, now_utc
from tests.factories import completed_checkout, web_order

BUSY = "flash-sale.myshopify.com"
QUIET = "corner-shop.myshopify.com"
LATE = "late-commit.myshopify.com"


def store(shop: str, payload: dict[str, Any], *, topic: str = "orders/create", webhook_id: str) -> None:
    answer = inbox_receipts.accept(webhook_id=webhook_id, shop_domain=shop, topic=topic, triggered_at=None,
                                   api_version="2026-10", raw=json.dumps(payload).encode())
    assert answer == "accepted"


def burst(shop: str, count: int, first_id: int = 10_000) -> None:
    for n in range(count):
        order_id = first_id + n
        store(shop, web_order(id=order_id, checkout_token=f"{order_id:032x}", cart_token=f"c{order_id:031x}"),
              webhook_id=f"wh-{shop}-{order_id}")


def outcomes(shop: str) -> list[str]:
    db.session.rollback()
    found = list(db.session.scalars(select(WebhookReceipt.outcome).where(WebhookReceipt.shop_domain == shop)
                                    .order_by(WebhookReceipt.id)))
    db.session.rollback()
    return found


def test_another_shops_order_is_routed_in_the_first_batch_behind_a_burst(app: Flask) -> None:
    burst(BUSY, routing.batch_size() * 4)
    store(QUIET, web_order(id=77, checkout_token=f"{77:032x}", cart_token=f"c{77:031x}"), webhook_id="wh-quiet")
    plan = fair.FairInbox()
    assert routing.process_pending(plan=plan) == fair.SHARED_BATCH  # a short batch while two shops wait
    assert outcomes(QUIET) == ["queued"]  # not after the 200 that came before it
    busy = outcomes(BUSY)
    assert busy.count("queued") == fair.SHARED_BATCH - 1
    assert busy[:fair.SHARED_BATCH - 1] == ["queued"] * (fair.SHARED_BATCH - 1)  # the busy shop's oldest first
    assert routing.process_pending(plan=plan) == routing.batch_size()  # the burst alone again: full batches


def test_a_lone_shop_fills_every_batch(app: Flask) -> None:
    burst(BUSY, routing.batch_size() * 2 + 7)
    plan = fair.FairInbox()
    assert [routing.process_pending(plan=plan) for _ in range(4)] == [routing.batch_size(), routing.batch_size(), 7, 0]
    assert set(outcomes(BUSY)) == {"queued"}


def test_within_a_shop_the_order_still_replaces_its_checkout(app: Flask) -> None:
    order = web_order(id=55, checkout_token=f"{55:032x}", cart_token=f"c{55:031x}")
    store(QUIET, completed_checkout(order), topic="checkouts/update", webhook_id="wh-checkout")
    burst(BUSY, routing.batch_size() * 3)
    store(QUIET, order, webhook_id="wh-order")
    plan = fair.FairInbox()
    while routing.process_pending(plan=plan):
        pass
    assert outcomes(QUIET) == ["queued", "replaced_checkout"]
    assert set(outcomes(BUSY)) == {"queued"}


def test_receipts_routed_elsewhere_are_skipped(app: Flask) -> None:
    burst(BUSY, 30)
    plan = fair.FairInbox()
    assert routing.process_pending(limit=10, plan=plan) == 10
    assert routing.drain() == 20  # another worker routes the rest meanwhile
    assert routing.process_pending(plan=plan) == 0
    assert len(plan) == 0
    assert set(outcomes(BUSY)) == {"queued"}


def test_shares_go_round_the_shops_in_turn() -> None:
    plan = fair.FairInbox()
    plan.scanned_at = float("inf")  # no database here: only what is handed out
    plan._learn = lambda: None  # type: ignore[method-assign]
    for n, shop in enumerate(["a", "b", "c"]):
        plan.waiting[shop] = fair.deque(range(n * 100, n * 100 + 10))
        plan.turn.append(shop)
    assert plan.next_ids(6) == [0, 1, 100, 101, 200, 201]
    assert plan.next_ids(4) == [2, 102, 202, 3]  # one each, then the rest to whoever is next in line
    assert plan.next_ids(100) == [103, 104, 105, 203, 204, 205, 4, 5, 6, 106]  # a short batch: three shops wait
    assert plan.next_ids(100) == [206, 207, 208, 7, 8, 9, 107, 108, 109, 209]  # the line moved on
    assert plan.next_ids(100) == [] and not plan.turn


def test_a_receipt_committed_after_newer_ones_is_still_found(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # On PostgreSQL two web processes commit receipts in either order: id 30 may appear after 40 was seen.
    monkeypatch.setattr(fair, "RESCAN_EVERY", 3600.0)  # only the looks at what is new, no full one

    def put(row_id: int, shop: str) -> None:
        db.session.execute(insert(WebhookReceipt).values(
            id=row_id, webhook_id=f"wh-late-{row_id}", shop_domain=shop, topic="orders/create",
            received_at=now_utc(), outcome=inbox_receipts.WAITING, body=b"sealed"))
        db.session.commit()

    put(10, BUSY)
    put(20, BUSY)
    plan = fair.FairInbox()
    assert plan.next_ids(1) == [10]
    put(40, QUIET)
    assert plan.next_ids(1) == [20]  # 40 seen meanwhile: 21–39 were skipped
    put(30, LATE)
    assert plan.next_ids(10) == [40, 30]  # the late one is asked for again, and found
