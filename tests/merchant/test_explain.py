"""Pinterest's answers in a merchant's words."""

from __future__ import annotations

import re

import pytest

from app.merchant.explain import FAILURE_TEXT, event_reason, field_reason, skip_reason
from app.shop_state import FailureClass

INTERNAL_WORDS = ("ip_ua", "exchange_error", "event(s)", "custom_data", "user_data")


@pytest.mark.parametrize("message, reason", [
    ("Invalid parameter: custom_data.contents[1].item_price is required.", "Line 2 has no price."),
    ("Invalid parameter: custom_data.contents[0].item_price.", "Line 1 has an invalid price."),
    ("data[0].custom_data.contents[2].quantity must be positive", "Line 3 has an invalid quantity."),
    ("custom_data.currency is missing", "The order's currency is missing."),
    ("Invalid value for user_data.em", "The customer's email is not valid."),
    ("event_time is too old", "The order's time is not valid."),
    ("Something unexpected happened.", None),   # no field named: no guess
    (None, None),
])
def test_field_paths_become_sentences(message: str | None, reason: str | None) -> None:
    assert field_reason(message) == reason


@pytest.mark.parametrize("failure, sentence, step", [
    (FailureClass.TOKEN,
     "Pinterest no longer accepts your conversion access token.",
     "Create a new conversion access token in Pinterest Ads Manager and save it in Settings."),
    (FailureClass.AD_ACCOUNT,
     "Your access token works, but it isn't allowed to send conversions for this ad account.",
     "Check the ad account id in Settings: it must be the account the token was created for."),
    (FailureClass.RATE_LIMITED,
     "Pinterest asked Pinbridge to slow down.",
     "Nothing to do: orders wait and are sent automatically in a few minutes."),
    (FailureClass.PINTEREST,
     "Pinterest is having trouble on its side.",
     "Nothing to do: orders wait and are sent automatically when Pinterest recovers."),
    (FailureClass.NETWORK,
     "Pinbridge can't reach Pinterest right now.",
     "Nothing to do: orders wait and are sent automatically when the connection is back."),
    (FailureClass.REJECTED,
     "Pinterest refused the order's details.",
     "Check the reason shown for the order, then retry it."),
])
def test_every_failure_class_has_a_sentence_and_a_step(failure: FailureClass, sentence: str, step: str) -> None:
    # Which error is which class is shop_state's table (tests/test_shop_state.py).
    assert FAILURE_TEXT[failure.value] == (sentence, step)
    assert not any(word in sentence + step for word in INTERNAL_WORDS)


def test_no_failure_class_is_left_without_words() -> None:
    assert {failure.value for failure in FailureClass} <= set(FAILURE_TEXT)


def test_expired_and_skipped_orders_are_explained_without_internal_words() -> None:
    assert event_reason("failed", "expired", "Not delivered within 72 hours of receipt.") == (
        "This order couldn't be sent within the time Pinbridge keeps trying, so it wasn't sent.")
    assert event_reason("failed", "rejected", "Bad request.") == "Pinterest refused this order."
    assert "ip_ua" not in (skip_reason("no em or ip_ua to match the buyer") or "")


@pytest.mark.parametrize("stored, shown, target", [
    # An order class set to Don't send: the Settings page's own words, and the field to change.
    ("Pos order: not sent (send_pos is 'skip'; choose 'web' or 'offline' to send these)",
     "Not sent: in Settings, Point of sale orders is set to Don't send.", "send_pos"),
    ("Draft order: not sent (send_draft is 'skip'; choose 'web' or 'offline' to send these)",
     "Not sent: in Settings, Draft orders is set to Don't send.", "send_draft"),
    ("Subscription renewal: not sent (send_subscription is 'skip'; choose 'web' or 'offline' to send these)",
     "Not sent: in Settings, Subscription renewals is set to Don't send.", "send_subscription"),
    ("no email or browser IP/user agent to match the buyer",
     "Not sent: it has no email and no shopper's browser details, one of which Pinterest needs to match the "
     "buyer.", None),
    ("no valid processed_at or created_at time on the order", "Not sent: Shopify sent this order without its time.",
     None),
    ("could not be mapped because of an unexpected error (KeyError); it was not sent",
     "Not sent because of an error in Pinbridge. Contact Pinbridge support.", None),
    ("The buyer did not allow marketing or the sale of their data.",
     "Not sent: the buyer didn't allow marketing or the sale of their data.", None),
    ("dated long before it reached Pinbridge (imported or back-dated): not sent (send_backdated is 'skip'; "
     "choose 'offline' to send these)",
     "Not sent: in Settings, Imported and back-dated orders is set to Don't send.", "send_backdated"),
    ("placed on 2026-11-20, more than 7 days before Pinbridge received it (imported or back-dated): Pinterest "
     "accepts events from the last 7 days only",
     "Not sent: it was placed more than 7 days before it reached Pinbridge (imported or back-dated), and Pinterest "
     "accepts purchases from the last 7 days only.", None),
    ("some_future_reason 'x'", "Not sent to Pinterest.", None),   # unknown and code-like: never shown raw
])
def test_skipped_orders_read_as_settings_words(stored: str, shown: str, target: str | None) -> None:
    from app.merchant.explain import skip_step

    assert skip_reason(stored) == shown
    step = skip_step(stored)
    assert (step or {}).get("target") == target
    assert not re.search(r"\w_\w|'skip'|'web'", shown + ((step or {}).get("text") or ""))


