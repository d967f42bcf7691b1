"""The connection check's test event, kept in the recent-events list though it never went through the queue."""

from __future__ import annotations

from datetime import datetime

from app.models import Event, EventSource, EventStatus, db
from app.vocabulary import ActionSource

DELIVERED, FAILED = EventStatus.DELIVERED.value, EventStatus.FAILED.value


def record_test_event(shop_id: int, event_id: str, now: datetime, *, delivered: bool, value: str,
                      currency: str, code: str | None, message: str | None, delivered_at: datetime | None) -> None:
    """Keep "check connection"'s test event in the recent-events list; in the caller's transaction.

    It is stored already settled (delivered or failed) and without a payload: it is never claimed or resent.
    """
    db.session.add(Event(
        shop_id=shop_id, event_id=event_id, source=EventSource.VERIFY.value, order_name="Test event", test=True,
        action_source=ActionSource.WEB, value=value, currency=currency, payload=None, match_keys="em",
        status=DELIVERED if delivered else FAILED,
        error_code=None if delivered else code,
        error_message=None if delivered else (message or "")[:1000],
        attempts=1, received_at=now, occurred_at=now, available_at=now, last_attempt_at=now,
        delivered_at=delivered_at if delivered else None,
    ))
