//! The training worker: the page's own wasm, loaded in a module Web Worker by www/worker.js, runs
//! the [`Session`] off the main thread. The page sends [`ToWorker`] messages (the start, then
//! commands); the worker ticks the session about 60 times a second, runs its jobs, and posts its
//! events back as [`FromWorker::Events`], postcard-encoded in a transferred `Uint8Array`.
//!
//! A worker whose browser offers WebGPU to the window but not to workers answers the start with
//! [`FromWorker::MainThread`], and the page runs the session itself.
use super::web::Files;
use crate::session::wire::{self, FromWorker, ToWorker};
use crate::session::Session;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// Time between the starts of two ticks (about a display frame).
const TICK_MS: f64 = 16.0;
/// Time per tick the CPU trainer may spend here (the worker draws nothing: most of a tick, with a
/// little left to take the page's messages).
const CPU_BUDGET_MS: f64 = 14.0;

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn now_ms() -> f64 {
    scope().performance().map(|p| p.now()).unwrap_or(0.0)
}

/// `msg` to the page, its bytes transferred.
fn post(msg: &FromWorker) {
    let (bytes, transfer) = super::web::transferable(&wire::encode(msg));
    if let Err(e) = scope().post_message_with_transfer(&bytes, &transfer) {
        web_sys::console::error_1(&e);
    }
}

/// Whether this worker's navigator offers WebGPU.
fn worker_gpu() -> bool {
    js_sys::Reflect::get(&scope().navigator(), &"gpu".into()).is_ok_and(|g| !g.is_undefined() && !g.is_null())
}

type Shared = Rc<RefCell<Option<Session>>>;

thread_local! {
    /// Commands handled so far.
    static HANDLED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Run the jobs the session asked for (their results come back into it) and post its events.
fn pump(state: &Shared) {
    let (jobs, events) = match state.borrow_mut().as_mut() {
        Some(s) => (s.jobs(), s.drain()),
        None => return,
    };
    for job in jobs {
        let state = state.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let done = job.await;
            if let Some(s) = state.borrow_mut().as_mut() {
                s.finish(done);
            }
            pump(&state);
        });
    }
    if !events.is_empty() {
        post(&FromWorker::Events(events));
    }
}

/// One tick, then the next one a frame after this one began.
fn tick(state: Shared) {
    let t0 = now_ms();
    if let Some(s) = state.borrow_mut().as_mut() {
        s.tick();
    }
    pump(&state);
    let wait = (TICK_MS - (now_ms() - t0)).max(0.0) as i32;
    let next = Closure::once_into_js(move || tick(state));
    let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(next.unchecked_ref(), wait);
}

fn receive(state: &Shared, files: &Files, e: MessageEvent) {
    let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
    match wire::decode::<ToWorker>(&bytes) {
        Ok(ToWorker::Start { start, window_gpu }) => {
            if window_gpu && (!worker_gpu() || start.worker_without_gpu) {
                return post(&FromWorker::MainThread);
            }
            let apart = super::apart::spawner(files.clone());
            *state.borrow_mut() = Some(start.session(Rc::new(now_ms), CPU_BUDGET_MS, apart));
            pump(state);
            tick(state.clone());
        }
        Ok(ToWorker::Cmd(cmd)) => {
            if let Some(s) = state.borrow_mut().as_mut() {
                s.handle(cmd);
            }
            pump(state);
            let n = HANDLED.with(|h| {
                h.set(h.get() + 1);
                h.get()
            });
            post(&FromWorker::Handled(n));
        }
        Err(err) => web_sys::console::error_1(&err.into()),
    }
}

/// The worker's entry point (www/worker.js calls it once the wasm is loaded, with the build's
/// module and wasm, which a worker for compare mode's run B loads in turn): take the page's
/// messages from now on.
#[wasm_bindgen]
pub fn worker_main(js: String, wasm: String) {
    super::web::install_panic_hook();
    let state: Shared = Rc::new(RefCell::new(None));
    let files = Files { js, wasm };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| receive(&state, &files, e));
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
}
