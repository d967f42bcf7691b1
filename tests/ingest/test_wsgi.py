"""The acknowledgement path in front of Flask: what it answers itself, and what it leaves to the route."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.ingest.wsgi import WebhookIngest
from app.models import WebhookReceipt, db
from tests.conftest import webhook_headers
from tests.factories import completed_checkout, web_order


class Downstream:
    """Stands where Flask is: records what reached it and answers 299 so a test can tell who answered."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.seen.append(environ)
        start_response("299 Passed On", [("Content-Type", "text/plain")])
        return [b"flask"]


def environ(body: bytes, *, topic: str = "orders/create", method: str = "POST", path: str = "/webhooks",
            drop: tuple[str, ...] = (), content_length: str | None = None, **overrides: str) -> dict[str, Any]:
    """A signed delivery's WSGI environ; `drop` removes environ keys, keyword arguments replace headers."""
    headers = {**webhook_headers(body, topic), **overrides}
    env = EnvironBuilder(path=path, method=method, data=body, headers=headers).get_environ()
    for key in drop:
        env.pop(key, None)
    if content_length is not None:
        env["CONTENT_LENGTH"] = content_length
    if "Transfer-Encoding" in overrides:
        env["wsgi.input_terminated"] = True  # the server has de-chunked the body, as gunicorn does
    return env


def call(handler: Any, env: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    body, status, headers = run_wsgi_app(handler, env)
    return int(status.split()[0]), dict(headers), b"".join(body)


def receipt_count() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(WebhookReceipt)) or 0)


@pytest.fixture
def downstream() -> Downstream:
    return Downstream()


@pytest.fixture
def fast(app: Flask, downstream: Downstream) -> WebhookIngest:
    return WebhookIngest(app, downstream)


@pytest.mark.parametrize(("topic", "payload"), [
    ("orders/create", web_order()),
    ("checkouts/create", completed_checkout()),
    ("checkouts/update", completed_checkout()),
])
def test_a_signed_purchase_is_answered_here_accepted_then_duplicate(
    fast: WebhookIngest, downstream: Downstream, topic: str, payload: dict[str, Any]
) -> None:
    body = json.dumps(payload).encode()
    first = environ(body, topic=topic, **{"X-Shopify-Webhook-Id": "wh-fast-1"})
    again = environ(body, topic=topic, **{"X-Shopify-Webhook-Id": "wh-fast-1"})
    status, headers, answer = call(fast, first)
    assert (status, json.loads(answer)) == (200, {"status": "accepted"})
    assert headers["Content-Type"] == "application/json" and headers["Content-Length"] == str(len(answer))
    assert answer == b'{"status":"accepted"}\n'
    assert call(fast, again)[::2] == (200, b'{"status":"duplicate"}\n')
    assert downstream.seen == []
    assert receipt_count() == 1


@pytest.mark.parametrize("case", [
    "lifecycle topic", "privacy topic", "topic not subscribed", "GET", "other path", "chunked body",
    "over the size limit", "no signature", "unreadable length",
])
def test_everything_else_falls_through_to_flask(fast: WebhookIngest, downstream: Downstream, app: Flask,
                                               case: str) -> None:
    body = json.dumps(web_order()).encode()
    env = {
        "lifecycle topic": lambda: environ(body, topic="app/uninstalled"),
        "privacy topic": lambda: environ(body, topic="customers/redact"),
        "topic not subscribed": lambda: environ(body, topic="orders/paid"),
        "GET": lambda: environ(b"", method="GET"),
        "other path": lambda: environ(body, path="/pixel"),
        "chunked body": lambda: environ(body, drop=("CONTENT_LENGTH",), **{"Transfer-Encoding": "chunked"}),
        "over the size limit": lambda: environ(body, content_length=str(app.config["MAX_WEBHOOK_BYTES"] + 1)),
        "no signature": lambda: environ(body, drop=("HTTP_X_SHOPIFY_HMAC_SHA256",)),
        "unreadable length": lambda: environ(body, content_length="12abc"),
    }[case]()
    assert call(fast, env)[::2] == (299, b"flask")
    assert len(downstream.seen) == 1
    assert receipt_count() == 0


def webhook_door(app: Flask) -> WebhookIngest:
    """The webhooks' handler among the app's WSGI layers (the beacon's fast path stands in front of it)."""
    layer = app.wsgi_app
    while not isinstance(layer, WebhookIngest):
        layer = layer.downstream  # type: ignore[attr-defined]
    return layer


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({"X-Shopify-Hmac-Sha256": "A" * 43 + "="}, 401, "invalid_hmac"),   # signed with another secret
    ({"X-Shopify-Hmac-Sha256": "short"}, 401, "invalid_hmac"),
    ({"X-Shopify-Shop-Domain": ""}, 400, "missing_shop"),
    ({"X-Shopify-Triggered-At": "2020-01-01T00:00:00Z"}, 400, "stale"),
])
def test_refusals_are_the_routes_own(app: Flask, headers: dict[str, str], status: int, code: str) -> None:
    """The same broken delivery, answered by this path and (sent chunked, so it falls through) by the route."""
    fast = webhook_door(app)
    body = json.dumps(web_order()).encode()
    here = call(fast, environ(body, **headers))
    route = call(fast, environ(body, drop=("CONTENT_LENGTH",), **{"Transfer-Encoding": "chunked", **headers}))
    for answer_status, _headers, answer in (here, route):
        assert answer_status == status
        assert json.loads(answer)["error"] == code
    assert json.loads(here[2]) == json.loads(route[2])
    assert receipt_count() == 0


def test_a_chunked_delivery_the_route_takes_is_stored_too(app: Flask) -> None:
    body = json.dumps(web_order()).encode()
    status, _headers, answer = call(app.wsgi_app, environ(body, drop=("CONTENT_LENGTH",),
                                                          **{"Transfer-Encoding": "chunked"}))
    assert (status, json.loads(answer)) == (200, {"status": "accepted"})
    assert receipt_count() == 1


def test_a_body_shorter_than_announced_is_refused_by_its_signature(fast: WebhookIngest,
                                                                   downstream: Downstream) -> None:
    body = json.dumps(web_order()).encode()
    env = EnvironBuilder(path="/webhooks", method="POST", data=body[: len(body) // 2],
                         headers=webhook_headers(body)).get_environ()
    env["CONTENT_LENGTH"] = str(len(body))  # the client hung up halfway through the body it signed
    status, _headers, answer = call(fast, env)
    assert (status, json.loads(answer)["error"]) == (401, "invalid_hmac")
    assert downstream.seen == [] and receipt_count() == 0


def test_the_app_factory_puts_it_in_front_of_flask(app: Flask, client: Any) -> None:
    assert isinstance(webhook_door(app), WebhookIngest)
    body = json.dumps(web_order()).encode()
    response = client.post("/webhooks", data=body, headers=webhook_headers(body))
    assert response.get_json() == {"status": "accepted"} and receipt_count() == 1
