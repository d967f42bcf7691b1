"""Which kind of sale an order is, from Shopify's `source_name`, and how the merchant wants it sent.

| class            | `source_name`                                              | default        |
|------------------|------------------------------------------------------------|----------------|
| `web`            | `web` (online store), or missing/empty (trimmed bodies)     | always web     |
| `pos`            | `pos` (Shopify POS, a sale at the till)                    | skip           |
| `draft`          | `shopify_draft_order` (created by staff in the admin)      | skip           |
| `subscription`   | `subscription_contract*` (a renewal charged by a contract) | skip           |
| `other_channels` | anything else: another sales channel (`shop`, `iphone`,    | web            |
|                  | `buy_button`, ...) or an app's numeric id                  |                |

Only shopper actions online are counted by default. A renewal (`subscription_contract`,
`subscription_contract_checkout_one`) is charged by the contract without the buyer visiting the shop, so
no ad caused it; POS and draft orders happen offline or through staff. Other channels and apps are
usually a shopper buying online (the Shop app, a Buy Button, a marketplace), so they are sent as web.
Each non-web class has a setting: `web` (online conversion), `offline` (offline conversion) or `skip`.
Browser IP and user agent are only ever sent for `web` and `other_channels`: on draft orders
`client_details` is the staff member's browser, and POS and renewals have no buyer browser.
"""

from __future__ import annotations

from typing import Any

from app.mapping.fields import text
from app.vocabulary import OrderClass, SendChoice

# Settings key per class (the online store itself is always sent as web).
CLASS_SETTINGS = {
    OrderClass.POS: "send_pos",
    OrderClass.DRAFT: "send_draft",
    OrderClass.SUBSCRIPTION: "send_subscription",
    OrderClass.OTHER_CHANNELS: "send_other_channels",
}
DEFAULT_SEND = {"send_pos": SendChoice.SKIP, "send_draft": SendChoice.SKIP, "send_subscription": SendChoice.SKIP,
                "send_other_channels": SendChoice.WEB}
BUYER_BROWSER_CLASSES = frozenset({OrderClass.WEB, OrderClass.OTHER_CHANNELS})
CLASS_LABELS = {
    OrderClass.WEB: "online store order",
    OrderClass.POS: "POS order",
    OrderClass.DRAFT: "draft order",
    OrderClass.SUBSCRIPTION: "subscription renewal",
    OrderClass.OTHER_CHANNELS: "order from another sales channel or app",
}
_EXACT = {"web": OrderClass.WEB, "pos": OrderClass.POS, "shopify_draft_order": OrderClass.DRAFT}
_SUBSCRIPTION_PREFIX = "subscription_contract"


def order_class(body: dict[str, Any]) -> OrderClass:
    """The class of an order or checkout body (see the module table)."""
    source = text(body.get("source_name"))
    if source is None:
        return OrderClass.WEB
    source = source.lower()
    if source in _EXACT:
        return _EXACT[source]
    if source.startswith(_SUBSCRIPTION_PREFIX):
        return OrderClass.SUBSCRIPTION
    return OrderClass.OTHER_CHANNELS
