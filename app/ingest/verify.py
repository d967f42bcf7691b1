"""A webhook's delivery, verified: the HMAC of the raw bytes first, then the headers, then a parse.

Pure functions over bytes and headers, no Flask and no database: the WSGI fast path (wsgi.py) and the
Flask route (webhooks.py) both call `verify_delivery`, so both refuse exactly the same requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import msgspec
import orjson

from app.models import PURCHASE_TOPICS, now_utc
from app.shops import normalise_shop_domain

# Every reason a delivery is refused, and the one status each answers with.
STATUS_BY_CODE = {
    "method_not_allowed": 405,
    "too_large": 413,
    "missing_hmac": 400,
    "invalid_hmac": 401,
    "missing_topic": 400,
    "missing_shop": 400,
    "invalid_json": 400,
    "shop_mismatch": 400,     # signed for one shop, addressed to another: a replay across shops
    "stale": 400,             # X-Shopify-Triggered-At outside the accepted window
    "body_timeout": 408,      # the body did not arrive within WEBHOOK_READ_SECONDS
}
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
_SIGNATURE_LENGTH = 44  # base64 of a SHA-256 digest
FUTURE_SKEW = timedelta(minutes=15)  # Shopify's clock may run ahead of ours by this much


class WebhookRejected(Exception):
    """Every reason a delivery is refused: a fixed code, its fixed HTTP status and a sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, STATUS_BY_CODE[code]


def verify_signature(raw: bytes, signature: str | None, secrets: Sequence[str]) -> None:
    """Check `X-Shopify-Hmac-Sha256` against the raw bytes, in constant time, before anything parses them.

    One HMAC-SHA256 per configured secret (current, then the old one during a rotation); a header that
    cannot be a base64 SHA-256 digest is refused without hashing at all.
    """
    if not signature:
        raise WebhookRejected("missing_hmac", "X-Shopify-Hmac-Sha256 header is required.")
    given = signature.strip().encode("utf-8", "replace")
    if len(given) != _SIGNATURE_LENGTH:
        raise WebhookRejected("invalid_hmac", "Webhook verification failed.")
    for secret in secrets:
        expected = base64.b64encode(hmac.digest(secret.encode(), raw, "sha256"))  # OpenSSL's one-shot HMAC
        if hmac.compare_digest(expected, given):
            return
    raise WebhookRejected("invalid_hmac", "Webhook verification failed.")


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    topic: str
    shop_domain: str
    api_version: str | None
    triggered_at: str | None
    payload: dict[str, Any]
    raw: bytes

class Headers(Protocol):
    def get(self, key: str, /) -> str | None: ...


def verify_delivery(headers: Headers, raw: bytes, secrets: Sequence[str], max_age_seconds: int) -> Delivery:
    """The delivery a signed body and its headers describe; WebhookRejected for anything else.

    The HMAC of the raw bytes is checked before anything parses them. An order or checkout is read for
    the few fields its acknowledgement needs (`parse_purchase`; the worker reads the rest from the inbox);
    every other topic is applied now, from the whole object.
    """
    verify_signature(raw, headers.get(HMAC_HEADER), secrets)
    topic = (headers.get("X-Shopify-Topic") or "").strip()
    shop_domain = normalise_shop_domain(headers.get("X-Shopify-Shop-Domain") or "")
    if not topic:
        raise WebhookRejected("missing_topic", "X-Shopify-Topic header is required.")
    if not shop_domain:
        raise WebhookRejected("missing_shop", "X-Shopify-Shop-Domain header is required.")
    triggered_at = headers.get("X-Shopify-Triggered-At") or None
    check_freshness(triggered_at, now_utc(), max_age_seconds)
    payload = (parse_purchase if topic in PURCHASE_TOPICS else _parse_object)(raw)
    named = payload_shop(payload)
    if named is not None and named != shop_domain:
        raise WebhookRejected("shop_mismatch", "The payload names another shop than X-Shopify-Shop-Domain.")
    webhook_id = (headers.get("X-Shopify-Webhook-Id") or "").strip()[:255]
    if not webhook_id:
        # No id to deduplicate on: identical redeliveries still collapse onto one receipt.
        webhook_id = "sha256:" + hashlib.sha256(topic.encode() + b"\0" + shop_domain.encode() + raw).hexdigest()
    return Delivery(
        webhook_id=webhook_id,
        topic=topic[:100],
        shop_domain=shop_domain,
        api_version=(headers.get("X-Shopify-API-Version") or None),
        triggered_at=triggered_at,
        payload=payload,
        raw=raw,
    )


