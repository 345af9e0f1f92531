//! The live page (wasm only): a Leptos app that trains the MoE on WebGPU (or the CPU reference when
//! the browser has no adapter) from a requestAnimationFrame loop, and shows routing, load, drops,
//! losses, balance and specialisation as they change.
//!
//! The loop encodes a few steps per frame, requests a metrics snapshot every few frames and polls
//! for finished ones; it never awaits a readback. Charts redraw when a snapshot arrives (≈ 4 Hz).
//! For the `regions` data set a region map is computed on the CPU from the weights every ~2 s.
//!
//! This module holds the engine (the trainer and the frame loop), the page's reactive state [`Ui`],
//! the actions on them (apply a knob, choose a router, rebuild) and [`App`], which wires them to
//! the components: [`status`] (header, notices, GPU error, benchmark), [`controls`] (playback,
//! presets, share and export), [`knob_panel`] (the knob panels) and [`cards`] (the charts). The
//! pure logic (query keys, the metrics history and its CSV, number formatting) is in
//! [`crate::page`], compiled and tested natively.
//!
//! Query keys besides the config's: `bench` (with optional `steps=N`) trains the default model for
//! a fixed number of steps and writes timings into `[data-testid=bench]`; `debug=panic` panics on
//! purpose to show the error box; `debug=gpu-error` reports a (simulated) GPU error once training
//! runs, to show the restart path.
mod cards;
mod controls;
mod draw;
mod knob_panel;
mod status;
mod web;

use crate::config::{Balance, Config, Dataset, DenseTwin, Init, RouterKind, KNOBS};
use crate::gpu::GpuTrainer;
use crate::knobs::{Group, Value};
use crate::metrics::Snapshot;
use crate::model::Dims;
use crate::page::{bench_json, knob_label, live_diff, page_query, Hist, PageQuery};
use crate::presets;
use crate::regionmap::{self, RegionMap};
use crate::trainer::{CpuTrainer, Trainer};
use crate::upcycle::Upcycle;
use cards::Views;
use controls::{Playback, PresetMenu, ShareExport};
use draw::Event;
use knob_panel::{KnobGroup, SetKnob};
use leptos::prelude::*;
use status::{BenchCard, GpuError, Notices, PhaseLine, TopBar};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// Frames between snapshot requests.
const SNAPSHOT_EVERY: u32 = 15;
/// Time per frame the CPU fallback may spend training.
const CPU_BUDGET_MS: f64 = 12.0;
/// Batch size of the CPU fallback.
const CPU_TOKENS: usize = 64;
/// Least time between two region-map refreshes.
const MAP_EVERY_MS: f64 = 2000.0;
/// A GPU that has not returned a requested snapshot for this long is reported as stalled.
const STALL_MS: f64 = 30000.0;
/// Least time between two URL rewrites (sliders fire many input events).
const URL_EVERY_MS: f64 = 300.0;
/// Seconds of training the loop keeps queued on the GPU.
const BACKLOG_S: f64 = 1.0;
/// Window of the steps/s readout.
const RATE_WINDOW_MS: f64 = 5000.0;

/// The trainer: the WGSL one, or the CPU reference when the browser has no WebGPU; each in its
/// [`Upcycle`] wrapper (with `init = upcycle` a dense warm-up first, then the MoE).
enum Backend {
    Gpu(Box<Upcycle<GpuTrainer>>),
    Cpu(Box<Upcycle<CpuTrainer>>),
}

impl Backend {
    fn trainer(&mut self) -> &mut dyn Trainer {
        match self {
            Backend::Gpu(g) => &mut **g,
            Backend::Cpu(c) => &mut **c,
        }
    }
    fn is_gpu(&self) -> bool {
        matches!(self, Backend::Gpu(_))
    }
    /// The first GPU validation or device error.
    fn error(&self) -> Option<String> {
        match self {
            Backend::Gpu(g) => g.inner().error(),
            Backend::Cpu(_) => None,
        }
    }
    /// The dense warm-up is over: the page awaits [`Upcycle::switch`] next.
    fn switch_due(&self) -> bool {
        match self {
            Backend::Gpu(g) => g.switch_due(),
            Backend::Cpu(c) => c.switch_due(),
        }
    }
    /// The phase line of an upcycled run at step `step`.
    fn phase_note(&self, step: u32) -> Option<String> {
        match self {
            Backend::Gpu(g) => g.phase_note(step),
            Backend::Cpu(c) => c.phase_note(step),
        }
    }
}

