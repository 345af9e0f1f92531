//! One training session: runs A and (in compare mode) B, their pacing and GPU backlog, metrics
//! windows and snapshots, checkpoints and device-loss recovery, the benchmark and the lesson
//! player — natively compiled and tested; the page only turns its [`Event`]s into signals and draws.
//!
//! A session is driven by its host:
//! - [`Session::handle`] takes a typed [`Cmd`] (a knob change, play, a lesson's next beat, …);
//! - [`Session::tick`] is one frame of the loop (the page calls it from requestAnimationFrame):
//!   it trains a few steps, asks for and collects snapshots, checkpoints, and ends a lesson's beat;
//! - [`Session::drain`] hands out what happened, as typed [`Event`]s, in order;
//! - [`Session::jobs`] hands out the work that must wait for the device (opening it and building
//!   the trainers, a weights readback for the region map, upcycling's switch, the per-kernel
//!   profile, resuming after a lost device): each [`Job`] is a future that owns what it needs (a
//!   trainer is lent to it) and whose [`Done`] goes back through [`Session::finish`]. On the page
//!   jobs run with `spawn_local`; natively [`native::Host`] runs them to completion with pollster.
//!
//! Nothing here touches the DOM or the reactive graph, so the same session runs the page (on its
//! main thread today), `tests/session.rs`, `tests/lessons.rs` and `examples/lessons.rs` (the
//! lesson player of [`lesson`] is the only one).
pub mod apart;
mod commands;
mod jobs;
pub mod lesson;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
mod recover;
mod run;
pub mod wire;

use crate::cards::CardId;
use crate::config::Config;
use crate::gpu::GpuTrainer;
use crate::lessons::{Check, Lesson};
use crate::metrics::Snapshot;
use crate::page::{Banner, Browser, Hist, Side};
use crate::regionmap::RegionMap;
use crate::setting::{self, Saved};
use crate::trainer::{CpuTrainer, Trainer};
use crate::upcycle::Upcycle;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// Frames between snapshot requests.
const SNAPSHOT_EVERY: u32 = 15;
/// Time per frame the CPU fallback may spend training on the page's main thread (the rest of a
/// 16.7 ms frame draws).
pub const CPU_BUDGET_MS: f64 = 12.0;
/// Batch size of the page's CPU fallback (a browser without WebGPU).
pub const CPU_TOKENS: usize = 64;
/// Least time between two region-map refreshes.
const MAP_EVERY_MS: f64 = 2000.0;
/// A GPU that has not returned a requested snapshot for this long is reported as stalled.
const STALL_MS: f64 = 30000.0;
/// Steps between two snapshots in a lesson (its checks read windows of exactly this many steps).
pub const LESSON_WINDOW: u32 = 50;
/// Seconds of training the loop keeps queued on the GPU.
const BACKLOG_S: f64 = 1.0;
/// Window of the steps/s readout.
const RATE_WINDOW_MS: f64 = 5000.0;
/// How long a GPU error waits for the device's "lost" signal (which then leads to recovery)
/// before training stops with the error.
const LOST_GRACE_MS: f64 = 1000.0;
/// Steps the benchmark's per-kernel profile is over.
const PROFILE_STEPS: u32 = 50;

/// The trainer: the WGSL one, or the CPU reference (the fallback without WebGPU); each in its
/// [`Upcycle`] wrapper (with `init = upcycle` a dense warm-up first, then the MoE).
pub enum Backend {
    Gpu(Box<Upcycle<GpuTrainer>>),
    Cpu(Box<Upcycle<CpuTrainer>>),
    /// Compare mode's run B on the CPU, trained apart (a worker of its own) at the same time as A.
    Apart(Box<apart::Apart>),
}

