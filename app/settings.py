"""Per-shop Pinterest settings: validation (pure), storage with the token encrypted, and lookups."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from app import crypto, outbox, shop_state, shops
from app.mapping import MappingOptions
from app.mapping.order_class import CLASS_SETTINGS
from app.mapping.types import CONTENT_ID_SOURCES, CURRENCY_MODES, EVENT_ID_SOURCES, VALUE_MODES
from app.models import PinterestSettings, Shop, db, now_utc
from app.vocabulary import ConsentRule, SendChoice

# ASCII digits only: `\d` also matches other scripts' digits ("１２３", "١٢٣"), which Pinterest's `^\d+$` on
# its side does not mean and its URL cannot carry.
AD_ACCOUNT_RE = re.compile(r"[0-9]{1,18}")
MAX_TOKEN_LENGTH = 2048

# What a buyer's refusal at the storefront means for the server event (joined from the pixel's beacon):
# skip it, send it for limited data processing (opt_out_type LDP), or send it as usual. The default first.
MARKETING_REFUSED = (ConsentRule.SKIP, ConsentRule.LIMITED, ConsentRule.SEND)
SALE_OF_DATA_REFUSED = (ConsentRule.LIMITED, ConsentRule.SKIP, ConsentRule.SEND)
SEND_CHOICES = tuple(SendChoice)

CHOICES: dict[str, tuple[str, ...]] = {
    "event_id_source": EVENT_ID_SOURCES,
    "content_id_source": CONTENT_ID_SOURCES,
    "value_mode": VALUE_MODES,
    "currency_mode": CURRENCY_MODES,
    "marketing_refused": MARKETING_REFUSED,
    "sale_of_data_refused": SALE_OF_DATA_REFUSED,
    # One per order class: send_pos, send_draft, send_subscription, send_other_channels.
    **{key: SEND_CHOICES for key in CLASS_SETTINGS.values()},
    # A web order dated long before it arrived (app/mapping/timing.py): offline, skip or web.
    "send_backdated": SEND_CHOICES,
}
# The older switch, kept as an alias: true sends POS and draft orders as offline, false skips them.
OFFLINE_ALIAS = ("send_pos", "send_draft")
FLAGS = ("enabled", "test_mode", "include_offline_orders", "limited_data_processing")
FIELDS = ("ad_account_id", "access_token", "tag_id", *FLAGS, *CHOICES)
TAG_ID_RE = re.compile(r"[0-9]{1,20}")
# A Bearer token's characters (RFC 6750 `b64token`), which Pinterest's `Authorization: Bearer` header carries:
# letters, digits and -._~+/ with `=` padding at the end. Nothing else (a zero-width space, a letter with an
# accent) can be part of a token Pinterest issued.
TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
AD_ACCOUNT_MESSAGE = "Enter the ad account id: digits 0-9 only, at most 18."
TOKEN_MESSAGE = "That does not look like a Pinterest access token."
TAG_ID_MESSAGE = "Enter the Pinterest Tag id: digits 0-9 only, as shown in Ads Manager → Conversions."


def validate_settings(data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a (partial) settings update; return the clean values and per-field messages."""
    if not isinstance(data, dict):
        return {}, {"_": "Send a JSON object of settings."}
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in data:
        if key not in FIELDS:
            errors[key] = "Unknown setting."
    if "ad_account_id" in data:
        value = data["ad_account_id"]
        value = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if value is None or not AD_ACCOUNT_RE.fullmatch(value):
            errors["ad_account_id"] = AD_ACCOUNT_MESSAGE
        else:
            clean["ad_account_id"] = value
    if "access_token" in data:
        token = data["access_token"]
        if not isinstance(token, str) or not token.strip():
            errors["access_token"] = "Paste the conversion access token from Pinterest Ads Manager."
        elif len(token.strip()) > MAX_TOKEN_LENGTH or not TOKEN_RE.fullmatch(token.strip()):
            errors["access_token"] = TOKEN_MESSAGE
        else:
            clean["access_token"] = token.strip()
    if "tag_id" in data:
        tag_id = data["tag_id"]
        tag_id = str(tag_id).strip() if isinstance(tag_id, (str, int)) and not isinstance(tag_id, bool) else None
        if tag_id is None or (tag_id and not TAG_ID_RE.fullmatch(tag_id)):
            errors["tag_id"] = TAG_ID_MESSAGE
        else:
            clean["tag_id"] = tag_id or None
    for key in FLAGS:
        if key in data:
            if isinstance(data[key], bool):
                clean[key] = data[key]
            else:
                errors[key] = "Use true or false."
    for key, choices in CHOICES.items():
        if key in data:
            if data[key] in choices:
                clean[key] = data[key]
            else:
                errors[key] = "Choose one of: " + ", ".join(choices) + "."
    if isinstance(clean.get("include_offline_orders"), bool):
        for key in OFFLINE_ALIAS:
            clean.setdefault(key, SendChoice.OFFLINE if clean["include_offline_orders"] else SendChoice.SKIP)
    return (clean, errors) if not errors else ({}, errors)


