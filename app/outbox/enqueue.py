"""Adding purchases to the outbox: one purchase, one event, whichever way (or how often) it arrives.

Owns the INSERT of every event row a purchase makes, and the one change a later arrival may make to it:
an order replacing its still-waiting checkout's event.

Routing adds a batch at a time (`enqueue_many`): one look-up finds every stored event the batch's
purchases may be, the batch is settled in memory purchase by purchase in arrival order (a purchase finds
an event an earlier one of the same batch made, exactly as it would find it stored), and the new events
are written with one multi-row INSERT. The result of each purchase is the one it would have had alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import select, union_all, update

from app.database import rowcount
from app.mapping import MappedPurchase
from app.models import Event, EventStatus, clean_text, db
from app.statements import among, insert_batch, upsert_insert
from app.vocabulary import EventSource, ReceiptOutcome

PENDING, SKIPPED = EventStatus.PENDING.value, EventStatus.SKIPPED.value
TOKEN_LENGTH = 64  # events.checkout_token


@dataclass(frozen=True)
class EnqueueResult:
    outcome: ReceiptOutcome  # queued | skipped | replaced_checkout | already_received | already_sent
    detail: str | None
    event_row_id: int | None


@dataclass(frozen=True)
class Purchase:
    """One purchase to add: the shop's id, the mapping's result, when it arrived and how long it settles."""

    shop_id: int
    mapped: MappedPurchase
    now: datetime
    settle_seconds: int = 0
    source: EventSource | None = None


@dataclass(eq=False)
class _Known:
    """An event as the look-up sees it: stored (`id`), or new in this batch (`values`, written at the end)."""

    seq: int  # stored ones first by id, then the batch's new ones in the order they were made
    id: int | None
    event_id: str | None
    order_id: str | None
    checkout_token: str | None
    source: EventSource
    status: str
    values: dict[str, Any] = field(default_factory=dict)  # a new event's row
    made_by: list[int] = field(default_factory=list)  # the batch positions that made or changed a new event


_KEYS = ("event_id", "order_id", "checkout_token")


class _ShopEvents:
    """One shop's known events in `seq` order, each found by its keys without reading the others (a batch of
    500 new orders would otherwise compare each with every one before it)."""

    def __init__(self) -> None:
        self.all: list[_Known] = []
        self._by: dict[str, dict[str, list[_Known]]] = {key: {} for key in _KEYS}

    def add(self, event: _Known) -> None:
        self.all.append(event)
        self.keep(event)

    def keep(self, event: _Known) -> None:
        """File the event under its keys (again after they changed: the old entries are checked on reading)."""
        for key, index in self._by.items():
            value = getattr(event, key)
            if value is not None:
                holders = index.setdefault(value, [])
                if event not in holders:
                    holders.append(event)

    def oldest(self, key: str, value: str) -> _Known | None:
        """The oldest event whose `key` is `value` now."""
        holders = [event for event in self._by[key].get(value, ()) if getattr(event, key) == value]
        return min(holders, key=lambda event: event.seq) if holders else None


def _row_values(mapped: MappedPurchase, now: datetime, settle_seconds: int) -> dict[str, Any]:
    occurred = datetime.fromtimestamp(mapped.occurred_at, now.tzinfo) if mapped.occurred_at else None
    return {
        "event_id": mapped.event_id,
        "source": mapped.kind,
        "order_id": mapped.order_id,
        "order_name": mapped.order_name,
        "checkout_token": (mapped.checkout_token or "")[:TOKEN_LENGTH] or None,
        "customer_ref": mapped.customer_ref,
        "email_refs": " ".join(mapped.email_hashes + mapped.phone_hashes) or None,  # redaction look-ups
        "test": mapped.test,
        "action_source": mapped.action_source,
        "value": mapped.value,
        "currency": mapped.currency,
        "payload": mapped.event,
        "match_keys": " ".join(mapped.match_keys) or None,
        "status": PENDING if mapped.event is not None else SKIPPED,
        "skip_reason": mapped.skip_reason if mapped.event is None else None,
        "occurred_at": occurred,
        "available_at": now + timedelta(seconds=settle_seconds),
    }


def _stored_as(column: str, value: str | None) -> str | None:
    """A value as the events table keeps it (NULs removed, cut to the column: app/models.clean_text), so a
    purchase is compared with stored events as the database itself would compare them."""
    return clean_text(value, Event.__table__.c[column].type.length) if value is not None else None


def _keys(mapped: MappedPurchase) -> tuple[str | None, str | None, str | None]:
    """The purchase's event id, order id and checkout token as stored."""
    token = mapped.checkout_token[:TOKEN_LENGTH] if mapped.checkout_token else None
    return (_stored_as("event_id", mapped.event_id), _stored_as("order_id", mapped.order_id),
            _stored_as("checkout_token", token) or None)


