"""Dashboard numbers for one shop: per-day counts, match-quality coverage, delivery latency, recent events.

Days are calendar days in the shop's time zone (UTC until reconciliation has read it from Shopify) of when
Pinbridge received the purchase. Beside them, per day, Shopify's own order count (`shopify_daily_orders`,
whole days only) and how many orders Pinbridge has among those Shopify dates to that day. Test events sent
from the settings page (source `verify`) appear in the recent-events list but never in the counts.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select

from app import shop_state
from app.merchant import explain
from app.models import (
    DailyStat,
    DataRequest,
    Event,
    EventStatus,
    PinterestSettings,
    Shop,
    ShopifyDailyOrders,
    db,
    now_utc,
)
from app.ops import retention
from app.shopify.daily import day_span
from app.vocabulary import PURCHASE_SOURCES, EventSource

MAX_DAYS = 90
MAX_EVENTS = 200
LATENCY_SAMPLE = 10_000  # most recent deliveries used for the percentiles
COVERAGE_KEYS = ("em", "ph", "ip_ua", "click_id", "address")
STATUSES = tuple(s.value for s in EventStatus)
WAITING_STATUSES = (EventStatus.PENDING.value, EventStatus.SENDING.value)
LATE_AFTER = 120  # seconds past its send time before an order is called late (the status's STUCK_AFTER)


def _hour(column: Any) -> Any:
    """The UTC hour of a timestamp column as 'YYYY-MM-DD HH', on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)  # SQLite stores naive UTC


def _window(now: datetime, days: int, tz: tzinfo | None = None) -> tuple[list[date], datetime]:
    """The last `days` calendar days in the shop's zone, and the instant the first one began."""
    local = now.astimezone(tz or UTC)
    first = local.date() - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=tz or UTC)
    return [first + timedelta(days=i) for i in range(days)], start.astimezone(UTC)


def daily(shop_id: int, days: int, now: datetime, tz: tzinfo | None = None) -> list[dict[str, Any]]:
    """One row per day in the shop's zone: orders received, delivered / waiting / failed / skipped.

    Counted per UTC hour in SQL, then each hour is placed in the shop's day, so both databases give the
    same answer without time-zone support in SQLite (zones off by half an hour round to the hour).
    """
    zone = tz or UTC
    day_list, start = _window(now, days, zone)
    rows = {d.isoformat(): {"day": d.isoformat(), "orders_received": 0, "delivered": 0, "failed": 0,
                            "skipped": 0, "pending": 0, "recovered": 0} for d in day_list}
    hour = _hour(Event.received_at)
    query = (
        select(hour, Event.status, Event.source, func.count())
        .where(Event.shop_id == shop_id, Event.received_at >= start - timedelta(hours=1),
               Event.source.in_(PURCHASE_SOURCES))
        .group_by(hour, Event.status, Event.source)
    )
    for key, status, source, count in db.session.execute(query):
        moment = datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC) + timedelta(minutes=30)
        row = rows.get(moment.astimezone(zone).date().isoformat())
        if row is None:
            continue
        row["orders_received"] += count
        bucket = EventStatus.PENDING if status == EventStatus.SENDING else status
        if bucket in row:
            row[bucket] += count
        if source == EventSource.RECONCILE:
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


def _pinbridge_by_order_day(shop_id: int, day_list: list[date], zone: tzinfo) -> dict[date, int]:
    """Purchases Pinbridge has per day of the order itself (`occurred_at`: the order's processed or created
    time), which is how Shopify dates its count, so an order recovered the next morning, or received a
    second after midnight, still meets Shopify's count on its own day.

    Each day's exact UTC span (23 or 25 hours around DST, half-hour zones included) goes into one CASE, so
    both databases place every order without time-zone support in SQL.
    """
    spans = [day_span(day, zone) for day in day_list]
    index = case(*((Event.occurred_at < end, i) for i, (_start, end) in enumerate(spans)), else_=-1)
    query = (
        select(index.label("day_index"), func.count())
        .where(Event.shop_id == shop_id, Event.source.in_(PURCHASE_SOURCES),
               Event.occurred_at >= spans[0][0], Event.occurred_at < spans[-1][1])
        .group_by("day_index")
    )
    return {day_list[i]: count for i, count in db.session.execute(query) if 0 <= i < len(day_list)}


def add_shopify_counts(shop_id: int, rows: list[dict[str, Any]], now: datetime, zone: tzinfo) -> dict[str, Any]:
    """Put Shopify's count beside each day's row, and say in sum how complete Pinbridge is.

    Per day: `shopify_orders` (None until a whole-day count exists in the shop's present zone),
    `pinbridge_orders` (None for days whose events retention may already have deleted) and `missing`.
    The sum compares totals over the counted days, so an order dated on one side of midnight by Shopify
    and the other by its processed time does not show up as missing.
    """
    day_list = [date.fromisoformat(r["day"]) for r in rows]
    key = getattr(zone, "key", str(zone))
    counted = {r.day: r for r in db.session.scalars(select(ShopifyDailyOrders).where(
        ShopifyDailyOrders.shop_id == shop_id, ShopifyDailyOrders.day.in_(day_list),
        ShopifyDailyOrders.timezone == key))}
    kept_from = retention.event_cutoff(now, int(current_app.config["EVENT_RETENTION_DAYS"]))
    ours = _pinbridge_by_order_day(shop_id, day_list, zone)
    compared: list[dict[str, Any]] = []
    for day, row in zip(day_list, rows, strict=True):
        stat = counted.get(day)
        known = day_span(day, zone)[0] >= kept_from
        row["shopify_orders"] = stat.orders if stat else None
        row["pinbridge_orders"] = ours.get(day, 0) if known else None
        row["missing"] = (max(0, stat.orders - row["pinbridge_orders"])
                          if stat and row["pinbridge_orders"] is not None else None)
        if row["missing"] is not None:
            compared.append(row)
    shop = db.session.get(Shop, shop_id)
    shopify_total = sum(r["shopify_orders"] for r in compared)
    received = sum(r["pinbridge_orders"] for r in compared)
    return {
        "connected": bool(shop and shop.shopify_token_enc),
        "days_counted": len(compared),
        "first_day": compared[0]["day"] if compared else None,
        "last_day": compared[-1]["day"] if compared else None,
        "orders": shopify_total, "received": received, "missing": max(0, shopify_total - received),
        "counted_at": iso(max((s.counted_at for s in counted.values()), default=None)),
    }