/// A `?bench` run in progress.
#[derive(Debug, Default)]
struct Bench {
    target: u32,
    started: Option<f64>,
    last_frame: Option<f64>,
    frames: Vec<f64>,
    final_requested: bool,
    done: bool,
}

/// The trainer and the loop's own state (outside the reactive graph).
#[derive(Default)]
struct Engine {
    backend: Option<Backend>,
    steps_per_frame: u32,
    frame: u32,
    since_snapshot: u32,
    step_once: bool,
    generation: u32,
    /// Request a snapshot in the next frame even without new steps (the initial routing after a
    /// restart, shown while paused).
    want_snapshot: bool,
    /// The GPU trainer is lent to a weights readback for the region map, or the trainer to the
    /// upcycling switch.
    reading: bool,
    /// Earliest time of the next region map, and the step of the last one.
    map_due: f64,
    map_step: Option<u32>,
    /// Snapshots requested and not yet returned, and when the GPU last made progress.
    outstanding: u32,
    last_progress: f64,
    /// The GPU reported an error or stalled: the loop stops until a restart.
    failed: bool,
    /// (arrival time, step) of recent snapshots, for the speed readout.
    recent: std::collections::VecDeque<(f64, u32)>,
    /// Training speed over the recent snapshots (steps/s) and the step of the latest snapshot.
    rate: f64,
    snap_step: u32,
    url_dirty: bool,
    url_written: f64,
    bench: Option<Bench>,
    /// `debug=gpu-error`: report a GPU error once training runs, to exercise the restart path.
    simulate_gpu_error: bool,
    /// Steps owed under a speed limit (fractional), and the previous frame's time.
    speed_budget: f64,
    last_frame: f64,
}

type Eng = StoredValue<Rc<RefCell<Engine>>, LocalStorage>;

/// The page's reactive state.
#[derive(Clone, Copy)]
struct Ui {
    cfg: RwSignal<Config>,
    playing: RwSignal<bool>,
    /// Speed limit in steps per second; 0 = as fast as the device allows.
    speed: RwSignal<u32>,
    step: RwSignal<u32>,
    rate: RwSignal<f32>,
    backend: RwSignal<String>,
    banner: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    /// The phase of an upcycled run ("dense warm-up: step i of N, …").
    phase: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    gpu_error: RwSignal<Option<String>>,
    snap: RwSignal<Option<Snapshot>>,
    hist: RwSignal<Vec<Hist>>,
    events: RwSignal<Vec<Event>>,
    map: RwSignal<Option<RegionMap>>,
    /// The last positive number of each real knob: restored when its word (∞, none) is cleared,
    /// or α when a balance loss is switched on with α = 0.
    saved: RwSignal<HashMap<&'static str, f32>>,
    bench: bool,
    bench_out: RwSignal<String>,
    bench_progress: RwSignal<String>,
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Put the query of `cfg` in the address bar (replacing the history entry, so Back leaves the page).
fn write_url(cfg: &Config) {
    if let Some(w) = web_sys::window() {
        let q = cfg.to_query();
        let url = if q.is_empty() { w.location().pathname().unwrap_or_default() } else { format!("?{q}") };
        let _ = w.history().and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url)));
    }
}

/// Remember the positive numbers of real knobs (to restore them later).
fn remember(ui: Ui, c: &Config) {
    ui.saved.update(|m| {
        for k in KNOBS {
            if let Value::Real(x) = (k.get)(c) {
                if x > 0.0 && x.is_finite() {
                    m.insert(k.key, x);
                }
            }
        }
    });
}

