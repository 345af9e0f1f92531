//! Where the page's [`Session`] runs: in a dedicated Web Worker (www/worker.js loads the same wasm
//! and calls [`super::worker::worker_main`]), or on the page's main thread — where the worker
//! cannot start, where the browser offers WebGPU to the window but not to workers, or with
//! `engine=main`. Either way the page sends the same [`Cmd`]s and shows the same [`Event`]s;
//! nothing on the page says which (but `<html data-engine>`, for tests and benchmarks).
use super::web::Files;
use super::{show, web, Ui};
use crate::session::wire::{self, FromWorker, Start, ToWorker};
use crate::session::{Cmd, Event, Session};
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Least time between two URL rewrites (sliders fire many input events).
const URL_EVERY_MS: f64 = 300.0;

enum Host {
    /// On this thread.
    Here(Box<Session>),
    /// In a worker; `heard`: it has answered (an error before that means it could not start).
    Worker { worker: web_sys::Worker, heard: bool },
}

/// The session's host and the page's own loop state (the address bar's throttle).
pub struct Engine {
    host: Host,
    start: Start,
    url_dirty: bool,
    url_written: f64,
    /// Commands sent to the session so far.
    sent: u32,
}

/// The engine, shared by the page's callbacks.
pub type Eng = Rc<RefCell<Engine>>;

pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Start the session `start` in a worker (or here, with `main_thread`), and the page's frame loop.
pub fn launch(start: Start, main_thread: bool, ui: Ui) -> Eng {
    let worker = if main_thread { Err("engine=main".to_string()) } else { spawn_worker() };
    let host = match worker {
        Ok(worker) => Host::Worker { worker, heard: false },
        Err(why) => {
            if !main_thread {
                web_sys::console::warn_1(&format!("MoE Playground trains on the page's main thread: {why}").into());
            }
            Host::Here(Box::new(session_here(&start)))
        }
    };
    let here = matches!(host, Host::Here(_));
    let eng = Rc::new(RefCell::new(Engine { host, start: start.clone(), url_dirty: false, url_written: 0.0, sent: 0 }));
    web::set_root_data("data-engine", Some(if here { "main" } else { "worker" }.into()));
    if here {
        pump(&eng, ui);
    } else {
        listen(&eng, ui);
        let window_gpu = web_sys::window()
            .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"gpu".into()).ok())
            .is_some_and(|g| !g.is_undefined() && !g.is_null());
        post(&eng, &ToWorker::Start { start: Box::new(start), window_gpu });
    }
    frame(eng.clone(), ui);
    eng
}

/// The session's worker, loading the page's own module and wasm (the names trunk gave this build).
fn spawn_worker() -> Result<web_sys::Worker, String> {
    Files::of_page()?.start_worker("session")
}

/// The session on this thread, with compare mode's run B in a worker of its own on the CPU.
fn session_here(start: &Start) -> Session {
    let apart = Files::of_page().ok().and_then(super::apart::spawner);
    start.session(Rc::new(now_ms), crate::session::CPU_BUDGET_MS, apart)
}

/// The worker's messages and errors.
fn listen(eng: &Eng, ui: Ui) {
    let Host::Worker { worker, .. } = &eng.borrow().host else { return };
    let on_message = {
        let eng = eng.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
            if let Host::Worker { heard, .. } = &mut eng.borrow_mut().host {
                *heard = true;
            }
            match wire::decode::<FromWorker>(&bytes) {
                Ok(FromWorker::Events(events)) => events.into_iter().for_each(|e| event(&eng, ui, e)),
                Ok(FromWorker::Handled(n)) => web::set_root_data("data-handled", Some(n.to_string())),
                Ok(FromWorker::MainThread) => {
                    run_here(&eng, ui, "this browser offers WebGPU to the page but not to workers")
                }
                Err(err) => web_sys::console::error_1(&err.into()),
            }
        })
    };
    let on_error = {
        let eng = eng.clone();
        Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
            let heard = matches!(eng.borrow().host, Host::Worker { heard: true, .. });
            if heard {
                web::show_fatal(&format!("The training worker crashed: {}", e.message()));
            } else {
                run_here(&eng, ui, &format!("the training worker did not start ({})", e.message()));
            }
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_message.forget();
    on_error.forget();
}

