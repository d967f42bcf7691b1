// What both Pinbridge pixels do alike: the event id a purchase gets (the same chain, with the same candidates,
// as the server: app/mapping/identity.py) and the beacon to Pinbridge. One source for both: app/pixel.py puts
// this file into the custom pixel the merchant pastes (without `export`), and the app pixel
// (extensions/pinbridge-beacon) imports it. `config` carries the shop's eventIdSource, the server's chain, its
// token length limit and the beacon's URL; `init` is the Web Pixels init object.
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

  // The beacon: the checkout token and the buyer's consent; with marketing consent, also the event id the
  // Tag was given (`eventId`) and the `_epik` click id. `browser` is the Web Pixels browser API.
  async function pinbridgeSendBeacon(browser, checkout, consent, eventId) {
    const checkoutToken = pinbridgeToken(checkout.token);
    const beacon = {
      checkout_token: checkoutToken,
      consent: { marketing: consent.marketingAllowed !== false, sale_of_data: consent.saleOfDataAllowed !== false },
    };
    // The custom pixel says which version of its code was pasted, so the page can tell when it is out of date.
    if (config.version) beacon.pixel = config.version;
    if (beacon.consent.marketing) {
      if (eventId) beacon.event_id = eventId;
      try {
        const epik = await browser.cookie.get("_epik");
        if (epik) beacon.click_id = epik;
      } catch (error) { /* no cookie access: the beacon goes without a click id */ }
    }
    if (!checkoutToken || !config.beaconUrl) return;
    try {
      // text/plain and no credentials: a simple request, no CORS preflight.
      await fetch(config.beaconUrl, {
        method: "POST", keepalive: true, headers: { "Content-Type": "text/plain" }, body: JSON.stringify(beacon),
      });
    } catch (error) { /* the order is still sent from the server, only without the beacon */ }
  }

  return { pinbridgeToken, pinbridgeEventId, pinbridgeSendBeacon };
}
