// Loads the wasm-bindgen module that trunk built. Trunk's default loader is an inline <script>,
// which the page's Content-Security-Policy forbids, so Trunk.toml's `pattern_script` emits
// <script type="module" src="./boot.js" data-trunk-js="..." data-trunk-wasm="..."> instead,
// and this file picks the (hashed) file names up from those attributes.
//
// Then it registers the service worker (sw.js, written by scripts/offline.mjs) that keeps this
// build for use without a network, and tells the page how that stands: <html data-offline> is
// "saving" while the files are being stored, "ready" once this build opens offline, "update" when
// a newer build has been stored (it opens on the next reload; the running page is never reloaded
// by itself, so nothing trained is lost), "off" where the browser keeps nothing (no service
// workers, e.g. a private window or a page opened from a file); each change fires "moe-offline".
const tag = document.querySelector("script[data-trunk-js][data-trunk-wasm]");
if (!tag) {
  throw new Error("boot.js: missing <script data-trunk-js data-trunk-wasm> tag");
}
const jsUrl = new URL(tag.dataset.trunkJs, document.baseURI);
const wasmUrl = new URL(tag.dataset.trunkWasm, document.baseURI);
const { default: init } = await import(jsUrl.href);
const wasm = await init({ module_or_path: wasmUrl });
dispatchEvent(new CustomEvent("TrunkApplicationStarted", { detail: { wasm } }));

const build = document.querySelector('meta[name="moe-build"]')?.content;
const offline = (state) => {
  document.documentElement.dataset.offline = state;
  dispatchEvent(new CustomEvent("moe-offline", { detail: state }));
};
/** Where this page's build stands in the browser's caches (`reg`: the worker's registration). */
async function check(reg) {
  const names = (await caches.keys()).filter((n) => n.startsWith("moe-playground-"));
  if (names.includes(`moe-playground-${build}`)) offline("ready");
  else if (reg.installing || reg.waiting || !names.length) offline("saving");
  else offline("update");
}
if (build && "serviceWorker" in navigator && self.caches && window.isSecureContext) {
  offline("saving");
  navigator.serviceWorker
    .register(new URL("sw.js", document.baseURI), { scope: "./" })
    .then(async (reg) => {
      const watch = (worker) => worker?.addEventListener("statechange", () => worker.state === "activated" && check(reg));
      watch(reg.installing || reg.waiting);
      reg.addEventListener("updatefound", () => watch(reg.installing));
      navigator.serviceWorker.addEventListener("controllerchange", () => check(reg));
      await navigator.serviceWorker.ready;
      await check(reg);
    })
    .catch((err) => {
      console.warn(`MoE Playground: this browser will not keep the page for offline use (${err})`);
      offline("off");
    });
} else {
  offline("off");
}
