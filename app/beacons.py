"""Pixel beacons, the one module that writes them: stored as they arrive, joined to their orders, purged.

At `checkout_completed` the pixel reports, for one checkout token, the `event_id` it gave the Pinterest
Tag, the `_epik` click id and the buyer's consent (the door that parses it is app/ingest/beacon.py). Only
the first beacon for a token is kept. A web order whose shop's pixel reports purchases waits a moment for
its beacon (`arrived`); a beacon's arrival releases it (`release_arrived`); before sending,
`join` reads every beacon of a claimed batch at once and `apply` adds what each one may change.

The server adopts the Tag's id (`adopted_id`): where the browser could not read the id the server chose
(an older checkout whose thank-you address does not carry the cart token, so the Tag fell back to the
checkout token), the first beacon says which id the Tag fired with, and a purchase not sent yet goes
with that id. Only one of the purchase's own ids can be adopted (its checkout token or `order-<order id>`),
so a beacon can never make one purchase carry another's id (docs/pixel.md, "What a beacon can change").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, delete, exists, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app import outbox, shops
from app.database import reading, writing
from app.mapping.types import MATCH_KEYS
from app.mapping.user_data import normalise_ip
from app.models import Event, PixelBeacon, db
from app.statements import among_param, built
from app.vocabulary import ActionSource, ConsentRule, SkipReason

logger = logging.getLogger(__name__)
VERSION_RE = re.compile(r"^[0-9a-f]{12}$")  # the custom pixel's version (app/merchant/pixel.py)
BEACON_KEEP = timedelta(days=1)  # beacons are only needed until their order is sent


@dataclass(frozen=True)
class Beacon:
    checkout_token: str
    tag_event_id: str | None
    click_id: str | None
    consent_marketing: bool | None
    consent_sale_of_data: bool | None
    pixel_version: str | None = None  # the pasted custom pixel's version (the app pixel sends none)




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
    # Events that go with the Tag's id instead of the server's: row id → (that id, the stored payload with it).
    adopted: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def record(self, worker_id: str, now: datetime, *, delivered: Collection[int] = ()) -> None:
        """Write the withheld events and the notes, once; in the caller's transaction.

        The notes about `delivered` events are left out: `outbox.mark_delivered` writes them (`notes`).
        """
        outbox.mark_withheld([item.row_id for item in self.withheld], worker_id, now,
                             SkipReason.CONSENT_REFUSED.sentence())
        # Before the outcome: a retry must go with the id this attempt may already have delivered.
        outbox.adopt_event_ids(self.adopted, worker_id)
        taken = set(delivered)
        outbox.note_joined(self.notes.only([r for r in self.notes.row_ids if r not in taken]), worker_id)
        self.withheld, self.notes, self.adopted = [], outbox.JoinNotes(), {}


class ConsentRules(NamedTuple):
    """What the shop does when a buyer refused marketing, or the sale of their data: send, limited or skip."""

    marketing_refused: ConsentRule
    sale_of_data_refused: ConsentRule


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


def join(items: list[outbox.Claimed], worker_id: str, now: datetime, *, rules: ConsentRules) -> Joined:
    """Add each web order's beacon to its event before sending: click id, browser, consent, Tag id check.

    `rules` are the shop's answers to a buyer's refusals, read with its settings once per batch. A batch
    costs one SELECT of plain columns (every beacon of the batch) and pure code for each event; what it
    found is written later with the batch's outcome (`Joined`).
    Nothing is loaded per event, so the work stays the same few statements whatever the batch's size.
    """
    by_row = {item.row_id: item for item in items}
    with reading():  # plain values: nothing read here expires with the read transaction
        rows = db.session.connection().execute(  # Core rows: no ORM entities, nothing to expire or reload
            built(_beacons_of_batch), {"ids": list(by_row)}).all()
    if not rows:
        return Joined(items)
    withheld: list[outbox.Claimed] = []
    notes = outbox.JoinNotes()
    adopted: dict[int, tuple[str, dict[str, Any]]] = {}
    keys_for: dict[tuple[str | None, bool, bool], str | None] = {}  # a batch has few distinct key sets
    for row in rows:
        row_id, stored_keys = row[0], row[1]
        beacon = StoredBeacon(*row[2:8])
        item = by_row[row_id]
        payload = apply(item.payload, beacon, rules.marketing_refused, rules.sale_of_data_refused)
        if payload is None:
            withheld.append(by_row.pop(row_id))
            continue
        event_id = item.event_id
        adopt = adopted_id(item, beacon.tag_event_id, checkout_token=row[8], order_id=row[9], taken=bool(row[10]))
        if adopt is not None:
            event_id, payload = adopt, {**payload, "event_id": adopt}
            adopted[row_id] = (adopt, {**item.payload, "event_id": adopt})
        by_row[row_id] = outbox.Claimed(item.row_id, item.shop_id, event_id, payload, item.test,
                                        item.attempts, item.received_at)
        user_data = payload["user_data"]
        shape = (stored_keys, bool(user_data.get("click_id")),
                 bool(user_data.get("client_ip_address") and user_data.get("client_user_agent")))
        if shape not in keys_for:
            keys_for[shape] = _match_keys(stored_keys, payload)
        tag_event_id = beacon.tag_event_id
        notes.add(row_id, tag_event_id, None if tag_event_id is None else tag_event_id == event_id,
                  keys_for[shape])
    return Joined([by_row[item.row_id] for item in items if item.row_id in by_row], withheld, notes, adopted)


def _beacons_of_batch(dialect: Any) -> Any:
    """The batch's web orders (parameter `ids`) with their stored beacon; built once (`statements.built`)."""
    other = aliased(Event)
    # Whether another event of the shop already holds the Tag's id (then it cannot be adopted); looked up
    # only where the ids differ, through the (shop, event id) unique index.
    id_taken = case((PixelBeacon.tag_event_id != Event.event_id, exists().where(
        other.shop_id == Event.shop_id, other.event_id == PixelBeacon.tag_event_id, other.id != Event.id)),
        else_=false())
    return (
        select(Event.id, Event.match_keys, *_BEACON_COLUMNS, Event.checkout_token, Event.order_id, id_taken)
        .join(PixelBeacon, (PixelBeacon.shop_id == Event.shop_id)
              & (PixelBeacon.checkout_token == Event.checkout_token))
        .where(among_param(Event.id, "ids", dialect), Event.action_source == ActionSource.WEB)
    )