/// Build the trainer for `cfg`: WebGPU when the browser has an adapter, else the CPU reference.
fn rebuild(engine: Rc<RefCell<Engine>>, ui: Ui) {
    let cfg = ui.cfg.get_untracked();
    let generation = {
        let mut e = engine.borrow_mut();
        e.backend = None;
        e.generation += 1;
        e.reading = false;
        e.failed = false;
        e.outstanding = 0;
        e.map_step = None;
        e.map_due = 0.0;
        e.recent.clear();
        e.rate = 0.0;
        e.snap_step = 0;
        e.generation
    };
    ui.snap.set(None);
    ui.hist.set(vec![]);
    ui.events.set(vec![]);
    ui.map.set(None);
    ui.phase.set(None);
    ui.step.set(0);
    ui.rate.set(0.0);
    ui.error.set(None);
    ui.gpu_error.set(None);
    ui.backend.set("starting…".into());
    leptos::task::spawn_local(async move {
        let (backend, banner): (Backend, Option<String>) = match Upcycle::gpu(&cfg).await {
            Ok(g) => (Backend::Gpu(Box::new(g)), None),
            Err(err) => {
                let small = Config { tokens: cfg.tokens.min(CPU_TOKENS), ..cfg.clone() };
                match Upcycle::cpu(&small) {
                    Ok(c) => (
                        Backend::Cpu(Box::new(c)),
                        Some(format!(
                            "No WebGPU here ({err}). Training on the CPU reference instead, with a smaller batch \
                             (T = {}): slower, same math.",
                            small.tokens
                        )),
                    ),
                    Err(e) => {
                        ui.error.set(Some(e.to_string()));
                        return;
                    }
                }
            }
        };
        let mut e = engine.borrow_mut();
        if e.generation != generation {
            return; // a newer rebuild superseded this one
        }
        let mut backend = backend;
        ui.backend.set(backend.trainer().backend());
        ui.banner.set(banner);
        ui.phase.set(backend.phase_note(0));
        e.steps_per_frame = if backend.is_gpu() { 2 } else { 1 };
        e.backend = Some(backend);
        e.since_snapshot = 0;
        e.want_snapshot = true;
        e.last_progress = now_ms();
    });
}

/// The region map from the current weights, without blocking the loop: the CPU trainer's weights
/// are cloned; the GPU trainer is lent to an asynchronous readback and returned when it is done
/// (the loop skips training for those frames).
fn refresh_map(engine: &Rc<RefCell<Engine>>, e: &mut Engine, ui: Ui, now: f64) {
    let step = ui.step.get_untracked();
    e.map_due = now + MAP_EVERY_MS;
    e.map_step = Some(step);
    let generation = e.generation;
    let top_k = ui.cfg.with_untracked(|c| c.top_k);
    let publish = move |engine: &Rc<RefCell<Engine>>, map: RegionMap| {
        if engine.borrow().generation == generation {
            ui.map.set(Some(map));
        }
    };
    match e.backend.take() {
        Some(Backend::Cpu(c)) => {
            let params = c.inner().params().clone();
            e.backend = Some(Backend::Cpu(c));
            let engine = engine.clone();
            leptos::task::spawn_local(async move {
                publish(&engine, regionmap::compute(&params, regionmap::GRID, step));
            });
        }
        Some(Backend::Gpu(g)) => {
            e.reading = true;
            let dims = Dims { k: top_k.min(g.inner().dims().kmax), ..g.inner().dims() };
            let engine = engine.clone();
            leptos::task::spawn_local(async move {
                let bytes = g.inner().read_bytes("params").await;
                {
                    let mut eng = engine.borrow_mut();
                    if eng.generation != generation {
                        return; // rebuilt meanwhile: this trainer is gone
                    }
                    let mut backend = Backend::Gpu(g);
                    // Knobs moved while the trainer was lent out reach it now.
                    let cfg = ui.cfg.get_untracked();
                    let tr = backend.trainer();
                    if tr.config().same_structure(&cfg) && tr.config().live() != cfg.live() {
                        let _ = tr.set_live(cfg.live());
                    }
                    eng.backend = Some(backend);
                    eng.reading = false;
                }
                if let Some(p) = regionmap::params_from_bytes(dims, &bytes) {
                    publish(&engine, regionmap::compute(&p, regionmap::GRID, step));
                }
            });
        }
        None => {}
    }
}

