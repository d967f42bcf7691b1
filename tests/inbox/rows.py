"""What the inbox tests read back: the receipts in order, and how many events the outbox holds."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import Event, WebhookReceipt, db


def receipts() -> list[WebhookReceipt]:
    db.session.rollback()
    return list(db.session.scalars(select(WebhookReceipt).order_by(WebhookReceipt.id)))


def event_count() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(Event)) or 0)