impl Backend {
    pub fn trainer(&mut self) -> &mut dyn Trainer {
        match self {
            Backend::Gpu(g) => &mut **g,
            Backend::Cpu(c) => &mut **c,
            Backend::Apart(a) => &mut **a,
        }
    }
    pub fn is_gpu(&self) -> bool {
        matches!(self, Backend::Gpu(_))
    }
    /// The first GPU validation or device error.
    fn error(&self) -> Option<String> {
        match self {
            Backend::Gpu(g) => g.inner().error(),
            Backend::Cpu(_) | Backend::Apart(_) => None,
        }
    }
    /// Why run B's trainer apart stopped, if it did.
    fn apart_error(&mut self) -> Option<String> {
        match self {
            Backend::Apart(a) => a.error(),
            _ => None,
        }
    }
    /// Its GPU device was lost.
    fn lost(&self) -> bool {
        matches!(self, Backend::Gpu(g) if g.inner().lost())
    }
    /// The dense warm-up is over: the session lends it to [`Upcycle::switch`] next.
    fn switch_due(&self) -> bool {
        match self {
            Backend::Gpu(g) => g.switch_due(),
            Backend::Cpu(c) => c.switch_due(),
            Backend::Apart(_) => false, // it switches by itself, in order
        }
    }
    /// Steps it may train before the session must step in (the upcycling switch); unbounded
    /// otherwise.
    fn room(&mut self) -> u32 {
        let dense = match self {
            Backend::Gpu(g) => g.is_dense(),
            Backend::Cpu(c) => c.is_dense(),
            Backend::Apart(a) => return a.room(),
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
            Backend::Apart(_) => None, // run B's phase is not shown
        }
    }
    /// Natively: destroy its GPU device (a simulated device loss, as a driver reset would).
    pub fn destroy_device(&self) {
        if let Backend::Gpu(g) = self {
            g.inner().destroy_device();
        }
    }
}

/// Where the session trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// The GPU when an adapter opens (WebGPU in the browser, Vulkan natively), else the CPU with a
    /// banner saying why.
    Auto,
    /// The CPU reference, without a banner (headless lesson runs, tests).
    Cpu,
    /// The GPU only: without an adapter the session says so and does not train (tests).
    Gpu,
}

/// How a session starts.
pub struct Options {
    pub device: Device,
    /// Batch size cap on the CPU (the page's fallback: [`CPU_TOKENS`]); None: the config's.
    pub cpu_tokens: Option<usize>,
    /// `?bench`: train the default model this many steps and report the timings.
    pub bench: Option<u32>,
    /// `debug=gpu-error`: report a GPU error once training runs, to exercise the restart path.
    pub simulate_gpu_error: bool,
    /// The browser, for the no-WebGPU banner's advice.
    pub browser: Browser,
    /// Milliseconds since some fixed start (the page's `performance.now()`).
    pub clock: Rc<dyn Fn() -> f64>,
    /// Pace training to the frame budget and the GPU backlog (the page); false: as many steps per
    /// tick as a window allows (headless).
    pub paced: bool,
    /// Time per tick the CPU trainer may spend (paced): [`CPU_BUDGET_MS`] on the main thread; a
    /// worker, which draws nothing, spends more of its ticks.
    pub cpu_budget_ms: f64,
    /// Where compare mode's run B can train apart on the CPU (a worker of its own); None: beside
    /// run A.
    pub apart: Option<apart::Spawn>,
}

impl Options {
    /// The page's options for `device`, with `clock`.
    pub fn page(clock: Rc<dyn Fn() -> f64>, browser: Browser) -> Options {
        Options {
            device: Device::Auto,
            cpu_tokens: Some(CPU_TOKENS),
            bench: None,
            simulate_gpu_error: false,
            browser,
            clock,
            paced: true,
            cpu_budget_ms: CPU_BUDGET_MS,
            apart: None,
        }
    }
}

/// What the host asks of the session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cmd {
    /// Set one knob (its URL key and value as text) on run A, run B or both.
    SetKnob {
        side: Side,
        #[serde(deserialize_with = "wire::knob_key")]
        key: wire::Name,
        value: String,
    },
    /// Play or pause; in a lesson, go on after a shown beat (space, ▶).
    Play,
    /// Pause training.
    Pause,
    /// Training on or off (the play button and space outside a lesson).
    Playing(bool),
    /// Train one step and pause.
    Step,
    /// Restart from the seed (a lesson from its first beat).
    Reset,
    /// After a GPU error: rebuild (a lesson replayed up to its beat) and play.
    Restart,
    /// Speed limit in steps per second (0: as fast as the device allows).
    Speed(u32),
    /// Restart with a preset (run B keeps its differences where they still work).
    Preset(String),
    /// Compare mode on (run B starts as a copy of A) or off.
    Compare(bool),
    /// Compare mode on with run B's config given (the URL's `b.KEY=V`).
    CompareWith(Box<Config>),
    /// Start a lesson by id, or leave the current one (None).
    Lesson(Option<String>),
    /// The lesson's next beat now (n).
    Next,
    /// The lesson's previous beat (p; the lesson restarts and replays up to it).
    Back,
    /// At a lesson's end: start the next lesson of [`crate::lessons::LESSONS`] (after the last,
    /// the first).
    NextLesson,
    /// At a lesson's end (or during one): leave the lesson, keeping both runs, their histories
    /// and settings; training stays paused until play.
    Explore,
    /// Destroy the GPU devices, as a driver reset would (`debug=device-loss`; the end-to-end test
    /// of recovery).
    LoseDevice,
}

