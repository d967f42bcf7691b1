"""The webhook inbox: an order or checkout is acknowledged with one short write and mapped by the worker.

Acknowledging Shopify is the receipt alone: one INSERT of the webhook's identity with its raw body
encrypted by the app's key (`webhook_receipts.body`), conflict-free on the webhook id, so a redelivery
is a duplicate without a look-up. No mapping, purchase look-up or shop write happens on the request path.

The worker (`process_pending`) reads waiting receipts in id order, decrypts and maps them outside any
write transaction, then, in one transaction per batch, locks the receipts still waiting (so two workers
never route the same one), routes each purchase into the outbox (one purchase, one event) and writes each
receipt once: its body cleared, its outcome set. A crash before that commit leaves the bodies to be
processed again; the outbox is idempotent for a purchase, so a repeat changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload

from app import beacons, outbox, wake
from app.beacons import ShopPixel
from app.clock import database_now
from app.database import reading, writing
from app.inbox import unreadable
from app.inbox.fair import FairInbox
from app.inbox.mappers import SEALED_SHUT, Body, MappingPool, map_all
from app.inbox.receipts import receipts_for
from app.mapping import MappedPurchase
from app.models import ORDER_TOPICS, Shop, WebhookReceipt, db, now_utc
from app.settings import mapping_options
from app.shops import get_or_create_shop
from app.statements import among
from app.vocabulary import ActionSource, EventSource, ReceiptOutcome, SkipReason

logger = logging.getLogger(__name__)

UNREADABLE = ReceiptOutcome.UNREADABLE_BODY
# Receipts per write transaction. SQLite: a lone shop's batch holds the write lock about 10 ms (webhooks wait
# that long at most). PostgreSQL: nothing waits for a routing transaction but another router of the same shop,
# and a receipt's share of the round trips falls with the batch (measured: 863 → 1,193 → 1,468 routed a
# second with batches of 50, 200 and 500). Several shops waiting share smaller batches (fair.SHARED_BATCH).
BATCH = 200
BATCH_POSTGRESQL = 500


def batch_size() -> int:
    return BATCH_POSTGRESQL if db.engine.dialect.name == "postgresql" else BATCH


@dataclass
class _Waiting:
    id: int
    shop_domain: str
    topic: str
    received_at: datetime
    body: bytes | None  # sealed; opened and mapped one at a time, then let go (`_map`)
    mapped: MappedPurchase | None = None
    sealed_shut: bool = False  # no configured key opens it: held, not routed (app/inbox/unreadable.py)


def process_pending(limit: int | None = None, *, shop_domain: str | None = None, plan: FairInbox | None = None,
                    mappers: MappingPool | None = None) -> int:
    """Map and route up to `limit` waiting receipts (oldest first); the number this call routed.

    With a `plan` (the worker's), the batch takes from every waiting shop in turn (app/inbox/fair.py);
    with `mappers` (the worker's), a large batch is mapped on several cores (app/inbox/mappers.py).

    PostgreSQL reads, locks and routes a batch in one transaction: a receipt another worker holds is
    skipped at the read, so several workers route side by side without mapping one body twice (each
    worker's plan moves on past what another took). SQLite reads and maps outside its write lock (so
    webhooks barely wait for it), then claims the batch inside it; it has one writer at a time anyway.
    """
    routed = Routed()
    limit = limit or batch_size()
    if db.engine.dialect.name == "postgresql":
        with writing():
            waiting = _read(limit, shop_domain, plan, lock=True)
            if waiting:
                _route_batch(waiting, _map(waiting, mappers), routed)
    else:
        waiting = _read(limit, shop_domain, plan)
        if not waiting:
            return 0
        shops = _map(waiting, mappers)
        with writing():
            _route_batch(_claim(waiting), shops, routed)
    if routed.waiting_for_beacon:
        beacons.release_arrived(routed.waiting_for_beacon, now_utc())
    if routed.outcomes:
        logger.info("inbox routed", extra={"action": "inbox_routed", "count": len(routed.outcomes)})
    return len(routed.outcomes) + routed.held


@dataclass
class Routed:
    """What one batch's routing did: each receipt's outcome, the bodies held sealed, the orders that wait."""

    outcomes: list[dict[str, Any]] = field(default_factory=list)
    held: int = 0
    waiting_for_beacon: list[tuple[int, str]] = field(default_factory=list)


def _route_batch(waiting: list[_Waiting], shops: dict[str, ShopPixel], routed: Routed) -> None:
    """Inside the write transaction: hold what no key opens, route the rest, write each receipt once."""
    config = current_app.config
    fingerprint = receipts_for(cast(Flask, current_app._get_current_object())).sealed.fingerprint  # type: ignore[attr-defined]
    readable = []
    for item in waiting:
        if item.sealed_shut:  # kept sealed for a key that opens it, never deleted on this failure
            routed.held += unreadable.hold(item.id, fingerprint)
        else:
            readable.append(item)
    answers = _route(readable, shops, int(config["CHECKOUT_SETTLE_SECONDS"]), int(config["PIXEL_JOIN_SECONDS"]),
                     routed.waiting_for_beacon)
    for item, (outcome, detail, event_row_id) in zip(readable, answers, strict=True):
        routed.outcomes.append({"row_id": item.id, "outcome": outcome, "detail": detail,
                                "event_row_id": event_row_id})
    _record_outcomes(routed.outcomes)
    if routed.outcomes:
        wake.notify(wake.OUTBOX)  # the claim loop (of any worker) looks at once


def _claim(waiting: list[_Waiting]) -> list[_Waiting]:
    """The receipts still waiting, locked for this transaction; the rest another worker routed (or is routing).

    PostgreSQL locks the rows (a row another worker holds is skipped: it routes that one); SQLite's write
    lock already keeps every other writer out.
    """
    ids = set(db.session.execute(
        select(WebhookReceipt.id)
        .where(among(WebhookReceipt.id, [item.id for item in waiting]), WebhookReceipt.body.isnot(None))
        .with_for_update(skip_locked=True)
    ).scalars())
    return [item for item in waiting if item.id in ids]


def _record_outcomes(outcomes: list[dict[str, Any]]) -> None:
    """Each routed receipt written once: its body cleared, its outcome, detail and event row set."""
    if not outcomes:
        return
    table = WebhookReceipt.__table__
    db.session.execute(
        update(table).where(table.c.id == bindparam("row_id"))
        .values(body=None, outcome=bindparam("outcome"), detail=bindparam("detail"),
                event_row_id=bindparam("event_row_id")),
        outcomes,
    )


def drain(*, shop_domain: str | None = None, max_batches: int = 1000) -> int:
    """Route everything waiting (for one shop, or all), batch after batch."""
    total = 0
    for _ in range(max_batches):
        routed = process_pending(shop_domain=shop_domain)
        if not routed:  # empty, or what was left another worker has just routed
            break
        total += routed
    return total


def _read(limit: int, shop_domain: str | None, plan: FairInbox | None = None, *, lock: bool = False
          ) -> list[_Waiting]:
    """The batch's waiting receipts, opened; with `lock` (PostgreSQL, inside the write transaction) each row
    is locked as it is read and one another worker holds is left to it."""
    query = (select(WebhookReceipt.id, WebhookReceipt.shop_domain, WebhookReceipt.topic,
                    WebhookReceipt.received_at, WebhookReceipt.body)
             .where(WebhookReceipt.body.isnot(None)).order_by(WebhookReceipt.id).limit(limit))
    if lock:
        query = query.with_for_update(skip_locked=True)
    if plan is not None and shop_domain is None:
        ids = plan.next_ids(limit)
        if not ids:
            return []
        query = query.where(among(WebhookReceipt.id, ids))
    if shop_domain is not None:
        query = query.where(WebhookReceipt.shop_domain == shop_domain)
    with reading():  # the write transaction in `process_pending` takes the lock itself
        rows = db.session.execute(query).all()
    return [_Waiting(row.id, row.shop_domain, row.topic, row.received_at, bytes(row.body)) for row in rows]


def _map(waiting: Iterable[_Waiting], mappers: MappingPool | None = None) -> dict[str, ShopPixel]:
    """Open and map each body with its shop's options: pure CPU work (on SQLite outside the write lock), on
    the routing thread and, for a large batch, the worker's mapping processes too (app/inbox/mappers.py).

    The batch's shops and settings are read once, here; the shops found are returned for routing.
    """
    items = list(waiting)
    domains = {item.shop_domain for item in items}
    with reading():
        found = {shop.domain: shop for shop in db.session.execute(
            select(Shop).options(joinedload(Shop.settings)).where(Shop.domain.in_(domains))
        ).scalars()}
        options = {domain: mapping_options(shop.settings if shop else None) for domain in domains
                   for shop in [found.get(domain)]}
        shops = {domain: ShopPixel(shop.id, shop.pixel_seen_at) for domain, shop in found.items()
                 if shop.settings is not None}
    sealed = receipts_for(cast(Flask, current_app._get_current_object())).sealed  # type: ignore[attr-defined]
    # When each arrived: an order dated long before that was imported or back-dated (app/mapping/timing.py).
    bodies = [Body(item.body or b"", item.shop_domain, item.topic in ORDER_TOPICS, options[item.shop_domain],
                   int(item.received_at.timestamp())) for item in items]
    for item in items:
        item.body = None  # the batch's sealed bodies are held once, in `bodies`
    results = mappers.map(sealed, bodies) if mappers is not None else map_all(sealed, bodies)
    for item, result in zip(items, results, strict=True):
        if result == SEALED_SHUT:
            logger.error("inbox body unreadable: the encryption key changed; kept sealed",
                         extra={"action": "inbox_unreadable", "shop": item.shop_domain, "receipt_id": item.id})
            item.sealed_shut = True
        elif isinstance(result, MappedPurchase):
            item.mapped = result
    return shops


def _route(items: list[_Waiting], shops: dict[str, ShopPixel], settle_seconds: int, join_seconds: int,
           waiting_for_beacon: list[tuple[int, str]]) -> list[tuple[ReceiptOutcome, str | None, int | None]]:
    """Put the batch's mapped purchases into the outbox, in order; each receipt's outcome, detail and event row.

    A shop seen for the first time is created (and added to `shops`). An order that waits for its beacon
    is added to `waiting_for_beacon` (shop id, checkout token).
    """
    answers: list[tuple[ReceiptOutcome, str | None, int | None] | None] = []  # None: the outbox answers
    purchases: list[outbox.Purchase] = []
    for item in items:
        mapped = item.mapped
        if mapped is None:
            answers.append((UNREADABLE, "The body could not be read; reconciliation recovers the order.", None))
        elif mapped.event is None and mapped.skip is SkipReason.CHECKOUT_OPEN:
            answers.append((ReceiptOutcome.CHECKOUT_OPEN, None, None))
        else:
            shop = shops.get(item.shop_domain)
            if shop is None:
                created = get_or_create_shop(item.shop_domain)
                shop = shops[item.shop_domain] = ShopPixel(created.id, created.pixel_seen_at)
            answers.append(None)
            purchases.append(outbox.Purchase(shop.id, mapped, item.received_at,
                                             0 if item.topic in ORDER_TOPICS else settle_seconds))
    purchases = _wait_for_beacons(purchases, shops, join_seconds, waiting_for_beacon)
    results = iter(outbox.enqueue_many(purchases))
    return [answer or _answer(next(results)) for answer in answers]


def _answer(result: outbox.EnqueueResult) -> tuple[ReceiptOutcome, str | None, int | None]:
    return result.outcome, result.detail, result.event_row_id


def _wait_for_beacons(purchases: list[outbox.Purchase], shops: dict[str, ShopPixel], join_seconds: int,
                      waiting: list[tuple[int, str]]) -> list[outbox.Purchase]:
    """A web order of a shop whose pixel reports waits a moment for its beacon, unless the beacon is here.

    One look for the whole batch; each order that waits is added to `waiting` (shop id, checkout token).
    """
    reporting = {shop.id for shop in shops.values() if shop.pixel_seen_at is not None}
    web_orders = {n: (purchase.shop_id, str(purchase.mapped.checkout_token)) for n, purchase in enumerate(purchases)
                  if purchase.shop_id in reporting and purchase.mapped.kind is EventSource.ORDER
                  and purchase.mapped.action_source is ActionSource.WEB and purchase.mapped.checkout_token}
    if not web_orders:
        return purchases
    arrived = beacons.arrived(list(web_orders.values()))
    purchases = list(purchases)
    for n, key in web_orders.items():
        if key not in arrived:
            purchases[n] = replace(purchases[n], settle_seconds=join_seconds)
            waiting.append(key)
    return purchases


def backlog(now: datetime | None = None) -> tuple[int, float | None]:
    """How many bodies wait, and the oldest one's age in seconds by the database's clock (None when none)."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(WebhookReceipt.received_at)).where(WebhookReceipt.body.isnot(None))
    ).one()
    if oldest is None:
        return int(count), None
    return int(count), max(0.0, ((now or database_now()) - oldest).total_seconds())
