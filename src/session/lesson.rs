//! The lesson player — the only one: it plays a [`Lesson`] with compare mode's two runs on the
//! page and headless ([`super::native::play_lesson`]).
//!
//! Starting a lesson sets A's and B's configs from the lesson (keeping the session's seed),
//! restarts both, shows the lesson's cards in presentation mode and trains the first beat. The
//! loop stops training at the beat's `until` step ([`Session::stop_at`]); when both runs' latest
//! snapshots reach it, or the beat's condition holds on their histories, the player shows the
//! beat's caption filled with the runs' numbers ([`lessons::fill`]), highlights its card, checks
//! the lesson's expected outcome for that beat, and pauses until the teacher goes on (space, the
//! band's play button or n). Going back (p) restarts the lesson and replays, without pausing, up
//! to the previous beat; a headless run replays every beat without pausing.
use super::{Caption, Event, Session};
use crate::lessons::{self, Lesson, Runs};

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

/// What the player recorded: each shown beat's end step and filled caption.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    pub beat_ends: Vec<u32>,
    pub captions: Vec<String>,
}

/// Start `lesson` from its first beat (pausing at the end of beats from `replay_to` on).
pub fn start(s: &mut Session, lesson: &'static Lesson, replay_to: usize) {
    let (a, b) = lesson.start(s.cfg.seed);
    crate::setting::remember(&mut s.saved, &a);
    s.cfg = a;
    s.cfg_b = Some(b);
    s.emit_configs();
    s.emit(Event::Focus(lesson.cards.to_vec()));
    s.checks.clear();
    s.log = Log::default();
    s.lesson = Some(Playing { lesson, beat: 0, reached: false, from: 0, replay_to });
    s.emit(Event::Lesson(Some(lesson.id)));
    s.rebuild();
    show_running(s);
    s.set_playing(true);
}

/// Leave the lesson (the runs go on as they are, without a step limit).
pub fn end(s: &mut Session) {
    if s.lesson.is_none() {
        return;
    }
    s.lesson = None;
    s.emit(Event::Lesson(None));
    s.emit(Event::Caption(Caption::default()));
    s.emit(Event::Highlight(None));
    s.emit(Event::Focus(vec![]));
    s.checks.clear();
    s.stop_at = None;
}

/// The band while the current beat trains: what the class watches, its card, where it stops.
fn show_running(s: &mut Session) {
    let Some(p) = s.lesson else { return };
    let beat = &p.lesson.beats[p.beat];
    s.emit(Event::Caption(Caption {
        title: format!("{} — {}", p.lesson.title, p.lesson.source),
        text: beat.doing.to_string(),
        question: None,
        progress: format!("beat {} of {} · training to step {}", p.beat + 1, p.lesson.beats.len(), beat.until),
        verdict: None,
    }));
    s.emit(Event::Highlight(Some(beat.card)));
    s.stop_at = Some(beat.until);
}

/// Go on to beat `i`: set its knobs on the running models and train it.
fn begin(s: &mut Session, i: usize) {
    let Some(p) = s.lesson else { return };
    let Some(beat) = p.lesson.beats.get(i) else { return };
    let mut a = s.cfg.clone();
    let mut b = s.cfg_b.clone().unwrap_or_else(|| a.clone());
    if let (Some(first), Ok(())) = (beat.set.first(), lessons::apply_sets(beat.set, &mut a, &mut b)) {
        s.apply(a, Some(b), first.key, None);
    }
    let from = s.hist.last().map(|p| p.step as u32).unwrap_or(0);
    s.lesson = Some(Playing { beat: i, reached: false, from, ..p });
    show_running(s);
    s.set_playing(true);
}

/// After a snapshot: has the current beat reached its end (both runs at its step, or its
/// condition met)? Then show its caption.
pub fn check(s: &mut Session) {
    let Some(p) = s.lesson.filter(|p| !p.reached) else { return };
    let Some(cfg_b) = s.cfg_b.clone() else { return };
    let beat = &p.lesson.beats[p.beat];
    let (Some(sa), Some(sb)) = (s.hist.last().map(|h| h.step as u32), s.hist_b.last().map(|h| h.step as u32)) else {
        return;
    };
    if sa != sb {
        return; // the other run's snapshot of this step is on its way
    }
    if sa <= p.from && sa < beat.until {
        return; // nothing new since the beat began
    }
    let (ha, hb, ca) = (s.hist.clone(), s.hist_b.clone(), s.cfg.clone());
    let runs = Runs { a: &ha, b: &hb, cfg_a: &ca, cfg_b: &cfg_b };
    let met = beat.when.is_some_and(|c| sa > p.from && (c.test)(&runs));
    if sa >= beat.until || met {
        reach(s, p, &runs);
    }
}

