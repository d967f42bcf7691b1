// Runs the served custom pixel in Node's vm the way Shopify's Customer events sandbox does: the snippet
// sees `analytics`, `browser`, `init` and `fetch`, and a minimal `window`/`document` for the Tag loader.
// Input (stdin, JSON): {snippet, init, cookies, events: [{name, event}]}.
// Output (stdout, JSON): {pintrk: [...calls], beacons: [{url, body}], scripts: [...src]}.
"use strict";
const vm = require("vm");

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", async () => {
  const { snippet, init, cookies, events } = JSON.parse(input);
  const handlers = {};
  const beacons = [];
  const scripts = [];
  const window = {};
  const element = () => ({ set src(value) { scripts.push(value); }, get src() { return scripts[scripts.length - 1]; } });
  const document = {
    createElement: element,
    head: { appendChild() {} },
    documentElement: { appendChild() {} },
  };
  const sandbox = {
    window, document, init, JSON, Math, Number, String, Array, RegExp, decodeURIComponent, console,
    analytics: { subscribe(name, handler) { (handlers[name] = handlers[name] || []).push(handler); } },
    customerPrivacy: { subscribe(name, handler) { (handlers[name] = handlers[name] || []).push(handler); } },
    browser: { cookie: { get: async (name) => (cookies || {})[name] || "" } },
    fetch: async (url, options) => { beacons.push({ url, body: JSON.parse(options.body), options }); return {}; },
  };
  vm.createContext(sandbox);
  vm.runInContext(snippet, sandbox, { timeout: 1000 });
  for (const { name, event } of events) {
    for (const handler of handlers[name] || []) await handler(event);
  }
  const calls = window.pintrk ? window.pintrk.queue : [];
  process.stdout.write(JSON.stringify({ pintrk: calls, beacons, scripts }));
});
