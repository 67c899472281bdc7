// Drives one headless Chromium for the Rust browser tests (nauthilus-testkit `browser.rs`).
//
// Protocol: one JSON object per line. The first line on stdout is `{"ready":true,"version":..}`
// once the browser runs. Each request on stdin is `{"id":N,"op":"...",...}`; each answer is
// `{"id":N,"ok":true,"value":...}` or `{"id":N,"ok":false,"error":"..."}`. End of stdin (the test
// process ended, however it ended) closes the browser and exits, so nothing outlives the tests.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const executablePath = process.env.NAUTHILUS_CHROMIUM || "/usr/bin/chromium";
// The flags the project asks for; playwright adds --headless and keeps its own temporary
// --user-data-dir (it refuses one passed here), and --no-sandbox comes from chromiumSandbox: false.
const args = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const browser = await chromium.launch({ executablePath, headless: true, chromiumSandbox: false, args });
const contexts = new Map();
let nextContext = 1;

function page(req) {
  const entry = contexts.get(req.ctx);
  if (!entry) throw new Error(`no browser context ${req.ctx}`);
  return entry.page;
}

// A navigation started by `action`: resolves to the main document's final response.
async function navigating(p, action) {
  const [response] = await Promise.all([p.waitForNavigation({ waitUntil: "load" }), action()]);
  return { status: response ? response.status() : 0, url: p.url() };
}

const ops = {
  async newContext(req) {
    const context = await browser.newContext({
      locale: req.locale || "en-US",
      javaScriptEnabled: req.javascript !== false,
      viewport: { width: 900, height: 760 },
    });
    const p = await context.newPage();
    const ctx = nextContext++;
    contexts.set(ctx, { context, page: p });
    return ctx;
  },
  async closeContext(req) {
    const entry = contexts.get(req.ctx);
    contexts.delete(req.ctx);
    if (entry) await entry.context.close();
    return null;
  },
  async goto(req) {
    const p = page(req);
    const response = await p.goto(req.url, { waitUntil: "load" });
    return { status: response ? response.status() : 0, url: p.url() };
  },
  async fill(req) {
    await page(req).fill(req.selector, req.value);
    return null;
  },
  async click(req) {
    const p = page(req);
    return navigating(p, () => p.click(req.selector));
  },
  async check(req) {
    await page(req).check(req.selector);
    return null;
  },
  async press(req) {
    await page(req).keyboard.press(req.key);
    return null;
  },
  async focused(req) {
    // The id (or name) of the focused element, read through the accessibility of the DOM.
    const handle = await page(req).$(":focus");
    if (!handle) return null;
    return (await handle.getAttribute("id")) || (await handle.getAttribute("name"));
  },
  async url(req) {
    return page(req).url();
  },
  async content(req) {
    return page(req).content();
  },
  async text(req) {
    return page(req).innerText(req.selector);
  },
  async attr(req) {
    return page(req).getAttribute(req.selector, req.name);
  },
  async count(req) {
    return page(req).locator(req.selector).count();
  },
  async cookies(req) {
    const entry = contexts.get(req.ctx);
    if (!entry) throw new Error(`no browser context ${req.ctx}`);
    return entry.context.cookies();
  },
  // A CDP virtual authenticator on the context's page (WebAuthn without hardware): CTAP2,
  // internal transport, resident keys, user verification that always succeeds.
  async virtualAuthenticator(req) {
    const entry = contexts.get(req.ctx);
    if (!entry) throw new Error(`no browser context ${req.ctx}`);
    const cdp = await entry.context.newCDPSession(entry.page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    entry.cdp = cdp;
    return authenticatorId;
  },
  // The credentials the virtual authenticator holds.
  async authenticatorCredentials(req) {
    const entry = contexts.get(req.ctx);
    if (!entry || !entry.cdp) throw new Error(`no virtual authenticator in context ${req.ctx}`);
    const { credentials } = await entry.cdp.send("WebAuthn.getCredentials", { authenticatorId: req.authenticator });
    return credentials.map((c) => ({ isResidentCredential: c.isResidentCredential, rpId: c.rpId, userHandle: c.userHandle, signCount: c.signCount }));
  },
  // Whether the virtual authenticator answers by itself (user presence simulated).
  async authenticatorPresence(req) {
    const entry = contexts.get(req.ctx);
    if (!entry || !entry.cdp) throw new Error(`no virtual authenticator in context ${req.ctx}`);
    await entry.cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId: req.authenticator, enabled: req.enabled });
    return null;
  },
  // Waits until the page's URL ends with `suffix` (a navigation the page's script starts).
  async waitForUrlEnd(req) {
    const p = page(req);
    await p.waitForURL((url) => url.href.endsWith(req.suffix), { timeout: 15000 });
    return p.url();
  },
  async clearCookies(req) {
    const entry = contexts.get(req.ctx);
    if (!entry) throw new Error(`no browser context ${req.ctx}`);
    await entry.context.clearCookies();
    return null;
  },
  async screenshot(req) {
    await page(req).screenshot({ path: req.path, fullPage: true });
    return null;
  },
};

function answer(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    answer({ id: null, ok: false, error: `bad request line: ${err.message}` });
    return;
  }
  const op = ops[req.op];
  if (!op) {
    answer({ id: req.id, ok: false, error: `unknown op ${req.op}` });
    return;
  }
  try {
    const value = await op(req);
    answer({ id: req.id, ok: true, value: value === undefined ? null : value });
  } catch (err) {
    answer({ id: req.id, ok: false, error: String(err && err.message ? err.message : err) });
  }
}

answer({ ready: true, version: browser.version() });
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() !== "") handle(line);
});
lines.on("close", async () => {
  try {
    await browser.close();
  } finally {
    process.exit(0);
  }
});
