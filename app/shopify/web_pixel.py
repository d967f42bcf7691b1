"""Pinbridge's app pixel (extensions/pinbridge-beacon) switched on in a shop: webPixelCreate, then webPixelUpdate.

Shopify runs an app pixel only once the app has created it in the shop with the Admin API, and only the app
itself can: the mutations act for the app whose token calls them. They need the `write_pixels` and
`read_customer_events` scopes, which Pinbridge declares as optional scopes (shopify.app.toml): the page asks
the merchant for them with App Bridge's Scopes API, says what declining costs, and then calls `sync`.

`sync` reads which scopes the installation holds, creates the pixel with this app's address and the shop's
event id source, or updates it when one of those changed, and records Shopify's answer on the shop in plain
words (`state` is what the page shows). Requests go through shopifyapp like the order reads
(app/shopify/orders.py: throttling, one token refresh on a 401).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from app import shops
from app.database import writing
from app.models import Shop, now_utc
from app.shopify.auth import http_client
from app.shopify.orders import AdminApiError, OrderReader

logger = logging.getLogger(__name__)

PIXEL_SCOPES = ("write_pixels", "read_customer_events")

ACCESS_QUERY = "query PinbridgeAppAccess { currentAppInstallation { accessScopes { handle } } }"
PIXEL_QUERY = "query PinbridgeWebPixel { webPixel { id settings } }"
CREATE_MUTATION = """
mutation PinbridgeWebPixelCreate($webPixel: WebPixelInput!) {
  webPixelCreate(webPixel: $webPixel) {
    webPixel { id settings }
    userErrors { code field message }
  }
}
"""
UPDATE_MUTATION = """
mutation PinbridgeWebPixelUpdate($id: ID!, $webPixel: WebPixelInput!) {
  webPixelUpdate(id: $id, webPixel: $webPixel) {
    webPixel { id settings }
    userErrors { code field message }
  }
}
"""

# Shopify's refusals (ErrorsWebPixelUserErrorCode) in a merchant's words.
REFUSALS = {
    "NO_EXTENSION": "Shopify has no Pinbridge app pixel for this app yet: the app's extension has not been "
                    "deployed (the app's operator runs npm run deploy).",
    "INVALID_SETTINGS": "Shopify refused the pixel's settings: the deployed app pixel is older than this version "
                        "of Pinbridge (the app's operator runs npm run deploy).",
    "INVALID_SETTINGS_DEFINITION": "Shopify refused the deployed app pixel's settings definition.",
    "INVALID_CONFIGURATION_JSON": "Shopify refused the deployed app pixel's configuration.",
    "INVALID_RUNTIME_CONTEXT": "Shopify refused the deployed app pixel's runtime context.",
    "UNEXPECTED_ERROR": "Shopify had a problem switching the pixel on; try again in a few minutes.",
    "BLANK": "Shopify refused the pixel: its settings were empty.",
}
NOT_GRANTED = ("Not switched on: Pinbridge has not been allowed to manage its pixel (the \"Manage pixels\" and "
               "\"Read customer events\" permissions).")
DECLINED_LOSES = ("Without it, every order is still sent from the server, but Pinbridge learns the Pinterest click "
                  "id, the buyer's consent and the id the Tag used only from a custom pixel pasted by hand: "
                  "buyers who refused marketing may be sent, and a Tag that used another id is not corrected.")


def desired_settings(shop: Shop, app_url: str) -> dict[str, str]:
    """The app pixel's settings for this shop, as shopify.extension.toml defines them."""
    source = shop.settings.event_id_source if shop.settings else "cart_token"
    return {"appUrl": app_url.rstrip("/"), "eventIdSource": source}


def granted(shop: Shop, scopes: str | None = None) -> bool:
    """Whether the installation holds the pixel's scopes (`scopes`: as Shopify just said, else as stored)."""
    held = {scope.strip() for scope in (scopes if scopes is not None else shop.shopify_scope or "").split(",")
            if scope.strip()}
    return all(scope in held for scope in PIXEL_SCOPES)