/// Upcycling's phase switch, without blocking the loop: the trainer is lent to
/// [`Upcycle::switch`] (on the GPU an asynchronous readback of the dense weights) and comes back as
/// the MoE (the loop skips training for those frames).
fn start_switch(engine: &Rc<RefCell<Engine>>, e: &mut Engine, ui: Ui) {
    let Some(backend) = e.backend.take() else { return };
    e.reading = true;
    let generation = e.generation;
    let engine = engine.clone();
    leptos::task::spawn_local(async move {
        let switched = match backend {
            Backend::Gpu(g) => g.switch().await.map(|g| Backend::Gpu(Box::new(g))),
            Backend::Cpu(c) => c.switch().await.map(|c| Backend::Cpu(Box::new(c))),
        };
        let mut eng = engine.borrow_mut();
        if eng.generation != generation {
            return; // rebuilt meanwhile: this trainer is gone
        }
        eng.reading = false;
        match switched {
            Ok(mut backend) => {
                // Knobs moved while the trainer was lent out reach the MoE now.
                let cfg = ui.cfg.get_untracked();
                let tr = backend.trainer();
                if tr.config().same_structure(&cfg) && tr.config().live() != cfg.live() {
                    let _ = tr.set_live(cfg.live());
                }
                let at = tr.steps();
                ui.events.update(|ev| ev.push((at as f32, "upcycled".into())));
                ui.phase.set(backend.phase_note(at));
                eng.backend = Some(backend);
                eng.want_snapshot = true;
            }
            Err(err) => {
                eng.failed = true;
                ui.playing.set(false);
                ui.gpu_error.set(Some(format!(
                    "Copying the dense model into the experts failed: {err}. Restart rebuilds the trainer (from the \
                     seed; the weights so far are lost)."
                )));
            }
        }
    });
}

/// The bench result once the snapshot of its last step has arrived.
fn bench_result(b: &Bench, backend: &str, tokens: usize, now: f64) -> String {
    let seconds = (now - b.started.unwrap_or(now)) / 1000.0;
    bench_json(backend, b.target, seconds, &b.frames, tokens)
}

/// One animation frame: train, request and poll snapshots, then schedule the next frame.
fn frame(engine: Rc<RefCell<Engine>>, ui: Ui) {
    let t = now_ms();
    {
        let mut guard = engine.borrow_mut();
        let e = &mut *guard;
        if let Some(b) = e.bench.as_mut() {
            if b.started.is_some() && !b.done {
                if let Some(last) = b.last_frame {
                    b.frames.push(t - last);
                }
                b.last_frame = Some(t);
            }
        }
        if e.url_dirty && t - e.url_written >= URL_EVERY_MS {
            e.url_dirty = false;
            e.url_written = t;
            write_url(&ui.cfg.get_untracked());
        }
        if !e.failed {
            if let Some(be) = e.backend.as_mut() {
                let simulated = (e.simulate_gpu_error && ui.step.get_untracked() > 0).then(|| {
                    e.simulate_gpu_error = false;
                    "a simulated device error (debug=gpu-error)".to_string()
                });
                if let Some(err) = simulated.or_else(|| be.error()) {
                    e.failed = true;
                    ui.playing.set(false);
                    ui.gpu_error.set(Some(format!(
                        "The GPU reported an error and training stopped: {err}. Restart rebuilds the trainer \
                         (from the seed; the weights so far are lost)."
                    )));
                } else {
                    train_frame(e, ui, t);
                }
            }
        }
        if !e.failed && !e.reading && e.backend.as_ref().is_some_and(Backend::switch_due) {
            start_switch(&engine, e, ui);
        }
        let regions = ui.cfg.with_untracked(|c| c.dataset == Dataset::Regions);
        if regions
            && !e.failed
            && !e.reading
            && e.backend.is_some()
            && t >= e.map_due
            && e.map_step != Some(ui.step.get_untracked())
        {
            refresh_map(&engine, e, ui, t);
        }
    }
    request_animation_frame(move || frame(engine, ui));
}

