"""Outbox rows for dashboard and privacy tests, with fake values; override any column per test."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from app.models import Event, db, now_utc

_numbers = itertools.count(2001)


def add_event(shop_id: int, *, received_at: datetime | None = None, status: str = "delivered",
              delay: float | None = 30.0, **overrides: Any) -> Event:
    """Insert one event (delivered `delay` seconds after receipt unless told otherwise) and flush."""
    number = next(_numbers)
    received = received_at or now_utc() - timedelta(minutes=5)
    values: dict[str, Any] = {
        "shop_id": shop_id, "event_id": f"cart-token-fake-{number}", "source": "order",
        "order_id": str(5_912_345_678_900_000 + number), "order_name": f"#{number}", "value": "45.00",
        "currency": "USD", "match_keys": "em ip_ua", "status": status, "received_at": received,
        "available_at": received, "payload": {"event_name": "checkout", "event_id": f"cart-token-fake-{number}"},
        "delivered_at": received + timedelta(seconds=delay) if status == "delivered" and delay is not None else None,
    }
    values.update(overrides)
    event = Event(**values)
    db.session.add(event)
    db.session.flush()
    return event
