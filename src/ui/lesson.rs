//! The lesson player: plays a [`Lesson`] on the page with compare mode's two runs.
//!
//! Starting a lesson sets A's and B's configs from the lesson (keeping the page's seed), restarts
//! both, shows the lesson's cards in presentation mode and trains the first beat. The frame loop
//! stops training at the beat's `until` step ([`super::Engine::stop_at`]); when both runs' latest
//! snapshots reach it, or the beat's condition holds on their histories, the player shows the
//! beat's caption filled with the runs' numbers ([`lessons::fill`]), highlights its card, checks
//! the lesson's expected outcome for that beat, and pauses until the teacher goes on (space, the
//! band's play button or n). Going back (p) restarts the lesson and replays, without pausing, up
//! to the previous beat. The URL carries `lesson=ID`.
use super::{apply, current_query, rebuild, remember, replace_query, Eng, Engine, Ui};
use crate::lessons::{self, Lesson, Runs};
use crate::page::with_lesson;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// Where a lesson is.
#[derive(Clone, Copy)]
pub struct Playing {
    pub lesson: &'static Lesson,
    /// The beat being trained, or shown once `reached`.
    pub beat: usize,
    /// The beat's end was reached: its caption is shown.
    pub reached: bool,
    /// The step the beat started at (its condition is checked on later snapshots only).
    pub from: u32,
    /// Beats before this one do not pause at their end (going back replays up to it).
    pub replay_to: usize,
}

/// Put `lesson=ID` (or no lesson key) in the address bar, keeping every other key.
fn write_lesson_key(ui: Ui, id: Option<&str>) {
    if !ui.bench {
        replace_query(&with_lesson(&current_query(), id));
    }
}

/// Start `lesson` from its first beat (pausing at the end of beats from `replay_to` on).
pub fn start(eng: Eng, ui: Ui, lesson: &'static Lesson, replay_to: usize) {
    let seed = ui.cfg.get_untracked().seed;
    let (a, b) = lesson.start(seed);
    remember(ui, &a);
    ui.cfg.set(a);
    ui.cfg_b.set(Some(b));
    ui.focus.set(lesson.cards.to_vec());
    ui.checks.set(vec![]);
    ui.caption.verdict.set(None);
    ui.lesson.set(Some(Playing { lesson, beat: 0, reached: false, from: 0, replay_to }));
    let engine = eng.get_value();
    engine.borrow_mut().url_dirty = !ui.bench;
    rebuild(engine, ui);
    write_lesson_key(ui, Some(lesson.id));
    show_running(eng, ui);
    ui.playing.set(true);
}

/// Leave the lesson (the runs go on as they are, without a step limit).
pub fn end(engine: &Rc<RefCell<Engine>>, ui: Ui) {
    if ui.lesson.with_untracked(Option::is_none) {
        return;
    }
    ui.lesson.set(None);
    ui.caption.text.set(String::new());
    ui.caption.title.set(String::new());
    ui.caption.question.set(None);
    ui.caption.progress.set(String::new());
    ui.caption.verdict.set(None);
    ui.highlight.set(None);
    ui.focus.set(vec![]);
    ui.checks.set(vec![]);
    engine.borrow_mut().stop_at = None;
    write_lesson_key(ui, None);
}

/// The band while the current beat trains: what the class watches, its card, where it stops.
fn show_running(eng: Eng, ui: Ui) {
    let Some(p) = ui.lesson.get_untracked() else { return };
    let beat = &p.lesson.beats[p.beat];
    ui.caption.title.set(format!("{} — {}", p.lesson.title, p.lesson.source));
    ui.caption.text.set(beat.doing.to_string());
    ui.caption.question.set(None);
    ui.caption.progress.set(format!(
        "beat {} of {} · training to step {}",
        p.beat + 1,
        p.lesson.beats.len(),
        beat.until
    ));
    ui.highlight.set(Some(beat.card));
    eng.get_value().borrow_mut().stop_at = Some(beat.until);
}

/// Go on to beat `i`: set its knobs on the running models and train it.
fn begin(eng: Eng, ui: Ui, i: usize) {
    let Some(p) = ui.lesson.get_untracked() else { return };
    let Some(beat) = p.lesson.beats.get(i) else { return };
    let mut a = ui.cfg.get_untracked();
    let mut b = ui.cfg_b.get_untracked().unwrap_or_else(|| a.clone());
    if let (Some(first), Ok(())) = (beat.set.first(), lessons::apply_sets(beat.set, &mut a, &mut b)) {
        apply(&eng.get_value(), ui, a, Some(b), first.key, None);
    }
    let from = ui.hist.with_untracked(|h| h.last().map(|p| p.step as u32).unwrap_or(0));
    ui.lesson.set(Some(Playing { beat: i, reached: false, from, ..p }));
    show_running(eng, ui);
    ui.playing.set(true);
}