def _values(purchase: Purchase) -> dict[str, Any]:
    values = _row_values(purchase.mapped, purchase.now, purchase.settle_seconds)
    if purchase.source:
        values["source"] = purchase.source
    return values


def enqueue(
    shop_id: int, mapped: MappedPurchase, *, now: datetime, settle_seconds: int = 0,
    source: EventSource | None = None
) -> EnqueueResult:
    """Add one purchase to the outbox inside the caller's transaction (one purchase, one event)."""
    return enqueue_many([Purchase(shop_id, mapped, now, settle_seconds, source)])[0]


def enqueue_many(purchases: list[Purchase], *, again: bool = True) -> list[EnqueueResult]:
    """Add purchases to the outbox inside the caller's transaction, in order; each one's result.

    With sending turned off an order is held (pending): the claim skips disabled shops, and turning
    sending back on sends what is held, as long as it is younger than the expiry. A purchase whose INSERT
    yielded to another transaction's row is added `again`, alone: its look-up then finds that row.
    """
    if not purchases:
        return []
    _one_writer_per_shop(sorted({purchase.shop_id for purchase in purchases}))
    seq = count()
    known = _stored(purchases, seq)
    settled: list[tuple[EnqueueResult, _Known | None]] = []  # the result; the new event whose id it awaits
    for position, purchase in enumerate(purchases):
        values = _values(purchase)
        shop_events = known.setdefault(purchase.shop_id, _ShopEvents())
        existing = _same_purchase(shop_events, purchase.mapped)
        if existing is None:
            new = _Known(next(seq), None, *_keys(purchase.mapped), values["source"], values["status"],
                         {"shop_id": purchase.shop_id, "received_at": purchase.now, **values}, [position])
            shop_events.add(new)
            outcome = ReceiptOutcome.QUEUED if values["status"] == PENDING else ReceiptOutcome.SKIPPED
            settled.append((EnqueueResult(outcome, values["skip_reason"], None), new))
        else:
            settled.append((_merge(existing, values, purchase, position), existing if existing.id is None else None))
            shop_events.keep(existing)  # an order that replaced its checkout is found by the order's keys now
    kept_out = _insert_new([event for events in known.values() for event in events.all if event.id is None])
    results = [replace(result, event_row_id=new.id) if new is not None else result for result, new in settled]
    for event in kept_out:  # another worker stored the same event id first: as if each came alone, after it
        for position in event.made_by:
            if not again:
                raise RuntimeError("an event yielded to one the look-up could not find")
            results[position] = enqueue_many([purchases[position]], again=False)[0]
    return results


# PostgreSQL advisory-lock key space for "adding this shop's purchases" (the second key is the shop id).
SHOP_LOCKS = 0x50425244


def _one_writer_per_shop(shop_ids: list[int]) -> None:
    """PostgreSQL: one transaction at a time adds a shop's purchases, until it commits.

    Two workers routing a checkout and its order side by side would otherwise each find nothing stored
    and add two events for one purchase (under two event ids when the order's id is the event id).
    Transaction-scoped advisory locks, taken in shop order so two batches never wait on each other.
    SQLite's write lock already lets one writer in at a time.
    """
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql(
        "SELECT count(pg_advisory_xact_lock(%s, shop)) FROM (SELECT unnest(%s::int[]) AS shop ORDER BY 1) AS s",
        (SHOP_LOCKS, shop_ids))


def _insert_new(events: list[_Known]) -> list[_Known]:
    """Write the batch's new events (their ids set); those another transaction's row kept out."""
    if not events:
        return []
    table = Event.__table__
    statement = (upsert_insert(table, db.session.connection().dialect)
                 .on_conflict_do_nothing(index_elements=["shop_id", "event_id"])
                 .returning(table.c.id, table.c.shop_id, table.c.event_id))
    kept_out = []
    with_id = [event for event in events if event.event_id is not None]
    if with_id:  # one multi-row INSERT; each row found again by its (shop, event id), unique
        rows = [event.values for event in with_id]
        found = insert_batch(table, rows, conflict=("shop_id", "event_id"), returning=("id", "shop_id", "event_id"))
        ids = {(row.shop_id, row.event_id): row.id for row in found}
        for event in with_id:
            event.id = ids.get((event.values["shop_id"], event.event_id))
    for event in events:
        if event.event_id is None:  # without an id nothing conflicts; rare (a purchase mapping could not name)
            event.id = db.session.execute(statement.values(**event.values)).scalar_one()
        if event.id is None:
            kept_out.append(event)
    return kept_out


