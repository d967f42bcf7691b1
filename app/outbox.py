"""The event outbox: enqueue mapped purchases, claim them under a lease, record what Pinterest said.

Every status change names the status it expects in its WHERE clause, so a worker whose lease was
taken over can never overwrite the newer owner's result.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app import shop_state, wake
from app.clock import database_now
from app.database import rowcount, writing
from app.mapping import MappedPurchase
from app.models import (
    ConnectionStatus,
    Event,
    EventSource,
    EventStatus,
    PinterestSettings,
    Shop,
    db,
    now_utc,
)

logger = logging.getLogger(__name__)


PENDING, SENDING = EventStatus.PENDING.value, EventStatus.SENDING.value
DELIVERED, FAILED, SKIPPED = EventStatus.DELIVERED.value, EventStatus.FAILED.value, EventStatus.SKIPPED.value


@dataclass(frozen=True)
class EnqueueResult:
    outcome: str            # queued | skipped | replaced_checkout | already_received | already_sent
    detail: str | None
    event_row_id: int | None


@dataclass(frozen=True)
class Claimed:
    """One claimed event with what is needed to send it; plain data, safe to pass around."""

    row_id: int
    shop_id: int
    event_id: str
    payload: dict[str, Any]
    test: bool
    attempts: int
    received_at: datetime


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
    shop: Shop, mapped: MappedPurchase, *, now: datetime, settle_seconds: int = 0, source: str | None = None
) -> EnqueueResult:
    """Add one purchase to the outbox inside the caller's transaction (one purchase, one event)."""
    values = _row_values(mapped, now, settle_seconds)
    if source:
        values["source"] = source
    # With sending turned off an order is held (pending): the claim skips disabled shops, and turning
    # sending back on sends what is held, as long as it is younger than the expiry.
    existing = _same_purchase(shop.id, mapped)
    if existing is None:
        # One INSERT that yields to a concurrent one for the same event id: no savepoint round trips.
        dialect = db.session.connection().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        row_id = db.session.execute(
            insert(Event.__table__).values(shop_id=shop.id, received_at=now, **values)
            .on_conflict_do_nothing(index_elements=["shop_id", "event_id"]).returning(Event.__table__.c.id)
        ).scalar()
        if row_id is None:
            existing = db.session.execute(
                select(Event).filter_by(shop_id=shop.id, event_id=mapped.event_id)
            ).scalar_one()
        else:
            outcome = "queued" if values["status"] == PENDING else "skipped"
            return EnqueueResult(outcome, values["skip_reason"], row_id)
    return _merge(existing, values, mapped, now)


def _same_purchase(shop_id: int, mapped: MappedPurchase) -> Event | None:
    """The stored event for this purchase: same event_id, or the same checkout seen the other way round."""
    rules = []  # most specific first; the first rule that matches wins
    if mapped.event_id is not None:
        rules.append(and_(Event.shop_id == shop_id, Event.event_id == mapped.event_id))
    if mapped.kind == "order" and mapped.order_id:
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
        existing.source == "checkout" and mapped.kind == "order" and values["status"] == PENDING
    )
    if not order_replaces_checkout:
        return EnqueueResult("already_received", "This purchase already has an event.", existing.id)
    values = {**values, "available_at": now}
    changed = rowcount(db.session.execute(
        update(Event)
        .where(Event.id == existing.id, Event.status.in_([PENDING, SKIPPED]))
        .values(**values, attempts=0, error_code=None, error_message=None)
        .execution_options(synchronize_session=False)
    ))
    if changed:
        return EnqueueResult("replaced_checkout", "The order replaced its checkout's event.", existing.id)
    return EnqueueResult("already_sent", "Its checkout's event was already sent.", existing.id)


def _eligible_shops(now: datetime) -> Any:
    """Shops whose events may be sent now: installed, enabled, configured, not rejected, not backing off."""
    return (
        select(Shop.id)
        .join(PinterestSettings, PinterestSettings.shop_id == Shop.id)
        .where(
            Shop.installed.is_(True),
            PinterestSettings.enabled.is_(True),
            PinterestSettings.ad_account_id.is_not(None),
            PinterestSettings.access_token_enc.is_not(None),
            PinterestSettings.connection_status.not_in(
                [ConnectionStatus.REJECTED.value, ConnectionStatus.UNREADABLE.value]),
            or_(PinterestSettings.backoff_until.is_(None), PinterestSettings.backoff_until <= now),
        )
    )


