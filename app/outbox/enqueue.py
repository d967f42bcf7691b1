"""Adding a purchase to the outbox: one purchase, one event, whichever way (or how often) it arrives.

Owns the INSERT of every event row a purchase makes, and the one change a later arrival may make to it:
an order replacing its still-waiting checkout's event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.database import rowcount
from app.mapping import MappedPurchase
from app.models import Event, EventStatus, db
from app.vocabulary import EventSource, ReceiptOutcome

PENDING, SKIPPED = EventStatus.PENDING.value, EventStatus.SKIPPED.value


@dataclass(frozen=True)
class EnqueueResult:
    outcome: ReceiptOutcome  # queued | skipped | replaced_checkout | already_received | already_sent
    detail: str | None
    event_row_id: int | None


def _row_values(mapped: MappedPurchase, now: datetime, settle_seconds: int) -> dict[str, Any]:
    occurred = datetime.fromtimestamp(mapped.occurred_at, now.tzinfo) if mapped.occurred_at else None
    return {
        "event_id": mapped.event_id,
        "source": mapped.kind,
        "order_id": mapped.order_id,
        "order_name": mapped.order_name,
        "checkout_token": (mapped.checkout_token or "")[:64] or None,
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


def enqueue(
    shop_id: int, mapped: MappedPurchase, *, now: datetime, settle_seconds: int = 0,
    source: EventSource | None = None
) -> EnqueueResult:
    """Add one purchase to the outbox inside the caller's transaction (one purchase, one event)."""
    values = _row_values(mapped, now, settle_seconds)
    if source:
        values["source"] = source
    # With sending turned off an order is held (pending): the claim skips disabled shops, and turning
    # sending back on sends what is held, as long as it is younger than the expiry.
    existing = _same_purchase(shop_id, mapped)
    if existing is None:
        # One INSERT that yields to a concurrent one for the same event id: no savepoint round trips.
        dialect = db.session.connection().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        row_id = db.session.execute(
            insert(Event.__table__).values(shop_id=shop_id, received_at=now, **values)
            .on_conflict_do_nothing(index_elements=["shop_id", "event_id"]).returning(Event.__table__.c.id)
        ).scalar()
        if row_id is None:
            existing = db.session.execute(
                select(Event).filter_by(shop_id=shop_id, event_id=mapped.event_id)
            ).scalar_one()
        else:
            outcome = ReceiptOutcome.QUEUED if values["status"] == PENDING else ReceiptOutcome.SKIPPED
            return EnqueueResult(outcome, values["skip_reason"], row_id)
    return _merge(existing, values, mapped, now)


def _same_purchase(shop_id: int, mapped: MappedPurchase) -> Event | None:
    """The stored event for this purchase: same event_id, or the same checkout seen the other way round."""
    rules = []  # most specific first; the first rule that matches wins
    if mapped.event_id is not None:
        rules.append(and_(Event.shop_id == shop_id, Event.event_id == mapped.event_id))
    if mapped.kind is EventSource.ORDER and mapped.order_id:
        # The same order under another event id (settings changed, or found again by reconciliation).
        # `shop_id + 0` keeps SQLite on the order_id index: without table statistics it would otherwise
        # read every event of the shop through (shop_id, checkout_token).
        rules.append(and_(Event.order_id == mapped.order_id, Event.shop_id + 0 == shop_id))
    if mapped.checkout_token:
        # With event_id_source=order_id an order ("order-<id>") and its checkout (cart token) differ.
        rules.append(and_(Event.shop_id == shop_id, Event.checkout_token == mapped.checkout_token[:64]))
    if not rules:
        return None
    # One query rather than one per rule: every webhook pays for this lookup, most often to find nothing.
    # Each rule names the shop itself, so both databases answer it from one index per rule.
    rank = case(*((rule, i) for i, rule in enumerate(rules)), else_=len(rules))
    return db.session.execute(
        select(Event).where(or_(*rules)).order_by(rank, Event.id).limit(1)
    ).scalar_one_or_none()


def _merge(existing: Event, values: dict[str, Any], mapped: MappedPurchase, now: datetime) -> EnqueueResult:
    """The same purchase again: an order replaces its still-waiting checkout; anything else is a repeat."""
    order_replaces_checkout = (
        existing.source == EventSource.CHECKOUT and mapped.kind is EventSource.ORDER and values["status"] == PENDING
    )
    if not order_replaces_checkout:
        return EnqueueResult(ReceiptOutcome.ALREADY_RECEIVED, "This purchase already has an event.", existing.id)
    values = {**values, "available_at": now}
    changed = rowcount(db.session.execute(
        update(Event)
        .where(Event.id == existing.id, Event.status.in_([PENDING, SKIPPED]))
        .values(**values, attempts=0, error_code=None, error_message=None)
        .execution_options(synchronize_session=False)
    ))
    if changed:
        return EnqueueResult(ReceiptOutcome.REPLACED_CHECKOUT, "The order replaced its checkout's event.", existing.id)
    return EnqueueResult(ReceiptOutcome.ALREADY_SENT, "Its checkout's event was already sent.", existing.id)
