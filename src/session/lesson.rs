//! The lesson player — the only one: it plays a [`Lesson`] with compare mode's two runs on the
//! page and headless ([`super::native::play_lesson`]).
//!
//! Starting a lesson sets A's and B's configs from the lesson (keeping the session's seed),
//! restarts both, shows the lesson's cards in presentation mode and trains the first beat. The
//! loop stops training at the beat's `until` step ([`Session::stop_at`]); in a beat that may end
//! earlier, on its condition, it trains each window only once the last one's snapshots are in
//! (as headless), so training never runs past the window the condition held at. When both runs'
//! latest snapshots reach the beat's end, the player shows the beat's caption filled with the
//! runs' numbers ([`lessons::fill`]) — its step is the step training stopped at — highlights its
//! card, checks the lesson's expected outcome for that beat, and pauses ("Paused — press space or
//! ▶ to continue") until the teacher goes on (space, the band's play button or n). Going back (p)
//! restarts the lesson and replays, without pausing, up to the previous beat; a headless run
//! replays every beat without pausing. After the last beat training stays stopped on the
//! verdict's numbers: the band offers the next lesson ([`following`]) or to explore from here
//! ([`explore`]: the lesson is left, the runs and settings kept).
use super::{Caption, Event, Finding, Session, Verdict};
use crate::lessons::{self, Check, Lesson, Runs};

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
    /// n on the running last beat: it ends once both runs' snapshots reach the step training
    /// stopped at ([`Session::stop_at`]).
    pub cut: bool,
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
    s.lesson = Some(Playing { lesson, beat: 0, reached: false, from: 0, replay_to, cut: false });
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
    // A beat that ends on a condition says so: its `until` is only where it gives up.
    let target = match beat.when {
        Some(c) => format!("training until {}, at most to step {}", c.what, beat.until),
        None => format!("training to step {}", beat.until),
    };
    s.emit(Event::Caption(Caption {
        title: format!("{} — {}", p.lesson.title, p.lesson.source),
        text: beat.doing.to_string(),
        progress: format!("beat {} of {} · {target}", p.beat + 1, p.lesson.beats.len()),
        ..Caption::default()
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
    s.lesson = Some(Playing { beat: i, reached: false, from, cut: false, ..p });
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
    let (ha, hb, ca) = (s.hist.clone(), s.hist_b.clone(), s.cfg.clone());
    let runs = Runs { a: &ha, b: &hb, cfg_a: &ca, cfg_b: &cfg_b };
    if p.cut {
        if s.stop_at.is_none_or(|stop| sa >= stop) {
            reach(s, p, &runs);
        }
        return;
    }
    if sa <= p.from && sa < beat.until {
        return; // nothing new since the beat began
    }
    let met = beat.when.is_some_and(|c| sa > p.from && (c.test)(&runs));
    if sa >= beat.until || met {
        reach(s, p, &runs);
    }
}

/// Whether the beat being played waits for each window's snapshots before training the next:
/// one that may end on its condition (so that it ends at the window the condition held at,
/// where the headless run ends it, and training stops there).
pub(super) fn gated(s: &Session) -> bool {
    s.lesson.is_some_and(|p| !p.reached && !p.cut && p.lesson.beats[p.beat].when.is_some())
}

/// The lesson has shown its last beat's end: training stays stopped on the verdict's numbers.
pub fn ended(s: &Session) -> bool {
    s.lesson.is_some_and(|p| p.reached && p.beat + 1 == p.lesson.beats.len())
}

/// The lesson after `l` in [`lessons::LESSONS`] (after the last, the first).
pub fn following(l: &'static Lesson) -> &'static Lesson {
    let all = lessons::LESSONS;
    let i = all.iter().position(|x| x.id == l.id).unwrap_or(all.len() - 1);
    &all[(i + 1) % all.len()]
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
    let checks =
        p.lesson.expect.iter().filter(|c| c.beat == p.beat).map(|c| (c, (!early).then(|| (c.cond.test)(runs))));
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
        Caption {
            title,
            text,
            progress: format!(
                "end of the lesson ({n} of {n}) · stopped at step {step} · n: next lesson · p: back a beat"
            ),
            verdict: Some(verdict(p.lesson, &s.checks, cpu_note(s, runs))),
            about_a: p.lesson.about_a.map(|t| lessons::fill(t, runs)),
            paused: Some(format!("End of the lesson — training stopped at step {step}.")),
            next_lesson: Some(format!("next lesson: {} ▶", following(p.lesson).title)),
            ..Caption::default()
        }
    } else {
        Caption {
            title,
            text,
            question: beat.question.map(String::from),
            progress: format!("beat {} of {n} · paused at step {step}", p.beat + 1),
            paused: Some("Paused — press space or ▶ to continue".into()),
            ..Caption::default()
        }
    };
    s.emit(Event::Caption(caption));
}

/// The lesson's claim checked on these runs (`checks`: each check and whether it held, None: not
/// checked): its headline first, ✓ when every check held, ✗ when one failed (what did not show
/// under it), – when none failed and some were not checked; then each check with its
/// thresholds, and `note`.
pub fn verdict(lesson: &Lesson, checks: &[(&Check, Option<bool>)], note: Option<String>) -> Verdict {
    let failed: Vec<&str> = checks.iter().filter(|c| c.1 == Some(false)).map(|c| c.0.shows).collect();
    let unchecked: Vec<&str> = checks.iter().filter(|c| c.1.is_none()).map(|c| c.0.shows).collect();
    let head = lesson.headline;
    let (finding, headline, detail) = if !failed.is_empty() {
        let what = format!("What did not show this time: {}.", failed.join("; "));
        (Finding::NotReproduced, format!("✗ Not reproduced this time: {head}."), Some(what))
    } else if !unchecked.is_empty() {
        let why = format!("The lesson moved on before it trained far enough to check: {}.", unchecked.join("; "));
        (Finding::NotChecked, format!("– Not checked: {head}."), Some(why))
    } else {
        (Finding::Reproduced, format!("✓ Reproduced: {head}."), None)
    };
    let checks = checks
        .iter()
        .map(|(c, ok)| match ok {
            Some(true) => format!("✓ {}", c.cond.what),
            Some(false) => format!("✗ not this time: {}", c.cond.what),
            None => format!("– not checked (skipped before its step): {}", c.cond.what),
        })
        .collect();
    Verdict { finding, headline, detail, checks, note }
}

/// The note when these runs trained on the CPU with a smaller batch than the lessons were
/// measured with.
fn cpu_note(s: &Session, runs: &Runs) -> Option<String> {
    let cpu = s.backend.as_ref().is_some_and(|b| !b.is_gpu());
    s.opts.cpu_tokens.filter(|&t| cpu && t < runs.cfg_a.tokens).map(|t| {
        format!(
            "These runs trained on the CPU with a batch of {t}; the lesson's numbers were measured with {}.",
            runs.cfg_a.tokens
        )
    })
}

/// Space or the band's play button: go on after a shown beat; otherwise play/pause. After the
/// lesson's end training stays stopped (the band offers the next lesson or to explore).
pub fn play(s: &mut Session) {
    match s.lesson {
        Some(p) if p.reached && p.beat + 1 < p.lesson.beats.len() => begin(s, p.beat + 1),
        Some(p) if p.reached => s.emit(Event::Playing(false)),
        _ => s.set_playing(!s.playing),
    }
}

/// n: the next beat now. On the running last beat, training stops where it is and the lesson's
/// end is shown once both runs' snapshots reach that step. A beat left before its end has its
/// checks counted as not reached.
pub fn next(s: &mut Session) {
    let Some(p) = s.lesson else { return };
    if p.beat + 1 < p.lesson.beats.len() {
        if !p.reached {
            s.checks.extend(p.lesson.expect.iter().filter(|c| c.beat == p.beat).map(|c| (c, None)));
        }
        begin(s, p.beat + 1);
    } else if !p.reached {
        let trained = s.backend.as_mut().map(|b| b.trainer().steps());
        match (trained, s.hist.last()) {
            // Steps trained past the latest snapshot (on the GPU, still in flight): wait for them.
            (Some(at), Some(h)) if at > h.step as u32 => {
                s.stop_at = Some(at);
                s.lesson = Some(Playing { cut: true, ..p });
                s.unchecked = true;
            }
            _ => {
                let (ha, hb) = (s.hist.clone(), s.hist_b.clone());
                let (ca, cb) = (s.cfg.clone(), s.cfg_b.clone().unwrap_or_else(|| s.cfg.clone()));
                reach(s, p, &Runs { a: &ha, b: &hb, cfg_a: &ca, cfg_b: &cb });
            }
        }
    }
}

/// p: back to the previous beat (the lesson restarts and replays up to it).
pub fn prev(s: &mut Session) {
    let Some(p) = s.lesson else { return };
    start(s, p.lesson, p.beat.saturating_sub(1));
}

/// "Explore from here": leave the lesson, keeping both runs as trained, their histories and
/// settings; training waits for play and then goes on without the lesson's step limits.
pub fn explore(s: &mut Session) {
    let Some(p) = s.lesson else { return };
    s.set_playing(false);
    end(s);
    s.set_notice(Some(format!(
        "Left the lesson “{}” to explore from here: both runs keep what they learned and their settings. Press ▶ to \
         train on, and change any knob.",
        p.lesson.title
    )));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict's headline: ✓ when every check held, ✗ naming what did not show when one
    /// failed (even beside one not checked), – when none failed and one was not checked; the
    /// checks with their thresholds behind it, in order.
    #[test]
    fn the_verdict_leads_with_its_headline() {
        let l = lessons::find("balance-loss").unwrap();
        let (c0, c1) = (&l.expect[0], &l.expect[1]);
        let v = verdict(l, &[(c0, Some(true)), (c1, Some(true))], None);
        assert_eq!(v.finding, Finding::Reproduced);
        assert_eq!((v.headline, v.detail), (format!("✓ Reproduced: {}.", l.headline), None));
        assert_eq!(v.checks, [format!("✓ {}", c0.cond.what), format!("✓ {}", c1.cond.what)]);

        let v = verdict(l, &[(c0, Some(false)), (c1, Some(true))], Some("note".into()));
        assert_eq!(v.finding, Finding::NotReproduced);
        assert_eq!(v.headline, format!("✗ Not reproduced this time: {}.", l.headline));
        let detail = v.detail.unwrap();
        assert!(detail.contains(c0.shows) && !detail.contains(c1.shows), "{detail}");
        assert!(v.checks[0].starts_with("✗ not this time: ") && v.checks[1].starts_with('✓'));
        assert_eq!(v.note.as_deref(), Some("note"));

        let v = verdict(l, &[(c0, Some(true)), (c1, None)], None);
        assert_eq!(v.finding, Finding::NotChecked);
        assert_eq!(v.headline, format!("– Not checked: {}.", l.headline));
        assert!(v.detail.unwrap().contains(c1.shows));
        assert!(v.checks[1].starts_with("– not checked"));

        let v = verdict(l, &[(c0, Some(false)), (c1, None)], None);
        assert_eq!(v.finding, Finding::NotReproduced);
        for (f, name) in [(Finding::Reproduced, "reproduced"), (Finding::NotReproduced, "not-reproduced")] {
            assert_eq!(f.name(), name);
        }
        assert_eq!(Finding::NotChecked.name(), "not-checked");
    }
}
