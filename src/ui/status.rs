//! What the page says about the run: the header's status pills and the presentation-mode toggle,
//! the banners and notices, the GPU error box and the benchmark's result.
use crate::page::{Banner, TrainsOn};
use leptos::prelude::*;

/// The page header: the title, status pills for the backend, the step counter, the training speed
/// and the `collapsed` badge, and the presentation-mode toggle (with, in presentation mode, the
/// button that shows the controls).
#[component]
pub fn TopBar(
    /// Where the model trains, shown in plain words ([`TrainsOn::words`]) with the trainer's label
    /// (the adapter's name) behind "details".
    #[prop(into)]
    backend: Signal<TrainsOn>,
    /// Training steps so far (of the latest snapshot).
    #[prop(into)]
    step: Signal<u32>,
    /// Training speed in steps/s; 0 while unknown.
    #[prop(into)]
    rate: Signal<f32>,
    /// The latest snapshot shows a collapsed router (shows the badge).
    #[prop(into)]
    collapsed: Signal<bool>,
    /// Presentation mode: large type, few charts, the controls folded away (the `present` toggle).
    present: RwSignal<bool>,
    /// Whether the controls are unfolded (the `controls-toggle` button; in presentation mode and on a
    /// phone the controls are a drawer, folded away until it is pressed).
    controls_open: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <header class="top">
            <div class="brand">
                <h1>"MoE Playground"</h1>
                <p class="tagline">"A Mixture-of-Experts layer training live in your browser"</p>
            </div>
            <div class="status" aria-live="polite">
                <BackendPill backend=backend />
                <span class="pill" title="training steps so far (batches seen)">"step "<b data-testid="step">{move || step.get()}</b></span>
                <span class="pill muted" title="training speed">{move || {
                    let r = rate.get();
                    if r > 0.0 { format!("{r:.0} steps/s") } else { "– steps/s".into() }
                }}</span>
                <Show when=move || collapsed.get()>
                    <span class="badge" data-testid="collapsed" title="at least half the experts starved and load entropy ≤ 0.6">
                        "collapsed"<span class="present-only">": most inputs go to one or two experts"</span>
                    </span>
                </Show>
                <button class="drawer-toggle" data-testid="controls-toggle" aria-pressed=move || controls_open.get().to_string()
                    aria-controls="controls" on:click=move |_| controls_open.update(|o| *o = !*o)>
                    {move || if controls_open.get() { "hide controls" } else { "show controls" }}
                </button>
                <button class="toggle" data-testid="present" aria-pressed=move || present.get().to_string()
                    title="presentation mode: large type for a projector, one to three charts at a time, the controls folded away"
                    on:click=move |_| present.update(|p| *p = !*p)>
                    "presentation mode"<span class="toggle-state">{move || if present.get() { ": on" } else { ": off" }}</span>
                </button>
            </div>
        </header>
    }
}

/// The backend badge: where the model trains in plain words ("Training on the graphics chip
/// (WebGPU)", "Training on the processor", "Starting…"), and behind its "details" toggle (and in
/// its tooltip) the trainer's own label, with the adapter's name; presentation mode leaves the
/// details to the tooltip.
#[component]
fn BackendPill(
    /// Where the model trains (see [`TrainsOn::words`]).
    backend: Signal<TrainsOn>,
) -> impl IntoView {
    let words = Memo::new(move |_| backend.with(TrainsOn::words));
    let details = move || words.with(|w| w.details.clone());
    let open = RwSignal::new(false);
    let title = move || match details() {
        Some(d) => format!("where the model trains: {d}"),
        None => "where the model trains: your graphics chip through WebGPU, or the processor".into(),
    };
    view! {
        // `data-webgpu` colours the badge: the GPU's, the processor's, none while starting.
        <span class="pill backend" title=title
            data-webgpu=move || words.with(|w| w.details.as_ref().map(|_| w.gpu.to_string()))>
            <span data-testid="backend">{move || words.with(|w| w.text)}</span>
            <button class="details-toggle normal-only" data-testid="backend-details-toggle" aria-expanded=move || open.get().to_string()
                prop:hidden=move || details().is_none() on:click=move |_| open.update(|o| *o = !*o)>"details"</button>
            <span class="backend-details normal-only" data-testid="backend-details" prop:hidden=move || !open.get() || details().is_none()>
                {details}
            </span>
        </span>
    }
}

