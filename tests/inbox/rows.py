"""What the inbox tests read back (the receipts in order, how many events the outbox holds), and a body held
because no configured key opens it."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import func, select

from app.models import Event, WebhookReceipt, db
from tests.conftest import process_inbox
from tests.factories import web_order


def receipts() -> list[WebhookReceipt]:
    db.session.rollback()
    return list(db.session.scalars(select(WebhookReceipt).order_by(WebhookReceipt.id)))


def event_count() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(Event)) or 0)


def hold_one(app: Flask, post_webhook: Any) -> None:
    """One order's body, routed while another key is configured: held sealed; the right key is back after."""
    post_webhook(web_order(), drain=False)
    right = app.config["ENCRYPTION_KEYS"]
    app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
    app.extensions.pop("pinbridge_receipts", None)
    assert process_inbox(app) == 1
    app.config["ENCRYPTION_KEYS"] = right
    app.extensions.pop("pinbridge_receipts", None)
