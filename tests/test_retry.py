"""Tables for the pure retry policy: backoff with jitter, Retry-After as a floor."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.retry import BASE_DELAY, MAX_DELAY, MAX_RETRY_AFTER, backoff_delay


@pytest.mark.parametrize(
    ("attempts", "rand", "retry_after", "expected"),
    [
        (1, 0.0, None, 1.0),  # first failure, no jitter: half of BASE_DELAY
        (1, 0.5, None, 1.5),  # first failure, mid jitter
        (2, 0.0, None, 2.0),  # the delay doubles per attempt
        (3, 0.0, None, 4.0),
        (5, 0.5, None, 24.0),  # 32 s ceiling: 16 fixed + 8 jitter
        (9, 0.0, None, 256.0),  # 512 s ceiling, still under the cap
        (10, 0.0, None, MAX_DELAY / 2),  # 1024 s would exceed the cap: the cap applies before jitter
        (10, 0.999, None, pytest.approx(MAX_DELAY, rel=1e-3)),  # jitter never pushes past the cap
        (10_000, 0.0, None, MAX_DELAY / 2),  # huge attempt counts do not overflow
        (1, 0.0, 30.0, 30.0),  # Retry-After longer than backoff wins
        (9, 0.0, 30.0, 256.0),  # backoff longer than Retry-After wins
        (1, 0.0, 0.0, 1.0),  # Retry-After: 0 means "now", backoff still applies
        (1, 0.0, -5.0, 1.0),  # a negative Retry-After is ignored
        (1, 0.0, float("nan"), 1.0),  # so is a non-number
        (1, 0.0, float("inf"), MAX_RETRY_AFTER),  # an overflowing header is the cap, not ignored
        (1, 0.0, 86_400.0, MAX_RETRY_AFTER),  # an absurd Retry-After is capped at an hour
        (1, 0.0, 2_000.0, 2_000.0),  # a Retry-After above MAX_DELAY but under an hour is honoured
    ],
)
def test_backoff_delay(attempts: int, rand: float, retry_after: float | None, expected: float) -> None:
    assert backoff_delay(attempts, retry_after=retry_after, rand=rand) == expected


@pytest.mark.parametrize(
    ("attempts", "rand"),
    [
        (0, 0.0),  # attempts start at 1
        (-1, 0.0),  # negative attempts
        (1, 1.0),  # rand is half-open: 1.0 is out of range
        (1, -0.1),  # rand below range
    ],
)
def test_backoff_delay_rejects_bad_input(attempts: int, rand: float) -> None:
    with pytest.raises(ValueError):
        backoff_delay(attempts, rand=rand)


@given(
    attempts=st.integers(min_value=1, max_value=10_000),
    rand=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    retry_after=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_backoff_delay_bounds(attempts: int, rand: float, retry_after: float | None) -> None:
    delay = backoff_delay(attempts, retry_after=retry_after, rand=rand)
    assert BASE_DELAY / 2 <= delay <= max(MAX_DELAY, MAX_RETRY_AFTER)
    if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
        assert delay >= retry_after


@given(attempts=st.integers(min_value=1, max_value=20), rand=st.floats(min_value=0.0, max_value=0.999))
def test_backoff_delay_never_shrinks_as_attempts_grow(attempts: int, rand: float) -> None:
    assert backoff_delay(attempts + 1, rand=rand) >= backoff_delay(attempts, rand=rand)

