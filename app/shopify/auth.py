"""Shopify sessions and Admin API tokens: session-token checks, token exchange, refresh before expiry.

The embedded page and `/api/*` prove who is calling with Shopify's session token (an HS256 JWT signed
with the app secret, valid one minute). The first verified page load of a shop exchanges that token for
an expiring offline access token; `offline_token(shop)` hands it to code that calls the Admin API and
refreshes it shortly before it expires. Both tokens are stored encrypted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
from flask import current_app
from shopify_app import IdTokenDetails, ShopifyApp, TokenExchangeAccessToken, TokenExchangeResult

from app import crypto, shops
from app.database import reading, writing
from app.models import Shop, now_utc
from app.shops import SHOP_DOMAIN_RE

logger = logging.getLogger(__name__)

LEEWAY = 10  # seconds of clock skew allowed on session tokens
REFRESH_MARGIN = 300  # seconds before expiry an offline token is refreshed
PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"


class SessionInvalid(Exception):
    """A session token that cannot be trusted; `code` says why, in one word."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Session:
    shop: str  # "example.myshopify.com", always from the verified token
    user_id: str | None


def shopify_app() -> ShopifyApp:
    """Shopify's app package for the configured client: App Home checks and token exchange (old secret too)."""
    cfg = current_app.config
    return ShopifyApp(cfg["SHOPIFY_API_KEY"], cfg["SHOPIFY_API_SECRET"], cfg.get("SHOPIFY_API_SECRET_OLD"))


def verify_session_token(token: str) -> Session:
    """Check signature (current or previous secret), audience, expiry and destination of a session token."""
    cfg = current_app.config
    secrets = [s for s in (cfg["SHOPIFY_API_SECRET"], cfg.get("SHOPIFY_API_SECRET_OLD")) if s]
    claims: dict[str, Any] | None = None
    for secret in secrets:
        try:
            claims = jwt.decode(
                token, secret, algorithms=["HS256"], audience=cfg["SHOPIFY_API_KEY"], leeway=LEEWAY,
                options={"require": ["exp", "nbf", "aud", "dest"]},
            )
            break
        except jwt.InvalidSignatureError:
            continue  # maybe signed with the other secret
        except jwt.ExpiredSignatureError:
            raise SessionInvalid("expired_session_token") from None
        except jwt.InvalidAudienceError:
            raise SessionInvalid("wrong_audience") from None
        except jwt.PyJWTError:
            raise SessionInvalid("invalid_session_token") from None
    if claims is None:
        raise SessionInvalid("invalid_signature")
    shop = shop_from_dest(claims.get("dest"))
    if shop is None:
        raise SessionInvalid("invalid_destination")
    issuer = claims.get("iss")
    if issuer is not None and not str(issuer).startswith(f"https://{shop}"):
        raise SessionInvalid("invalid_issuer")
    sub = claims.get("sub")
    return Session(shop=shop, user_id=str(sub) if sub is not None else None)


def shop_from_dest(dest: Any) -> str | None:
    """`https://example.myshopify.com` → `example.myshopify.com`; anything else → None."""
    if not isinstance(dest, str) or not dest.startswith("https://"):
        return None
    host = dest[len("https://"):].lower()
    return host if SHOP_DOMAIN_RE.match(host) else None


def http_client() -> httpx.Client | None:
    """The HTTP client for Shopify's token endpoint; tests put a stand-in in `SHOPIFY_HTTP_CLIENT`."""
    client: httpx.Client | None = current_app.config.get("SHOPIFY_HTTP_CLIENT")
    return client


# -- offline tokens ---------------------------------------------------------------------------
def needs_exchange(shop: Shop, now: datetime) -> bool:
    """No offline token yet (or since uninstall), or it expires within REFRESH_MARGIN."""
    if not shop.shopify_token_enc:
        return True
    expires = shop.shopify_token_expires_at
    return expires is not None and expires - now <= timedelta(seconds=REFRESH_MARGIN)


