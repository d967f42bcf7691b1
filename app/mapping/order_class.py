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

ORDER_CLASSES = ("web", "pos", "draft", "subscription", "other_channels")
SEND_AS = ("web", "offline", "skip")
# Settings key per class (the online store itself is always sent as web).
CLASS_SETTINGS = {
    "pos": "send_pos",
    "draft": "send_draft",
    "subscription": "send_subscription",
    "other_channels": "send_other_channels",
}
DEFAULT_SEND = {"send_pos": "skip", "send_draft": "skip", "send_subscription": "skip",
                "send_other_channels": "web"}
BUYER_BROWSER_CLASSES = frozenset({"web", "other_channels"})
CLASS_LABELS = {
    "web": "online store order",
    "pos": "POS order",
    "draft": "draft order",
    "subscription": "subscription renewal",
    "other_channels": "order from another sales channel or app",
}
_EXACT = {"web": "web", "pos": "pos", "shopify_draft_order": "draft"}
_SUBSCRIPTION_PREFIX = "subscription_contract"


def order_class(body: dict[str, Any]) -> str:
    """The class of an order or checkout body (see the module table)."""
    source = text(body.get("source_name"))
    if source is None:
        return "web"
    source = source.lower()
    if source in _EXACT:
        return _EXACT[source]
    if source.startswith(_SUBSCRIPTION_PREFIX):
        return "subscription"
    return "other_channels"