def state(shop: Shop, app_url: str | None = None) -> dict[str, Any]:
    """What the page shows about the app pixel: on, not allowed, or Shopify's refusal."""
    stored = _loads(shop.web_pixel_settings)
    current = None
    if app_url is not None and stored is not None:
        current = stored == desired_settings(shop, app_url)
    elif stored is not None and shop.settings is not None:
        current = stored.get("eventIdSource") == shop.settings.event_id_source
    connected = bool(shop.web_pixel_id) and shop.web_pixel_error is None
    return {
        "scopes": list(PIXEL_SCOPES),
        "granted": granted(shop),
        "connected": connected,
        "up_to_date": bool(connected and current),
        "error": shop.web_pixel_error,
        # Shopify's answer when it was asked and refused (or could not be asked); not the missing permission.
        "shopify_error": shop.web_pixel_error if shop.web_pixel_error not in (None, NOT_GRANTED) else None,
        "checked_at": shop.web_pixel_checked_at.isoformat() if shop.web_pixel_checked_at else None,
        "declined_loses": DECLINED_LOSES,
    }


def sync(shop: Shop, *, app_url: str, api_version: str) -> bool:
    """Create the app pixel, or update its settings; record Shopify's answer. True when it is on and current."""
    reader = OrderReader(shop, api_version=api_version, http_client=http_client())
    wanted = desired_settings(shop, app_url)
    pixel_id, error, scopes = shop.web_pixel_id, None, shop.shopify_scope
    try:
        access = reader._execute(ACCESS_QUERY, {})
        handles = [s.get("handle") for s in ((access.get("currentAppInstallation") or {}).get("accessScopes") or [])]
        scopes = ",".join(h for h in handles if isinstance(h, str))[:255] or scopes
        if not granted(shop, scopes):  # what the installation holds now (a grant changes it after the token)
            error = NOT_GRANTED
        else:
            pixel_id, error = _create_or_update(reader, pixel_id, wanted, _loads(shop.web_pixel_settings))
    except AdminApiError as exc:
        error = _admin_error(exc)
    with writing():
        shops.web_pixel_synced(shop.id, scopes=scopes, pixel_id=pixel_id, error=error, now=now_utc(),
                               settings=json.dumps(wanted, sort_keys=True) if error is None else None)
    logger.info("app pixel synced", extra={"action": "web_pixel_sync", "shop": shop.domain, "ok": error is None})
    return error is None


def _create_or_update(reader: OrderReader, pixel_id: str | None, wanted: dict[str, str],
                      stored: dict[str, Any] | None) -> tuple[str | None, str | None]:
    variables: dict[str, Any] = {"webPixel": {"settings": json.dumps(wanted, sort_keys=True)}}
    if pixel_id is None:
        payload = reader._execute(CREATE_MUTATION, variables).get("webPixelCreate")
        errors = _user_errors(payload)
        if "TAKEN" not in errors:
            return _answer(payload, errors, None)
        # The shop already has this app's pixel (created before this row knew it): find it, then update.
        existing = reader._execute(PIXEL_QUERY, {}).get("webPixel") or {}
        pixel_id = existing.get("id") if isinstance(existing.get("id"), str) else None
        if pixel_id is None:
            return None, "Shopify says the pixel exists but did not return it; try again in a few minutes."
        stored = _loads(existing.get("settings"))
    if stored == wanted:
        return pixel_id, None
    payload = reader._execute(UPDATE_MUTATION, {"id": pixel_id, **variables}).get("webPixelUpdate")
    errors = _user_errors(payload)
    if "NOT_FOUND" in errors:  # removed in Shopify since: create it again
        return _create_or_update(reader, None, wanted, None)
    return _answer(payload, errors, pixel_id)


def _user_errors(payload: Any) -> dict[str, str]:
    if not isinstance(payload, dict):
        return {"ACCESS_DENIED": ""}
    return {str(e.get("code") or "UNKNOWN"): str(e.get("message") or "")
            for e in payload.get("userErrors") or [] if isinstance(e, dict)}


def _answer(payload: Any, errors: dict[str, str], pixel_id: str | None) -> tuple[str | None, str | None]:
    if "ACCESS_DENIED" in errors:
        return pixel_id, NOT_GRANTED
    if errors:
        code, message = next(iter(errors.items()))
        return pixel_id, REFUSALS.get(code, f"Shopify refused to switch the pixel on: {message or code}.")
    made = (payload or {}).get("webPixel") or {}
    return (made.get("id") if isinstance(made.get("id"), str) else pixel_id), None


def _admin_error(exc: AdminApiError) -> str:
    if exc.code == "http_error_403" or "ACCESS DENIED" in exc.message.upper():
        return NOT_GRANTED
    return f"Shopify could not be asked: {exc.message}"


def _loads(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        loaded = json.loads(value)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None
