// Shared by the browser tests (page.mjs) and the benchmark (bench.mjs): the static server for dist/
// and the Chromium launcher.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
export const MOUNT = "/moe-playground/";

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
export async function serveDir(dir) {
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
