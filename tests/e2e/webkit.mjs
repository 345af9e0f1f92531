// End-to-end tests of the live page in the WebKit engine: WebKitGTK's MiniBrowser (Debian's
// libwebkit2gtk-4.1-0) driven by WebKitWebDriver (Debian's webkit2gtk-driver) over plain WebDriver
// HTTP, on a virtual X display (Xvfb: MiniBrowser has no headless mode). WebKitGTK offers no WebGPU
// here (navigator.gpu is absent; with its preview flag it is null), so the page trains on the CPU
// fallback, as Safari before version 26 would.
//
//   node tests/e2e/webkit.mjs
//
// WebKitWebDriver has no console log and no BiDi, so the test server injects a first classic script
// (serveDir's `inject`) that collects console.error calls, uncaught errors, failed resource loads,
// unhandled rejections and CSP violations into window.__errors; requests to other origins are read
// from the page's resource timing. Scenarios (each saves a screenshot under artifacts/):
//   wk-trains    — the page says in plain words that this browser trains on the processor (and
//                  which browsers train on the GPU), the badge says "Training on the processor",
//                  it trains, every chart card draws ink and no placeholder is left;
//                  steps/s over 10 s of training is printed.
//   wk-malformed — a URL with bad values loads with a notice naming them, and trains.
//   wk-lesson    — ?lesson=balance-loss&present at 1920×1080: played to its end with space at each
//                  pause, both of its checks hold (✓ ✓); the header, band and cards fit the
//                  screen at the end.
//   wk-offline   — (only when named in ONLY: it fails now and then in WebKitGTK, see below)
//                  tests/e2e/offline.mjs: saved on the first visit, opens and trains with the
//                  server stopped, a new build replaces it on the next reload.
// Env: MINIBROWSER, WEBKIT_WEBDRIVER (Debian's paths by default), DIST (default dist), TIMEOUT_MS
// (default 180000), ONLY (comma-separated scenario names). Uses $DISPLAY when set, else starts Xvfb.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chartInks, framesPerSecond, offScreen, placeholdersShown, root, serveDir } from "./common.mjs";
import { offlineScenario } from "./offline.mjs";

const timeout = Number(process.env.TIMEOUT_MS || 180000);
const MINIBROWSER = process.env.MINIBROWSER || "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const DRIVER = process.env.WEBKIT_WEBDRIVER || "/usr/bin/WebKitWebDriver";
const artifacts = join(root, "artifacts");
const dist = resolve(root, process.env.DIST || "dist");
const only = process.env.ONLY ? process.env.ONLY.split(",") : null;
const failures = [];
let rate = null;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const SCRIPT_MS = 10000;

// Loaded first by the page (a classic script, so it runs before the module that boots the app).
const COLLECT = `window.__errors = [];
const push = (kind, msg) => window.__errors.push(kind + ": " + msg);
const consoleError = console.error.bind(console);
console.error = (...a) => { push("console.error", a.map(String).join(" ")); consoleError(...a); };
addEventListener("error", (e) => push("error", (e.message || e.target?.src || e.target?.href || String(e)) + (e.filename ? " @" + e.filename + ":" + e.lineno : "")), true);
addEventListener("unhandledrejection", (e) => push("unhandled rejection", String(e.reason)));
document.addEventListener("securitypolicyviolation", (e) => push("CSP violation", e.violatedDirective + " blocked " + (e.blockedURI || "inline")));`;

await mkdir(artifacts, { recursive: true });
const profile = await mkdtemp(join(tmpdir(), "moe-webkit-"));
const { server, url } = await serveDir(dist, { inject: COLLECT });
const origin = new URL(url).origin;

// ---- processes: Xvfb and WebKitWebDriver ------------------------------------------------------
function startXvfb() {
  // -displayfd: Xvfb picks a free display and writes its number once it accepts connections.
  return new Promise((ok, fail) => {
    const proc = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1920x1200x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    proc.stdio[3].on("data", (d) => { out += d; if (out.includes("\n")) ok({ proc, display: `:${out.trim()}` }); });
    proc.once("error", fail);
    proc.once("exit", (code) => fail(new Error(`Xvfb exited (${code}): ${err}`)));
  });
}

const freePort = () => new Promise((ok, fail) => {
  const s = net.createServer().once("error", fail).listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
});

