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
from sqlalchemy import case, func, or_, select

from . import explain, reconcile, retention, shop_state
from .crypto import UNREADABLE_TOKEN_MESSAGE
from .mapping.timing import PINTEREST_MAX_EVENT_AGE
from .models import (
    ConnectionStatus,
    DailyStat,
    DataRequest,
    Event,
    EventStatus,
    PinterestSettings,
    Shop,
    ShopifyDailyOrders,
    WorkerHeartbeat,
    db,
)

MAX_DAYS = 90
MAX_EVENTS = 200
LATENCY_SAMPLE = 10_000  # most recent deliveries used for the percentiles
COVERAGE_KEYS = ("em", "ph", "ip_ua", "click_id", "address")
PURCHASE_SOURCES = ("order", "checkout", "reconcile")
STATUSES = tuple(s.value for s in EventStatus)


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


def _pinbridge_by_order_day(shop_id: int, day_list: list[date], zone: tzinfo) -> dict[date, int]:
    """Purchases Pinbridge has per day of the order itself (`occurred_at`: the order's processed or created
    time), which is how Shopify dates its count, so an order recovered the next morning, or received a
    second after midnight, still meets Shopify's count on its own day.

    Each day's exact UTC span (23 or 25 hours around DST, half-hour zones included) goes into one CASE, so
    both databases place every order without time-zone support in SQL.
    """
    spans = [reconcile.day_span(day, zone) for day in day_list]
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
        known = reconcile.day_span(day, zone)[0] >= kept_from
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
        "counted_at": _iso(max((s.counted_at for s in counted.values()), default=None)),
    }


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
    """Everything `GET /api/stats` returns; days are the shop's calendar days (UTC until its zone is known)."""
    zone = shop_state.zone(shop_state.get(shop_id))
    rows = daily(shop_id, days, now, zone)
    _, start = _window(now, days, zone)
    totals = {key: sum(r[key] for r in rows) for key in
              ("orders_received", "delivered", "failed", "skipped", "pending", "recovered")}
    shopify = add_shopify_counts(shop_id, rows, now, zone)
    return {"days": days, "timezone": str(zone), "daily": rows, "totals": totals, "shopify": shopify,
            "coverage": coverage(shop_id, start), "latency": latency(shop_id, start)}


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
        "reason": explain.event_reason(ev.status, ev.error_code, ev.error_message)
        or explain.skip_reason(ev.skip_reason),
        "pinterest_message": ev.error_message if ev.source != "verify" else None,
        "warning": ev.warning_message,
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


STUCK_AFTER = 120  # seconds an order may sit past its send time before the page stops saying "working"
FAILING_AFTER = 60  # seconds of continuous Pinterest failures before the page says "delayed"
HEARTBEAT_STALE = 120  # seconds without a worker heartbeat before sending is called stopped
EXPIRY_WARNING = 24 * 3600  # seconds before expiry the page starts warning
WAITING = (EventStatus.PENDING.value, EventStatus.SENDING.value)


def _waiting_facts(shop_id: int, now: datetime, max_age: int) -> dict[str, Any]:
    """Orders still to be sent: how many, since when, how many are overdue, how many expire soon."""
    purchase = (Event.shop_id == shop_id, Event.status.in_(WAITING), Event.source.in_(PURCHASE_SOURCES))
    count, oldest = db.session.execute(select(func.count(), func.min(Event.received_at)).where(*purchase)).one()
    overdue = db.session.scalar(select(func.count()).where(
        *purchase, Event.available_at <= now - timedelta(seconds=STUCK_AFTER)))
    warn_from = now - timedelta(seconds=max(0, max_age - EXPIRY_WARNING))
    # Pinterest's own window counts from the order's date: an order received late expires sooner.
    window_from = now - timedelta(seconds=max(0, PINTEREST_MAX_EVENT_AGE - EXPIRY_WARNING))
    expiring, first, first_dated = db.session.execute(
        select(func.count(), func.min(Event.received_at), func.min(Event.occurred_at)).where(
            *purchase, or_(Event.received_at <= warn_from, Event.occurred_at <= window_from))).one()
    ends = [when for when in (first + timedelta(seconds=max_age) if first else None,
                              first_dated + timedelta(seconds=PINTEREST_MAX_EVENT_AGE) if first_dated else None)
            if when is not None]
    return {"waiting": int(count or 0), "oldest_waiting_at": oldest, "overdue": int(overdue or 0),
            "expiring": {"count": int(expiring or 0), "at": _iso(min(ends)) if expiring and ends else None}}


def _heartbeat(now: datetime) -> datetime | None:
    return db.session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))


def health(settings: PinterestSettings | None, shop_id: int, now: datetime,
           max_age: int | None = None) -> dict[str, Any]:
    """The banner, computed from what happened: a state, a sentence, the next step, and the numbers."""
    max_age = max_age or int(current_app.config["EVENT_MAX_AGE_SECONDS"])
    facts = _waiting_facts(shop_id, now, max_age)
    state = shop_state.get(shop_id)
    base = {"waiting": facts["waiting"], "oldest_waiting_at": _iso(facts["oldest_waiting_at"]),
            "expiring": facts["expiring"], "max_age_hours": max_age // 3600,
            "last_success_at": _iso(state.last_success_at if state else None),
            "failure_class": state.failure_class if state else None,
            "failing_since": _iso(state.failing_since if state else None),
            "pinterest_message": None, "action": None}
    return {**base, **decide(settings, state, facts, _heartbeat(now), now)}


