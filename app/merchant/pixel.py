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

import json
import re
from pathlib import Path

from app.mapping.identity import EVENT_ID_CHAIN, MAX_EVENT_ID_LENGTH
from app.mapping.types import EVENT_ID_SOURCES, VALUE_MODES
from app.vocabulary import EventIdSource, ValueMode

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
  // Shops that show prices with tax include it in the subtotal: the total then has no tax on top. The
  // pixel sees only the checkout's whole tax; the lines' part of it is shared out by amount (exact when
  // goods and shipping carry one rate, as with most VAT).
  const taxOnTop = total === null || Math.abs(total - (subtotal + shipping + tax)) < 0.005;
  if (taxOnTop || subtotal + shipping <= 0) return subtotal;
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
    if (eventId && PINBRIDGE.tagId) {
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


def snippet(
    event_id_source: str = EventIdSource.CART_TOKEN,
    value_mode: str = ValueMode.SUBTOTAL,
    *,
    tag_id: str | None = None,
    app_url: str = "",
    shop: str = "",
) -> str:
    """JavaScript for Settings → Customer events → Add custom pixel (no HTML: the sandbox runs JS only)."""
    if event_id_source not in EVENT_ID_SOURCES:
        event_id_source = EventIdSource.CART_TOKEN
    config = {
        "tagId": tag_id or TAG_ID_PLACEHOLDER,
        "beaconUrl": f"{app_url.rstrip('/')}/pixel?shop={shop}",
        "eventIdSource": event_id_source,
        "chain": list(EVENT_ID_CHAIN),
        "valueMode": ValueMode.TOTAL if value_mode == ValueMode.TOTAL else ValueMode.SUBTOTAL,
        "maxLength": MAX_EVENT_ID_LENGTH,
    }
    return _TEMPLATE.replace("__CONFIG__", json.dumps(config, indent=2)).replace("__EVENT_IDS__", _EVENT_IDS)


ADVICE = {
    EventIdSource.CART_TOKEN: "The Tag and Pinbridge both use the cart token (the checkout token when there is "
                              "none), so Pinterest counts each purchase once.",
    EventIdSource.CHECKOUT_TOKEN: "The Tag and Pinbridge both use the checkout token, so Pinterest counts each "
                                  "purchase once.",
    EventIdSource.ORDER_ID: "The Tag and Pinbridge both use order-<order id>, so Pinterest counts each purchase "
                            "once.",
}


def all_snippets(tag_id: str | None = None, app_url: str = "", shop: str = "") -> dict[str, str]:
    """Every variant, keyed "<event id source>|<value mode>", for the page to switch as settings change."""
    return {f"{source}|{mode}": snippet(source, mode, tag_id=tag_id, app_url=app_url, shop=shop)
            for source in EVENT_ID_SOURCES for mode in VALUE_MODES}
