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
//! Compare mode trains a second run B beside A, in lockstep (same device kind, same seed and
//! batches unless B's knobs say otherwise): the engine holds a second trainer, every frame trains
//! both the same steps and asks both for snapshots; [`set_compare`] and [`set_knob_side`] are the
//! actions, [`compare`] the panel, and `compare` / `b.KEY=V` its query keys ([`crate::page`]).
//!
//! Query keys besides the config's: `bench` (with optional `steps=N`) trains the default model for
//! a fixed number of steps and writes timings into `[data-testid=bench]`; `present` starts in
//! presentation mode (the top bar's toggle keeps it in the URL); `debug=panic` panics on purpose
//! to show the error box; `debug=gpu-error` reports a (simulated) GPU error once training runs, to
//! show the restart path; `debug=caption` fills the caption band with a sample lesson.
//!
//! Presentation mode (`ui.present`) is for a class in front of a projector: large type (the style
//! sheet's `:root[data-present]`), the charts redrawn larger, the controls folded behind a button,
//! and only the cards of `ui.focus` (one to three; empty: routing, load and losses). `ui.highlight`
//! outlines one card in either mode. The caption band ([`lesson_band::CaptionBand`]) shows
//! `ui.caption`, which a lesson fills.
mod cards;
mod compare;
mod controls;
mod draw;
mod knob_panel;
mod lesson;
mod lesson_band;
mod recover;
mod status;
mod web;

use crate::config::{Balance, Config, Dataset, DenseTwin, Init, RouterKind};
use crate::gpu::GpuTrainer;
use crate::knobs::{Group, Value, KNOBS};
use crate::metrics::Snapshot;
use crate::model::Dims;
use crate::page::{
    bench_json, compare_from_query, diff_label, follow, full_query, knob_label, live_diff, no_webgpu_banner,
    page_query, push_history, with_present, Banner, Hist, PageQuery, Side,
};
use crate::presets;
use crate::regionmap::{self, RegionMap};
use crate::trainer::{CpuTrainer, Trainer};
use crate::upcycle::Upcycle;
use cards::Views;
use compare::{CompareToggle, DiffersPanel};
use controls::{LessonMenu, Playback, PresetMenu, ShareExport};
use draw::Event;
use knob_panel::{KnobGroup, SetKnob};
use leptos::prelude::*;
use lesson_band::{Caption, CaptionBand, SAMPLE_BEATS, SAMPLE_TITLE};
use status::{AboutLine, BenchCard, GpuError, Notices, PhaseLine, TopBar};
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
/// Steps between two snapshots in a lesson (as `tests/lessons.rs` plays them).
const LESSON_WINDOW: u32 = 50;
/// Seconds of training the loop keeps queued on the GPU.
const BACKLOG_S: f64 = 1.0;
/// Window of the steps/s readout.
const RATE_WINDOW_MS: f64 = 5000.0;
/// How long a GPU error waits for the device's "lost" signal (which then leads to recovery)
/// before training stops with the error.
const LOST_GRACE_MS: f64 = 1000.0;

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
    /// Steps it may train before the page must step in (the upcycling switch); unbounded otherwise.
    fn room(&mut self) -> u32 {
        let dense = match self {
            Backend::Gpu(g) => g.is_dense(),
            Backend::Cpu(c) => c.is_dense(),
        };
        let tr = self.trainer();
        if dense {
            tr.config().dense_steps.saturating_sub(tr.steps())
        } else {
            u32::MAX
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
    /// The result (JSON) once the last step's snapshot is in, waiting for the per-kernel profile.
    result: Option<String>,
}

/// The trainer and the loop's own state (outside the reactive graph).
#[derive(Default)]
struct Engine {
    backend: Option<Backend>,
    /// Compare mode's run B (None with compare off, and while it is lent to its upcycling switch).
    backend_b: Option<Backend>,
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
    /// Run B's snapshots requested and not yet returned, when it last returned one, and the step of
    /// its latest.
    outstanding_b: u32,
    progress_b: f64,
    snap_step_b: u32,
    url_dirty: bool,
    url_written: f64,
    bench: Option<Bench>,
    /// `debug=gpu-error`: report a GPU error once training runs, to exercise the restart path.
    simulate_gpu_error: bool,
    /// Steps owed under a speed limit (fractional), and the previous frame's time.
    speed_budget: f64,
    last_frame: f64,
    /// A lesson's beat ends at this step: training stops there until the lesson goes on.
    stop_at: Option<u32>,
    /// Run B's snapshot is due (requested with A's; retried while its slots are busy).
    want_snapshot_b: bool,
    /// Checkpoints of the GPU runs, to recover from a lost device.
    checkpoints: recover::Checkpoints,
    /// When the trainer first reported an error (the loop waits LOST_GRACE_MS for a device loss
    /// behind it before stopping with the error).
    error_seen: Option<f64>,
}

type Eng = StoredValue<Rc<RefCell<Engine>>, LocalStorage>;

/// The page's reactive state.
#[derive(Clone, Copy)]
struct Ui {
    cfg: RwSignal<Config>,
    /// Compare mode's run B (None = compare mode off), its latest snapshot and its history.
    cfg_b: RwSignal<Option<Config>>,
    snap_b: RwSignal<Option<Snapshot>>,
    hist_b: RwSignal<Vec<Hist>>,
    playing: RwSignal<bool>,
    /// Speed limit in steps per second; 0 = as fast as the device allows.
    speed: RwSignal<u32>,
    step: RwSignal<u32>,
    rate: RwSignal<f32>,
    backend: RwSignal<String>,
    banner: RwSignal<Option<Banner>>,
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
    /// The benchmark's per-kernel table (GPU only; "" before).
    bench_kernels: RwSignal<String>,
    /// Presentation mode: large type, few cards, the controls folded away.
    present: RwSignal<bool>,
    /// In presentation mode, whether the controls are unfolded.
    controls_open: RwSignal<bool>,
    /// The cards presentation mode shows (ids of [`crate::page::CARD_IDS`], one to three; empty:
    /// [`crate::page::DEFAULT_FOCUS`]).
    focus: RwSignal<Vec<&'static str>>,
    /// The card outlined for the class, if any (in both modes).
    highlight: RwSignal<Option<&'static str>>,
    /// The caption band's content (empty: no band); a lesson fills it.
    caption: Caption,
    /// The lesson being played, and its expected outcome's checks so far (what, held; None: the
    /// beat was left before its end).
    lesson: RwSignal<Option<lesson::Playing>>,
    checks: RwSignal<Vec<(&'static str, Option<bool>)>>,
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Put the query `q` in the address bar (replacing the history entry, so Back leaves the page).
fn replace_query(q: &str) {
    if let Some(w) = web_sys::window() {
        let url = if q.is_empty() { w.location().pathname().unwrap_or_default() } else { format!("?{q}") };
        let _ = w.history().and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url)));
    }
}

