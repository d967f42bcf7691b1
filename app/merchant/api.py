"""/api/*: JSON for the embedded page, authenticated by the Shopify session token.

The shop is always the one named in the verified token (`dest`), never a parameter, so a token for one
shop can neither read nor change another. Nothing here calls Shopify: the page works before (or without)
a successful token exchange.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import BadRequest

from app import outbox, shops
from app.clock import database_now
from app.database import reading, writing
from app.inbox import unreadable
from app.merchant import stats, status
from app.merchant.connection import check_connection
from app.models import EventStatus, Shop, now_utc
from app.settings import apply_settings, settings_view, validate_settings
from app.shopify import recovery
from app.shopify.auth import SessionInvalid, verify_session_token
from app.shops import find_shop, get_or_create_shop
from app.vocabulary import CheckOutcome

bp = Blueprint("api", __name__, url_prefix="/api")

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
DEFAULT_DAYS, DEFAULT_LIMIT = 14, 50
MAX_RETRY_IDS = 1000


@bp.before_request
def authenticate() -> Response | None:
    """Every /api request carries `Authorization: Bearer <session token>`; App Bridge adds it to fetch."""
    header = request.headers.get("Authorization", "")
    if not header:
        return _unauthorized("missing_session_token", retry=False)
    if not header.startswith("Bearer "):
        return _unauthorized("invalid_session_token")
    try:
        g.shop_domain = verify_session_token(header[len("Bearer "):].strip()).shop
    except SessionInvalid as exc:
        return _unauthorized(exc.code)
    return None


def _unauthorized(code: str, *, retry: bool = True) -> Response:
    response = jsonify({"error": code, "message": "The Shopify session is missing or no longer valid."})
    response.status_code = 401
    if retry:
        # App Bridge fetches a fresh session token and repeats the request when it sees this header.
        response.headers[RETRY_HEADER] = "1"
    return response


def _shop() -> Shop:
    """The token's shop for reading; a shop seen for the first time is created in a write of its own.

    Views read or write only through `reading()` and `writing()`; none commits a session it did not open.
    The shop returned is read for the rest of the view, which the request's end closes.
    """
    _shop_id()
    shop = find_shop(g.shop_domain)
    assert shop is not None
    return shop


def _shop_id() -> int:
    """The token's shop's id, created on first sight, with no read left open (for a view that writes next)."""
    with reading():
        shop = find_shop(g.shop_domain)
        if shop is not None and shop.settings is not None:
            return shop.id
    with writing():
        return get_or_create_shop(g.shop_domain).id


def _invalid(errors: dict[str, str]) -> tuple[Response, int]:
    return jsonify({"errors": errors}), 422


def _int_arg(name: str, default: int, low: int, high: int, errors: dict[str, str]) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses; a short bound keeps int() cheap.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        errors[name] = f"Use a whole number from {low} to {high}."
        return default
    return int(raw)


class InvalidJSON(BadRequest):
    name = "Invalid JSON"
    description = "The body is not JSON."


def _json_body() -> Any:
    """The request body as JSON (None when empty); a body that is not JSON, or nests too deep, is a 400."""
    raw = request.get_data(cache=True)  # bounded by MAX_CONTENT_LENGTH: a larger body is a 413 unread
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON() from exc


# -- settings --------------------------------------------------------------------------------------
@bp.get("/settings")
def get_settings() -> Any:
    shop = _shop()
    return jsonify(settings_view(shop.settings))  # type: ignore[arg-type]


@bp.put("/settings")
def put_settings() -> Any:
    clean, errors = validate_settings(_json_body())
    if errors:
        return _invalid(errors)
    with writing():
        shop = get_or_create_shop(g.shop_domain)
        view = settings_view(apply_settings(shop, clean))
        notice = _pixel_notice(shop)
    return jsonify({**view, "pixel_notice": notice} if notice else view)


def _pixel_notice(shop: Shop) -> str | None:
    """After a save: the pasted custom pixel no longer matches these settings (it carries its version)."""
    from app.merchant.dedup import pasted_pixel_outdated

    if not pasted_pixel_outdated(shop):
        return None
    return ("Saved. The pixel pasted in Settings → Customer events was made for the previous settings: copy "
            "the code from Pinbridge's home page and replace it, or the Tag and Pinbridge will send different ids.")


@bp.post("/settings/verify")
def verify() -> Any:
    shop = _shop()
    result = check_connection(shop)
    body = {"ok": result.ok, "outcome": result.outcome, "message": result.message,
            "pinterest_message": result.pinterest_message,
            "settings": settings_view(shop.settings)}  # type: ignore[arg-type]
    return jsonify(body), 409 if result.outcome == CheckOutcome.NOT_CONFIGURED else 200


# -- dashboard -------------------------------------------------------------------------------------
@bp.get("/stats")
def get_stats() -> Any:
    errors: dict[str, str] = {}
    days = _int_arg("days", DEFAULT_DAYS, 1, stats.MAX_DAYS, errors)
    if errors:
        return _invalid(errors)
    shop = _shop()
    return jsonify(stats.summary(shop.id, days, now_utc()))


@bp.get("/events")
def get_events() -> Any:
    errors: dict[str, str] = {}
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, stats.MAX_EVENTS, errors)
    status = request.args.get("status") or None
    if status is not None and status not in stats.STATUSES:
        errors["status"] = "Choose one of: " + ", ".join(stats.STATUSES) + "."
    if errors:
        return _invalid(errors)
    shop = _shop()
    return jsonify({"events": stats.recent_events(shop.id, status, limit)})


@bp.post("/events/retry")
def retry_events() -> Any:
    """Send failed events again (this shop only); optionally just the listed `event_ids`."""
    data = _json_body() or {}
    ids = data.get("event_ids") if isinstance(data, dict) else None
    if ids is not None and (not isinstance(ids, list) or len(ids) > MAX_RETRY_IDS
                            or not all(isinstance(i, str) for i in ids)):
        return _invalid({"event_ids": f"Send a list of at most {MAX_RETRY_IDS} event ids."})
    shop_id = _shop_id()
    # Older events would only expire again at once: Pinterest accepts events up to a few days old.
    # The shop's backoff is lifted too, so "sent again" means now, not after the current wait.
    with writing():
        result = outbox.requeue(shop_id, EventStatus.FAILED, database_now(),
                                max_age_seconds=int(current_app.config["EVENT_MAX_AGE_SECONDS"]), event_ids=ids)
    return jsonify({"retried": result.count})


@bp.get("/status")
def get_status() -> Any:
    """The banner, the Admin API connection and customer data requests, for the page to refresh."""
    return jsonify(overview(_shop()))


def overview(shop: Shop) -> dict[str, Any]:
    """What the page shows besides settings and charts; also used for its first render."""
    now = now_utc()
    return {
        "health": status.health(shop.settings, shop.id, now, shop=shop),
        "setup": status.setup_steps(shop, shop.settings),
        "admin_api": {"connected": bool(shop.shopify_token_enc), "error": shop.token_exchange_error,
                      "scope": shop.shopify_scope},
        "recoveries": recovery.recent(shop.id, now),
        "data_requests": stats.data_requests(shop.id),
        # Orders whose bodies no configured key opens ("N orders could not be read: the encryption key changed").
        "unreadable_orders": unreadable.summary(shop.domain),
    }


@bp.put("/setup")
def put_setup() -> Any:
    """Dismiss the setup guide (`{"dismissed": true}`) or bring it back; remembered for the shop."""
    data = _json_body()
    if not isinstance(data, dict) or not isinstance(data.get("dismissed"), bool):
        return _invalid({"dismissed": "Send true or false."})
    with writing():
        shop = get_or_create_shop(g.shop_domain)
        shops.dismiss_setup(shop, data["dismissed"], now_utc())
    return jsonify({"dismissed": data["dismissed"]})


@bp.post("/recoveries")
def post_recovery() -> Any:
    """Ask for one day's orders to be read from Shopify and the missing ones sent (`{"day": "YYYY-MM-DD"}`).

    The worker runs it, within Shopify's rate limits; the page follows it in `GET /api/status`.
    """
    data = _json_body()
    raw = data.get("day") if isinstance(data, dict) else None
    try:
        day = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return _invalid({"day": "Send a day as YYYY-MM-DD."})
    shop = _shop()
    if not shop.shopify_token_enc:
        return jsonify({"error": "admin_api_not_connected",
                        "message": "Pinbridge can't read your orders in Shopify yet. Reload the page to connect, "
                                   "then try again."}), 409
    try:
        with writing():
            view = recovery.view(recovery.request(get_or_create_shop(g.shop_domain), day, database_now()))
    except recovery.NotRecoverable as exc:
        return _invalid({"day": str(exc)})
    return jsonify(view), 202


@bp.get("/pixel")
def get_pixel() -> Any:
    """The pixel to paste, filled in for this shop (none without a Tag id), the card, and the app pixel's state."""
    from app.merchant import dedup
    from app.shopify import web_pixel

    shop = _shop()
    return jsonify({**dedup.pixel_view(shop, now_utc()), "app_pixel": web_pixel.state(shop, request.host_url)})


@bp.post("/pixel/connect")
def connect_pixel() -> Any:
    """Create (or bring up to date) Pinbridge's app pixel in this shop, once the merchant granted its scopes.

    The one /api call that asks Shopify something: the page makes it after the merchant answers Shopify's
    permission dialog, and when it loads with the app pixel's settings out of date.
    """
    from app.shopify import web_pixel

    shop = _shop()
    # `?if_on=1` (after a settings save): bring an existing app pixel up to date, never create one.
    if request.args.get("if_on") != "1" or shop.web_pixel_id:
        web_pixel.sync(shop, app_url=request.host_url, api_version=current_app.config["SHOPIFY_API_VERSION"])
        shop = _shop()
    return jsonify({"app_pixel": web_pixel.state(shop, request.host_url)})