/// The training part of a frame (the trainer is present and healthy).
fn train_frame(e: &mut Engine, ui: Ui, t: f64) {
    let Some(be) = e.backend.as_mut() else { return };
    let gpu = be.is_gpu();
    let tr = be.trainer();
    let playing = ui.playing.get_untracked();
    let dt = (t - e.last_frame).clamp(0.0, 100.0);
    e.last_frame = t;
    if playing || e.step_once {
        let mut n = if e.step_once { 1 } else { e.steps_per_frame };
        let limit = ui.speed.get_untracked();
        if limit > 0 && !e.step_once {
            // A speed limit (to watch individual steps): owe limit·dt steps, train the whole ones.
            e.speed_budget = (e.speed_budget + limit as f64 * dt / 1000.0).min(limit as f64);
            n = n.min(e.speed_budget.floor() as u32);
            e.speed_budget -= n as f64;
        }
        if gpu {
            // Keep about a second of work queued on the GPU, so snapshots (and with them knob
            // changes, readbacks and restarts) stay timely on slow GPUs.
            let allowed = if e.rate > 0.0 { (e.rate * BACKLOG_S).clamp(8.0, 4096.0) as u32 } else { 64 };
            n = n.min(allowed.saturating_sub(tr.steps().saturating_sub(e.snap_step)));
        }
        if let Some(b) = e.bench.as_mut() {
            if b.started.is_none() {
                b.started = Some(t);
                b.last_frame = Some(t);
            }
            n = n.min(b.target.saturating_sub(tr.steps()));
        }
        if n > 0 {
            let t0 = now_ms();
            tr.train(n);
            if !gpu {
                let per = (now_ms() - t0) / n as f64;
                e.steps_per_frame = ((CPU_BUDGET_MS / per.max(0.1)) as u32).clamp(1, 64);
            }
            e.since_snapshot += n;
        }
        if e.step_once {
            e.step_once = false;
            e.frame = SNAPSHOT_EVERY - 1;
        }
    }
    e.frame += 1;
    let bench_end = e.bench.as_ref().is_some_and(|b| !b.final_requested && tr.steps() >= b.target);
    if (e.since_snapshot > 0 && (e.frame.is_multiple_of(SNAPSHOT_EVERY) || bench_end)) || e.want_snapshot {
        if tr.request_snapshot() {
            e.since_snapshot = 0;
            e.want_snapshot = false;
            if e.outstanding == 0 {
                e.last_progress = t;
            }
            e.outstanding += 1;
            if let Some(b) = e.bench.as_mut() {
                b.final_requested |= tr.steps() >= b.target;
            }
            if gpu {
                e.steps_per_frame = (e.steps_per_frame + 1).min(32);
            }
        } else if gpu {
            // Snapshots are backing up: the GPU is behind, encode less per frame.
            e.steps_per_frame = (e.steps_per_frame / 2).max(1);
        }
    }
    while let Some(s) = tr.poll_snapshot() {
        e.outstanding = e.outstanding.saturating_sub(1);
        e.last_progress = t;
        // Speed over the last few seconds of snapshots (they arrive in bursts).
        e.recent.push_back((t, s.step));
        while e.recent.len() > 2 && t - e.recent[0].0 > RATE_WINDOW_MS {
            e.recent.pop_front();
        }
        if let (Some(&(t0, s0)), Some(&(t1, s1))) = (e.recent.front(), e.recent.back()) {
            if t1 > t0 && s1 > s0 {
                e.rate = (s1 - s0) as f64 / (t1 - t0) * 1000.0;
                ui.rate.set(e.rate as f32);
            }
        }
        e.snap_step = s.step;
        ui.step.set(s.step);
        if let Some(b) = e.bench.as_mut() {
            if !b.done {
                ui.bench_progress.set(format!("{} / {} steps", s.step.min(b.target), b.target));
                if b.final_requested && s.step >= b.target {
                    b.done = true;
                    ui.bench_out.set(bench_result(b, &tr.backend(), tr.config().tokens, t));
                    ui.playing.set(false);
                }
            }
        }
        if s.diverged() {
            ui.playing.set(false);
            ui.error.set(Some(format!(
                "Training diverged at step {}: the loss or a gradient became NaN/∞, so those steps were \
                 skipped and the last finite weights kept. Lower the learning rate (now {}) and press play.",
                s.step,
                tr.config().lr
            )));
        }
        if s.steps > 0 {
            ui.hist.update(|h| {
                h.push(Hist::of(&s));
                if h.len() > 2000 {
                    h.drain(..h.len() - 2000);
                }
            });
        }
        ui.snap.set(Some(s));
    }
    let note = be.phase_note(ui.step.get_untracked());
    if ui.phase.with_untracked(|p| *p != note) {
        ui.phase.set(note);
    }
    if gpu && e.outstanding > 0 && t - e.last_progress > STALL_MS {
        e.failed = true;
        ui.playing.set(false);
        ui.gpu_error.set(Some(format!(
            "The GPU has not returned any results for {} s: the device may have been lost (a driver reset, a \
             long time in a background tab) or be overloaded. Restart rebuilds the trainer.",
            STALL_MS / 1000.0
        )));
    }
}

