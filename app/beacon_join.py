"""The beacon joined to its order: the worker adds the pixel's click id, browser and consent to an event.

A web order whose shop's pixel reports purchases waits a moment for its beacon (`waits_for_beacon`); a
beacon's arrival releases it (`release_arrived`); before sending, `join` reads every beacon of a claimed
batch at once and `apply` adds what each one may change. The beacons themselves are stored, purged and
forgotten by app/ingest/beacon.py.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select

from app import outbox
from app.database import reading, writing
from app.mapping.types import MATCH_KEYS
from app.models import Event, PixelBeacon, Shop, db

logger = logging.getLogger(__name__)

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


class ConsentRules(NamedTuple):
    """What the shop does when a buyer refused marketing, or the sale of their data: send, limited or skip."""

    marketing_refused: str
    sale_of_data_refused: str


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
            select(Event.id, Event.match_keys, *_BEACON_COLUMNS)
            .join(PixelBeacon, (PixelBeacon.shop_id == Event.shop_id)
                  & (PixelBeacon.checkout_token == Event.checkout_token))
            .where(Event.id.in_(list(by_row)), Event.action_source == "web")
        ).all()
    if not rows:
        return Joined(items)
    withheld: list[outbox.Claimed] = []
    notes = outbox.JoinNotes()
    keys_for: dict[tuple[str | None, bool, bool], str | None] = {}  # a batch has few distinct key sets
    for row in rows:
        row_id, stored_keys = row[0], row[1]
        beacon = StoredBeacon(*row[2:8])
        item = by_row[row_id]
        payload = apply(item.payload, beacon, rules.marketing_refused, rules.sale_of_data_refused)
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
    with reading():
        arrived = [(row.shop_id, row.checkout_token) for shop_id, tokens in tokens_by_shop.items()
                   for row in db.session.execute(
                       select(PixelBeacon.shop_id, PixelBeacon.checkout_token)
                       .where(PixelBeacon.shop_id == shop_id, PixelBeacon.checkout_token.in_(tokens)))]
    if not arrived:
        return 0
    with writing():
        return sum(outbox.release_waiting_order(shop_id, token, now) for shop_id, token in arrived)


class ShopPixel(NamedTuple):
    """What routing needs to know of a shop, read once per batch: its id and whether its pixel reports."""

    id: int
    pixel_seen_at: datetime | None


def waits_for_beacon(shop: Shop | ShopPixel, checkout_token: str | None) -> bool:
    """Whether a new web order should wait for its beacon: the shop's pixel works and has not reported yet."""
    if shop.pixel_seen_at is None or not checkout_token:
        return False
    return db.session.scalar(
        select(PixelBeacon.id).filter_by(shop_id=shop.id, checkout_token=checkout_token)
    ) is None


