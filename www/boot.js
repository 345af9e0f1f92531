// Loads the wasm-bindgen module that trunk built. Trunk's default loader is an inline <script>,
// which the page's Content-Security-Policy forbids, so Trunk.toml's `pattern_script` emits
// <script type="module" src="./boot.js" data-trunk-js="..." data-trunk-wasm="..."> instead,
// and this file picks the (hashed) file names up from those attributes.
const tag = document.querySelector("script[data-trunk-js][data-trunk-wasm]");
if (!tag) {
  throw new Error("boot.js: missing <script data-trunk-js data-trunk-wasm> tag");
}
const jsUrl = new URL(tag.dataset.trunkJs, document.baseURI);
const wasmUrl = new URL(tag.dataset.trunkWasm, document.baseURI);
const { default: init } = await import(jsUrl.href);
const wasm = await init({ module_or_path: wasmUrl });
dispatchEvent(new CustomEvent("TrunkApplicationStarted", { detail: { wasm } }));