def exchange_on_load(
    shop: Shop, id_token: IdTokenDetails, invalid_token_response: Any = None, now: datetime | None = None
) -> TokenExchangeResult | None:
    """Trade a verified page-load session token for an expiring offline token when one is needed.

    Returns shopifyapp's result (None when the stored token is still good); a failure is recorded on the
    shop for the page to show. Shopify is asked with no transaction open; the answer is stored in a write
    of its own.
    """
    now = now or now_utc()
    with reading():  # ends the caller's read too: no transaction (or SQLite lock) while Shopify answers
        if not needs_exchange(shop, now):
            return None
    result = shopify_app().exchange_using_token_exchange(
        "offline", id_token=id_token, invalid_token_response=invalid_token_response, expiring=True,
        http_client=http_client(),
    )
    with writing():
        _store_result(shop, result, now, action="token_exchange")
    return result


def offline_token(shop: Shop, now: datetime | None = None) -> str | None:
    """The shop's Admin API token, refreshed first when it expires within REFRESH_MARGIN; None if unusable.

    Changes the shop row when it refreshes; the caller commits.
    """
    now = now or now_utc()
    if not shop.installed or not shop.shopify_token_enc:
        return None
    expires = shop.shopify_token_expires_at
    if expires is None or expires - now > timedelta(seconds=REFRESH_MARGIN):
        return _decrypt(shop.shopify_token_enc)
    if not _refresh(shop, now):
        return _decrypt(shop.shopify_token_enc) if expires > now else None
    return _decrypt(shop.shopify_token_enc or "")


def _refresh(shop: Shop, now: datetime) -> bool:
    refresh_token = _decrypt(shop.shopify_refresh_token_enc or "")
    if not refresh_token:
        shops.token_failed(shop, "The Shopify access token expired and there is no refresh token.")
        return False
    current = TokenExchangeAccessToken(
        shop=shop.handle, token="", expires=None, scope=shop.shopify_scope or "", access_mode="offline",
        refresh_token=refresh_token, refresh_token_expires=_iso(shop.shopify_refresh_expires_at), user=None,
    )
    # `expires=None` makes shopifyapp refresh now instead of applying its own one-minute margin.
    result = shopify_app().refresh_token_exchanged_access_token(current, http_client=http_client())
    return _store_result(shop, result, now, action="token_refresh")


def _store_result(shop: Shop, result: TokenExchangeResult, now: datetime, *, action: str) -> bool:
    token = result.access_token
    if not result.ok or token is None or not token.token:
        shops.token_failed(shop, _explain(result))
        logger.warning("Shopify token %s failed", action.split("_")[-1],
                       extra={"action": f"{action}_failed", "shop": shop.domain, "code": result.log.code})
        return False
    shops.store_token(shop, token=token.token, expires_at=_parse_iso(token.expires),
                      refresh_token=token.refresh_token or None,
                      refresh_expires_at=_parse_iso(token.refresh_token_expires), scope=token.scope)
    logger.info("Shopify token stored", extra={"action": action, "shop": shop.domain})
    return True


def _explain(result: TokenExchangeResult) -> str:
    """A sentence for the merchant page; never the token or Shopify's raw body."""
    reasons = {
        "invalid_subject_token": "Shopify refused the session token; reload the page to try again.",
        "invalid_client": "Shopify refused the app's credentials (SHOPIFY_API_KEY / SHOPIFY_API_SECRET).",
        "network_error": "Shopify could not be reached; Pinbridge tries again on the next page load.",
        "rate_limit_exceeded": "Shopify asked Pinbridge to slow down; it tries again on the next page load.",
        "refresh_token_expired": "The Shopify refresh token expired; open Pinbridge in the admin to renew.",
        "server_error": "Shopify had a temporary problem; Pinbridge tries again on the next page load.",
    }
    return reasons.get(result.log.code, f"Shopify token exchange failed ({result.log.code}).")


def _decrypt(value: str) -> str | None:
    if not value:
        return None
    try:
        return crypto.decrypt(value)
    except crypto.SecretUnreadable:
        return None


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