/// The messages above the layout, each shown while it has one: the banner (how the page runs, e.g.
/// on the CPU, with its technical details folded), the notice (what the last action did or why a
/// value was refused) and the error (a failed build or diverged training).
#[component]
pub fn Notices(
    /// A lasting remark about the setup.
    #[prop(into)]
    banner: Signal<Option<Banner>>,
    /// The latest notice.
    #[prop(into)]
    notice: Signal<Option<String>>,
    /// The latest error.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <Show when=move || banner.with(Option::is_some)>
            // Presentation mode shows the one-line form and folds the full text with the details.
            <div class="banner">
                <p class="present-only" data-testid="banner-short">
                    {move || banner.with(|b| b.as_ref().map(|b| b.short.clone()))}
                </p>
                <p class="normal-only" data-testid="banner">{move || banner.with(|b| b.as_ref().map(|b| b.text.clone()))}</p>
                <details class="banner-details">
                    <summary data-testid="banner-details-toggle">
                        <span class="present-only">"what to do, and "</span>"technical details"
                    </summary>
                    <p class="present-only">{move || banner.with(|b| b.as_ref().map(|b| b.text.clone()))}</p>
                    <pre data-testid="banner-details">
                        {move || banner.with(|b| b.as_ref().and_then(|b| b.details.clone()))}
                    </pre>
                </details>
            </div>
        </Show>
        <Show when=move || notice.with(Option::is_some)>
            <p class="notice" data-testid="notice" role="status">{move || notice.get()}</p>
        </Show>
        <Show when=move || error.with(Option::is_some)>
            <p class="error" data-testid="error" role="alert">{move || error.get()}</p>
        </Show>
    }
}

/// The phase of an upcycled run, while it has one: "dense warm-up: step i of N, then copied into
/// the E experts", then what happened at the switch.
#[component]
pub fn PhaseLine(
    /// The line, or None (training from scratch).
    #[prop(into)]
    text: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <Show when=move || text.with(Option::is_some)>
            <p class="notice phase" data-testid="phase" role="status">{move || text.get()}</p>
        </Show>
    }
}

/// The GPU error box: why training stopped (a device error or a stall) and a restart button;
/// hidden while there is none.
#[component]
pub fn GpuError(
    /// What went wrong, if anything.
    #[prop(into)]
    message: Signal<Option<String>>,
    /// Rebuilds the trainer and plays (the restart button).
    #[prop(into)]
    on_restart: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="error gpu-error" role="alert" prop:hidden=move || message.with(Option::is_none)>
            <span data-testid="gpu-error">{move || message.get()}</span>
            <button data-testid="restart" title="rebuild the trainer and start training again"
                on:click=move |_| on_restart.run(())>"restart"</button>
        </div>
    }
}

/// The `?bench` card: progress while the benchmark runs, then its result as JSON (read by
/// tests/e2e/bench.mjs) and on the GPU each kernel's time per step. Hidden outside a benchmark.
#[component]
pub fn BenchCard(
    /// Whether this page load is a benchmark.
    shown: bool,
    /// "n / N steps".
    #[prop(into)]
    progress: Signal<String>,
    /// The result once done ("" before).
    #[prop(into)]
    result: Signal<String>,
    /// Each kernel's time per step, a Markdown table ("" before, and on the CPU).
    #[prop(into)]
    kernels: Signal<String>,
) -> impl IntoView {
    view! {
        <section class="bench-card" prop:hidden=!shown>
            <h2>"Benchmark"</h2>
            <p>"Training the default model (T = 256, E = 8, k = 1) as fast as the frame loop allows: "
                <span data-testid="bench-progress">{move || progress.get()}</span></p>
            <pre data-testid="bench">{move || result.get()}</pre>
            <pre data-testid="bench-kernels">{move || kernels.get()}</pre>
        </section>
    }
}

/// Where this copy of the page stands for use without a network, as `www/boot.js` reports it on
/// `<html data-offline>` (and with each "moe-offline" event): "saving", "ready", "update", "off".
fn offline_state() -> String {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("data-offline"))
        .unwrap_or_default()
}

/// This build's id, stamped into the page by `scripts/offline.mjs` (`<meta name="moe-build">`).
fn build_id() -> Option<String> {
    let doc = web_sys::window()?.document()?;
    doc.query_selector(r#"meta[name="moe-build"]"#).ok()??.get_attribute("content")
}

/// The plain-language line for an offline state.
pub fn offline_text(state: &str) -> &'static str {
    match state {
        "saving" => "saving this page for use without a network…",
        "ready" => "saved on this device: it opens and trains without a network",
        "update" => "a newer version is saved: it opens when you reload (this page keeps training)",
        "off" => "this browser does not keep the page for use without a network (a private window?)",
        _ => "",
    }
}

/// The page's footer: the version and build, and whether the page opens without a network.
#[component]
pub fn AboutLine() -> impl IntoView {
    let state = RwSignal::new(offline_state());
    let handle = window_event_listener_untyped("moe-offline", move |_| state.set(offline_state()));
    on_cleanup(move || handle.remove());
    let build = build_id().map(|b| format!(" · build {}", &b[..b.len().min(8)])).unwrap_or_default();
    view! {
        <footer class="about">
            <span>{format!("MoE Playground {}{build}", env!("CARGO_PKG_VERSION"))}</span>
            <span data-testid="offline" data-state=move || state.get()>{move || offline_text(&state.get())}</span>
        </footer>
    }
}
