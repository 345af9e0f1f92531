//! `moe-playground`: the web app (built for `wasm32-unknown-unknown` by trunk from `index.html`).
//! On native targets it only points at the right commands.

#[cfg(target_arch = "wasm32")]
fn main() {
    // In the training worker (www/worker.js) the same module loads without a window: it waits for
    // the page's messages there (`ui::worker::worker_main`) instead of drawing.
    if web_sys::window().is_some() {
        moe_playground::ui::start();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    println!(
        "moe-playground is the web app: run scripts/serve.sh; for the headless trainer run \
         `cargo run --release --bin moe-train -- --help`"
    );
}
