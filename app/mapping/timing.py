"""When a purchase happened against when it reached Pinbridge: fresh, back-dated, or too old for Pinterest.

Pinterest's Conversions API takes events that happened within the last 7 days (`event_time`), and reports
an event it receives more than an hour after it happened as an offline conversion, not a web one. An order
whose own date is far older than its record in Shopify was not placed online just now: an app imported
it, or staff back-dated it (`processed_at` set in the past, as the Admin API and draft orders allow).

| class        | test (all in Unix seconds)                                 | what happens                         |
|--------------|------------------------------------------------------------|--------------------------------------|
| `too_old`    | `event_time` more than 7 days before Pinbridge received it | skipped: Pinterest would refuse it   |
| `backdated`  | `processed_at` more than an hour before `created_at`, or   | `send_backdated`: offline (default), |
|              | `event_time` more than a day before the webhook arrived    | skip, or web as before               |
| `fresh`      | anything else                                              | sent as its order class says         |

Shopify retries a webhook for 4 hours and rarely delivers one up to a day late, so a webhook dated less than
a day before it arrived is an ordinary late delivery: placed online, maybe seen by the Tag, and counted
once by its `event_id`, so it stays a web event. An order reconciliation recovers passes no receipt time
(it was created when it says, and its webhook was lost): only its own two dates are compared, and the
delivery expiry (7 days after `event_time`) stands for Pinterest's window. No clock here: the receipt
time is passed in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from app.mapping.identity import parse_time

PINTEREST_MAX_EVENT_AGE = 7 * 24 * 3600  # seconds: Pinterest takes events from the last 7 days only
BACKDATED_AFTER = 3600  # seconds: later than this Pinterest reports an event as offline, not web
LATE_WEBHOOK = 24 * 3600  # seconds: the latest Shopify delivers a webhook (retries for 4 h, rarely a day)

Timing = Literal["fresh", "backdated", "too_old"]



def timing(body: dict[str, Any], event_time: int | None, received_at: int | None) -> Timing:
    """The class of a purchase by its own dates and its receipt (see the module table)."""
    if event_time is not None and received_at is not None and event_time < received_at - PINTEREST_MAX_EVENT_AGE:
        return "too_old"
    processed, created = parse_time(body.get("processed_at")), parse_time(body.get("created_at"))
    if processed is not None and created is not None and created - processed > BACKDATED_AFTER:
        return "backdated"
    if event_time is not None and received_at is not None and event_time < received_at - LATE_WEBHOOK:
        return "backdated"
    return "fresh"


def too_old_day(event_time: int) -> str:
    """The day (UTC) a purchase Pinterest would no longer accept was placed, as its skip reason names it."""
    return datetime.fromtimestamp(event_time, UTC).strftime("%Y-%m-%d")
