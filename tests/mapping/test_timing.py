"""Orders dated long before they reached Pinbridge (app/mapping/timing.py), as a table."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping import MappingOptions, map_checkout, map_order
from app.mapping.timing import timing

from . import orders

NOW = 1_796_000_000  # Unix seconds of the receipt (2026-11-29)
HOUR, DAY = 3600, 24 * 3600


def _iso(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


@pytest.mark.parametrize(("processed", "created", "received", "expected"), [
    (NOW - 60, NOW - 60, NOW, "fresh"),                      # an ordinary order
    (NOW - 5 * HOUR, NOW - 5 * HOUR, NOW, "fresh"),          # Shopify retried it for hours: still fresh
    (NOW - 23 * HOUR, NOW - 23 * HOUR, NOW, "fresh"),        # ...up to a day
    (NOW - 25 * HOUR, NOW - 25 * HOUR, NOW, "backdated"),    # later than Shopify delivers: a back-dated body
    (NOW - 2 * HOUR, NOW - 60, NOW, "backdated"),            # recorded in Shopify long after its sale date
    (NOW - 3 * DAY, NOW - 60, None, "backdated"),            # recovered by reconciliation: its own dates say so
    (NOW - 3 * DAY, NOW - 3 * DAY, None, "fresh"),           # ...a lost webhook of an ordinary order
    (NOW - 7 * DAY - 1, NOW - 60, NOW, "too_old"),           # older than Pinterest's 7 days
    (NOW - 7 * DAY + 60, NOW - 60, NOW, "backdated"),        # just inside them
    (NOW + 60, NOW + 60, NOW, "fresh"),                      # a little ahead of our clock
])
def test_timing(processed: int, created: int, received: int | None, expected: str) -> None:
    body = {"processed_at": _iso(processed), "created_at": _iso(created)}
    assert timing(body, processed, received) == expected


@pytest.mark.parametrize(("options", "klass_order", "source", "reason"), [
    (MappingOptions(), orders.web_order, "offline", None),                               # default: offline
    (MappingOptions(send_backdated="skip"), orders.web_order, None, "imported or back-dated"),
    (MappingOptions(send_backdated="web"), orders.web_order, "web", None),
    (MappingOptions(send_draft="offline"), orders.draft_order, "offline", None),          # offline already
    (MappingOptions(), orders.draft_order, None, "Draft order: not sent"),               # its class skips it
])
def test_a_backdated_order_is_sent_as_its_setting_says(options: MappingOptions, klass_order: Any,
                                                       source: str | None, reason: str | None) -> None:
    body = klass_order(processed_at=_iso(NOW - 2 * DAY), created_at=_iso(NOW - 60))
    mapped = map_order(body, options, received_at=NOW)
    assert (mapped.event or {}).get("action_source") == source
    assert (reason is None) == (mapped.skip_reason is None)
    if reason:
        assert reason in (mapped.skip_reason or "")
    if source == "offline":
        assert mapped.event is not None and "client_ip_address" not in mapped.event["user_data"]


def test_too_old_names_the_day_and_wins_over_every_setting() -> None:
    body = orders.web_order(processed_at="2026-11-20T10:00:00Z", created_at=_iso(NOW))
    for setting in ("web", "offline", "skip"):
        mapped = map_order(body, MappingOptions(send_backdated=setting), received_at=NOW)
        assert mapped.event is None
        assert (mapped.skip_reason or "").startswith("placed on 2026-11-20, more than 7 days")


def test_a_checkout_is_judged_by_its_completion() -> None:
    late = orders.completed_checkout(completed_at=_iso(NOW - 8 * DAY))
    assert map_checkout(late, MappingOptions(), received_at=NOW).event is None
    fresh = orders.completed_checkout(completed_at=_iso(NOW - 60))
    assert map_checkout(fresh, MappingOptions(), received_at=NOW).event is not None


def test_without_a_receipt_time_old_fixtures_map_as_before() -> None:
    assert map_order(orders.web_order(), MappingOptions()).event is not None  # dated 2024, no receipt given
