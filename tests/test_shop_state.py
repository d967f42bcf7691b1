"""A shop's delivery state: each transition's guarded write, and the merchant's record of failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app import shop_state
from app.database import writing
from app.models import ConnectionStatus, ShopDeliveryState, db, now_utc
from app.pinterest import AdAccountRefused, BatchRejected, CredentialsRejected, TokenRejected, Unavailable
from app.shop_state import FailureClass
from tests.conftest import stored_settings

NOW = now_utc().replace(microsecond=0)


@pytest.mark.parametrize(("error", "failure"), [
    (TokenRejected("x", status=401), FailureClass.TOKEN),
    (AdAccountRefused("x", status=403), FailureClass.AD_ACCOUNT),
    (CredentialsRejected("x", status=401), FailureClass.TOKEN),         # the base class, by its status
    (CredentialsRejected("x", status=403), FailureClass.AD_ACCOUNT),
    (Unavailable("x", status=429), FailureClass.RATE_LIMITED),
    (Unavailable("x", status=500), FailureClass.PINTEREST),
    (Unavailable("x"), FailureClass.NETWORK),                           # no answer at all
    (BatchRejected("x", status=400), FailureClass.REJECTED),
])
def test_classify(error: Exception, failure: FailureClass) -> None:
    assert shop_state.classify(error) is failure  # type: ignore[arg-type]


@pytest.fixture
def shop_id(configure_shop: Any) -> int:
    return int(configure_shop().id)


def state(shop_id: int) -> ShopDeliveryState:
    db.session.rollback()
    row = db.session.get(ShopDeliveryState, shop_id)
    assert row is not None
    return row


def test_failures_count_up_and_keep_the_runs_start(shop_id: int) -> None:
    for minutes in (0, 5, 9):
        with writing():
            shop_state.record_failure(shop_id, FailureClass.PINTEREST, f"503 at +{minutes}",
                                      NOW + timedelta(minutes=minutes))
            shop_state.back_off(shop_id, NOW + timedelta(minutes=minutes + 1))  # the streak counts back-offs
    row = state(shop_id)
    assert (stored_settings().failure_streak, row.failure_class, row.failure_message) == (3, "pinterest", "503 at +9")
    assert (row.failing_since, row.last_failure_at) == (NOW, NOW + timedelta(minutes=9))


def test_a_long_message_is_cut(shop_id: int) -> None:
    with writing():
        shop_state.record_failure(shop_id, FailureClass.REJECTED, "x" * 2000, NOW)
    assert state(shop_id).failure_message == "x" * 500


def test_a_success_ends_the_run_and_the_backoff(shop_id: int) -> None:
    with writing():
        shop_state.record_failure(shop_id, FailureClass.NETWORK, "timeout", NOW)
        shop_state.back_off(shop_id, NOW + timedelta(minutes=2))
        shop_state.back_off(shop_id, NOW + timedelta(minutes=4))
    assert (stored_settings().failure_streak, stored_settings().backoff_until) == (2, NOW + timedelta(minutes=4))
    with writing():
        shop_state.record_success(shop_id, NOW + timedelta(minutes=5))
    row = state(shop_id)
    assert (stored_settings().failure_streak, row.failure_class, row.failure_message, row.failing_since) == (
        0, None, None, None)
    assert row.last_success_at == NOW + timedelta(minutes=5)
    settings = stored_settings()
    assert (settings.failure_streak, settings.backoff_until, settings.connection_status) == (0, None, "ok")


def test_the_last_success_never_moves_backwards(shop_id: int) -> None:
    with writing():
        shop_state.record_success(shop_id, NOW)
        shop_state.record_success(shop_id, NOW - timedelta(minutes=3))  # an older batch answered later
    assert state(shop_id).last_success_at == NOW
    with writing():
        shop_state.record_success(shop_id, NOW + timedelta(minutes=1), delivered=False)  # none got through
    assert state(shop_id).last_success_at == NOW


def test_an_answer_that_delivered_nothing_ends_the_failure_run_without_a_success(shop_id: int) -> None:
    """Pinterest answered (each event refused on its own): reachable again, so the run and the backoff end
    and an unknown connection is ok; the shop's state row is made by this first record."""
    assert db.session.get(ShopDeliveryState, shop_id) is None
    with writing():
        shop_state.record_success(shop_id, NOW, delivered=False)
    row = state(shop_id)
    assert (row.last_success_at, row.failure_class, row.failing_since) == (None, None, None)
    with writing():
        shop_state.record_failure(shop_id, FailureClass.NETWORK, "No answer.", NOW)
        shop_state.back_off(shop_id, NOW + timedelta(minutes=2))
    with writing():
        shop_state.record_success(shop_id, NOW + timedelta(minutes=1), delivered=False)
    row = state(shop_id)
    assert (row.last_success_at, row.failure_class, row.failure_message, row.failing_since) == (None, None, None, None)
    settings = stored_settings()
    assert (settings.failure_streak, settings.backoff_until, settings.connection_status, settings.connection_message,
            settings.connection_checked_at) == (0, None, "ok", None, NOW)


