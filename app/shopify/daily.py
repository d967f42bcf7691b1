"""Shopify's orders per calendar day of the shop, beside Pinbridge's own, so the page can say what is missing.

Days are whole days in the shop's IANA time zone (`shop { ianaTimezone }`). Counts come from the order
nodes a reconciliation read and, for recent days still without one, from `ordersCount`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select

from app import shop_state
from app.clock import database_now
from app.database import reading, writing
from app.models import Shop, ShopifyDailyOrders, db
from app.shopify.orders import OrderReader
from app.statements import upsert_insert

COUNTED_DAYS = 14  # the worker asks Shopify for the whole days of the last two weeks that have no count


def day_span(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants a calendar day of the zone begins and ends (23 or 25 hours long around DST)."""
    start = datetime.combine(day, clock_time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), clock_time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def whole_days(since: datetime, until: datetime, zone: tzinfo) -> list[date]:
    """The zone's calendar days whose whole span lies inside [since, until), oldest first."""
    day = since.astimezone(zone).date()
    if day_span(day, zone)[0] < since:
        day += timedelta(days=1)
    days = []
    while day_span(day, zone)[1] <= until:
        days.append(day)
        day += timedelta(days=1)
    return days


def count_by_day(created: Iterable[datetime | None], since: datetime, until: datetime, zone: tzinfo, *,
                 not_before: datetime | None = None) -> dict[date, int]:
    """Orders per calendar day of the shop, for the days a read of [since, until) covered completely.

    A window rarely starts or ends at the shop's midnight, and a day cut short at either end would look
    like missing orders, so only days whose whole span lies inside the window are counted (zero included:
    a whole day without orders is a count too). Days that began before `not_before` (the install) are left
    out as well: Pinbridge could not have received their earlier orders. An order whose creation time is
    unreadable leaves its day unknown, so then nothing is counted.
    """
    if not_before is not None and not_before > since:
        since = not_before
    days = whole_days(since, until, zone)
    counts = dict.fromkeys(days, 0)
    for moment in created:
        if moment is None:
            return {}
        local = moment.astimezone(zone).date()
        if local in counts:
            counts[local] += 1
    return counts


def created_at(node: dict[str, Any]) -> datetime | None:
    value = node.get("createdAt")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def remember_timezone(shop_id: int, name: str | None) -> ZoneInfo | None:
    """The shop's zone as Shopify just said it, stored when it is new or changed; None if it said none."""
    if not name:
        return None
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    with reading():
        state = shop_state.get(shop_id)
        changed = state is None or state.iana_timezone != name
    if changed:
        shop_state.set_timezone(shop_id, name)
    return zone


def store_day_counts(shop_id: int, counts: dict[date, int], zone: ZoneInfo, now: datetime) -> None:
    """Upsert whole-day counts: the latest count of a day replaces the one before.

    Counts made in another time zone are deleted: their days begin and end at other hours, so they compare
    with nothing once the shop's zone has changed (and, near midnight, one of them would fall outside the
    days counted again and linger).
    """
    if not counts:
        return
    table = ShopifyDailyOrders.__table__
    statement = upsert_insert(table, db.engine.dialect).values([
        {"shop_id": shop_id, "day": day, "orders": orders, "timezone": zone.key, "counted_at": now}
        for day, orders in sorted(counts.items())])
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "day"],
        set_={"orders": statement.excluded.orders, "timezone": statement.excluded.timezone,
              "counted_at": statement.excluded.counted_at})
    with writing():
        db.session.execute(delete(table).where(table.c.shop_id == shop_id, table.c.timezone != zone.key))
        db.session.execute(statement)


def count_missing_days(shop: Shop, reader: OrderReader, now: datetime, *, quiet_seconds: int = 0,
                       days: int = COUNTED_DAYS) -> int:
    """Ask Shopify (`ordersCount`, one request a day) for the recent whole days that have no count yet.

    Which days: the last `days` days of the shop before today, that began after the install and ended at
    least `quiet_seconds` ago (so Shopify's search holds their last orders), with no count in the shop's
    present zone. Once counted, a day is only counted again by a run whose window covers it whole. Returns
    how many days were stored; a count Shopify says is not exact is left out.
    """
    with reading():  # no read left open while Shopify answers
        shop_id = shop.id
        zone = shop_state.zone(shop_state.get(shop_id))
        today = now.astimezone(zone).date()
        settled = now - timedelta(seconds=quiet_seconds)
        wanted = []
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            start, end = day_span(day, zone)
            if end <= settled and (shop.installed_at is None or start >= shop.installed_at):
                wanted.append(day)
        if not wanted:
            return 0
        have = set(db.session.scalars(select(ShopifyDailyOrders.day).where(
            ShopifyDailyOrders.shop_id == shop.id, ShopifyDailyOrders.day.in_(wanted),
            ShopifyDailyOrders.timezone == zone.key)))
    counts: dict[date, int] = {}
    for day in (d for d in wanted if d not in have):
        count = reader.exact_count(*day_span(day, zone))
        if count is not None:
            counts[day] = count
    store_day_counts(shop_id, counts, zone, database_now())
    return len(counts)


