"""What both webhook doors share: a body read with a deadline, then a verified purchase stored durably and
every answer logged and counted.

The WSGI fast path (wsgi.py) and the Flask route (webhooks.py) answer through these functions, so a
delivery is acknowledged, refused or turned away with a 503 the same way whichever of the two serves it.
"""

from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from app import metrics
from app.inbox import receipts
from app.ingest.verify import Delivery, WebhookRejected
from app.mapping.identity import checkout_completed
from app.models import ORDER_TOPICS
from app.vocabulary import ReceiptOutcome

logger = logging.getLogger("app.ingest.webhooks")  # one logger name for both doors


UNAVAILABLE = {"error": "unavailable", "message": "Database unavailable, retry later."}


def acknowledge(delivery: Delivery, started: float, box: receipts.Receipts | None = None) -> ReceiptOutcome:
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
