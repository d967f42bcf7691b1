"""Shopify's own order count per day of the shop: which days a read covers whole, in the shop's time zone,
stored as complete days only, asked with `ordersCount` for the days still missing, compared on the page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from app import crypto, shop_state
from app.database import reading
from app.merchant.stats import summary
from app.models import Shop, ShopifyDailyOrders, db, now_utc
from app.ops import retention
from app.shopify.daily import count_by_day, count_missing_days, day_span, store_day_counts, whole_days
from app.shopify.reconcile import make_reader
from tests.conftest import API_KEY, API_SECRET, SHOP
from tests.event_rows import add_event
from tests.standins.shopify_graphql import ShopifyAdminStandin

BRISBANE = ZoneInfo("Australia/Brisbane")  # UTC+10 all year
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+5:30
ZONE_UTC = ZoneInfo("UTC")
TOKEN = "shpat_fake_valid_0001"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


# -- pure: days and their spans -----------------------------------------------------------------------
@pytest.mark.parametrize("day, zone, start, hours", [
    (date(2026, 11, 20), BRISBANE, utc(2026, 11, 19, 14), 24),   # Brisbane's day starts at 14:00 UTC
    (date(2026, 11, 20), KOLKATA, utc(2026, 11, 19, 18, 30), 24),
    (date(2026, 3, 8), NEW_YORK, utc(2026, 3, 8, 5), 23),        # clocks go forward: a 23-hour day
    (date(2026, 11, 1), NEW_YORK, utc(2026, 11, 1, 4), 25),      # clocks go back: a 25-hour day
    (date(2026, 11, 20), UTC, utc(2026, 11, 20), 24),
])
def test_a_day_of_the_shop_spans_its_own_midnights(day: date, zone: ZoneInfo, start: datetime, hours: int) -> None:
    begins, ends = day_span(day, zone)
    assert begins == start and ends - begins == timedelta(hours=hours)


@pytest.mark.parametrize("since, until, expected", [
    # A window from Brisbane midnight to Brisbane midnight covers exactly those days.
    (local(BRISBANE, 2026, 11, 18), local(BRISBANE, 2026, 11, 20), [date(2026, 11, 18), date(2026, 11, 19)]),
    # Partial first and last days are not whole: only the 19th lies inside.
    (local(BRISBANE, 2026, 11, 18, 0, 1), local(BRISBANE, 2026, 11, 20, 23, 59),
     [date(2026, 11, 19)]),
    # The usual automatic window (a day or two, starting mid-morning) covers one whole day at most.
    (local(BRISBANE, 2026, 11, 18, 9, 30), local(BRISBANE, 2026, 11, 19, 23, 50), []),
    (local(BRISBANE, 2026, 11, 18, 9, 30), local(BRISBANE, 2026, 11, 20, 9, 20), [date(2026, 11, 19)]),
    (local(BRISBANE, 2026, 11, 19, 3), local(BRISBANE, 2026, 11, 19, 4), []),
])
def test_only_days_the_window_covers_whole_are_counted(since: datetime, until: datetime,
                                                       expected: list[date]) -> None:
    assert whole_days(since.astimezone(UTC), until.astimezone(UTC), BRISBANE) == expected


def test_orders_land_on_the_shop_s_own_day() -> None:
    since, until = local(BRISBANE, 2026, 11, 18), local(BRISBANE, 2026, 11, 21)
    created = [
        local(BRISBANE, 2026, 11, 18, 23, 30),   # 13:30 UTC on the 18th: Brisbane's 18th
        local(BRISBANE, 2026, 11, 19, 0, 0),     # the first moment of the 19th
        local(BRISBANE, 2026, 11, 19, 23, 30),   # 13:30 UTC on the 19th
        utc(2026, 11, 19, 14, 30),               # UTC's 19th, but 00:30 on Brisbane's 20th
        local(BRISBANE, 2026, 11, 21, 0, 5),     # after the window
    ]
    counts = count_by_day(created, since.astimezone(UTC), until.astimezone(UTC), BRISBANE)
    assert counts == {date(2026, 11, 18): 1, date(2026, 11, 19): 2, date(2026, 11, 20): 1}


def test_a_whole_day_without_orders_counts_zero_and_partial_days_are_left_out() -> None:
    since, until = local(BRISBANE, 2026, 11, 18, 12), local(BRISBANE, 2026, 11, 20, 12)
    created = [local(BRISBANE, 2026, 11, 18, 13), local(BRISBANE, 2026, 11, 20, 11)]  # on the partial days
    assert count_by_day(created, since.astimezone(UTC), until.astimezone(UTC), BRISBANE) == {date(2026, 11, 19): 0}


def test_days_before_the_install_are_not_counted() -> None:
    since, until = local(BRISBANE, 2026, 11, 15), local(BRISBANE, 2026, 11, 20)
    installed = local(BRISBANE, 2026, 11, 17, 15)
    counts = count_by_day([], since, until, BRISBANE, not_before=installed)
    assert sorted(counts) == [date(2026, 11, 18), date(2026, 11, 19)]


def test_an_order_without_a_readable_time_leaves_the_days_unknown() -> None:
    since, until = local(BRISBANE, 2026, 11, 18), local(BRISBANE, 2026, 11, 20)
    assert count_by_day([local(BRISBANE, 2026, 11, 18, 9), None], since, until, BRISBANE) == {}


# -- storing: complete days, the last count wins ---------------------------------------------------------
@pytest.fixture
def shop(configure_shop: Any) -> Shop:
    record: Shop = configure_shop()
    record.installed_at = now_utc() - timedelta(days=40)
    db.session.commit()
    return record


def read_id(shop: Shop) -> int:
    """The shop's id, its read ended: the app's writes refuse to start inside a read left open."""
    with reading():
        return shop.id


def stored(shop_id: int) -> dict[date, tuple[int, str]]:
    db.session.rollback()
    rows = db.session.scalars(select(ShopifyDailyOrders).where(ShopifyDailyOrders.shop_id == shop_id))
    return {r.day: (r.orders, r.timezone) for r in rows}


def test_a_later_count_of_a_day_replaces_the_earlier_one(shop: Shop) -> None:
    store_day_counts(read_id(shop), {date(2026, 11, 18): 4, date(2026, 11, 19): 7}, BRISBANE, now_utc())
    store_day_counts(read_id(shop), {date(2026, 11, 19): 8}, BRISBANE, now_utc())
    assert stored(shop.id) == {date(2026, 11, 18): (4, "Australia/Brisbane"),
                               date(2026, 11, 19): (8, "Australia/Brisbane")}


def test_the_shop_s_rows_go_with_the_shop(shop: Shop, post_webhook: Any) -> None:
    store_day_counts(read_id(shop), {date(2026, 11, 18): 4}, BRISBANE, now_utc())
    post_webhook({"id": 1, "myshopify_domain": SHOP}, "app/uninstalled")
    assert stored(shop.id) != {}  # a quick reinstall finds its history
    assert post_webhook({"shop_id": 1, "shop_domain": SHOP}, "shop/redact").status_code == 200
    assert stored(shop.id) == {}  # the foreign key cascades on both databases


def test_retention_purges_counts_older_than_the_events(shop: Shop) -> None:
    now = utc(2026, 11, 22, 9)
    store_day_counts(read_id(shop), {date(2026, 10, 1): 3, date(2026, 10, 22): 5, date(2026, 11, 20): 6}, ZONE_UTC, now)
    purged = retention.purge(now, event_days=30, receipt_days=14)
    assert purged.shopify_days == 1
    assert sorted(stored(shop.id)) == [date(2026, 10, 22), date(2026, 11, 20)]


# -- the worker's ordersCount for missing days --------------------------------------------------------------
@pytest.fixture
def admin(app: Flask, shop: Shop) -> Any:
    standin = ShopifyAdminStandin(SHOP, client_id=API_KEY, client_secret=API_SECRET, access_token=TOKEN)
    client = standin.client()
    app.config["SHOPIFY_HTTP_CLIENT"] = client
    shop.shopify_token_enc = crypto.encrypt(TOKEN)
    shop.shopify_token_expires_at = now_utc() + timedelta(hours=1)
    shop.shopify_scope = "read_orders"
    db.session.commit()
    yield standin
    client.close()


def _orders_on(admin: ShopifyAdminStandin, day: date, zone: ZoneInfo, times: list[tuple[int, int]]) -> None:
    for i, (hour, minute) in enumerate(times):
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        admin.orders.append({"id": f"gid://shopify/Order/{day.toordinal()}{i}",
                             "createdAt": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
    admin.orders.sort(key=lambda node: node["createdAt"])


def test_missing_days_are_asked_one_by_one_and_counted_once(shop: Shop, admin: ShopifyAdminStandin) -> None:
    shop_state.set_timezone(read_id(shop), "Australia/Brisbane")
    now = now_utc()
    today = now.astimezone(BRISBANE).date()
    _orders_on(admin, today - timedelta(days=1), BRISBANE, [(0, 0), (12, 0), (23, 30)])
    _orders_on(admin, today - timedelta(days=2), BRISBANE, [(23, 59)])
    _orders_on(admin, today, BRISBANE, [(0, 1)])  # today is not over: never counted
    store_day_counts(read_id(shop), {today - timedelta(days=3): 9}, BRISBANE, now)  # counted by an earlier run
    reader = make_reader(db.session.get(Shop, shop.id))

    assert count_missing_days(db.session.get(Shop, shop.id), reader, now) == 13
    counts = stored(shop.id)
    assert counts[today - timedelta(days=1)] == (3, "Australia/Brisbane")
    assert counts[today - timedelta(days=2)] == (1, "Australia/Brisbane")
    assert counts[today - timedelta(days=3)] == (9, "Australia/Brisbane")  # not asked again
    assert sorted(counts) == [today - timedelta(days=n) for n in range(14, 0, -1)]
    assert len(admin.graphql("ReconcileOrderCount")) == 13
    # The same day is never asked for twice.
    assert count_missing_days(db.session.get(Shop, shop.id), make_reader(db.session.get(Shop, shop.id)), now) == 0
    assert len(admin.graphql("ReconcileOrderCount")) == 13


def test_a_count_shopify_calls_inexact_is_not_stored(shop: Shop, admin: ShopifyAdminStandin) -> None:
    admin.count_precision = "AT_LEAST"
    assert count_missing_days(db.session.get(Shop, shop.id), make_reader(shop), now_utc()) == 0
    assert stored(shop.id) == {}


def test_a_new_time_zone_counts_the_days_again(shop: Shop, admin: ShopifyAdminStandin) -> None:
    now = now_utc()
    store_day_counts(read_id(shop), {now.astimezone(UTC).date() - timedelta(days=n): 1 for n in range(1, 15)}, ZONE_UTC,
                     now)
    shop_state.set_timezone(read_id(shop), "Australia/Brisbane")
    assert count_missing_days(db.session.get(Shop, shop.id), make_reader(shop), now) == 14
    assert {zone for _orders, zone in stored(shop.id).values()} == {"Australia/Brisbane"}


def test_a_shop_installed_yesterday_has_no_whole_day_to_count(shop: Shop, admin: ShopifyAdminStandin) -> None:
    shop_state.set_timezone(read_id(shop), "Australia/Brisbane")
    now = now_utc()
    start_of_yesterday = day_span(now.astimezone(BRISBANE).date() - timedelta(days=1), BRISBANE)[0]
    record = db.session.get(Shop, shop.id)
    record.installed_at = start_of_yesterday + timedelta(minutes=1)
    db.session.commit()
    assert count_missing_days(db.session.get(Shop, shop.id), make_reader(record), now) == 0
    assert admin.graphql("ReconcileOrderCount") == []


# -- the page's numbers --------------------------------------------------------------------------------------
def test_the_comparison_meets_orders_on_shopify_s_day(shop: Shop) -> None:
    """An order at 23:30 in Brisbane, recovered the next morning, counts for the day Shopify dates it."""
    shop_state.set_timezone(read_id(shop), "Australia/Brisbane")
    now = now_utc()
    today = now.astimezone(BRISBANE).date()
    day = today - timedelta(days=2)
    start, end = day_span(day, BRISBANE)
    late = end - timedelta(minutes=30)  # 23:30 in Brisbane, 13:30 UTC
    add_event(shop.id, received_at=start + timedelta(hours=9), occurred_at=start + timedelta(hours=9))
    add_event(shop.id, received_at=end + timedelta(hours=8), occurred_at=late, source="reconcile")
    add_event(shop.id, received_at=end + timedelta(hours=9), occurred_at=end + timedelta(hours=9))
    add_event(shop.id, received_at=start + timedelta(hours=1), occurred_at=start + timedelta(hours=1),
              source="verify")  # a test event from the settings page is no order
    db.session.commit()
    store_day_counts(read_id(shop), {day: 3, day + timedelta(days=1): 1}, BRISBANE, now)

    body = summary(shop.id, 14, now)
    assert body["timezone"] == "Australia/Brisbane"
    rows = {r["day"]: r for r in body["daily"]}
    first, second = rows[day.isoformat()], rows[(day + timedelta(days=1)).isoformat()]
    keys = ("orders_received", "pinbridge_orders", "shopify_orders", "missing")
    assert [first[k] for k in keys] == [1, 2, 3, 1]   # received once that day; the 23:30 order the next morning
    assert [second[k] for k in keys] == [2, 1, 1, 0]
    assert rows[today.isoformat()]["shopify_orders"] is None  # today is never counted
    assert body["shopify"] == {"connected": False, "days_counted": 2, "first_day": day.isoformat(),
                               "last_day": (day + timedelta(days=1)).isoformat(), "orders": 4, "received": 3,
                               "missing": 1, "counted_at": body["shopify"]["counted_at"]}


def test_half_hour_zones_place_orders_exactly(shop: Shop) -> None:
    shop_state.set_timezone(read_id(shop), "Asia/Kolkata")
    now = now_utc()
    day = now.astimezone(KOLKATA).date() - timedelta(days=3)
    start, end = day_span(day, KOLKATA)
    for moment in (start + timedelta(minutes=10), end - timedelta(minutes=10), end + timedelta(minutes=10)):
        add_event(shop.id, received_at=moment, occurred_at=moment)
    db.session.commit()
    store_day_counts(read_id(shop), {day: 2}, KOLKATA, now)
    row = next(r for r in summary(shop.id, 7, now)["daily"] if r["day"] == day.isoformat())
    assert (row["pinbridge_orders"], row["shopify_orders"], row["missing"]) == (2, 2, 0)