def test_a_success_does_not_lift_a_pause(shop_id: int) -> None:
    seen = stored_settings().credentials_updated_at
    with writing():
        assert shop_state.pause(shop_id, ConnectionStatus.REJECTED, "Authentication failed.", NOW, seen_update=seen)
        shop_state.record_success(shop_id, NOW)
    assert stored_settings().connection_status == "rejected"


def test_a_pause_for_credentials_already_replaced_is_not_applied(shop_id: int, configure_shop: Any) -> None:
    old = stored_settings().credentials_updated_at
    configure_shop(access_token="pina_test_token_0002")  # saved while the old token was being refused
    assert stored_settings().credentials_updated_at != old
    with writing():
        assert not shop_state.pause(shop_id, ConnectionStatus.REJECTED, "Authentication failed.", NOW,
                                    seen_update=old)
    assert stored_settings().connection_status == "unknown"
    with writing():
        assert shop_state.pause(shop_id, ConnectionStatus.UNREADABLE, "m" * 3000, NOW,
                                seen_update=stored_settings().credentials_updated_at)
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message) == ("unreadable", "m" * 1000)
    assert settings.connection_checked_at == NOW


@pytest.mark.parametrize("status", [ConnectionStatus.OK, ConnectionStatus.UNKNOWN])
def test_only_a_rejection_or_an_unreadable_token_pauses(shop_id: int, status: ConnectionStatus) -> None:
    with pytest.raises(ValueError):
        shop_state.pause(shop_id, status, "no", NOW, seen_update=None)


def test_working_credentials_lift_a_rejection_and_its_failure_run(shop_id: int) -> None:
    seen = stored_settings().credentials_updated_at
    with writing():
        shop_state.pause(shop_id, ConnectionStatus.REJECTED, "Authentication failed.", NOW, seen_update=seen)
        shop_state.record_failure(shop_id, FailureClass.TOKEN, "Authentication failed.", NOW)
    with writing():
        shop_state.record_credentials_ok(shop_id, NOW + timedelta(minutes=1))
    assert (stored_settings().connection_status, stored_settings().connection_message) == ("ok", None)
    assert state(shop_id).failure_class is None


def test_working_credentials_leave_an_outage_run_alone(shop_id: int) -> None:
    with writing():
        shop_state.record_failure(shop_id, FailureClass.PINTEREST, "503", NOW)
        shop_state.record_credentials_ok(shop_id, NOW)
    assert state(shop_id).failure_class == "pinterest"


def test_saved_credentials_forget_the_old_ones_record(shop_id: int) -> None:
    seen = stored_settings().credentials_updated_at
    with writing():
        shop_state.back_off(shop_id, NOW + timedelta(hours=1))
        shop_state.pause(shop_id, ConnectionStatus.REJECTED, "Authentication failed.", NOW, seen_update=seen)
        shop_state.credentials_saved(shop_id)
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message, settings.backoff_until,
            settings.failure_streak) == ("unknown", None, None, 0)


def test_lifting_a_backoff_keeps_the_streak_unless_asked(shop_id: int) -> None:
    with writing():
        shop_state.back_off(shop_id, NOW + timedelta(hours=1))
        shop_state.lift_backoff(shop_id)
    assert (stored_settings().backoff_until, stored_settings().failure_streak) == (None, 1)
    with writing():
        shop_state.lift_backoff(shop_id, reset_streak=True)
    assert stored_settings().failure_streak == 0


def test_the_shops_time_zone(app: Flask, shop_id: int) -> None:
    assert str(shop_state.zone(shop_state.get(shop_id))) == "UTC"  # not known yet
    assert shop_state.set_timezone(shop_id, "Europe/Berlin")
    assert str(shop_state.zone(state(shop_id))) == "Europe/Berlin"
    assert not shop_state.set_timezone(shop_id, "Mars/Olympus_Mons")
    assert state(shop_id).iana_timezone == "Europe/Berlin"