STORED_INVALID = {
    "ad_account_id": "The saved ad account id is not one Pinterest accepts (digits 0-9 only). Enter it again.",
    "access_token": "The saved access token has characters a Pinterest token cannot have. Paste the token again.",
}


def stored_credentials_problem(ad_account_id: str | None, token: str) -> tuple[str, str] | None:
    """(field, sentence) when credentials saved before today's checks are not what Pinterest accepts."""
    if not AD_ACCOUNT_RE.fullmatch(ad_account_id or ""):
        return "ad_account_id", STORED_INVALID["ad_account_id"]
    if len(token) > MAX_TOKEN_LENGTH or not TOKEN_RE.fullmatch(token):
        return "access_token", STORED_INVALID["access_token"]
    return None


def apply_settings(shop: Shop, clean: dict[str, Any], now: datetime | None = None) -> PinterestSettings:
    """Store validated values; new credentials clear a rejection and the backoff, so waiting events go now."""
    settings = shops.settings_of(shop)
    now = now or now_utc()
    credentials_changed = False
    for key, value in clean.items():
        if key == "access_token":
            settings.access_token_enc = crypto.encrypt(value)
            settings.token_last4 = value[-4:]
            credentials_changed = True
        else:
            if key == "ad_account_id" and value != settings.ad_account_id:
                credentials_changed = True
            setattr(settings, key, value)
    if credentials_changed:
        settings.credentials_updated_at = now
        if shop.id is not None:
            db.session.flush()  # the row must exist for its guarded updates
            shop_state.credentials_saved(shop.id)
            outbox.release_backed_off(shop.id)  # waiting events go with the new credentials now
    settings.updated_at = now
    return settings


def settings_view(settings: PinterestSettings) -> dict[str, Any]:
    """What the API returns: never the token, only whether there is one and its last 4 characters."""
    return {
        "ad_account_id": settings.ad_account_id,
        "tag_id": settings.tag_id,
        "has_access_token": bool(settings.access_token_enc),
        "access_token_last4": settings.token_last4,
        **{key: bool(getattr(settings, key)) for key in FLAGS},
        **{key: getattr(settings, key) for key in CHOICES},
        "include_offline_orders": any(getattr(settings, key) == SendChoice.OFFLINE for key in OFFLINE_ALIAS),
        "connection_status": settings.connection_status,
        "connection_message": settings.connection_message,
        "configured": settings.configured,
    }


def mapping_options(settings: PinterestSettings | None) -> MappingOptions:
    if settings is None:
        return MappingOptions()
    return MappingOptions(
        event_id_source=settings.event_id_source,
        content_id_source=settings.content_id_source,
        value_mode=settings.value_mode,
        currency_mode=settings.currency_mode,
        limited_data_processing=settings.limited_data_processing,
        send_pos=settings.send_pos,
        send_draft=settings.send_draft,
        send_subscription=settings.send_subscription,
        send_other_channels=settings.send_other_channels,
        shop_country=settings.shop_country,
        send_backdated=settings.send_backdated,
    )
