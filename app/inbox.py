"""The webhook inbox: an order or checkout is acknowledged with one short write and mapped by the worker.

Acknowledging Shopify is the receipt alone: one INSERT of the webhook's identity with its raw body
encrypted by the app's key (`webhook_receipts.body`), conflict-free on the webhook id, so a redelivery
is a duplicate without a look-up. No mapping, purchase look-up or shop write happens on the request path.

The worker (`process_pending`) reads waiting receipts in id order, decrypts and maps them outside any
write transaction, then, in one transaction per batch, clears each body with a guarded UPDATE (so two
workers never route the same receipt) and routes the purchase into the outbox (one purchase, one event).
A crash before that commit leaves the bodies to be processed again; the outbox is idempotent for a
purchase, so a repeat changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from flask import Flask, current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from . import beacons, db_util, outbox, unreadable
from .clock import database_now
from .crypto import SealedBodies, SecretUnreadable
from .db_util import rowcount, writing
from .mapping import MappedPurchase, map_checkout, map_order
from .mapping.purchase import CHECKOUT_OPEN
from .models import Shop, Topic, WebhookReceipt, clean_text, db, now_utc
from .settings import get_or_create_shop, mapping_options

logger = logging.getLogger(__name__)

ORDER_TOPICS = frozenset({Topic.ORDERS_CREATE})
CHECKOUT_TOPICS = frozenset({Topic.CHECKOUTS_CREATE, Topic.CHECKOUTS_UPDATE})
PURCHASE_TOPICS = ORDER_TOPICS | CHECKOUT_TOPICS
WAITING = "waiting"  # receipt outcome while its body is in the inbox
UNREADABLE = "unreadable_body"  # encrypted with a key no longer configured; reconciliation recovers the order
SHOP_DOMAIN_LENGTH = WebhookReceipt.__table__.c.shop_domain.type.length
BATCH = 50  # receipts per write transaction: short enough that SQLite webhooks barely wait for the lock


class Receipts:
    """Where one app stores receipts: its engine, its body cipher and INSERT, and the group commit of its requests.

    Built once per app and kept in `app.extensions`, so the acknowledgement path needs no app context.
    """

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.engine = db.engine
        self.sealed = SealedBodies(app.config["ENCRYPTION_KEYS"])
        self.insert = _ReceiptInsert(self.engine.dialect)
        self.writer = db_util.DriverConnection(self.engine)
        self.commits = GroupCommit(self)


def receipts_for(app: Flask) -> Receipts:
    cached = app.extensions.get("pinbridge_receipts")
    if cached is None:
        cached = app.extensions["pinbridge_receipts"] = Receipts(app)
    return cast(Receipts, cached)


def accept(*, webhook_id: str, shop_domain: str, topic: str, triggered_at: str | None, api_version: str | None,
           raw: bytes, completed: bool = True, receipts: Receipts | None = None) -> str:
    """Store one verified order or checkout durably; `accepted`, or `duplicate` for a webhook id seen before.

    An open checkout (not completed, so not a purchase) is recorded without its body: nothing to map.
    `receipts` is the app's (`receipts_for`); without it, the current app's.
    """
    box = receipts or receipts_for(cast(Flask, current_app._get_current_object()))  # type: ignore[attr-defined]
    shop_domain = clean_text(shop_domain, SHOP_DOMAIN_LENGTH)  # as stored: the body's seal names it (`_decode`)
    values: dict[str, Any] = {
        "webhook_id": webhook_id, "shop_domain": shop_domain, "topic": topic, "received_at": now_utc(),
        "triggered_at": triggered_at, "api_version": api_version,
        "outcome": WAITING if completed else "checkout_open",
        "body": box.sealed.seal(raw, shop_domain.encode()) if completed else None,
    }
    return "accepted" if box.commits.store(values) else "duplicate"


class _Slot:
    """One webhook waiting for the commit that holds its receipt."""

    __slots__ = ("values", "wake", "done", "stored", "error")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.wake = threading.Event()
        self.done = False
        self.stored = False
        self.error: BaseException | None = None


class GroupCommit:
    """Receipts of concurrent webhooks in one process share an INSERT and a commit; each answers after it.

    The first waiting request becomes the leader: it takes every receipt queued so far, writes them in
    one multi-row INSERT (one transaction, one WAL flush), and wakes each owner with its result; the next
    queued request then leads the next batch. Alone, a webhook is its own batch and waits for nothing.
    Under load the per-commit cost (a flush, a lock, a round trip) is shared by the batch. Greenlets
    (gevent) and threads alike, since both patch or use `threading`.
    """

    MAX_BATCH = 100

    def __init__(self, receipts: Receipts) -> None:
        self.receipts = receipts
        self._mutex = threading.Lock()
        self._leader = threading.Lock()
        self._queue: list[_Slot] = []

    def store(self, values: dict[str, Any]) -> bool:
        """Durably store one receipt; False when its webhook id was stored before."""
        slot = _Slot(values)
        with self._mutex:
            self._queue.append(slot)
        while not slot.done:
            if self._leader.acquire(blocking=False):
                try:
                    if db_util.cooperative():
                        # Under gevent a SQLite commit never yields, so nothing would queue behind it: let
                        # the other requests of this process that are ready reach the queue first (on
                        # PostgreSQL the wait for the server yields anyway; one more yield costs nothing).
                        time.sleep(0)
                    with self._mutex:
                        batch = self._queue[:self.MAX_BATCH]
                        del self._queue[:self.MAX_BATCH]
                    if batch:
                        _flush(self.receipts, batch)
                finally:
                    self._leader.release()
                with self._mutex:
                    successor = self._queue[0] if self._queue else None
                if successor is not None:
                    successor.wake.set()  # it leads the next batch
            else:
                slot.wake.wait(0.05)  # woken with its result, or to lead; the timeout only guards a lost wake
                slot.wake.clear()
        if slot.error is not None:
            raise slot.error
        return slot.stored


def _flush(receipts: Receipts, batch: list[_Slot]) -> None:
    """Write a batch of receipts; the first of several deliveries with one webhook id is the one stored."""
    try:
        stored = _store(receipts, [slot.values for slot in batch])
    except BaseException as exc:  # every owner answers with the failure (503 for a database outage)
        for slot in batch:
            slot.error, slot.done = exc, True
            slot.wake.set()
        return
    for slot in batch:
        webhook_id = slot.values["webhook_id"]
        slot.stored = webhook_id in stored
        stored.discard(webhook_id)  # a second delivery of the same id in this batch is a duplicate
        slot.done = True
        slot.wake.set()


_COLUMNS = ("webhook_id", "shop_domain", "topic", "received_at", "triggered_at", "api_version", "outcome", "body")


class _ReceiptInsert:
    """`INSERT … ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id` for a batch, as the driver takes it.

    PostgreSQL: one statement for any batch, the rows as one array per column (`unnest`), so its text is
    parsed once and prepared by the server. The arrays travel in binary (`%b`): a sealed body is sent as its
    bytes, not as hex text twice its size that both sides encode and parse (half the CPU on each side).
    SQLite: a VALUES list, built once per row count. Values go through the columns' own bind processors
    (UTC times, cleaned text), so a row is stored exactly as the ORM would store it.
    """

    _PG_TYPES = {"received_at": "timestamptz[]", "body": "bytea[]"}

    def __init__(self, dialect: Any) -> None:
        table = WebhookReceipt.__table__
        self.postgresql = dialect.name == "postgresql"
        self.processors = [table.c[name].type.bind_processor(dialect) for name in _COLUMNS]
        self._sql: dict[int, str] = {}
        arrays = ", ".join(f"%b::{self._PG_TYPES.get(name, 'text[]')}" for name in _COLUMNS)
        self._pg_sql = (f"INSERT INTO webhook_receipts ({', '.join(_COLUMNS)}) SELECT * FROM unnest({arrays}) "
                        "ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id")

    def sql(self, count: int) -> str:
        if self.postgresql:
            return self._pg_sql
        cached = self._sql.get(count)
        if cached is None:
            row = "(" + ", ".join(["?"] * len(_COLUMNS)) + ")"
            cached = self._sql[count] = (
                f"INSERT INTO webhook_receipts ({', '.join(_COLUMNS)}) VALUES {', '.join([row] * count)} "
                "ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id")
        return cached

    def parameters(self, rows: list[dict[str, Any]]) -> list[Any]:
        """Row by row for SQLite; column by column (one list each) for PostgreSQL."""
        columns: list[list[Any]] = []
        for name, process in zip(_COLUMNS, self.processors, strict=True):
            values = [row[name] for row in rows]
            if process is not None:
                values = [value if value is None else process(value) for value in values]
            columns.append(values)
        if self.postgresql:
            return columns
        return [value for row in zip(*columns, strict=True) for value in row]


def _store(receipts: Receipts, rows: list[dict[str, Any]]) -> set[str]:
    """One multi-row INSERT that is its own transaction; the webhook ids it stored (new ones only).

    The hottest statement of the app, so it goes to the driver directly, on a connection of its own
    (`db_util.DriverConnection`): one multi-row INSERT instead of SQLAlchemy's statement compilation,
    events and result objects. PostgreSQL runs it in autocommit (one round trip, one WAL flush); SQLite
    in BEGIN IMMEDIATE under the process's writer lock, as every other writer.
    """
    sql, parameters = receipts.insert.sql(len(rows)), receipts.insert.parameters(rows)
    with receipts.writer.write() as cursor:
        cursor.execute(sql, parameters)
        return {row[0] for row in cursor.fetchall()}


@dataclass
class _Waiting:
    id: int
    shop_domain: str
    topic: str
    received_at: datetime
    payload: dict[str, Any] | None
    mapped: MappedPurchase | None = None
    sealed_shut: bool = False  # no configured key opens it: held, not routed (app/unreadable.py)


def process_pending(limit: int = BATCH, *, shop_domain: str | None = None) -> int:
    """Map and route up to `limit` waiting receipts (oldest first); the number this call routed."""
    waiting = _read(limit, shop_domain)
    if not waiting:
        return 0
    _map(waiting)
    config = current_app.config
    settle = int(config["CHECKOUT_SETTLE_SECONDS"])
    join = int(config["PIXEL_JOIN_SECONDS"])
    routed = 0
    waiting_for_beacon: list[tuple[int, str]] = []
    fingerprint = receipts_for(cast(Flask, current_app._get_current_object())).sealed.fingerprint  # type: ignore[attr-defined]
    with writing():
        for item in waiting:
            if item.sealed_shut:  # kept sealed for a key that opens it, never deleted on this failure
                routed += unreadable.hold(item.id, fingerprint)
                continue
            claimed = db.session.execute(
                update(WebhookReceipt).where(WebhookReceipt.id == item.id, WebhookReceipt.body.isnot(None))
                .values(body=None).execution_options(synchronize_session=False)
            )
            if not rowcount(claimed):
                continue  # another worker routed it
            outcome, detail, event_row_id = _route(item, settle, join, waiting_for_beacon)
            db.session.execute(
                update(WebhookReceipt).where(WebhookReceipt.id == item.id)
                .values(outcome=outcome, detail=detail, event_row_id=event_row_id)
                .execution_options(synchronize_session=False)
            )
            routed += 1
    if waiting_for_beacon:
        beacons.release_arrived(waiting_for_beacon, now_utc())
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


def _read(limit: int, shop_domain: str | None) -> list[_Waiting]:
    query = (select(WebhookReceipt.id, WebhookReceipt.shop_domain, WebhookReceipt.topic,
                    WebhookReceipt.received_at, WebhookReceipt.body)
             .where(WebhookReceipt.body.isnot(None)).order_by(WebhookReceipt.id).limit(limit))
    if shop_domain is not None:
        query = query.where(WebhookReceipt.shop_domain == shop_domain)
    rows = db.session.execute(query).all()
    db.session.rollback()  # a read only: the write transaction below takes the lock itself
    sealed = receipts_for(cast(Flask, current_app._get_current_object())).sealed  # type: ignore[attr-defined]
    waiting = []
    for row in rows:
        try:
            payload = _decode(sealed, row)
        except SecretUnreadable:
            logger.error("inbox body unreadable: the encryption key changed; kept sealed",
                         extra={"action": "inbox_unreadable", "shop": row.shop_domain, "receipt_id": row.id})
            waiting.append(_Waiting(row.id, row.shop_domain, row.topic, row.received_at, None, sealed_shut=True))
            continue
        waiting.append(_Waiting(row.id, row.shop_domain, row.topic, row.received_at, payload))
    return waiting


def _loads(raw: bytes) -> Any:
    """The whole body; the standard library's parser for what orjson refuses though it is JSON (a number too
    long for 64 bits, nesting past 1,024 levels), which the acknowledgement accepted."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _decode(sealed: SealedBodies, row: Any) -> dict[str, Any] | None:
    """The body as JSON; None for a corrupted one. SecretUnreadable when no configured key opens it."""
    try:
        payload = _loads(sealed.open(bytes(row.body), row.shop_domain.encode()))
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
        # When it arrived: an order dated long before that was imported or back-dated (app/mapping/timing.py).
        item.mapped = mapper(item.payload, options[item.shop_domain], received_at=int(item.received_at.timestamp()))


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
            and beacons.waits_for_beacon(shop, mapped.checkout_token):
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
