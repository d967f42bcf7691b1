"""Retry policy for deliveries: exponential backoff with jitter, with Pinterest's Retry-After as a floor."""

from __future__ import annotations

import math

BASE_DELAY = 2.0  # seconds: the wait after the first failed attempt, before jitter
MAX_DELAY = 900.0  # seconds: backoff never grows past this
# seconds: a larger Retry-After from Pinterest (99999999, an HTTP-date next year) is treated as this, so a
# bad header cannot hold a shop's events until they expire 72 h after receipt.
MAX_RETRY_AFTER = 3600.0

# 2.0 * 2**9 = 1024 > MAX_DELAY, so larger exponents only risk float overflow.
_MAX_EXPONENT = 9


def backoff_delay(attempts: int, *, retry_after: float | None = None, rand: float) -> float:
    """Return seconds to wait after `attempts` failed attempts (1 = the first failure).

    Equal jitter: half the capped exponential delay is fixed and half is scaled by `rand` in [0, 1), so
    workers that failed together spread out but none retries at once. Pinterest's `retry_after` is a floor.
    """
    if attempts < 1:
        raise ValueError("attempts counts failed attempts and starts at 1")
    if not 0.0 <= rand < 1.0:
        raise ValueError("rand must be in [0, 1)")
    ceiling = min(MAX_DELAY, BASE_DELAY * 2.0 ** min(attempts - 1, _MAX_EXPONENT))
    delay = ceiling / 2 + ceiling / 2 * rand
    if retry_after is not None and not math.isnan(retry_after) and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))  # +inf (an overflowing header) is the cap too
    return delay

