// The offline and update scenario, the same in every browser (page.mjs runs it in Chromium through
// Playwright, firefox.mjs in Firefox through Puppeteer; `drive` hides the difference):
//   1. open the page served from dist/: it trains, and says it is saved (data-offline = "ready");
//      the browser's caches hold this build's cache and no other;
//   2. the network goes away (the server stops): a reload opens the page, the same build, and it
//      trains;
//   3. a new build is published at the same address (nextBuild: every hashed file renamed, a new
//      service worker): a reload runs the new build, every hashed file it loaded is the new build's
//      (no mixing), and once it is saved only its cache is left;
//   4. the network goes away again: a reload opens the new build, and it trains.
import { HASHED, buildOf, nextBuild, serveDir } from "./common.mjs";

/**
 * `drive`: { goto(url), evaluate(fn, arg), waitFor(fn, arg, ms) } over one page of a fresh browser
 * profile (evaluate may be given an async function); `serve`: serveDir's options. Returns a list of
 * problems (empty when it passed) and a log line.
 */
export async function offlineScenario(drive, dist, { timeout = 120000, serve = {} } = {}) {
  const problems = [];
  const log = [];
  const first = await serveDir(dist, serve);
  const build1 = await buildOf(dist);
  let next = null;
  let second = null;
  const state = () => drive.evaluate(() => ({
    build: document.querySelector('meta[name="moe-build"]')?.content,
    offline: document.documentElement.dataset.offline,
    step: Number(document.querySelector('[data-testid="step"]')?.textContent ?? 0),
    backend: document.querySelector('[data-testid="backend"]')?.textContent.trim(),
    loaded: performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname.split("/").pop()),
  }));
  const caches = () => drive.evaluate(async () => (await self.caches.keys()).filter((n) => n.startsWith("moe-playground-")).sort());
  const trains = async (label) => {
    await drive.waitFor(() => Number(document.querySelector('[data-testid="step"]')?.textContent ?? 0) > 5, null, timeout)
      .catch(async (e) => {
        // What the page shows: is the app there at all, what did it load, what went wrong?
        const seen = await drive.evaluate(() => ({
          app: !!document.querySelector('[data-testid="step"]'),
          body: document.body?.innerText.slice(0, 200),
          offline: document.documentElement.dataset.offline,
          errors: window.__errors || null,
          loaded: performance.getEntriesByType("resource").map((r) => new URL(r.name).pathname.split("/").pop()),
          ready: document.readyState,
        })).catch((err) => `unreadable: ${err.message}`);
        problems.push(`${label}: the page does not train (${e.message.slice(0, 200)}); the page: ${JSON.stringify(seen)}`);
      });
  };
  const saved = async (label) => {
    await drive.waitFor(() => document.documentElement.dataset.offline === "ready", null, timeout)
      .catch(async () => problems.push(`${label}: not saved for offline use (data-offline = ${(await state()).offline})`));
  };
  try {
    // 1. First visit.
    await drive.goto(first.url);
    await trains("first visit");
    await saved("first visit");
    const c1 = await caches();
    if (c1.join() !== `moe-playground-${build1}`) problems.push(`after the first visit the caches are ${c1}`);
    const text = await drive.evaluate(() => document.querySelector('[data-testid="offline"]')?.textContent);
    if (!/without a network/.test(text || "")) problems.push(`the page does not say it is saved: "${text}"`);
    // 2. Offline.
    await first.stop();
    await drive.goto(first.url);
    await trains("offline");
    const s2 = await state();
    if (s2.build !== build1) problems.push(`offline: build ${s2.build}, expected ${build1}`);
    log.push(`offline: build ${s2.build} trains (step ${(await state()).step}, ${s2.backend})`);
    // 3. A new build at the same address.
    next = await nextBuild(dist);
    second = await serveDir(next.dir, { ...serve, port: first.port });
    await drive.goto(first.url);
    await trains("new build");
    const s3 = await state();
    if (s3.build !== next.build) problems.push(`after publishing build ${next.build} the reload runs build ${s3.build}`);
    const hashed = s3.loaded.filter((n) => HASHED.test(n));
    const stale = hashed.filter((n) => !next.names.includes(n));
    if (stale.length) problems.push(`the new build's page loaded the old build's files: ${stale.join(", ")}`);
    if (!hashed.some((n) => n.endsWith(".wasm"))) problems.push(`no wasm among the loaded files: ${s3.loaded.join(", ")}`);
    await saved("new build");
    const c3 = await caches();
    if (c3.join() !== `moe-playground-${next.build}`) problems.push(`after the update the caches are ${c3}`);
    // 4. Offline again: the new build opens.
    await second.stop();
    second = null;
    await drive.goto(first.url);
    await trains("offline after the update");
    const s4 = await state();
    if (s4.build !== next.build) problems.push(`offline after the update: build ${s4.build}, expected ${next.build}`);
    log.push(`update: build ${build1} → ${next.build}, ${hashed.length} hashed files all new, caches ${c3}; offline again: build ${s4.build} trains`);
  } catch (err) {
    problems.push(`error: ${err.stack || err}`);
  } finally {
    await first.stop().catch(() => {});
    await second?.stop().catch(() => {});
    await next?.remove();
  }
  return { problems, log: log.join("; ") };
}
