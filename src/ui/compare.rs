//! Compare mode's controls: the toggle that starts a second run B beside A, and the panel of the
//! knobs in which B differs (listed, set, removed), all checked against the knob table.
use super::knob_panel::SetKnob;
use crate::config::Config;
use crate::knobs::{knob, Group, Kind, KNOBS};
use crate::page::{diff_label, differing, shown};
use leptos::prelude::*;

/// The compare toggle: one click starts run B as a copy of A (both restart from the same seed),
/// another stops it.
#[component]
pub fn CompareToggle(
    /// Compare mode is on (the button shows as pressed).
    #[prop(into)]
    on: Signal<bool>,
    /// Turns compare mode on (true) or off (false).
    #[prop(into)]
    on_toggle: Callback<bool>,
) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"Compare"</legend>
            <div class="buttons">
                <button data-testid="compare" class:pressed=move || on.get()
                    aria-pressed=move || on.get().to_string()
                    title="train a second model B beside this one, from the same seed on the same batches, and show both"
                    on:click=move |_| on_toggle.run(!on.get_untracked())>
                    {move || if on.get() { "stop comparing" } else { "compare A with B" }}
                </button>
            </div>
            <p class="hint">{move || if on.get() {
                "Two models train side by side: A (blue) with the knobs of this panel, B (orange) with the same knobs except the differences listed below."
            } else {
                "Train a second model beside this one and change one knob to see what it does."
            }}</p>
        </fieldset>
    }
}

/// The "B differs in" panel, shown in compare mode: what tells the runs apart, each knob B sets
/// apart from A (with a button that gives it A's value again), and a row to set any knob of B.
#[component]
pub fn DiffersPanel(
    /// Run A's config.
    #[prop(into)]
    cfg: Signal<Config>,
    /// Run B's config (None = compare mode off: the panel is hidden).
    #[prop(into)]
    cfg_b: Signal<Option<Config>>,
    /// Sets a knob of run B: (its key, its new value in string form).
    on_set_b: SetKnob,
) -> impl IntoView {
    let labels = move || cfg_b.with(|b| b.as_ref().map(|b| cfg.with(|a| diff_label(a, b))));
    let rows = move || {
        let a = cfg.get();
        let Some(b) = cfg_b.get() else { return ().into_any() };
        let knobs = differing(&a, &b);
        if knobs.is_empty() {
            return view! { <li class="hint" data-testid="b-same">"nothing yet: B is a copy of A"</li> }.into_any();
        }
        knobs
            .into_iter()
            .map(|k| {
                let (key, back) = (k.key, k.get_str(&a));
                view! {
                    <li data-testid=format!("b-diff-{key}")>
                        <span class="name" title=k.help>{k.label}</span>
                        " "<b class="run-b">{shown(k, &b)}</b>
                        " "<small>"(A: "{shown(k, &a)}")"</small>
                        <button class="remove" data-testid=format!("b-remove-{key}")
                            title="give B the same value as A again"
                            on:click=move |_| on_set_b.run((key, back.clone()))>"×"</button>
                    </li>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <Show when=move || cfg_b.with(Option::is_some)>
            <fieldset class="differs" data-testid="b-differs">
                <legend>"B differs in"</legend>
                <p class="run-labels" data-testid="compare-label">
                    <span class="run-a">{move || labels().map(|l| l.0)}</span>
                    <br />
                    <span class="run-b">{move || labels().map(|l| l.1)}</span>
                </p>
                <ul class="differences">{rows}</ul>
                <SetDifference cfg_b=cfg_b on_set_b=on_set_b />
                <p class="hint">"The knobs of this panel (Routing, Training, Model) change both runs, except those B has its own value for. A change that restarts one restarts both, so they stay in step."</p>
            </fieldset>
        </Show>
    }
}

/// Set any knob of run B: a menu of the knob table's knobs (by group), a field for the value (with
/// the knob's choices offered, its allowed range as the placeholder) and a button. A bad value
/// is refused by the knob table with a notice and B keeps its old one.
#[component]
fn SetDifference(
    /// Run B's config (the field starts at its value of the chosen knob).
    #[prop(into)]
    cfg_b: Signal<Option<Config>>,
    /// Sets a knob of run B.
    on_set_b: SetKnob,
) -> impl IntoView {
    let chosen = RwSignal::new("alpha");
    let text = RwSignal::new(String::new());
    // The field shows B's value of the chosen knob (again after every change of B).
    Effect::new(move |_| {
        let key = chosen.get();
        if let Some(v) = cfg_b.with(|b| b.as_ref().and_then(|b| b.get(key))) {
            text.set(v);
        }
    });
    let choices = move || {
        knob(chosen.get())
            .map(|k| match k.kind {
                Kind::Choice(_) => k.choices().iter().map(|c| c.value.to_string()).collect(),
                Kind::Bool => vec!["true".to_string(), "false".to_string()],
                _ => Vec::new(),
            })
            .unwrap_or_default()
    };
    let allowed = move || knob(chosen.get()).map(|k| k.allowed()).unwrap_or_default();
    let submit = move || on_set_b.run((chosen.get_untracked(), text.get_untracked().trim().to_string()));
    let groups = Group::ALL.map(|g| {
        view! {
            <optgroup label=g.title()>
                {KNOBS.iter().filter(|k| k.group == g).map(|k| view! { <option value=k.key>{k.label}</option> }).collect_view()}
            </optgroup>
        }
    });
    view! {
        <div class="set-b">
            <label class="control stack" title="pick any knob and give run B its own value">
                <span class="name">"set for B"</span>
                <select data-testid="b-knob" prop:value=move || chosen.get() on:change=move |ev| {
                    let v = event_target_value(&ev);
                    if let Some(k) = knob(&v) {
                        chosen.set(k.key);
                    }
                }>
                    {groups.into_iter().collect_view()}
                </select>
            </label>
            <div class="buttons">
                <input type="text" data-testid="b-value" list="b-choices" aria-label="run B's value"
                    placeholder=allowed title=allowed
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                    on:keydown=move |ev| if ev.key() == "Enter" { submit() } />
                <datalist id="b-choices">{move || choices().into_iter().map(|c| view! { <option value=c.clone()></option> }).collect_view()}</datalist>
                <button data-testid="b-set" title="give run B this value" on:click=move |_| submit()>"set"</button>
            </div>
        </div>
    }
}
