//! The live page (wasm only): a Leptos view over one training [`Session`] (src/session/), which
//! holds the engine — runs A and B, pacing, snapshots, checkpoints and recovery, the benchmark and
//! the lesson player — and is compiled and tested natively.
//!
//! The page sends the session typed commands ([`Cmd`]) from its controls, calls
//! [`Session::tick`] once per animation frame, runs the jobs it asks for (opening the device, GPU
//! readbacks) with `spawn_local`, and turns its [`Event`]s into the signals of [`Ui`] that the
//! components draw: [`status`] (header, notices, GPU error, benchmark), [`start`] (the start panel
//! of a plain visit), [`controls`] (playback, presets, share and export), [`knob_panel`] (the knob
//! panels), [`compare`] (compare mode's panel), [`lesson_band`] (the caption band) and [`cards`]
//! (the charts). The page itself keeps
//! only what is the page's: the address bar, presentation mode, and the charts' data.
//!
//! Query keys besides the config's: `bench` (with optional `steps=N`) trains the default model for
//! a fixed number of steps and writes timings into `[data-testid=bench]`; `present` starts in
//! presentation mode (the top bar's toggle keeps it in the URL); `debug=panic` panics on purpose
//! to show the error box; `debug=gpu-error` reports a (simulated) GPU error once training runs, to
//! show the restart path; `debug=caption` fills the caption band with a sample lesson;
//! `lesson=ID` starts a lesson; `compare` / `b.KEY=V` compare mode's run B. Any key skips the
//! start panel that a plain visit opens on ([`crate::page::skips_start`]).
//!
//! Presentation mode (`ui.present`) is for a class in front of a projector: large type (the style
//! sheet's `:root[data-present]`), the charts redrawn larger, the controls folded behind a button,
//! and only the cards of `ui.focus` (one to three; empty: routing, load and losses). `ui.highlight`
//! outlines one card in either mode.
mod apart;
mod cards;
mod compare;
mod controls;
mod draw;
mod engine;
mod hints;
mod knob_panel;
mod lesson_band;
mod start;
mod status;
mod web;
pub mod worker;

use crate::cards::CardId;
use crate::config::Config;
use crate::knobs::Group;
use crate::metrics::Snapshot;
use crate::page::{
    compare_from_query, full_query, page_query, push_history, with_present, Banner, Hist, PageQuery, Side,
};
use crate::regionmap::RegionMap;
use crate::session::wire::Start;
use crate::session::{Cmd, Event};
use crate::setting::Saved;
use cards::Views;
use compare::{CompareToggle, DiffersPanel};
use controls::{LessonMenu, Playback, PresetMenu, ShareExport};
use draw::Event as Mark;
use knob_panel::{KnobGroup, SetKnob};
use leptos::prelude::*;
use lesson_band::{Caption, CaptionBand, SAMPLE_BEATS, SAMPLE_TITLE};
use start::StartPanel;
use status::{AboutLine, BenchCard, GpuError, Notices, PhaseLine, TopBar};
use std::time::Duration;

type Eng = StoredValue<engine::Eng, LocalStorage>;

