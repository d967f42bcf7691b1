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
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from flask import Blueprint, Response, current_app, jsonify, request
from flask_limiter import Limiter
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from app import outbox
from app.database import writing
from app.mapping.identity import token as event_id_token
from app.mapping.types import MATCH_KEYS
from app.mapping.user_data import normalise_ip
from app.models import Event, EventStatus, PinterestSettings, PixelBeacon, Shop, db, now_utc
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


def store(shop_id: int, beacon: Beacon, *, user_agent: str | None, ip: str | None, now: datetime) -> bool:
    """Keep the first beacon for a checkout token, note that the shop's pixel works, release its order."""
    consented = beacon.consent_marketing is not False
    row = PixelBeacon(
        shop_id=shop_id, checkout_token=beacon.checkout_token, received_at=now,
        consent_marketing=beacon.consent_marketing, consent_sale_of_data=beacon.consent_sale_of_data,
        # Without marketing consent nothing that identifies the browser is kept.
        tag_event_id=beacon.tag_event_id if consented else None,
        click_id=beacon.click_id if consented else None,
        user_agent=(user_agent or None) if consented else None,
        ip=normalise_ip(ip) if consented else None,  # a private or loopback address identifies no buyer
    )
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


# -- the worker's side -----------------------------------------------------------------------------------
WITHHELD = "The buyer did not allow marketing or the sale of their data."


@dataclass
class Joined:
    """What joining beacons did to a batch: the items to send, the ones consent keeps back, and the notes.

    Nothing of it is written yet: the sender records the notes and the withheld events in the transaction
    that records Pinterest's answer (`record`), so each event row is written once. Should the worker stop
    before that, the events return to the queue with their lease and are joined again.
    """

    send: list[outbox.Claimed]
    withheld: list[outbox.Claimed] = field(default_factory=list)
    notes: outbox.JoinNotes = field(default_factory=outbox.JoinNotes)

    def record(self, worker_id: str, now: datetime, *, delivered: Collection[int] = ()) -> None:
        """Write the withheld events and the notes, once; in the caller's transaction.

        The notes about `delivered` events are left out: `outbox.mark_delivered` writes them (`notes`).
        """
        outbox.mark_withheld([item.row_id for item in self.withheld], worker_id, now, WITHHELD)
        taken = set(delivered)
        outbox.note_joined(self.notes.only([r for r in self.notes.row_ids if r not in taken]), worker_id)
        self.withheld, self.notes = [], outbox.JoinNotes()


class StoredBeacon(NamedTuple):
    """The columns of a stored beacon the join uses, read as plain values (no ORM object to expire)."""

    tag_event_id: str | None
    click_id: str | None
    consent_marketing: bool | None
    consent_sale_of_data: bool | None
    user_agent: str | None
    ip: str | None


_BEACON_COLUMNS = (PixelBeacon.tag_event_id, PixelBeacon.click_id, PixelBeacon.consent_marketing,
                   PixelBeacon.consent_sale_of_data, PixelBeacon.user_agent, PixelBeacon.ip)


