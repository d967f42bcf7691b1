"""The acknowledgement path: a signed order or checkout answered by a plain WSGI handler in front of Flask.

Shopify waits for our 200 and retries what it does not get within 5 s, so the hottest request the app
serves is an order webhook, and it needs none of Flask's request machinery: no routing, session,
template, rate limit or error page. Read the announced body, check its HMAC, store the encrypted
receipt (`answer.acknowledge`, one INSERT shared with concurrent requests), answer. Flask's request
and response objects, hooks and teardown cost more than all of that together (docs/performance.md).

No app context is pushed: the app's engine, cipher and group commit are held by `receipts.Receipts`.
Everything else goes to the Flask route unchanged: other topics (lifecycle and privacy), other methods,
bodies without a Content-Length (chunked) or larger than the limit. Refusals here use the route's own
codes, statuses, logs and metrics (`verify.verify_delivery`, `answer.refused`), so a delivery is
answered the same whichever of the two serves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask
from sqlalchemy.exc import OperationalError

from app.inbox import receipts
from app.ingest import answer, verify
from app.logs import request_id_scope
from app.models import PURCHASE_TOPICS

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_TOPIC = "HTTP_X_SHOPIFY_TOPIC"
_HMAC = "HTTP_X_SHOPIFY_HMAC_SHA256"



class WebhookIngest:
    """WSGI middleware: orders and checkouts POSTed to /webhooks are answered here, the rest by `downstream`."""

    def __init__(self, app: Flask, downstream: WSGIApp) -> None:
        self.app = app
        self.downstream = downstream

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = self._announced_length(environ)
        if length is None:
            return self.downstream(environ, start_response)
        with request_id_scope():
            return self._acknowledge(environ, start_response, length)

    def _acknowledge(self, environ: dict[str, Any], start_response: StartResponse, length: int) -> Iterable[bytes]:
        started = time.perf_counter()
        config = self.app.config
        topic = environ.get(_TOPIC)
        try:
            with answer.read_deadline(float(config["WEBHOOK_READ_SECONDS"])):
                raw = read_exactly(environ["wsgi.input"], length)
        except answer.SlowBody:
            return self._refuse(start_response, verify.WebhookRejected(
                "body_timeout", "The body did not arrive in time."), topic, started)
        secrets = [s for s in (config["SHOPIFY_API_SECRET"], config.get("SHOPIFY_API_SECRET_OLD")) if s]
        try:
            delivery = verify.verify_delivery(
                _Headers(environ), raw, secrets, int(config["WEBHOOK_MAX_AGE_SECONDS"]))
        except verify.WebhookRejected as exc:
            return self._refuse(start_response, exc, topic, started)
        try:
            status = answer.acknowledge(delivery, started, receipts.receipts_for(self.app))
        except OperationalError:
            answer.unavailable(delivery.topic, started)
            return _answer(start_response, 503, answer.UNAVAILABLE)
        return _answer(start_response, 200, {"status": status})

    def _announced_length(self, environ: dict[str, Any]) -> int | None:
        """The body length of a delivery this path answers; None to leave the request to Flask."""
        if (environ.get("PATH_INFO") != "/webhooks" or environ.get("REQUEST_METHOD") != "POST"
                or not environ.get(_HMAC) or (environ.get(_TOPIC) or "").strip() not in PURCHASE_TOPICS):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if length < 0 or length > int(self.app.config["MAX_WEBHOOK_BYTES"]):
            return None  # the route answers 413 without reading it
        return length

    def _refuse(self, start_response: StartResponse, exc: verify.WebhookRejected, topic: str | None,
                started: float) -> Iterable[bytes]:
        answer.refused(exc, topic, started)
        return _answer(start_response, exc.status, {"error": exc.code, "message": exc.message},
                       close=exc.status == 408)


class _Headers:
    """The request headers `verify_delivery` reads, straight from the WSGI environ."""

    __slots__ = ("environ",)
    KEYS = {name: "HTTP_" + name.upper().replace("-", "_") for name in (
        verify.HMAC_HEADER, "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Triggered-At",
        "X-Shopify-Webhook-Id", "X-Shopify-API-Version")}

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def get(self, key: str, /) -> str | None:
        value = self.environ.get(self.KEYS.get(key) or "HTTP_" + key.upper().replace("-", "_"))
        return value if value is None else str(value)


def read_exactly(stream: Any, length: int) -> bytes:
    """Exactly `length` bytes, or fewer when the client hung up (the HMAC check then refuses them)."""
    chunks, left = [], length
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _answer(start_response: StartResponse, status: int, payload: dict[str, str], *,
            close: bool = False) -> Iterable[bytes]:
    """A short JSON answer, the bytes Flask's jsonify would give (sorted keys, newline at the end)."""
    body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS) + b"\n"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if close:
        headers.append(("Connection", "close"))
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


def install(app: Flask) -> None:
    """Put the acknowledgement path in front of the app's WSGI callable (the test client goes through it too)."""
    app.wsgi_app = WebhookIngest(app, app.wsgi_app)  # type: ignore[method-assign]