/// The page's reactive state: what the session's events last said, and the page's own.
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
    backend: RwSignal<crate::page::TrainsOn>,
    banner: RwSignal<Option<Banner>>,
    notice: RwSignal<Option<String>>,
    /// The phase of an upcycled run ("dense warm-up: step i of N, …").
    phase: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    gpu_error: RwSignal<Option<String>>,
    snap: RwSignal<Option<Snapshot>>,
    hist: RwSignal<Vec<Hist>>,
    events: RwSignal<Vec<Mark>>,
    map: RwSignal<Option<RegionMap>>,
    /// The last positive number of each real knob (the panels restore it when a word is cleared).
    saved: RwSignal<Saved>,
    bench: bool,
    bench_out: RwSignal<String>,
    bench_progress: RwSignal<String>,
    /// The benchmark's per-kernel table (GPU only; "" before).
    bench_kernels: RwSignal<String>,
    /// Presentation mode: large type, few cards, the controls folded away.
    present: RwSignal<bool>,
    /// In presentation mode, whether the controls are unfolded.
    controls_open: RwSignal<bool>,
    /// The cards presentation mode shows (one to three; empty: [`crate::page::DEFAULT_FOCUS`]).
    focus: RwSignal<Vec<CardId>>,
    /// The card outlined for the class, if any (in both modes).
    highlight: RwSignal<Option<CardId>>,
    /// A knob change sent and not yet seen in the configs.
    pending: RwSignal<Option<hints::Pending>>,
    /// The latest knob change, shown next to its control for a while.
    changed: RwSignal<Option<hints::Change>>,
    /// The caption band's content (empty: no band); a lesson fills it.
    caption: Caption,
    /// The id of the lesson being played.
    lesson: RwSignal<Option<&'static str>>,
    /// The start panel is shown (a plain visit, until a way in is picked or a lesson starts).
    start_open: RwSignal<bool>,
}

