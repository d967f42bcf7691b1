"""Pinterest's answers in a merchant's words: one sentence and a next step per kind of failure.

Pure functions over plain strings. Pinterest's own message is kept beside the sentence (the page shows it
one click away); these sentences never use internal names.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from typing import Any

from app.vocabulary import CheckOutcome, ErrorCode, EventSource, EventStatus, FailureClass

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


# Pinterest fields a setting decides → (the setting's key, what to check there). New orders use the setting.
_FIELD_SETTINGS = {
    "id": ("content_id_source", "Product ids"), "content_ids": ("content_id_source", "Product ids"),
    "currency": ("currency_mode", "Currency"), "value": ("value_mode", "Order value"),
    "item_price": ("value_mode", "Order value"),
}
_TELL_PINTEREST = ("Retrying sends the same details. If it fails again, contact Pinterest support with the order "
                   "reference below and Pinterest's answer.")


def failed_step(error_code: str | None, message: str | None, event_id: str | None) -> dict[str, Any] | None:
    """What the merchant can do about one failed order: the setting to check, retry, or what to tell Pinterest.

    An order's details are fixed when Shopify sends it, so a retry sends them again unchanged; where a setting
    shaped the refused field, the step names it, since new orders use it.
    """
    if error_code == "expired":
        return {"text": "Pinterest accepts orders only for a few days, so this one can't be sent any more. "
                        "Keep sending on so new orders don't wait this long."}
    match = _PATH.search(message or "") if field_reason(message) else None
    leaf = re.sub(r"\[\d+\]$", "", match.group(1).split(".")[-1]) if match else None
    if leaf in _FIELD_SETTINGS:
        key, label = _FIELD_SETTINGS[leaf]
        return {"text": f"Check {label} in Settings: new orders use it. {_TELL_PINTEREST}", "retry": True,
                "reference": event_id, "target": key, "label": "Open settings"}
    return {"text": _TELL_PINTEREST, "retry": True, "reference": event_id}


# Where an order waits, and why: one code per reason, each with its sentence.
WAITING_TEXT: dict[str, str] = {
    "off": "Held while sending is off. Sent when you turn sending on.",
    "paused": "Held until the Pinterest connection is fixed.",
    "backing_off": "Pinterest didn't answer. Sent again automatically at {at}.",
    "pixel": "Waiting a few seconds for your pixel's report, so the Tag and Pinbridge count it once.",
    "settling": "Waiting up to a few minutes for Shopify's order, which has more details than the checkout.",
    "sending": "Being sent now.",
    "late": "Late: sending is behind. It's sent as soon as Pinbridge catches up.",
    "next": "About to be sent.",
}


def waiting_code(*, hold: str | None, status: str, source: str, error_code: str | None, attempts: int,
                 due_in_future: bool, overdue: bool = False) -> str:
    """Why a waiting order waits: the shop's hold first, then the order's own reason (pure)."""
    if hold in ("off", "paused"):
        return hold
    if status == "sending":
        return "sending"
    if error_code == ErrorCode.CREDENTIALS_REJECTED:
        return "paused"
    if due_in_future and (error_code or attempts):
        return "backing_off"
    if due_in_future and source == EventSource.CHECKOUT:
        return "settling"
    if due_in_future:
        return "pixel"
    return "late" if overdue else "next"


# Settings keys of the order classes → the label the Settings page shows.
CLASS_SETTING_LABELS = {
    "send_pos": "Point of sale orders", "send_draft": "Draft orders",
    "send_subscription": "Subscription renewals", "send_other_channels": "Other sales channels",
    "send_backdated": "Imported and back-dated orders",
}
_CLASS_SKIPPED = re.compile(r"\((send_[a-z_]+) is 'skip'")
# The mapping's and the join's reasons for not sending, in the merchant's words.
_SKIPPED_TEXT = (
    ("no email or browser IP/user agent", "Not sent: it has no email and no shopper's browser details, one of "
                                          "which Pinterest needs to match the buyer."),
    ("no cart token, checkout token or order id", "Not sent: Shopify sent nothing to identify this order."),
    ("no valid processed_at or created_at", "Not sent: Shopify sent this order without its time."),
    ("no valid completed_at", "Not sent: Shopify sent this checkout without its time."),
    ("not a JSON object", "Not sent: Shopify's message for this order couldn't be read."),
    ("unexpected error", "Not sent because of an error in Pinbridge. Contact Pinbridge support."),
    ("did not allow marketing", "Not sent: the buyer didn't allow marketing or the sale of their data."),
    ("checkout not completed", "Not sent: the checkout wasn't completed."),
    ("more than 7 days before Pinbridge received it", "Not sent: it was placed more than 7 days before it reached "
                                                      "Pinbridge (imported or back-dated), and Pinterest accepts "
                                                      "purchases from the last 7 days only."),
)


def skip_reason(reason: str | None) -> str | None:
    """Why an order was not sent, in the merchant's words (never a setting key or code)."""
    if not reason:
        return None
    klass = _CLASS_SKIPPED.search(reason)
    if klass:
        label = CLASS_SETTING_LABELS.get(klass.group(1), "Orders of this kind")
        return f"Not sent: in Settings, {label} is set to Don't send."
    for needle, text in _SKIPPED_TEXT:
        if needle in reason:
            return text
    # An older or unknown reason: shown only when it reads as words, never as code.
    return reason if not re.search(r"\w_\w|'", reason) else "Not sent to Pinterest."


def skip_step(reason: str | None) -> dict[str, Any] | None:
    """The next step for a skipped order, when there is one."""
    klass = _CLASS_SKIPPED.search(reason or "")
    if klass:
        label = CLASS_SETTING_LABELS.get(klass.group(1), "this kind of order")
        return {"text": f"To send these, choose Send as online or offline purchases for {label}.",
                "target": klass.group(1), "label": "Open settings"}
    if reason and "no email or browser IP/user agent" in reason:
        return {"text": "Usually an order entered by hand or an app. If many online orders show this, check "
                        "the status at the top of this page."}
    return None


def local_time(moment: datetime, zone: tzinfo) -> str:
    """'Dec 9, 3:15 PM EST': a moment as the merchant reads it, in the shop's time zone."""
    local = moment.astimezone(zone)
    hour = local.hour % 12 or 12
    label = local.tzname() or ""
    if label.startswith(("+", "-")):  # zones without an abbreviation: name the offset as people write it
        label = "UTC" + label
    return f"{local:%b} {local.day}, {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'} {label}".rstrip()


def local_day(day: date) -> str:
    """'Dec 3': a calendar day of the shop, as the chart labels it."""
    return f"{day:%b} {day.day}"
