"""Bad input at the door: random bodies, headers and methods never produce a 500 or stray rows."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.models import Event, Shop, WebhookReceipt, db
from tests.conftest import API_SECRET, OLD_API_SECRET, SHOP, sign
from tests.factories import web_order

ALLOWED = {200, 400, 401, 405, 413}
TOPICS = ["orders/create", "checkouts/update", "checkouts/create", "app/uninstalled", "customers/redact",
          "customers/data_request", "shop/redact", "products/update"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)


@st.composite
def order_with_wrong_types(draw: st.DrawFn) -> dict[str, Any]:
    """A realistic order in which some fields hold values of the wrong type."""
    order = web_order()
    keys = draw(st.lists(st.sampled_from(sorted(order)), max_size=8, unique=True))
    for key in keys:
        order[key] = draw(json_values)
    items = order.get("line_items")
    if draw(st.booleans()) and isinstance(items, list) and items and isinstance(items[0], dict) and items[0]:
        item = items[0]
        for key in draw(st.lists(st.sampled_from(sorted(item)), max_size=4, unique=True)):
            item[key] = draw(json_values)
    return order


def nested(depth: int) -> bytes:
    return (b'{"a":' * depth) + b"1" + (b"}" * depth)


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    order_with_wrong_types().map(lambda o: json.dumps(o).encode()),
    st.integers(min_value=1, max_value=50_000).map(nested),
)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    body = draw(bodies)
    headers: dict[str, str] = {}
    signing = draw(st.sampled_from(["valid", "old", "wrong", "missing", "garbage"]))
    if signing == "valid":
        headers["X-Shopify-Hmac-Sha256"] = sign(body, API_SECRET)
    elif signing == "old":
        headers["X-Shopify-Hmac-Sha256"] = sign(body, OLD_API_SECRET)
    elif signing == "wrong":
        headers["X-Shopify-Hmac-Sha256"] = sign(body, "some-other-secret")
    elif signing == "garbage":
        headers["X-Shopify-Hmac-Sha256"] = draw(st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                                        max_size=60))
    topic = draw(st.one_of(st.sampled_from(TOPICS), st.none(),
                           st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)))
    if topic is not None:
        headers["X-Shopify-Topic"] = topic
    shop = draw(st.one_of(st.just(SHOP), st.none(), st.just("elsewhere.myshopify.com"),
                          st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)))
    if shop is not None:
        headers["X-Shopify-Shop-Domain"] = shop
    if draw(st.booleans()):
        headers["X-Shopify-Webhook-Id"] = draw(st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                                       min_size=1, max_size=80))
    method = draw(st.sampled_from(["POST"] * 6 + ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
    return method, body, headers


def snapshot() -> tuple[int, int, int]:
    db.session.rollback()
    counts = tuple(int(db.session.scalar(select(func.count()).select_from(m)) or 0)
                   for m in (WebhookReceipt, Event, Shop))
    db.session.rollback()  # the request under test shares this session; leave no transaction open
    return counts  # type: ignore[return-value]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(delivery=deliveries())
def test_any_request_gets_a_contract_status_and_failures_store_nothing(client: Any, delivery: Any) -> None:
    method, body, headers = delivery
    before = snapshot()
    response = client.open("/webhooks", method=method, data=body, headers=headers)
    assert response.status_code in ALLOWED, (response.status_code, response.data[:200])
    if response.status_code != 200:
        assert snapshot() == before
        return
    assert response.get_json()["status"] in {"accepted", "duplicate", "ignored"}
    assert headers.get("X-Shopify-Hmac-Sha256") in (sign(body, API_SECRET), sign(body, OLD_API_SECRET))
    db.session.rollback()
    for event in db.session.scalars(select(Event)):  # mapping failures are rows with a reason, not crashes
        assert event.status in {"pending", "skipped"}
        assert event.status == "pending" or event.skip_reason
