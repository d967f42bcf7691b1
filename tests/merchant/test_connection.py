"""The connection check against the Pinterest stand-in: one test event, what Pinterest said, what it changes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app import crypto
from app.merchant.connection import CheckResult, check_connection
from app.models import Event, ShopDeliveryState, db
from app.shop_state import FailureClass
from app.shops import get_or_create_shop
from tests.conftest import SHOP, stored_settings
from tests.standins.pinterest import PinterestStandin

ACCOUNT, TOKEN = "549755885175", "pina_test_token_0001"


def check() -> CheckResult:
    db.session.rollback()
    return check_connection(get_or_create_shop(SHOP))


def verify_events() -> list[Event]:
    db.session.rollback()
    return list(db.session.scalars(select(Event).where(Event.source == "verify")))


def test_an_accepted_test_event_marks_the_credentials_working(configure_shop: Any,
                                                              pinterest: PinterestStandin) -> None:
    configure_shop()
    result = check()
    assert (result.ok, result.outcome, result.message) == (True, "accepted", "Pinterest accepted the test event.")
    [request] = pinterest.requests
    assert (request.ad_account_id, request.token, request.test) == (ACCOUNT, TOKEN, True)
    [sent] = request.events
    assert sent["event_name"] == "checkout" and sent["event_id"].startswith("pinbridge-test-")
    assert sent["user_data"] == {"em": [hashlib.sha256(b"pinbridge-test@example.com").hexdigest()]}
    assert sent["custom_data"] == {"currency": "USD", "value": "1.00", "order_id": sent["event_id"]}
    assert pinterest.violations == []
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message) == ("ok", None)
    assert settings.connection_checked_at is not None
    [recorded] = verify_events()
    assert (recorded.event_id, recorded.status) == (sent["event_id"], "delivered")


def test_a_warning_is_passed_on_in_pinterests_words(configure_shop: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.warn_events(lambda ev: True, message="Unrecognised currency precision.")
    result = check()
    assert (result.ok, result.outcome, result.pinterest_message) == (
        True, "accepted", "Unrecognised currency precision.")
    assert result.message == "Pinterest accepted the test event. Pinterest added a note; see its words below."


def test_a_rejected_token_pauses_the_shop(configure_shop: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.reject_token(TOKEN, status=401, message="Authentication failed.")
    result = check()
    assert (result.ok, result.outcome, result.failure, result.pinterest_message) == (
        False, "rejected_token", FailureClass.TOKEN, "Authentication failed.")
    assert result.message.startswith("Pinterest didn't accept the access token.")
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message) == ("rejected", "Authentication failed.")
    state = db.session.get(ShopDeliveryState, settings.shop_id)
    assert state is not None and state.failure_class == "token"
    [recorded] = verify_events()
    assert (recorded.status, recorded.error_code) == ("failed", "rejected_token")


def test_a_refused_ad_account_names_the_account(configure_shop: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.reject_token(TOKEN, status=403, message="Not allowed for this ad account.")
    result = check()
    assert (result.outcome, result.failure) == ("refused_ad_account", FailureClass.AD_ACCOUNT)
    assert f"ad account {ACCOUNT}" in result.message
    assert stored_settings().connection_status == "rejected"


def test_a_working_check_lifts_an_earlier_rejection(configure_shop: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.reject_token(TOKEN, status=401)
    assert check().outcome == "rejected_token"
    pinterest.accept_token(TOKEN)
    assert check().outcome == "accepted"
    settings = stored_settings()
    assert settings.connection_status == "ok"
    state = db.session.get(ShopDeliveryState, settings.shop_id)
    assert state is not None and state.failure_class is None


@pytest.mark.parametrize(("mode", "failure", "sentence"), [
    ("unavailable", FailureClass.PINTEREST, "Pinterest is having trouble on its side."),
    ("rate_limited", FailureClass.RATE_LIMITED, "Pinterest asked Pinbridge to slow down."),
])
def test_pinterest_unavailable_changes_nothing_but_the_time_checked(
    configure_shop: Any, pinterest: PinterestStandin, mode: str, failure: FailureClass, sentence: str
) -> None:
    configure_shop()
    pinterest.set_mode(mode)  # type: ignore[arg-type]
    result = check()
    assert (result.ok, result.outcome, result.failure) == (False, "unavailable", failure)
    assert result.message == f"{sentence} Try the test again in a minute; orders are kept meanwhile."
    settings = stored_settings()
    assert settings.connection_status == "unknown" and settings.connection_checked_at is not None


def test_an_event_pinterest_did_not_process_says_why(configure_shop: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.fail_events(lambda ev: True, message="Invalid value for user_data.em")
    result = check()
    assert (result.ok, result.outcome) == (False, "not_processed")
    assert result.message == ("Pinterest accepted the token but didn't process the test event: "
                              "The customer's email is not valid.")
    assert stored_settings().connection_status == "ok"  # the token itself works


def test_nothing_is_sent_without_saved_credentials(app: Any, pinterest: PinterestStandin) -> None:
    get_or_create_shop(SHOP)
    db.session.commit()
    result = check()
    assert (result.ok, result.outcome) == (False, "not_configured")
    assert pinterest.requests == [] and verify_events() == []


def test_a_token_the_key_cannot_read_pauses_without_calling_pinterest(configure_shop: Any,
                                                                     pinterest: PinterestStandin) -> None:
    configure_shop()
    settings = stored_settings()
    settings.access_token_enc = crypto.encrypt(TOKEN, [Fernet.generate_key().decode()])
    db.session.commit()
    result = check()
    assert (result.ok, result.outcome) == (False, "token_unreadable")
    assert result.message == ("Pinbridge cannot read the stored token: the encryption key changed. "
                              "Paste the token again.")
    assert pinterest.requests == []
    assert stored_settings().connection_status == "unreadable"