def release_backed_off(shop_id: int) -> int:
    """The shop's backoff was lifted (shop_state.lift_backoff): its events put back to wait it out go now.

    Checkouts still inside their settle window (never attempted) keep waiting for their order. In the
    caller's transaction; returns the events made ready.
    """
    now = database_now()
    return rowcount(db.session.execute(
        update(Event)
        .where(Event.shop_id == shop_id, Event.status == PENDING, Event.attempts > 0, Event.available_at > now)
        .values(available_at=now)
        .execution_options(synchronize_session=False)
    ))


def why_not_sending(shop: Shop) -> str | None:
    """Why the worker would not send this shop's events now (besides a backoff), or None when it would."""
    settings = shop.settings
    if not shop.installed:
        return "the app is uninstalled from this shop"
    if settings is None or not settings.configured:
        return "the Pinterest ad account id or access token is missing"
    if not settings.enabled:
        return "sending to Pinterest is turned off"
    if settings.connection_status == ConnectionStatus.REJECTED.value:
        return "delivery is paused until new Pinterest credentials are saved (Pinterest rejected the token)"
    if settings.connection_status == ConnectionStatus.UNREADABLE.value:
        return "delivery is paused until the token is saved again (the encryption key cannot read it)"
    return None


@dataclass(frozen=True)
class Requeued:
    count: int  # events now pending and ready
    too_old: int  # failed events left alone: Pinterest would no longer accept them


