//! The knob panels, built from the knob table ([`crate::knobs`]): one [`KnobGroup`] per group,
//! one [`KnobControl`] per knob.
use super::hints::Change;
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
    /// The latest knob change: its line shows next to its control.
    #[prop(optional, into)]
    changed: Signal<Option<Change>>,
) -> impl IntoView {
    let (basic, more): (Vec<&'static Knob>, Vec<&'static Knob>) =
        KNOBS.iter().filter(|k| k.group == group).partition(|k| !k.advanced);
    let live = KNOBS.iter().filter(|k| k.group == group).all(|k| k.live);
    let control =
        move |k: &'static Knob| view! { <KnobControl knob=k cfg=cfg saved=saved on_set=on_set changed=changed /> };
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
/// reason when it has no effect. The router's menu has the router's description under it. After a
/// change, one line under the control (laid over what follows, so nothing moves) says what changed
/// and where to look.
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
    /// The latest knob change: its line shows here while it is this knob's.
    #[prop(optional, into)]
    changed: Signal<Option<Change>>,
) -> impl IntoView {
    let c = Ctl { k: knob, cfg, saved, on_set };
    let key = knob.key;
    let hidden = move || cfg.with(|cf| !knob.used_by(cf.router));
    let why = move || cfg.with(|cf| inert(key, cf));
    let control = match (knob.kind, knob.control) {
        (Kind::Choice(_), _) => c.choice(),
        (Kind::Bool, _) => c.check(),
        (Kind::Int { .. }, Control::Menu(usual)) => c.menu(usual),
        (Kind::Int { .. }, Control::Slider { min, max, step }) => c.int_slider(min, max, step),
        (Kind::Real { .. }, Control::Slider { min, max, step }) => c.real_slider(min, max, step),
        _ => c.field(),
    };
    view! {
        <div class="knob" data-knob=key prop:hidden=hidden>
            {control}
            {c.word()}
            <p class="hint why">{why}</p>
            <p class="change" data-testid=format!("change-{}", testid(key)) role="status"
                prop:hidden=move || changed.with(|c| c.as_ref().is_none_or(|c| c.key != key))>
                {move || changed.with(|c| c.as_ref().filter(|c| c.key == key).map(|c| c.line.clone()))}
            </p>
        </div>
    }
}

/// What each kind of [`KnobControl`] reads and writes: the knob, the config, the remembered
/// numbers and the setter.
#[derive(Clone, Copy)]
struct Ctl {
    k: &'static Knob,
    cfg: Signal<Config>,
    saved: Signal<HashMap<&'static str, f32>>,
    on_set: SetKnob,
}

impl Ctl {
    fn set(self, v: String) {
        self.on_set.run((self.k.key, v));
    }
    /// The knob's value as text.
    fn text(self) -> String {
        self.cfg.with(|c| self.k.get_str(c))
    }
    /// A real knob's word (∞, none), if it has one.
    fn off(self) -> Option<crate::knobs::Off> {
        match self.k.kind {
            Kind::Real { off, .. } => off,
            _ => None,
        }
    }
    fn is_off(self) -> bool {
        self.cfg.with(|c| (self.k.get)(c) == Value::Off)
    }
    /// Off, or without effect in this config: the slider or field is disabled.
    fn inactive(self) -> bool {
        self.is_off() || self.cfg.with(|c| inert(self.k.key, c)).is_some()
    }
    /// The number shown, also while the knob sits at its word (the last one set, else its default).
    fn number(self) -> f32 {
        self.cfg.with(|c| match (self.k.get)(c) {
            Value::Real(x) => x,
            _ => {
                let saved = self.saved.with(|m| m.get(self.k.key).copied());
                saved.or(self.off().map(|o| o.restore)).unwrap_or(1.0)
            }
        })
    }

