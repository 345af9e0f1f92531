// End-to-end tests of the live page in headless Chromium (through node_modules/playwright-core),
// served from the release build in dist/ under a sub-path (/moe-playground/).
//
//   node tests/e2e/page.mjs
//
// Scenarios (each saves a screenshot under artifacts/, each fails on any console error, uncaught
// exception, CSP violation or failed request):
//   webgpu     — loads with --enable-unsafe-webgpu (SwiftShader): backend is the GPU, the step
//                counter advances, the heatmap canvas is not blank; top-k 1 → 2 gives two outlined
//                experts per probe row.
//   malformed  — a URL with bad values loads with a notice naming them, and trains.
//   no-webgpu  — without the flag: the CPU reference trains and the banner says so.
// Env: CHROMIUM (default /usr/bin/chromium), DIST (default dist), TIMEOUT_MS (default 120000).

import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const timeout = Number(process.env.TIMEOUT_MS || 120000);
const artifacts = join(root, "artifacts");
const MOUNT = "/moe-playground/";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
};

/** A static file server for `dir`, mounted at MOUNT, on an ephemeral 127.0.0.1 port. */
async function serveDir(dir) {
  await stat(join(dir, "index.html")).catch(() => {
    throw new Error(`${dir}/index.html not found: run \`trunk build --release\` first`);
  });
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      if (!path.startsWith(MOUNT)) {
        res.writeHead(404).end("not found");
        return;
      }
      let rel = path.slice(MOUNT.length) || "index.html";
      if (rel.endsWith("/")) rel += "index.html";
      const file = normalize(join(dir, rel));
      if (!file.startsWith(dir + sep)) {
        res.writeHead(403).end("forbidden");
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": MIME[extname(file)] || "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${server.address().port}${MOUNT}` };
}


const failures = [];
const { server, url } = await serveDir(resolve(root, process.env.DIST || "dist"));
await mkdir(artifacts, { recursive: true });

/** Launch a fresh Chromium, open `query` on the page, run `check(page, problems)`. */
async function scenario(name, { webgpu, query = "" }, check) {
  const userDataDir = await mkdtemp(join(tmpdir(), "moe-chromium-"));
  const problems = [];
  let context = null;
  const args = ["--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic"];
  if (webgpu) args.push("--enable-unsafe-webgpu");
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath, headless: true, args, viewport: { width: 1280, height: 1100 },
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (msg) => {
      if (msg.type() === "error" || /content security policy/i.test(msg.text())) problems.push(`console.${msg.type()}: ${msg.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
    page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
    page.on("response", (res) => { if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`); });
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
    });
    await page.goto(url + query, { waitUntil: "load", timeout });
    await page.locator('[data-testid="step"]').waitFor({ state: "visible", timeout });
    await check(page, problems);
    for (const v of await page.evaluate(() => window.__csp)) problems.push(`CSP violation: ${v}`);
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  } catch (err) {
    problems.push(`error: ${err.stack || err}`);
  } finally {
    await context?.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
  console.log(`e2e ${name}: ${problems.length ? "FAILED" : "ok"}`);
  for (const p of problems) { console.log(`  ${p}`); failures.push(`${name}: ${p}`); }
}

const stepOf = async (page) => Number(await page.locator('[data-testid="step"]').textContent());

/** Wait until the step counter passes `n`. */
async function waitStep(page, n) {
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="step"]').textContent) > n, n, { timeout });
  return stepOf(page);
}

/** Non-background pixels of a canvas. */
const inked = (page, id) => page.evaluate((id) => {
  const c = document.querySelector(`[data-testid="${id}"]`);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) n++;
  return n / (c.width * c.height);
}, id);

/** Rows of the heatmap whose outlined experts number `k` (read from the data attributes). */
const outlined = (page) => page.evaluate(() => {
  const c = document.querySelector('[data-testid="heatmap"]');
  return { k: Number(c.dataset.k), rows: Number(c.dataset.rows), outlined: Number(c.dataset.outlined) };
});

await scenario("webgpu", { webgpu: true }, async (page, problems) => {
  const backend = await page.locator('[data-testid="backend"]').textContent();
  await waitStep(page, 0);
  const a = await stepOf(page);
  const b = await waitStep(page, a);
  if (!/^gpu/.test(backend.trim()) && !/^gpu/.test((await page.locator('[data-testid="backend"]').textContent()).trim()))
    problems.push(`backend is ${backend}`);
  const ink = await inked(page, "heatmap");
  if (ink < 0.3) problems.push(`heatmap is nearly blank (${(ink * 100).toFixed(1)} % inked)`);
  for (const id of ["load", "losses", "balance", "drops", "domains"]) {
    if ((await inked(page, id)) < 0.01) problems.push(`${id} chart is blank`);
  }
  const k1 = await outlined(page);
  if (k1.k !== 1 || k1.outlined !== k1.rows) problems.push(`k = 1: ${JSON.stringify(k1)}`);
  await page.locator('[data-testid="top-k"]').fill("2");
  const s = await stepOf(page);
  await waitStep(page, s + 1);
  await page.waitForFunction(() => document.querySelector('[data-testid="heatmap"]').dataset.k === "2", null, { timeout });
  const k2 = await outlined(page);
  if (k2.outlined !== 2 * k2.rows) problems.push(`k = 2: ${JSON.stringify(k2)}`);
  console.log(`  steps ${a} → ${b}; heatmap ${(ink * 100).toFixed(0)} % inked; k=1 ${JSON.stringify(k1)}, k=2 ${JSON.stringify(k2)}`);
});

await scenario("malformed", { webgpu: true, query: "?top-k=99&lr=banana&bogus=1&experts=4" }, async (page, problems) => {
  const notice = await page.locator('[data-testid="notice"]').textContent({ timeout });
  for (const word of ["top-k", "lr", "bogus"]) if (!notice.includes(word)) problems.push(`notice does not name ${word}: ${notice}`);
  const a = await waitStep(page, 0);
  console.log(`  notice: ${notice.slice(0, 120)}…; trains (step ${a})`);
});

await scenario("no-webgpu", { webgpu: false }, async (page, problems) => {
  const banner = await page.locator('[data-testid="banner"]').textContent({ timeout });
  if (!/CPU/.test(banner)) problems.push(`banner: ${banner}`);
  const a = await waitStep(page, 0);
  const b = await waitStep(page, a);
  const backend = (await page.locator('[data-testid="backend"]').textContent()).trim();
  if (!/cpu/.test(backend)) problems.push(`backend is ${backend}`);
  console.log(`  banner shown; backend ${backend}; steps ${a} → ${b}`);
});

server.close();
if (failures.length) {
  console.log(`e2e: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log("e2e: all scenarios passed");
