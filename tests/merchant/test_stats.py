"""The dashboard's numbers: days in the shop's zone, the share of each identifier, the delivery latency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from app.merchant.stats import _percentile, _window, coverage, daily, iso, latency
from app.models import db
from app.shops import get_or_create_shop
from tests.conftest import SHOP
from tests.event_rows import add_event

NOW = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 0.5, None),
    ([7.0], 0.95, 7.0),
    ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),         # nearest rank: the 2nd of 4
    ([1.0, 2.0, 3.0, 4.0], 0.95, 4.0),
    ([0.04, 0.05], 0.5, 0.0),                 # rounded to a tenth of a second
])
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float | None) -> None:
    assert _percentile(values, q) == expected


def test_the_window_is_the_shops_calendar_days() -> None:
    days, start = _window(NOW, 3)
    assert days == [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    assert start == datetime(2026, 11, 18, tzinfo=UTC)
    # 03:30 UTC is still the 19th in Los Angeles: its days end a day earlier and start at its midnight.
    days, start = _window(NOW, 3, ZoneInfo("America/Los_Angeles"))
    assert days == [date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)]
    assert start == datetime(2026, 11, 17, 8, tzinfo=UTC)


def test_iso_writes_utc_with_a_z() -> None:
    assert iso(NOW) == "2026-11-20T03:30:00Z" and iso(None) is None


def test_each_day_counts_its_orders_by_status(app: Flask) -> None:
    shop = get_or_create_shop(SHOP)
    for hours_ago, status in ((1, "delivered"), (2, "delivered"), (3, "failed"), (26, "skipped"), (27, "pending")):
        add_event(shop.id, status=status, received_at=NOW - timedelta(hours=hours_ago))
    add_event(shop.id, received_at=NOW - timedelta(days=5))  # outside the window
    db.session.commit()
    rows = {row["day"]: row for row in daily(shop.id, 2, NOW)}
    today, yesterday = rows["2026-11-20"], rows["2026-11-19"]
    assert (today["orders_received"], today["delivered"], today["failed"]) == (3, 2, 1)
    assert (yesterday["orders_received"], yesterday["skipped"], yesterday["pending"]) == (2, 1, 1)


def test_coverage_and_latency_of_delivered_orders(app: Flask) -> None:
    shop = get_or_create_shop(SHOP)
    start = NOW - timedelta(days=1)
    add_event(shop.id, match_keys="em ph", received_at=NOW - timedelta(hours=1), delay=10)
    add_event(shop.id, match_keys="em", received_at=NOW - timedelta(hours=2), delay=30)
    add_event(shop.id, match_keys="em ph", status="failed", received_at=NOW - timedelta(hours=3))  # not delivered
    db.session.commit()
    covered = coverage(shop.id, start)
    assert covered["delivered"] == 2
    assert (covered["share"]["em"], covered["share"]["ph"], covered["share"]["click_id"]) == (1.0, 0.5, 0.0)
    assert latency(shop.id, start) == {"p50_seconds": 10.0, "p95_seconds": 30.0, "samples": 2}
    assert coverage(shop.id, NOW)["share"]["em"] is None  # nothing delivered since: no share at all
