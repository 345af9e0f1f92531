// End-to-end tests of the live page in headless Firefox (Debian's firefox-esr, driven through
// WebDriver BiDi by node_modules/puppeteer-core: no driver, no browser download), served from the
// release build in dist/ under a sub-path (/moe-playground/). Firefox is run twice over: with WebGPU
// switched on (the pref dom.webgpu.enabled; Mesa's lavapipe here) and off (the CPU fallback).
//
//   node tests/e2e/firefox.mjs
//
// Scenarios, each with WebGPU on (ff-gpu-…) and off (ff-cpu-…); each saves a screenshot under
// artifacts/ and fails on any console error, uncaught exception, CSP violation, failed request, HTTP
// error or request to another origin:
//   trains     — the default page: the backend badge says the graphics chip (on) or the processor
//                (off), the step counter advances, every chart card draws ink and no placeholder
//                is left; steps/s over 10 s of training is
//                printed. Off: the banner tells a Firefox user what to do (about:config,
//                dom.webgpu.enabled), and nothing about Chrome's flags.
//   malformed  — a URL with bad values loads with a notice naming them, and trains.
//   lesson     — ?lesson=balance-loss&present at 1920×1080: played to its end with space at each
//                pause, both of its checks hold (✓ ✓); the highlighted card is drawn; the header,
//                band and cards fit the screen at the end.
//   offline    — (WebGPU on) tests/e2e/offline.mjs: saved on the first visit, opens and trains with
//                the server stopped, a new build replaces it on the next reload.
// Env: FIREFOX (default /usr/bin/firefox-esr), DIST (default dist), TIMEOUT_MS (default 180000),
// ONLY (comma-separated scenario names, e.g. ff-gpu-trains,ff-cpu-lesson).
import puppeteer from "puppeteer-core";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { chartInks, framesPerSecond, offScreen, placeholdersShown, root, serveDir, watchPage } from "./common.mjs";
import { offlineScenario } from "./offline.mjs";

const timeout = Number(process.env.TIMEOUT_MS || 180000);
const executablePath = process.env.FIREFOX || "/usr/bin/firefox-esr";
const artifacts = join(root, "artifacts");
const dist = resolve(root, process.env.DIST || "dist");
const only = process.env.ONLY ? process.env.ONLY.split(",") : null;
const failures = [];
const rates = {};
await mkdir(artifacts, { recursive: true });
const { server, url } = await serveDir(dist);
const origin = new URL(url).origin;

/** A fresh headless Firefox (its own temporary profile), WebGPU on or off. */
function launch({ webgpu, viewport = { width: 1280, height: 1100 } }) {
  return puppeteer.launch({
    browser: "firefox",
    executablePath,
    headless: true,
    defaultViewport: viewport,
    protocolTimeout: timeout,
    extraPrefsFirefox: {
      "dom.webgpu.enabled": webgpu,
      // Firefox keeps WebGPU off on adapters it does not know (Mesa's software Vulkan is one).
      "gfx.webgpu.ignore-blocklist": webgpu,
      // No update checks, telemetry or remote settings: nothing may leave this machine.
      "app.update.enabled": false,
      "network.captive-portal-service.enabled": false,
      "network.connectivity-service.enabled": false,
    },
  });
}

/** Open `query` in a fresh Firefox and run `check(page, problems)`; problems matching `allow` are
 *  not counted. */
async function scenario(name, { webgpu, query = "", viewport, allow = [] }, check) {
  if (only && !only.includes(name)) return;
  const problems = [];
  const started = Date.now();
  let browser = null;
  try {
    browser = await launch({ webgpu, ...(viewport ? { viewport } : {}) });
    const page = await browser.newPage();
    watchPage(page, problems, origin);
    await page.evaluateOnNewDocument(() => {
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
    });
    await page.goto(url + query, { waitUntil: "load", timeout });
    await page.waitForSelector('[data-testid="step"]', { visible: true, timeout });
    await check(page, problems);
    for (const v of await page.evaluate(() => window.__csp || [])) problems.push(`CSP violation: ${v}`);
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  } catch (err) {
    problems.push(`error: ${err.stack || err}`);
  } finally {
    await browser?.close().catch(() => {});
  }
  report(name, problems.filter((p) => !allow.some((re) => re.test(p))), started);
}

