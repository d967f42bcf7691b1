"""Is Shopify withholding customers' contact details from a shop's orders? Pure: counts in, a verdict out.

Shopify sends an app's order webhooks with the customer's name, email, phone and address only when the app
has protected customer data access at Level 2 for those fields; with Level 1 alone the orders still come,
with the customer's id, the browser's IP and user agent and the landing page (so the Pinterest click id),
and every contact field left out. Nothing in a webhook says which: the only sign is that no recent online
order carries any of them, which on the merchant's page looks like Email, Phone and Address at 0% beside a
"Working" banner. This module turns that sign into a code and a sentence for the merchant.

The input is what `app/merchant/stats.py` already counts for match quality, one row per distinct `match_keys` of
events (`"em ph ip_ua address"`), restricted to recent online-store orders that came by webhook:

    select(Event.match_keys, func.count())
    .where(Event.shop_id == shop_id, Event.action_source == "web", Event.source.in_(("order", "checkout")),
           Event.received_at >= since)
    .group_by(Event.match_keys)

Orders recovered by reconciliation are left out on purpose: the Admin API withholds the same fields
without Level 2, but a recovered order never carries a user agent, so its keys say less.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

MIN_ORDERS = 10  # fewer recent online orders than this prove nothing (a shop of guests paying by phone)

_LEVEL_2_STEP = ("Next step: whoever runs Pinbridge for your shop asks Shopify for Level 2 protected customer "
                 "data access ({fields}) in the app's settings in the Partner or Dev Dashboard (API access → "
                 "Protected customer data access); once Shopify grants it, new orders arrive with them.")


class Code(enum.StrEnum):
    TOO_FEW_ORDERS = "too_few_orders"    # not enough recent online orders to tell
    PRESENT = "present"                  # contact details arrive
    WITHHELD = "withheld"                # no email, phone or address on any: Level 1 only
    EMAIL_WITHHELD = "email_withheld"    # phones or addresses arrive, emails never: Level 2 without email
    ADDRESS_WITHHELD = "address_withheld"  # emails arrive, addresses never: Level 2 without address, or none asked


@dataclass(frozen=True)
class RecentWebOrders:
    """Recent online-store orders and how many of them carried each contact detail (hashed, as sent)."""

    orders: int
    email: int = 0
    phone: int = 0
    address: int = 0

    @classmethod
    def from_match_keys(cls, rows: Iterable[tuple[str | None, int]]) -> RecentWebOrders:
        """From `(match_keys, count)` rows: `match_keys` is the space-separated kinds an event carried."""
        orders = email = phone = address = 0
        for keys, count in rows:
            kinds = set((keys or "").split())
            orders += count
            email += count if "em" in kinds else 0
            phone += count if "ph" in kinds else 0
            address += count if "address" in kinds else 0
        return cls(orders=orders, email=email, phone=phone, address=address)


@dataclass(frozen=True)
class Verdict:
    code: Code
    withheld: tuple[str, ...] = ()   # the details Shopify appears to leave out: "email", "phone", "address"
    message: str | None = None       # for the merchant; None when there is nothing to say

    @property
    def warn(self) -> bool:
        return bool(self.withheld)


def decide(recent: RecentWebOrders) -> Verdict:
    """What the recent online orders say about the customer details Shopify sends this app."""
    n = recent.orders
    if n < MIN_ORDERS:
        return Verdict(Code.TOO_FEW_ORDERS)
    if recent.email == recent.phone == recent.address == 0:
        return Verdict(Code.WITHHELD, ("email", "phone", "address"), (
            f"None of your last {n} online orders came with the customer's email, phone or address: Shopify "
            "leaves them out because Pinbridge has only Level 1 protected customer data access. Your orders "
            "still reach Pinterest, but matched on the shopper's browser and Pinterest click alone, so "
            "Pinterest can credit fewer of them to your ads (Email, Phone and Address show 0%). "
            + _LEVEL_2_STEP.format(fields="name, email, phone and address")))
    if recent.email == 0:
        return Verdict(Code.EMAIL_WITHHELD, ("email",), (
            f"None of your last {n} online orders came with the customer's email, though {_some(recent)}: "
            "Shopify leaves emails out when Pinbridge's Level 2 protected customer data access does not "
            "include the email field (unless your checkout asks shoppers for a phone number instead). "
            "Without the email Pinterest has one way fewer to recognise the shopper, so fewer of your orders "
            "are credited to your ads (Email shows 0%). " + _LEVEL_2_STEP.format(fields="the email field")))
    if recent.address == 0:
        return Verdict(Code.ADDRESS_WITHHELD, ("address",), (
            f"None of your last {n} online orders came with an address, though {recent.email} had an email: "
            "either Pinbridge's Level 2 protected customer data access does not include the address field, "
            "or your checkout collects no address (digital goods). Emails still match; an address only adds "
            "matches for shoppers Pinterest does not know by their email (Address shows 0%). If your checkout "
            "asks for an address: " + _LEVEL_2_STEP.format(fields="the address field")))
    return Verdict(Code.PRESENT)


def _some(recent: RecentWebOrders) -> str:
    parts = [f"{recent.phone} had a phone" if recent.phone else "",
             f"{recent.address} had an address" if recent.address else ""]
    return " and ".join(part for part in parts if part)