async function startDriver(env) {
  const port = await freePort();
  const proc = spawn(DRIVER, [`--port=${port}`], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`WebKitWebDriver exited ${proc.exitCode}: ${output}`);
    try {
      if ((await (await fetch(`${base}/status`)).json()).value?.ready) return { proc, base };
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  throw new Error(`WebKitWebDriver did not start: ${output}`);
}

function kill(proc) {
  return new Promise((ok) => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return ok();
    const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
    proc.once("exit", () => { clearTimeout(t); ok(); });
    proc.kill("SIGTERM");
  });
}

// ---- WebDriver over HTTP --------------------------------------------------------------------------
async function wd(base, method, path, body, ms = timeout) {
  const r = await fetch(base + path, {
    method,
    headers: body ? { "content-type": "application/json; charset=utf-8" } : undefined,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(ms),
  });
  const json = await r.json();
  if (!r.ok || json.value?.error) throw new Error(`${method} ${path}: ${r.status} ${json.value?.error}: ${json.value?.message}`);
  return json.value;
}

/** A new MiniBrowser window; "--automation" is required (without it, POST /session hangs). */
async function newSession(driver, { width, height }) {
  const caps = { capabilities: { alwaysMatch: {
    "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] },
    // A short script timeout: an evaluate that never answers (seen now and then right after a
    // navigation the service worker answered) fails in seconds and waitFor asks again.
    timeouts: { pageLoad: timeout, script: SCRIPT_MS, implicit: 0 },
  } } };
  const v = await wd(driver.base, "POST", "/session", caps, 60000);
  const s = { base: driver.base, id: v.sessionId, version: v.capabilities.browserVersion };
  await wd(s.base, "POST", `/session/${s.id}/window/rect`, { width, height });
  return s;
}

/** The page object the scenarios use: goto, evaluate (a function and one argument; async allowed),
 *  waitFor (polls a predicate), press (one key), screenshot. */
