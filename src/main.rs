//! `moe-playground`: the web app (built for `wasm32-unknown-unknown` by trunk from `index.html`).
//! On native targets it only points at the right commands.

#[cfg(target_arch = "wasm32")]
fn main() {
    moe_playground::ui::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    println!(
        "moe-playground is the web app: run scripts/serve.sh; for the headless trainer run \
         `cargo run --release --bin moe-train -- --help`"
    );
}
