// Pinbridge's app pixel: at checkout_completed, the beacon the custom pixel (app/merchant/pixel.py) posts to
// POST <appUrl>/pixel — the checkout token, the event id, the `_epik` click id and the buyer's consent —
// with nothing for the merchant to paste. It does not load the Pinterest Tag: app pixels run in Shopify's
// strict sandbox (a web worker, no page), so the Tag stays in the custom pixel. Given the same settings, both
// pixels send the same body for the same purchase (the server keeps the first beacon for a checkout);
// tests/test_pixel_extension.py runs this file beside the custom pixel and compares what each sends.
import { register } from "@shopify/web-pixels-extension";

// The event id chain, one file for both pixels (the custom pixel that app/merchant/pixel.py serves embeds it).
import { pinbridgeEventIds } from "../../../app/merchant/pixel_event_id.js";

// The server's fallback chain and token limit (app/mapping/identity.py: EVENT_ID_CHAIN, MAX_EVENT_ID_LENGTH).
const EVENT_ID_CHAIN = ["cart_token", "checkout_token", "order_id"];
const MAX_EVENT_ID_LENGTH = 255;

register(({ analytics, browser, init, settings, customerPrivacy }) => {
  const shop = init.data && init.data.shop ? init.data.shop.myshopifyDomain : "";
  const appUrl = String(settings.appUrl || "").trim().replace(/\/+$/, "");
  const PINBRIDGE = {
    beaconUrl: appUrl && shop ? `${appUrl}/pixel?shop=${encodeURIComponent(shop)}` : null,
    // An unknown setting falls back to the cart token, as the server and the custom pixel's settings do.
    eventIdSource: EVENT_ID_CHAIN.includes(settings.eventIdSource) ? settings.eventIdSource : "cart_token",
    chain: EVENT_ID_CHAIN,
    maxLength: MAX_EVENT_ID_LENGTH,
  };

  // Consent at page load, then every change the buyer makes (the Web Pixels customerPrivacy API).
  let consent = init.customerPrivacy || {};
  customerPrivacy.subscribe("visitorConsentCollected", (event) => {
    consent = event.customerPrivacy || consent;
  });

  const { pinbridgeEventId, pinbridgeSendBeacon } = pinbridgeEventIds(PINBRIDGE, init);

  analytics.subscribe("checkout_completed", async (event) => {
    const checkout = event.data.checkout;
    // The id the custom pixel gives the Tag for this purchase (the same settings, the same candidates).
    const eventId = consent.marketingAllowed !== false ? pinbridgeEventId(event, checkout) : null;
    await pinbridgeSendBeacon(browser, checkout, consent, eventId);
  });
});
