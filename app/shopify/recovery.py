"""Recover one day: the merchant asks, the worker reads that day's orders from Shopify and sends the missing.

The page offers it for a day where Shopify has more orders than Pinbridge received. A request is one row
(`day_recoveries`) that goes requested → running → done | failed, each step a guarded update here; the
worker runs one request at a time with the same `reconcile_shop` as its hourly run, so Shopify's rate
limits are honoured the same way, and the web request never waits on Shopify. The page polls the row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app import shop_state
from app.database import discard, writing
from app.models import DayRecovery, Shop, db
from app.shopify.daily import day_span
from app.shopify.orders import AdminApiError
from app.shopify.reconcile import MAX_LOOKBACK, make_reader, reconcile_shop

logger = logging.getLogger(__name__)

REQUESTED, RUNNING, DONE, FAILED = "requested", "running", "done", "failed"
OPEN = (REQUESTED, RUNNING)
CHECK_EVERY = 5.0  # seconds between looks for requests: the merchant is watching the page
STALE_AFTER = 600  # seconds a run may take before another worker takes it over (its holder died)
SHOWN_DAYS = 14  # the page shows the latest request of each day it charts


class NotRecoverable(ValueError):
    """The day cannot be recovered; `field` and `message` say why, for a 422."""


def recoverable_span(day: date, zone: Any, now: datetime) -> tuple[datetime, datetime]:
    """The part of `day` that can still be sent: from its start (or 7 days ago) to its end (or now)."""
    start, end = day_span(day, zone)
    if start > now:
        raise NotRecoverable("This day hasn't started yet.")
    if end <= now - MAX_LOOKBACK:
        raise NotRecoverable("Pinterest accepts orders up to 7 days old, so this day can't be sent any more.")
    return max(start, now - MAX_LOOKBACK), min(end, now)


def request(shop: Shop, day: date, now: datetime) -> DayRecovery:
    """The day's open request, or a new one; in the caller's `writing()` block."""
    recoverable_span(day, shop_state.zone(shop_state.get(shop.id)), now)
    existing = db.session.scalar(select(DayRecovery).where(
        DayRecovery.shop_id == shop.id, DayRecovery.day == day, DayRecovery.status.in_(OPEN)))
    if existing is not None:
        return existing
    row = DayRecovery(shop_id=shop.id, day=day, status=REQUESTED, requested_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def _claim(now: datetime) -> int | None:
    """Take the oldest waiting request (or one whose runner died) in one guarded update."""
    stale = now - timedelta(seconds=STALE_AFTER)
    with writing():
        candidate = db.session.scalar(
            select(DayRecovery.id)
            .where((DayRecovery.status == REQUESTED)
                   | ((DayRecovery.status == RUNNING) & (DayRecovery.started_at < stale)))
            .order_by(DayRecovery.requested_at, DayRecovery.id).limit(1))
        if candidate is None:
            return None
        claimed = db.session.execute(
            update(DayRecovery)
            .where(DayRecovery.id == candidate,
                   (DayRecovery.status == REQUESTED)
                   | ((DayRecovery.status == RUNNING) & (DayRecovery.started_at < stale)))
            .values(status=RUNNING, started_at=now)
            .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return candidate if claimed else None


def _finish(recovery_id: int, now: datetime, **values: Any) -> None:
    with writing():
        db.session.execute(
            update(DayRecovery).where(DayRecovery.id == recovery_id, DayRecovery.status == RUNNING)
            .values(finished_at=now, **values).execution_options(synchronize_session=False))


def run_one(now: datetime, *, sleep: Callable[[float], Any] = time.sleep) -> bool:
    """Run the next request, if any; True when one was run (done or failed)."""
    recovery_id = _claim(now)
    if recovery_id is None:
        return False
    row = db.session.get(DayRecovery, recovery_id)
    shop = db.session.get(Shop, row.shop_id) if row is not None else None
    if row is None or shop is None:
        return False
    try:
        since, until = recoverable_span(row.day, shop_state.zone(shop_state.get(shop.id)), now)
        summary = reconcile_shop(shop, since, until=until, reader=make_reader(shop, sleep=sleep))
    except NotRecoverable as exc:
        discard()
        _finish(recovery_id, now, status=FAILED, error_code="too_old", error_message=str(exc))
        return True
    except AdminApiError as exc:
        discard()
        logger.warning("day recovery failed", extra={"action": "recovery_failed", "shop": shop.domain,
                                                     "code": exc.code, "reason": exc.message})
        _finish(recovery_id, now, status=FAILED, error_code=exc.code[:40], error_message=exc.message)
        return True
    _finish(recovery_id, now, status=DONE, seen=summary.seen, found=summary.enqueued)
    logger.info("day recovered", extra={"action": "recovery_done", "shop": shop.domain,
                                        "day": row.day.isoformat(), **summary.as_dict()})
    return True


class Recoveries:
    """The worker's periodic job: run the waiting requests, one after another."""

    def __init__(self, *, sleep: Callable[[float], Any] = time.sleep, limit: int = 5) -> None:
        self.sleep, self.limit = sleep, limit

    def __call__(self, now: datetime) -> int:
        done = 0
        try:
            while done < self.limit and run_one(now, sleep=self.sleep):
                done += 1
        finally:
            discard()
        return done


def view(row: DayRecovery) -> dict[str, Any]:
    """What the page shows about a request (no identifiers beyond the day)."""
    return {"day": row.day.isoformat(), "status": row.status, "seen": row.seen, "found": row.found,
            "error": row.error_code, "message": _failure_text(row) if row.status == FAILED else None,
            "requested_at": _iso(row.requested_at), "finished_at": _iso(row.finished_at)}


def _failure_text(row: DayRecovery) -> str:
    if row.error_code in ("unauthorized", "no_token"):
        return "Pinbridge can't read your orders in Shopify. Reload the page to reconnect, then try again."
    if row.error_code == "too_old":
        return row.error_message or "This day can't be recovered any more."
    return "Shopify didn't answer. Try again in a few minutes."


def recent(shop_id: int, now: datetime) -> list[dict[str, Any]]:
    """The latest request of each of the last days, oldest day first."""
    since = (now - timedelta(days=SHOWN_DAYS + 1)).date()
    rows = db.session.scalars(select(DayRecovery).where(DayRecovery.shop_id == shop_id, DayRecovery.day >= since)
                              .order_by(DayRecovery.day, DayRecovery.requested_at, DayRecovery.id))
    latest = {row.day: row for row in rows}
    return [view(row) for row in latest.values()]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
