"""The custom pixel a merchant pastes into Shopify's Customer Events so the Pinterest Tag deduplicates.

The Tag's `checkout` must carry the same `event_id` Pinbridge sends from the server. A custom pixel sees
the purchase as `checkout_completed`, whose `event.data.checkout` has the checkout `token` and the
`order.id`, but not the cart token. Assumption: the cart is read from `init.data.cart.id`
(`gid://shopify/Cart/<token>?key=…`), which is often empty by the time checkout completes; the pixel
then falls back to the checkout token and the Tag's id will not match. Hence the advice on the page:
choose `checkout_token` for exact Tag deduplication.
"""

from __future__ import annotations

from .mapping.types import EVENT_ID_SOURCES, VALUE_MODES

TAG_ID_PLACEHOLDER = "YOUR_PINTEREST_TAG_ID"

_EVENT_ID = {
    "checkout_token": "checkout.token",
    "order_id": 'checkout.order && checkout.order.id ? "order-" + String(checkout.order.id).split("/").pop() '
                ": checkout.token",
    "cart_token": "cartToken() || checkout.token",
}

_CART_TOKEN = '''
// The cart token, when Shopify still exposes the cart to the pixel.
function cartToken() {
  const id = init && init.data && init.data.cart && init.data.cart.id;
  return id ? String(id).split("/").pop().split("?")[0] : null;
}
'''

ADVICE = {
    "checkout_token": "The Tag and Pinbridge both use the checkout token, so Pinterest counts each purchase "
                      "once.",
    "order_id": "The Tag and Pinbridge both use order-<order id>; checkouts without an order fall back to "
                "the checkout token.",
    "cart_token": "Shopify often hides the cart token from pixels at checkout, so the Tag's event id may not "
                  "match. Choose “Checkout token” as the event id for exact deduplication.",
}


def snippet(event_id_source: str, value_mode: str = "subtotal") -> str:
    """JavaScript for Settings → Customer events → Add custom pixel (no HTML: the sandbox runs JS only)."""
    if event_id_source not in EVENT_ID_SOURCES:
        event_id_source = "cart_token"
    amount = "subtotalPrice" if value_mode == "subtotal" else "totalPrice"
    helper = _CART_TOKEN if event_id_source == "cart_token" else ""
    return f'''// Pinbridge: the Pinterest Tag's "checkout" with the server's event_id ({event_id_source}).
!function (src) {{
  if (window.pintrk) return;
  window.pintrk = function () {{ window.pintrk.queue.push(Array.prototype.slice.call(arguments)); }};
  window.pintrk.queue = [];
  window.pintrk.version = "3.0";
  const script = document.createElement("script");
  script.async = true;
  script.src = src;
  (document.head || document.documentElement).appendChild(script);
}}("https://s.pinimg.com/ct/core.js");
pintrk("load", "{TAG_ID_PLACEHOLDER}");
pintrk("page");
{helper}
analytics.subscribe("checkout_completed", (event) => {{
  const checkout = event.data.checkout;
  const eventId = {_EVENT_ID[event_id_source]};
  if (!eventId) return;
  const money = checkout.{amount} || checkout.totalPrice || {{}};
  pintrk("track", "checkout", {{
    event_id: eventId,
    value: Number(money.amount || 0),
    currency: checkout.currencyCode,
    order_quantity: (checkout.lineItems || []).reduce((n, item) => n + (item.quantity || 0), 0),
    order_id: checkout.order && checkout.order.id ? String(checkout.order.id).split("/").pop() : undefined,
  }});
}});
'''


def all_snippets() -> dict[str, str]:
    """Every variant, keyed "<event id source>|<value mode>", for the page to switch as settings change."""
    return {f"{source}|{mode}": snippet(source, mode) for source in EVENT_ID_SOURCES for mode in VALUE_MODES}
