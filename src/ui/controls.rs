//! The control panels besides the knobs: playback (with its keyboard shortcuts), the preset menu,
//! and sharing and export.
use super::{web, write_url};
use crate::config::Config;
use crate::metrics::Snapshot;
use crate::page::{history_csv_runs, matching_preset, Hist};
use crate::presets;
use leptos::prelude::*;
use std::time::Duration;

/// Playback: play/pause, one step, reset, the speed limit, and their keys (space, →, r) anywhere
/// on the page outside form fields.
#[component]
pub fn Playback(
    /// Training runs (toggled by play/pause and space).
    playing: RwSignal<bool>,
    /// The speed limit in steps per second; 0 = as fast as the device allows.
    speed: RwSignal<u32>,
    /// Disables play while true (training stopped on a GPU error until a restart, or at a
    /// lesson's end until the next lesson or "explore from here").
    #[prop(into)]
    blocked: Signal<bool>,
    /// Pauses and trains exactly one step (the step button and →).
    #[prop(into)]
    on_step: Callback<()>,
    /// Restarts training from the seed (the reset button and r).
    #[prop(into)]
    on_reset: Callback<()>,
    /// Keys another part of the page takes first (a lesson's space, n, p): true when it did.
    #[prop(optional)]
    keys: Option<Callback<String, bool>>,
    /// What the play button does instead of toggling `playing` (a lesson goes on to its next beat).
    #[prop(optional)]
    on_play: Option<Callback<()>>,
) -> impl IntoView {
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let tag =
            ev.target().and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok()).map(|e| e.tag_name());
        // Form fields keep every key (sliders use the arrows); buttons and links keep space/enter.
        let key = ev.key();
        let field = matches!(tag.as_deref(), Some("INPUT" | "SELECT" | "TEXTAREA"));
        let button = matches!(tag.as_deref(), Some("BUTTON" | "A")) && (key == " " || key == "Enter");
        if field || button || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        if keys.is_some_and(|k| k.run(key.clone())) {
            ev.prevent_default();
            return;
        }
        match key.as_str() {
            " " => {
                ev.prevent_default();
                playing.update(|p| *p = !*p);
            }
            "ArrowRight" => on_step.run(()),
            "r" => on_reset.run(()),
            _ => {}
        }
    };
    let keys = window_event_listener(leptos::ev::keydown, on_key);
    on_cleanup(move || keys.remove());

    view! {
        <fieldset>
            <legend>"Playback"</legend>
            <div class="buttons">
                <button class="primary" data-testid="play" title="play / pause (space)" aria-keyshortcuts="Space"
                    prop:disabled=move || blocked.get()
                    on:click=move |_| match on_play {
                        Some(play) => play.run(()),
                        None => playing.update(|p| *p = !*p),
                    }>
                    <svg class="icon" viewBox="0 0 10 10" width="11" height="11" aria-hidden="true">
                        <path fill="currentColor" d=move || if playing.get() { "M1 0h3v10h-3zM6 0h3v10h-3z" } else { "M1 0L9.5 5L1 10z" } />
                    </svg>
                    {move || if playing.get() { " pause" } else { " play" }}
                </button>
                <button data-testid="step-once" title="train one step (→)" aria-keyshortcuts="ArrowRight" on:click=move |_| on_step.run(())>"step"</button>
                <button data-testid="reset" title="restart training from the seed (r)" aria-keyshortcuts="r" on:click=move |_| on_reset.run(())>"reset"</button>
            </div>
            <label class="control stack" title="how fast training runs: full speed, or slow enough to follow single steps">
                "speed"
                <select data-testid="speed" on:change=move |ev| {
                    speed.set(event_target_value(&ev).parse().unwrap_or(0))
                }>
                    <option value="0">"full speed"</option>
                    <option value="20">"20 steps/s"</option>
                    <option value="5">"5 steps/s"</option>
                    <option value="1">"1 step/s"</option>
                </select>
            </label>
            <p class="hint">"keys: " <kbd>"space"</kbd>" play/pause · "<kbd>"→"</kbd>" one step · "<kbd>"r"</kbd>" reset"</p>
        </fieldset>
    }
}

/// The lesson menu (`data-testid=lessons`): every lesson of [`crate::lessons::LESSONS`] by title;
/// choosing one starts it, "no lesson" leaves it.
#[component]
pub fn LessonMenu(
    /// The id of the lesson being played, if any.
    #[prop(into)]
    current: Signal<Option<&'static str>>,
    /// Starts the lesson of this id ("" leaves the lesson).
    #[prop(into)]
    on_choose: Callback<String>,
) -> impl IntoView {
    let claim = move || current.get().and_then(crate::lessons::find).map(|l| l.claim).unwrap_or("");
    view! {
        <fieldset>
            <legend>"Lesson"</legend>
            <label class="control stack" title="a lesson runs a claim from the MoE papers beside its counterfactual, narrated beat by beat">
                <span class="name">"reproduce a claim"</span>
                <select data-testid="lessons" prop:value=move || current.get().unwrap_or("")
                    data-end=move || current.get().and_then(crate::lessons::find).map(|l| l.end().to_string())
                    on:change=move |ev| {
                        web::blur_target(&ev);
                        on_choose.run(event_target_value(&ev))
                    }>
                    <option value="">"no lesson"</option>
                    {crate::lessons::LESSONS.iter().map(|l| view! { <option value=l.id>{l.title}</option> }).collect_view()}
                </select>
            </label>
            <p class="hint" data-testid="lesson-claim">{claim}</p>
            <p class="hint">"keys in a lesson: "<kbd>"space"</kbd>" go on · "<kbd>"n"</kbd>" next beat (at the end: next lesson) · "<kbd>"p"</kbd>" previous beat"</p>
        </fieldset>
    }
}