/// Apply a new config: live knobs go to the running trainer, structural changes rebuild it.
fn apply(engine: &Rc<RefCell<Engine>>, ui: Ui, next: Config, key: &str, notice: Option<String>) {
    let prev = ui.cfg.get_untracked();
    if next.validate().is_err() || next == prev {
        return;
    }
    ui.cfg.set(next.clone());
    if !ui.bench {
        engine.borrow_mut().url_dirty = true;
    }
    remember(ui, &next);
    if prev.same_structure(&next) {
        ui.notice.set(notice);
        let label = live_diff(&prev, &next);
        let at = ui.step.get_untracked() as f32;
        ui.events.update(|ev| match ev.last_mut() {
            Some(last) if last.0 == at => last.1 = label,
            _ => ev.push((at, label)),
        });
        if let Some(be) = engine.borrow_mut().backend.as_mut() {
            let tr = be.trainer();
            let mut live = next.live();
            live.top_k = live.top_k.min(tr.config().k_max());
            if let Err(e) = tr.set_live(live) {
                ui.error.set(Some(e.to_string()));
            }
        }
    } else {
        let (kh, eh) = (next.top_k * next.hidden, next.experts * next.hidden);
        let text = match (key, next.dense_twin) {
            ("dense-twin", DenseTwin::Active) => format!(
                "restarted training with the dense twin at equal compute: one feed-forward network of width \
                 k·H = {kh}, used by every token. The routing knobs (top-k, capacity, balance loss) do not apply to it."
            ),
            ("dense-twin", DenseTwin::Total) => format!(
                "restarted training with the dense twin at equal parameters: one feed-forward network of width \
                 E·H = {eh}, used by every token. The routing knobs (top-k, capacity, balance loss) do not apply to it."
            ),
            ("dense-twin", DenseTwin::Off) => "restarted training: back to the mixture of experts.".to_string(),
            ("init" | "dense-steps", _) if next.init == Init::Upcycle => format!(
                "restarted training, upcycled: a dense feed-forward network of width H = {} trains for {} steps, \
                 then is copied into the {} experts (with a fresh router and optimiser) and training goes on as the MoE.",
                next.hidden, next.dense_steps, next.experts
            ),
            ("init", _) => "restarted training: the experts start from random weights.".to_string(),
            _ => format!("restarted training: {} changed", knob_label(key)),
        };
        ui.notice.set(Some(text));
        rebuild(engine.clone(), ui);
    }
}

/// Set one knob from its string form; a bad value keeps the old one and says why.
fn set_knob(eng: Eng, ui: Ui, key: &'static str, value: String) {
    let prev = ui.cfg.get_untracked();
    let mut next = prev.clone();
    let mut notice = None;
    let checked = next.set(key, &value).and_then(|_| {
        if key == "experts" {
            next.top_k = next.top_k.clamp(1, next.k_max());
        }
        if key == "balance" && prev.balance == Balance::None && next.balance != Balance::None && next.alpha == 0.0 {
            // A balance loss switched on with α = 0 would do nothing: bring α back.
            next.alpha = ui.saved.with_untracked(|m| m.get("alpha").copied()).unwrap_or(Config::default().alpha);
            notice = Some(format!("balance loss on: α set to {}", next.alpha));
        }
        next.validate()
    });
    match checked {
        Ok(()) => apply(&eng.get_value(), ui, next, key, notice),
        Err(e) => {
            ui.notice.set(Some(format!("{e}; kept {key} = {}", prev.get(key).unwrap_or_default())));
            ui.cfg.update(|_| ()); // the control shows the kept value again
        }
    }
}

/// Select a router with its defaults (its k, its balance loss, its α), saying what they changed.
fn choose_router(eng: Eng, ui: Ui, name: &str) {
    let Some(r) = RouterKind::from_name(name) else { return };
    let mut next = ui.cfg.get_untracked();
    let notes = next.with_router(r, &[]);
    match next.validate() {
        Ok(()) => {
            let text = if notes.is_empty() { format!("router: {}", r.info().label) } else { notes.join("; ") };
            apply(&eng.get_value(), ui, next, "router", Some(text));
        }
        Err(e) => {
            ui.notice.set(Some(format!("{} cannot run here: {e}", r.info().label)));
            ui.cfg.update(|_| ()); // the menu shows the kept router again
        }
    }
}