def requeue(shop_id: int, status: EventStatus, now: datetime, *, max_age_seconds: int,
            event_ids: Collection[str] | None = None) -> Requeued:
    """Make a shop's failed (or waiting) events ready now and lift its backoff; in the caller's transaction.

    The one way events are sent again, for the page's "retry" and the operator's `events retry`. Failed
    events older than `max_age_seconds` stay failed: they would only expire again at once. Test events sent
    by "check connection" (`verify`) are never resent. The failure streak is kept, so a Pinterest that is
    still down is not probed every two seconds.
    """
    status = EventStatus(status)
    if status not in (EventStatus.FAILED, EventStatus.PENDING):
        raise ValueError(f"only failed or pending events are requeued, not {status}")
    where = [Event.shop_id == shop_id, Event.status == status.value, Event.source != EventSource.VERIFY.value]
    if status == FAILED:
        where.append(Event.received_at >= now - timedelta(seconds=max_age_seconds))
    if event_ids is not None:
        where.append(Event.event_id.in_(list(event_ids)))
    count = rowcount(db.session.execute(
        update(Event).where(*where)
        .values(status=PENDING, available_at=now, error_code=None, error_message=None, claimed_by=None,
                lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ))
    shop_state.lift_backoff(shop_id)
    if release_backed_off(shop_id) or count:
        wake.notify(wake.OUTBOX)
    too_old = 0
    if status == FAILED and event_ids is None:
        too_old = int(db.session.scalar(
            select(func.count()).select_from(Event).where(
                Event.shop_id == shop_id, Event.status == FAILED, Event.source != EventSource.VERIFY.value,
                Event.received_at < now - timedelta(seconds=max_age_seconds))
        ) or 0)
    return Requeued(count, too_old)


def reclaim_expired_leases(now: datetime) -> int:
    """Events whose worker died mid-batch go back to pending once the lease has run out."""
    with writing():
        count = rowcount(db.session.execute(
            update(Event)
            .where(Event.status == SENDING, Event.lease_expires_at < now)
            .values(status=PENDING, claimed_by=None, lease_expires_at=None, available_at=now)
            .execution_options(synchronize_session=False)
        ))
    if count:
        logger.info("leases expired", extra={"action": "lease_reclaimed", "count": count})
    return count


def claim(worker_id: str, now: datetime, *, lease_seconds: int, limit: int, shops: int = 4,
          busy_shops: Collection[int] = ()) -> list[Claimed]:
    """Claim up to `limit` ready events of one shop (the one waiting longest) under a lease.

    `busy_shops` are shops this worker is already sending; they wait for their batch in flight.

    One shop per claim keeps Pinterest batches full. PostgreSQL skips rows another worker has
    locked; SQLite holds its write lock (BEGIN IMMEDIATE) for the few milliseconds this takes.
    """
    with writing():
        # The oldest ready events' shops, read in claim-index order: no aggregate over the whole queue,
        # so a claim costs the same with 100 or 100,000 events pending. Rows other workers are claiming
        # are skipped, which leaves shops they are not already sending.
        candidates = db.session.execute(
            select(Event.shop_id)
            .where(Event.status == PENDING, Event.available_at <= now, Event.shop_id.in_(_eligible_shops(now)),
                   Event.shop_id.not_in(busy_shops))
            .order_by(Event.available_at)
            .limit(shops)
            .with_for_update(skip_locked=True)
        ).scalars().all()
        for shop_id in dict.fromkeys(candidates):
            ids = db.session.execute(
                select(Event.id)
                .where(Event.shop_id == shop_id, Event.status == PENDING, Event.available_at <= now)
                .order_by(Event.available_at, Event.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars().all()
            if ids:
                return _mark_claimed(list(ids), worker_id, now, lease_seconds)
        return []


def _mark_claimed(ids: list[int], worker_id: str, now: datetime, lease_seconds: int) -> list[Claimed]:
    lease = now + timedelta(seconds=lease_seconds)
    rows = db.session.execute(
        update(Event)
        .where(Event.id.in_(ids), Event.status == PENDING)
        .values(status=SENDING, claimed_by=worker_id, lease_expires_at=lease,
                attempts=Event.attempts + 1, last_attempt_at=now)
        .returning(Event.id, Event.shop_id, Event.event_id, Event.payload, Event.test, Event.attempts,
                   Event.received_at)
        .execution_options(synchronize_session=False)
    ).all()
    rows = sorted(rows, key=lambda r: r.id)
    return [Claimed(r.id, r.shop_id, r.event_id, r.payload, r.test, r.attempts, r.received_at) for r in rows]


def _owned(ids: list[int], worker_id: str) -> Any:
    return and_(Event.id.in_(ids), Event.status == SENDING, Event.claimed_by == worker_id)


def renew_lease(ids: list[int], worker_id: str, now: datetime, lease_seconds: int) -> set[int]:
    """Extend this worker's lease on the events it still holds; return their ids (the rest were taken over)."""
    if not ids:
        return set()
    return set(db.session.execute(
        update(Event).where(_owned(ids, worker_id))
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(Event.id)
        .execution_options(synchronize_session=False)
    ).scalars().all())


def mark_delivered(ids: list[int], worker_id: str, now: datetime, warnings: dict[int, str],
                   notes: JoinNotes | None = None) -> int:
    """Pinterest processed these events; the beacons' `notes` about them are written by the same UPDATE.

    Each event row is written once: noting the Tag's id first and then marking it delivered would write
    every row (payload and all) twice.
    """
    if not ids:
        return 0
    count = 0
    rest = ids
    if notes:
        noted = notes.only(ids)
        if noted:
            conn = db.session.connection()
            stamp = _stamp(conn.dialect, now)
            count += _update_from_notes(
                noted, worker_id, "status = {p}, delivered_at = {p}, claimed_by = NULL, lease_expires_at = NULL, "
                "error_code = NULL, error_message = NULL, updated_at = {p}", (DELIVERED, stamp, stamp))
            done = set(noted.row_ids)
            rest = [row_id for row_id in ids if row_id not in done]
    if rest:
        count += rowcount(db.session.execute(
            update(Event).where(_owned(rest, worker_id))
            .values(status=DELIVERED, delivered_at=now, claimed_by=None, lease_expires_at=None,
                    error_code=None, error_message=None)
            .execution_options(synchronize_session=False)
        ))
    if warnings:
        table = Event.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("row_id")).values(warning_message=bindparam("msg")),
            [{"row_id": rid, "msg": msg} for rid, msg in warnings.items()],
        )
    return count


def mark_failed(failures: dict[int, tuple[str, str]], worker_id: str, now: datetime) -> int:
    """Pinterest refused these events for good: row id → (code, message)."""
    if not failures:
        return 0
    table = Event.__table__
    result = db.session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.status == SENDING,
               table.c.claimed_by == bindparam("worker"))
        .values(status=FAILED, error_code=bindparam("code"), error_message=bindparam("msg"),
                claimed_by=None, lease_expires_at=None, updated_at=now),
        [{"row_id": rid, "worker": worker_id, "code": code, "msg": msg[:1000]}
         for rid, (code, msg) in failures.items()],
    )
    return rowcount(result)


def release_for_retry(ids: list[int], worker_id: str, available_at: datetime, code: str, message: str) -> int:
    """Give events back to the queue to try again later (nothing is lost)."""
    if not ids:
        return 0
    count = rowcount(db.session.execute(
        update(Event).where(_owned(ids, worker_id))
        .values(status=PENDING, available_at=available_at, claimed_by=None, lease_expires_at=None,
                error_code=code, error_message=message[:1000])
        .execution_options(synchronize_session=False)
    ))
    return int(count or 0)