/// The beat's end: its caption with the runs' numbers, its card, its checks; then pause (or go
/// straight on while replaying).
fn reach(s: &mut Session, p: Playing, runs: &Runs) {
    let beats = p.lesson.beats;
    let beat = &beats[p.beat];
    s.lesson = Some(Playing { reached: true, ..p });
    // Hold the runs where they are (before any snapshot: at the trainer's step).
    let step = runs.a.last().map(|h| h.step as u32).unwrap_or(s.step);
    s.stop_at = Some(step);
    let text = lessons::fill(beat.caption, runs);
    s.log.beat_ends.push(step);
    s.log.captions.push(text.clone());
    s.emit(Event::Highlight(Some(beat.card)));
    // Shown before its end (n on the last beat): its checks are not counted.
    let early = step < beat.until && !beat.when.is_some_and(|c| (c.test)(runs));
    let checks = p
        .lesson
        .expect
        .iter()
        .filter(|c| c.beat == p.beat)
        .map(|c| (c.cond.what, (!early).then(|| (c.cond.test)(runs))));
    s.checks.extend(checks);
    let last = p.beat + 1 == beats.len();
    let title = format!("{} — {}", p.lesson.title, p.lesson.source);
    if !last && p.beat < p.replay_to {
        s.emit(Event::Caption(Caption { title, text, ..Caption::default() }));
        begin(s, p.beat + 1);
        return;
    }
    s.set_playing(false);
    let n = beats.len();
    let caption = if last {
        let verdict: Vec<String> = s
            .checks
            .iter()
            .map(|(what, ok)| match ok {
                Some(true) => format!("✓ {what}"),
                Some(false) => format!("✗ not this time: {what}"),
                None => format!("– not checked (skipped before its step): {what}"),
            })
            .collect();
        // Without WebGPU the page trains on the CPU with a smaller batch than the lessons were
        // measured with.
        let cpu = s.backend.as_ref().is_some_and(|b| !b.is_gpu());
        let note = match s.opts.cpu_tokens.filter(|&t| cpu && t < runs.cfg_a.tokens) {
            Some(t) => format!(
                " (These runs trained on the CPU with a batch of {t}; the lesson's numbers were measured with {}.)",
                runs.cfg_a.tokens
            ),
            None => String::new(),
        };
        Caption {
            title,
            text,
            question: None,
            progress: format!("end of the lesson ({n} of {n}) · p goes back a beat"),
            verdict: Some(format!("The claim, checked on these two runs: {}.{note}", verdict.join("; "))),
        }
    } else {
        Caption {
            title,
            text,
            question: beat.question.map(String::from),
            progress: format!("beat {} of {n} · space or ▶ goes on", p.beat + 1),
            verdict: None,
        }
    };
    s.emit(Event::Caption(caption));
}

/// Space or the band's play button: go on after a shown beat; otherwise play/pause.
pub fn play(s: &mut Session) {
    match s.lesson {
        Some(p) if p.reached && p.beat + 1 < p.lesson.beats.len() => begin(s, p.beat + 1),
        Some(p) if p.reached => {
            // After the end: the runs train on, without a step limit (the band stays).
            s.stop_at = None;
            s.set_playing(!s.playing);
        }
        _ => s.set_playing(!s.playing),
    }
}

/// n: the next beat now (the last beat's end shown now). A beat left before its end has its
/// checks counted as not reached.
pub fn next(s: &mut Session) {
    let Some(p) = s.lesson else { return };
    if p.beat + 1 < p.lesson.beats.len() {
        if !p.reached {
            s.checks.extend(p.lesson.expect.iter().filter(|c| c.beat == p.beat).map(|c| (c.cond.what, None)));
        }
        begin(s, p.beat + 1);
    } else if !p.reached {
        let (ha, hb) = (s.hist.clone(), s.hist_b.clone());
        let (ca, cb) = (s.cfg.clone(), s.cfg_b.clone().unwrap_or_else(|| s.cfg.clone()));
        reach(s, p, &Runs { a: &ha, b: &hb, cfg_a: &ca, cfg_b: &cb });
    }
}

/// p: back to the previous beat (the lesson restarts and replays up to it without pausing).
pub fn prev(s: &mut Session) {
    let Some(p) = s.lesson else { return };
    start(s, p.lesson, p.beat.saturating_sub(1));
}
