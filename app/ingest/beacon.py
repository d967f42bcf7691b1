"""The storefront pixel's beacon: `POST /pixel`, what it may store, and how the worker joins it to an order.

At `checkout_completed` the custom pixel reports, for one checkout token, the `event_id` it gave the
Pinterest Tag, the `_epik` click-id cookie and the buyer's consent. The endpoint is public (a storefront
cannot hold a secret), so what a sender can do is kept small: a beacon only attaches a click id, a user
agent and IP, and consent to the order whose checkout token it names, and only the first beacon for a
token counts. It never creates, sends or deletes an event by itself.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_limiter import Limiter
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app import outbox
from app.database import writing
from app.mapping.identity import token as event_id_token
from app.mapping.user_data import normalise_ip
from app.models import PixelBeacon, Shop, db, now_utc
from app.shops import normalise_shop_domain

logger = logging.getLogger(__name__)
bp = Blueprint("beacons", __name__)

MAX_BEACON_BYTES = 2048
BEACON_KEEP = timedelta(days=1)  # beacons are only needed until their order is sent
FIELDS = frozenset({"checkout_token", "event_id", "click_id", "consent"})
CONSENT_FIELDS = frozenset({"marketing", "sale_of_data", "analytics"})
CHECKOUT_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# `_epik` values are URL-safe base64-ish strings; anything else is not a Pinterest click id.
CLICK_ID_RE = re.compile(r"^[A-Za-z0-9_.=%-]{8,512}$")
USER_AGENT_LENGTH = PixelBeacon.__table__.c.user_agent.type.length  # longer ones are cut, not refused


def client_ip() -> str:
    """The browser's address: the socket peer, or the configured number of trusted proxy hops back."""
    hops = int(current_app.config.get("TRUSTED_PROXY_HOPS", 0))
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops][:45]
    return (request.remote_addr or "")[:45]


def _shop_key() -> str:
    return normalise_shop_domain(request.args.get("shop", "")) or "-"


limiter = Limiter(key_func=client_ip, storage_uri="memory://", default_limits=[])


class BeaconRejected(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Beacon:
    checkout_token: str
    tag_event_id: str | None
    click_id: str | None
    consent_marketing: bool | None
    consent_sale_of_data: bool | None


def parse(raw: bytes) -> Beacon:
    """Validate a beacon body strictly: a small JSON object of known fields, each of a known shape."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BeaconRejected(400, "invalid_json") from exc
    if not isinstance(data, dict) or not set(data) <= FIELDS:
        raise BeaconRejected(400, "invalid_fields")
    checkout_token = data.get("checkout_token")
    if not isinstance(checkout_token, str) or not CHECKOUT_TOKEN_RE.match(checkout_token):
        raise BeaconRejected(400, "invalid_checkout_token")
    event_id = data.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or event_id_token(event_id) != event_id
                                 or not event_id.isascii()):
        raise BeaconRejected(400, "invalid_event_id")
    click_id = data.get("click_id")
    if click_id is not None and (not isinstance(click_id, str) or not CLICK_ID_RE.match(click_id)):
        raise BeaconRejected(400, "invalid_click_id")
    consent = data.get("consent", {})
    if not isinstance(consent, dict) or not set(consent) <= CONSENT_FIELDS or any(
        value is not None and not isinstance(value, bool) for value in consent.values()
    ):
        raise BeaconRejected(400, "invalid_consent")
    return Beacon(checkout_token, event_id, click_id, consent.get("marketing"), consent.get("sale_of_data"))


def _cors(response: Response) -> Response:
    # Storefronts live on any domain a merchant chooses and custom pixels run in sandboxed frames, so any
    # origin may post; no cookies or credentials are ever accepted, so this exposes nothing.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _answer(status: int, code: str | None = None) -> Response:
    response = jsonify({"error": code}) if code else Response(status=status)
    response.status_code = status
    return _cors(response)


@bp.route("/pixel", methods=["OPTIONS"])
def preflight() -> Response:
    return _answer(204)


@bp.post("/pixel")
@limiter.limit(lambda: current_app.config["PIXEL_RATE_LIMIT_CLIENT"])
@limiter.limit(lambda: current_app.config["PIXEL_RATE_LIMIT_SHOP"], key_func=_shop_key)
def receive() -> Response:
    """Store one beacon; 204 whether it was new or a repeat, 4xx for anything malformed or unknown."""
    domain = normalise_shop_domain(request.args.get("shop", ""))
    if domain is None:
        return _answer(400, "invalid_shop")
    if request.content_length is None or request.content_length > MAX_BEACON_BYTES:
        return _answer(413, "too_large")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BEACON_BYTES:
        return _answer(413, "too_large")
    try:
        beacon = parse(raw)
    except BeaconRejected as exc:
        return _answer(exc.status, exc.code)
    shop_id = db.session.scalar(select(Shop.id).filter_by(domain=domain, installed=True))
    db.session.rollback()
    if shop_id is None:
        return _answer(404, "unknown_shop")
    stored = store(shop_id, beacon, user_agent=request.headers.get("User-Agent"), ip=client_ip(), now=now_utc())
    logger.info("pixel beacon", extra={"action": "pixel_beacon", "shop": domain, "stored": stored})
    return _answer(204)


def row_values(shop_id: int, beacon: Beacon, *, user_agent: str | None, ip: str | None,
               now: datetime) -> dict[str, Any]:
    """The stored beacon's columns: without marketing consent nothing that identifies the browser is kept."""
    consented = beacon.consent_marketing is not False
    agent = (user_agent or "").replace("\x00", "")[:USER_AGENT_LENGTH] or None
    return {
        "shop_id": shop_id, "checkout_token": beacon.checkout_token, "received_at": now,
        "consent_marketing": beacon.consent_marketing, "consent_sale_of_data": beacon.consent_sale_of_data,
        "tag_event_id": beacon.tag_event_id if consented else None,
        "click_id": beacon.click_id if consented else None,
        "user_agent": agent if consented else None,
        "ip": normalise_ip(ip) if consented else None,  # a private or loopback address identifies no buyer
    }


def store(shop_id: int, beacon: Beacon, *, user_agent: str | None, ip: str | None, now: datetime) -> bool:
    """Keep the first beacon for a checkout token, note that the shop's pixel works, release its order."""
    row = PixelBeacon(**row_values(shop_id, beacon, user_agent=user_agent, ip=ip, now=now))
    try:
        with writing():
            db.session.add(row)
            db.session.flush()
            db.session.execute(
                update(Shop).where(Shop.id == shop_id, Shop.pixel_seen_at.is_(None)).values(pixel_seen_at=now)
            )
            outbox.release_waiting_order(shop_id, beacon.checkout_token, now)
    except IntegrityError:
        return False  # the first beacon for this checkout stands; a replay changes nothing
    return True


def purge(now: datetime) -> int:
    """Delete beacons older than a day (they are joined within seconds of their order)."""
    return int(db.session.execute(delete(PixelBeacon).where(PixelBeacon.received_at < now - BEACON_KEEP)).rowcount)  # type: ignore[attr-defined]


def forget(shop_id: int, checkout_tokens: Any) -> int:
    """Delete the beacons of the given checkouts (customers/redact)."""
    return int(db.session.execute(  # type: ignore[attr-defined]
        delete(PixelBeacon).where(PixelBeacon.shop_id == shop_id, PixelBeacon.checkout_token.in_(checkout_tokens))
    ).rowcount)


