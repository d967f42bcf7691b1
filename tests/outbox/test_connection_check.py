"""The connection check's test event (app/outbox/connection_check.py): kept settled, never claimed or resent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app import outbox
from app.database import writing
from app.models import Event, EventStatus, db, now_utc

NOW = now_utc()


def _record(shop_id: int, event_id: str, **result: Any) -> Event:
    with writing():
        outbox.record_test_event(shop_id, event_id, NOW, value="1.00", currency="USD", **result)
    db.session.rollback()
    return db.session.execute(select(Event).filter_by(event_id=event_id)).scalar_one()


def test_an_accepted_check_is_kept_as_a_delivered_test_event(configure_shop: Any) -> None:
    shop_id = int(configure_shop().id)
    delivered_at = NOW + timedelta(seconds=1)
    row = _record(shop_id, "verify-fake-0001", delivered=True, code="accepted", message="Pinterest took it.",
                  delivered_at=delivered_at)
    assert (row.shop_id, row.source, row.test, row.order_name) == (shop_id, "verify", True, "Test event")
    assert (row.status, row.error_code, row.error_message) == ("delivered", None, None)
    assert (row.value, row.currency, row.match_keys, row.payload) == ("1.00", "USD", "em", None)
    assert (row.attempts, row.received_at, row.last_attempt_at, row.delivered_at) == (1, NOW, NOW, delivered_at)


def test_a_refused_check_is_kept_as_a_failed_test_event_with_pinterests_answer(configure_shop: Any) -> None:
    shop_id = int(configure_shop().id)
    row = _record(shop_id, "verify-fake-0002", delivered=False, code="token_rejected", message="x" * 1500,
                  delivered_at=NOW)
    assert (row.status, row.error_code, row.error_message) == ("failed", "token_rejected", "x" * 1000)
    assert row.delivered_at is None  # whatever the caller passed: it was not delivered
    assert _record(shop_id, "verify-fake-0003", delivered=False, code="network", message=None,
                   delivered_at=None).error_message == ""


def test_a_test_event_is_never_claimed_or_sent_again(configure_shop: Any) -> None:
    shop_id = int(configure_shop().id)
    _record(shop_id, "verify-fake-0004", delivered=False, code="unavailable", message="Down.", delivered_at=None)
    db.session.rollback()
    assert outbox.claim("worker-a", NOW + timedelta(minutes=1), lease_seconds=60, limit=10) == []
    with writing():
        assert outbox.requeue(shop_id, EventStatus.FAILED, NOW, max_age_seconds=3600).count == 0
    db.session.rollback()
    assert db.session.scalar(select(Event.status)) == "failed"
