"""Pinterest's answers in a merchant's words."""

from __future__ import annotations

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
