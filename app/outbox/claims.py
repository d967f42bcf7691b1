"""Which events are ready and who holds them: the claim under a lease, its renewal and its expiry.

Owns the moves into and out of `sending` that are not an answer from Pinterest (a claim, a lease that ran
out), and what makes a waiting event ready early (a lifted backoff, an arrived beacon). Every UPDATE
names the status it expects, so a worker whose lease was taken over never overwrites the newer owner.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ARRAY, Integer, Text, all_, and_, bindparam, cast, or_, select, update

from app import wake
from app.clock import database_now
from app.database import rowcount, writing
from app.models import ConnectionStatus, Event, EventSource, EventStatus, PinterestSettings, Shop, db
from app.statements import among, among_param, built, unindexed

logger = logging.getLogger(__name__)

PENDING, SENDING = EventStatus.PENDING.value, EventStatus.SENDING.value


@dataclass(frozen=True)
class Claimed:
    """One claimed event with what is needed to send it; plain data, safe to pass around.

    The event comes as the JSON text stored at routing (`stored`) and is parsed only when something reads
    `payload` (the beacon join): most go to Pinterest as that text (`for_request`), which saves parsing
    and writing again a thousand events a batch (9 ms of the worker's CPU per 1,000 events).
    """

    row_id: int
    shop_id: int
    event_id: str
    stored: dict[str, Any] | str  # the Pinterest event: its stored JSON text, or the dict the worker made of it
    test: bool
    attempts: int
    received_at: datetime

    @property
    def payload(self) -> dict[str, Any]:
        """The event as a dict (parsed once, on first use)."""
        parsed: dict[str, Any] | None = self.__dict__.get("payload")
        if parsed is None:
            parsed = orjson.loads(self.stored) if isinstance(self.stored, str) else self.stored
            self.__dict__["payload"] = parsed  # frozen: kept beside the fields, as functools.cached_property does
        return parsed

    def for_request(self) -> Any:
        """The event as the request to Pinterest carries it: the stored text unless it was read as a dict."""
        if isinstance(self.stored, str) and "payload" not in self.__dict__:
            return orjson.Fragment(self.stored)
        return self.payload


def _eligible_shops(now: Any) -> Any:
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
    """
    batches = claim_batches(worker_id, now, lease_seconds=lease_seconds, limit=limit, total=limit, batches=1,
                            shops=shops, busy_shops=busy_shops)
    return batches[0] if batches else []


def claim_batches(worker_id: str, now: datetime, *, lease_seconds: int, limit: int, total: int, batches: int,
                  shops: int = 4, busy_shops: Collection[int] = ()) -> list[list[Claimed]]:
    """Claim up to `batches` batches in one transaction, each of one shop: up to `limit` ready events
    each and `total` in all, the shops waiting longest first.

    One shop per batch keeps Pinterest batches full. Many shops of one event each (a steady trickle of
    orders over many small shops) are claimed together, one commit for all: on PostgreSQL a claim of its
    own for each cost 2 ms of CPU, eight in one 0.6 ms each. PostgreSQL skips rows another worker has
    locked; SQLite holds its write lock (BEGIN IMMEDIATE) for the few milliseconds this takes.
    """
    chosen: dict[int, list[int]] = {}  # shop → the ids it gives, in the order the shops waited
    with writing():
        conn = db.session.connection()
        candidates = conn.execute(built(_candidates), {
            "now": now, "busy": list(busy_shops), "rows": max(shops, batches)}).scalars().all()
        left = total
        for shop_id in dict.fromkeys(candidates):
            if len(chosen) >= batches or left <= 0:
                break
            ids = conn.execute(built(_ready_of_shop), {"shop": shop_id, "now": now, "rows": min(limit, left)}
                               ).scalars().all()
            if ids:
                chosen[shop_id] = list(ids)
                left -= len(ids)
        if not chosen:
            return []
        lease = now + timedelta(seconds=lease_seconds)
        rows = conn.execute(built(_claimed), {"ids": [i for ids in chosen.values() for i in ids],
                                              "worker": worker_id, "lease": lease, "now": now}).all()
    by_shop: dict[int, list[Claimed]] = {shop_id: [] for shop_id in chosen}
    for r in sorted(rows, key=lambda r: r.id):
        by_shop[r.shop_id].append(Claimed(r.id, r.shop_id, r.event_id, r.payload, r.test, r.attempts, r.received_at))
    return [items for items in by_shop.values() if items]


# The claim's three statements, built once (`statements.built`): a claim is made for every batch, and a
# batch of one order (a small shop) cost more to build them than to run them.
def _candidates(dialect: Any) -> Any:
    """The oldest ready events' shops (parameters `now`, `busy`, `rows`), in claim-index order.

    No aggregate over the whole queue, so a claim costs the same with 100 or 100,000 events pending. Rows
    other workers are claiming are skipped, which leaves shops they are not already sending.
    """
    now = bindparam("now", type_=Event.available_at.type)
    if dialect.name == "postgresql":
        not_busy = Event.shop_id != all_(bindparam("busy", type_=ARRAY(Integer)))
    else:
        not_busy = Event.shop_id.not_in(bindparam("busy", expanding=True))
    return (
        select(Event.shop_id)
        .where(Event.status == PENDING, Event.available_at <= now, Event.shop_id.in_(_eligible_shops(now)), not_busy)
        .order_by(Event.available_at)
        .limit(bindparam("rows", type_=Integer))
        .with_for_update(skip_locked=True)
    )


def _ready_of_shop(_dialect: Any) -> Any:
    """One shop's ready events (parameters `shop`, `now`, `rows`), oldest first.

    Read through the (shop, status) index and sorted: not the claim index, which would walk every shop's
    pending events to find this one's (see `unindexed`).
    """
    available_at = unindexed(Event.available_at)
    return (
        select(Event.id)
        .where(Event.shop_id == bindparam("shop"), Event.status == PENDING,
               available_at <= bindparam("now", type_=Event.available_at.type))
        .order_by(available_at, Event.id)
        .limit(bindparam("rows", type_=Integer))
        .with_for_update(skip_locked=True)
    )


def _claimed(dialect: Any) -> Any:
    """The chosen events (parameter `ids`) held by `worker` until `lease`; each as its stored JSON text."""
    table = Event.__table__
    return (
        update(table)
        .where(among_param(table.c.id, "ids", dialect), table.c.status == PENDING)
        .values(status=SENDING, claimed_by=bindparam("worker"),
                lease_expires_at=bindparam("lease", type_=table.c.lease_expires_at.type),
                attempts=table.c.attempts + 1, last_attempt_at=bindparam("now", type_=table.c.last_attempt_at.type))
        .returning(table.c.id, table.c.shop_id, table.c.event_id, cast(table.c.payload, Text).label("payload"),
                   table.c.test, table.c.attempts, table.c.received_at)
    )


def owned_by(ids: list[int], worker_id: str) -> Any:
    return and_(among(Event.id, ids), Event.status == SENDING, Event.claimed_by == worker_id)


def renew_lease(ids: list[int], worker_id: str, now: datetime, lease_seconds: int) -> set[int]:
    """Extend this worker's lease on the events it still holds; return their ids (the rest were taken over)."""
    if not ids:
        return set()
    return set(db.session.execute(
        update(Event).where(owned_by(ids, worker_id))
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(Event.id)
        .execution_options(synchronize_session=False)
    ).scalars().all())


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
