//! Small browser helpers the page needs beyond the enabled web-sys features: the clipboard,
//! downloads through `<a download>`, and the panic box. Declared with `wasm_bindgen` extern blocks
//! (js-sys comes through `wasm_bindgen_futures::js_sys`).
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::js_sys;

#[wasm_bindgen]
extern "C" {
    /// `navigator.clipboard.writeText(text)`; throws when the clipboard API is missing.
    #[wasm_bindgen(js_namespace = ["navigator", "clipboard"], js_name = writeText, catch)]
    fn clipboard_write_text(text: &str) -> Result<js_sys::Promise, JsValue>;
}

/// Put `text` on the clipboard; Err with the browser's reason when it refuses.
pub async fn copy_text(text: &str) -> Result<(), String> {
    let promise = clipboard_write_text(text).map_err(describe)?;
    wasm_bindgen_futures::JsFuture::from(promise).await.map(|_| ()).map_err(describe)
}

fn describe(v: JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| "the clipboard is not available here".into())
}

/// The browser family this page runs in (from `navigator.userAgent`).
pub fn browser() -> crate::page::Browser {
    let ua = web_sys::window().and_then(|w| w.navigator().user_agent().ok()).unwrap_or_default();
    crate::page::Browser::from_user_agent(&ua)
}

/// Percent-encode everything but unreserved characters (for `data:` URLs).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `data:` URL of `text` with MIME type `mime`.
pub fn data_url(mime: &str, text: &str) -> String {
    format!("data:{mime};charset=utf-8,{}", percent_encode(text))
}

/// Download `href` (a data: or blob: URL) as `filename` through a temporary `<a download>`.
pub fn download(filename: &str, href: &str) -> Result<(), String> {
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a = doc.create_element("a").map_err(|_| "cannot create a link")?;
    a.set_attribute("href", href).map_err(|_| "bad href")?;
    a.set_attribute("download", filename).map_err(|_| "bad file name")?;
    a.set_attribute("hidden", "").ok();
    let body = doc.body().ok_or("no body")?;
    body.append_child(&a).map_err(|_| "cannot attach the link")?;
    if let Some(h) = a.dyn_ref::<web_sys::HtmlElement>() {
        h.click();
    }
    a.remove();
    Ok(())
}

/// Download a canvas as a PNG file.
pub fn download_canvas(canvas: &web_sys::HtmlCanvasElement, filename: &str) -> Result<(), String> {
    let url = canvas.to_data_url().map_err(|_| "the canvas cannot be exported".to_string())?;
    download(filename, &url)
}

/// Show a fatal error in a box at the top of the page, built with plain DOM calls (the app may be
/// in any state after a panic) and with a reload link that needs no wasm.
pub fn show_fatal(message: &str) {
    let Some(win) = web_sys::window() else { return };
    let Some(doc) = win.document() else { return };
    let Some(body) = doc.body() else { return };
    if doc.query_selector("[data-testid=fatal]").ok().flatten().is_some() {
        return;
    }
    let href = win.location().href().unwrap_or_else(|_| "./".into());
    let build = || -> Result<web_sys::Element, JsValue> {
        let boxed = doc.create_element("div")?;
        boxed.set_attribute("class", "fatal")?;
        boxed.set_attribute("role", "alert")?;
        boxed.set_attribute("data-testid", "fatal")?;
        let title = doc.create_element("strong")?;
        title.set_text_content(Some("The playground crashed. This is a bug; reloading starts it again."));
        let pre = doc.create_element("pre")?;
        pre.set_text_content(Some(message));
        let reload = doc.create_element("a")?;
        reload.set_attribute("class", "button")?;
        reload.set_attribute("href", &href)?;
        reload.set_attribute("data-testid", "reload")?;
        reload.set_text_content(Some("reload"));
        boxed.append_child(&title)?;
        boxed.append_child(&pre)?;
        boxed.append_child(&reload)?;
        Ok(boxed)
    };
    if let Ok(el) = build() {
        let _ = body.prepend_with_node_1(&el);
    }
}

