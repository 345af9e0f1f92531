// The training worker (src/ui/worker.rs): the page's own module and wasm, loaded in a module Web
// Worker, run the training session off the page's main thread. The page's first message names the
// build's module and wasm (their hashed names, from boot.js's <script> tag); messages that arrive
// while the wasm loads wait here, then go to the session in order.
const waiting = [];
let loading = null;
self.onmessage = (e) => {
  if (loading) waiting.push(e);
  else
    loading = start(e.data).catch((err) => {
      // Thrown outside the promise, so the page's Worker gets an error event (and trains itself).
      setTimeout(() => {
        throw err;
      });
    });
};
async function start({ js, wasm }) {
  const glue = await import(new URL(js, self.location.href).href);
  await glue.default({ module_or_path: new URL(wasm, self.location.href) });
  glue.worker_main();
  for (const e of waiting) self.onmessage(e);
  waiting.length = 0;
}
