"""Bodies no configured key can open: kept sealed, counted, and tried again when the keys change.

A waiting body sealed under a key that ENCRYPTION_KEY no longer lists (a wrong key deployed, an old one
dropped too early) is not thrown away: the worker moves it aside, still sealed, from `body` (the inbox) to
`held_body`, with `held_keys`, a fingerprint of the key set that could not open it. It is counted in
`/metrics` (`pinbridge_inbox_unreadable_bodies`) and on the merchant's page, and stays until the receipt
retention deletes the receipt (`RECEIPT_RETENTION_DAYS`), or a privacy topic for its shop.

When a worker runs with another key set than the one a body failed with (the right key restored, or added
as an older key), it tries that body again: a body that opens goes back to the inbox (`body`) in one
guarded UPDATE, and the worker maps it like any other, once; one that still does not open is stamped with
the new fingerprint and waits for the next change. Moving a body back is guarded by `held_body IS NOT
NULL`, so two workers never restore it twice, and the outbox takes one purchase once whatever came first
(reconciliation may have recovered the order meanwhile).
"""

from __future__ import annotations

import logging
from typing import cast

from flask import Flask, current_app
from sqlalchemy import func, select, update

from app.crypto import SealedBodies, SecretUnreadable
from app.database import reading, rowcount, writing
from app.models import WebhookReceipt, db

logger = logging.getLogger(__name__)

OUTCOME = "unreadable_body"  # the receipt's outcome while its body is held (as inbox.UNREADABLE)
DETAIL = ("The body could not be opened with the configured ENCRYPTION_KEY; it is kept sealed and tried again "
          "when the keys change.")
REDACTED = "The sealed body was deleted by a privacy request before it could be read."
MESSAGE = "{count} order{s} could not be read: the encryption key changed."
BATCH = 200  # held bodies tried per transaction


def _sealed() -> SealedBodies:
    from app.inbox.receipts import receipts_for

    return receipts_for(cast(Flask, current_app._get_current_object())).sealed  # type: ignore[attr-defined]


def hold(receipt_id: int, fingerprint: str) -> bool:
    """Move one waiting body aside, still sealed; in the caller's transaction. False if already routed."""
    return bool(rowcount(db.session.execute(
        update(WebhookReceipt)
        .where(WebhookReceipt.id == receipt_id, WebhookReceipt.body.isnot(None))
        .values(held_body=WebhookReceipt.body, body=None, held_keys=fingerprint, outcome=OUTCOME, detail=DETAIL)
        .execution_options(synchronize_session=False)
    )))


def reopen(sealed: SealedBodies | None = None, limit: int = BATCH) -> int:
    """Try held bodies the current keys have not tried yet; return how many went back to the inbox."""
    sealed = sealed or _sealed()
    fingerprint = sealed.fingerprint
    with reading():  # the keys are tried outside the write lock
        rows = db.session.execute(
            select(WebhookReceipt.id, WebhookReceipt.shop_domain, WebhookReceipt.held_body)
            .where(WebhookReceipt.held_body.isnot(None),
                   (WebhookReceipt.held_keys.is_(None)) | (WebhookReceipt.held_keys != fingerprint))
            .order_by(WebhookReceipt.id).limit(limit)
        ).all()
    if not rows:
        return 0
    opened, still = [], []
    for row in rows:
        try:
            sealed.open(bytes(row.held_body), row.shop_domain.encode())
        except SecretUnreadable:
            still.append(row.id)
        else:
            opened.append(row.id)
    restored = 0
    with writing():
        held = WebhookReceipt.held_body.isnot(None)
        if opened:
            restored = rowcount(db.session.execute(
                update(WebhookReceipt).where(WebhookReceipt.id.in_(opened), held)
                .values(body=WebhookReceipt.held_body, held_body=None, held_keys=None, outcome="waiting", detail=None)
                .execution_options(synchronize_session=False)))
        if still:
            db.session.execute(
                update(WebhookReceipt).where(WebhookReceipt.id.in_(still), held)
                .values(held_keys=fingerprint).execution_options(synchronize_session=False))
    if restored:
        logger.info("held bodies readable again", extra={"action": "inbox_reopened", "count": restored})
    return restored


def forget(shop_domain: str) -> int:
    """Delete a shop's held bodies (a privacy topic: they cannot be searched); in the caller's transaction."""
    return rowcount(db.session.execute(
        update(WebhookReceipt)
        .where(WebhookReceipt.shop_domain == shop_domain, WebhookReceipt.held_body.isnot(None))
        .values(held_body=None, held_keys=None, detail=REDACTED)
        .execution_options(synchronize_session=False)))


def count(shop_domain: str | None = None) -> int:
    """How many bodies are held (for one shop, or all)."""
    query = select(func.count()).select_from(WebhookReceipt).where(WebhookReceipt.held_body.isnot(None))
    if shop_domain is not None:
        query = query.where(WebhookReceipt.shop_domain == shop_domain)
    return int(db.session.scalar(query) or 0)


def summary(shop_domain: str) -> dict[str, object]:
    """What the merchant's page says about a shop's held bodies: a count, and a sentence when there are any."""
    held = count(shop_domain)
    return {"count": held,
            "message": MESSAGE.format(count=held, s="" if held == 1 else "s") if held else None}