def expire_stale(now: datetime, max_age_seconds: int) -> int:
    """Events still undelivered long after they were received fail as `expired`."""
    cutoff = now - timedelta(seconds=max_age_seconds)
    with writing():
        count = rowcount(db.session.execute(
            update(Event)
            .where(Event.status == PENDING, Event.received_at < cutoff)
            .values(status=FAILED, error_code="expired", updated_at=now,
                    error_message=f"Not delivered within {max_age_seconds // 3600} hours of receipt.")
            .execution_options(synchronize_session=False)
        ))
    if count:
        logger.error("events expired", extra={"action": "events_expired", "count": count})
    return count


# -- the storefront pixel's beacon -----------------------------------------------------------------------
def release_waiting_order(shop_id: int, checkout_token: str, now: datetime) -> int:
    """The beacon is here: an order waiting for it may go now (a completed checkout still waits for its order).

    A released order wakes the workers at the commit (app/wake.py): it goes as soon as its beacon arrives.
    """
    released = rowcount(db.session.execute(
        update(Event)
        .where(Event.shop_id == shop_id, Event.checkout_token == checkout_token, Event.status == PENDING,
               Event.source != EventSource.CHECKOUT.value, Event.available_at > now)
        .values(available_at=now).execution_options(synchronize_session=False)
    ))
    if released:
        wake.notify(wake.OUTBOX)
    return released


@dataclass
class JoinNotes:
    """What beacons told about a batch's claimed events: the Tag's event id, whether it was ours, the match keys.

    Kept column by column, four lists, so noting 1,000 events makes no object per event.
    """

    row_ids: list[int] = field(default_factory=list)
    tag_event_ids: list[str | None] = field(default_factory=list)
    tag_matched: list[bool | None] = field(default_factory=list)
    match_keys: list[str | None] = field(default_factory=list)

    def add(self, row_id: int, tag_event_id: str | None, tag_matched: bool | None, match_keys: str | None) -> None:
        self.row_ids.append(row_id)
        self.tag_event_ids.append(tag_event_id)
        self.tag_matched.append(tag_matched)
        self.match_keys.append(match_keys)

    def __len__(self) -> int:
        return len(self.row_ids)

    def only(self, row_ids: Collection[int]) -> JoinNotes:
        """The notes about these events."""
        keep = set(row_ids)
        if keep.issuperset(self.row_ids):
            return self
        out = JoinNotes()
        for i, row_id in enumerate(self.row_ids):
            if row_id in keep:
                out.add(row_id, self.tag_event_ids[i], self.tag_matched[i], self.match_keys[i])
        return out


NOTES_PER_STATEMENT = 1000  # SQLite: 4 parameters a note, far below its limit of 32,766 a statement
_NOTE_SET = ("UPDATE events SET tag_event_id = v.tag_event_id, tag_matched = v.tag_matched, "
             "match_keys = v.match_keys, ")
_NOTE_WHERE = " WHERE events.id = v.row_id AND events.status = {p} AND events.claimed_by = {p}"
# PostgreSQL: the notes as four arrays, so the statement and its plan are the same for any batch.
_PG_NOTES = (" FROM unnest(%s::integer[], %s::text[], %s::boolean[], %s::text[]) "
             "AS v (row_id, tag_event_id, tag_matched, match_keys)")


def _sqlite_notes(rows: int) -> str:
    """SQLite: the notes as a VALUES list, named by a CTE (SQLite takes no column names after `AS v`)."""
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return f"WITH v (row_id, tag_event_id, tag_matched, match_keys) AS (VALUES {values}) "


def _stamp(dialect: Any, when: datetime) -> Any:
    """`when` as a timestamp column takes it on this database (what update() would bind)."""
    process = Event.__table__.c.updated_at.type.bind_processor(dialect)
    return process(when) if process else when


def _supports_update_from(dialect: Any) -> bool:
    return dialect.name == "postgresql" or (dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 33))


def note_joined(notes: JoinNotes, worker_id: str) -> int:
    """Record what beacons told about claimed events in one UPDATE (not one per event); in the caller's transaction.

    For events that stay claimed or go back to the queue; a delivered batch's notes go with
    `mark_delivered` instead, in its own UPDATE.
    """
    if not notes:
        return 0
    conn = db.session.connection()
    if not _supports_update_from(conn.dialect):
        return _note_each(notes, worker_id)
    return _update_from_notes(notes, worker_id, "updated_at = {p}", (_stamp(conn.dialect, now_utc()),))


