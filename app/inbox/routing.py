"""The webhook inbox: an order or checkout is acknowledged with one short write and mapped by the worker.

Acknowledging Shopify is the receipt alone: one INSERT of the webhook's identity with its raw body
encrypted by the app's key (`webhook_receipts.body`), conflict-free on the webhook id, so a redelivery
is a duplicate without a look-up. No mapping, purchase look-up or shop write happens on the request path.

The worker (`process_pending`) reads waiting receipts in id order, decrypts and maps them outside any
write transaction, then, in one transaction per batch, clears the batch's bodies with one guarded UPDATE
(so two workers never route the same receipt) and routes the purchase into the outbox (one purchase, one event).
A crash before that commit leaves the bodies to be processed again; the outbox is idempotent for a
purchase, so a repeat changes nothing.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from flask import Flask, current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload

from app import beacon_join, outbox, wake
from app.clock import database_now
from app.crypto import SealedBodies, SecretUnreadable
from app.database import writing
from app.inbox.fair import FairInbox
from app.inbox.receipts import receipts_for
from app.mapping import MappedPurchase, map_checkout, map_order
from app.mapping.purchase import CHECKOUT_OPEN
from app.models import ORDER_TOPICS, Shop, WebhookReceipt, db, now_utc
from app.settings import mapping_options
from app.shops import get_or_create_shop

logger = logging.getLogger(__name__)

UNREADABLE = "unreadable_body"  # encrypted with a key no longer configured; reconciliation recovers the order
BATCH = 50  # receipts per write transaction: short enough that SQLite webhooks barely wait for the lock


@dataclass
class _Waiting:
    id: int
    shop_domain: str
    topic: str
    received_at: datetime
    payload: dict[str, Any] | None
    mapped: MappedPurchase | None = None


def process_pending(limit: int = BATCH, *, shop_domain: str | None = None, plan: FairInbox | None = None) -> int:
    """Map and route up to `limit` waiting receipts (oldest first); the number this call routed.

    With a `plan` (the worker's), the batch takes from every waiting shop in turn (app/inbox/fair.py).
    """
    waiting = _read(limit, shop_domain, plan)
    if not waiting:
        return 0
    _map(waiting)
    config = current_app.config
    settle = int(config["CHECKOUT_SETTLE_SECONDS"])
    join = int(config["PIXEL_JOIN_SECONDS"])
    routed = 0
    waiting_for_beacon: list[tuple[int, str]] = []
    with writing():
        # The batch's bodies are cleared by one guarded UPDATE (two workers never route the same receipt),
        # and the outcomes written by one executemany: two statements a batch, not two a receipt.
        claimed = set(db.session.execute(
            update(WebhookReceipt).where(WebhookReceipt.id.in_([item.id for item in waiting]),
                                         WebhookReceipt.body.isnot(None))
            .values(body=None).returning(WebhookReceipt.id).execution_options(synchronize_session=False)
        ).scalars())
        outcomes = []
        for item in waiting:
            if item.id not in claimed:
                continue  # another worker routed it
            outcome, detail, event_row_id = _route(item, settle, join, waiting_for_beacon)
            outcomes.append({"receipt": item.id, "result": outcome, "note": detail, "event_row": event_row_id})
        if outcomes:
            receipts = WebhookReceipt.__table__
            db.session.execute(
                update(receipts).where(receipts.c.id == bindparam("receipt"))
                .values(outcome=bindparam("result"), detail=bindparam("note"), event_row_id=bindparam("event_row")),
                outcomes)
            wake.notify(wake.OUTBOX)  # the claim loop (of any worker) looks at once
        routed = len(outcomes)
    if waiting_for_beacon:
        beacon_join.release_arrived(waiting_for_beacon, now_utc())
    if routed:
        logger.info("inbox routed", extra={"action": "inbox_routed", "count": routed})
    return routed


def drain(*, shop_domain: str | None = None, max_batches: int = 1000) -> int:
    """Route everything waiting (for one shop, or all), batch after batch."""
    total = 0
    for _ in range(max_batches):
        routed = process_pending(shop_domain=shop_domain)
        if not routed:  # empty, or what was left another worker has just routed
            break
        total += routed
    return total


def _read(limit: int, shop_domain: str | None, plan: FairInbox | None = None) -> list[_Waiting]:
    query = (select(WebhookReceipt.id, WebhookReceipt.shop_domain, WebhookReceipt.topic,
                    WebhookReceipt.received_at, WebhookReceipt.body)
             .where(WebhookReceipt.body.isnot(None)).order_by(WebhookReceipt.id).limit(limit))
    if plan is not None and shop_domain is None:
        ids = plan.next_ids(limit)
        if not ids:
            return []
        query = query.where(WebhookReceipt.id.in_(ids))
    if shop_domain is not None:
        query = query.where(WebhookReceipt.shop_domain == shop_domain)
    rows = db.session.execute(query).all()
    db.session.rollback()  # a read only: the write transaction below takes the lock itself
    sealed = receipts_for(cast(Flask, current_app._get_current_object())).sealed  # type: ignore[attr-defined]
    waiting = []
    for row in rows:
        waiting.append(_Waiting(row.id, row.shop_domain, row.topic, row.received_at, _decode(sealed, row)))
    return waiting


def _loads(raw: bytes) -> Any:
    """The whole body; the standard library's parser for what orjson refuses though it is JSON (a number too
    long for 64 bits, nesting past 1,024 levels), which the acknowledgement accepted."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _decode(sealed: SealedBodies, row: Any) -> dict[str, Any] | None:
    try:
        payload = _loads(sealed.open(bytes(row.body), row.shop_domain.encode()))
    except SecretUnreadable:
        logger.error("inbox body unreadable: the encryption key changed",
                     extra={"action": "inbox_unreadable", "shop": row.shop_domain, "receipt_id": row.id})
        return None
    except (ValueError, RecursionError, RuntimeError, zlib.error):  # verified JSON going in: a corrupted row
        return None
    return payload if isinstance(payload, dict) else None


