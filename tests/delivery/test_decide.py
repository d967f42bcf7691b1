"""Tables for the pure delivery decision: what each answer from Pinterest means for a claimed batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.delivery.decide import (
    UNEXPECTED_ERROR_DELAY,
    Decision,
    Delivered,
    Failed,
    NotConfigured,
    Pause,
    RetryAt,
    Split,
    TokenUnreadable,
    decide,
)
from app.models import ConnectionStatus
from app.pinterest import (
    AdAccountRefused,
    BatchRejected,
    CredentialsRejected,
    EventResult,
    PinterestError,
    TokenRejected,
    Unavailable,
)
from app.retry import MAX_DELAY, MAX_RETRY_AFTER
from app.shop_state import FailureClass

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ROWS = [11, 12, 13]
OK = EventResult(processed=True, error_message=None, warning_message=None)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def refused(message: str | None) -> EventResult:
    return EventResult(processed=False, error_message=message, warning_message=None)


def noted(warning: str) -> EventResult:
    return EventResult(processed=True, error_message=None, warning_message=warning)


@pytest.mark.parametrize(
    ("answer", "rows", "failures", "expected"),
    [
        # Pinterest answered for every event
        ([OK, OK, OK], ROWS, 0, Delivered([11, 12, 13], {}, {})),  # all processed
        ([OK, noted("Missing user agent."), OK], ROWS, 0,
         Delivered([11, 12, 13], {12: "Missing user agent."}, {})),  # a warning is kept, the event delivered
        ([OK, noted("x" * 1500), OK], ROWS, 0, Delivered([11, 12, 13], {12: "x" * 1000}, {})),  # cut to fit
        ([OK, refused("Event time is too old."), OK], ROWS, 3,
         Delivered([11, 13], {}, {12: ("failed", "Event time is too old.")})),  # refused alone: failed for good
        ([refused(None)], [11], 0, Delivered([], {}, {11: ("failed", "Pinterest did not process it.")})),
        # the credentials: pause the shop, keep the events
        (TokenRejected("Authentication failed.", status=401), ROWS, 0,
         Pause(ConnectionStatus.REJECTED, "credentials_rejected", "Authentication failed.", FailureClass.TOKEN)),
        (AdAccountRefused("Not allowed.", status=403), ROWS, 4,
         Pause(ConnectionStatus.REJECTED, "credentials_rejected", "Not allowed.", FailureClass.AD_ACCOUNT)),
        (CredentialsRejected("Refused.", status=401), ROWS, 0,  # the family's parent still pauses
         Pause(ConnectionStatus.REJECTED, "credentials_rejected", "Refused.", FailureClass.TOKEN)),
        (TokenUnreadable("cannot read it"), ROWS, 0,  # our key, not Pinterest: no failure class
         Pause(ConnectionStatus.UNREADABLE, "token_unreadable", "cannot read it")),
        # Pinterest unavailable: the whole shop backs off (jitter 0.5 throughout)
        (Unavailable("Down.", status=503), ROWS, 0,
         RetryAt(later(1.5), "unavailable", "Down.", 1.5, FailureClass.PINTEREST)),  # first failure
        (Unavailable("Down.", status=503), ROWS, 3,
         RetryAt(later(12.0), "unavailable", "Down.", 12.0, FailureClass.PINTEREST)),  # fourth: 16 s ceiling
        (Unavailable("Slow down.", status=429, retry_after=30.0), ROWS, 0,
         RetryAt(later(30.0), "unavailable", "Slow down.", 30.0, FailureClass.RATE_LIMITED)),  # Retry-After wins
        (Unavailable("Slow down.", status=429, retry_after=1e9), ROWS, 0,
         RetryAt(later(MAX_RETRY_AFTER), "unavailable", "Slow down.", MAX_RETRY_AFTER,
                 FailureClass.RATE_LIMITED)),  # an absurd Retry-After is capped
        (Unavailable("timed out"), ROWS, 50,
         RetryAt(later(MAX_DELAY * 0.75), "unavailable", "timed out", MAX_DELAY * 0.75,
                 FailureClass.NETWORK)),  # no answer at all; a long streak stays under the cap
        # the whole request refused: split until the offending events stand alone
        (BatchRejected("Invalid currency.", status=400), ROWS, 0, Split()),
        (BatchRejected("Too large.", status=413), [11, 12], 0, Split()),
        (BatchRejected("Invalid currency.", status=422), [12], 2,
         Failed({12: ("rejected", "Invalid currency.")})),  # alone: this one is the bad event
        # not Pinterest's answer
        (NotConfigured(), ROWS, 0,
         RetryAt(later(1.5), "not_configured", "Pinterest settings are missing.", 1.5)),
        (RuntimeError("boom"), ROWS, 0,
         RetryAt(later(UNEXPECTED_ERROR_DELAY), "internal_error", "Unexpected error; will retry.",
                 UNEXPECTED_ERROR_DELAY)),  # our own error waits at least 30 s
        (RuntimeError("boom"), ROWS, 9,
         RetryAt(later(MAX_DELAY * 0.75), "internal_error", "Unexpected error; will retry.",
                 MAX_DELAY * 0.75)),  # ... or the backoff, when longer
        (PinterestError("Odd.", status=418), ROWS, 0,
         RetryAt(later(UNEXPECTED_ERROR_DELAY), "internal_error", "Unexpected error; will retry.",
                 UNEXPECTED_ERROR_DELAY)),  # an error of no known kind is never a pause or a split
        (ValueError("ad_account_id must be 1 to 18 digits"), ROWS, 0,
         RetryAt(later(UNEXPECTED_ERROR_DELAY), "internal_error", "Unexpected error; will retry.",
                 UNEXPECTED_ERROR_DELAY)),  # refused by the client before any request
    ],
)
def test_decide(answer: list[EventResult] | BaseException, rows: list[int], failures: int,
                expected: Decision) -> None:
    assert decide(answer, row_ids=rows, now=NOW, failures=failures, jitter=0.5) == expected


def test_an_answer_for_a_different_number_of_events_is_not_guessed_at() -> None:
    with pytest.raises(ValueError):
        decide([OK, OK], row_ids=ROWS, now=NOW, failures=0, jitter=0.5)