/// The caption band's content.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Caption {
    /// The lesson's title and source ("" hides the band).
    pub title: String,
    pub text: String,
    pub question: Option<String>,
    /// Where the lesson is ("beat 2 of 4 · …").
    pub progress: String,
    /// At a lesson's end: its claim checked on the runs just trained.
    pub verdict: Option<Verdict>,
    /// At a lesson's end: why run A shows what a student would ask about, with its numbers
    /// ([`crate::lessons::Lesson::about_a`]).
    pub about_a: Option<String>,
    /// A beat has ended and the lesson waits for the teacher: the line shown in large type
    /// ("Paused — press space or ▶ to continue"; at the end, where training stopped).
    pub paused: Option<String>,
    /// At the lesson's end: the label of the button that starts the next lesson; the band then
    /// also offers "explore from here" (None: the lesson has not ended).
    pub next_lesson: Option<String>,
}

// A lesson's verdict: its types live with the lessons (the headless player's outcome holds one).
pub use crate::lessons::{Finding, Verdict};

/// What happened, for the page to show; in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// The configs now (run B's: None with compare mode off), and the remembered knob values.
    Configs {
        a: Config,
        b: Option<Config>,
        #[serde(deserialize_with = "wire::saved")]
        saved: Saved,
    },
    Playing(bool),
    Speed(u32),
    /// The step of the latest snapshot of run A, and the training speed (steps/s).
    Step(u32),
    Rate(f32),
    /// Where the model trains (starting while its trainer is built).
    Backend(crate::page::TrainsOn),
    /// Compare mode's run B trains in a worker of its own (true) or beside run A (false; None
    /// without run B): `<html data-run-b>`, for the tests.
    RunB(Option<bool>),
    Banner(Option<Banner>),
    Notice(Option<String>),
    /// The phase of an upcycled run.
    Phase(Option<String>),
    /// Training stopped and why (divergence, a failed start).
    Error(Option<String>),
    /// The GPU failed; restart rebuilds.
    GpuError(Option<String>),
    /// A new run: snapshots, histories, marks and the region map are emptied.
    Cleared,
    /// A snapshot of run A or B (add `Hist::of` to that run's history when `snap.steps > 0`).
    Snapshot {
        side: Side,
        snap: Box<Snapshot>,
    },
    /// Mark a change on the charts at step `at` (replacing the label of a mark at the same step).
    Mark {
        at: f32,
        label: String,
    },
    /// Recovered at checkpoint `step`: history and marks after it are dropped.
    Rewind {
        step: u32,
    },
    Map(Box<RegionMap>),
    /// Compare mode's run B stopped (its snapshot and history emptied).
    CompareOff,
    /// The latest checkpoint's step (None: no checkpoint of this run yet).
    Checkpoint(Option<u32>),
    /// The benchmark's progress line, result (JSON) and per-kernel table.
    BenchProgress(String),
    BenchResult(String),
    BenchKernels(String),
    /// The lesson being played (None: none), for the menu and the URL.
    Lesson(#[serde(deserialize_with = "wire::lesson")] Option<wire::Name>),
    Caption(Caption),
    /// The cards presentation mode shows (empty: its default) and the one outlined.
    Focus(Vec<CardId>),
    Highlight(Option<CardId>),
}

/// What a finished [`Job`] hands back to [`Session::finish`].
pub struct Done {
    generation: u32,
    kind: DoneKind,
}

/// Opened trainers: A's, the banner when A fell back to the CPU, and B's (compare mode).
type Built = (Backend, Option<Banner>, Option<Result<Backend, String>>);

