// Runs the app pixel (extensions/pinbridge-beacon/src/index.js) in Node's vm the way Shopify's strict sandbox
// does: a worker-like global with `fetch` and `console` but no `window` or `document`, the real
// @shopify/web-pixels-extension `register` (which hands the callback to the global `shopify.extend`), and
// Web Pixels-shaped `analytics`, `customerPrivacy`, `browser`, `init` and `settings` for the callback.
//
// mode "source" loads src/index.js and the package as ES modules (needs --experimental-vm-modules);
// mode "bundle" first bundles it with esbuild the way the Shopify CLI does for a web pixel, and runs that.
// Input (stdin, JSON): {mode, extension: <extension directory>, cases: [{settings, init, cookies,
//   cookieError, events: [{bus: "analytics"|"customerPrivacy", name, event}]}]}.
// Output (stdout, JSON): {bundleBytes, results: [{registrations, subscriptions, settingsRead, beacons, errors}]},
//   each beacon {via: "fetch"|"sendBeacon", url, body, options}.
"use strict";
const fs = require("fs");
const path = require("path");
const url = require("url");
const vm = require("vm");

// A bare package's ES module entry, found the way Node walks up node_modules (`exports["."].import` first).
function resolvePackage(specifier, from) {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "node_modules", specifier, "package.json");
    if (fs.existsSync(manifest)) {
      const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
      const exported = pkg.exports && pkg.exports["."];
      return path.join(path.dirname(manifest), (exported && exported.import) || pkg.module || pkg.main);
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot resolve ${specifier} from ${from}`);
  }
}

function sourceLoader(entry) {
  return async (context) => {
    const modules = new Map();
    const moduleFor = (file) => {
      if (!modules.has(file)) {
        const identifier = url.pathToFileURL(file).href;
        modules.set(file, new vm.SourceTextModule(fs.readFileSync(file, "utf8"), { context, identifier }));
      }
      return modules.get(file);
    };
    const root = moduleFor(entry);
    await root.link((specifier, referencing) => {
      const from = url.fileURLToPath(referencing.identifier);
      return moduleFor(specifier.startsWith(".") ? path.resolve(path.dirname(from), specifier)
        : resolvePackage(specifier, from));
    });
    await root.evaluate();
  };
}

// The Shopify CLI's bundle of a UI/web pixel extension: `import './src/index.js'` from the extension's
// directory, bundled and minified for es6 (node_modules/@shopify/cli, "Bundling UI extension").
function bundle(extension) {
  const esbuild = require(require.resolve("esbuild", { paths: [extension, __dirname] }));
  const result = esbuild.buildSync({
    stdin: { contents: "import './src/index.js';", resolveDir: extension, loader: "tsx" },
    bundle: true, write: false, minify: true, target: "es6", legalComments: "none", jsx: "automatic",
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
    loader: { ".esnext": "ts", ".js": "jsx" },
    resolveExtensions: [".tsx", ".ts", ".js", ".json", ".esnext", ".mjs", ".ejs"],
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

async function runCase(spec, load) {
  const registrations = [];
  const callbacks = [];
  const handlers = { analytics: {}, customerPrivacy: {} };
  const settingsRead = new Set();
  const beacons = [];
  const errors = [];
  const bus = (name) => ({
    subscribe(event, handler) {
      (handlers[name][event] = handlers[name][event] || []).push(handler);
      return () => true;
    },
  });
  const api = {
    analytics: bus("analytics"),
    customerPrivacy: bus("customerPrivacy"),
    browser: {
      cookie: {
        get: async (name) => {
          if (spec.cookieError) throw new Error("cookie access is not available");
          return (spec.cookies || {})[name] || "";
        },
        set: async () => "",
      },
      sendBeacon: async (target, body) => { beacons.push({ via: "sendBeacon", url: target, body: JSON.parse(body) }); return true; },
    },
    init: spec.init,
    settings: new Proxy(spec.settings, {
      get(target, key) {
        if (typeof key === "string") settingsRead.add(key);
        return target[key];
      },
    }),
    _pixelInfo: {},
  };
  const sandbox = {
    console: new console.Console(process.stderr),
    shopify: { extend(point, callback) { registrations.push(point); callbacks.push(callback); } },
    fetch: async (target, options) => {
      beacons.push({ via: "fetch", url: target, body: JSON.parse(options.body), options });
      return { ok: true, status: 204 };
    },
  };
  const context = vm.createContext(sandbox);
  await load(context);
  for (const callback of callbacks) callback(api);
  for (const { bus: name, name: event, event: payload } of spec.events) {
    for (const handler of handlers[name][event] || []) {
      try {
        await handler(payload);
      } catch (error) {
        errors.push(`${event}: ${error && error.stack ? error.stack : error}`);
      }
    }
  }
  return {
    registrations,
    subscriptions: { analytics: Object.keys(handlers.analytics), customerPrivacy: Object.keys(handlers.customerPrivacy) },
    settingsRead: [...settingsRead].sort(),
    beacons,
    errors,
  };
}

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", async () => {
  const { mode, extension, cases } = JSON.parse(input);
  let load;
  let bundleBytes = null;
  if (mode === "bundle") {
    const code = bundle(extension);
    bundleBytes = Buffer.byteLength(code);
    const script = new vm.Script(code, { filename: "pinbridge-beacon.js" });
    load = async (context) => { script.runInContext(context, { timeout: 1000 }); };
  } else {
    load = sourceLoader(path.join(extension, "src", "index.js"));
  }
  const results = [];
  for (const spec of cases) results.push(await runCase(spec, load));
  process.stdout.write(JSON.stringify({ bundleBytes, results }));
});
