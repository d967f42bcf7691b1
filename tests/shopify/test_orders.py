"""Reading Shopify's Admin API answers: the search window, throttling and the cost bucket, partial data, errors.

The reader against the Shopify stand-in (paging, token refresh, throttled queries) is exercised end to end in
tests/shopify/test_reconcile.py; these are its decisions over one answer, as tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.shopify.orders import (
    MAX_WAIT,
    MIN_WAIT,
    _describe,
    _throttled,
    _usable_partial,
    _wait_seconds,
    search_query,
)

THROTTLED = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}


def cost(requested: Any, available: Any, rate: Any = 50.0) -> dict[str, Any]:
    return {"extensions": {"cost": {"requestedQueryCost": requested,
                                    "throttleStatus": {"currentlyAvailable": available, "restoreRate": rate}}}}


def test_the_search_window_is_in_utc_and_open_at_its_end() -> None:
    since = datetime(2026, 11, 20, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert search_query(since) == "created_at:>='2026-11-20T10:00:00Z'"
    assert search_query(since, datetime(2026, 11, 21, tzinfo=UTC)) == (
        "created_at:>='2026-11-20T10:00:00Z' AND created_at:<'2026-11-21T00:00:00Z'")


@pytest.mark.parametrize(("body", "throttled", "seconds"), [
    (cost(100, 1000), False, 0.0),                   # plenty left: no wait
    (cost(500, 100, rate=100), False, 4.0),          # 400 points short at 100 a second
    (cost(500, 100, rate=100), True, 4.0),
    (cost(10, 1000), True, MIN_WAIT),                # throttled anyway: at least the minimum
    (cost(1e9, 0), False, MAX_WAIT),                 # never longer than the maximum
    (cost(100, 0, rate=0), False, 2.0),              # no rate reported: Shopify's standard 50 a second
    (cost("lots", 0), True, MIN_WAIT),               # an unreadable report
    (cost("lots", 0), False, 0.0),
    ({}, False, 0.0),                                # no report at all
])
def test_the_wait_comes_from_shopifys_cost_report(body: dict[str, Any], throttled: bool, seconds: float) -> None:
    assert _wait_seconds(body, throttled=throttled) == pytest.approx(seconds)


@pytest.mark.parametrize(("body", "throttled", "usable"), [
    (THROTTLED, True, False),
    ({**THROTTLED, "data": {"orders": {"nodes": []}}}, True, False),  # throttled data is asked for again
    ({"errors": [{"message": "Access denied for customer field."}], "data": {"orders": {"nodes": []}}},
     False, True),                                                     # partial: the orders are still there
    ({"errors": [{"message": "Internal error"}], "data": {"orders": None}}, False, False),
    ({"errors": "not a list", "data": None}, False, False),
    ({"data": {"ordersCount": {"count": 3}}}, False, True),
])
def test_throttled_and_partial_answers(body: dict[str, Any], throttled: bool, usable: bool) -> None:
    assert (_throttled(body), _usable_partial(body)) == (throttled, usable)


@pytest.mark.parametrize(("code", "body", "sentence"), [
    ("graphql_error", {"errors": [{"message": "Field 'x' doesn't exist"}]},
     "Shopify answered: Field 'x' doesn't exist"),
    ("http_error_403", {}, "The access token lacks the read_orders scope; open Pinbridge in the Shopify admin to "
                           "approve the scopes it asks for."),
    ("rate_limited", {}, "Shopify kept answering 429 Too Many Requests."),
    ("network_error", {}, "Shopify could not be reached."),
    ("unauthorized", {}, "Shopify refused the access token even after a refresh."),
    ("http_error_502", {}, "Shopify's Admin API failed (http_error_502)."),
])
def test_each_failure_is_described_for_people(code: str, body: dict[str, Any], sentence: str) -> None:
    assert _describe(code, body) == sentence


def test_a_long_graphql_message_is_cut() -> None:
    assert _describe("graphql_error", {"errors": [{"message": "m" * 1000}]}) == "Shopify answered: " + "m" * 300