def join(items: list[outbox.Claimed], worker_id: str, now: datetime) -> Joined:
    """Add each web order's beacon to its event before sending: click id, browser, consent, Tag id check.

    A batch costs one SELECT of plain columns (every beacon of the batch with the shop's consent rules)
    and pure code for each event; what it found is written later with the batch's outcome (`Joined`).
    Nothing is loaded per event, so the work stays the same few statements whatever the batch's size.
    """
    by_row = {item.row_id: item for item in items}
    rows = db.session.connection().execute(  # Core rows: no ORM entities, nothing to expire or reload
        select(Event.id, Event.match_keys, *_BEACON_COLUMNS, PinterestSettings.marketing_refused,
               PinterestSettings.sale_of_data_refused)
        .join(PixelBeacon, (PixelBeacon.shop_id == Event.shop_id)
              & (PixelBeacon.checkout_token == Event.checkout_token))
        .join(PinterestSettings, PinterestSettings.shop_id == Event.shop_id)
        .where(Event.id.in_(list(by_row)), Event.action_source == "web")
    ).all()
    db.session.rollback()  # plain values: nothing read above expires with the read transaction
    if not rows:
        return Joined(items)
    withheld: list[outbox.Claimed] = []
    notes = outbox.JoinNotes()
    keys_for: dict[tuple[str | None, bool, bool], str | None] = {}  # a batch has few distinct key sets
    for row in rows:
        row_id, stored_keys, marketing_rule, sale_rule = row[0], row[1], row[8], row[9]
        beacon = StoredBeacon(*row[2:8])
        item = by_row[row_id]
        payload = apply(item.payload, beacon, marketing_rule, sale_rule)
        if payload is None:
            withheld.append(by_row.pop(row_id))
            continue
        by_row[row_id] = outbox.Claimed(item.row_id, item.shop_id, item.event_id, payload, item.test,
                                        item.attempts, item.received_at)
        user_data = payload["user_data"]
        shape = (stored_keys, bool(user_data.get("click_id")),
                 bool(user_data.get("client_ip_address") and user_data.get("client_user_agent")))
        if shape not in keys_for:
            keys_for[shape] = _match_keys(stored_keys, payload)
        tag_event_id = beacon.tag_event_id
        notes.add(row_id, tag_event_id, None if tag_event_id is None else tag_event_id == item.event_id,
                  keys_for[shape])
    return Joined([by_row[item.row_id] for item in items if item.row_id in by_row], withheld, notes)


def _match_keys(stored: str | None, event: dict[str, Any]) -> str | None:
    keys = set((stored or "").split())
    user_data = event.get("user_data") or {}
    if user_data.get("click_id"):
        keys.add("click_id")
    if user_data.get("client_ip_address") and user_data.get("client_user_agent"):
        keys.add("ip_ua")
    return " ".join(key for key in MATCH_KEYS if key in keys) or None


def apply(event: dict[str, Any], beacon: StoredBeacon | PixelBeacon, marketing_rule: str,
          sale_rule: str) -> dict[str, Any] | None:
    """The event with what the beacon adds (pure); None when the buyer's refusal means it is not sent."""
    refused_marketing = beacon.consent_marketing is False
    refused_sale = beacon.consent_sale_of_data is False
    if (refused_marketing and marketing_rule == "skip") or (refused_sale and sale_rule == "skip"):
        return None
    out = dict(event)
    user_data = dict(out.get("user_data") or {})
    if beacon.click_id and not user_data.get("click_id"):
        user_data["click_id"] = beacon.click_id
    has_browser = user_data.get("client_user_agent") and user_data.get("client_ip_address")
    if beacon.user_agent and beacon.ip and not has_browser:
        user_data["client_user_agent"] = beacon.user_agent
        user_data["client_ip_address"] = beacon.ip
    out["user_data"] = user_data
    if (refused_marketing and marketing_rule == "limited") or (refused_sale and sale_rule == "limited"):
        # Pinterest takes the flag in custom_data (as the mapping puts it); anywhere else it refuses the event.
        out["custom_data"] = {**(out.get("custom_data") or {}), "opt_out_type": "LDP"}
    return out


def release_arrived(orders: list[tuple[int, str]], now: datetime) -> int:
    """Orders just queued to wait for their beacon go at once if it arrived meanwhile.

    A beacon releases the order waiting for it (`store`), but only an order already committed: one that
    the worker was queuing in the same moment, in a transaction the beacon's could not see, would wait
    the whole join window (PostgreSQL runs the two at once; SQLite one after the other). Looking again
    after that commit closes the gap: a beacon committed before this look is found here, one committed
    after it finds the order.
    """
    tokens_by_shop: dict[int, set[str]] = {}
    for shop_id, token in orders:
        tokens_by_shop.setdefault(shop_id, set()).add(token)
    arrived = [(row.shop_id, row.checkout_token) for shop_id, tokens in tokens_by_shop.items()
               for row in db.session.execute(
                   select(PixelBeacon.shop_id, PixelBeacon.checkout_token)
                   .where(PixelBeacon.shop_id == shop_id, PixelBeacon.checkout_token.in_(tokens)))]
    db.session.rollback()
    if not arrived:
        return 0
    with writing():
        return sum(outbox.release_waiting_order(shop_id, token, now) for shop_id, token in arrived)


