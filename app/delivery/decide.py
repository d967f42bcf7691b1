"""What an answer from Pinterest means for one claimed batch: pure, tested as a table (tests/delivery/test_decide.py).

The sender (send.py) calls Pinterest, asks `decide` what the answer means, and carries the decision out:
nothing here touches the database, the network or the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.pinterest import BatchRejected, CredentialsRejected, EventResult, Unavailable
from app.retry import backoff_delay
from app.shop_state import classify
from app.vocabulary import ConnectionStatus, ErrorCode, FailureClass

UNEXPECTED_ERROR_DELAY = 30.0  # seconds: the least wait after an error of our own, whatever the streak
NOT_PROCESSED = "Pinterest did not process it."
MAX_WARNING_CHARS = 1000


class NotConfigured(Exception):
    """The shop's Pinterest settings are missing: nothing was sent."""


class TokenUnreadable(Exception):
    """The saved token cannot be decrypted with the configured keys: nothing was sent."""


@dataclass(frozen=True)
class Delivered:
    """Pinterest answered for every event: these were processed (some with a warning), these refused."""

    delivered: list[int]
    warnings: dict[int, str]
    failed: dict[int, tuple[ErrorCode, str]]  # row id → (code, message)


@dataclass(frozen=True)
class Failed:
    """Refused for good; never sent again."""

    failures: dict[int, tuple[ErrorCode, str]]  # row id → (code, message)


@dataclass(frozen=True)
class RetryAt:
    """Put the events back until `when`; the whole shop waits as long."""

    when: datetime
    code: ErrorCode
    message: str
    delay: float  # seconds from now to `when`
    failure: FailureClass | None = None  # what Pinterest's failure was; None when Pinterest was not asked


@dataclass(frozen=True)
class Pause:
    """Put the events back and send nothing for the shop until its credentials are saved again."""

    status: ConnectionStatus  # REJECTED or UNREADABLE
    code: ErrorCode
    message: str
    failure: FailureClass | None = None


@dataclass(frozen=True)
class Split:
    """The whole batch was refused: send each half on its own until the offending events stand alone."""


Decision = Delivered | Failed | RetryAt | Pause | Split
Answer = Sequence[EventResult] | BaseException


def decide(answer: Answer, *, row_ids: Sequence[int], now: datetime, failures: int, jitter: float) -> Decision:
    """What to do with the events `row_ids` after `answer` (Pinterest's results, or what was raised instead).

    `failures` is the shop's failure streak before this answer and `jitter` a number in [0, 1), both for
    the backoff (app/retry.py).
    """
    if isinstance(answer, BaseException):
        return _after_error(answer, row_ids=row_ids, now=now, failures=failures, jitter=jitter)
    delivered, warnings, failed = [], {}, {}
    for row_id, result in zip(row_ids, answer, strict=True):
        if result.processed:
            delivered.append(row_id)
            if result.warning_message:
                warnings[row_id] = result.warning_message[:MAX_WARNING_CHARS]
        else:
            failed[row_id] = (ErrorCode.FAILED, result.error_message or NOT_PROCESSED)
    return Delivered(delivered, warnings, failed)


def _after_error(error: BaseException, *, row_ids: Sequence[int], now: datetime, failures: int,
                 jitter: float) -> Decision:
    if isinstance(error, CredentialsRejected):
        return Pause(ConnectionStatus.REJECTED, ErrorCode.CREDENTIALS_REJECTED, error.message, classify(error))
    if isinstance(error, TokenUnreadable):
        return Pause(ConnectionStatus.UNREADABLE, ErrorCode.TOKEN_UNREADABLE, str(error))
    if isinstance(error, Unavailable):
        return retry_at(now, failures, jitter, ErrorCode.UNAVAILABLE, error.message, retry_after=error.retry_after,
                        failure=classify(error))
    if isinstance(error, BatchRejected):
        if len(row_ids) > 1:
            return Split()
        return Failed({row_id: (ErrorCode.REJECTED, error.message) for row_id in row_ids})
    if isinstance(error, NotConfigured):
        return retry_at(now, failures, jitter, ErrorCode.NOT_CONFIGURED, "Pinterest settings are missing.")
    return retry_at(now, failures, jitter, ErrorCode.INTERNAL_ERROR, "Unexpected error; will retry.",
                    minimum=UNEXPECTED_ERROR_DELAY)


def retry_at(now: datetime, failures: int, jitter: float, code: ErrorCode, message: str, *,
             retry_after: float | None = None, minimum: float = 0.0,
             failure: FailureClass | None = None) -> RetryAt:
    """Back off after the shop's `failures + 1`-th failure in a row, at least `minimum` seconds."""
    delay = max(minimum, backoff_delay(failures + 1, retry_after=retry_after, rand=jitter))
    return RetryAt(now + timedelta(seconds=delay), code, message, delay, failure)