impl Ui {
    fn new(cfg: Config, cfg_b: Option<Config>, bench: bool, present: bool, notice: Option<String>) -> Ui {
        Ui {
            start_open: RwSignal::new(false),
            saved: RwSignal::new(Saved::new()),
            cfg: RwSignal::new(cfg),
            cfg_b: RwSignal::new(cfg_b),
            snap_b: RwSignal::new(None),
            hist_b: RwSignal::new(vec![]),
            playing: RwSignal::new(true),
            speed: RwSignal::new(0),
            step: RwSignal::new(0),
            rate: RwSignal::new(0.0),
            backend: RwSignal::new(crate::page::TrainsOn::Starting),
            banner: RwSignal::new(None),
            notice: RwSignal::new(notice),
            phase: RwSignal::new(None),
            error: RwSignal::new(None),
            gpu_error: RwSignal::new(None),
            snap: RwSignal::new(None),
            hist: RwSignal::new(vec![]),
            events: RwSignal::new(vec![]),
            map: RwSignal::new(None),
            bench,
            bench_out: RwSignal::new(String::new()),
            bench_progress: RwSignal::new(String::new()),
            bench_kernels: RwSignal::new(String::new()),
            present: RwSignal::new(present),
            controls_open: RwSignal::new(false),
            focus: RwSignal::new(vec![]),
            highlight: RwSignal::new(None),
            pending: RwSignal::new(None),
            changed: RwSignal::new(None),
            caption: Caption::default(),
            lesson: RwSignal::new(None),
        }
    }
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

/// One event of the session, into the signals.
fn show(ui: Ui, e: Event) {
    match e {
        Event::Configs { a, b, saved } => {
            ui.saved.set(saved);
            ui.cfg.set(a);
            ui.cfg_b.set(b);
            hints::after_configs(ui);
        }
        Event::Playing(on) => ui.playing.set(on),
        Event::Speed(v) => ui.speed.set(v),
        Event::Step(s) => ui.step.set(s),
        Event::Rate(r) => ui.rate.set(r),
        Event::Backend(b) => ui.backend.set(b),
        Event::RunB(apart) => {
            web::set_root_data("data-run-b", apart.map(|a| if a { "apart" } else { "beside" }.into()))
        }
        Event::Banner(b) => ui.banner.set(b),
        Event::Notice(n) => ui.notice.set(n),
        Event::Phase(p) => ui.phase.set(p),
        Event::Error(e) => ui.error.set(e),
        Event::GpuError(e) => ui.gpu_error.set(e),
        Event::Cleared => {
            ui.snap.set(None);
            ui.hist.set(vec![]);
            ui.snap_b.set(None);
            ui.hist_b.set(vec![]);
            ui.events.set(vec![]);
            ui.map.set(None);
        }
        Event::Snapshot { side, snap } => {
            let (hist, slot) = if side == Side::B { (ui.hist_b, ui.snap_b) } else { (ui.hist, ui.snap) };
            if snap.steps > 0 {
                hist.update(|h| push_history(h, Hist::of(&snap)));
                if side != Side::B {
                    web::set_root_data("data-history", Some(hist.with_untracked(Vec::len).to_string()));
                }
            }
            slot.set(Some(*snap));
        }
        Event::Mark { at, label } => ui.events.update(|ev| match ev.last_mut() {
            Some(last) if last.0 == at => last.1 = label,
            _ => ev.push((at, label)),
        }),
        Event::Rewind { step } => {
            let keep = |h: &mut Vec<Hist>| h.retain(|x| x.step <= step as f32);
            ui.hist.update(keep);
            ui.hist_b.update(keep);
            ui.events.update(|ev| {
                ev.retain(|(at, _)| *at <= step as f32);
                ev.push((step as f32, "GPU reset".into()));
            });
        }
        Event::Map(m) => ui.map.set(Some(*m)),
        Event::CompareOff => {
            web::set_root_data("data-run-b", None);
            ui.snap_b.set(None);
            ui.hist_b.set(vec![]);
        }
        Event::Checkpoint(step) => web::set_root_data("data-checkpoint", step.map(|s| s.to_string())),
        Event::BenchProgress(t) => ui.bench_progress.set(t),
        Event::BenchResult(t) => ui.bench_out.set(t),
        Event::BenchKernels(t) => ui.bench_kernels.set(t),
        Event::Lesson(id) => {
            ui.lesson.set(id);
            if id.is_some() {
                ui.start_open.set(false);
            }
            if !ui.bench {
                replace_query(&crate::page::with_lesson(&current_query(), id));
            }
        }
        Event::Caption(c) => {
            ui.caption.title.set(c.title);
            ui.caption.text.set(c.text);
            ui.caption.question.set(c.question);
            ui.caption.progress.set(c.progress);
            ui.caption.verdict.set(c.verdict);
            ui.caption.about_a.set(c.about_a);
            ui.caption.paused.set(c.paused);
            ui.caption.next_lesson.set(c.next_lesson);
        }
        Event::Focus(f) => ui.focus.set(f),
        Event::Highlight(h) => ui.highlight.set(h),
    }
}

/// The session the URL asks for: a lesson, the benchmark, or the URL's configs; and the notices
/// for what the URL got wrong.
fn start_session(search: &str) -> (Start, Ui) {
    let PageQuery { config: query, bench: bench_steps, debug, present, lesson: lesson_id, .. } = page_query(search);
    let (cfg0, mut notices) =
        if bench_steps.is_some() { (Config::default(), vec![]) } else { Config::from_query_lenient(&query) };
    let (cfg_b, notices_b) = if bench_steps.is_some() { (None, vec![]) } else { compare_from_query(search, &cfg0) };
    notices.extend(notices_b);
    // `lesson=ID`: the lesson's own configs (from the URL's seed) replace the URL's.
    let first_lesson = match lesson_id.filter(|_| bench_steps.is_none()).map(|id| crate::page::lesson_of(&id)) {
        Some(Ok(l)) => Some(l),
        Some(Err(text)) => {
            notices.push(text);
            replace_query(&crate::page::with_lesson(search, None));
            None
        }
        None => None,
    };
    let notice = (!notices.is_empty()).then(|| notices.join("; "));
    let ui = Ui::new(cfg0.clone(), cfg_b.clone(), bench_steps.is_some(), present, notice);
    ui.start_open.set(!crate::page::skips_start(search));
    let start = Start {
        cfg: cfg0,
        cfg_b,
        lesson: first_lesson.map(|l| l.id),
        bench: bench_steps,
        simulate_gpu_error: debug.as_deref() == Some("gpu-error"),
        worker_without_gpu: debug.as_deref() == Some("worker-no-gpu"),
        b_beside_a: debug.as_deref() == Some("b-beside-a"),
        browser: web::browser(),
    };
    (start, ui)
}

/// The page: the session started from the URL, and the components wired to it.
#[component]
pub fn App() -> impl IntoView {
    let search = current_query();
    let PageQuery { debug, main_thread, .. } = page_query(&search);
    let (start, ui) = start_session(&search);
    let eng: Eng = StoredValue::new_local(engine::launch(start, main_thread, ui));
    if debug.as_deref() == Some("panic") {
        set_timeout(|| panic!("debug=panic: a deliberate panic to show the error box"), Duration::from_millis(800));
    }
    let send = Callback::new(move |c: Cmd| engine::send(&eng.get_value(), ui, c));
    // Play/pause and the speed limit are the Playback component's signals: they reach the session
    // (which ignores a value it already has, as when the signal was set from its own event).
    Effect::new(move |_| send.run(Cmd::Playing(ui.playing.get())));
    Effect::new(move |_| send.run(Cmd::Speed(ui.speed.get())));
    if debug.as_deref() == Some("device-loss") {
        // The end-to-end test of recovery destroys the GPU devices, wherever the session runs.
        let handle = window_event_listener_untyped("moe-lose-device", move |_| send.run(Cmd::LoseDevice));
        on_cleanup(move || handle.remove());
    }
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
    let collapsed = Signal::derive(move || ui.snap.with(|s| s.as_ref().is_some_and(|s| s.collapsed())));

    view! {
        <div class="app" class:present=move || ui.present.get()>
            <TopBar backend=ui.backend step=ui.step rate=ui.rate collapsed=collapsed present=ui.present
                controls_open=ui.controls_open />
            <StartHere ui=ui send=send />
            <Band ui=ui send=send sample=debug.as_deref() == Some("caption") />
            <Notices banner=ui.banner notice=ui.notice error=ui.error />
            <PhaseLine text=ui.phase />
            <GpuError message=ui.gpu_error on_restart=move || send.run(Cmd::Restart) />
            <BenchCard shown=ui.bench progress=ui.bench_progress result=ui.bench_out kernels=ui.bench_kernels />
            <div class="layout">
                <Controls ui=ui send=send />
                <Views ui=ui send=send />
            </div>
            <AboutLine />
        </div>
    }
}

/// The start panel of a plain visit: a lesson's card starts it, "explore freely" closes the panel,
/// "compare two settings" turns compare mode on (the model trains below it all along).
#[component]
fn StartHere(
    /// The page's state (whether the panel is open, the training speed).
    ui: Ui,
    /// Sends a command to the session.
    send: Callback<Cmd>,
) -> impl IntoView {
    let close = move || ui.start_open.set(false);
    view! {
        <StartPanel shown=ui.start_open lessons=crate::page::start_lessons() rate=ui.rate
            on_lesson=move |id: &'static str| { close(); send.run(Cmd::Lesson(Some(id.to_string()))) }
            on_explore=move |()| close()
            on_compare=move |()| { close(); send.run(Cmd::Compare(true)) } />
    }
}

/// The caption band of a lesson: its back, play and next buttons go to the lesson player; with
/// `sample` (`debug=caption`) and no lesson they step through a sample lesson instead.
#[component]
fn Band(
    /// The page's state (the caption, the lesson, play/pause).
    ui: Ui,
    /// Sends a command to the session.
    send: Callback<Cmd>,
    /// Show the sample lesson (`debug=caption`).
    sample: bool,
) -> impl IntoView {
    let beat = RwSignal::new(0usize);
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
    let step = move |by: isize| {
        if in_lesson() {
            send.run(if by < 0 { Cmd::Back } else { Cmd::Next });
        } else if sample {
            show_beat(beat.get_untracked().saturating_add_signed(by).min(SAMPLE_BEATS.len() - 1));
        }
    };
    view! {
        <CaptionBand title=ui.caption.title text=ui.caption.text question=ui.caption.question
            progress=ui.caption.progress verdict=ui.caption.verdict playing=ui.playing on_prev=move || step(-1)
            on_play=move || send.run(Cmd::Play) on_next=move || step(1) paused=ui.caption.paused
            next_lesson=ui.caption.next_lesson about_a=ui.caption.about_a on_next_lesson=move || send.run(Cmd::NextLesson)
            on_explore=move || send.run(Cmd::Explore) />
    }
}

/// The controls: playback, lessons, compare mode, presets, the knob panels, share and export.
#[component]
fn Controls(
    /// The page's state.
    ui: Ui,
    /// Sends a command to the session.
    send: Callback<Cmd>,
) -> impl IntoView {
    let in_lesson = move || ui.lesson.with_untracked(Option::is_some);
    // A lesson's keys: space goes on after a shown beat, n and p step through the beats (at the
    // end n starts the next lesson).
    let lesson_key = Callback::new(move |key: String| {
        let c = match key.as_str() {
            " " => Cmd::Play,
            "n" => Cmd::Next,
            "p" => Cmd::Back,
            _ => return false,
        };
        in_lesson() && {
            send.run(c);
            true
        }
    });
    // The panels set A's knobs (B follows where it has no value of its own).
    let on_set = SetKnob::new(move |(key, value)| {
        hints::before_set(ui, key, None);
        send.run(Cmd::SetKnob { side: Side::A, key, value })
    });
    let on_set_b = SetKnob::new(move |(key, value)| send.run(Cmd::SetKnob { side: Side::B, key, value }));
    let choose_lesson = move |id: String| send.run(Cmd::Lesson(crate::lessons::find(&id).map(|l| l.id.to_string())));
    let controls_class = move || if ui.controls_open.get() { "controls open" } else { "controls" };
    // Play is off after a GPU error and at a lesson's end (training stays on the verdict's numbers).
    let blocked =
        Signal::derive(move || ui.gpu_error.with(|e| e.is_some()) || ui.caption.next_lesson.with(Option::is_some));
    view! {
        <aside class=controls_class id="controls" aria-label="controls">
            <button class="drawer-close" data-testid="controls-close" on:click=move |_| ui.controls_open.set(false)>
                "✕ close the controls"
            </button>
            <Playback playing=ui.playing speed=ui.speed blocked=blocked on_step=move || send.run(Cmd::Step)
                on_reset=move || send.run(Cmd::Reset) keys=lesson_key on_play=Callback::new(move |()| send.run(Cmd::Play)) />
            <LessonMenu current=Signal::derive(move || ui.lesson.get()) on_choose=choose_lesson />
            <CompareToggle on=Signal::derive(move || ui.cfg_b.with(Option::is_some)) on_toggle=move |on| send.run(Cmd::Compare(on)) />
            <DiffersPanel cfg=ui.cfg cfg_b=ui.cfg_b on_set_b=on_set_b />
            <PresetMenu cfg=ui.cfg on_choose=move |name| send.run(Cmd::Preset(name)) />
            <KnobGroup group=Group::Routing cfg=ui.cfg saved=ui.saved on_set=on_set changed=ui.changed />
            <KnobGroup group=Group::Training cfg=ui.cfg saved=ui.saved on_set=on_set changed=ui.changed />
            <KnobGroup group=Group::Model cfg=ui.cfg saved=ui.saved on_set=on_set changed=ui.changed />
            <ShareExport cfg=ui.cfg cfg_b=ui.cfg_b hist=ui.hist hist_b=ui.hist_b snap=ui.snap snap_b=ui.snap_b
                on_notice=move |text| ui.notice.set(Some(text)) />
        </aside>
    }
}

/// Mount the app on the page body.
pub fn start() {
    web::install_panic_hook();
    leptos::mount::mount_to_body(App);
}
