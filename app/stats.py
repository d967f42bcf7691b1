"""Dashboard numbers for one shop: per-day counts, match-quality coverage, delivery latency, recent events.

Days are UTC calendar days of when Pinbridge received the purchase. Test events sent from the settings
page (source `verify`) appear in the recent-events list but never in the counts.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from .models import DailyStat, DataRequest, Event, EventStatus, PinterestSettings, db

MAX_DAYS = 90
MAX_EVENTS = 200
LATENCY_SAMPLE = 10_000  # most recent deliveries used for the percentiles
COVERAGE_KEYS = ("em", "ph", "ip_ua", "click_id", "address")
PURCHASE_SOURCES = ("order", "checkout", "reconcile")
STATUSES = tuple(s.value for s in EventStatus)
DELAYED_AFTER = 15 * 60  # seconds an event may wait past its send time before the page calls it delayed


def _day(column: Any) -> Any:
    """The UTC calendar day of a timestamp column as 'YYYY-MM-DD', on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)  # SQLite stores naive UTC


def _window(now: datetime, days: int) -> tuple[list[date], datetime]:
    today = now.date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    return [first + timedelta(days=i) for i in range(days)], start


def daily(shop_id: int, days: int, now: datetime) -> list[dict[str, Any]]:
    """One row per day: orders received, events delivered / failed / skipped / pending, recovered."""
    day_list, start = _window(now, days)
    rows = {d.isoformat(): {"day": d.isoformat(), "orders_received": 0, "delivered": 0, "failed": 0,
                            "skipped": 0, "pending": 0, "recovered": 0} for d in day_list}
    day = _day(Event.received_at)
    query = (
        select(day, Event.status, Event.source, func.count())
        .where(Event.shop_id == shop_id, Event.received_at >= start, Event.source.in_(PURCHASE_SOURCES))
        .group_by(day, Event.status, Event.source)
    )
    for key, status, source, count in db.session.execute(query):
        row = rows.get(key)
        if row is None:
            continue
        row["orders_received"] += count
        bucket = "pending" if status == EventStatus.SENDING.value else status
        if bucket in row:
            row[bucket] += count
        if source == "reconcile":
            row["recovered"] += count
    _fill_from_daily_stats(shop_id, day_list, rows)
    return list(rows.values())


def _fill_from_daily_stats(shop_id: int, day_list: list[date], rows: dict[str, dict[str, Any]]) -> None:
    """Add the counts of purged events: retention folds them into `daily_stats` as it deletes them."""
    kept = db.session.execute(
        select(DailyStat).where(DailyStat.shop_id == shop_id, DailyStat.day >= day_list[0])
    ).scalars()
    for stat in kept:
        row = rows.get(stat.day.isoformat())
        if row is not None:
            for key in ("orders_received", "delivered", "failed", "skipped", "recovered"):
                row[key] += getattr(stat, key) or 0


def coverage(shop_id: int, start: datetime) -> dict[str, Any]:
    """Share of delivered events carrying each identifier Pinterest matches on."""
    query = (
        select(Event.match_keys, func.count())
        .where(Event.shop_id == shop_id, Event.status == EventStatus.DELIVERED.value,
               Event.received_at >= start, Event.source.in_(PURCHASE_SOURCES))
        .group_by(Event.match_keys)
    )
    totals = dict.fromkeys(COVERAGE_KEYS, 0)
    delivered = 0
    for keys, count in db.session.execute(query):
        delivered += count
        for key in set((keys or "").split()) & set(COVERAGE_KEYS):
            totals[key] += count
    shares = {key: round(totals[key] / delivered, 4) if delivered else None for key in COVERAGE_KEYS}
    return {"delivered": delivered, "share": shares}


def latency(shop_id: int, start: datetime) -> dict[str, Any]:
    """Seconds from receipt to Pinterest's acceptance: median and 95th percentile."""
    query = (
        select(Event.received_at, Event.delivered_at)
        .where(Event.shop_id == shop_id, Event.status == EventStatus.DELIVERED.value,
               Event.received_at >= start, Event.delivered_at.is_not(None),
               Event.source.in_(PURCHASE_SOURCES))
        .order_by(Event.delivered_at.desc())
        .limit(LATENCY_SAMPLE)
    )
    seconds = sorted(max(0.0, (done - got).total_seconds()) for got, done in db.session.execute(query) if done)
    return {"p50_seconds": _percentile(seconds, 0.50), "p95_seconds": _percentile(seconds, 0.95),
            "samples": len(seconds)}


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(1, math.ceil(q * len(values)))
    return round(values[rank - 1], 1)