@pytest.mark.parametrize("hold, status, source, code, attempts, later, expected", [
    ("off", "pending", "order", None, 0, False, "off"),              # sending off: held
    ("paused", "pending", "order", "unavailable", 2, True, "paused"),  # the pause outranks the backoff
    (None, "sending", "order", None, 1, False, "sending"),
    (None, "pending", "order", "credentials_rejected", 1, False, "paused"),
    (None, "pending", "order", "unavailable", 3, True, "backing_off"),  # Pinterest asked to wait
    (None, "pending", "checkout", None, 0, True, "settling"),           # a checkout waits for its order
    (None, "pending", "order", None, 0, True, "pixel"),                 # a web order waits for its beacon
    (None, "pending", "order", None, 0, False, "next"),
])
def test_every_waiting_order_has_its_real_reason(hold: str | None, status: str, source: str, code: str | None,
                                                 attempts: int, later: bool, expected: str) -> None:
    from app.merchant.explain import WAITING_TEXT, waiting_code

    assert waiting_code(hold=hold, status=status, source=source, error_code=code, attempts=attempts,
                        due_in_future=later) == expected
    assert expected in WAITING_TEXT


def test_an_order_long_past_its_send_time_is_called_late() -> None:
    from app.merchant.explain import waiting_code

    assert waiting_code(hold=None, status="pending", source="order", error_code=None, attempts=0,
                        due_in_future=False, overdue=True) == "late"


@pytest.mark.parametrize("code, message, retry, target", [
    ("failed", "Invalid parameter: custom_data.contents[0].item_price.", True, "value_mode"),  # a setting shaped it
    ("failed", "Invalid parameter: custom_data.contents[1].id is required", True, "content_id_source"),
    ("failed", "custom_data.currency is missing", True, "currency_mode"),
    ("failed", "Invalid value for user_data.em", True, None),      # tell Pinterest if it fails again
    ("rejected", "Bad request.", True, None),
    ("expired", "Not delivered within 72 hours of receipt.", False, None),
])
def test_every_failed_order_has_a_next_step(code: str, message: str, retry: bool, target: str | None) -> None:
    from app.merchant.explain import failed_step

    step = failed_step(code, message, "c1f0a2b3c4d5e6f7")
    assert step is not None and step["text"].endswith(".")
    assert bool(step.get("retry")) is retry and step.get("target") == target
    assert ("reference" in step) is retry  # what to tell Pinterest support, whenever a retry may fail again
    assert not re.search(r"\w_\w", step["text"])


def test_times_read_in_the_shops_zone() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from app.merchant.explain import local_time

    moment = datetime(2026, 12, 9, 20, 15, tzinfo=UTC)
    assert local_time(moment, ZoneInfo("America/New_York")) == "Dec 9, 3:15 PM EST"
    assert local_time(moment, ZoneInfo("UTC")) == "Dec 9, 8:15 PM UTC"
    assert local_time(moment, ZoneInfo("Asia/Kolkata")) == "Dec 10, 1:45 AM IST"
    assert local_time(moment, ZoneInfo("America/Sao_Paulo")) == "Dec 9, 5:15 PM UTC-03"
