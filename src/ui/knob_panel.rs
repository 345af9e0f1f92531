//! The knob panels, built from the knob table ([`crate::knobs`]): one [`KnobGroup`] per group,
//! one [`KnobControl`] per knob.
use crate::config::Config;
use crate::knobs::{Control, Group, Kind, Knob, Scale, Value, KNOBS};
use crate::page::{choice_allowed, choices, expert_budget, inert, round2, shown, testid};
use leptos::prelude::*;
use std::collections::HashMap;

/// Sets a knob: (its key, its new value in string form). For `router` it selects the router with
/// its defaults.
pub type SetKnob = Callback<(&'static str, String)>;

/// One panel of knobs (a group of the knob table), saying whether they act at once or restart
/// training; the advanced ones under "more knobs".
#[component]
pub fn KnobGroup(
    /// Which group of the knob table.
    group: Group,
    /// The current config (the controls show its values).
    #[prop(into)]
    cfg: Signal<Config>,
    /// The last positive number of each real knob, shown while it sits at its word (∞, none).
    #[prop(into)]
    saved: Signal<HashMap<&'static str, f32>>,
    /// Sets a knob.
    on_set: SetKnob,
) -> impl IntoView {
    let (basic, more): (Vec<&'static Knob>, Vec<&'static Knob>) =
        KNOBS.iter().filter(|k| k.group == group).partition(|k| !k.advanced);
    let live = KNOBS.iter().filter(|k| k.group == group).all(|k| k.live);
    let control = move |k: &'static Knob| view! { <KnobControl knob=k cfg=cfg saved=saved on_set=on_set /> };
    let more = (!more.is_empty()).then(|| {
        view! {
            <details class="more">
                <summary>"more knobs"</summary>
                {more.into_iter().map(control).collect_view()}
            </details>
        }
    });
    // Under the model's knobs: the experts this config has and what a token uses of them (fine-
    // grained and shared experts keep these equal to the model they are compared with).
    let budget = (group == Group::Model).then(|| {
        view! { <p class="budget" data-testid="expert-budget">{move || expert_budget(&cfg.get().resolved()).sentence}</p> }
    });
    view! {
        <fieldset data-testid=format!("knobs-{}", group.title().to_lowercase().replace(' ', "-"))>
            <legend>{group.title()}<small>{if live { " act at once" } else { " restart training" }}</small></legend>
            {basic.into_iter().map(control).collect_view()}
            {budget}
            {more}
        </fieldset>
    }
}

/// The control of one knob from the knob table: a menu for a choice, a checkbox for yes/no, a
/// slider (log scale in powers of ten, with a 0 notch when 0 is allowed), a menu of usual values or
/// a number field, and a checkbox for a real knob's word (∞ dropless, no clipping). Label and
/// tooltip are the table's; hidden when the selected router does not use the knob; disabled with the
/// reason when it has no effect. The router's menu has the router's description under it.
#[component]
pub fn KnobControl(
    /// The knob.
    knob: &'static Knob,
    /// The current config.
    #[prop(into)]
    cfg: Signal<Config>,
    /// The last positive number of each real knob.
    #[prop(into)]
    saved: Signal<HashMap<&'static str, f32>>,
    /// Sets a knob.
    on_set: SetKnob,
) -> impl IntoView {
    let k = knob;
    let key = k.key;
    let hidden = move || cfg.with(|c| !k.used_by(c.router));
    let why = move || cfg.with(|c| inert(key, c));
    let text = move || cfg.with(|c| k.get_str(c));
    let set = move |v: String| on_set.run((key, v));
    let value_of = move |ev: &leptos::ev::Event| event_target_value(ev);
    let off = match k.kind {
        Kind::Real { off, .. } => off,
        _ => None,
    };
    let is_off = move || cfg.with(|c| (k.get)(c) == Value::Off);
    let inactive = move || is_off() || why().is_some();
    // The number shown while the knob sits at its word.
    let number = move || {
        cfg.with(|c| match (k.get)(c) {
            Value::Real(x) => x,
            _ => saved.with(|m| m.get(key).copied()).or(off.map(|o| o.restore)).unwrap_or(1.0),
        })
    };
    let control = match (k.kind, k.control) {
        (Kind::Choice(_), _) => {
            let router = key == "router";
            let options = k
                .choices()
                .into_iter()
                .map(|c| {
                    let disabled = move || cfg.with(|cfg| !choice_allowed(key, c.value, cfg));
                    view! { <option value=c.value title=c.help prop:disabled=disabled>{c.label}</option> }
                })
                .collect_view();
            // The router's own description under its menu.
            let about = router.then(|| {
                let info = move || cfg.with(|c| c.router.info());
                view! {
                    <p class="hint" data-testid="router-help">{move || info().help}
                        <small>{move || format!(" ({})", info().paper)}</small></p>
                }
            });
            view! {
                <label class=if router { "control stack" } else { "control" } title=k.help>
                    <span class="name">{k.label}</span>
                    <select data-testid=testid(key) prop:value=text on:change=move |ev| set(value_of(&ev))>{options}</select>
                </label>
                {about}
            }
            .into_any()
        }
        (Kind::Bool, _) => view! {
            <label class="check" title=k.help>
                <input type="checkbox" data-testid=testid(key) prop:checked=move || text() == "true"
                    on:change=move |ev| set(event_target_checked(&ev).to_string()) />
                {k.label}
            </label>
        }
        .into_any(),
        (Kind::Int { .. }, Control::Menu(usual)) => {
            let cur = move || cfg.with(|c| (k.get)(c));
            view! {
                <label class="control" title=k.help>
                    <span class="name">{k.label}</span>
                    <select data-testid=testid(key) prop:value=text on:change=move |ev| set(value_of(&ev))>
                        {move || {
                            let c = match cur() { Value::Int(n) => n as u32, _ => 0 };
                            choices(usual, c)
                                .into_iter()
                                .map(|v| view! { <option value=v.to_string() selected=v == c>{v}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
            }
            .into_any()
        }
        (Kind::Int { .. }, Control::Slider { min, max, step }) => {
            let max = move || cfg.with(|c| if key == "top-k" { c.k_max() as f32 } else { max });
            view! {
                <label class="control" title=k.help>
                    <span class="name">{k.label}</span><output>{text}</output>
                    <input type="range" data-testid=testid(key) min=min max=max step=step
                        prop:value=text prop:disabled=inactive on:input=move |ev| set(value_of(&ev)) />
                </label>
            }
            .into_any()
        }
        (Kind::Real { .. }, Control::Slider { min, max, step }) => {
            let log = k.scale() == Scale::Log;
            // A log slider of a knob that allows 0 gets one more notch, at its left end, for 0.
            let zero = log && k.admits(Value::Real(0.0));
            let low = if zero { min - step } else { min };
            let pos = move || {
                let x = number();
                if !log {
                    x.to_string()
                } else if x > 0.0 {
                    x.log10().to_string()
                } else {
                    low.to_string()
                }
            };
            view! {
                <label class="control" title=k.help>
                    <span class="name">{k.label}</span><output data-testid=format!("{}-value", testid(key))>{move || cfg.with(|c| shown(k, c))}</output>
                    <input type="range" data-testid=testid(key) min=low max=max step=step
                        prop:value=pos prop:disabled=inactive
                        on:input=move |ev| {
                            let v = value_of(&ev);
                            if !log {
                                set(v);
                            } else {
                                let p: f32 = v.parse().unwrap_or(min);
                                let x = if zero && p < min - step / 2.0 { 0.0 } else { round2(10f32.powf(p)) };
                                set(x.to_string());
                            }
                        } />
                </label>
            }
            .into_any()
        }
        _ => {
            let (lo, hi, step) = match k.kind {
                Kind::Int { min, max } => (min.to_string(), max.to_string(), "1".to_string()),
                _ => (String::new(), String::new(), "any".to_string()),
            };
            view! {
                <label class="control" title=k.help>
                    <span class="name">{k.label}</span>
                    <input type="number" data-testid=testid(key) min=lo max=hi step=step
                        prop:value=move || if off.is_some() { number().to_string() } else { text() }
                        prop:disabled=inactive on:change=move |ev| set(value_of(&ev)) />
                </label>
            }
            .into_any()
        }
    };
    let word = off.map(|o| {
        view! {
            <label class="check" title=k.help>
                <input type="checkbox" data-testid=format!("{}-{}", testid(key), o.word) prop:checked=is_off
                    on:change=move |ev| {
                        if event_target_checked(&ev) { set(o.word.to_string()) } else { set(number().to_string()) }
                    } />
                {if o.word == "inf" { format!("∞ {}", o.label) } else { o.label.to_string() }}
            </label>
        }
    });
    view! {
        <div class="knob" data-knob=key prop:hidden=hidden>
            {control}
            {word}
            <p class="hint why">{why}</p>
        </div>
    }
}