/// The address bar's query now.
fn current_query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// Put the query of `cfg` (and compare mode's run B `cfg_b`) in the address bar, keeping
/// presentation mode's key and the lesson's as they are there.
fn write_url(cfg: &Config, cfg_b: Option<&Config>) {
    let now = page_query(&current_query());
    let q = with_present(&full_query(cfg, cfg_b), now.present);
    replace_query(&crate::page::with_lesson(&q, now.lesson.as_deref()));
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

/// Run B's trainer for `cfg`, on the same kind of device as A's `like` (on the CPU with the same
/// smaller batch).
async fn build_like(like: &Backend, cfg: &Config) -> Result<Backend, String> {
    match like {
        Backend::Gpu(_) => Upcycle::gpu(cfg).await.map(|g| Backend::Gpu(Box::new(g))),
        Backend::Cpu(_) => {
            let small = Config { tokens: cfg.tokens.min(CPU_TOKENS), ..cfg.clone() };
            Upcycle::cpu(&small).map(|c| Backend::Cpu(Box::new(c))).map_err(|e| e.to_string())
        }
    }
}

/// Build the trainer for `cfg` (and in compare mode run B's for `cfg_b`, on the same kind of
/// device): WebGPU when the browser has an adapter, else the CPU reference.
fn rebuild(engine: Rc<RefCell<Engine>>, ui: Ui) {
    let cfg = ui.cfg.get_untracked();
    let cfg_b = ui.cfg_b.get_untracked();
    let generation = {
        let mut e = engine.borrow_mut();
        e.backend = None;
        e.backend_b = None;
        e.outstanding_b = 0;
        e.snap_step_b = 0;
        e.generation += 1;
        e.reading = false;
        e.failed = false;
        e.outstanding = 0;
        e.map_step = None;
        e.map_due = 0.0;
        e.recent.clear();
        e.rate = 0.0;
        e.snap_step = 0;
        e.checkpoints.reset(now_ms());
        e.error_seen = None;
        e.generation
    };
    ui.snap.set(None);
    ui.hist.set(vec![]);
    ui.snap_b.set(None);
    ui.hist_b.set(vec![]);
    ui.events.set(vec![]);
    ui.map.set(None);
    ui.phase.set(None);
    ui.step.set(0);
    ui.rate.set(0.0);
    ui.error.set(None);
    ui.gpu_error.set(None);
    ui.backend.set("starting…".into());
    leptos::task::spawn_local(async move {
        let (backend, banner): (Backend, Option<Banner>) = match Upcycle::gpu(&cfg).await {
            Ok(g) => (Backend::Gpu(Box::new(g)), None),
            Err(err) => {
                let small = Config { tokens: cfg.tokens.min(CPU_TOKENS), ..cfg.clone() };
                match Upcycle::cpu(&small) {
                    Ok(c) => (
                        Backend::Cpu(Box::new(c)),
                        Some(no_webgpu_banner(&err.to_string(), small.tokens, web::browser())),
                    ),
                    Err(e) => {
                        ui.error.set(Some(e.to_string()));
                        return;
                    }
                }
            }
        };
        let backend_b = match &cfg_b {
            Some(b) => match build_like(&backend, b).await {
                Ok(be) => Some(be),
                Err(err) => {
                    lesson::end(&engine, ui);
                    ui.notice.set(Some(format!("compare mode off: run B could not start ({err}).")));
                    ui.cfg_b.set(None);
                    None
                }
            },
            None => None,
        };
        let mut e = engine.borrow_mut();
        if e.generation != generation {
            return; // a newer rebuild superseded this one
        }
        if backend_b.is_none() && cfg_b.is_some() {
            e.url_dirty = true; // compare mode went off
        }
        let mut backend = backend;
        ui.backend.set(backend.trainer().backend());
        ui.banner.set(banner);
        ui.phase.set(backend.phase_note(0));
        e.steps_per_frame = if backend.is_gpu() { 2 } else { 1 };
        e.backend = Some(backend);
        // Compare mode may have been turned off while B was being built.
        e.backend_b = backend_b.filter(|_| ui.cfg_b.with_untracked(Option::is_some));
        e.since_snapshot = 0;
        e.want_snapshot = true;
        e.last_progress = now_ms();
        e.progress_b = e.last_progress;
        // The first checkpoint comes CHECKPOINT_MS after training starts (not after the rebuild
        // began: opening the device and building the pipelines takes a while).
        let started = e.last_progress;
        e.checkpoints.reset(started);
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
                    catch_up(&mut backend, &ui.cfg.get_untracked());
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

/// Knobs moved while a trainer was lent out (region map, upcycling switch) reach it now.
fn catch_up(backend: &mut Backend, cfg: &Config) {
    let tr = backend.trainer();
    if tr.config().same_structure(cfg) && tr.config().live() != cfg.live() {
        let _ = tr.set_live(cfg.live());
    }
}

/// Upcycling's phase switch of run A or B (`side`), without blocking the loop: the trainer is
/// lent to [`Upcycle::switch`] (on the GPU an asynchronous readback of the dense weights) and comes
/// back as the MoE (the loop skips training for those frames, for both runs).
fn start_switch(engine: &Rc<RefCell<Engine>>, e: &mut Engine, ui: Ui, side: Side) {
    let is_b = side == Side::B;
    let slot = if is_b { &mut e.backend_b } else { &mut e.backend };
    let Some(backend) = slot.take() else { return };
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
                let cfg = if is_b { ui.cfg_b.get_untracked() } else { Some(ui.cfg.get_untracked()) };
                let Some(cfg) = cfg else { return }; // compare mode went off meanwhile: run B is gone
                catch_up(&mut backend, &cfg);
                let at = backend.trainer().steps();
                let label = if is_b { "B upcycled" } else { "upcycled" };
                ui.events.update(|ev| ev.push((at as f32, label.into())));
                if is_b {
                    eng.backend_b = Some(backend);
                } else {
                    ui.phase.set(backend.phase_note(at));
                    eng.backend = Some(backend);
                }
                eng.want_snapshot = true;
            }
            Err(err) => {
                eng.failed = true;
                ui.playing.set(false);
                let run = if is_b { " of run B" } else { "" };
                ui.gpu_error.set(Some(format!(
                    "Copying the dense model{run} into the experts failed: {err}. Restart rebuilds the trainer (from \
                     the seed; the weights so far are lost)."
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

/// Steps the `?bench` page's per-kernel profile is over.
const PROFILE_STEPS: u32 = 50;

/// The benchmark's steps are done: on the GPU, lend the trainer to [`Upcycle::profile`] and publish
/// the result with each kernel's time (JSON `kernels`, and a table on the card); on the CPU the
/// result as it is.
fn profile_kernels(engine: &Rc<RefCell<Engine>>, e: &mut Engine, ui: Ui) {
    let Some(result) = e.bench.as_mut().and_then(|b| b.result.take()) else { return };
    match e.backend.take() {
        Some(Backend::Gpu(mut g)) => {
            e.reading = true;
            let generation = e.generation;
            let engine = engine.clone();
            ui.bench_progress.set(format!("done; timing each kernel over {PROFILE_STEPS} more steps…"));
            leptos::task::spawn_local(async move {
                let p = g.profile(PROFILE_STEPS, &now_ms).await;
                let mut eng = engine.borrow_mut();
                if eng.generation != generation {
                    return;
                }
                eng.backend = Some(Backend::Gpu(g));
                eng.reading = false;
                ui.bench_progress.set("done".into());
                ui.bench_kernels.set(format!("Each kernel's time per step ({}):\n{}", p.timer.describe(), p.table()));
                ui.bench_out.set(format!("{},\"kernels\":{}}}", result.trim_end_matches('}'), p.json()));
            });
        }
        other => {
            e.backend = other;
            ui.bench_out.set(result);
        }
    }
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
            write_url(&ui.cfg.get_untracked(), ui.cfg_b.get_untracked().as_ref());
        }
        // A lost device is recovered from even after its failed readbacks stopped training: they
        // often arrive a moment before the device's "lost" signal.
        if e.backend.as_ref().is_some_and(Backend::lost) || e.backend_b.as_ref().is_some_and(Backend::lost) {
            recover::recover(&engine, e, ui);
        } else if !e.failed {
            if let Some(be) = e.backend.as_mut() {
                let simulated = (e.simulate_gpu_error && ui.step.get_untracked() > 0).then(|| {
                    e.simulate_gpu_error = false;
                    "a simulated device error (debug=gpu-error)".to_string()
                });
                let err_b = e.backend_b.as_ref().and_then(Backend::error).map(|m| format!("run B: {m}"));
                let is_simulated = simulated.is_some();
                if let Some(err) = simulated.or_else(|| be.error()).or(err_b) {
                    // Give a device loss behind the error a moment to show itself before saying so.
                    let since = *e.error_seen.get_or_insert(t);
                    if is_simulated || t - since >= LOST_GRACE_MS {
                        e.failed = true;
                        ui.playing.set(false);
                        ui.gpu_error.set(Some(format!(
                            "The GPU reported an error and training stopped: {err}. Restart rebuilds the trainer \
                             (from the seed; the weights so far are lost)."
                        )));
                    }
                } else {
                    train_frame(e, ui, t);
                    recover::tend(e, ui, t);
                }
            }
        }
        if !e.failed && !e.reading {
            if e.backend.as_ref().is_some_and(Backend::switch_due) {
                start_switch(&engine, e, ui, Side::A);
            } else if e.backend_b.as_ref().is_some_and(Backend::switch_due) {
                start_switch(&engine, e, ui, Side::B);
            }
        }
        if !e.failed && !e.reading && e.bench.as_ref().is_some_and(|b| b.result.is_some()) {
            profile_kernels(&engine, e, ui);
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

/// The training part of a frame (the trainer is present and healthy). In compare mode run B trains
/// the same steps in the same frame and is asked for its snapshot with A's.
fn train_frame(e: &mut Engine, ui: Ui, t: f64) {
    let Some(be) = e.backend.as_mut() else { return };
    // Lockstep: while run B is away (being built, or lent to its upcycling switch), A waits too.
    if ui.cfg_b.with_untracked(Option::is_some) && e.backend_b.is_none() {
        return;
    }
    let gpu = be.is_gpu();
    let room = be.room().min(e.backend_b.as_mut().map_or(u32::MAX, Backend::room));
    let tr = be.trainer();
    let mut tr_b = e.backend_b.as_mut().map(Backend::trainer);
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
        // Both runs stop at an upcycling switch together, and at the end of a lesson's beat.
        n = n.min(room);
        if let Some(stop) = e.stop_at {
            // In a lesson: not past the beat's end, nor past the end of the metrics window (the
            // lesson's checks read windows of exactly LESSON_WINDOW steps, as the headless runner
            // takes them; training waits while that window's snapshot cannot be asked yet).
            n = n.min(stop.saturating_sub(tr.steps())).min(LESSON_WINDOW.saturating_sub(e.since_snapshot));
        }
        if gpu {
            // Keep about a second of work queued on the GPU, so snapshots (and with them knob
            // changes, readbacks and restarts) stay timely on slow GPUs; B counts as much as A.
            // In a lesson snapshots come only every LESSON_WINDOW steps: the backlog must hold a
            // window in flight and the next one being trained, or training would wait for a
            // snapshot that waits for training.
            let floor = if e.stop_at.is_some() { 2 * LESSON_WINDOW } else { 8 };
            let allowed = if e.rate > 0.0 { (e.rate * BACKLOG_S).clamp(8.0, 4096.0) as u32 } else { 64 }.max(floor);
            let behind_b = tr_b.as_ref().map_or(0, |b| b.steps().saturating_sub(e.snap_step_b));
            n = n.min(allowed.saturating_sub(tr.steps().saturating_sub(e.snap_step).max(behind_b)));
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
            if let Some(b) = tr_b.as_deref_mut() {
                b.train(n);
            }
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
    // In a lesson a snapshot closes every LESSON_WINDOW steps exactly (as the headless runner takes
    // them: its checks read such windows; shorter ones made "nearly idle" noisy enough to flip the
    // dead-experts verdict on the page) and at the beat's end, and at no other time.
    let in_lesson = e.stop_at.is_some();
    let lesson_due = in_lesson && (e.since_snapshot >= LESSON_WINDOW || tr.steps() == e.stop_at.unwrap_or(0));
    let due = if in_lesson { lesson_due } else { e.frame.is_multiple_of(SNAPSHOT_EVERY) || bench_end };
    if (e.since_snapshot > 0 && due) || e.want_snapshot {
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
            e.want_snapshot_b = tr_b.is_some();
        } else if gpu {
            // Snapshots are backing up: the GPU is behind, encode less per frame.
            e.steps_per_frame = (e.steps_per_frame / 2).max(1);
        }
    }
    // Run B closes its window with A's; while its snapshot slots are busy it asks again each frame
    // (a lesson's beat ends only when both runs have shown its last step).
    if e.want_snapshot_b && tr_b.as_deref_mut().is_some_and(|b| b.request_snapshot()) {
        e.want_snapshot_b = false;
        if e.outstanding_b == 0 {
            e.progress_b = t;
        }
        e.outstanding_b += 1;
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
                    b.result = Some(bench_result(b, &tr.backend(), tr.config().tokens, t));
                    ui.playing.set(false);
                }
            }
        }
        receive(ui, Side::A, s, tr.config().lr);
    }
    if let Some(b) = tr_b {
        while let Some(s) = b.poll_snapshot() {
            e.outstanding_b = e.outstanding_b.saturating_sub(1);
            e.progress_b = t;
            e.snap_step_b = s.step;
            receive(ui, Side::B, s, b.config().lr);
        }
    }
    let note = be.phase_note(ui.step.get_untracked());
    if ui.phase.with_untracked(|p| *p != note) {
        ui.phase.set(note);
    }
    let stalled = |outstanding: u32, since: f64| outstanding > 0 && t - since > STALL_MS;
    if gpu && (stalled(e.outstanding, e.last_progress) || stalled(e.outstanding_b, e.progress_b)) {
        e.failed = true;
        ui.playing.set(false);
        ui.gpu_error.set(Some(format!(
            "The GPU has not returned any results for {} s: the device may have been lost (a driver reset, a \
             long time in a background tab) or be overloaded. Restart rebuilds the trainer.",
            STALL_MS / 1000.0
        )));
    }
}

/// A snapshot of run A or B (`side`) arrived: stop on divergence (saying which run, and its
/// learning rate `lr`), add it to that run's history and show it.
fn receive(ui: Ui, side: Side, s: Snapshot, lr: f32) {
    if s.diverged() {
        let who = match (side, ui.cfg_b.with_untracked(Option::is_some)) {
            (Side::B, _) => "Run B",
            (_, true) => "Run A",
            _ => "Training",
        };
        ui.playing.set(false);
        ui.error.set(Some(format!(
            "{who} diverged at step {}: the loss or a gradient became NaN/∞, so those steps were skipped and the \
             last finite weights kept. Lower the learning rate (now {lr}) and press play.",
            s.step
        )));
    }
    let (hist, snap) = if side == Side::B { (ui.hist_b, ui.snap_b) } else { (ui.hist, ui.snap) };
    if s.steps > 0 {
        hist.update(|h| push_history(h, Hist::of(&s)));
        if side == Side::A {
            web::set_root_data("data-history", Some(hist.with_untracked(Vec::len).to_string()));
        }
    }
    snap.set(Some(s));
}

/// Send the live knobs of `cfg` to a running trainer (k at most what its buffers hold).
fn send_live(backend: Option<&mut Backend>, cfg: &Config, ui: Ui) {
    if let Some(be) = backend {
        let tr = be.trainer();
        let mut live = cfg.live();
        live.top_k = live.top_k.min(tr.config().k_max());
        if let Err(e) = tr.set_live(live) {
            ui.error.set(Some(e.to_string()));
        }
    }
}

/// The change marker of a live change: A's knobs, and B's when they changed otherwise.
fn change_label(prev: &Config, next: &Config, prev_b: Option<&Config>, next_b: Option<&Config>) -> String {
    let a = live_diff(prev, next);
    let b = match (prev_b, next_b) {
        (Some(p), Some(n)) => live_diff(p, n),
        _ => String::new(),
    };
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a,
        _ if a == b => a,
        (true, false) => format!("B: {b}"),
        (false, false) => format!("A: {a}; B: {b}"),
    }
}

/// What a restart because of knob `key` says, for the config `next` that restarts.
fn restart_text(key: &str, next: &Config) -> String {
    let (kh, eh) = (next.top_k * next.hidden, next.experts * next.hidden);
    match (key, next.dense_twin) {
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
    }
}

/// Apply new configs, A's `next` and run B's `next_b` (None = compare mode off): live knobs go to
/// the running trainers, a structural change on either rebuilds both (a lockstep restart).
fn apply(
    engine: &Rc<RefCell<Engine>>,
    ui: Ui,
    next: Config,
    next_b: Option<Config>,
    key: &str,
    notice: Option<String>,
) {
    let prev = ui.cfg.get_untracked();
    let prev_b = ui.cfg_b.get_untracked();
    let invalid = next.validate().is_err() || next_b.as_ref().is_some_and(|b| b.validate().is_err());
    if invalid || (next == prev && next_b == prev_b) {
        return;
    }
    ui.cfg.set(next.clone());
    ui.cfg_b.set(next_b.clone());
    if !ui.bench {
        engine.borrow_mut().url_dirty = true;
    }
    remember(ui, &next);
    let live_b = match (&prev_b, &next_b) {
        (Some(p), Some(n)) => p.same_structure(n),
        (p, n) => p.is_none() && n.is_none(),
    };
    if prev.same_structure(&next) && live_b {
        ui.notice.set(notice);
        let label = change_label(&prev, &next, prev_b.as_ref(), next_b.as_ref());
        let at = ui.step.get_untracked() as f32;
        ui.events.update(|ev| match ev.last_mut() {
            Some(last) if last.0 == at => last.1 = label,
            _ => ev.push((at, label)),
        });
        let mut e = engine.borrow_mut();
        send_live(e.backend.as_mut(), &next, ui);
        if let Some(b) = &next_b {
            send_live(e.backend_b.as_mut(), b, ui);
        }
    } else {
        // Say what restarts the config that changed structure (B's when only B's did).
        let text = match &next_b {
            Some(b) if prev.same_structure(&next) => {
                format!("run B {}; both runs restart together, from the same seed.", restart_text(key, b))
            }
            Some(_) => format!("{}; both runs restart together, from the same seed.", restart_text(key, &next)),
            None => restart_text(key, &next),
        };
        // The lesson's beats need its runs from their start: a restart leaves the lesson.
        let text = match ui.lesson.get_untracked() {
            Some(p) => format!("{text} Left the lesson “{}” (its runs restarted).", p.lesson.title),
            None => text,
        };
        lesson::end(engine, ui);
        ui.notice.set(Some(text));
        rebuild(engine.clone(), ui);
    }
}

/// `c` with knob `key` set to `value`, and a note on what else that changed; or why not, in a
/// sentence. The router comes with its defaults (its k, its balance loss, its α), as its menu
/// does; E clamps k; a balance loss switched on with α = 0 brings α back.
fn changed(ui: Ui, c: &Config, key: &str, value: &str) -> Result<(Config, Option<String>), String> {
    let mut next = c.clone();
    if key == "router" {
        let Some(r) = RouterKind::from_name(value) else {
            return Err(format!("there is no router called {value:?}"));
        };
        let notes = next.with_router(r, &[]);
        return match next.validate() {
            Ok(()) => {
                let text = if notes.is_empty() { format!("router: {}", r.info().label) } else { notes.join("; ") };
                Ok((next, Some(text)))
            }
            Err(e) => Err(format!("{} cannot run here: {e}", r.info().label)),
        };
    }
    let mut notice = None;
    let checked = next.set(key, value).and_then(|_| {
        if key == "experts" {
            next.top_k = next.top_k.clamp(1, next.k_max());
        }
        if key == "balance" && c.balance == Balance::None && next.balance != Balance::None && next.alpha == 0.0 {
            // A balance loss switched on with α = 0 would do nothing: bring α back.
            next.alpha = ui.saved.with_untracked(|m| m.get("alpha").copied()).unwrap_or(Config::default().alpha);
            notice = Some(format!("balance loss on: α set to {}", next.alpha));
        }
        next.validate()
    });
    match checked {
        Ok(()) => Ok((next, notice)),
        Err(e) => Err(format!("{e}; kept {key} = {}", c.get(key).unwrap_or_default())),
    }
}

/// Set one knob from its string form on run A, run B or both (`side`; with compare mode off only
/// A exists). On A, B follows unless it has its own value for that knob ([`follow`]): B keeps its
/// differences. A bad value keeps the old one and says why. A change by hand during a lesson
/// leaves the lesson (its captions and checks describe the runs it set up); the runs go on.
fn set_knob_side(eng: Eng, ui: Ui, side: Side, key: &'static str, value: String) {
    let before = (ui.cfg.get_untracked(), ui.cfg_b.get_untracked());
    set_knob_side_inner(eng, ui, side, key, value);
    let Some(p) = ui.lesson.get_untracked() else { return };
    if (ui.cfg.get_untracked(), ui.cfg_b.get_untracked()) == before {
        return; // refused or unchanged: the lesson goes on
    }
    lesson::end(&eng.get_value(), ui);
    let text = format!(
        "Left the lesson “{}”: {} was changed by hand, so its captions would no longer describe these runs. \
         Training goes on.",
        p.lesson.title,
        knob_label(key)
    );
    ui.notice.update(|n| *n = Some(n.take().map_or(text.clone(), |t| format!("{t} {text}"))));
}

fn set_knob_side_inner(eng: Eng, ui: Ui, side: Side, key: &'static str, value: String) {
    let a = ui.cfg.get_untracked();
    let refuse = |text: String| {
        ui.notice.set(Some(text));
        // The controls show the kept values again.
        ui.cfg.update(|_| ());
        ui.cfg_b.update(|_| ());
    };
    let Some(b) = ui.cfg_b.get_untracked() else {
        if side == Side::B {
            return refuse("compare mode is off: turn it on to give run B settings of its own".into());
        }
        return match changed(ui, &a, key, &value) {
            Ok((next, notice)) => apply(&eng.get_value(), ui, next, None, key, notice),
            Err(text) => refuse(text),
        };
    };
    let (next_a, notice_a) = match side {
        Side::B => (a.clone(), None),
        _ => match changed(ui, &a, key, &value) {
            Ok(x) => x,
            Err(text) => return refuse(text),
        },
    };
    let (next_b, notice_b) = match side {
        Side::A => match follow(&a, &b, &next_a) {
            Ok(next_b) => (next_b, None),
            Err(e) => {
                (b.clone(), Some(format!("run B keeps its settings: with this change they would not work ({e})")))
            }
        },
        _ => match changed(ui, &b, key, &value) {
            Ok((next_b, notice)) => (next_b, notice.map(|n| format!("run B: {n}"))),
            Err(text) => return refuse(format!("run B: {text}")),
        },
    };
    let notes: Vec<String> = [notice_a, notice_b].into_iter().flatten().collect();
    let notice = (!notes.is_empty()).then(|| notes.join("; "));
    apply(&eng.get_value(), ui, next_a, Some(next_b), key, notice);
}

/// Turn compare mode on with run B = `b` (both runs restart together from the seed and train on
/// the same batches), or off (None: run B stops, A trains on).
fn set_compare(eng: Eng, ui: Ui, b: Option<Config>) {
    let engine = eng.get_value();
    let Some(b) = b else {
        if ui.cfg_b.with_untracked(Option::is_none) {
            return;
        }
        lesson::end(&engine, ui); // a lesson needs both runs
        ui.cfg_b.set(None);
        ui.snap_b.set(None);
        ui.hist_b.set(vec![]);
        let mut e = engine.borrow_mut();
        e.backend_b = None;
        e.outstanding_b = 0;
        e.url_dirty = !ui.bench;
        ui.notice.set(Some("compare mode off: run B stopped; run A trains on.".into()));
        return;
    };
    if let Err(e) = b.validate() {
        ui.notice.set(Some(format!("compare mode stays off: run B's settings do not work ({e})")));
        return;
    }
    let a = ui.cfg.get_untracked();
    let what = if a == b {
        "run B starts as a copy of A: give it its own value for any knob under “B differs in”".to_string()
    } else {
        let (la, lb) = diff_label(&a, &b);
        format!("{la} · {lb}")
    };
    ui.cfg_b.set(Some(b));
    engine.borrow_mut().url_dirty = !ui.bench;
    ui.notice.set(Some(format!(
        "compare mode on: {what}. Both runs restarted from the same seed and train on the same batches, side by side."
    )));
    rebuild(engine, ui);
}

/// The page: the state, the engine started on it, and the components wired to both.
#[component]
pub fn App() -> impl IntoView {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let PageQuery { config: query, bench: bench_steps, debug, present, lesson: lesson_id } = page_query(&search);
    let (cfg0, mut notices) =
        if bench_steps.is_some() { (Config::default(), vec![]) } else { Config::from_query_lenient(&query) };
    let (cfg_b, notices_b) = if bench_steps.is_some() { (None, vec![]) } else { compare_from_query(&search, &cfg0) };
    notices.extend(notices_b);
    // `lesson=ID`: the lesson's own configs (from the URL's seed) replace the URL's.
    let first_lesson = match lesson_id.filter(|_| bench_steps.is_none()).map(|id| crate::page::lesson_of(&id)) {
        Some(Ok(l)) => Some(l),
        Some(Err(text)) => {
            notices.push(text);
            replace_query(&crate::page::with_lesson(&search, None));
            None
        }
        None => None,
    };
    let ui = Ui {
        saved: RwSignal::new(HashMap::new()),
        cfg: RwSignal::new(cfg0),
        cfg_b: RwSignal::new(cfg_b),
        snap_b: RwSignal::new(None),
        hist_b: RwSignal::new(vec![]),
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
        bench_kernels: RwSignal::new(String::new()),
        present: RwSignal::new(present),
        controls_open: RwSignal::new(false),
        focus: RwSignal::new(vec![]),
        highlight: RwSignal::new(None),
        caption: Caption::default(),
        lesson: RwSignal::new(None),
        checks: RwSignal::new(vec![]),
    };
    let engine = Rc::new(RefCell::new(Engine {
        bench: bench_steps.map(|target| Bench { target, ..Default::default() }),
        simulate_gpu_error: debug.as_deref() == Some("gpu-error"),
        ..Default::default()
    }));
    let eng: Eng = StoredValue::new_local(engine.clone());
    remember(ui, &ui.cfg.get_untracked());
    match first_lesson {
        Some(l) => lesson::start(eng, ui, l, 0),
        None => rebuild(engine.clone(), ui),
    }
    frame(engine, ui);
    // A lesson's beat ends when a snapshot shows it.
    Effect::new(move |_| {
        ui.hist.track();
        ui.hist_b.track();
        lesson::check(eng, ui);
    });
    if debug.as_deref() == Some("panic") {
        set_timeout(|| panic!("debug=panic: a deliberate panic to show the error box"), Duration::from_millis(800));
    }

    // In a lesson, reset starts it again from its first beat.
    let reset = move || match ui.lesson.get_untracked() {
        Some(p) => lesson::start(eng, ui, p.lesson, 0),
        None => rebuild(eng.get_value(), ui),
    };
    let step_once = move || {
        ui.playing.set(false);
        eng.get_value().borrow_mut().step_once = true;
    };
    // After a GPU error: rebuild; in a lesson, replay it up to the beat it was at.
    let restart = move || {
        match ui.lesson.get_untracked() {
            Some(p) => lesson::start(eng, ui, p.lesson, p.beat),
            None => rebuild(eng.get_value(), ui),
        }
        ui.playing.set(true);
    };
    let choose_preset = move |name: String| {
        if let Some(p) = presets::find(&name) {
            lesson::end(&eng.get_value(), ui);
            let prev = ui.cfg.get_untracked();
            let mut c = Config { seed: prev.seed, ..Config::default() };
            (p.apply)(&mut c);
            let mut text = format!("restarted training: preset “{}”. {}", p.title, p.watch);
            if let Some(b) = ui.cfg_b.get_untracked() {
                // Run B takes the preset too, keeping its own differences where they still work.
                let next_b = follow(&prev, &b, &c).unwrap_or_else(|_| c.clone());
                text.push_str(if next_b == c { " Run B now equals A." } else { " Run B keeps its differences." });
                ui.cfg_b.set(Some(next_b));
            }
            ui.notice.set(Some(text));
            remember(ui, &c);
            ui.cfg.set(c);
            let e = eng.get_value();
            e.borrow_mut().url_dirty = !ui.bench;
            rebuild(e, ui);
        }
    };
    // The panels set A's knobs (B follows where it has no value of its own); the router's menu
    // selects the router with its defaults.
    let on_set = SetKnob::new(move |(key, value): (&'static str, String)| set_knob_side(eng, ui, Side::A, key, value));
    let on_set_b =
        SetKnob::new(move |(key, value): (&'static str, String)| set_knob_side(eng, ui, Side::B, key, value));
    let on_compare = move |on: bool| set_compare(eng, ui, on.then(|| ui.cfg.get_untracked()));
    let notify = move |text: String| ui.notice.set(Some(text));
    // Presentation mode: the style sheet's switch on <html>, and the URL (its other keys kept).
    Effect::new(move |first: Option<()>| {
        let on = ui.present.get();
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = if on { root.set_attribute("data-present", "") } else { root.remove_attribute("data-present") };
        }
        if first.is_some() && !ui.bench {
            replace_query(&with_present(&current_query(), on));
        }
        if !on {
            ui.controls_open.set(false);
        }
    });
    // The lesson player fills `ui.caption` and drives these; until then `debug=caption` shows a
    // sample lesson (back and next step through it, play toggles training).
    let beat = RwSignal::new(0usize);
    let sample = debug.as_deref() == Some("caption");
    let show_beat = move |i: usize| {
        let (text, question, card) = SAMPLE_BEATS[i];
        ui.caption.title.set(SAMPLE_TITLE.into());
        ui.caption.text.set(text.into());
        ui.caption.question.set(question.map(String::from));
        ui.caption.progress.set(format!("beat {} of {}", i + 1, SAMPLE_BEATS.len()));
        ui.highlight.set(Some(card));
        beat.set(i);
    };
    if sample {
        show_beat(1);
    }
    let in_lesson = move || ui.lesson.with_untracked(Option::is_some);
    let beat_prev = move || {
        if in_lesson() {
            lesson::prev(eng, ui);
        } else if sample {
            show_beat(beat.get_untracked().saturating_sub(1));
        }
    };
    let beat_next = move || {
        if in_lesson() {
            lesson::next(eng, ui);
        } else if sample {
            show_beat((beat.get_untracked() + 1).min(SAMPLE_BEATS.len() - 1));
        }
    };
    let beat_play = move || lesson::play(eng, ui);
    // A lesson's keys: space goes on after a shown beat, n and p step through the beats.
    let lesson_key = Callback::new(move |key: String| match key.as_str() {
        " " if in_lesson() => {
            lesson::play(eng, ui);
            true
        }
        "n" if in_lesson() => {
            lesson::next(eng, ui);
            true
        }
        "p" if in_lesson() => {
            lesson::prev(eng, ui);
            true
        }
        _ => false,
    });
    let choose_lesson = move |id: String| match crate::lessons::find(&id) {
        Some(l) => {
            ui.notice.set(Some(format!(
                "lesson “{}”: runs A and B restarted from the seed with the lesson's settings. Space goes on at \
                 each pause; n skips to the next beat, p goes back one.",
                l.title
            )));
            lesson::start(eng, ui, l, 0);
        }
        None => lesson::end(&eng.get_value(), ui),
    };
    let controls_class = move || if ui.controls_open.get() { "controls open" } else { "controls" };
    let collapsed = Signal::derive(move || ui.snap.with(|s| s.as_ref().is_some_and(|s| s.collapsed())));
    let gpu_failed = Signal::derive(move || ui.gpu_error.with(|e| e.is_some()));

    view! {
        <div class="app" class:present=move || ui.present.get()>
            <TopBar backend=ui.backend step=ui.step rate=ui.rate collapsed=collapsed present=ui.present
                controls_open=ui.controls_open />
            <CaptionBand title=ui.caption.title text=ui.caption.text question=ui.caption.question
                progress=ui.caption.progress verdict=ui.caption.verdict playing=ui.playing on_prev=beat_prev on_play=beat_play on_next=beat_next />
            <Notices banner=ui.banner notice=ui.notice error=ui.error />
            <PhaseLine text=ui.phase />
            <GpuError message=ui.gpu_error on_restart=restart />
            <BenchCard shown=ui.bench progress=ui.bench_progress result=ui.bench_out kernels=ui.bench_kernels />
            <div class="layout">
                <aside class=controls_class id="controls" aria-label="controls">
                    <Playback playing=ui.playing speed=ui.speed blocked=gpu_failed on_step=step_once on_reset=reset keys=lesson_key on_play=Callback::new(move |()| lesson::play(eng, ui)) />
                    <LessonMenu current=Signal::derive(move || ui.lesson.with(|p| p.map(|p| p.lesson.id))) on_choose=choose_lesson />
                    <CompareToggle on=Signal::derive(move || ui.cfg_b.with(Option::is_some)) on_toggle=on_compare />
                    <DiffersPanel cfg=ui.cfg cfg_b=ui.cfg_b on_set_b=on_set_b />
                    <PresetMenu cfg=ui.cfg on_choose=choose_preset />
                    <KnobGroup group=Group::Routing cfg=ui.cfg saved=ui.saved on_set=on_set />
                    <KnobGroup group=Group::Training cfg=ui.cfg saved=ui.saved on_set=on_set />
                    <KnobGroup group=Group::Model cfg=ui.cfg saved=ui.saved on_set=on_set />
                    <ShareExport cfg=ui.cfg cfg_b=ui.cfg_b hist=ui.hist hist_b=ui.hist_b snap=ui.snap snap_b=ui.snap_b on_notice=notify />
                </aside>
                <Views ui=ui />
            </div>
            <AboutLine />
        </div>
    }
}

/// Mount the app on the page body.
pub fn start() {
    web::install_panic_hook();
    leptos::mount::mount_to_body(App);
}
