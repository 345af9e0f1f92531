//! The live page (wasm only): a Leptos app that trains the MoE on WebGPU (or the CPU reference when
//! the browser has no adapter) from a requestAnimationFrame loop, and shows routing, load, drops,
//! losses, balance and specialisation as they change.
//!
//! The loop encodes a few steps per frame, requests a metrics snapshot every few frames and polls
//! for finished ones; it never awaits a readback. Charts redraw when a snapshot arrives (≈ 4 Hz).
mod draw;

use crate::config::Config;
use crate::gpu::GpuTrainer;
use crate::metrics::Snapshot;
use crate::presets;
use crate::trainer::{CpuTrainer, Trainer};
use leptos::html;
use leptos::prelude::*;
use plotters::style::RGBColor;
use std::cell::RefCell;
use std::rc::Rc;

/// Frames between snapshot requests.
const SNAPSHOT_EVERY: u32 = 15;
/// Time per frame the CPU fallback may spend training.
const CPU_BUDGET_MS: f64 = 12.0;
/// Batch size of the CPU fallback.
const CPU_TOKENS: usize = 64;

/// One point of the history charts.
#[derive(Clone, Debug, PartialEq)]
struct Hist {
    step: f32,
    ce: f32,
    aux: f32,
    z: f32,
    max_share: f32,
    entropy: f32,
    dropped: f32,
}

/// The trainer and the loop's own state (outside the reactive graph).
#[derive(Default)]
struct Engine {
    trainer: Option<Box<dyn Trainer>>,
    gpu: bool,
    steps_per_frame: u32,
    frame: u32,
    since_snapshot: u32,
    step_once: bool,
    generation: u32,
}

/// The page's reactive state.
#[derive(Clone, Copy)]
struct Ui {
    cfg: RwSignal<Config>,
    playing: RwSignal<bool>,
    step: RwSignal<u32>,
    backend: RwSignal<String>,
    banner: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    snap: RwSignal<Option<Snapshot>>,
    hist: RwSignal<Vec<Hist>>,
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

fn write_url(cfg: &Config) {
    if let Some(w) = web_sys::window() {
        let q = cfg.to_query();
        let url = if q.is_empty() { w.location().pathname().unwrap_or_default() } else { format!("?{q}") };
        let _ = w.history().and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url)));
    }
}