/// Stop the worker and run the session on this thread from its start.
fn run_here(eng: &Eng, ui: Ui, why: &str) {
    web_sys::console::warn_1(&format!("MoE Playground trains on the page's main thread: {why}").into());
    {
        let mut e = eng.borrow_mut();
        if let Host::Worker { worker, .. } = &e.host {
            worker.terminate();
        }
        let session = session_here(&e.start);
        e.host = Host::Here(Box::new(session));
        // What was sent to the worker is moot: this session starts from the page's URL again.
        web::set_root_data("data-handled", Some(e.sent.to_string()));
    }
    web::set_root_data("data-engine", Some("main".into()));
    pump(eng, ui);
}

fn post(eng: &Eng, msg: &ToWorker) {
    if let Host::Worker { worker, .. } = &eng.borrow().host {
        let (bytes, transfer) = web::transferable(&wire::encode(msg));
        if let Err(e) = worker.post_message_with_transfer(&bytes, &transfer) {
            web_sys::console::error_1(&e);
        }
    }
}

/// Send `cmd` to the session, wherever it runs. `<html data-sent>` counts the commands sent and
/// `data-handled` those handled (at once on this thread; when the worker says so there).
pub fn send(eng: &Eng, ui: Ui, cmd: Cmd) {
    let sent = {
        let mut e = eng.borrow_mut();
        e.sent += 1;
        e.sent
    };
    web::set_root_data("data-sent", Some(sent.to_string()));
    let cmd = match &mut eng.borrow_mut().host {
        Host::Here(s) => {
            s.handle(cmd);
            None
        }
        Host::Worker { .. } => Some(cmd),
    };
    match cmd {
        None => {
            pump(eng, ui);
            web::set_root_data("data-handled", Some(sent.to_string()));
        }
        Some(cmd) => post(eng, &ToWorker::Cmd(cmd)),
    }
}

/// On this thread: run the jobs the session asked for (each hands its result back when done, and
/// what that asks for in turn), and show its events.
fn pump(eng: &Eng, ui: Ui) {
    let (jobs, events) = match &mut eng.borrow_mut().host {
        Host::Here(s) => (s.jobs(), s.drain()),
        Host::Worker { .. } => return,
    };
    for job in jobs {
        let eng = eng.clone();
        leptos::task::spawn_local(async move {
            let done = job.await;
            if let Host::Here(s) = &mut eng.borrow_mut().host {
                s.finish(done);
            }
            pump(&eng, ui);
        });
    }
    for e in events {
        event(eng, ui, e);
    }
}

fn event(eng: &Eng, ui: Ui, e: Event) {
    if let Event::Configs { a, b, .. } = &e {
        // Only a change goes into the address bar (the URL the page opened with keeps its own
        // keys, `debug` included, until a knob changes).
        let changed = ui.cfg.with_untracked(|c| c != a) || ui.cfg_b.with_untracked(|c| c.as_ref() != b.as_ref());
        if changed && !ui.bench {
            eng.borrow_mut().url_dirty = true;
        }
    }
    show(ui, e);
}

/// One animation frame: on this thread the session's tick; the address bar kept up to date.
fn frame(eng: Eng, ui: Ui) {
    let t = now_ms();
    let here = match &mut eng.borrow_mut().host {
        Host::Here(s) => {
            s.tick();
            true
        }
        Host::Worker { .. } => false,
    };
    if here {
        pump(&eng, ui);
    }
    let due = {
        let mut e = eng.borrow_mut();
        let due = e.url_dirty && t - e.url_written >= URL_EVERY_MS;
        if due {
            e.url_dirty = false;
            e.url_written = t;
        }
        due
    };
    if due {
        super::write_url(&ui.cfg.get_untracked(), ui.cfg_b.get_untracked().as_ref());
    }
    request_animation_frame(move || frame(eng, ui));
}