def _stored(purchases: list[Purchase], seq: count[int]) -> dict[int, _ShopEvents]:
    """The stored events any of these purchases may be, by shop: one statement for the whole batch.

    Each part names the shop itself, so both databases answer it from one index. `shop_id + 0` keeps
    SQLite on the order_id index: without table statistics it would otherwise read every event of the
    shop through (shop_id, checkout_token).
    """
    columns = (Event.id, Event.shop_id, Event.event_id, Event.order_id, Event.checkout_token, Event.source,
               Event.status)
    parts = []
    by_shop: dict[int, list[MappedPurchase]] = {}
    for purchase in purchases:
        by_shop.setdefault(purchase.shop_id, []).append(purchase.mapped)
    for shop_id, mapped in by_shop.items():
        event_ids = sorted({m.event_id for m in mapped if m.event_id is not None})
        order_ids = sorted({m.order_id for m in mapped if m.kind is EventSource.ORDER and m.order_id})
        tokens = sorted({m.checkout_token[:TOKEN_LENGTH] for m in mapped if m.checkout_token})
        if event_ids:
            parts.append(select(*columns).where(Event.shop_id == shop_id, among(Event.event_id, event_ids)))
        if order_ids:
            parts.append(select(*columns).where(among(Event.order_id, order_ids), Event.shop_id + 0 == shop_id))
        if tokens:
            parts.append(select(*columns).where(Event.shop_id == shop_id, among(Event.checkout_token, tokens)))
    known: dict[int, _ShopEvents] = {}
    if not parts:
        return known
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    seen: set[int] = set()
    for row in sorted(db.session.execute(statement).all(), key=lambda r: r.id):
        if row.id in seen:  # found by more than one rule
            continue
        seen.add(row.id)
        known.setdefault(row.shop_id, _ShopEvents()).add(_Known(
            next(seq), row.id, row.event_id, row.order_id, row.checkout_token, EventSource(row.source), row.status))
    return known


def _same_purchase(events: _ShopEvents, mapped: MappedPurchase) -> _Known | None:
    """The event for this purchase: same event_id, or the same checkout seen the other way round.

    Most specific rule first; the first rule that matches wins, the oldest event within it.
    """
    event_id, order_id, token = _keys(mapped)
    rules: list[tuple[str, str]] = []
    if event_id is not None:
        rules.append(("event_id", event_id))
    if mapped.kind is EventSource.ORDER and order_id:
        # The same order under another event id (settings changed, or found again by reconciliation).
        rules.append(("order_id", order_id))
    if token:
        # With event_id_source=order_id an order ("order-<id>") and its checkout (cart token) differ.
        rules.append(("checkout_token", token))
    for key, value in rules:
        found = events.oldest(key, value)  # stored by id first, then new ones as made
        if found is not None:
            return found
    return None


def _merge(existing: _Known, values: dict[str, Any], purchase: Purchase, position: int) -> EnqueueResult:
    """The same purchase again: an order replaces its still-waiting checkout; anything else is a repeat.

    For an event this batch makes, the row id is None until the INSERT gives it.
    """
    order_replaces_checkout = (
        existing.source == EventSource.CHECKOUT and purchase.mapped.kind is EventSource.ORDER
        and values["status"] == PENDING
    )
    if not order_replaces_checkout:
        if existing.id is None:
            existing.made_by.append(position)
        return EnqueueResult(ReceiptOutcome.ALREADY_RECEIVED, "This purchase already has an event.", existing.id)
    values = {**values, "available_at": purchase.now}
    if existing.id is None:  # made by this batch: the order's row is written instead of the checkout's
        existing.values.update(values)
        existing.made_by.append(position)
        changed = True
    else:
        changed = bool(rowcount(db.session.execute(
            update(Event)
            .where(Event.id == existing.id, Event.status.in_([PENDING, SKIPPED]))
            .values(**values, attempts=0, error_code=None, error_message=None)
            .execution_options(synchronize_session=False)
        )))
    if changed:
        existing.event_id, existing.order_id, existing.checkout_token = _keys(purchase.mapped)
        existing.source, existing.status = values["source"], values["status"]
        return EnqueueResult(ReceiptOutcome.REPLACED_CHECKOUT, "The order replaced its checkout's event.",
                             existing.id)
    return EnqueueResult(ReceiptOutcome.ALREADY_SENT, "Its checkout's event was already sent.", existing.id)