function report(name, problems, started) {
  console.log(`e2e ${name}: ${problems.length ? "FAILED" : "ok"} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  for (const p of problems) { console.log(`  ${p}`); failures.push(`${name}: ${p}`); }
}

const text = (page, id) => page.evaluate((id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? null, id);
const stepOf = async (page) => Number(await text(page, "step"));
async function waitStep(page, n) {
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="step"]')?.textContent ?? 0) > n, { timeout }, n);
  return stepOf(page);
}
/** Share of non-background pixels of every visible chart canvas, by data-testid. */
const inks = (page) => page.evaluate(chartInks);
const fps = (page) => page.evaluate(framesPerSecond);

for (const webgpu of [true, false]) {
  const side = webgpu ? "ff-gpu" : "ff-cpu";

  await scenario(`${side}-trains`, { webgpu }, async (page, problems) => {
    const first = await waitStep(page, 0);
    const backend = (await text(page, "backend")).trim();
    if (!(webgpu ? /^Training on the graphics chip/ : /^Training on the processor/).test(backend)) problems.push(`backend is "${backend}"`);
    // Training speed of the default page: steps over 10 s, after the first snapshots.
    const s0 = await waitStep(page, first + 1);
    const t0 = Date.now();
    await new Promise((ok) => setTimeout(ok, 10000));
    const s1 = await stepOf(page);
    const rate = ((s1 - s0) * 1000) / (Date.now() - t0);
    rates[side] = rate;
    const ink = await inks(page);
    const blank = Object.entries(ink).filter(([, v]) => v < 0.01).map(([k]) => k);
    if (Object.keys(ink).length < 7) problems.push(`only ${Object.keys(ink).length} charts shown: ${Object.keys(ink)}`);
    if (blank.length) problems.push(`blank charts: ${blank}`);
    const waiting = await page.evaluate(placeholdersShown);
    if (waiting.length) problems.push(`placeholders still shown while training: ${waiting}`);
    const banner = await text(page, "banner");
    if (webgpu && banner) problems.push(`a banner with WebGPU on: ${banner}`);
    if (!webgpu) {
      for (const re of [/no WebGPU/, /processor/, /about:config/, /dom\.webgpu\.enabled/, /Firefox 141/])
        if (!re.test(banner || "")) problems.push(`banner lacks ${re}: ${banner}`);
      if (/chrome:\/\/flags|Feature Flags/.test(banner || "")) problems.push(`the banner tells a Firefox user about another browser's settings: ${banner}`);
    }
    // Where it trains: "worker", or "main" where Firefox offers WebGPU to the page but not to workers.
    const engine = await page.evaluate(() => document.documentElement.dataset.engine);
    console.log(`  ${backend}, trains in: ${engine}; ${rate.toFixed(1)} steps/s (steps ${s0} → ${s1} in 10 s, ${(await fps(page)).toFixed(0)} frames/s); ${Object.keys(ink).length} charts inked (min ${(Math.min(...Object.values(ink)) * 100).toFixed(1)} %)`);
  });

  await scenario(`${side}-malformed`, { webgpu, query: "?top-k=99&lr=banana&bogus=1&experts=4" }, async (page, problems) => {
    await page.waitForSelector('[data-testid="notice"]', { timeout });
    const notice = await text(page, "notice");
    for (const word of ["top-k", "lr", "bogus"]) if (!notice.includes(word)) problems.push(`notice does not name ${word}: ${notice}`);
    const s = await waitStep(page, 2);
    console.log(`  notice: ${notice.slice(0, 100)}…; trains (step ${s})`);
  });

  // Compare mode; on the CPU run B trains in a worker of its own (nested in the session's).
  await scenario(`${side}-compare`, { webgpu, query: "?compare&b.alpha=0" }, async (page, problems) => {
    const s0 = await waitStep(page, 0);
    await waitStep(page, s0 + 20);
    const ink = await inks(page);
    for (const id of ["heatmap", "heatmap-b", "load", "load-b"]) if (!(ink[id] >= 0.01)) problems.push(`${id} is blank (${ink[id]})`);
    const runB = await page.evaluate(() => document.documentElement.dataset.runB);
    if (runB !== (webgpu ? "beside" : "apart")) problems.push(`run B trains ${runB}`);
    console.log(`  step ${await stepOf(page)}; run B trains ${runB}; ${Object.keys(ink).length} charts inked`);
  });

  await scenario(`${side}-lesson`, { webgpu, query: "?lesson=balance-loss&present", viewport: { width: 1920, height: 1080 } }, async (page, problems) => {
    const progress = () => text(page, "beat-progress");
    const t0 = Date.now();
    for (;;) {
      await page.waitForFunction(() => /paused at step|end of the lesson/.test(document.querySelector('[data-testid="beat-progress"]')?.textContent || ""), { timeout: 600000 });
      if (/end of the lesson/.test(await progress())) break;
      const paused = await text(page, "beat-paused");
      if (!/^Paused — press space/.test(paused || "")) problems.push(`a pause without the paused line: ${paused}`);
      await page.keyboard.press(" ");
      await page.waitForFunction(() => /training (to|until) /.test(document.querySelector('[data-testid="beat-progress"]')?.textContent || ""), { timeout });
    }
    const seconds = (Date.now() - t0) / 1000;
    // After the end training stays stopped on the verdict's numbers.
    const endStep = await stepOf(page);
    await new Promise((r) => setTimeout(r, 2000));
    if ((await stepOf(page)) !== endStep) problems.push(`after the end the step moves on: ${endStep} → ${await stepOf(page)}`);
    const verdict = await text(page, "caption-verdict");
    // "✓ Reproduced: …" first, then both checks ✓ behind "how this was checked".
    const finding = await page.evaluate(() => document.querySelector('[data-testid="caption-verdict"]')?.dataset.verdict);
    const checks = (await text(page, "verdict-checks")) || "";
    if (finding !== "reproduced" || /✗/.test(verdict) || (checks.match(/✓/g) || []).length !== 2) problems.push(`the claim did not hold on the page: ${verdict}`);
    const lit = await page.evaluate(() => [...document.querySelectorAll("[data-card].highlight")].map((c) => c.dataset.card));
    const ink = await inks(page);
    const shown = await page.evaluate(() => [...document.querySelectorAll("[data-card]")].filter((c) => c.offsetParent !== null).map((c) => c.dataset.card));
    if (shown.length < 1 || shown.length > 3) problems.push(`${shown.length} cards shown in presentation mode: ${shown}`);
    // At 1920×1080 the header, the band and the lesson's cards fit the screen.
    const fit = await page.evaluate(offScreen);
    if (fit.off.length || fit.scroll > 1) problems.push(`presentation mode does not fit 1920×1080: off the screen ${fit.off}; scrolls ${fit.scroll} px`);
    if (!lit.length || !lit.every((c) => shown.includes(c))) problems.push(`highlighted ${lit}, shown ${shown}`);
    for (const [id, v] of Object.entries(ink)) if (v < 0.01) problems.push(`${id} is blank`);
    console.log(`  played to its end in ${seconds.toFixed(0)} s (step ${await stepOf(page)}); ${verdict.replace(/\s+/g, " ").slice(0, 160)}; cards ${shown}, highlighted ${lit}`);
  });
}