def _update_from_notes(notes: JoinNotes, worker_id: str, assignments: str, values: tuple[Any, ...]) -> int:
    """UPDATE the noted events (the Tag's id, whether it was ours, match keys) and set `assignments` too.

    The events are updated from a list joined by id: PostgreSQL reads it from four arrays (`unnest`), one
    statement whatever the batch's size; SQLite from a VALUES list, one statement per 1,000 notes. The
    same guard as every status change: only this worker's events still sending are touched. `assignments`
    uses `{p}` for each of `values`.
    """
    conn = db.session.connection()
    if not _supports_update_from(conn.dialect):  # no UPDATE ... FROM: note, then set the rest by id
        changed = _note_each(notes, worker_id)
        conn.exec_driver_sql(
            f"UPDATE events SET {assignments.format(p='?')} WHERE id IN ({', '.join('?' * len(notes))}) "
            "AND status = ? AND claimed_by = ?", (*values, *notes.row_ids, SENDING, worker_id))
        return changed
    if conn.dialect.name == "postgresql":  # parameters in the order they appear in the statement
        sql = _NOTE_SET + assignments.format(p="%s") + _PG_NOTES + _NOTE_WHERE.format(p="%s")
        return rowcount(conn.exec_driver_sql(sql, (
            *values, notes.row_ids, notes.tag_event_ids, notes.tag_matched, notes.match_keys, SENDING,
            worker_id)))
    changed = 0
    for start in range(0, len(notes), NOTES_PER_STATEMENT):
        end = min(start + NOTES_PER_STATEMENT, len(notes))
        rows: list[Any] = [None] * (4 * (end - start))  # row by row: id, tag event id, matched, keys
        rows[0::4], rows[1::4] = notes.row_ids[start:end], notes.tag_event_ids[start:end]
        rows[2::4], rows[3::4] = notes.tag_matched[start:end], notes.match_keys[start:end]
        sql = (_sqlite_notes(end - start) + _NOTE_SET + assignments.format(p="?") + " FROM v"
               + _NOTE_WHERE.format(p="?"))
        changed += rowcount(conn.exec_driver_sql(sql, (*rows, *values, SENDING, worker_id)))
    return changed


def _note_each(notes: JoinNotes, worker_id: str) -> int:
    """`note_joined` for a database without UPDATE ... FROM: an executemany, one UPDATE per event."""
    table = Event.__table__
    return rowcount(db.session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.status == SENDING, table.c.claimed_by == worker_id)
        .values(tag_event_id=bindparam("tag_event_id"), tag_matched=bindparam("tag_matched"),
                match_keys=bindparam("match_keys")),
        [{"row_id": row_id, "tag_event_id": tag, "tag_matched": matched, "match_keys": keys}
         for row_id, tag, matched, keys in zip(notes.row_ids, notes.tag_event_ids, notes.tag_matched,
                                               notes.match_keys, strict=True)],
    ))


def mark_withheld(ids: list[int], worker_id: str, now: datetime, reason: str) -> int:
    """The buyer's consent keeps these events from Pinterest: skipped, with the reason, never sent."""
    if not ids:
        return 0
    return rowcount(db.session.execute(
        update(Event).where(_owned(ids, worker_id))
        .values(status=SKIPPED, skip_reason=reason, payload=None, claimed_by=None, lease_expires_at=None,
                updated_at=now)
        .execution_options(synchronize_session=False)
    ))


# -- the connection check's test event -----------------------------------------------------------------
def record_test_event(shop_id: int, event_id: str, now: datetime, *, delivered: bool, value: str,
                      currency: str, code: str | None, message: str | None, delivered_at: datetime | None) -> None:
    """Keep "check connection"'s test event in the recent-events list; in the caller's transaction.

    It is stored already settled (delivered or failed) and without a payload: it is never claimed or resent.
    """
    db.session.add(Event(
        shop_id=shop_id, event_id=event_id, source=EventSource.VERIFY.value, order_name="Test event", test=True,
        action_source="web", value=value, currency=currency, payload=None, match_keys="em",
        status=DELIVERED if delivered else FAILED,
        error_code=None if delivered else code,
        error_message=None if delivered else (message or "")[:1000],
        attempts=1, received_at=now, occurred_at=now, available_at=now, last_attempt_at=now,
        delivered_at=delivered_at if delivered else None,
    ))
