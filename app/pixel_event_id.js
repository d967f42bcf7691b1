// The event id a Pinbridge pixel gives a purchase: the same chain, with the same candidates, as the server
// (app/mapping/identity.py). One source for both pixels: app/pixel.py puts this file into the custom pixel
// the merchant pastes (without `export`), and the app pixel (extensions/pinbridge-beacon) imports it.
// `config` carries the shop's eventIdSource, the server's chain and its token length limit; `init` is the
// Web Pixels init object.
export function pinbridgeEventIds(config, init) {
  function pinbridgeToken(value) {
    if (value === null || value === undefined) return null;
    const text = String(value).trim();
    return text && text.length <= config.maxLength && !/\s/.test(text) ? text : null;
  }

  // The cart token: the thank-you page's address (/checkouts/cn/<cart token>/…), else init.data.cart.id.
  function pinbridgeCartToken(event) {
    const location = (event.context && event.context.document && event.context.document.location) ||
      (init.context && init.context.document && init.context.document.location) || {};
    const match = /\/checkouts\/cn\/([^\/?#]+)/.exec(String(location.href || location.pathname || ""));
    if (match) return pinbridgeToken(decodeURIComponent(match[1]));
    const cart = init.data && init.data.cart;
    return cart && cart.id ? pinbridgeToken(String(cart.id).split("/").pop().split("?")[0]) : null;
  }

  function pinbridgeEventId(event, checkout) {
    const orderId = checkout.order && checkout.order.id ? String(checkout.order.id).split("/").pop() : null;
    const candidates = {
      cart_token: pinbridgeCartToken(event),
      checkout_token: pinbridgeToken(checkout.token),
      order_id: orderId ? "order-" + orderId : null,
    };
    for (const source of [config.eventIdSource].concat(config.chain)) {
      if (candidates[source]) return candidates[source];
    }
    return null;
  }

  return { pinbridgeToken, pinbridgeEventId };
}
