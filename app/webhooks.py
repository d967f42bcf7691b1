"""POST /webhooks: verify the raw body, parse, route by topic, commit, then answer 200."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from shopify_app import ShopifyApp
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload

from . import metrics, outbox, privacy
from .db_util import begin_write
from .mapping import MappedPurchase, map_checkout, map_order
from .mapping.purchase import CHECKOUT_OPEN
from .models import Shop, WebhookReceipt, db, now_utc
from .settings import get_or_create_shop, mapping_options, normalise_shop_domain

logger = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

ORDER_TOPICS = {"orders/create"}
CHECKOUT_TOPICS = {"checkouts/create", "checkouts/update"}


class WebhookRejected(Exception):
    """Every reason a delivery is refused, with its fixed HTTP status and a short code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    topic: str
    shop_domain: str
    api_version: str | None
    triggered_at: str | None
    payload: dict[str, Any]


def shopify_app() -> ShopifyApp:
    """The shopifyapp verifier for the configured client (old secret accepted during rotation)."""
    cfg = current_app.config
    return ShopifyApp(cfg["SHOPIFY_API_KEY"], cfg["SHOPIFY_API_SECRET"], cfg.get("SHOPIFY_API_SECRET_OLD"))


@bp.route("/webhooks", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def receive() -> tuple[Response, int]:
    started = time.perf_counter()
    try:
        delivery = _verify_and_parse()
    except WebhookRejected as exc:
        logger.info("webhook rejected", extra={"action": "webhook_rejected", "code": exc.code})
        metrics.webhook_answered(request.headers.get("X-Shopify-Topic"), f"rejected_{exc.code}", started)
        return jsonify({"error": exc.code, "message": exc.message}), exc.status
    try:
        status = _record(delivery)
    except OperationalError:
        db.session.rollback()
        logger.error("database unavailable", extra={"action": "webhook_db_unavailable"})
        # 503 makes Shopify retry later instead of losing the order.
        metrics.webhook_answered(delivery.topic, "unavailable", started)
        return jsonify({"error": "unavailable", "message": "Database unavailable, retry later."}), 503
    metrics.webhook_answered(delivery.topic, status, started)
    return jsonify({"status": status}), 200


def _verify_and_parse() -> Delivery:
    if request.method != "POST":
        raise WebhookRejected(405, "method_not_allowed", "Webhooks are delivered with POST.")
    limit = current_app.config["MAX_WEBHOOK_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise WebhookRejected(413, "too_large", "Body larger than 5 MiB.")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise WebhookRejected(413, "too_large", "Body larger than 5 MiB.")
    headers = {k: v for k, v in request.headers.items()}
    try:
        result = shopify_app().verify_webhook_req(
            {"method": "POST", "headers": headers, "url": request.url, "body": raw.decode("utf-8", "replace")}
        )
    except RecursionError as exc:
        # shopifyapp parses the body to redact its log; absurdly nested JSON overflows that parser.
        raise WebhookRejected(400, "invalid_json", "Body is nested too deeply to read.") from exc
    if not result.ok:
        status = result.response.status if result.response.status in (400, 401, 405) else 401
        raise WebhookRejected(status, result.log.code, "Webhook verification failed.")
    topic = (request.headers.get("X-Shopify-Topic") or "").strip()
    shop_domain = normalise_shop_domain(request.headers.get("X-Shopify-Shop-Domain") or "")
    if not topic:
        raise WebhookRejected(400, "missing_topic", "X-Shopify-Topic header is required.")
    if not shop_domain:
        raise WebhookRejected(400, "missing_shop", "X-Shopify-Shop-Domain header is required.")
    payload = _parse_object(raw)
    webhook_id = (request.headers.get("X-Shopify-Webhook-Id") or "").strip()[:255]
    if not webhook_id:
        # No id to deduplicate on: identical redeliveries still collapse onto one receipt.
        webhook_id = "sha256:" + hashlib.sha256(topic.encode() + b"\0" + shop_domain.encode() + raw).hexdigest()
    return Delivery(
        webhook_id=webhook_id,
        topic=topic[:100],
        shop_domain=shop_domain,
        api_version=(request.headers.get("X-Shopify-API-Version") or None),
        triggered_at=(request.headers.get("X-Shopify-Triggered-At") or None),
        payload=payload,
    )


def _parse_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected(400, "invalid_json", "Body is not a JSON object.") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "invalid_json", "Body is not a JSON object.")
    return payload


def _record(delivery: Delivery) -> str:
    """Commit the receipt and its effect in one transaction; a redelivery changes nothing."""
    mapped = _map_purchase(delivery)
    begin_write()
    try:
        seen = db.session.execute(
            db.select(WebhookReceipt.id).filter_by(webhook_id=delivery.webhook_id)
        ).first()
        if seen:
            db.session.rollback()
            return "duplicate"
        now = now_utc()
        receipt = WebhookReceipt(
            webhook_id=delivery.webhook_id, shop_domain=delivery.shop_domain, topic=delivery.topic,
            received_at=now, triggered_at=delivery.triggered_at, api_version=delivery.api_version,
            outcome="accepted",
        )
        status = _route(delivery, receipt, now, mapped)
        outcome = receipt.outcome
        db.session.add(receipt)
        db.session.commit()
    except IntegrityError:
        # Another process committed the same webhook id between our check and our insert.
        db.session.rollback()
        return "duplicate"
    except Exception:
        db.session.rollback()
        raise
    logger.info(
        "webhook received",
        extra={"action": "webhook_received", "topic": delivery.topic, "shop": delivery.shop_domain,
               "outcome": outcome, "webhook_id": delivery.webhook_id},
    )
    return status


def _map_purchase(delivery: Delivery) -> MappedPurchase | None:
    """Map an order or checkout before the write transaction, reading the shop's options on the way.

    The mapping is pure CPU work; done inside the write transaction it held SQLite's write lock while
    hashing, and concurrent webhooks queued behind it.
    """
    topic = delivery.topic
    if topic not in ORDER_TOPICS and topic not in CHECKOUT_TOPICS:
        return None
    shop = db.session.execute(
        db.select(Shop).options(joinedload(Shop.settings)).filter_by(domain=delivery.shop_domain)
    ).scalar_one_or_none()
    options = mapping_options(shop.settings if shop is not None else None)
    db.session.rollback()  # end the read: begin_write() opens the write transaction itself
    return (map_order if topic in ORDER_TOPICS else map_checkout)(delivery.payload, options)


def _route(delivery: Delivery, receipt: WebhookReceipt, now: Any, mapped: MappedPurchase | None) -> str:
    topic = delivery.topic
    if mapped is not None:
        shop = get_or_create_shop(delivery.shop_domain)
        if topic in ORDER_TOPICS:
            settle = 0
        else:
            if mapped.event is None and mapped.skip_reason == CHECKOUT_OPEN:
                receipt.outcome = "checkout_open"
                return "accepted"
            settle = int(current_app.config["CHECKOUT_SETTLE_SECONDS"])
        result = outbox.enqueue(shop, mapped, now=now, settle_seconds=settle)
        receipt.outcome, receipt.detail = result.outcome, result.detail
        receipt.event_row_id = result.event_row_id
        return "accepted"
    if topic in privacy.TOPICS:
        receipt.outcome = privacy.handle(topic, delivery.shop_domain, delivery.payload, now)
        return "accepted"
    receipt.outcome = "ignored"
    return "ignored"