/// The page: the state, the engine started on it, and the components wired to both.
#[component]
pub fn App() -> impl IntoView {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let PageQuery { config: query, bench: bench_steps, debug } = page_query(&search);
    let (cfg0, notices) =
        if bench_steps.is_some() { (Config::default(), vec![]) } else { Config::from_query_lenient(&query) };
    let ui = Ui {
        saved: RwSignal::new(HashMap::new()),
        cfg: RwSignal::new(cfg0),
        playing: RwSignal::new(true),
        speed: RwSignal::new(0),
        step: RwSignal::new(0),
        rate: RwSignal::new(0.0),
        backend: RwSignal::new("starting…".into()),
        banner: RwSignal::new(None),
        notice: RwSignal::new(if notices.is_empty() { None } else { Some(notices.join("; ")) }),
        phase: RwSignal::new(None),
        error: RwSignal::new(None),
        gpu_error: RwSignal::new(None),
        snap: RwSignal::new(None),
        hist: RwSignal::new(vec![]),
        events: RwSignal::new(vec![]),
        map: RwSignal::new(None),
        bench: bench_steps.is_some(),
        bench_out: RwSignal::new(String::new()),
        bench_progress: RwSignal::new(String::new()),
    };
    let engine = Rc::new(RefCell::new(Engine {
        bench: bench_steps.map(|target| Bench { target, ..Default::default() }),
        simulate_gpu_error: debug.as_deref() == Some("gpu-error"),
        ..Default::default()
    }));
    let eng: Eng = StoredValue::new_local(engine.clone());
    remember(ui, &ui.cfg.get_untracked());
    rebuild(engine.clone(), ui);
    frame(engine, ui);
    if debug.as_deref() == Some("panic") {
        set_timeout(|| panic!("debug=panic: a deliberate panic to show the error box"), Duration::from_millis(800));
    }

    let reset = move || rebuild(eng.get_value(), ui);
    let step_once = move || {
        ui.playing.set(false);
        eng.get_value().borrow_mut().step_once = true;
    };
    let restart = move || {
        reset();
        ui.playing.set(true);
    };
    let choose_preset = move |name: String| {
        if let Some(p) = presets::find(&name) {
            let mut c = Config { seed: ui.cfg.get_untracked().seed, ..Config::default() };
            (p.apply)(&mut c);
            ui.notice.set(Some(format!("restarted training: preset “{}”. {}", p.title, p.watch)));
            remember(ui, &c);
            ui.cfg.set(c);
            let e = eng.get_value();
            e.borrow_mut().url_dirty = !ui.bench;
            rebuild(e, ui);
        }
    };
    // The router's menu selects the router with its defaults; every other control sets its knob.
    let on_set = SetKnob::new(move |(key, value): (&'static str, String)| match key {
        "router" => choose_router(eng, ui, &value),
        _ => set_knob(eng, ui, key, value),
    });
    let notify = move |text: String| ui.notice.set(Some(text));
    let collapsed = Signal::derive(move || ui.snap.with(|s| s.as_ref().is_some_and(|s| s.collapsed())));
    let gpu_failed = Signal::derive(move || ui.gpu_error.with(|e| e.is_some()));

    view! {
        <div class="app">
            <TopBar backend=ui.backend step=ui.step rate=ui.rate collapsed=collapsed />
            <Notices banner=ui.banner notice=ui.notice error=ui.error />
            <PhaseLine text=ui.phase />
            <GpuError message=ui.gpu_error on_restart=restart />
            <BenchCard shown=ui.bench progress=ui.bench_progress result=ui.bench_out />
            <div class="layout">
                <aside class="controls" aria-label="controls">
                    <Playback playing=ui.playing speed=ui.speed blocked=gpu_failed on_step=step_once on_reset=reset />
                    <PresetMenu cfg=ui.cfg on_choose=choose_preset />
                    <KnobGroup group=Group::Routing cfg=ui.cfg saved=ui.saved on_set=on_set />
                    <KnobGroup group=Group::Training cfg=ui.cfg saved=ui.saved on_set=on_set />
                    <KnobGroup group=Group::Model cfg=ui.cfg saved=ui.saved on_set=on_set />
                    <ShareExport cfg=ui.cfg hist=ui.hist snap=ui.snap on_notice=notify />
                </aside>
                <Views ui=ui />
            </div>
        </div>
    }
}

/// Mount the app on the page body.
pub fn start() {
    web::install_panic_hook();
    leptos::mount::mount_to_body(App);
}