/// Panic hook: the console message (console_error_panic_hook) plus the visible error box.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_fatal(&info.to_string());
    }));
}

/// Take the keyboard focus off the element an event came from (a menu or button the page's own keys
/// should not go to: after choosing a lesson, space and n are the lesson's, not the menu's).
pub fn blur_target(ev: &web_sys::Event) {
    use wasm_bindgen::JsCast;
    if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.blur();
    }
}

/// Set (or with None remove) the attribute `name` of the page's root element: numbers end-to-end
/// tests and benchmarks read (`data-checkpoint`, `data-history`).
pub fn set_root_data(name: &str, value: Option<String>) {
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = match value {
            Some(v) => root.set_attribute(name, &v),
            None => root.remove_attribute(name),
        };
    }
}

/// The build's module and wasm (the hashed names trunk gave them): what a worker loads to run the
/// page's own code.
#[derive(Clone, Debug)]
pub struct Files {
    pub js: String,
    pub wasm: String,
}

impl Files {
    /// From the page's boot `<script>` tag.
    pub fn of_page() -> Result<Files, String> {
        let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
        let tag = doc
            .query_selector("script[data-trunk-js][data-trunk-wasm]")
            .ok()
            .flatten()
            .ok_or("the page's boot script tag is missing")?;
        match (tag.get_attribute("data-trunk-js"), tag.get_attribute("data-trunk-wasm")) {
            (Some(js), Some(wasm)) => Ok(Files { js, wasm }),
            _ => Err("the boot script names no module".into()),
        }
    }

    /// A module worker running www/worker.js (beside this page, or beside this worker's script)
    /// with these files, as `role`: "session" (the training session) or "trainer" (compare mode's
    /// run B apart).
    pub fn start_worker(&self, role: &str) -> Result<web_sys::Worker, String> {
        let opts = web_sys::WorkerOptions::new();
        opts.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options("worker.js", &opts).map_err(|e| format!("{e:?}"))?;
        let first = js_sys::Object::new();
        for (key, value) in [("js", &self.js), ("wasm", &self.wasm), ("role", &role.to_string())] {
            let _ = js_sys::Reflect::set(&first, &key.into(), &value.into());
        }
        worker.post_message(&first).map_err(|e| format!("{e:?}"))?;
        Ok(worker)
    }
}

/// `bytes` as a `Uint8Array`, and the transfer list that hands its buffer over.
pub fn transferable(bytes: &[u8]) -> (js_sys::Uint8Array, js_sys::Array) {
    let array = js_sys::Uint8Array::from(bytes);
    let transfer = js_sys::Array::of1(&array.buffer());
    (array, transfer)
}

/// Call `f`, at most once per animation frame, whenever an element now matching `selector`
/// changes size (a chart's box when the caption band above it grows, a card's caption changes, the
/// window is resized). The observer lives as long as the page.
pub fn on_resize(selector: &str, f: impl Fn() + 'static) {
    use std::{cell::Cell, rc::Rc};
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let pending = Rc::new(Cell::new(false));
    let f = Rc::new(f);
    let changed = Closure::<dyn FnMut(js_sys::Array)>::new(move |_: js_sys::Array| {
        if pending.replace(true) {
            return;
        }
        let (pending, f) = (pending.clone(), f.clone());
        leptos::prelude::request_animation_frame(move || {
            pending.set(false);
            f()
        });
    });
    let Ok(observer) = web_sys::ResizeObserver::new(changed.as_ref().unchecked_ref()) else { return };
    if let Ok(list) = doc.query_selector_all(selector) {
        for el in (0..list.length()).filter_map(|i| list.item(i)).filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
        {
            observer.observe(&el);
        }
    }
    // Both for the page's lifetime.
    changed.forget();
    std::mem::forget(observer);
}
