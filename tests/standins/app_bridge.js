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
    // The Scopes API: the permission dialog answers what a test sets in window.__scopesAnswer (default: granted).
    scopes: {
      async request(scopes) {
        (window.__scopeRequests = window.__scopeRequests || []).push(scopes);
        const result = window.__scopesAnswer || "granted-all";
        return { result, detail: { granted: result === "granted-all" ? scopes : [], required: ["read_orders"], optional: scopes } };
      },
    },
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
  // The admin draws <ui-save-bar> in its own top bar and <ui-nav-menu> in its sidebar; here the save bar
  // is drawn at the top of the page, and `window.__saveBar` records show/hide for assertions.
  window.__saveBar = [];
  const style = document.createElement("style");
  style.textContent = "ui-nav-menu{display:none}ui-save-bar{display:none}" +
    "ui-save-bar[data-shown]{display:flex;gap:8px;justify-content:flex-end;align-items:center;position:sticky;top:0;z-index:50;" +
    "padding:10px 16px;background:#1a1a1a;color:#fff;font:550 13px/20px sans-serif}" +
    "ui-save-bar[data-shown]::before{content:'Unsaved changes';margin-right:auto}" +
    "ui-save-bar button{font:550 13px/20px sans-serif;padding:6px 12px;border-radius:8px;border:0;background:#fff;color:#303030}" +
    "ui-save-bar button[variant=primary]{background:#fff}ui-save-bar button:not([variant]){background:#3a3a3a;color:#fff}";
  document.head.append(style);
  window.shopify.saveBar = {
    async show(id) { window.__saveBar.push(["show", id]); document.getElementById(id).setAttribute("data-shown", ""); },
    async hide(id) { window.__saveBar.push(["hide", id]); document.getElementById(id).removeAttribute("data-shown"); },
    async toggle(id) { const bar = document.getElementById(id); return bar.hasAttribute("data-shown") ? this.hide(id) : this.show(id); },
    async leaveConfirmation() {},
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