def _held(facts: dict[str, Any]) -> str:
    n = facts["waiting"]
    return f"{n} order{'s' if n != 1 else ''}"


def decide(settings: PinterestSettings | None, state: Any, facts: dict[str, Any],
           heartbeat: datetime | None, now: datetime) -> dict[str, Any]:
    """Pick the one state the merchant must know about first (pure over the facts passed in)."""
    waiting = facts["waiting"]
    if settings is None or not settings.configured:
        return {"state": "not_configured", "heading": "Connect Pinterest to start",
                "message": "Add your Pinterest ad account id and conversion access token. Orders are "
                           "recorded meanwhile" + (f": {_held(facts)} will be sent once you connect."
                                                   if waiting else "."),
                "action": {"label": "Connect Pinterest", "target": "ad_account_id"}}
    failure = state.failure_class if state else None
    if settings.connection_status == ConnectionStatus.UNREADABLE.value:
        kept = (f"{_held(facts)} are waiting and will be sent once you save it." if waiting
                else "New orders will wait and be sent once you save it.")
        return {"state": "paused", "reason": "unreadable", "heading": "Sending paused",
                "message": f"{settings.connection_message or UNREADABLE_TOKEN_MESSAGE} {kept}",
                "action": {"label": "Paste the token again", "target": "access_token"}}
    if settings.paused:
        reason = failure if failure in ("token", "ad_account") else "token"
        kept = (f"{_held(facts)} are waiting and will be sent once this is fixed." if waiting
                else "New orders will wait and be sent once this is fixed.")
        sentence, _ = explain.FAILURE_TEXT[reason]
        if reason == "ad_account":
            sentence = (f"Your access token works, but Pinterest doesn't allow it to send conversions for ad "
                        f"account {settings.ad_account_id}. This usually means the ad account id is wrong.")
        target = "access_token" if reason == "token" else "ad_account_id"
        label = "Update access token" if reason == "token" else "Check ad account id"
        return {"state": "paused", "reason": reason, "heading": "Sending paused", "message": f"{sentence} {kept}",
                "pinterest_message": settings.connection_message or (state.failure_message if state else None),
                "action": {"label": label, "target": target}}
    if not settings.enabled:
        held = (f"{_held(facts)} received while off are held and will be sent when you turn it back on."
                if waiting else "Orders received while off are held and sent when you turn it back on.")
        return {"state": "disabled", "heading": "Sending is off",
                "message": f"Pinbridge is not sending orders to Pinterest. {held}",
                "action": {"label": "Turn sending on", "target": "enabled"}}
    failing = (state is not None and state.consecutive_failures and failure not in (None, "token", "ad_account")
               and state.failing_since is not None
               and (now - state.failing_since).total_seconds() >= FAILING_AFTER)
    stalled = facts["overdue"] > 0
    if failing or stalled:
        if failing:
            sentence, step = explain.FAILURE_TEXT.get(failure or "pinterest", explain.FAILURE_TEXT["pinterest"])
            since = state.failing_since
        else:
            beat_ok = heartbeat is not None and (now - heartbeat).total_seconds() < HEARTBEAT_STALE
            sentence = ("Sending is running late on Pinbridge's side." if beat_ok
                        else "Pinbridge's sending service isn't running right now.")
            step = "Nothing to do: orders are kept and will be sent once it catches up."
            since = facts["oldest_waiting_at"]
        verb = "is" if waiting == 1 else "are"
        wait = (f"{_held(facts)} {verb} waiting and will be sent automatically." if waiting
                else "New orders will wait and be sent automatically.")
        return {"state": "delayed", "heading": "Sending delayed", "since": _iso(since),
                "message": f"{sentence} {wait}", "next_step": None if failing else step,
                "pinterest_message": state.failure_message if failing and state else None}
    if state is not None and state.last_success_at is not None:
        return {"state": "working", "heading": "Working",
                "message": "Orders are reaching Pinterest." + (
                    f" {_held(facts)} about to be sent." if waiting else "")}
    if settings.connection_status == "ok":
        return {"state": "working", "heading": "Connected",
                "message": "Pinterest accepted your settings. Orders are sent as soon as they come in."}
    return {"state": "waiting", "heading": "Check your connection",
            "message": "Send a test event to check that Pinterest accepts your ad account id and token.",
            "action": {"label": "Send test event", "target": "verify"}}


def setup_steps(shop_id: int, settings: PinterestSettings | None) -> dict[str, Any]:
    """The setup guide, each step checked from real data (the pixel step is checked by the page)."""
    tested = db.session.scalar(select(func.count()).where(
        Event.shop_id == shop_id, Event.source == "verify", Event.status == EventStatus.DELIVERED.value))
    delivered = db.session.scalar(select(func.count()).where(
        Event.shop_id == shop_id, Event.source.in_(PURCHASE_SOURCES),
        Event.status == EventStatus.DELIVERED.value, Event.test.is_(False)))
    if not delivered:
        state = shop_state.get(shop_id)
        delivered = 1 if state is not None and state.last_success_at is not None else 0
    return {"connected": bool(settings is not None and settings.configured),
            "test_event": bool(tested) or bool(settings is not None and settings.connection_status == "ok"),
            "first_order": bool(delivered)}
