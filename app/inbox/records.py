"""The rest of a receipt's life: a lifecycle topic's receipt, a redacted shop's receipts, old ones purged.

Orders and checkouts are stored by receipts.py and routed by routing.py; every other write to
`webhook_receipts` is here, so the table's writers are all in this package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from app.database import reading, writing
from app.models import WebhookReceipt, db, now_utc
from app.vocabulary import ReceiptOutcome

PURGE_BATCH = 2000  # rows per transaction, so neither database holds its locks for long


def record_applied(*, webhook_id: str, shop_domain: str, topic: str, triggered_at: str | None,
                   api_version: str | None, apply: Callable[[datetime], tuple[ReceiptOutcome, ReceiptOutcome]],
                   ) -> tuple[ReceiptOutcome, ReceiptOutcome] | None:
    """Apply a topic at once and keep its receipt, in one transaction; None for a webhook id already kept.

    `apply(now)` returns the answer's status and the receipt's outcome. A concurrent process keeping the
    same webhook id first makes the commit raise IntegrityError: the caller's duplicate too.
    """
    with writing():
        seen = db.session.execute(select(WebhookReceipt.id).filter_by(webhook_id=webhook_id)).first()
        if seen:
            return None
        now = now_utc()
        status, outcome = apply(now)
        db.session.add(WebhookReceipt(
            webhook_id=webhook_id, shop_domain=shop_domain, topic=topic, received_at=now,
            triggered_at=triggered_at, api_version=api_version, outcome=outcome,
        ))
    return status, outcome


def forget_shop(shop_domain: str) -> None:
    """shop/redact: every receipt of the shop goes; in the caller's transaction."""
    db.session.execute(delete(WebhookReceipt).where(WebhookReceipt.shop_domain == shop_domain))


def purge(now: datetime, days: int) -> int:
    """Delete webhook receipts older than `days` (batched); a body still waiting for the worker is kept.

    The receipts table has no index on time (every webhook would pay for it), so each batch is found by
    reading the table in id order, oldest first, before the write lock is taken: the lock is held only
    for deleting rows by their key, never for the search.
    """
    cutoff, total = now - timedelta(days=days), 0
    old = (WebhookReceipt.received_at < cutoff, WebhookReceipt.body.is_(None))
    while True:
        with reading():
            ids = list(db.session.execute(
                select(WebhookReceipt.id).where(*old).order_by(WebhookReceipt.id).limit(PURGE_BATCH)).scalars())
        if not ids:
            return total
        with writing():
            count = int(db.session.execute(
                delete(WebhookReceipt).where(WebhookReceipt.id.in_(ids), *old)
                .execution_options(synchronize_session=False)
            ).rowcount or 0)  # type: ignore[attr-defined]
        total += count
        if len(ids) < PURGE_BATCH:
            return total