# order-status or checkout URL cannot be compared with the header and is left alone.
_SHOP_FIELDS = ("shop_domain", "myshopify_domain")
_URL_FIELDS = ("order_status_url", "abandoned_checkout_url")
_MYSHOPIFY_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


_NETLOC = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def _url_host(url: str) -> str:
    """The host of an absolute URL, lower-cased, without user or port ("" when there is none).

    What `urlsplit(url).hostname` gives for the URLs compared here, at a tenth of its cost on every order.
    """
    match = _NETLOC.match(url)
    if not match:
        return ""
    host = match.group(1).rpartition("@")[2]
    if host.startswith("["):
        return ""  # an IPv6 literal is no shop
    return host.partition(":")[0].strip().lower()


def payload_shop(payload: dict[str, Any]) -> str | None:
    """The `*.myshopify.com` shop a payload names about itself, if it names one."""
    for field in _SHOP_FIELDS:
        value = payload.get(field)
        if isinstance(value, str) and value.strip():
            return normalise_shop_domain(value) or value.strip().lower()
    for field in _URL_FIELDS:
        value = payload.get(field)
        if not isinstance(value, str):
            continue
        host = _url_host(value)
        if _MYSHOPIFY_HOST.match(host):
            return host
    return None


def parse_triggered_at(value: str | None) -> datetime | None:
    """`2026-11-20T10:00:00.123456789Z` → aware datetime; None when absent or unreadable."""
    if not value:
        return None
    match = _TRIGGERED_AT.fullmatch(value.strip()[:64])
    if not match:
        return None
    stamp, fraction, zone = match.groups()
    try:  # nanoseconds cut to the microseconds a datetime holds; no zone is UTC
        parsed = datetime.fromisoformat(f"{stamp}.{(fraction or '0')[:6].ljust(6, '0')}{zone or '+00:00'}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


_TRIGGERED_AT = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?")


def check_freshness(triggered_at: str | None, now: datetime, max_age_seconds: int) -> None:
    """Refuse a delivery Shopify triggered longer ago than its retries last (or far in the future).

    The header is not covered by the signature: this stops verbatim replays of old captured requests;
    what keeps a forged one harmless is deduplication and the shop checks (docs/operations.md, Security).
    """
    when = parse_triggered_at(triggered_at)
    if when is None or max_age_seconds <= 0:
        return
    if when < now - timedelta(seconds=max_age_seconds) or when > now + FUTURE_SKEW:
        raise WebhookRejected("stale", "X-Shopify-Triggered-At is outside the accepted window.")


class _PurchaseFields(msgspec.Struct):
    """What the request path reads of an order or checkout body: the shop it names and whether it is complete."""

    shop_domain: Any = None
    myshopify_domain: Any = None
    order_status_url: Any = None
    abandoned_checkout_url: Any = None
    completed_at: Any = None


_PURCHASE_DECODER = msgspec.json.Decoder(_PurchaseFields)


def parse_purchase(raw: bytes) -> dict[str, Any]:
    """The fields of an order or checkout the acknowledgement reads; invalid_json unless a JSON object.

    The whole body is checked as JSON (the same syntax errors as the full parse), but only these fields
    become Python objects: about a fifth of the full parse on a 15 KB order. The worker parses the whole
    body later, from the inbox. A number too long for the full parser is still JSON: such a body is
    accepted here and recorded as unreadable by the worker, as a corrupted body would be.

    msgspec skips the fields it is not asked for without checking their bytes, so the text is checked as
    UTF-8 first, as the full parser does: invalid bytes, encoded surrogates or overlong forms anywhere in
    the body are refused here instead of being acknowledged and then found unreadable by the worker. An
    ASCII body (the common case) needs only `isascii()`: about 0.3 µs for 7 KB, 1 µs when it must decode.
    """
    try:
        if not raw.isascii():
            raw.decode("utf-8")
        fields = _PURCHASE_DECODER.decode(raw)
    except (UnicodeDecodeError, msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise WebhookRejected("invalid_json", "Body is not a JSON object.") from exc
    return {name: value for name in _PurchaseFields.__struct_fields__
            if (value := getattr(fields, name)) is not None}


def _parse_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(raw)  # half the time of json on a 15 KB order; refuses NaN and lone surrogates
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected("invalid_json", "Body is not a JSON object.") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected("invalid_json", "Body is not a JSON object.")
    return payload

