//! `moe-playground`: the web app entry point (built for `wasm32-unknown-unknown` by trunk from
//! `index.html`). For now it is a placeholder page that reports whether WebGPU is available; the
//! live training page comes later. On native targets it only points at the right commands.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    if let Err(err) = web::mount() {
        web_sys::console::error_2(&"moe-playground: failed to build the page:".into(), &err);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    println!(
        "moe-playground is the web app: run scripts/serve.sh; for the headless trainer run \
         `cargo run --release --bin moe-train -- --help`"
    );
}

#[cfg(target_arch = "wasm32")]
mod web {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// The global `navigator`, typed just enough to read `navigator.gpu` (so the web-sys
        /// `Navigator`/`Gpu` features are not needed for this check).
        type GpuNavigator;

        #[wasm_bindgen(thread_local_v2, js_name = navigator)]
        static NAVIGATOR: GpuNavigator;

        #[wasm_bindgen(method, getter, structural)]
        fn gpu(this: &GpuNavigator) -> JsValue;
    }

    /// Whether the browser exposes WebGPU (`navigator.gpu`). An adapter may still be unavailable.
    fn has_webgpu() -> bool {
        NAVIGATOR.with(|navigator| {
            let gpu = navigator.gpu();
            !gpu.is_undefined() && !gpu.is_null()
        })
    }

    /// Writes the placeholder page into `document.body`.
    pub fn mount() -> Result<(), JsValue> {
        let document = web_sys::window().and_then(|window| window.document()).ok_or("no window.document")?;
        let body = document.body().ok_or("no document.body")?;

        let main = document.create_element("main")?;

        let heading = document.create_element("h1")?;
        heading.set_text_content(Some("MoE Playground"));
        main.append_child(&heading)?;

        let intro = document.create_element("p")?;
        intro.set_text_content(Some(
            "A small Mixture-of-Experts model that trains live on your GPU. \
             The live page is coming soon.",
        ));
        main.append_child(&intro)?;

        let webgpu = has_webgpu();
        let backend = document.create_element("p")?;
        backend.set_class_name("backend");
        backend.set_attribute("data-testid", "backend")?;
        backend.set_attribute("data-webgpu", if webgpu { "true" } else { "false" })?;
        backend.set_text_content(Some(if webgpu {
            "WebGPU: available"
        } else {
            "WebGPU: not available in this browser"
        }));
        main.append_child(&backend)?;

        body.append_child(&main)?;
        Ok(())
    }
}
