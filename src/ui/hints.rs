//! The cards' "try this" hints ([`TryThis`], from [`crate::hints::TRIES`]) and what a knob change
//! points at: the one line next to the changed control ([`Change`], shown by the knob panels), and
//! its card outlined and, where that moves nothing under the pointer, scrolled into view
//! ([`point_at`]).
use super::Ui;
use crate::cards::CardId;
use crate::hints::{change_line, knob_card, Progress, Try};
use crate::knobs::knob;
use crate::page::shown;
use crate::page::Side;
use crate::session::Cmd;
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::js_sys;

/// The latest knob change: which knob, its value before, and the line shown next to its control.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The knob's key.
    pub key: &'static str,
    /// Its value before the change, as the page shows it.
    pub from: String,
    /// Its value after.
    pub to: String,
    /// The card to watch (none: training restarted).
    pub card: Option<CardId>,
    /// Where its card is (" ↓": below, out of view), or "".
    pub place: &'static str,
    /// "cf 1.25 → 1: watch Dropped tokens", and where.
    pub line: String,
    /// Counts changes (the line's timer clears only its own).
    pub seq: u32,
}

/// How long the change line stays next to its control.
const CHANGE_SHOWN: Duration = Duration::from_secs(12);

/// A knob change sent and not yet seen in the configs.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    /// The knob's key.
    key: &'static str,
    /// Its value before, as the page shows it.
    from: String,
    /// The card to point at instead of the knob's own (a card's hint points at its card).
    card: Option<CardId>,
}

/// Before sending a change of knob `key` (from card `card`'s hint, if any): remember the value it
/// had, unless a change of the same knob is still showing (a slider's drag keeps the value it
/// started from).
pub fn before_set(ui: Ui, key: &'static str, card: Option<CardId>) {
    if ui.pending.with_untracked(|p| p.as_ref().is_some_and(|p| p.key == key)) {
        return;
    }
    let from = match ui.changed.with_untracked(|c| c.as_ref().filter(|c| c.key == key).map(|c| c.from.clone())) {
        Some(f) => f,
        None => ui.cfg.with_untracked(|c| knob(key).map(|k| shown(k, c)).unwrap_or_default()),
    };
    ui.pending.set(Some(Pending { key, from, card }));
}

/// When the configs arrive after a change sent with [`before_set`]: the line next to the control,
/// and the card it shows on outlined and brought into view. Later configs (a slider still moving)
/// update the line's new value.
pub fn after_configs(ui: Ui) {
    let Some(Pending { key, from, card }) = ui.pending.get_untracked() else { return follow(ui) };
    let Some(k) = knob(key) else { return };
    let to = ui.cfg.with_untracked(|c| shown(k, c));
    if to == from && ui.changed.with_untracked(|c| c.as_ref().is_none_or(|c| c.key != key)) {
        return; // not (yet) changed: refused, or another command's configs
    }
    ui.pending.set(None);
    let seq = ui.changed.with_untracked(|c| c.as_ref().map_or(0, |c| c.seq + 1));
    let mut place = "";
    let card = card.or(knob_card(key).map(|k| k.card));
    if let Some(card) = card {
        ui.highlight.set(Some(card));
        if !ui.present.get_untracked() {
            place = point_at(card).words();
        }
    }
    let line = format!("{}{place}", change_line(k.symbol, &from, &to, card));
    ui.changed.set(Some(Change { key, from, to, card, place, line, seq }));
    set_timeout(
        move || {
            if ui.changed.with_untracked(|c| c.as_ref().is_some_and(|c| c.seq == seq)) {
                ui.changed.set(None);
            }
        },
        CHANGE_SHOWN,
    );
}

/// Configs with no change pending: the shown change's line follows its knob's value now.
fn follow(ui: Ui) {
    let Some(c) = ui.changed.get_untracked() else { return };
    let Some(k) = knob(c.key) else { return };
    let to = ui.cfg.with_untracked(|cfg| shown(k, cfg));
    if to != c.to {
        let line = format!("{}{}", change_line(k.symbol, &c.from, &to, c.card), c.place);
        ui.changed.set(Some(Change { to, line, ..c }));
    }
}

/// Where a card is after [`point_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    /// In view (it was, or it was scrolled there).
    InView,
    /// Out of view below (scrolling there would have moved the controls).
    Below,
    /// Out of view above.
    Above,
}

impl Where {
    /// What the change line adds.
    fn words(self) -> &'static str {
        match self {
            Where::InView => "",
            Where::Below => " ↓",
            Where::Above => " ↑",
        }
    }
}

/// `obj[name](...args)`, if it is a function.
fn call(obj: &JsValue, name: &str, args: &[JsValue]) -> Option<JsValue> {
    let f: js_sys::Function = js_sys::Reflect::get(obj, &name.into()).ok()?.dyn_into().ok()?;
    f.apply(obj, &args.iter().collect::<js_sys::Array>()).ok()
}