def coverage(shop_id: int, start: datetime) -> dict[str, Any]:
    """Share of delivered events carrying each identifier Pinterest matches on."""
    query = (
        select(Event.match_keys, func.count())
        .where(Event.shop_id == shop_id, Event.status == EventStatus.DELIVERED,
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
        .where(Event.shop_id == shop_id, Event.status == EventStatus.DELIVERED,
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
    """Everything `GET /api/stats` returns; days are the shop's calendar days (UTC until its zone is known)."""
    zone = shop_state.zone(shop_state.get(shop_id))
    rows = daily(shop_id, days, now, zone)
    _, start = _window(now, days, zone)
    totals = {key: sum(r[key] for r in rows) for key in
              ("orders_received", "delivered", "failed", "skipped", "pending", "recovered")}
    shopify = add_shopify_counts(shop_id, rows, now, zone)
    return {"days": days, "timezone": str(zone), "daily": rows, "totals": totals, "shopify": shopify,
            "coverage": coverage(shop_id, start), "latency": latency(shop_id, start)}


def recent_events(shop_id: int, status: str | None, limit: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """The newest events without personal data: ids, order name, status, value, the reason and next step."""
    query = select(Event).where(Event.shop_id == shop_id)
    if status == EventStatus.PENDING.value:  # the page's "Waiting" filter: also those being sent right now
        query = query.where(Event.status.in_((EventStatus.PENDING.value, EventStatus.SENDING.value)))
    elif status:
        query = query.where(Event.status == status)
    query = query.order_by(Event.received_at.desc(), Event.id.desc()).limit(limit)
    settings = db.session.scalar(select(PinterestSettings).where(PinterestSettings.shop_id == shop_id))
    hold = "paused" if settings is not None and settings.paused else (
        "off" if settings is not None and not settings.enabled else None)
    context = {"hold": hold, "now": now or now_utc(), "zone": shop_state.zone(shop_state.get(shop_id))}
    return [_event_view(ev, context) for ev in db.session.execute(query).scalars()]


def _event_view(ev: Event, context: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "event_id": ev.event_id,
        "order_name": ev.order_name,
        "source": ev.source,
        "status": ev.status,
        "test": bool(ev.test),
        "value": ev.value,
        "currency": ev.currency,
        "message": ev.error_message or ev.skip_reason or ev.warning_message,
        "reason": explain.event_reason(ev.status, ev.error_code, ev.error_message)
        or explain.skip_reason(ev.skip_reason),
        "next_step": None,
        "waiting": None,
        "pinterest_message": ev.error_message if ev.source != EventSource.VERIFY else None,
        "warning": ev.warning_message,
        "error_code": ev.error_code,
        "match_keys": (ev.match_keys or "").split(),
        "attempts": ev.attempts,
        "received_at": iso(ev.received_at),
        "delivered_at": iso(ev.delivered_at),
        "next_attempt_at": iso(ev.available_at) if ev.status == EventStatus.PENDING else None,
    }
    if ev.status == EventStatus.FAILED.value and ev.source != "verify":
        view["next_step"] = explain.failed_step(ev.error_code, ev.error_message, ev.event_id)
    elif ev.status == EventStatus.SKIPPED.value:
        view["next_step"] = explain.skip_step(ev.skip_reason)
    elif ev.status in WAITING_STATUSES:
        available = ev.available_at
        due_later = available is not None and available > context["now"]
        overdue = available is not None and available <= context["now"] - timedelta(seconds=LATE_AFTER)
        code = explain.waiting_code(hold=context["hold"], status=ev.status, source=ev.source,
                                    error_code=ev.error_code, attempts=ev.attempts or 0, due_in_future=due_later,
                                    overdue=overdue)
        at = explain.local_time(available, context["zone"]) if available is not None else ""
        view["waiting"] = code
        view["reason"] = explain.WAITING_TEXT[code].format(at=at)
    return view


def data_requests(shop_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Customer data requests Shopify forwarded, newest first, for the merchant to act on."""
    query = (select(DataRequest).where(DataRequest.shop_id == shop_id)
             .order_by(DataRequest.received_at.desc(), DataRequest.id.desc()).limit(limit))
    return [{"received_at": iso(r.received_at), "orders_requested": r.orders_requested,
             "events_held": r.events_held} for r in db.session.execute(query).scalars()]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