// Jobs finish a few times a minute at most: their results are not worth boxing.
#[allow(clippy::large_enum_variant)]
enum DoneKind {
    Built(Result<Built, String>),
    Map { backend: Option<Backend>, map: Option<RegionMap> },
    Switched { side: Side, result: Result<Backend, String> },
    Profiled { backend: Backend, table: String, json: String, result: String },
    Resumed(recover::Resumed),
}

/// Work that waits for the device; the host runs it and hands its [`Done`] to [`Session::finish`].
pub type Job = Pin<Box<dyn Future<Output = Done>>>;

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

/// The session: the runs, the loop's state, and the state the page mirrors.
pub struct Session {
    opts: Options,
    cfg: Config,
    cfg_b: Option<Config>,
    saved: Saved,
    playing: bool,
    speed: u32,
    /// The step of the latest snapshot of A (what the page shows).
    step: u32,
    notice: Option<String>,
    gpu_failed: bool,
    hist: Vec<Hist>,
    hist_b: Vec<Hist>,
    lesson: Option<lesson::Playing>,
    /// The lesson's expected outcome's checks so far (what, held; None: left before its end).
    checks: Vec<(&'static Check, Option<bool>)>,
    /// What a headless lesson run records: each beat's end step and filled caption.
    log: lesson::Log,
    events: Vec<Event>,
    jobs: Vec<Job>,

    backend: Option<Backend>,
    /// Compare mode's run B (None with compare off, and while it is lent out).
    backend_b: Option<Backend>,
    steps_per_frame: u32,
    frame: u32,
    since_snapshot: u32,
    step_once: bool,
    generation: u32,
    /// Request a snapshot in the next tick even without new steps (the first routing after a
    /// restart, shown while paused).
    want_snapshot: bool,
    /// A trainer is lent to a job (region map, upcycling switch, profile).
    reading: bool,
    map_due: f64,
    map_step: Option<u32>,
    /// Snapshots requested and not yet returned, and when the GPU last made progress.
    outstanding: u32,
    last_progress: f64,
    /// The GPU reported an error or stalled, or the trainers are being (re)built: no training.
    failed: bool,
    recent: VecDeque<(f64, u32)>,
    rate: f64,
    snap_step: u32,
    outstanding_b: u32,
    progress_b: f64,
    snap_step_b: u32,
    bench: Option<Bench>,
    simulate_gpu_error: bool,
    speed_budget: f64,
    last_frame: f64,
    /// A lesson's beat ends at this step: training stops there until the lesson goes on.
    stop_at: Option<u32>,
    want_snapshot_b: bool,
    checkpoints: recover::Checkpoints,
    error_seen: Option<f64>,
    phase: Option<String>,
    /// A snapshot arrived since the lesson's beat was last checked against the histories.
    unchecked: bool,
    /// The link to run B's trainer apart, kept across restarts (None: none opened yet, or it broke).
    link: Option<std::rc::Rc<dyn apart::Link>>,
}

impl Session {
    /// A session for `cfg` (and compare mode's run B `cfg_b`); it starts building its trainers
    /// at once (the first [`Session::jobs`]), and plays.
    pub fn new(opts: Options, cfg: Config, cfg_b: Option<Config>) -> Session {
        let bench = opts.bench.map(|target| Bench { target, ..Default::default() });
        let simulate_gpu_error = opts.simulate_gpu_error;
        let mut s = Session {
            opts,
            cfg,
            cfg_b,
            saved: Saved::new(),
            playing: true,
            speed: 0,
            step: 0,
            notice: None,
            gpu_failed: false,
            hist: vec![],
            hist_b: vec![],
            lesson: None,
            checks: vec![],
            log: lesson::Log::default(),
            events: vec![],
            jobs: vec![],
            backend: None,
            backend_b: None,
            steps_per_frame: 1,
            frame: 0,
            since_snapshot: 0,
            step_once: false,
            generation: 0,
            want_snapshot: false,
            reading: false,
            map_due: 0.0,
            map_step: None,
            outstanding: 0,
            last_progress: 0.0,
            failed: true,
            recent: VecDeque::new(),
            rate: 0.0,
            snap_step: 0,
            outstanding_b: 0,
            progress_b: 0.0,
            snap_step_b: 0,
            bench,
            simulate_gpu_error,
            speed_budget: 0.0,
            last_frame: 0.0,
            stop_at: None,
            want_snapshot_b: false,
            checkpoints: recover::Checkpoints::default(),
            error_seen: None,
            phase: None,
            unchecked: false,
            link: None,
        };
        setting::remember(&mut s.saved, &s.cfg.clone());
        s.emit_configs();
        s.emit(Event::Playing(true));
        s.rebuild();
        s
    }

