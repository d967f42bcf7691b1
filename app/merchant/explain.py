"""Pinterest's answers in a merchant's words: one sentence and a next step per kind of failure.

Pure functions over plain strings. Pinterest's own message is kept beside the sentence (the page shows it
one click away); these sentences never use internal names.
"""

from __future__ import annotations

import re

from app.vocabulary import CheckOutcome, ErrorCode, EventStatus, FailureClass

# A test event's error code is the check's outcome, its message already written for the merchant.
_CHECK_CODES = frozenset({CheckOutcome.REJECTED_TOKEN, CheckOutcome.REFUSED_AD_ACCOUNT, CheckOutcome.UNAVAILABLE,
                          CheckOutcome.NOT_PROCESSED, CheckOutcome.REFUSED})

# What each kind of failure means for the merchant, and what to do about it.
FAILURE_TEXT: dict[str, tuple[str, str]] = {
    FailureClass.TOKEN: (
        "Pinterest no longer accepts your conversion access token.",
        "Create a new conversion access token in Pinterest Ads Manager and save it in Settings."),
    FailureClass.AD_ACCOUNT: (
        "Your access token works, but it isn't allowed to send conversions for this ad account.",
        "Check the ad account id in Settings: it must be the account the token was created for."),
    FailureClass.RATE_LIMITED: (
        "Pinterest asked Pinbridge to slow down.",
        "Nothing to do: orders wait and are sent automatically in a few minutes."),
    FailureClass.PINTEREST: (
        "Pinterest is having trouble on its side.",
        "Nothing to do: orders wait and are sent automatically when Pinterest recovers."),
    FailureClass.NETWORK: (
        "Pinbridge can't reach Pinterest right now.",
        "Nothing to do: orders wait and are sent automatically when the connection is back."),
    FailureClass.REJECTED: (
        "Pinterest refused the order's details.",
        "Check the reason shown for the order, then retry it."),
    ErrorCode.EXPIRED: (
        "This order couldn't be sent within the time Pinbridge keeps trying, so it wasn't sent.",
        "Nothing can be sent for this order now."),
}

# Pinterest's field names → what a merchant calls them.
_FIELDS = {
    "item_price": "price", "quantity": "quantity", "id": "product id", "item_name": "product name",
    "item_brand": "brand", "currency": "currency", "value": "order value", "content_ids": "product ids",
    "num_items": "item count", "order_id": "order number", "event_time": "time",
    "event_id": "order reference", "event_source_url": "store page address", "em": "email",
    "ph": "phone number", "fn": "first name", "ln": "last name", "ct": "city", "st": "state or province",
    "zp": "postal code", "country": "country", "external_id": "customer id",
    "client_ip_address": "shopper's IP address", "client_user_agent": "shopper's browser details",
    "click_id": "Pinterest click id", "language": "language", "action_source": "sales channel",
    "opt_out_type": "privacy setting", "contents": "line items", "user_data": "customer details",
    "custom_data": "order details",
}
_PATH = re.compile(r"\b(?:data\[\d+\]\.)?((?:user_data|custom_data)(?:\.[a-z_]+(?:\[\d+\])?)*|event_time|"
                   r"event_source_url|event_id|action_source|language)\b")
_MISSING = re.compile(r"missing|required|empty|must be (?:provided|present|set)|not (?:be )?(?:null|blank)",
                      re.IGNORECASE)


def field_reason(message: str | None) -> str | None:
    """'Invalid parameter: custom_data.contents[1].item_price' → 'Line 2 has an invalid price.'"""
    if not message:
        return None
    match = _PATH.search(message)
    if match is None:
        return None
    parts = match.group(1).split(".")
    line = None
    for part in parts:
        index = re.fullmatch(r"contents\[(\d+)\]", part)
        if index:
            line = int(index.group(1)) + 1
    leaf = re.sub(r"\[\d+\]$", "", parts[-1])
    name = _FIELDS.get(leaf, leaf.replace("_", " "))
    missing = bool(_MISSING.search(message))
    if line is not None and leaf != "contents":
        return f"Line {line} has no {name}." if missing else f"Line {line} has an invalid {name}."
    subject = "The customer's" if parts[0] == "user_data" and len(parts) > 1 else "The order's"
    return f"{subject} {name} is missing." if missing else f"{subject} {name} is not valid."


def event_reason(status: str, error_code: str | None, message: str | None) -> str | None:
    """A readable reason for a failed or waiting order, or None when there is nothing to explain."""
    if status == EventStatus.FAILED:
        if error_code == ErrorCode.EXPIRED:
            return FAILURE_TEXT[ErrorCode.EXPIRED][0]
        if error_code in _CHECK_CODES:
            return message
        return field_reason(message) or "Pinterest refused this order."
    if status in (EventStatus.PENDING, EventStatus.SENDING) and error_code:
        if error_code == ErrorCode.CREDENTIALS_REJECTED:
            return "Waiting until the Pinterest connection is fixed."
        return "Waiting to be sent again after Pinterest didn't answer."
    return None


def skip_reason(reason: str | None) -> str | None:
    """Mapping's skip reasons in the merchant's words."""
    if not reason:
        return None
    return (reason.replace("ip_ua", "shopper's IP address and browser")
            .replace("IP/user agent", "IP address and browser details"))