def _map(waiting: Iterable[_Waiting]) -> None:
    """Map each body with its shop's options: pure CPU work, outside the write transaction."""
    items = list(waiting)
    domains = {item.shop_domain for item in items}
    shops = {shop.domain: shop for shop in db.session.execute(
        select(Shop).options(joinedload(Shop.settings)).where(Shop.domain.in_(domains))
    ).scalars()}
    options = {domain: mapping_options(shop.settings if shop else None) for domain in domains
               for shop in [shops.get(domain)]}
    db.session.rollback()
    for item in items:
        if item.payload is None:
            continue
        mapper = map_order if item.topic in ORDER_TOPICS else map_checkout
        item.mapped = mapper(item.payload, options[item.shop_domain])


def _route(item: _Waiting, settle_seconds: int, join_seconds: int,
           waiting_for_beacon: list[tuple[int, str]]) -> tuple[str, str | None, int | None]:
    """Put one mapped purchase into the outbox; the receipt's outcome, detail and event row.

    An order that waits for its beacon is added to `waiting_for_beacon` (shop id, checkout token).
    """
    mapped = item.mapped
    if mapped is None:
        return UNREADABLE, "The body could not be read; reconciliation recovers the order.", None
    if mapped.event is None and mapped.skip_reason == CHECKOUT_OPEN:
        return "checkout_open", None, None
    shop = get_or_create_shop(item.shop_domain)
    settle = 0 if item.topic in ORDER_TOPICS else settle_seconds
    if item.topic in ORDER_TOPICS and mapped.action_source == "web" \
            and beacon_join.waits_for_beacon(shop, mapped.checkout_token):
        settle = join_seconds  # the shop's pixel reports purchases: wait a moment for this one's beacon
        waiting_for_beacon.append((shop.id, str(mapped.checkout_token)))
    result = outbox.enqueue(shop, mapped, now=item.received_at, settle_seconds=settle)
    return result.outcome, result.detail, result.event_row_id


def backlog(now: datetime | None = None) -> tuple[int, float | None]:
    """How many bodies wait, and the oldest one's age in seconds by the database's clock (None when none)."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(WebhookReceipt.received_at)).where(WebhookReceipt.body.isnot(None))
    ).one()
    if oldest is None:
        return int(count), None
    return int(count), max(0.0, ((now or database_now()) - oldest).total_seconds())
