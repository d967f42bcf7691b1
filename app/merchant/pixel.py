"""The custom pixel a merchant pastes into Shopify's Customer events: the Pinterest Tag with our event_id.

The Tag's `checkout` must carry exactly the `event_id` Pinbridge sends from the server, or Pinterest counts
the purchase twice. The server takes the first of: the configured source, then cart token → checkout token
→ `order-<order id>` (app/mapping/identity.py). A custom pixel sees the purchase as `checkout_completed`:
`event.data.checkout` has the checkout `token` and `order.id`, but not the cart token. The cart token is in
the thank-you page's address, `/checkouts/cn/<cart token>/…` (`event.context.document.location.href`), for
every checkout on Shopify's current checkout, and in `init.data.cart.id` (`gid://shopify/Cart/<token>?key=…`)
when Shopify still exposes the cart. The pixel walks the same chain with the same candidates, so both sides
land on the same id: where neither sees a cart token, both use the checkout token.

Beside the Tag, the pixel posts a small beacon to Pinbridge (`POST /pixel`, app/ingest/beacon.py): the checkout
token, the id it gave the Tag, the `_epik` click-id cookie and the buyer's consent. Without marketing
consent the Tag is not loaded and the beacon carries only the checkout token and the refusal.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from app.mapping.identity import EVENT_ID_CHAIN, MAX_EVENT_ID_LENGTH
from app.mapping.types import EVENT_ID_SOURCES

TAG_ID_PLACEHOLDER = "YOUR_PINTEREST_TAG_ID"
# The event id chain in the browser, shared with the app pixel (extensions/pinbridge-beacon imports it).
# A custom pixel is a script, not a module: the file goes in without its `export`.
EVENT_ID_SOURCE = Path(__file__).with_name("pixel_event_id.js")
_EVENT_IDS = re.sub(r"^export ", "", EVENT_ID_SOURCE.read_text(), flags=re.MULTILINE).strip()

_TEMPLATE = r'''// Pinbridge: the Pinterest Tag's "checkout" with the same event_id Pinbridge sends from the server,
// and a beacon with the Pinterest click id and the buyer's consent. Paste as a custom pixel in
// Shopify admin → Settings → Customer events.
const PINBRIDGE = __CONFIG__;

let consent = init.customerPrivacy || {};
// Consent given or withdrawn on this page, after it loaded (Web Pixels' Customer Privacy API).
if (typeof customerPrivacy !== "undefined" && customerPrivacy && customerPrivacy.subscribe) {
  customerPrivacy.subscribe("visitorConsentCollected", (event) => {
    consent = (event && event.customerPrivacy) || consent;
  });
}

__EVENT_IDS__
const { pinbridgeEventId, pinbridgeSendBeacon } = pinbridgeEventIds(PINBRIDGE, init);

function pinbridgeAmount(money) {
  return money && money.amount !== undefined && money.amount !== null ? Number(money.amount) : null;
}

// The value Pinbridge sends: the subtotal after discounts, before tax and shipping (or the total).
function pinbridgeValue(checkout) {
  const total = pinbridgeAmount(checkout.totalPrice);
  if (PINBRIDGE.valueMode === "total") return total;
  const subtotal = pinbridgeAmount(checkout.subtotalPrice);
  if (subtotal === null) return total;
  const tax = pinbridgeAmount(checkout.totalTax) || 0;
  const shipping = pinbridgeAmount(checkout.shippingLine && checkout.shippingLine.price) || 0;
  // Shops that show prices with tax include it in the subtotal: the total is then exactly the subtotal plus
  // shipping, with no tax on top. Anything else (tax on top, or duties or a tip in the total) keeps the
  // subtotal. The pixel sees only the checkout's whole tax; the lines' part of it is shared out by amount
  // (exact when goods and shipping carry one rate, as with most VAT).
  const taxIncluded = total !== null && tax > 0 && Math.abs(total - (subtotal + shipping)) < 0.005;
  if (!taxIncluded || subtotal + shipping <= 0) return subtotal;
  return Math.round((subtotal - tax * subtotal / (subtotal + shipping)) * 100) / 100;
}

function pinbridgeLoadTag(email) {
  if (!window.pintrk) {
    window.pintrk = function () { window.pintrk.queue.push(Array.prototype.slice.call(arguments)); };
    window.pintrk.queue = [];
    window.pintrk.version = "3.0";
    const script = document.createElement("script");
    script.async = true;
    script.src = "https://s.pinimg.com/ct/core.js";
    (document.head || document.documentElement).appendChild(script);
  }
  const match = email ? String(email).trim().toLowerCase() : "";
  if (match) window.pintrk("load", PINBRIDGE.tagId, { em: match });
  else window.pintrk("load", PINBRIDGE.tagId);
  window.pintrk("page");
}

analytics.subscribe("checkout_completed", async (event) => {
  const checkout = event.data.checkout;
  let tagEventId = null;
  if (consent.marketingAllowed !== false) {
    const eventId = pinbridgeEventId(event, checkout);
    const orderId = checkout.order && checkout.order.id ? String(checkout.order.id).split("/").pop() : undefined;
    if (eventId && /^\d+$/.test(PINBRIDGE.tagId)) {
      pinbridgeLoadTag(checkout.email);
      window.pintrk("track", "checkout", {
        event_id: eventId,
        value: pinbridgeValue(checkout),
        currency: checkout.currencyCode,
        order_quantity: (checkout.lineItems || []).reduce((n, item) => n + (item.quantity || 0), 0),
        order_id: orderId,
      });
      tagEventId = eventId;
    }
  }
  await pinbridgeSendBeacon(browser, checkout, consent, tagEventId);
});
'''


def _config(event_id_source: str, value_mode: str, tag_id: str | None, app_url: str, shop: str) -> dict[str, Any]:
    if event_id_source not in EVENT_ID_SOURCES:
        event_id_source = "cart_token"
    config: dict[str, Any] = {
        "tagId": tag_id or TAG_ID_PLACEHOLDER,
        "beaconUrl": f"{app_url.rstrip('/')}/pixel?shop={shop}",
        "eventIdSource": event_id_source,
        "chain": list(EVENT_ID_CHAIN),
        "valueMode": "total" if value_mode == "total" else "subtotal",
        "maxLength": MAX_EVENT_ID_LENGTH,
    }
    config["version"] = _version(config)
    return config


def _version(config: dict[str, Any]) -> str:
    """What the pasted code was made from, in 12 hex digits: the Tag id and every setting the Tag's event
    depends on, and the code itself. The app's address is left out (the same code seen through another
    host name is not out of date; a pixel posting to an old address is noticed by its silence)."""
    made_of = {key: value for key, value in config.items() if key not in ("beaconUrl", "version")}
    text = json.dumps(made_of, sort_keys=True) + _TEMPLATE + _EVENT_IDS
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def version(event_id_source: str = "cart_token", value_mode: str = "subtotal", *, tag_id: str | None = None) -> str:
    """The version of the code `snippet` makes with these settings (the beacon reports the pasted one's)."""
    return str(_config(event_id_source, value_mode, tag_id, "", "")["version"])


def snippet(
    event_id_source: str = "cart_token",
    value_mode: str = "subtotal",
    *,
    tag_id: str | None = None,
    app_url: str = "",
    shop: str = "",
) -> str:
    """JavaScript for Settings → Customer events → Add custom pixel (no HTML: the sandbox runs JS only).

    Without a Tag id the code holds a placeholder: the page never offers that code to copy (`view`).
    """
    config = _config(event_id_source, value_mode, tag_id, app_url, shop)
    return _TEMPLATE.replace("__CONFIG__", json.dumps(config, indent=2)).replace("__EVENT_IDS__", _EVENT_IDS)


ADVICE = {
    "cart_token": "The code gives the Tag the cart token (the checkout token when there is none), the id "
                  "Pinbridge sends, so Pinterest can recognise both reports as one purchase.",
    "checkout_token": "The code gives the Tag the checkout token, the id Pinbridge sends, so Pinterest can recognise "
                      "both reports as one purchase.",
    "order_id": "The code gives the Tag order-<order id>, the id Pinbridge sends, so Pinterest can recognise both "
                "reports as one purchase.",
}
