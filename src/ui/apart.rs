//! Compare mode's run B in a Web Worker of its own, on the CPU fallback: the session's
//! [`Link`] to it ([`WorkerLink`]), and the worker's side ([`trainer_main`], which runs
//! [`Serve`]). Messages cross postcard-encoded, in transferred `Uint8Array`s, as between the page
//! and the session's worker.
use super::web::{self, Files};
use crate::session::apart::{FromApart, Link, Reply, Serve, Spawn, ToApart, ANY_GENERATION};
use crate::session::wire;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// The session's end: replies wait in `inbox` until the session takes them.
pub struct WorkerLink {
    worker: web_sys::Worker,
    inbox: Rc<RefCell<VecDeque<Reply>>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Link for WorkerLink {
    fn send(&self, msg: &ToApart) {
        let (bytes, transfer) = web::transferable(&wire::encode(msg));
        if let Err(e) = self.worker.post_message_with_transfer(&bytes, &transfer) {
            self.inbox.borrow_mut().push_back(broken(format!("{e:?}")));
        }
    }
    fn try_recv(&self) -> Option<Reply> {
        self.inbox.borrow_mut().pop_front()
    }
}

impl Drop for WorkerLink {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The link broke: every run on it stops, and says why.
fn broken(why: String) -> Reply {
    Reply { gen: ANY_GENERATION, msg: FromApart::Failed(why) }
}

/// Where this global scope can start workers (a page; a worker in browsers with nested workers),
/// a [`Spawn`] that starts run B's trainer in a new one running `files`.
pub fn spawner(files: Files) -> Option<Spawn> {
    let can = js_sys::Reflect::get(&js_sys::global(), &"Worker".into()).is_ok_and(|w| w.is_function());
    can.then(|| Rc::new(move || start(&files).map(|l| Rc::new(l) as Rc<dyn Link>)) as Spawn)
}

fn start(files: &Files) -> Option<WorkerLink> {
    let worker = match files.start_worker("trainer") {
        Ok(w) => w,
        Err(e) => {
            web_sys::console::warn_1(&format!("Run B trains beside run A: its worker did not start ({e})").into());
            return None;
        }
    };
    let inbox: Rc<RefCell<VecDeque<Reply>>> = Rc::default();
    let on_message = {
        let inbox = inbox.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
            inbox.borrow_mut().push_back(wire::decode(&bytes).unwrap_or_else(broken));
        })
    };
    let on_error = {
        let inbox = inbox.clone();
        Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
            inbox.borrow_mut().push_back(broken(e.message()));
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Some(WorkerLink { worker, inbox, _on_message: on_message, _on_error: on_error })
}

/// The trainer worker's entry point (www/worker.js calls it for role "trainer"): run each
/// [`ToApart`] as it comes and post the replies.
#[wasm_bindgen]
pub fn trainer_main() {
    web::install_panic_hook();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let serve = RefCell::new(Serve::default());
    let on_message = {
        let scope = scope.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
            let replies = match wire::decode::<ToApart>(&bytes) {
                Ok(msg) => serve.borrow_mut().handle(msg),
                Err(err) => vec![broken(err)],
            };
            for reply in replies {
                let (bytes, transfer) = web::transferable(&wire::encode(&reply));
                if let Err(e) = scope.post_message_with_transfer(&bytes, &transfer) {
                    web_sys::console::error_1(&e);
                }
            }
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
}
