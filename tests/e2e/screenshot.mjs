// Takes the README's screenshot: the default page training on WebGPU (SwiftShader) until step N.
//   node tests/e2e/screenshot.mjs [N=600]   → docs/screenshot.png
import { join, resolve } from "node:path";
import { launch, root, serveDir } from "./common.mjs";

const steps = Number(process.argv[2] || 600);
const { server, url } = await serveDir(resolve(root, process.env.DIST || "dist"));
const browser = await launch({ webgpu: true, viewport: { width: 1280, height: 1000 } });
try {
  await browser.page.goto(url, { waitUntil: "load" });
  await browser.page.waitForFunction((n) => Number(document.querySelector('[data-testid="step"]')?.textContent) >= n, steps, { timeout: 300000 });
  await browser.page.screenshot({ path: join(root, "docs", "screenshot.png"), fullPage: true });
  console.log(`docs/screenshot.png at step ${await browser.page.locator('[data-testid="step"]').textContent()}`);
} finally {
  await browser.close();
  server.close();
}
