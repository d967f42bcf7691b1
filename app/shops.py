"""The Shop row: its domain, install and uninstall, Admin API tokens, reconciliation mark and pixel state.

Every write to `shops` goes through this module, so a reader finds each of the row's transitions with one
search; each runs in the caller's write transaction. The merchant's Pinterest settings are a row of their
own, owned by app/settings.py; the shop's time zone is kept with its delivery record (app/shop_state.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import joinedload

from app import crypto
from app.models import PinterestSettings, Shop, db, now_utc

SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def normalise_shop_domain(value: str) -> str | None:
    """`example`, `example.myshopify.com` or `https://example.myshopify.com/` → `example.myshopify.com`."""
    value = (value or "").strip().lower()
    value = re.sub(r"^https?://", "", value).rstrip("/")
    if value and "." not in value:
        value += ".myshopify.com"
    return value if SHOP_DOMAIN_RE.match(value) else None


def get_or_create_shop(domain: str) -> Shop:
    """The shop row for a domain, created (with default settings) on first sight."""
    shop = db.session.execute(
        db.select(Shop).options(joinedload(Shop.settings)).filter_by(domain=domain)
    ).scalar_one_or_none()
    if shop is None:
        shop = Shop(domain=domain, installed=True, installed_at=now_utc())
        shop.settings = PinterestSettings()
        db.session.add(shop)
        db.session.flush()
    elif shop.settings is None:
        settings_of(shop)
        db.session.flush()
    return shop


def settings_of(shop: Shop) -> PinterestSettings:
    """The shop's Pinterest settings row, added (with defaults) when it has none yet."""
    if shop.settings is None:
        shop.settings = PinterestSettings()
    return shop.settings


def find_shop(domain: str) -> Shop | None:
    return db.session.execute(db.select(Shop).filter_by(domain=domain)).scalar_one_or_none()


# -- the row's transitions, each in the caller's write transaction ------------------------------------------
def install(domain: str) -> Shop:
    """A verified load means the app is installed, including after an earlier uninstall."""
    shop = get_or_create_shop(domain)
    if not shop.installed:
        shop.installed, shop.uninstalled_at, shop.installed_at = True, None, now_utc()
    return shop


def uninstall(shop: Shop, now: datetime) -> None:
    """The app was removed: its Admin API tokens go at once; Pinterest settings stay until shop/redact."""
    shop.installed = False
    shop.uninstalled_at = now
    shop.shopify_token_enc = shop.shopify_refresh_token_enc = None
    shop.shopify_token_expires_at = shop.shopify_refresh_expires_at = None
    shop.shopify_scope = shop.token_exchange_error = None


def forget(shop: Shop) -> None:
    """shop/redact: the row goes, and with it (by cascade) everything kept for the shop."""
    db.session.delete(shop)


def store_token(shop: Shop, *, token: str, expires_at: datetime | None, refresh_token: str | None,
                refresh_expires_at: datetime | None, scope: str | None) -> None:
    """A new offline Admin API token (exchanged or refreshed), kept encrypted; the last failure is forgotten."""
    shop.shopify_token_enc = crypto.encrypt(token)
    shop.shopify_token_expires_at = expires_at
    shop.shopify_refresh_token_enc = crypto.encrypt(refresh_token) if refresh_token else None
    shop.shopify_refresh_expires_at = refresh_expires_at
    shop.shopify_scope = (scope or "")[:255] or None
    shop.token_exchange_error = None


def token_failed(shop: Shop, message: str) -> None:
    """Getting an Admin API token failed: the sentence the merchant's page shows."""
    shop.token_exchange_error = message


def expire_token(shop: Shop, now: datetime) -> None:
    """Shopify refused the stored token: treat it as expired, so the next use refreshes it."""
    shop.shopify_token_expires_at = now


def keep(shop: Shop, columns: dict[str, Any]) -> None:
    """Set again columns changed in a read that has ended (a token refresh's), to be written now."""
    for key, value in columns.items():
        setattr(shop, key, value)


def reconciled(shop: Shop, when: datetime) -> None:
    """Reconciliation read the shop's orders up to `when` (the database's time)."""
    shop.last_reconciled_at = when


def pixel_seen(shop_id: int, now: datetime) -> None:
    """The shop's pixel sent its first beacon: its web orders wait a moment for theirs from now on.

    The beacon's fast path (app/ingest/pixel_wsgi.py) makes the same transition inside its own statements,
    written below: `pixel_seen_after` (PostgreSQL) and `pixel_seen_sqlite` (SQLite).
    """
    db.session.execute(
        update(Shop).where(Shop.id == shop_id, Shop.pixel_seen_at.is_(None)).values(pixel_seen_at=now)
    )


def pixel_seen_after(beacons: str) -> str:
    """PostgreSQL: `pixel_seen` for every shop of a batch of beacons, as a data-modifying CTE named `seen`.

    The same transition as `pixel_seen` (set once, never moved: `pixel_seen_at IS NULL`), written in the
    beacon's fast path's one statement, so the shops' first beacon costs no round trip of its own. `beacons`
    names the CTE of the beacons just stored (columns `shop_id`, `received_at`): a shop not seen before is
    seen from its earliest beacon there.
    """
    return ("seen AS (UPDATE shops SET pixel_seen_at = first.at FROM (SELECT shop_id, min(received_at) AS at "
            f"FROM {beacons} GROUP BY shop_id) AS first WHERE shops.id = first.shop_id AND shops.pixel_seen_at IS NULL "
            "RETURNING shops.id)")


def pixel_seen_sqlite(shops: int) -> str:
    """SQLite: `pixel_seen` for `shops` shops at once, the statement the beacon's fast path sends on its cursor.

    The same transition as `pixel_seen` (set once, never moved); parameters: the time, then the shops' ids.
    """
    return f"UPDATE shops SET pixel_seen_at = ? WHERE pixel_seen_at IS NULL AND id IN ({', '.join('?' * shops)})"


def pixel_version_reported(shop_id: int, version: str | None) -> None:
    """Remember the pasted custom pixel's version as its beacon reports it (written only when it changes)."""
    if version:
        db.session.execute(update(Shop).where(
            Shop.id == shop_id, or_(Shop.pixel_version.is_(None), Shop.pixel_version != version)
        ).values(pixel_version=version))


def web_pixel_synced(shop_id: int, *, scopes: str | None, pixel_id: str | None, error: str | None,
                     settings: str | None, now: datetime) -> None:
    """Shopify's answer about Pinbridge's app pixel: the scopes held, its id, the settings it has (kept as they
    were when Shopify refused), the refusal in plain words (None: it worked)."""
    values: dict[str, Any] = {"shopify_scope": scopes, "web_pixel_id": pixel_id, "web_pixel_error": error,
                              "web_pixel_checked_at": now}
    if settings is not None:
        values["web_pixel_settings"] = settings
    db.session.execute(update(Shop).where(Shop.id == shop_id).values(**values))


def dismiss_setup(shop: Shop, dismissed: bool, now: datetime) -> None:
    """The merchant dismissed the setup guide (or brought it back); remembered for every staff member."""
    shop.setup_dismissed_at = now if dismissed else None