    /// A menu of the knob's choices (the router's with its description under it).
    fn choice(self) -> AnyView {
        let (k, cfg, key) = (self.k, self.cfg, self.k.key);
        let router = key == "router";
        let options = k
            .choices()
            .into_iter()
            .map(|c| {
                let disabled = move || cfg.with(|cfg| !choice_allowed(key, c.value, cfg));
                view! { <option value=c.value title=c.help prop:disabled=disabled>{c.label}</option> }
            })
            .collect_view();
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
                <select data-testid=testid(key) prop:value=move || self.text()
                    on:change=move |ev| self.set(event_target_value(&ev))>{options}</select>
            </label>
            {about}
        }
        .into_any()
    }

    /// A checkbox for a yes/no knob.
    fn check(self) -> AnyView {
        let k = self.k;
        view! {
            <label class="check" title=k.help>
                <input type="checkbox" data-testid=testid(k.key) prop:checked=move || self.text() == "true"
                    on:change=move |ev| self.set(event_target_checked(&ev).to_string()) />
                {k.label}
            </label>
        }
        .into_any()
    }

    /// A menu of usual whole numbers (and the current one).
    fn menu(self, usual: &'static [u32]) -> AnyView {
        let (k, cfg) = (self.k, self.cfg);
        let cur = move || cfg.with(|c| (k.get)(c));
        view! {
            <label class="control" title=k.help>
                <span class="name">{k.label}</span>
                <select data-testid=testid(k.key) prop:value=move || self.text()
                    on:change=move |ev| self.set(event_target_value(&ev))>
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

    /// A slider for a whole number (top-k's end is the config's k_max).
    fn int_slider(self, min: f32, max: f32, step: f32) -> AnyView {
        let (k, cfg) = (self.k, self.cfg);
        let max = move || cfg.with(|c| if k.key == "top-k" { c.k_max() as f32 } else { max });
        view! {
            <label class="control" title=k.help>
                <span class="name">{k.label}</span><output>{move || self.text()}</output>
                <input type="range" data-testid=testid(k.key) min=min max=max step=step
                    prop:value=move || self.text() prop:disabled=move || self.inactive()
                    on:input=move |ev| self.set(event_target_value(&ev)) />
            </label>
        }
        .into_any()
    }

    /// A slider for a real number; on a log scale in powers of ten, with one more notch at its left
    /// end for 0 where the knob allows 0.
    fn real_slider(self, min: f32, max: f32, step: f32) -> AnyView {
        let (k, cfg) = (self.k, self.cfg);
        let log = k.scale() == Scale::Log;
        let zero = log && k.admits(Value::Real(0.0));
        let low = if zero { min - step } else { min };
        let pos = move || match self.number() {
            x if !log => x.to_string(),
            x if x > 0.0 => x.log10().to_string(),
            _ => low.to_string(),
        };
        let input = move |v: String| {
            if !log {
                return self.set(v);
            }
            let p: f32 = v.parse().unwrap_or(min);
            let x = if zero && p < min - step / 2.0 { 0.0 } else { round2(10f32.powf(p)) };
            self.set(x.to_string());
        };
        view! {
            <label class="control" title=k.help>
                <span class="name">{k.label}</span>
                <output data-testid=format!("{}-value", testid(k.key))>{move || cfg.with(|c| shown(k, c))}</output>
                <input type="range" data-testid=testid(k.key) min=low max=max step=step
                    prop:value=pos prop:disabled=move || self.inactive()
                    on:input=move |ev| input(event_target_value(&ev)) />
            </label>
        }
        .into_any()
    }

    /// A number field.
    fn field(self) -> AnyView {
        let k = self.k;
        let (lo, hi, step) = match k.kind {
            Kind::Int { min, max } => (min.to_string(), max.to_string(), "1".to_string()),
            _ => (String::new(), String::new(), "any".to_string()),
        };
        let has_word = self.off().is_some();
        view! {
            <label class="control" title=k.help>
                <span class="name">{k.label}</span>
                <input type="number" data-testid=testid(k.key) min=lo max=hi step=step
                    prop:value=move || if has_word { self.number().to_string() } else { self.text() }
                    prop:disabled=move || self.inactive() on:change=move |ev| self.set(event_target_value(&ev)) />
            </label>
        }
        .into_any()
    }

    /// The checkbox of a real knob's word (∞ dropless, no clipping), if it has one.
    fn word(self) -> Option<AnyView> {
        let (k, o) = (self.k, self.off()?);
        let label = if o.word == "inf" { format!("∞ {}", o.label) } else { o.label.to_string() };
        let change =
            move |on: bool| if on { self.set(o.word.to_string()) } else { self.set(self.number().to_string()) };
        Some(
            view! {
                <label class="check" title=k.help>
                    <input type="checkbox" data-testid=format!("{}-{}", testid(k.key), o.word)
                        prop:checked=move || self.is_off() on:change=move |ev| change(event_target_checked(&ev)) />
                    {label}
                </label>
            }
            .into_any(),
        )
    }
}