def summary(shop_id: int, days: int, now: datetime) -> dict[str, Any]:
    """Everything `GET /api/stats` returns."""
    rows = daily(shop_id, days, now)
    _, start = _window(now, days)
    totals = {key: sum(r[key] for r in rows) for key in
              ("orders_received", "delivered", "failed", "skipped", "pending", "recovered")}
    return {"days": days, "daily": rows, "totals": totals, "coverage": coverage(shop_id, start),
            "latency": latency(shop_id, start)}


def recent_events(shop_id: int, status: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest events without personal data: ids, order name, status, value, Pinterest's words."""
    query = select(Event).where(Event.shop_id == shop_id)
    if status:
        query = query.where(Event.status == status)
    query = query.order_by(Event.received_at.desc(), Event.id.desc()).limit(limit)
    return [_event_view(ev) for ev in db.session.execute(query).scalars()]


def _event_view(ev: Event) -> dict[str, Any]:
    return {
        "event_id": ev.event_id,
        "order_name": ev.order_name,
        "source": ev.source,
        "status": ev.status,
        "test": bool(ev.test),
        "value": ev.value,
        "currency": ev.currency,
        "message": ev.error_message or ev.skip_reason or ev.warning_message,
        "error_code": ev.error_code,
        "match_keys": (ev.match_keys or "").split(),
        "attempts": ev.attempts,
        "received_at": _iso(ev.received_at),
        "delivered_at": _iso(ev.delivered_at),
        "next_attempt_at": _iso(ev.available_at) if ev.status == EventStatus.PENDING.value else None,
    }


def data_requests(shop_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Customer data requests Shopify forwarded, newest first, for the merchant to act on."""
    query = (select(DataRequest).where(DataRequest.shop_id == shop_id)
             .order_by(DataRequest.received_at.desc(), DataRequest.id.desc()).limit(limit))
    return [{"received_at": _iso(r.received_at), "orders_requested": r.orders_requested,
             "events_held": r.events_held} for r in db.session.execute(query).scalars()]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def health(settings: PinterestSettings | None, shop_id: int, now: datetime) -> dict[str, Any]:
    """The banner: a state (not_configured, paused, disabled, delayed, working, waiting) and a sentence."""
    if settings is None or not settings.configured:
        return {"state": "not_configured", "message": "Enter your Pinterest ad account id and conversion "
                                                      "access token to start sending."}
    if settings.paused:
        return {"state": "paused",
                "message": f'Pinterest rejected the token: "{(settings.connection_message or "").rstrip(".")}". '
                           "Orders are kept and will be sent once you save a new token."}
    if not settings.enabled:
        return {"state": "disabled",
                "message": "Sending is turned off: new orders are recorded but not sent."}
    waiting_statuses = [EventStatus.PENDING.value, EventStatus.SENDING.value]
    late = now - timedelta(seconds=DELAYED_AFTER)
    count, oldest = db.session.execute(
        select(func.count(), func.min(Event.received_at))
        .where(Event.shop_id == shop_id, Event.status.in_(waiting_statuses), Event.available_at <= late)
    ).one()
    if count:
        reason = db.session.scalar(
            select(Event.error_message)
            .where(Event.shop_id == shop_id, Event.status.in_(waiting_statuses),
                   Event.error_message.is_not(None))
            .order_by(Event.last_attempt_at.desc()).limit(1))
        message = f"Delivery delayed: {count} event(s) waiting since {_iso(oldest)}."
        return {"state": "delayed", "message": message + (f" Last answer: {reason}" if reason else "")}
    if settings.connection_status == "ok":
        return {"state": "working", "message": "Orders are reaching Pinterest."}
    return {"state": "waiting",
            "message": "Connected. Send a test event to confirm Pinterest accepts the token."}
