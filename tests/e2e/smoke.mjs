// Smoke test of the built web page in headless Chromium (through node_modules/playwright-core).
//
//   node tests/e2e/smoke.mjs              serves dist/ itself, under a sub-path (/moe-playground/)
//   node tests/e2e/smoke.mjs URL          tests a page that is already served (e.g. trunk serve)
//
// Passes when the placeholder renders (heading, "coming" paragraph, WebGPU status) and the page
// logs no console error, no uncaught exception, no CSP violation and no failed request.
// Writes artifacts/smoke.png. Exits non-zero on failure.
// Env: CHROMIUM (default /usr/bin/chromium), DIST (default dist), TIMEOUT_MS (default 60000).

import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const timeout = Number(process.env.TIMEOUT_MS || 60000);
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

const problems = [];
const notes = [];
let server = null;
let context = null;
const userDataDir = await mkdtemp(join(tmpdir(), "moe-chromium-"));

try {
  let url = process.argv[2];
  if (!url) {
    ({ server, url } = await serveDir(resolve(root, process.env.DIST || "dist")));
  }

  // launchPersistentContext is how playwright takes a (fresh) --user-data-dir.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--enable-unsafe-webgpu",
    ],
    viewport: { width: 1000, height: 640 },
  });
  const page = context.pages()[0] || (await context.newPage());

  page.on("console", (msg) => {
    const line = `console.${msg.type()}: ${msg.text()}`;
    if (msg.type() === "error" || /content security policy/i.test(msg.text())) problems.push(line);
    else notes.push(line);
  });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
  page.on("requestfailed", (req) =>
    problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`),
  );
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  // Record CSP violations from inside the page too (init scripts are not subject to the CSP).
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`),
    );
  });

  console.log(`smoke: loading ${url}`);
  await page.goto(url, { waitUntil: "load", timeout });
  const backend = page.locator('[data-testid="backend"]');
  await backend.waitFor({ state: "visible", timeout });

  const heading = (await page.locator("h1").first().textContent())?.trim();
  const paragraph = (await page.locator("main p").first().textContent())?.trim() ?? "";
  const backendText = (await backend.textContent())?.trim() ?? "";
  const webgpu = await backend.getAttribute("data-webgpu");
  const csp = await page.evaluate(() => window.__cspViolations);

  if (heading !== "MoE Playground") problems.push(`heading is ${JSON.stringify(heading)}`);
  if (!/coming/i.test(paragraph)) problems.push(`intro paragraph is ${JSON.stringify(paragraph)}`);
  if (!/^WebGPU: /.test(backendText)) problems.push(`backend text is ${JSON.stringify(backendText)}`);
  for (const v of csp) problems.push(`CSP violation: ${v}`);

  // Let late errors (e.g. a failed preload) surface before judging.
  await page.waitForTimeout(500);
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, "smoke.png"), fullPage: true });

  console.log(`smoke: heading=${JSON.stringify(heading)} backend=${JSON.stringify(backendText)} (data-webgpu=${webgpu})`);
  console.log("smoke: screenshot artifacts/smoke.png");
} catch (err) {
  problems.push(`error: ${err.stack || err}`);
} finally {
  await context?.close().catch(() => {});
  server?.close();
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

for (const n of notes) console.log(`smoke: note: ${n}`);
if (problems.length) {
  for (const p of problems) console.error(`smoke: FAIL: ${p}`);
  process.exit(1);
}
console.log("smoke: ok");
