"""The rest of a receipt's life (app/inbox/records.py): a lifecycle topic's receipt kept once, a redacted shop's
receipts forgotten, old receipts purged in batches while a body still waiting for the worker stays."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from app.inbox import records, unreadable
from app.models import WebhookReceipt, db, now_utc
from app.ops import retention
from app.vocabulary import ReceiptOutcome
from tests.conftest import SHOP
from tests.inbox.rows import hold_one, receipts

OTHER = "second-store.myshopify.com"
NOW = now_utc()


def _receipt(webhook_id: str, *, shop: str = SHOP, days_old: float = 0, body: bytes | None = None) -> None:
    db.session.add(WebhookReceipt(webhook_id=webhook_id, shop_domain=shop, topic="orders/create",
                                  received_at=NOW - timedelta(days=days_old), outcome=ReceiptOutcome.QUEUED,
                                  body=body))
    db.session.commit()


def _kept() -> list[str]:
    return [receipt.webhook_id for receipt in receipts()]


def test_a_lifecycle_topic_is_applied_and_its_receipt_kept_once(app: Flask) -> None:
    applied: list[datetime] = []

    def apply(now: datetime) -> tuple[ReceiptOutcome, ReceiptOutcome]:
        applied.append(now)
        return ReceiptOutcome.ACCEPTED, ReceiptOutcome.UNINSTALLED

    keep = {"webhook_id": "hook-uninstall-1", "shop_domain": SHOP, "topic": "app/uninstalled",
            "triggered_at": "2026-11-22T09:00:00.000000000Z", "api_version": "2026-10", "apply": apply}
    assert records.record_applied(**keep) == (ReceiptOutcome.ACCEPTED, ReceiptOutcome.UNINSTALLED)
    [receipt] = receipts()
    assert (receipt.webhook_id, receipt.shop_domain, receipt.topic, receipt.outcome) == (
        "hook-uninstall-1", SHOP, "app/uninstalled", ReceiptOutcome.UNINSTALLED)
    assert (receipt.triggered_at, receipt.api_version, receipt.received_at) == (
        "2026-11-22T09:00:00.000000000Z", "2026-10", applied[0])

    assert records.record_applied(**keep) is None  # Shopify sent it again: not applied twice
    assert len(applied) == 1 and len(receipts()) == 1


def test_a_topic_that_fails_to_apply_keeps_no_receipt(app: Flask) -> None:
    def apply(now: datetime) -> tuple[ReceiptOutcome, ReceiptOutcome]:
        raise RuntimeError("the shop could not be updated")

    with pytest.raises(RuntimeError):
        records.record_applied(webhook_id="hook-redact-1", shop_domain=SHOP, topic="shop/redact",
                               triggered_at=None, api_version=None, apply=apply)
    assert receipts() == []  # Shopify's retry applies it again


def test_a_redacted_shops_receipts_are_forgotten_and_no_other_shops(app: Flask) -> None:
    _receipt("hook-mine-1")
    _receipt("hook-mine-2", body=b"sealed-body-fake")
    _receipt("hook-theirs-1", shop=OTHER)
    records.forget_shop(SHOP)
    db.session.commit()
    assert _kept() == ["hook-theirs-1"]


def test_old_receipts_go_in_batches_and_a_waiting_body_stays(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "PURGE_BATCH", 2)
    for n in range(5):
        _receipt(f"hook-old-{n}", days_old=20)
    _receipt("hook-waiting", days_old=20, body=b"sealed-body-fake")  # the worker has not mapped it yet
    _receipt("hook-recent", days_old=13)
    db.session.rollback()
    assert records.purge(NOW, 14) == 5
    assert _kept() == ["hook-waiting", "hook-recent"]
    db.session.rollback()
    assert records.purge(NOW, 14) == 0


def test_a_held_body_stays_until_the_receipt_retention(app: Flask, post_webhook: Any) -> None:
    hold_one(app, post_webhook)
    with app.app_context():
        assert retention.purge_receipts(now_utc() + timedelta(days=13), 14) == 0
        assert unreadable.count() == 1
        assert retention.purge_receipts(now_utc() + timedelta(days=15), 14) == 1
        assert unreadable.count() == 0
