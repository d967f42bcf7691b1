"""GET /: the embedded App Home page, verified with the session token Shopify puts in the URL.

shopifyapp does the verification and says how to answer: a missing or stale `id_token` goes to the
patch-id-token page, where App Bridge fetches a fresh one and reloads; a verified load gets the
`frame-ancestors` policy and preload headers. The first verified load of a shop also exchanges the
session token for an offline Admin API token; a failure there is shown on the page, never raised.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from shopify_app import RequestInput, Res

from app import shops
from app.config import PROJECT_ROOT
from app.database import writing
from app.merchant import dedup, stats
from app.merchant.api import overview
from app.models import Shop, now_utc
from app.settings import CHOICES, settings_view
from app.shopify import web_pixel
from app.shopify.auth import PATCH_ID_TOKEN_PATH, exchange_on_load, shop_from_dest, shopify_app
from app.shops import normalise_shop_domain

STATIC_DIR = PROJECT_ROOT / "static"
bp = Blueprint("home", __name__, static_folder=str(STATIC_DIR), static_url_path="/assets")

ADMIN_ORIGIN = "https://admin.shopify.com"
CHART_DAYS, TABLE_ROWS = 14, 10
POLL_SECONDS = 15  # how often an open page refreshes its numbers


def _request_input() -> RequestInput:
    """The request as shopifyapp reads it, with the public scheme when a proxy terminates TLS."""
    url = request.url
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
    if forwarded == "https" and url.startswith("http:"):
        url = "https:" + url[len("http:"):]
    return {"method": request.method, "headers": dict(request.headers.items()), "url": url, "body": ""}


def _frame_policy(shop: str | None) -> str:
    """`frame-ancestors` for a shop's admin; anything but a plain `*.myshopify.com` host gets admin only."""
    shop = normalise_shop_domain(shop or "") if shop else None
    ancestors = f"https://{shop} {ADMIN_ORIGIN}" if shop else ADMIN_ORIGIN
    return f"frame-ancestors {ancestors};"


def _has_control_characters() -> bool:
    """A CR, LF or other control character in the query cannot be meant; it could only split headers."""
    return any(ord(ch) < 32 or ord(ch) == 127 for value in request.args.values() for ch in value)


def _respond(res: Res, shop: str | None = None) -> Response:
    response = Response(res.body, status=res.status)
    for name, value in res.headers.items():
        if name.lower() != "content-security-policy":
            response.headers[name] = value
    if res.status != 302:
        # Ours replaces shopifyapp's, which is built from the raw `shop` query.
        response.headers["Content-Security-Policy"] = _frame_policy(shop)
    return response


@bp.get(PATCH_ID_TOKEN_PATH)
def patch_id_token() -> Response:
    """A bare page that loads App Bridge, which fetches a fresh session token and reloads the app."""
    if _has_control_characters():
        return _html("Bad request.\n", None, status=400)
    result = shopify_app().app_home_patch_id_token(_request_input())
    return _respond(result.response, normalise_shop_domain(request.args.get("shop", "")))


@bp.get("/")
def index() -> Response:
    """Home: status, setup guide and numbers."""
    return _verified_page("home.html")


@bp.get("/settings")
def settings_page() -> Response:
    """Settings: Pinterest connection, sending on/off and the mapping options, with a save bar."""
    return _verified_page("settings.html")


def _verified_page(template: str) -> Response:
    query_shop = normalise_shop_domain(request.args.get("shop", ""))
    if not query_shop and "id_token" not in request.args and "Authorization" not in request.headers:
        return _html(render_template("outside_admin.html"), None, status=200)
    result = shopify_app().verify_app_home_req(_request_input(), PATCH_ID_TOKEN_PATH)
    domain = shop_from_dest((result.id_token.claims if result.id_token else {}).get("dest"))
    if not result.ok or result.id_token is None or domain is None:
        if result.ok:  # a signed token whose destination is not a shop
            return _html(render_template("outside_admin.html"), query_shop, status=401)
        return _respond(result.response, query_shop)
    with writing():
        shop = shops.install(domain)
    exchange = exchange_on_load(shop, result.id_token, result.invalid_token_response)
    if exchange is not None and exchange.log.code == "invalid_subject_token":
        return _respond(exchange.response, domain)  # Shopify wants a fresh session token: bounce once
    response = _html(render_template(template, **page_context(shop)), domain)
    for name, value in result.response.headers.items():
        response.headers[name] = value
    return response


def _html(body: str, shop: str | None, *, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _frame_policy(shop)
    response.headers["Cache-Control"] = "no-store"
    return response


def page_context(shop: Shop) -> dict[str, Any]:
    """Everything the first render needs, so the page shows real numbers before any fetch."""
    settings = settings_view(shop.settings)  # type: ignore[arg-type]
    initial = {
        "settings": settings,
        "stats": stats.summary(shop.id, CHART_DAYS, now_utc()),
        "events": stats.recent_events(shop.id, None, TABLE_ROWS),
        "pixel": {**dedup.pixel_view(shop, now_utc()), "app_pixel": web_pixel.state(shop, request.host_url)},
        "max_age_hours": int(current_app.config["EVENT_MAX_AGE_SECONDS"]) // 3600,
        "poll_seconds": POLL_SECONDS,
        **overview(shop),
    }
    return {
        "api_key": current_app.config["SHOPIFY_API_KEY"],
        "shop": shop.domain,
        "settings": settings,
        "choices": CHOICES,
        "initial": initial,
        "asset": _asset_url,
    }


def _asset_url(name: str) -> str:
    return url_for("home.static", filename=name, v=_fingerprint(name))


@cache
def _fingerprint(name: str) -> str:
    """Content hash for cache busting; files change only with a deploy."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