/// A number property of `obj`.
fn num(obj: &JsValue, name: &str) -> f64 {
    js_sys::Reflect::get(obj, &name.into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
}

/// `el.getBoundingClientRect()`'s (top, bottom).
fn rect(el: &JsValue) -> (f64, f64) {
    call(el, "getBoundingClientRect", &[]).map(|r| (num(&r, "top"), num(&r, "bottom"))).unwrap_or_default()
}

/// How far from the top the controls stick (style.css: `.controls { top: 10px }`).
const STICK: f64 = 10.0;
/// Room left around a card scrolled into view.
const MARGIN: f64 = 8.0;

/// Scroll card `card` into view, by the least distance (as `block: nearest`, also for a card
/// taller than the window; instantly where the reader asks for reduced motion), when part of it is
/// out of view, and only where that leaves the controls where they are: stuck at the top before
/// and after (a control must not move under the pointer). Says where the card is.
pub fn point_at(card: CardId) -> Where {
    let Some(w) = web_sys::window() else { return Where::InView };
    let Some(doc) = w.document() else { return Where::InView };
    let sel = format!("[data-card=\"{}\"]", card.name());
    let found = (doc.query_selector(&sel), doc.query_selector(".layout"), doc.get_element_by_id("controls"));
    let (Ok(Some(el)), Ok(Some(layout)), Some(controls)) = found else { return Where::InView };
    let height = w.inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(0.0);
    let wide = w.inner_width().ok().and_then(|v| v.as_f64()).unwrap_or(0.0) > 900.0;
    let ((top, bottom), (layout_top, layout_bottom), (c_top, c_bottom)) = (rect(&el), rect(&layout), rect(&controls));
    let delta = if top < 0.0 {
        top - MARGIN
    } else if bottom > height {
        (bottom - height + MARGIN).min(top - MARGIN)
    } else {
        return Where::InView;
    };
    // Stuck: the layout's top is above the sticking line and its bottom below the controls' end.
    let stuck = |by: f64| layout_top - by <= STICK + 0.5 && layout_bottom - by >= STICK + (c_bottom - c_top) - 0.5;
    if !wide || (c_top - STICK).abs() > 0.5 || !stuck(0.0) || !stuck(delta) {
        return if delta > 0.0 { Where::Below } else { Where::Above };
    }
    let reduce = call(&w, "matchMedia", &["(prefers-reduced-motion: reduce)".into()])
        .is_some_and(|m| js_sys::Reflect::get(&m, &"matches".into()).ok().and_then(|v| v.as_bool()) == Some(true));
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"top".into(), &delta.into());
    let _ = js_sys::Reflect::set(&opts, &"behavior".into(), &(if reduce { "instant" } else { "smooth" }).into());
    call(&w, "scrollBy", &[opts.into()]);
    Where::InView
}

/// Apply hint `t`: its knobs (each remembered for the change line), then a restart from the seed
/// where it needs a fresh run; training plays.
pub fn apply(ui: Ui, send: Callback<Cmd>, t: &'static Try) {
    for (key, value) in t.set {
        before_set(ui, key, Some(t.card));
        send.run(Cmd::SetKnob { side: Side::A, key, value: value.to_string() });
    }
    if t.restart {
        send.run(Cmd::Reset);
    }
    ui.playing.set(true);
}

/// A card's "try this" line: what to do and what to watch, the button that does it ("try it", or
/// "apply and restart" where the effect needs a fresh run), and once pressed, the effect as it
/// comes (its numbers also as `data-before`, `data-now`, `data-seen`: steps after the change at the
/// end of the snapshot that showed it, `data-seen-begun`: at its start).
#[component]
pub fn TryThis(
    /// The page's state (the latest snapshot).
    ui: Ui,
    /// Sends the hint's commands.
    send: Callback<Cmd>,
    /// The hint.
    hint: &'static Try,
) -> impl IntoView {
    let tried = RwSignal::new(None::<Progress>);
    Effect::new(move |_| {
        let next = ui.snap.with(|s| tried.get_untracked().map(|t| t.update(hint, s.as_ref())));
        if next.is_some() && next != tried.get_untracked() {
            tried.set(next);
        }
    });
    let click = move |_| {
        let s = ui.snap.get_untracked();
        let before = s.as_ref().and_then(|s| hint.check.metric.of(s));
        let from = if hint.restart { 0 } else { s.as_ref().map_or(0, |s| s.step) };
        tried.set(Some(Progress::new(before, from, hint.restart)));
        apply(ui, send, hint);
    };
    let f = |x: Option<f32>| x.map(|x| x.to_string());
    // Before its first step the hint does not hold yet: the button waits.
    let early = move || ui.step.get() < hint.from_step;
    let words = move || match early() {
        true => format!("{} (from step {})", hint.button(), hint.from_step),
        false => hint.button().to_string(),
    };
    let name = hint.card.name();
    let label = format!("{}: {}", hint.button(), hint.what);
    let set = hint.set.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    view! {
        // Not during a lesson: the card says the lesson's words, and a knob changed by hand leaves it.
        <p class="caption try" data-testid=format!("try-{name}") data-set=set data-within=hint.check.within data-from=hint.from_step
            prop:hidden=move || ui.lesson.with(Option::is_some)>
            <strong>"Try this: "</strong>{hint.what}" — "{hint.watch}" "
            <button class="try-it" data-testid=format!("try-{name}-button") aria-label=label prop:disabled=early on:click=click>
                {words}
            </button>
            <span class="try-result" data-testid=format!("try-{name}-result")
                data-before=move || tried.get().and_then(|t| f(t.before))
                data-now=move || tried.get().and_then(|t| f(t.now))
                data-seen=move || tried.get().and_then(|t| t.seen.map(|n| n.to_string()))
                data-seen-begun=move || tried.get().and_then(|t| t.seen_begun.map(|n| n.to_string()))
                data-begun=move || tried.get().map(|t| t.begun.to_string())
                data-after=move || tried.get().map(|t| t.after.to_string())
                prop:hidden=move || tried.get().is_none()>
                <span aria-live="polite">{move || tried.get().map(|t| t.verdict(hint))}</span>
                {move || tried.get().map(|t| t.numbers(hint))}
            </span>
        </p>
    }
}