/// After a snapshot: has the current beat reached its end (both runs at its step, or its
/// condition met)? Then show its caption.
pub fn check(eng: Eng, ui: Ui) {
    let Some(p) = ui.lesson.get_untracked().filter(|p| !p.reached) else { return };
    let (Some(cfg_b), cfg_a) = (ui.cfg_b.get_untracked(), ui.cfg.get_untracked()) else { return };
    let beat = &p.lesson.beats[p.beat];
    let (ha, hb) = (ui.hist.get_untracked(), ui.hist_b.get_untracked());
    let (Some(sa), Some(sb)) = (ha.last().map(|h| h.step as u32), hb.last().map(|h| h.step as u32)) else { return };
    if sa != sb {
        return; // the other run's snapshot of this step is on its way
    }
    let runs = Runs { a: &ha, b: &hb, cfg_a: &cfg_a, cfg_b: &cfg_b };
    let met = beat.when.is_some_and(|c| sa > p.from && (c.test)(&runs));
    if sa >= beat.until || met {
        reach(eng, ui, p, &runs);
    }
}

/// The beat's end: its caption with the runs' numbers, its card, its checks; then pause (or go
/// straight on while replaying).
fn reach(eng: Eng, ui: Ui, p: Playing, runs: &Runs) {
    let beats = p.lesson.beats;
    let beat = &beats[p.beat];
    ui.lesson.set(Some(Playing { reached: true, ..p }));
    // Hold the runs where they are (before any snapshot: at the trainer's step).
    let here = runs.a.last().map(|h| h.step as u32).unwrap_or_else(|| ui.step.get_untracked());
    eng.get_value().borrow_mut().stop_at = Some(here);
    ui.caption.text.set(lessons::fill(beat.caption, runs));
    ui.highlight.set(Some(beat.card));
    let step = runs.a.last().map(|h| h.step as u32).unwrap_or(0);
    // Shown before its end (n on the last beat): its checks are not counted.
    let early = step < beat.until && !beat.when.is_some_and(|c| (c.test)(runs));
    let checks: Vec<(&'static str, Option<bool>)> = p
        .lesson
        .expect
        .iter()
        .filter(|c| c.beat == p.beat)
        .map(|c| (c.cond.what, (!early).then(|| (c.cond.test)(runs))))
        .collect();
    ui.checks.update(|all| all.extend(checks));
    let last = p.beat + 1 == beats.len();
    if !last && p.beat < p.replay_to {
        begin(eng, ui, p.beat + 1);
        return;
    }
    ui.playing.set(false);
    let n = beats.len();
    if last {
        let verdict: Vec<String> = ui
            .checks
            .get_untracked()
            .iter()
            .map(|(what, ok)| match ok {
                Some(true) => format!("✓ {what}"),
                Some(false) => format!("✗ not this time: {what}"),
                None => format!("– not checked (skipped before its step): {what}"),
            })
            .collect();
        // Without WebGPU the page trains on the CPU with a smaller batch than the lessons were
        // measured with.
        let cpu = ui.backend.with_untracked(|b| b.starts_with("cpu"));
        let tokens = runs.cfg_a.tokens.min(super::CPU_TOKENS);
        let note = if cpu {
            format!(" (These runs trained on the CPU with a batch of {tokens}; the lesson's numbers were measured with {}.)", runs.cfg_a.tokens)
        } else {
            String::new()
        };
        ui.caption.question.set(None);
        ui.caption.verdict.set(Some(format!("The claim, checked on these two runs: {}.{note}", verdict.join("; "))));
        ui.caption.progress.set(format!("end of the lesson ({n} of {n}) · p goes back a beat"));
    } else {
        ui.caption.question.set(beat.question.map(String::from));
        ui.caption.progress.set(format!("beat {} of {n} · space or ▶ goes on", p.beat + 1));
    }
}

/// Space or the band's play button: go on after a shown beat; otherwise play/pause.
pub fn play(eng: Eng, ui: Ui) {
    match ui.lesson.get_untracked() {
        Some(p) if p.reached && p.beat + 1 < p.lesson.beats.len() => begin(eng, ui, p.beat + 1),
        Some(p) if p.reached => {
            // After the end: the runs train on, without a step limit (the band stays).
            eng.get_value().borrow_mut().stop_at = None;
            ui.playing.update(|on| *on = !*on);
        }
        _ => ui.playing.update(|on| *on = !*on),
    }
}

/// n: the next beat now (the last beat's end shown now). A beat left before its end has its checks
/// counted as not reached.
pub fn next(eng: Eng, ui: Ui) {
    let Some(p) = ui.lesson.get_untracked() else { return };
    if p.beat + 1 < p.lesson.beats.len() {
        if !p.reached {
            let skipped = p.lesson.expect.iter().filter(|c| c.beat == p.beat).map(|c| (c.cond.what, None));
            ui.checks.update(|all| all.extend(skipped));
        }
        begin(eng, ui, p.beat + 1);
    } else if !p.reached {
        let (ha, hb) = (ui.hist.get_untracked(), ui.hist_b.get_untracked());
        let (ca, cb) = (ui.cfg.get_untracked(), ui.cfg_b.get_untracked().unwrap_or_else(|| ui.cfg.get_untracked()));
        reach(eng, ui, p, &Runs { a: &ha, b: &hb, cfg_a: &ca, cfg_b: &cb });
    }
}

/// p: back to the previous beat (the lesson restarts and replays up to it without pausing).
pub fn prev(eng: Eng, ui: Ui) {
    let Some(p) = ui.lesson.get_untracked() else { return };
    start(eng, ui, p.lesson, p.beat.saturating_sub(1));
}