def waits_for_beacon(shop: Shop, checkout_token: str | None) -> bool:
    """Whether a new web order should wait for its beacon: the shop's pixel works and has not reported yet."""
    if shop.pixel_seen_at is None or not checkout_token:
        return False
    return db.session.scalar(
        select(PixelBeacon.id).filter_by(shop_id=shop.id, checkout_token=checkout_token)
    ) is None


def purge(now: datetime) -> int:
    """Delete beacons older than a day (they are joined within seconds of their order)."""
    return int(db.session.execute(delete(PixelBeacon).where(PixelBeacon.received_at < now - BEACON_KEEP)).rowcount)  # type: ignore[attr-defined]


def forget(shop_id: int, checkout_tokens: Any) -> int:
    """Delete the beacons of the given checkouts (customers/redact)."""
    return int(db.session.execute(  # type: ignore[attr-defined]
        delete(PixelBeacon).where(PixelBeacon.shop_id == shop_id, PixelBeacon.checkout_token.in_(checkout_tokens))
    ).rowcount)


# -- what the merchant's page shows ------------------------------------------------------------------------
SUMMARY_DAYS = 14


def summary(shop: Shop, now: datetime) -> dict[str, Any]:
    """How many recent web purchases the Tag reported with the server's id, in numbers and plain words."""
    since = now - timedelta(days=SUMMARY_DAYS)
    row = db.session.execute(
        select(
            func.count(),
            func.count().filter(Event.tag_matched.is_(True)),
            func.count().filter(Event.tag_matched.is_(False)),
            func.count().filter(Event.match_keys.like("%click_id%")),
        ).where(Event.shop_id == shop.id, Event.action_source == "web", Event.source != "verify",
                Event.status != EventStatus.SKIPPED.value, Event.received_at >= since)
    ).one()
    purchases, same, different, clicks = (int(value or 0) for value in row)
    last = db.session.scalar(select(func.max(PixelBeacon.received_at)).where(PixelBeacon.shop_id == shop.id))
    last = last or shop.pixel_seen_at
    return {
        "reported": shop.pixel_seen_at is not None,
        "last_reported_at": last.isoformat() if last else None,
        "window_days": SUMMARY_DAYS,
        "purchases": purchases,
        "tag_same_id": same,
        "tag_different_id": different,
        "with_click_id": clicks,
        "headline": (f"Counted once: the Tag reported {same} of {purchases} "
                     f"{'purchase' if purchases == 1 else 'purchases'} in the last {SUMMARY_DAYS} days "
                     "with the same id"),
        "advice": _advice(shop, purchases, same, different),
    }


def _advice(shop: Shop, purchases: int, same: int, different: int) -> str:
    settings = shop.settings
    if settings is None or not settings.tag_id:
        return "Add your Pinterest Tag id in settings, then paste the pixel into Settings → Customer events."
    if shop.pixel_seen_at is None:
        return ("The pixel has not reported a purchase yet. Paste it into Settings → Customer events, save, "
                "select Connect, then place a test order.")
    if different:
        return (f"The Tag used a different id for {different} of {purchases} purchases, so Pinterest may count "
                "them twice. Paste the pixel again so it matches your current settings, and remove any other "
                "Pinterest Tag checkout code from your theme.")
    if purchases and same < purchases:
        return ("Some purchases were not reported by the Tag: buyers who refused cookies or left before the "
                "thank-you page. Pinbridge sent them from the server, so they are counted once.")
    return "The Tag and Pinbridge use the same id for every purchase, so Pinterest counts each one once."
