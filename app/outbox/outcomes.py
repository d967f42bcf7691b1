"""What became of claimed events: delivered, failed, withheld, back to the queue, expired or sent again.

Owns every move out of `sending` that records Pinterest's answer (or the buyer's consent), the expiry of
events never delivered, and `requeue`, the one way failed events are sent again. Each UPDATE names the
status it expects and, for claimed events, the worker that holds them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update

from app import shop_state, wake
from app.database import rowcount, writing
from app.mapping.timing import PINTEREST_MAX_EVENT_AGE
from app.models import Event, EventSource, EventStatus, db
from app.outbox.claims import owned_by, release_backed_off
from app.outbox.notes import JoinNotes, stamp, update_from_notes
from app.statements import among_param, built
from app.vocabulary import ErrorCode

logger = logging.getLogger(__name__)

PENDING, SENDING = EventStatus.PENDING.value, EventStatus.SENDING.value
DELIVERED, FAILED, SKIPPED = EventStatus.DELIVERED.value, EventStatus.FAILED.value, EventStatus.SKIPPED.value


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
        # Older than Pinterest takes: it would only expire again at once.
        where.append(or_(Event.occurred_at.is_(None),
                         Event.occurred_at >= now - timedelta(seconds=PINTEREST_MAX_EVENT_AGE)))
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
                or_(Event.received_at < now - timedelta(seconds=max_age_seconds),
                    Event.occurred_at < now - timedelta(seconds=PINTEREST_MAX_EVENT_AGE)))
        ) or 0)
    return Requeued(count, too_old)


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
            when = stamp(conn.dialect, now)
            count += update_from_notes(
                noted, worker_id, "status = {p}, delivered_at = {p}, claimed_by = NULL, lease_expires_at = NULL, "
                "error_code = NULL, error_message = NULL, updated_at = {p}", (DELIVERED, when, when))
            done = set(noted.row_ids)
            rest = [row_id for row_id in ids if row_id not in done]
    if rest:
        count += rowcount(db.session.connection().execute(
            built(_delivered), {"ids": rest, "worker": worker_id, "now": now}))
    if warnings:
        table = Event.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("row_id")).values(warning_message=bindparam("msg")),
            [{"row_id": rid, "msg": msg} for rid, msg in warnings.items()],
        )
    return count


def _delivered(dialect: Any) -> Any:
    """Events a worker holds (parameters `ids`, `worker`) delivered at `now`; built once, sent after every batch."""
    table = Event.__table__
    return (
        update(table)
        .where(among_param(table.c.id, "ids", dialect), table.c.status == SENDING,
               table.c.claimed_by == bindparam("worker"))
        .values(status=DELIVERED, delivered_at=bindparam("now", type_=table.c.delivered_at.type), claimed_by=None,
                lease_expires_at=None, error_code=None, error_message=None)
    )


def mark_failed(failures: dict[int, tuple[ErrorCode, str]], worker_id: str, now: datetime) -> int:
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


def release_for_retry(ids: list[int], worker_id: str, available_at: datetime, code: ErrorCode, message: str) -> int:
    """Give events back to the queue to try again later (nothing is lost)."""
    if not ids:
        return 0
    count = rowcount(db.session.execute(
        update(Event).where(owned_by(ids, worker_id))
        .values(status=PENDING, available_at=available_at, claimed_by=None, lease_expires_at=None,
                error_code=code, error_message=message[:1000])
        .execution_options(synchronize_session=False)
    ))
    return int(count or 0)


EXPIRED_BY_PINTEREST = "Pinterest accepts events from the last 7 days only, and this order is older."


def expire_stale(now: datetime, max_age_seconds: int) -> int:
    """Events still undelivered long after they were received, or older than Pinterest takes, fail as `expired`.

    Pinbridge's own limit counts from receipt; Pinterest's window counts from the order's own date
    (`occurred_at`, the event's `event_time`), so an order received late expires when Pinterest would no
    longer take it, not 72 hours after it arrived.
    """
    cutoff = now - timedelta(seconds=max_age_seconds)
    window = now - timedelta(seconds=PINTEREST_MAX_EVENT_AGE)
    with writing():
        count = rowcount(db.session.execute(
            update(Event)
            .where(Event.status == PENDING, Event.received_at < cutoff)
            .values(status=FAILED, error_code=ErrorCode.EXPIRED, updated_at=now,
                    error_message=f"Not delivered within {max_age_seconds // 3600} hours of receipt.")
            .execution_options(synchronize_session=False)
        ))
        count += rowcount(db.session.execute(
            update(Event)
            .where(Event.status == PENDING, Event.occurred_at < window)
            .values(status=FAILED, error_code=ErrorCode.EXPIRED, updated_at=now, error_message=EXPIRED_BY_PINTEREST)
            .execution_options(synchronize_session=False)
        ))
    if count:
        logger.error("events expired", extra={"action": "events_expired", "count": count})
    return count


def adopt_event_ids(adopted: dict[int, tuple[str, dict[str, Any]]], worker_id: str) -> int:
    """These claimed events go with the Tag's id (app/beacons.py): row id → (event id, payload with it).

    Rare (only where the browser could not read the server's id), so one UPDATE per event is fine; the
    same guard as every status change. In the caller's transaction.
    """
    if not adopted:
        return 0
    table = Event.__table__
    return rowcount(db.session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.status == SENDING, table.c.claimed_by == worker_id)
        .values(event_id=bindparam("new_event_id"), payload=bindparam("new_payload")),
        [{"row_id": row_id, "new_event_id": event_id, "new_payload": payload}
         for row_id, (event_id, payload) in adopted.items()],
    ))


def mark_withheld(ids: list[int], worker_id: str, now: datetime, reason: str) -> int:
    """The buyer's consent keeps these events from Pinterest: skipped, with the reason, never sent."""
    if not ids:
        return 0
    return rowcount(db.session.execute(
        update(Event).where(owned_by(ids, worker_id))
        .values(status=SKIPPED, skip_reason=reason, payload=None, claimed_by=None, lease_expires_at=None,
                updated_at=now)
        .execution_options(synchronize_session=False)
    ))
