"""The acknowledgement's write: a verified order or checkout stored as a sealed receipt, durably, at once.

Acknowledging Shopify is the receipt alone: one INSERT of the webhook's identity with its raw body sealed
by the app's key (`webhook_receipts.body`), conflict-free on the webhook id, so a redelivery is a
duplicate without a look-up. No mapping, purchase look-up or shop write happens on the request path;
the worker routes what waits here (routing.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, current_app

from app import database, statements, wake
from app.crypto import SealedBodies
from app.models import WebhookReceipt, clean_text, db, now_utc
from app.vocabulary import ReceiptOutcome

WAITING = ReceiptOutcome.WAITING  # while its body is in the inbox
SHOP_DOMAIN_LENGTH = WebhookReceipt.__table__.c.shop_domain.type.length




class Receipts:
    """Where one app stores receipts: its engine, its body cipher and INSERT, and the group commit of its requests.

    Built once per app and kept in `app.extensions`, so the acknowledgement path needs no app context.
    """

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.engine = db.engine
        self.sealed = SealedBodies(app.config["ENCRYPTION_KEYS"])
        self.insert = _ReceiptInsert(self.engine.dialect)
        self.writer = database.DriverConnection(self.engine)
        self.commits = GroupCommit(self)


def receipts_for(app: Flask) -> Receipts:
    cached = app.extensions.get("pinbridge_receipts")
    if cached is None:
        cached = app.extensions["pinbridge_receipts"] = Receipts(app)
    return cast(Receipts, cached)


def accept(*, webhook_id: str, shop_domain: str, topic: str, triggered_at: str | None, api_version: str | None,
           raw: bytes, completed: bool = True, receipts: Receipts | None = None) -> ReceiptOutcome:
    """Store one verified order or checkout durably; `accepted`, or `duplicate` for a webhook id seen before.

    An open checkout (not completed, so not a purchase) is recorded without its body: nothing to map.
    `receipts` is the app's (`receipts_for`); without it, the current app's.
    """
    box = receipts or receipts_for(cast(Flask, current_app._get_current_object()))  # type: ignore[attr-defined]
    shop_domain = clean_text(shop_domain, SHOP_DOMAIN_LENGTH)  # as stored: the body's seal names it (`_decode`)
    values: dict[str, Any] = {
        "webhook_id": webhook_id, "shop_domain": shop_domain, "topic": topic, "received_at": now_utc(),
        "triggered_at": triggered_at, "api_version": api_version,
        "outcome": WAITING if completed else ReceiptOutcome.CHECKOUT_OPEN,
        "body": box.sealed.seal(raw, shop_domain.encode()) if completed else None,
    }
    return ReceiptOutcome.ACCEPTED if box.commits.store(values) else ReceiptOutcome.DUPLICATE


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

    def __init__(self, receipts: Receipts | None, *, write: Callable[[list[dict[str, Any]]], set[Any]] | None = None,
                 key: Callable[[dict[str, Any]], Any] | None = None) -> None:
        """Receipts' by default; another writer passes its `write` (rows → keys of the rows it stored) and
        `key` (a row's key), as the pixel's beacons do (app/ingest/pixel_wsgi.py)."""
        self.receipts = receipts
        self.write = write or (lambda rows: _store(cast(Receipts, receipts), rows))
        self.key = key or (lambda values: values["webhook_id"])
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
                    if database.cooperative():
                        # Under gevent a SQLite commit never yields, so nothing would queue behind it: let
                        # the other requests of this process that are ready reach the queue first (on
                        # PostgreSQL the wait for the server yields anyway; one more yield costs nothing).
                        time.sleep(0)
                    with self._mutex:
                        batch = self._queue[:self.MAX_BATCH]
                        del self._queue[:self.MAX_BATCH]
                    if batch:
                        _flush(self.write, self.key, batch)
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


def _flush(write: Callable[[list[dict[str, Any]]], set[Any]], key: Callable[[dict[str, Any]], Any],
           batch: list[_Slot]) -> None:
    """Write a batch of receipts; the first of several deliveries with one webhook id is the one stored."""
    try:
        stored = write([slot.values for slot in batch])
    except BaseException as exc:  # every owner answers with the failure (503 for a database outage)
        for slot in batch:
            slot.error, slot.done = exc, True
            slot.wake.set()
        return
    for slot in batch:
        webhook_id = key(slot.values)
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
        self.processors = [statements.processor(table.c[name], dialect) for name in _COLUMNS]
        self._sql: dict[int, str] = {}
        arrays = ", ".join(f"%b::{self._PG_TYPES.get(name, 'text[]')}" for name in _COLUMNS)
        # The NOTIFY that wakes the workers rides in the same statement, so it costs no round trip; it is
        # delivered at the commit (app/wake.py), one per channel and transaction whatever the rows.
        self._pg_sql = (f"WITH stored AS (INSERT INTO webhook_receipts ({', '.join(_COLUMNS)}) "
                        f"SELECT * FROM unnest({arrays}) ON CONFLICT (webhook_id) DO NOTHING "
                        f"RETURNING webhook_id) SELECT webhook_id FROM stored, "
                        f"(SELECT pg_notify('{wake.INBOX}', '')) AS wake")

    def sql(self, count: int) -> str:
        if self.postgresql:
            return self._pg_sql
        cached = self._sql.get(count)
        if cached is None:
            cached = self._sql[count] = (
                f"INSERT INTO webhook_receipts ({', '.join(_COLUMNS)}) "
                f"VALUES {statements.sqlite_rows(len(_COLUMNS), count)} "
                "ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id")
        return cached

    def parameters(self, rows: list[dict[str, Any]]) -> list[Any]:
        """Row by row for SQLite; column by column (one list each) for PostgreSQL."""
        columns = statements.bound_columns(rows, _COLUMNS, self.processors)
        if self.postgresql:
            return columns
        return [value for row in zip(*columns, strict=True) for value in row]


def _store(receipts: Receipts, rows: list[dict[str, Any]]) -> set[str]:
    """One multi-row INSERT that is its own transaction; the webhook ids it stored (new ones only).

    The hottest statement of the app, so it goes to the driver directly, on a connection of its own
    (`database.DriverConnection`): one multi-row INSERT instead of SQLAlchemy's statement compilation,
    events and result objects. PostgreSQL runs it in autocommit (one round trip, one WAL flush); SQLite
    in BEGIN IMMEDIATE under the process's writer lock, as every other writer.
    """
    sql, parameters = receipts.insert.sql(len(rows)), receipts.insert.parameters(rows)
    with receipts.writer.write() as cursor:
        cursor.execute(sql, parameters)
        stored = {row[0] for row in cursor.fetchall()}
    if stored and not receipts.insert.postgresql:  # PostgreSQL's NOTIFY went with the INSERT
        wake.send(receipts.engine, wake.INBOX)
    return stored