/// Build the trainer for `cfg`: WebGPU when the browser has an adapter, else the CPU reference.
fn rebuild(engine: Rc<RefCell<Engine>>, ui: Ui) {
    let cfg = ui.cfg.get_untracked();
    let generation = {
        let mut e = engine.borrow_mut();
        e.trainer = None;
        e.generation += 1;
        e.generation
    };
    ui.snap.set(None);
    ui.hist.set(vec![]);
    ui.step.set(0);
    ui.error.set(None);
    ui.backend.set("starting…".into());
    leptos::task::spawn_local(async move {
        let (trainer, gpu, banner): (Box<dyn Trainer>, bool, Option<String>) = match GpuTrainer::new(&cfg).await {
            Ok(g) => (Box::new(g), true, None),
            Err(err) => {
                let small = Config { tokens: cfg.tokens.min(CPU_TOKENS), ..cfg.clone() };
                match CpuTrainer::new(&small) {
                    Ok(c) => (
                        Box::new(c),
                        false,
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
        ui.backend.set(trainer.backend());
        ui.banner.set(banner);
        e.trainer = Some(trainer);
        e.gpu = gpu;
        e.steps_per_frame = if gpu { 2 } else { 1 };
        e.since_snapshot = 0;
    });
}

/// One animation frame: train, request and poll snapshots, then schedule the next frame.
fn frame(engine: Rc<RefCell<Engine>>, ui: Ui) {
    {
        let mut guard = engine.borrow_mut();
        let e = &mut *guard;
        if let Some(tr) = e.trainer.as_mut() {
            let playing = ui.playing.get_untracked();
            if playing || e.step_once {
                let n = if e.step_once { 1 } else { e.steps_per_frame };
                let t0 = now_ms();
                tr.train(n);
                if !e.gpu {
                    let per = (now_ms() - t0) / n as f64;
                    e.steps_per_frame = ((CPU_BUDGET_MS / per.max(0.1)) as u32).clamp(1, 64);
                }
                e.since_snapshot += n;
                if e.step_once {
                    e.step_once = false;
                    e.frame = SNAPSHOT_EVERY - 1;
                }
            }
            e.frame += 1;
            if e.since_snapshot > 0 && e.frame.is_multiple_of(SNAPSHOT_EVERY) {
                if tr.request_snapshot() {
                    e.since_snapshot = 0;
                    if e.gpu {
                        e.steps_per_frame = (e.steps_per_frame + 1).min(32);
                    }
                } else if e.gpu {
                    // Snapshots are backing up: the GPU is behind, encode less per frame.
                    e.steps_per_frame = (e.steps_per_frame / 2).max(1);
                }
            }
            while let Some(s) = tr.poll_snapshot() {
                ui.step.set(s.step);
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
                        h.push(Hist {
                            step: s.step as f32,
                            ce: s.ce,
                            aux: s.aux,
                            z: s.z,
                            max_share: s.max_share,
                            entropy: s.entropy,
                            dropped: s.dropped_share(),
                        });
                        if h.len() > 2000 {
                            h.drain(..h.len() - 2000);
                        }
                    });
                }
                ui.snap.set(Some(s));
            }
        }
    }
    request_animation_frame(move || frame(engine, ui));
}

/// Apply a new config: live knobs go to the running trainer, structural changes rebuild it.
fn apply(engine: &Rc<RefCell<Engine>>, ui: Ui, next: Config) {
    let prev = ui.cfg.get_untracked();
    if next.validate().is_err() {
        return;
    }
    ui.cfg.set(next.clone());
    write_url(&next);
    if prev.same_structure(&next) {
        if let Some(tr) = engine.borrow_mut().trainer.as_mut() {
            let mut live = next.live();
            live.top_k = live.top_k.min(tr.config().k_max());
            if let Err(e) = tr.set_live(live) {
                ui.error.set(Some(e.to_string()));
            }
        }
    } else {
        rebuild(engine.clone(), ui);
    }
}

#[component]
pub fn App() -> impl IntoView {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let (cfg0, notices) = Config::from_query_lenient(&search);
    let ui = Ui {
        cfg: RwSignal::new(cfg0),
        playing: RwSignal::new(true),
        step: RwSignal::new(0),
        backend: RwSignal::new("starting…".into()),
        banner: RwSignal::new(None),
        notice: RwSignal::new(if notices.is_empty() { None } else { Some(notices.join("; ")) }),
        error: RwSignal::new(None),
        snap: RwSignal::new(None),
        hist: RwSignal::new(vec![]),
    };
    let engine = Rc::new(RefCell::new(Engine::default()));
    rebuild(engine.clone(), ui);
    frame(engine.clone(), ui);

    let heat: NodeRef<html::Canvas> = NodeRef::new();
    let load: NodeRef<html::Canvas> = NodeRef::new();
    let losses: NodeRef<html::Canvas> = NodeRef::new();
    let balance: NodeRef<html::Canvas> = NodeRef::new();
    let drops: NodeRef<html::Canvas> = NodeRef::new();
    let doms: NodeRef<html::Canvas> = NodeRef::new();
    Effect::new(move |_| {
        let Some(s) = ui.snap.get() else { return };
        let ds = ui.cfg.get_untracked().dataset;
        if let Some(c) = heat.get() {
            draw::heatmap(c, &s, ds, 32);
        }
        if let Some(c) = load.get() {
            draw::load(c, &s);
        }
        if let Some(c) = doms.get() {
            draw::domains(c, &s, ds);
        }
        let h = ui.hist.get_untracked();
        let pts = |f: fn(&Hist) -> f32| h.iter().map(|p| (p.step, f(p))).collect::<Vec<_>>();
        if let Some(c) = losses.get() {
            draw::lines(
                c,
                &[
                    ("CE", RGBColor(0, 114, 178), pts(|p| p.ce)),
                    ("aux", RGBColor(213, 94, 0), pts(|p| p.aux)),
                    ("z", RGBColor(0, 158, 115), pts(|p| p.z)),
                ],
                0.0,
                None,
            );
        }
        if let Some(c) = balance.get() {
            draw::lines(
                c,
                &[
                    ("max share", RGBColor(213, 94, 0), pts(|p| p.max_share)),
                    ("entropy (normalised)", RGBColor(0, 114, 178), pts(|p| p.entropy)),
                ],
                0.0,
                Some(1.05),
            );
        }
        if let Some(c) = drops.get() {
            draw::lines(c, &[("dropped assignments", RGBColor(204, 121, 167), pts(|p| p.dropped))], 0.0, Some(1.05));
        }
    });

    let eng = engine.clone();
    let set_knob = move |key: &'static str, value: String| {
        let mut next = ui.cfg.get_untracked();
        match next.set(key, &value).and_then(|_| next.validate()) {
            Ok(()) => {
                ui.notice.set(None);
                apply(&eng, ui, next);
            }
            Err(e) => ui
                .notice
                .set(Some(format!("{e}; kept {key} = {}", ui.cfg.get_untracked().get(key).unwrap_or_default()))),
        }
    };
    let eng = engine.clone();
    let choose_preset = move |name: String| {
        if let Some(p) = presets::find(&name) {
            let mut c = Config { seed: ui.cfg.get_untracked().seed, ..Config::default() };
            (p.apply)(&mut c);
            ui.notice.set(Some(format!("{}: {}", p.title, p.watch)));
            ui.cfg.set(c.clone());
            write_url(&c);
            rebuild(eng.clone(), ui);
        }
    };
    let eng = engine.clone();
    let reset = move || rebuild(eng.clone(), ui);
    let eng = engine.clone();
    let step_once = move || {
        ui.playing.set(false);
        eng.borrow_mut().step_once = true;
    };
    let eng = engine.clone();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let tag =
            ev.target().and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok()).map(|e| e.tag_name());
        if matches!(tag.as_deref(), Some("INPUT") | Some("SELECT")) {
            return;
        }
        match ev.key().as_str() {
            " " => {
                ev.prevent_default();
                ui.playing.update(|p| *p = !*p);
            }
            "ArrowRight" => {
                ui.playing.set(false);
                eng.borrow_mut().step_once = true;
            }
            "r" => rebuild(eng.clone(), ui),
            _ => {}
        }
    };
    let _ = window_event_listener(leptos::ev::keydown, on_key);

    let knob = move |key: &'static str| move || ui.cfg.with(|c| c.get(key).unwrap_or_default());
    let collapsed = move || ui.snap.with(|s| s.as_ref().is_some_and(|s| s.collapsed()));
    let sk = set_knob.clone();
    let sk2 = set_knob.clone();
    let sk3 = set_knob.clone();
    let sk4 = set_knob.clone();
    let sk5 = set_knob.clone();
    let sk6 = set_knob.clone();
    let sk7 = set_knob.clone();
    let sk8 = set_knob.clone();
    let sk9 = set_knob.clone();
    view! {
        <main>
            <header class="top">
                <h1>"MoE Playground"</h1>
                <span class="backend" data-testid="backend" title="where the model trains">{move || ui.backend.get()}</span>
                <span class="step">"step "<b data-testid="step">{move || ui.step.get()}</b></span>
                <Show when=collapsed>
                    <span class="badge" data-testid="collapsed" title="at least half the experts starved and load entropy ≤ 0.6">"collapsed"</span>
                </Show>
            </header>
            <Show when=move || ui.banner.get().is_some()>
                <p class="banner" data-testid="banner">{move || ui.banner.get()}</p>
            </Show>
            <Show when=move || ui.notice.get().is_some()>
                <p class="notice" data-testid="notice">{move || ui.notice.get()}</p>
            </Show>
            <Show when=move || ui.error.get().is_some()>
                <p class="error" data-testid="error">{move || ui.error.get()}</p>
            </Show>
            <section class="controls">
                <button data-testid="play" title="play / pause (space)" on:click=move |_| ui.playing.update(|p| *p = !*p)>
                    {move || if ui.playing.get() { "⏸ pause" } else { "▶ play" }}
                </button>
                <button data-testid="step-once" title="one step (→)" on:click=move |_| step_once()>"step"</button>
                <button data-testid="reset" title="restart from the seed (r)" on:click=move |_| reset()>"reset"</button>
                <label title="a preset sets every knob, restarts, and says what to watch for">"preset "
                    <select data-testid="preset" on:change=move |ev| choose_preset(event_target_value(&ev))>
                        <option value="">"choose…"</option>
                        {presets::PRESETS.iter().map(|p| view! { <option value=p.name>{p.title}</option> }).collect_view()}
                    </select>
                </label>
                <label title="experts per token (live)">"top-k "
                    <input type="range" data-testid="top-k" min="1" max=move || ui.cfg.with(|c| c.k_max()) step="1"
                        prop:value=knob("top-k") on:input=move |ev| sk("top-k", event_target_value(&ev)) />
                    <output>{knob("top-k")}</output>
                </label>
                <label title="capacity factor cf: C = ceil(cf·T·k/E); inf = dropless (live)">"capacity factor "
                    <input type="text" size="5" data-testid="capacity-factor" prop:value=knob("capacity-factor")
                        on:change=move |ev| sk2("capacity-factor", event_target_value(&ev)) />
                </label>
                <label title="balance-loss weight α (live); 0 switches the balance loss off">"α "
                    <input type="text" size="6" data-testid="alpha" prop:value=knob("alpha")
                        on:change=move |ev| sk3("alpha", event_target_value(&ev)) />
                </label>
                <label title="router z-loss weight β (live)">"β "
                    <input type="text" size="6" prop:value=knob("beta") on:change=move |ev| sk4("beta", event_target_value(&ev)) />
                </label>
                <label title="learning rate (live)">"lr "
                    <input type="text" size="6" prop:value=knob("lr") on:change=move |ev| sk5("lr", event_target_value(&ev)) />
                </label>
                <label title="number of experts E (restarts)">"E "
                    <input type="number" min="1" max="64" prop:value=knob("experts") on:change=move |ev| sk6("experts", event_target_value(&ev)) />
                </label>
                <label title="tokens per batch T (restarts)">"T "
                    <input type="number" min="16" max="16384" prop:value=knob("tokens") on:change=move |ev| sk7("tokens", event_target_value(&ev)) />
                </label>
                <label title="data set (restarts)">"data "
                    <select prop:value=knob("dataset") on:change=move |ev| sk8("dataset", event_target_value(&ev))>
                        <option value="tokens">"tokens"</option>
                        <option value="regions">"regions"</option>
                    </select>
                </label>
                <label title="random seed (restarts)">"seed "
                    <input type="number" min="0" prop:value=knob("seed") on:change=move |ev| sk9("seed", event_target_value(&ev)) />
                </label>
            </section>
            <section class="views">
                <figure>
                    <canvas node_ref=heat data-testid="heatmap" width="560" height="560"></canvas>
                    <figcaption>"Routing of 32 fixed probe tokens: colour = router probability per expert; the chosen expert is outlined (red first, orange second); a cross marks an assignment dropped over capacity. The stripe shows the token's domain."</figcaption>
                </figure>
                <figure>
                    <canvas node_ref=load data-testid="load" width="480" height="260"></canvas>
                    <figcaption>"Per-expert load per step: blue is kept, orange is dropped over capacity; the black line is the capacity C, the green line a fair share."</figcaption>
                </figure>
                <figure>
                    <canvas node_ref=losses data-testid="losses" width="480" height="220"></canvas>
                    <figcaption>"Loss terms over training: cross-entropy (the task), the balance loss aux (1 = perfectly even) and the router z-loss."</figcaption>
                </figure>
                <figure>
                    <canvas node_ref=balance data-testid="balance" width="480" height="220"></canvas>
                    <figcaption>"Balance over time: the largest expert's share of tokens and the normalised entropy of the load (1 = even). Switch α to 0 and watch one or two experts take over."</figcaption>
                </figure>
                <figure>
                    <canvas node_ref=drops data-testid="drops" width="480" height="220"></canvas>
                    <figcaption>"Share of assignments dropped because their expert was full: they skip the expert and ride the residual stream."</figcaption>
                </figure>
                <figure>
                    <canvas node_ref=doms data-testid="domains" width="480" height="180"></canvas>
                    <figcaption>"Which expert takes which domain: each row is one domain's share of choices per expert. Specialisation shows as one bright cell per row."</figcaption>
                </figure>
            </section>
        </main>
    }
}

/// Mount the app on the page body.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
