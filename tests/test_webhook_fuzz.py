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


# -- the acknowledgement path (app/ingest.py) and the Flask route refuse the same bodies -------------------
BAD_TEXT = [
    b'{"id": 1, "note": "caf\xe9"}',                          # Latin-1, not UTF-8, inside a string
    b'{"id": 1, "note": "\xff\xfe"}',                         # bytes no UTF-8 text holds
    b'{"id": 1, "note": "\xed\xa0\x80"}',                     # a lone surrogate, encoded
    b'{"id": 1, "note": "\xed\xa0\xbd\xed\xb8\x80"}',          # a surrogate pair encoded as two (CESU-8)
    b'{"id": 1, "note": "\\ud800"}',                           # a lone surrogate, escaped
    b'{"id": 1, "note": "\\udc00 tail"}',                      # a lone low surrogate, escaped
    b'{"id": 1, "note": "\xc0\xaf"}',                         # an overlong "/"
    b'{"id": 1, "note": "\xe0\x80\xaf"}',                     # an overlong "/" in three bytes
    b'{"id": 1, "note": "\xf8\x88\x80\x80\x80"}',             # a five-byte form UTF-8 no longer has
    b'{"id": 1, "note": "\xe2\x82"}',                         # a sequence cut short
    b'{"id": 1, "n\xffte": "x"}',                              # invalid bytes in a key
    b'{"id": 1, "completed_at": "\xff"}',                     # ...in a field the request path reads
    b'\xef\xbb\xbf{"id": 1}',                                  # a byte-order mark before the object
]
GOOD_TEXT = [
    '{"id": 1, "note": "Zoë, Zürich, 東京, 😀"}'.encode(),      # UTF-8 as Shopify sends it
    b'{"id": 1, "note": "\\ud83d\\ude00 \\u00e9"}',             # escapes, a surrogate pair among them
]


def _both_paths(app: Any, client: Any, body: bytes, n: int) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """The answer to one signed orders/create body from the acknowledgement path and from the Flask route."""
    from werkzeug.test import Client

    route = Client(app.wsgi_app.downstream)  # what ingest hands over: the Flask app behind it
    answers = []
    for path, caller in (("fast", client), ("route", route)):
        headers = {"X-Shopify-Hmac-Sha256": sign(body, API_SECRET), "X-Shopify-Topic": "orders/create",
                   "X-Shopify-Shop-Domain": SHOP, "X-Shopify-Webhook-Id": f"{path}-{n}",
                   "Content-Type": "application/json"}
        response = caller.post("/webhooks", data=body, headers=headers)
        data = response.get_json(silent=True) if hasattr(response, "get_json") else None
        answers.append((response.status_code, (data or {}).get("error")))
    return answers[0], answers[1]


def test_bodies_with_bad_text_are_refused_alike_by_both_paths(app: Any, client: Any) -> None:
    from app.inbox.mappers import loads as _loads

    for n, body in enumerate(BAD_TEXT):
        before = snapshot()
        assert _both_paths(app, client, body, n) == ((400, "invalid_json"), (400, "invalid_json")), body
        assert snapshot() == before
    for n, body in enumerate(GOOD_TEXT, start=len(BAD_TEXT)):
        assert _both_paths(app, client, body, n) == ((200, None), (200, None)), body
        assert isinstance(_loads(body), dict)  # what was acknowledged, the worker can read


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=st.one_of(bodies, st.sampled_from(BAD_TEXT + GOOD_TEXT),
                      order_with_wrong_types().map(lambda o: json.dumps(o, ensure_ascii=False).encode()),
                      st.tuples(order_with_wrong_types(), st.binary(min_size=1, max_size=4)).map(
                          lambda pair: json.dumps(pair[0]).encode().replace(b'"web"', b'"w' + pair[1] + b'"'))))
def test_both_paths_refuse_the_same_corpus_and_accept_only_what_the_worker_reads(app: Any, client: Any,
                                                                                   body: bytes) -> None:
    from app.inbox.mappers import loads as _loads

    fast, route = _both_paths(app, client, body, hash(body))
    assert fast[0] == route[0] and fast[1] == route[1], (body[:200], fast, route)
    if fast[0] == 200:
        assert isinstance(_loads(body), dict), body[:200]
