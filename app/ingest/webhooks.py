"""POST /webhooks: verify the raw body, parse, route by topic, commit, then answer 200."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError

from app import metrics
from app.database import discard
from app.inbox import records, routing
from app.ingest import lifecycle
from app.ingest.answer import UNAVAILABLE, SlowBody, acknowledge, read_deadline, refused, unavailable
from app.ingest.verify import (
    HMAC_HEADER,
    Delivery,
    WebhookRejected,
    parse_triggered_at,
    verify_delivery,
)
from app.models import PURCHASE_TOPICS, Shop, Topic, db
from app.vocabulary import ReceiptOutcome

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




# Where a verified payload names its own shop. A custom storefront domain (`shop.example`) in the

def _record(delivery: Delivery) -> ReceiptOutcome:
    """Apply a lifecycle or privacy topic and its receipt in one transaction; a redelivery changes nothing."""
    try:
        kept = records.record_applied(
            webhook_id=delivery.webhook_id, shop_domain=delivery.shop_domain, topic=delivery.topic,
            triggered_at=delivery.triggered_at, api_version=delivery.api_version,
            apply=lambda now: _route(delivery, now))
    except IntegrityError:
        return ReceiptOutcome.DUPLICATE  # another process committed it between our check and our insert
    if kept is None:
        return ReceiptOutcome.DUPLICATE
    status, outcome = kept
    logger.info(
        "webhook received",
        extra={"action": "webhook_received", "topic": delivery.topic, "shop": delivery.shop_domain,
               "outcome": outcome, "webhook_id": delivery.webhook_id},
    )
    return status


def _route(delivery: Delivery, now: datetime) -> tuple[ReceiptOutcome, ReceiptOutcome]:
    """The lifecycle and privacy topics, applied at once; anything else is ignored. (status, receipt outcome)"""
    topic = delivery.topic
    if topic in lifecycle.TOPICS:
        superseded = _superseded(delivery)
        if superseded:
            logger.warning("lifecycle webhook ignored", extra={"action": "webhook_superseded", "topic": topic,
                                                               "shop": delivery.shop_domain, "outcome": superseded})
            return ReceiptOutcome.IGNORED, superseded
        return ReceiptOutcome.ACCEPTED, lifecycle.handle(topic, delivery.shop_domain, delivery.payload, now)
    return ReceiptOutcome.IGNORED, ReceiptOutcome.IGNORED


def _superseded(delivery: Delivery) -> ReceiptOutcome | None:
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
        return ReceiptOutcome.SHOP_INSTALLED
    triggered = parse_triggered_at(delivery.triggered_at)
    if triggered is not None and shop.installed_at is not None and triggered < shop.installed_at:
        return ReceiptOutcome.SUPERSEDED
    return None