def adopted_id(item: outbox.Claimed, tag_event_id: str | None, *, checkout_token: str | None,
               order_id: str | None, taken: bool) -> str | None:
    """The Tag's id when the event should carry it instead of the server's; None to keep the server's (pure).

    Only on the first attempt (an event that may have reached Pinterest keeps the id it went with), only
    an id of this same purchase, and only one no other event of the shop holds.
    """
    if tag_event_id is None or tag_event_id == item.event_id or item.attempts != 1 or taken:
        return None
    own = {checkout_token, f"order-{order_id}" if order_id else None} - {None}
    return tag_event_id if tag_event_id in own else None


def _match_keys(stored: str | None, event: dict[str, Any]) -> str | None:
    keys = set((stored or "").split())
    user_data = event.get("user_data") or {}
    if user_data.get("click_id"):
        keys.add("click_id")
    if user_data.get("client_ip_address") and user_data.get("client_user_agent"):
        keys.add("ip_ua")
    return " ".join(key for key in MATCH_KEYS if key in keys) or None


def apply(event: dict[str, Any], beacon: StoredBeacon | PixelBeacon, marketing_rule: ConsentRule,
          sale_rule: ConsentRule) -> dict[str, Any] | None:
    """The event with what the beacon adds (pure); None when the buyer's refusal means it is not sent."""
    refused_marketing = beacon.consent_marketing is False
    refused_sale = beacon.consent_sale_of_data is False
    skip, limited = ConsentRule.SKIP, ConsentRule.LIMITED
    if (refused_marketing and marketing_rule == skip) or (refused_sale and sale_rule == skip):
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
    if (refused_marketing and marketing_rule == limited) or (refused_sale and sale_rule == limited):
        # Pinterest takes the flag in custom_data (as the mapping puts it); anywhere else it refuses the event.
        out["custom_data"] = {**(out.get("custom_data") or {}), "opt_out_type": "LDP"}
    return out


def arrived(orders: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these orders (shop id, checkout token) have their beacon stored: one look per shop."""
    tokens_by_shop: dict[int, set[str]] = {}
    for shop_id, token in orders:
        tokens_by_shop.setdefault(shop_id, set()).add(token)
    return {(row.shop_id, row.checkout_token) for shop_id, tokens in tokens_by_shop.items()
            for row in db.session.execute(
                select(PixelBeacon.shop_id, PixelBeacon.checkout_token)
                .where(PixelBeacon.shop_id == shop_id, PixelBeacon.checkout_token.in_(tokens)))}


def release_arrived(orders: list[tuple[int, str]], now: datetime) -> int:
    """Orders just queued to wait for their beacon go at once if it arrived meanwhile.

    A beacon releases the order waiting for it (`store`), but only an order already committed: one that
    the worker was queuing in the same moment, in a transaction the beacon's could not see, would wait
    the whole join window (PostgreSQL runs the two at once; SQLite one after the other). Looking again
    after that commit closes the gap: a beacon committed before this look is found here, one committed
    after it finds the order.
    """
    with reading():
        found = arrived(orders)
    if not found:
        return 0
    with writing():
        return sum(outbox.release_waiting_order(shop_id, token, now) for shop_id, token in sorted(found))


class ShopPixel(NamedTuple):
    """What routing needs to know of a shop, read once per batch: its id and whether its pixel reports."""

    id: int
    pixel_seen_at: datetime | None


USER_AGENT_LENGTH = PixelBeacon.__table__.c.user_agent.type.length


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
    """Keep the first beacon for a checkout token, note that the shop's pixel works, release its order.

    The beacon fast path (app/ingest/pixel_wsgi.py) writes the same three things for a batch of beacons in
    one statement; a beacon that reports a new custom-pixel version comes here.
    """
    row = PixelBeacon(**row_values(shop_id, beacon, user_agent=user_agent, ip=ip, now=now))
    try:
        with writing():
            db.session.add(row)
            db.session.flush()
            shops.pixel_seen(shop_id, now)
            outbox.release_waiting_order(shop_id, beacon.checkout_token, now)
            shops.pixel_version_reported(shop_id, beacon.pixel_version)
    except IntegrityError:
        # The first beacon for this checkout stands; a replay changes nothing. The custom pixel's may come
        # second (after the app pixel's): its version still says which code is pasted.
        if beacon.pixel_version:
            with writing():
                shops.pixel_version_reported(shop_id, beacon.pixel_version)
        return False
    return True


def purge(now: datetime) -> int:
    """Delete beacons older than a day (they are joined within seconds of their order)."""
    return int(db.session.execute(delete(PixelBeacon).where(PixelBeacon.received_at < now - BEACON_KEEP)).rowcount)  # type: ignore[attr-defined]


def forget(shop_id: int, checkout_tokens: Any) -> int:
    """Delete the beacons of the given checkouts (customers/redact)."""
    return int(db.session.execute(  # type: ignore[attr-defined]
        delete(PixelBeacon).where(PixelBeacon.shop_id == shop_id, PixelBeacon.checkout_token.in_(checkout_tokens))
    ).rowcount)