// Tried once more (in a fresh browser) if it fails, as in page.mjs; the first try's problems are
// printed either way.
if (!only || only.includes("ff-gpu-offline")) {
  const started = Date.now();
  let problems = [];
  for (let tries = 1; tries <= 2; tries++) {
  if (problems.length) console.log(`  ff-gpu-offline, first try: ${problems.join(" | ").slice(0, 800)}; trying once more`);
  problems = [];
  let browser = null;
  try {
    browser = await launch({ webgpu: true });
    const page = await browser.newPage();
    page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`); });
    page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message || err}`));
    const drive = {
      goto: (u) => page.goto(u, { waitUntil: "load", timeout }),
      evaluate: (fn, arg) => page.evaluate(fn, arg),
      waitFor: (fn, arg, ms) => page.waitForFunction(fn, { timeout: ms }, arg),
    };
    const r = await offlineScenario(drive, dist, { timeout });
    problems.push(...r.problems);
    await page.screenshot({ path: join(artifacts, "ff-gpu-offline.png"), fullPage: true });
    console.log(`  ${r.log}`);
  } catch (err) {
    problems.push(`error: ${err.stack || err}`);
  } finally {
    await browser?.close().catch(() => {});
  }
  if (!problems.length) break;
  }
  report("ff-gpu-offline", problems, started);
}

server.close();
const r = (k) => (rates[k] === undefined ? "–" : rates[k].toFixed(1));
console.log(`firefox: default page ${r("ff-gpu")} steps/s with WebGPU (lavapipe), ${r("ff-cpu")} steps/s on the CPU fallback`);
if (failures.length) {
  console.log(`e2e firefox: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log("e2e firefox: all scenarios passed");
