"""Check a shop's saved Pinterest credentials with one test event and say what Pinterest answered."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from . import crypto
from .models import ConnectionStatus, Event, EventStatus, PinterestSettings, Shop, db, now_utc
from .pinterest import (
    BatchRejected,
    CredentialsRejected,
    EventResult,
    PinterestClient,
    PinterestError,
    Unavailable,
)

logger = logging.getLogger(__name__)

# A fake shopper: Pinterest accepts an event only with at least one identifier.
TEST_EMAIL = "pinbridge-test@example.com"
TEST_VALUE, TEST_CURRENCY = "1.00", "USD"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    outcome: str  # accepted | not_processed | rejected_token | refused | unavailable | not_configured
    message: str


def synthetic_event(event_id: str, now: datetime) -> dict[str, Any]:
    """A synthetic `checkout` event Pinterest accepts; it carries no real customer data."""
    return {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": int(now.timestamp()),
        "event_id": event_id,
        "user_data": {"em": [hashlib.sha256(TEST_EMAIL.encode()).hexdigest()]},
        "custom_data": {"currency": TEST_CURRENCY, "value": TEST_VALUE, "order_id": event_id},
    }


def check_connection(shop: Shop) -> CheckResult:
    """Send one test event (`?test=true`) with the saved credentials; record the answer. Commits."""
    settings = shop.settings
    if settings is None or not settings.configured:
        return CheckResult(False, "not_configured", "Save the ad account id and the access token first.")
    try:
        token = crypto.decrypt(settings.access_token_enc or "")
    except crypto.SecretUnreadable:
        return CheckResult(False, "not_configured",
                           "The saved token can no longer be read; paste the access token again.")
    ad_account_id, shop_id = settings.ad_account_id or "", shop.id
    now = now_utc()
    event_id = f"pinbridge-test-{uuid.uuid4().hex[:12]}"
    event = synthetic_event(event_id, now)
    db.session.commit()  # hold no transaction (or SQLite lock) while Pinterest answers
    result = _send(ad_account_id, token, event)
    settings = db.session.execute(db.select(PinterestSettings).filter_by(shop_id=shop_id)).scalar_one()
    _record(shop_id, settings, event, result, now)
    db.session.commit()
    logger.info("connection checked", extra={"action": "connection_checked", "shop_id": shop_id,
                                             "outcome": result.outcome})
    return result


def _send(ad_account_id: str, token: str, event: dict[str, Any]) -> CheckResult:
    cfg = current_app.config
    client = PinterestClient(cfg["PINTEREST_API_URL"], connect_timeout=cfg["PINTEREST_CONNECT_TIMEOUT"],
                             read_timeout=min(float(cfg["PINTEREST_READ_TIMEOUT"]), 15.0))
    try:
        with client:
            results = client.send_events(ad_account_id, token, [event], test=True)
    except CredentialsRejected as exc:
        return CheckResult(False, "rejected_token", f"Pinterest rejected the token: {exc.message}")
    except BatchRejected as exc:
        return CheckResult(False, "refused", f"Pinterest refused the test event: {exc.message}")
    except Unavailable as exc:
        return CheckResult(False, "unavailable",
                           f"Pinterest could not be reached ({exc.message}). Try again in a minute.")
    except PinterestError as exc:  # a new member of the family: report it rather than crash
        return CheckResult(False, "refused", f"Pinterest did not accept the test event: {exc.message}")
    return _judge(results[0])


def _judge(result: EventResult) -> CheckResult:
    if result.processed:
        message = "Pinterest accepted the test event."
        if result.warning_message:
            message += f" Pinterest noted: {result.warning_message}"
        return CheckResult(True, "accepted", message)
    return CheckResult(False, "not_processed",
                       f"Pinterest received the test event but did not process it: {result.error_message}")


def _record(shop_id: int, settings: PinterestSettings, event: dict[str, Any], result: CheckResult,
            now: datetime) -> None:
    """Update the connection state and keep the test event in the recent-events list."""
    if result.outcome in ("accepted", "not_processed"):
        # The token and account work: this also lifts a pause caused by an earlier rejection.
        settings.connection_status = ConnectionStatus.OK.value
        settings.connection_message = None
    elif result.outcome == "rejected_token":
        settings.connection_status = ConnectionStatus.REJECTED.value
        settings.connection_message = result.message.removeprefix("Pinterest rejected the token: ")[:1000]
    settings.connection_checked_at = now
    delivered = result.outcome == "accepted"
    db.session.add(Event(
        shop_id=shop_id, event_id=event["event_id"], source="verify", order_name="Test event", test=True,
        action_source="web", value=TEST_VALUE, currency=TEST_CURRENCY, payload=None, match_keys="em",
        status=EventStatus.DELIVERED.value if delivered else EventStatus.FAILED.value,
        error_code=None if delivered else result.outcome,
        error_message=None if delivered else result.message[:1000],
        attempts=1, received_at=now, occurred_at=now, available_at=now, last_attempt_at=now,
        delivered_at=now_utc() if delivered else None,
    ))
