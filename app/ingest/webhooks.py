"""POST /webhooks: verify the raw body, parse, route by topic, commit, then answer 200."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError

from app import metrics
from app.database import discard
from app.inbox import receipts, records, routing
from app.ingest import lifecycle
from app.ingest.verify import (
    HMAC_HEADER,
    Delivery,
    WebhookRejected,
    parse_triggered_at,
    verify_delivery,
)
from app.mapping.identity import checkout_completed
from app.models import ORDER_TOPICS, PURCHASE_TOPICS, Shop, Topic, db

logger = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)



def _secrets() -> list[str]:
    cfg = current_app.config
    return [s for s in (cfg["SHOPIFY_API_SECRET"], cfg.get("SHOPIFY_API_SECRET_OLD")) if s]


@bp.route("/webhooks", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def receive() -> tuple[Response, int]:
    """Every delivery the acknowledgement path (app/ingest/wsgi.py) leaves to Flask: other topics and methods,
    bodies without a Content-Length, and everything when that path is not installed."""
    started = time.perf_counter()
    try:
        delivery = _verify_and_parse()
    except WebhookRejected as exc:
        refused(exc, request.headers.get("X-Shopify-Topic"), started)
        response = jsonify({"error": exc.code, "message": exc.message})
        if exc.status in (408, 413):
            response.headers["Connection"] = "close"  # the rest of the body is never read
        return response, exc.status
    try:
        if delivery.topic in PURCHASE_TOPICS:
            return jsonify({"status": acknowledge(delivery, started)}), 200
        if delivery.topic in lifecycle.TOPICS:
            # What the shop's inbox still holds is mapped first, so the privacy topic applies to it too.
            routing.drain(shop_domain=delivery.shop_domain)
        status = _record(delivery)
    except OperationalError:
        discard()
        unavailable(delivery.topic, started)
        return jsonify(UNAVAILABLE), 503
    metrics.webhook_answered(delivery.topic, status, started)
    return jsonify({"status": status}), 200


UNAVAILABLE = {"error": "unavailable", "message": "Database unavailable, retry later."}


def acknowledge(delivery: Delivery, started: float, box: receipts.Receipts | None = None) -> str:
    """Store a verified order or checkout in the inbox, durably; `accepted` or `duplicate`.

    Raises OperationalError when the database is unavailable (the caller answers 503).
    """
    status = receipts.accept(
        webhook_id=delivery.webhook_id, shop_domain=delivery.shop_domain, topic=delivery.topic,
        triggered_at=delivery.triggered_at, api_version=delivery.api_version, raw=delivery.raw,
        completed=delivery.topic in ORDER_TOPICS or checkout_completed(delivery.payload), receipts=box)
    logger.info("webhook received", extra={
        "action": "webhook_received", "topic": delivery.topic, "shop": delivery.shop_domain,
        "outcome": status, "webhook_id": delivery.webhook_id})
    metrics.webhook_answered(delivery.topic, status, started)
    return status


def refused(exc: WebhookRejected, topic: str | None, started: float) -> None:
    """Log and count a refused delivery (nothing of it is stored)."""
    logger.info("webhook rejected", extra={"action": "webhook_rejected", "code": exc.code})
    metrics.webhook_answered(topic, f"rejected_{exc.code}", started)


def unavailable(topic: str | None, started: float) -> None:
    """The database refused the write: 503 makes Shopify retry later instead of losing the order."""
    logger.error("database unavailable", extra={"action": "webhook_db_unavailable"})
    metrics.webhook_answered(topic, "unavailable", started)


def _verify_and_parse() -> Delivery:
    if request.method != "POST":
        raise WebhookRejected("method_not_allowed", "Webhooks are delivered with POST.")
    if not request.headers.get(HMAC_HEADER):  # refused before reading a byte of the body
        raise WebhookRejected("missing_hmac", "X-Shopify-Hmac-Sha256 header is required.")
    raw = read_body(current_app.config["MAX_WEBHOOK_BYTES"])
    return verify_delivery(request.headers, raw, _secrets(), int(current_app.config["WEBHOOK_MAX_AGE_SECONDS"]))


def read_body(limit: int) -> bytes:
    """The raw body, at most `limit` bytes (413 beyond), read into one buffer when its length is announced."""
    request.max_content_length = limit + 1  # the app-wide limit is smaller; this one answers with our code
    announced = request.content_length
    if announced is not None and announced > limit:
        raise WebhookRejected("too_large", "Body larger than 5 MiB.")
    try:
        with read_deadline(float(current_app.config["WEBHOOK_READ_SECONDS"])):
            raw = request.stream.read(announced if announced is not None else limit + 1)
    except SlowBody as exc:
        raise WebhookRejected("body_timeout", "The body did not arrive in time.") from exc
    if len(raw) > limit:
        raise WebhookRejected("too_large", "Body larger than 5 MiB.")
    return raw


class SlowBody(Exception):
    """The client took longer than WEBHOOK_READ_SECONDS to send its body."""


def read_deadline(seconds: float) -> AbstractContextManager[Any]:
    """Under gevent, stop waiting for a body after `seconds`: a client trickling bytes keeps no connection.

    Shopify sends a webhook's body at once (and gives up on an answer after 5 s itself).
    """
    monkey = sys.modules.get("gevent.monkey")
    if seconds <= 0 or not (monkey and monkey.is_module_patched("socket")):
        return nullcontext()
    import gevent

    return gevent.Timeout(seconds, SlowBody)


# Where a verified payload names its own shop. A custom storefront domain (`shop.example`) in the

def _record(delivery: Delivery) -> str:
    """Apply a lifecycle or privacy topic and its receipt in one transaction; a redelivery changes nothing."""
    try:
        kept = records.record_applied(
            webhook_id=delivery.webhook_id, shop_domain=delivery.shop_domain, topic=delivery.topic,
            triggered_at=delivery.triggered_at, api_version=delivery.api_version,
            apply=lambda now: _route(delivery, now))
    except IntegrityError:
        return "duplicate"  # another process committed the same webhook id between our check and our insert
    if kept is None:
        return "duplicate"
    status, outcome = kept
    logger.info(
        "webhook received",
        extra={"action": "webhook_received", "topic": delivery.topic, "shop": delivery.shop_domain,
               "outcome": outcome, "webhook_id": delivery.webhook_id},
    )
    return status


def _route(delivery: Delivery, now: datetime) -> tuple[str, str]:
    """The lifecycle and privacy topics, applied at once; anything else is ignored. (status, receipt outcome)"""
    topic = delivery.topic
    if topic in lifecycle.TOPICS:
        superseded = _superseded(delivery)
        if superseded:
            logger.warning("lifecycle webhook ignored", extra={"action": "webhook_superseded", "topic": topic,
                                                               "shop": delivery.shop_domain, "outcome": superseded})
            return "ignored", superseded
        return "accepted", lifecycle.handle(topic, delivery.shop_domain, delivery.payload, now)
    return "ignored", "ignored"


def _superseded(delivery: Delivery) -> str | None:
    """Why an uninstall or shop redaction must not apply now, if it must not.

    Shopify sends `shop/redact` 48 hours after an uninstall and not to a shop that installed the app
    again, so one for an installed shop is a replay: deleting the shop would lose a live merchant's
    data. An uninstall triggered before the shop's latest install is an old delivery.
    """
    if delivery.topic not in (Topic.SHOP_REDACT, Topic.APP_UNINSTALLED):
        return None
    shop = db.session.execute(db.select(Shop).filter_by(domain=delivery.shop_domain)).scalar_one_or_none()
    if shop is None or not shop.installed:
        return None
    if delivery.topic == Topic.SHOP_REDACT:
        return "shop_installed"
    triggered = parse_triggered_at(delivery.triggered_at)
    if triggered is not None and shop.installed_at is not None and triggered < shop.installed_at:
        return "superseded"
    return None
