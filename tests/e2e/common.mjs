// Shared by the browser tests (page.mjs in Chromium, firefox.mjs, webkit.mjs) and the benchmarks
// (bench.mjs): the static server for dist/, the next-build maker of the offline tests, and the
// Chromium launcher.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
export const MOUNT = "/moe-playground/";
/** The name of serveDir's injected script. */
export const INJECTED = "__e2e-inject.js";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
};

/** A static file server for `dir`, mounted at MOUNT, on 127.0.0.1 at `port` (0: an ephemeral
 *  one). `inject`: a script served as MOUNT + INJECTED and loaded first by every index.html it
 *  serves (for browsers whose driver cannot add one, e.g. to collect console errors). Returns
 *  { server, url, port, stop }; stop() closes it and every open connection (the network going
 *  away, for the offline tests). */
export async function serveDir(dir, { port = 0, inject = null } = {}) {
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
      if (inject && rel === INJECTED) {
        res.writeHead(200, { "content-type": MIME[".js"], "cache-control": "no-store" }).end(inject);
        return;
      }
      const file = normalize(join(dir, rel));
      if (!file.startsWith(dir + sep)) {
        res.writeHead(403).end("forbidden");
        return;
      }
      let body = await readFile(file);
      if (inject && rel.endsWith("index.html")) body = body.toString("utf8").replace("<head>", `<head><script src="${INJECTED}"></script>`);
      res.writeHead(200, {
        "content-type": MIME[extname(file)] || "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((ok, fail) => server.once("error", fail).listen(port, "127.0.0.1", ok));
  const bound = server.address().port;
  const stop = () => new Promise((ok) => { server.close(() => ok()); server.closeAllConnections(); });
  return { server, url: `http://127.0.0.1:${bound}${MOUNT}`, port: bound, stop };
}

/** Count what a page reports into `problems`: console errors (and any CSP message), uncaught
 *  exceptions, failed requests, HTTP errors, requests to another origin than `origin` (data: and
 *  blob: URLs are the page's own). Playwright's and Puppeteer's pages have the same events. */
export function watchPage(page, problems, origin) {
  page.on("console", (msg) => {
    if (msg.type() === "error" || /content security policy/i.test(msg.text())) problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message || err}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
  page.on("response", (res) => { if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`); });
  page.on("request", (req) => {
    const u = req.url();
    if (!/^(data|blob):/.test(u) && new URL(u).origin !== origin) problems.push(`request leaves the origin: ${u}`);
  });
}

// In-page functions (self-contained: each browser driver sends their source to the page).

/** Share of non-background pixels of every visible chart canvas, by data-testid. */
export const chartInks = () => Object.fromEntries(
  [...document.querySelectorAll("[data-card] canvas")].filter((c) => c.offsetParent !== null && c.width).map((c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) n++;
    return [c.dataset.testid, n / (c.width * c.height)];
  }));

/** Presentation mode on a landscape screen: what lies off the screen (the header, the caption band,
 *  a shown card: name and box) and how far the page scrolls past it (none and 0 when it fits);
 *  the parts looked at, and where the band ends. */
export const offScreen = () => {
  const parts = [["header", document.querySelector("header.top")], ["band", document.querySelector('[data-testid="caption"]')],
    ...[...document.querySelectorAll("[data-card]")].map((c) => [c.dataset.card, c])].filter(([, e]) => e && e.offsetParent !== null);
  const off = parts.map(([n, e]) => [n, e.getBoundingClientRect()])
    .filter(([, r]) => r.top < -0.5 || r.left < -0.5 || r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5)
    .map(([n, r]) => `${n} ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)}`);
  const band = parts.find(([n]) => n === "band")?.[1].getBoundingClientRect().bottom ?? 0;
  return { off, scroll: Math.max(0, document.documentElement.scrollHeight - innerHeight), shown: parts.map(([n]) => n), band };
};

/** Animation frames per second over 2 s (the page trains and draws once a frame). */
/** The chart placeholders ("Starting the model…") shown now, by data-testid: none once every
 * shown chart has drawn. Run in the page. */
export const placeholdersShown = () =>
  [...document.querySelectorAll("[data-card] .waiting")].filter((e) => !e.hidden && e.offsetParent !== null).map((e) => e.dataset.testid);

export const framesPerSecond = () => new Promise((ok) => {
  let n = 0;
  const t0 = performance.now();
  const frame = () => (++n, performance.now() - t0 < 2000 ? requestAnimationFrame(frame) : ok(n / ((performance.now() - t0) / 1000)));
  requestAnimationFrame(frame);
});

/** trunk's content-hashed file names (NAME-<16 hex>.EXT, NAME-<16 hex>_bg.wasm; group 1: the hash). */
export const HASHED = /-([0-9a-f]{16})(_bg)?\.[a-z0-9]+$/;

/** A copy of the build in `dist` made into a *new* build, as publishing another version would be:
 *  the program's files under new content-hashed names (and the page naming them), then
 *  scripts/offline.mjs run on it (a new service worker and build id). Returns { dir, build, names }
 *  (names: its hashed files), and remove() to delete it. */
export async function nextBuild(dist) {
  const dir = await mkdtemp(join(tmpdir(), "moe-next-build-"));
  await cp(dist, dir, { recursive: true });
  let index = await readFile(join(dir, "index.html"), "utf8");
  const names = [];
  for (const name of await readdir(dir)) {
    const m = HASHED.exec(name);
    if (!m) continue;
    // A new hash for the next build: the old one's hex digits rotated by one.
    const fresh = m[1].replace(/[0-9a-f]/g, (c) => "123456789abcdef0"["0123456789abcdef".indexOf(c)]);
    const renamed = name.replace(m[1], fresh);
    await rename(join(dir, name), join(dir, renamed));
    index = index.split(name).join(renamed);
    names.push(renamed);
  }
  await writeFile(join(dir, "index.html"), index);
  const out = execFileSync(process.execPath, [join(root, "scripts", "offline.mjs"), dir], { encoding: "utf8" });
  const build = /build ([0-9a-f]+)/.exec(out)?.[1];
  if (!build) throw new Error(`offline.mjs said: ${out}`);
  return { dir, build, names, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The build id stamped into dist/index.html by scripts/offline.mjs. */
export async function buildOf(dist) {
  const m = /<meta name="moe-build" content="([0-9a-f]+)"/.exec(await readFile(join(dist, "index.html"), "utf8"));
  if (!m) throw new Error(`${dist}/index.html has no build stamp: was scripts/offline.mjs run (trunk's post_build hook)?`);
  return m[1];
}

/** A fresh headless Chromium with its own profile; `webgpu` adds --enable-unsafe-webgpu (SwiftShader
 *  here), `extraArgs` more flags. Returns { context, page, close }. */
export async function launch({ webgpu, viewport = { width: 1280, height: 1100 }, extraArgs = [] }) {
  const userDataDir = await mkdtemp(join(tmpdir(), "moe-chromium-"));
  const args = ["--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic"];
  if (webgpu) args.push("--enable-unsafe-webgpu");
  args.push(...extraArgs);
  let context = null;
  const close = async () => {
    await context?.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args, viewport });
  } catch (err) {
    await close();
    throw err;
  }
  const page = context.pages()[0] || (await context.newPage());
  return { context, page, close };
}
