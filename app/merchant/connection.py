"""Check a shop's saved Pinterest credentials with one test event and say what Pinterest answered."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from app import crypto, outbox, shop_state
from app.database import reading, writing
from app.merchant import explain
from app.models import ConnectionStatus, Shop, now_utc
from app.pinterest import EventResult, PinterestClient, PinterestError
from app.settings import stored_credentials_problem
from app.vocabulary import ActionSource, CheckOutcome, FailureClass

logger = logging.getLogger(__name__)

# A fake shopper: Pinterest accepts an event only with at least one identifier.
TEST_EMAIL = "pinbridge-test@example.com"
TEST_VALUE, TEST_CURRENCY = "1.00", "USD"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    outcome: CheckOutcome
    message: str  # what happened and what to do, in the merchant's words
    pinterest_message: str | None = None  # Pinterest's own words, shown one click away
    failure: FailureClass | None = None


def synthetic_event(event_id: str, now: datetime) -> dict[str, Any]:
    """A synthetic `checkout` event Pinterest accepts; it carries no real customer data."""
    return {
        "event_name": "checkout",
        "action_source": ActionSource.WEB.value,
        "event_time": int(now.timestamp()),
        "event_id": event_id,
        "user_data": {"em": [hashlib.sha256(TEST_EMAIL.encode()).hexdigest()]},
        "custom_data": {"currency": TEST_CURRENCY, "value": TEST_VALUE, "order_id": event_id},
    }


def check_connection(shop: Shop) -> CheckResult:
    """Send one test event (`?test=true`) with the saved credentials; record the answer in a write of its own.

    The caller's read of `shop` ends with the read here (its attributes reload on next use), so no
    transaction (or SQLite lock) is held while Pinterest answers.
    """
    with reading():
        settings = shop.settings
        if settings is None or not settings.configured:
            return CheckResult(False, CheckOutcome.NOT_CONFIGURED, "Save the ad account id and the access token first.")
        ad_account_id, shop_id = settings.ad_account_id or "", shop.id
        seen_update, encrypted = settings.credentials_updated_at, settings.access_token_enc or ""
    try:
        token = crypto.decrypt(encrypted)
    except crypto.SecretUnreadable:
        with writing():
            shop_state.pause(shop_id, ConnectionStatus.UNREADABLE, crypto.UNREADABLE_TOKEN_MESSAGE, now_utc(),
                             seen_update=seen_update)
        return CheckResult(False, CheckOutcome.TOKEN_UNREADABLE, crypto.UNREADABLE_TOKEN_MESSAGE)
    problem = stored_credentials_problem(ad_account_id, token)
    if problem is not None:  # saved before the checks that refuse it now: never a request, never a 5xx
        with writing():
            shop_state.pause(shop_id, ConnectionStatus.UNREADABLE, problem[1], now_utc(), seen_update=seen_update)
        return CheckResult(False, CheckOutcome.INVALID_SAVED, problem[1])
    now = now_utc()
    event_id = f"pinbridge-test-{uuid.uuid4().hex[:12]}"
    event = synthetic_event(event_id, now)
    result = _send(ad_account_id, token, event)
    with writing():
        _record(shop_id, seen_update, event, result, now)
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
    except PinterestError as exc:
        return _refusal(exc, ad_account_id)
    return _judge(results[0])


def _refusal(exc: PinterestError, ad_account_id: str) -> CheckResult:
    """A refused or failed test event: one plain sentence and the next step per kind of failure."""
    failure = shop_state.classify(exc)
    if failure is FailureClass.TOKEN:
        return CheckResult(False, CheckOutcome.REJECTED_TOKEN, "Pinterest didn't accept the access token. Create a new "
                           "conversion access token in Pinterest Ads Manager, paste it here and save.",
                           exc.message, failure)
    if failure is FailureClass.AD_ACCOUNT:
        return CheckResult(False, CheckOutcome.REFUSED_AD_ACCOUNT, "The access token works, but it isn't allowed to "
                           f"send conversions for ad account {ad_account_id}. Check the ad account id: it must be "
                           "the account the token was created for.", exc.message, failure)
    if failure is FailureClass.REJECTED:
        return CheckResult(False, CheckOutcome.REFUSED, "Pinterest refused the test event. Check the ad account id and "
                           "try again; if it keeps happening, contact Pinbridge support.", exc.message, failure)
    sentence, _ = explain.FAILURE_TEXT[failure]
    return CheckResult(False, CheckOutcome.UNAVAILABLE, f"{sentence} Try the test again in a minute; orders are kept "
                       "meanwhile.", exc.message, failure)


def _judge(result: EventResult) -> CheckResult:
    if result.processed:
        message = "Pinterest accepted the test event."
        if result.warning_message:
            message += " Pinterest added a note; see its words below."
        return CheckResult(True, CheckOutcome.ACCEPTED, message, result.warning_message)
    reason = explain.field_reason(result.error_message)
    return CheckResult(False, CheckOutcome.NOT_PROCESSED, "Pinterest accepted the token but didn't process the test "
                       "event" + (f": {reason}" if reason else "."), result.error_message)


def _record(shop_id: int, seen_update: datetime | None, event: dict[str, Any], result: CheckResult,
            now: datetime) -> None:
    """Update the shop's connection state and keep the test event in the recent-events list."""
    if result.outcome in (CheckOutcome.ACCEPTED, CheckOutcome.NOT_PROCESSED):
        shop_state.record_credentials_ok(shop_id, now)  # this also lifts a pause from an earlier rejection
    elif result.failure in shop_state.PAUSING:
        shop_state.pause(shop_id, ConnectionStatus.REJECTED, result.pinterest_message or result.message, now,
                         seen_update=seen_update)
        shop_state.record_failure(shop_id, result.failure, result.pinterest_message or "", now)
    else:
        shop_state.record_checked(shop_id, now)
    delivered = result.outcome is CheckOutcome.ACCEPTED
    outbox.record_test_event(shop_id, event["event_id"], now, delivered=delivered, value=TEST_VALUE,
                             currency=TEST_CURRENCY, code=result.outcome, message=result.message,
                             delivered_at=now_utc() if delivered else None)