/// The preset menu: "custom" unless the knobs equal a preset's, and what to watch for in it. Leaving
/// a preset moves nothing: a one-line state says so and the last preset's note stays, dimmed, in a
/// box of fixed height (scrolled when longer).
#[component]
pub fn PresetMenu(
    /// The current config (the menu shows the preset it matches).
    #[prop(into)]
    cfg: Signal<Config>,
    /// Applies the preset of this name and restarts.
    #[prop(into)]
    on_choose: Callback<String>,
) -> impl IntoView {
    // The names of the preset matched now, and of the one matched now or last.
    let now = Memo::new(move |_| cfg.with(matching_preset).map(|p| p.name));
    let last_name = Memo::new(move |prev: Option<&Option<&'static str>>| now.get().or(prev.copied().flatten()));
    let matching = move || now.get().and_then(presets::find);
    let last = move || last_name.get().and_then(presets::find);
    let state = move || match (matching(), last()) {
        (Some(_), _) => "what to watch for:".to_string(),
        (None, Some(p)) => format!("custom — left “{}”; its note:", p.title),
        (None, None) => "custom settings: no preset's note applies".to_string(),
    };
    view! {
        <fieldset>
            <legend>"Preset"</legend>
            <label class="control stack" title="a preset sets every knob, restarts, and says what to watch for">
                <span class="name">"scenario"</span>
                <select data-testid="preset" prop:value=move || matching().map(|p| p.name).unwrap_or("")
                    on:change=move |ev| on_choose.run(event_target_value(&ev))>
                    <option value="" disabled=true>"custom"</option>
                    {presets::PRESETS.iter().map(|p| view! { <option value=p.name>{p.title}</option> }).collect_view()}
                </select>
            </label>
            <p class="hint preset-state" data-testid="preset-state" title=state>{state}</p>
            // Focusable: a longer note scrolls inside its box, by keyboard too.
            <p class="hint preset-watch" data-testid="preset-watch" tabindex="0"
                class:left=move || matching().is_none()>
                {move || last().map(|p| p.watch).unwrap_or("")}
            </p>
        </fieldset>
    }
}

/// Share and export: copy a link to this setup, download the metrics history as CSV and the latest
/// snapshot as JSON (each chart has its own PNG button). In compare mode the link carries run B,
/// the CSV both runs (a `run` column) and the JSON both snapshots (`a` and `b`).
#[component]
pub fn ShareExport(
    /// The config the link carries.
    #[prop(into)]
    cfg: Signal<Config>,
    /// Compare mode's run B (None = compare mode off).
    #[prop(into)]
    cfg_b: Signal<Option<Config>>,
    /// The metrics history (the CSV).
    #[prop(into)]
    hist: Signal<Vec<Hist>>,
    /// Run B's metrics history.
    #[prop(into)]
    hist_b: Signal<Vec<Hist>>,
    /// The latest snapshot (the JSON).
    #[prop(into)]
    snap: Signal<Option<Snapshot>>,
    /// Run B's latest snapshot.
    #[prop(into)]
    snap_b: Signal<Option<Snapshot>>,
    /// Shows a notice (why an export failed).
    #[prop(into)]
    on_notice: Callback<String>,
) -> impl IntoView {
    // Feedback next to "copy link", for a moment.
    let copied = RwSignal::new(None::<String>);
    let copy_link = move |_| {
        write_url(&cfg.get_untracked(), cfg_b.get_untracked().as_ref());
        let href = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
        leptos::task::spawn_local(async move {
            let msg = match web::copy_text(&href).await {
                Ok(()) => "copied ✓".to_string(),
                Err(e) => format!("could not copy ({e}); the address bar has the link"),
            };
            copied.set(Some(msg));
            set_timeout(move || copied.set(None), Duration::from_millis(2500));
        });
    };
    let export_csv = move |_| {
        let compare = cfg_b.with_untracked(Option::is_some);
        let csv = hist.with_untracked(|a| hist_b.with_untracked(|b| history_csv_runs(a, compare.then_some(b))));
        if let Err(e) = web::download("moe-metrics.csv", &web::data_url("text/csv", &csv)) {
            on_notice.run(format!("export failed: {e}"));
        }
    };
    let export_json = move |_| {
        let compare = cfg_b.with_untracked(Option::is_some);
        let json = snap.with_untracked(|s| {
            s.as_ref().map(|s| {
                let text = if compare {
                    snap_b.with_untracked(|b| serde_json::to_string(&serde_json::json!({ "a": s, "b": b })))
                } else {
                    serde_json::to_string(s)
                };
                (s.step, text)
            })
        });
        match json {
            Some((step, Ok(text))) => {
                if let Err(e) =
                    web::download(&format!("moe-routing-step{step}.json"), &web::data_url("application/json", &text))
                {
                    on_notice.run(format!("export failed: {e}"));
                }
            }
            Some((_, Err(e))) => on_notice.run(format!("export failed: {e}")),
            None => on_notice.run("no snapshot yet: press play and wait a moment".into()),
        }
    };
    view! {
        <fieldset>
            <legend>"Share & export"</legend>
            <div class="buttons">
                <button data-testid="copy-link" title="copy a link to this exact setup" on:click=copy_link>"copy link"</button>
                <span class="feedback" data-testid="copied" aria-live="polite">{move || copied.get()}</span>
            </div>
            <div class="buttons">
                <button data-testid="export-csv" title="download the metrics history (one row per snapshot) as CSV" on:click=export_csv>"metrics CSV"</button>
                <button data-testid="export-json" title="download the latest snapshot, with the probe tokens' routing, as JSON" on:click=export_json>"routing JSON"</button>
            </div>
            <p class="hint">"Each chart has its own PNG button."</p>
        </fieldset>
    }
}