function pageOf(s) {
  const call = (fn, arg) => wd(s.base, "POST", `/session/${s.id}/execute/async`, {
    script: `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${fn})(arguments[0])).then((v) => done({ ok: v === undefined ? null : v }), (e) => done({ err: String(e) }));`,
    args: [arg ?? null],
  });
  const page = {
    goto: (u) => wd(s.base, "POST", `/session/${s.id}/url`, { url: u }),
    async evaluate(fn, arg) {
      const r = await call(fn, arg);
      if (r && "err" in r) throw new Error(`in the page: ${r.err}`);
      return r?.ok;
    },
    async waitFor(fn, arg, ms = timeout) {
      const end = Date.now() + ms;
      let last = "";
      for (;;) {
        const v = await page.evaluate(fn, arg).catch((e) => ((last = e.message), null));
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${String(fn).slice(0, 120)}${last ? ` (last error: ${last})` : ""}`);
        await sleep(100);
      }
    },
    press: (key) => wd(s.base, "POST", `/session/${s.id}/actions`, {
      actions: [{ type: "key", id: "keyboard", actions: [{ type: "keyDown", value: key }, { type: "keyUp", value: key }] }],
    }),
    async screenshot(file) {
      await writeFile(file, Buffer.from(await wd(s.base, "GET", `/session/${s.id}/screenshot`), "base64"));
    },
  };
  return page;
}

// ---- scenarios ------------------------------------------------------------------------------------
let xvfb = null;
let display = process.env.DISPLAY;
if (!display) {
  xvfb = await startXvfb();
  display = xvfb.display;
}
// Each scenario gets its own driver and profile (a first visit: no service worker from an earlier
// scenario controls it). A private runtime dir and caches; LANG gives navigator.language (unset, it
// reads "C"). Never set WEBKIT_DISABLE_DMABUF_RENDERER or WEBKIT_DISABLE_COMPOSITING_MODE:
// screenshots then never answer.
let runs = 0;
async function freshDriver() {
  const dir = join(profile, String(++runs));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return startDriver({ ...process.env, DISPLAY: display, XDG_RUNTIME_DIR: dir, XDG_CACHE_HOME: join(dir, "cache"), XDG_DATA_HOME: join(dir, "data"), LANG: "en_US.UTF-8" });
}
let driver = null;
let version = "";

// WebKitGTK under automation here now and then never answers the new-session request (60 s) or
// a page never starts: a scenario that fails is tried once more in a new window, and passes only
// if that try is clean; the first try's problems are printed either way.
async function scenario(name, options, check) {
  if (only && !only.includes(name)) return;
  const started = Date.now();
  let problems = await attempt(name, options, check);
  if (problems.length) {
    console.log(`  ${name}, first try: ${problems.join(" | ").slice(0, 600)}; trying once more`);
    problems = await attempt(name, options, check);
  }
  console.log(`e2e ${name}: ${problems.length ? "FAILED" : "ok"} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  for (const p of problems) { console.log(`  ${p}`); failures.push(`${name}: ${p}`); }
}

async function attempt(name, { query = "", viewport = { width: 1280, height: 1100 } }, check) {
  const problems = [];
  let s = null;
  try {
    driver = await freshDriver();
    s = await newSession(driver, viewport);
    version = s.version;
    const page = pageOf(s);
    await page.goto(url + query);
    await page.waitFor(() => document.querySelector('[data-testid="step"]') !== null);
    await check(page, problems);
    for (const e of (await page.evaluate(() => window.__errors || [])) || []) problems.push(e);
    const foreign = await page.evaluate((o) => performance.getEntriesByType("resource").map((e) => e.name).filter((n) => !/^(data|blob):/.test(n) && new URL(n).origin !== o), origin);
    for (const u of foreign) problems.push(`request leaves the origin: ${u}`);
    await page.screenshot(join(artifacts, `${name}.png`));
  } catch (err) {
    problems.push(`error: ${err.stack || err}`);
  } finally {
    if (s) await wd(s.base, "DELETE", `/session/${s.id}`, undefined, 20000).catch(() => {});
    await kill(driver?.proc);
  }
  return problems;
}

const text = (page, id) => page.evaluate((id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? null, id);
const stepOf = async (page) => Number(await text(page, "step"));
const waitStep = async (page, n) => {
  await page.waitFor((n) => Number(document.querySelector('[data-testid="step"]')?.textContent ?? 0) > n, n);
  return stepOf(page);
};
const inks = (page) => page.evaluate(chartInks);
const fps = (page) => page.evaluate(framesPerSecond);

try {
  await scenario("wk-trains", {}, async (page, problems) => {
    const banner = await page.waitFor(() => document.querySelector('[data-testid="banner"]')?.textContent);
    for (const re of [/no WebGPU/, /processor/, /T = 64/, /does not offer WebGPU/, /Chrome or Firefox/, /Safari 26/])
      if (!re.test(banner)) problems.push(`banner lacks ${re}: ${banner}`);
    if (/adapter|not requested/i.test(banner)) problems.push(`the banner shows the raw error: ${banner}`);
    const first = await waitStep(page, 0);
    const backend = (await text(page, "backend")).trim();
    if (!/^Training on the processor/.test(backend)) problems.push(`backend is "${backend}"`);
    const s0 = await waitStep(page, first + 1);
    const t0 = Date.now();
    await sleep(10000);
    const s1 = await stepOf(page);
    rate = ((s1 - s0) * 1000) / (Date.now() - t0);
    const ink = await inks(page);
    const blank = Object.entries(ink).filter(([, v]) => v < 0.01).map(([k]) => k);
    if (Object.keys(ink).length < 7) problems.push(`only ${Object.keys(ink).length} charts shown: ${Object.keys(ink)}`);
    if (blank.length) problems.push(`blank charts: ${blank}`);
    const waiting = await page.evaluate(placeholdersShown);
    if (waiting.length) problems.push(`placeholders still shown while training: ${waiting}`);
    console.log(`  ${backend}; ${rate.toFixed(1)} steps/s (steps ${s0} → ${s1} in 10 s, ${(await fps(page)).toFixed(0)} frames/s); ${Object.keys(ink).length} charts inked; banner "${banner.slice(0, 80)}…"`);
  });

  await scenario("wk-malformed", { query: "?top-k=99&lr=banana&bogus=1&experts=4" }, async (page, problems) => {
    const notice = await page.waitFor(() => document.querySelector('[data-testid="notice"]')?.textContent);
    for (const word of ["top-k", "lr", "bogus"]) if (!notice.includes(word)) problems.push(`notice does not name ${word}: ${notice}`);
    const s = await waitStep(page, 2);
    console.log(`  notice: ${notice.slice(0, 100)}…; trains (step ${s})`);
  });

  // Compare mode on the CPU: run B in a worker of its own where WebKit starts workers from workers.
  await scenario("wk-compare", { query: "?compare&b.alpha=0" }, async (page, problems) => {
    const s0 = await waitStep(page, 0);
    await waitStep(page, s0 + 20);
    const ink = await inks(page);
    for (const id of ["heatmap", "heatmap-b", "load", "load-b"]) if (!(ink[id] >= 0.01)) problems.push(`${id} is blank (${ink[id]})`);
    const runB = await page.evaluate(() => document.documentElement.dataset.runB);
    if (!["apart", "beside"].includes(runB)) problems.push(`run B trains ${runB}`);
    console.log(`  step ${await stepOf(page)}; run B trains ${runB}; ${Object.keys(ink).length} charts inked`);
  });

  await scenario("wk-lesson", { query: "?lesson=balance-loss&present", viewport: { width: 1920, height: 1080 } }, async (page, problems) => {
    const progress = () => text(page, "beat-progress");
    const t0 = Date.now();
    for (;;) {
      await page.waitFor(() => /paused at step|end of the lesson/.test(document.querySelector('[data-testid="beat-progress"]')?.textContent || ""), null, 600000);
      if (/end of the lesson/.test(await progress())) break;
      await page.press(" ");
      await page.waitFor(() => /training (to|until) /.test(document.querySelector('[data-testid="beat-progress"]')?.textContent || ""));
    }
    const verdict = await text(page, "caption-verdict");
    // "✓ Reproduced: …" first, then both checks ✓ behind "how this was checked".
    const finding = await page.evaluate(() => document.querySelector('[data-testid="caption-verdict"]')?.dataset.verdict);
    const checks = (await text(page, "verdict-checks")) || "";
    if (finding !== "reproduced" || /✗/.test(verdict) || (checks.match(/✓/g) || []).length !== 2) problems.push(`the claim did not hold on the page: ${verdict}`);
    const shown = await page.evaluate(() => [...document.querySelectorAll("[data-card]")].filter((c) => c.offsetParent !== null).map((c) => c.dataset.card));
    if (shown.length < 1 || shown.length > 3) problems.push(`${shown.length} cards shown in presentation mode: ${shown}`);
    // At 1920×1080 the header, the band and the lesson's cards fit the screen.
    const fit = await page.evaluate(offScreen);
    if (fit.off.length || fit.scroll > 1) problems.push(`presentation mode does not fit 1920×1080: off the screen ${fit.off}; scrolls ${fit.scroll} px`);
    for (const [id, v] of Object.entries(await inks(page))) if (v < 0.01) problems.push(`${id} is blank`);
    console.log(`  played to its end in ${((Date.now() - t0) / 1000).toFixed(0)} s (step ${await stepOf(page)}); ${verdict.replace(/\s+/g, " ").slice(0, 120)}; cards ${shown}`);
  });

  // Opt-in (ONLY=wk-offline): in about 1 of 8 runs here one of its four page loads in WebKitGTK
  // never starts training (step 0 for 180 s) while the next load works (the same was seen once in
  // wk-malformed); not understood yet (a window whose animation frames never come?), and a retry of
  // the whole scenario would repeat four loads, so it stays out of the suite's run (Chromium and
  // Firefox run the same scenario there).
  if (only?.includes("wk-offline")) {
    const started = Date.now();
    const problems = [];
    let s = null;
    try {
      driver = await freshDriver();
      s = await newSession(driver, { width: 1280, height: 1100 });
      const page = pageOf(s);
      const r = await offlineScenario(page, dist, { timeout, serve: { inject: COLLECT } });
      problems.push(...r.problems);
      await page.screenshot(join(artifacts, "wk-offline.png"));
      console.log(`  ${r.log}`);
    } catch (err) {
      problems.push(`error: ${err.stack || err}`);
    } finally {
      if (s) await wd(s.base, "DELETE", `/session/${s.id}`, undefined, 20000).catch(() => {});
    }
    console.log(`e2e wk-offline: ${problems.length ? "FAILED" : "ok"} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    for (const p of problems) { console.log(`  ${p}`); failures.push(`wk-offline: ${p}`); }
  }
} finally {
  await kill(driver?.proc);
  await kill(xvfb?.proc);
  server.close();
  await rm(profile, { recursive: true, force: true });
}

console.log(`webkit: WebKitGTK MiniBrowser ${version}; default page ${rate === null ? "–" : rate.toFixed(1)} steps/s on the CPU fallback`);
if (failures.length) {
  console.log(`e2e webkit: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log("e2e webkit: all scenarios passed");
