// Stand-in for https://cdn.shopify.com/shopifycloud/app-bridge.js in browser tests (no internet here).
// `window.shopify.idToken()` returns a session token the test signed (placed where __SESSION_TOKEN__
// stands), fetches to the app get it as a Bearer header like App Bridge adds it, and toasts are drawn
// and recorded in `window.__toasts` for assertions. Not Shopify's code.
(function () {
  "use strict";
  const token = "__SESSION_TOKEN__";
  const meta = document.querySelector('meta[name="shopify-api-key"]');
  window.__toasts = [];
  window.shopify = {
    config: { apiKey: meta ? meta.content : "", shop: new URLSearchParams(location.search).get("shop") },
    idToken: async () => token,
    toast: {
      show(message, options) {
        window.__toasts.push({ message, isError: !!(options && options.isError) });
        let stack = document.getElementById("standin-toasts");
        if (!stack) {
          stack = document.createElement("div");
          stack.id = "standin-toasts";
          stack.style.cssText = "position:fixed;left:50%;bottom:24px;transform:translateX(-50%);display:flex;" +
            "flex-direction:column;gap:8px;align-items:center;z-index:1000";
          document.body.append(stack);
        }
        const node = document.createElement("div");
        node.textContent = message;
        node.setAttribute("role", "status");
        node.style.cssText = "padding:10px 16px;border-radius:10px;color:#fff;font:550 13px/20px sans-serif;background:" +
          (options && options.isError ? "#8e1f0b" : "#1a1a1a");
        stack.append(node);
        setTimeout(() => node.remove(), 2500);
      },
    },
  };
  const originalFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    if (url.origin !== location.origin) return originalFetch(input, init);
    const headers = new Headers((init && init.headers) || {});
    if (!headers.has("Authorization")) headers.set("Authorization", "Bearer " + token);
    return originalFetch(input, { ...(init || {}), headers });
  };
})();