    /// A session that starts with lesson `lesson` (its configs from `seed`).
    pub fn with_lesson(opts: Options, lesson: &'static Lesson, seed: u32) -> Session {
        let (a, b) = lesson.start(seed);
        let mut s = Session::new(opts, a, Some(b));
        s.events.clear();
        s.jobs.clear();
        s.emit(Event::Playing(true));
        lesson::start(&mut s, lesson, 0);
        s
    }

    // --- what the host reads ---------------------------------------------------------------

    /// The events since the last call, in order.
    pub fn drain(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
    /// The jobs to run since the last call.
    pub fn jobs(&mut self) -> Vec<Job> {
        std::mem::take(&mut self.jobs)
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn config_b(&self) -> Option<&Config> {
        self.cfg_b.as_ref()
    }
    pub fn playing(&self) -> bool {
        self.playing
    }
    /// The speed limit (steps/s; 0: none).
    pub fn speed(&self) -> u32 {
        self.speed
    }
    /// The step of run A's latest snapshot.
    pub fn step(&self) -> u32 {
        self.step
    }
    pub fn history(&self, side: Side) -> &[Hist] {
        if side == Side::B {
            &self.hist_b
        } else {
            &self.hist
        }
    }
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
    /// The lesson's checks so far (what, held; None: not checked).
    pub fn checks(&self) -> Vec<(&'static str, Option<bool>)> {
        self.checks.iter().map(|(c, ok)| (c.cond.what, *ok)).collect()
    }
    /// The lesson being played, its beat and whether its end was shown.
    pub fn lesson(&self) -> Option<(&'static Lesson, usize, bool)> {
        self.lesson.map(|p| (p.lesson, p.beat, p.reached))
    }
    /// The trainers are built and healthy.
    pub fn ready(&self) -> bool {
        self.backend.is_some() && !self.failed
    }
    /// Run A's trainer (None while it is built or lent out).
    pub fn backend(&self) -> Option<&Backend> {
        self.backend.as_ref()
    }
    /// The trainer of run A or B (None while it is built or lent out).
    pub fn trainer(&mut self, side: Side) -> Option<&mut dyn Trainer> {
        let b = if side == Side::B { self.backend_b.as_mut() } else { self.backend.as_mut() };
        b.map(Backend::trainer)
    }
    /// Each beat's end step and filled caption so far (the headless runner's record).
    pub fn log(&self) -> &lesson::Log {
        &self.log
    }

    // --- small helpers -----------------------------------------------------------------------

    fn now(&self) -> f64 {
        (self.opts.clock)()
    }
    fn emit(&mut self, e: Event) {
        self.events.push(e);
    }
    fn emit_configs(&mut self) {
        let e = Event::Configs { a: self.cfg.clone(), b: self.cfg_b.clone(), saved: self.saved.clone() };
        self.emit(e);
    }
    fn set_playing(&mut self, on: bool) {
        if self.playing != on {
            self.playing = on;
            self.emit(Event::Playing(on));
        }
    }
    fn set_notice(&mut self, text: Option<String>) {
        self.notice = text.clone();
        self.emit(Event::Notice(text));
    }
    /// Add a sentence to the notice shown now.
    fn add_notice(&mut self, text: String) {
        let t = match self.notice.take() {
            Some(n) => format!("{n} {text}"),
            None => text,
        };
        self.set_notice(Some(t));
    }
    fn set_gpu_error(&mut self, text: Option<String>) {
        self.gpu_failed = text.is_some();
        self.emit(Event::GpuError(text));
    }
    fn set_phase(&mut self, note: Option<String>) {
        if self.phase != note {
            self.phase = note.clone();
            self.emit(Event::Phase(note));
        }
    }
    fn spawn(&mut self, job: impl Future<Output = Done> + 'static) {
        self.jobs.push(Box::pin(job));
    }
}
