//! The session's commands: one knob change, presets, compare mode on and off.
use super::{lesson, Cmd, Event, Session};
use crate::config::{Config, DenseTwin, Init};
use crate::page::{diff_label, follow, knob_label, live_diff, Side};
use crate::presets;
use crate::setting;

impl Session {
    // --- commands ------------------------------------------------------------------------------

    /// Do what the host asks.
    pub fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::SetKnob { side, key, value } => self.set_knob(side, key, &value),
            Cmd::Play => lesson::play(self),
            Cmd::Pause => self.set_playing(false),
            // After a lesson's end training stays stopped on the verdict's numbers (the play
            // button, drawn as playing by the page a moment ago, shows "play" again).
            Cmd::Playing(true) | Cmd::Step if lesson::ended(self) => self.emit(Event::Playing(false)),
            Cmd::Playing(on) => self.set_playing(on),
            Cmd::Step => {
                self.set_playing(false);
                self.step_once = true;
            }
            Cmd::Reset => match self.lesson {
                Some(p) => lesson::start(self, p.lesson, 0),
                None => self.rebuild(),
            },
            Cmd::Restart => {
                match self.lesson {
                    Some(p) => lesson::start(self, p.lesson, p.beat),
                    None => self.rebuild(),
                }
                self.set_playing(true);
            }
            Cmd::Speed(v) if v != self.speed => {
                self.speed = v;
                self.emit(Event::Speed(v));
            }
            Cmd::Speed(_) => {}
            Cmd::Preset(name) => self.preset(&name),
            Cmd::Compare(on) => self.set_compare(on.then(|| self.cfg.clone())),
            Cmd::CompareWith(b) => self.set_compare(Some(*b)),
            Cmd::Lesson(Some(id)) => match crate::page::lesson_of(&id) {
                Ok(l) => self.start_lesson(l),
                Err(text) => self.set_notice(Some(text)),
            },
            Cmd::Lesson(None) => lesson::end(self),
            Cmd::Next if lesson::ended(self) => self.next_lesson(),
            Cmd::Next => lesson::next(self),
            Cmd::NextLesson => self.next_lesson(),
            Cmd::Explore => lesson::explore(self),
            Cmd::LoseDevice => {
                for b in [&self.backend, &self.backend_b].into_iter().flatten() {
                    b.destroy_device();
                }
            }
            Cmd::Back => lesson::prev(self),
        }
    }

    /// Start lesson `l` from its first beat, saying what happened and which keys step through it.
    fn start_lesson(&mut self, l: &'static crate::lessons::Lesson) {
        self.set_notice(Some(format!(
            "lesson “{}”: runs A and B restarted from the seed with the lesson's settings. Space goes on at each \
             pause; n skips to the next beat, p goes back one.",
            l.title
        )));
        lesson::start(self, l, 0);
    }

    /// The lesson after the current one in [`crate::lessons::LESSONS`] (after the last, the first).
    fn next_lesson(&mut self) {
        if let Some(l) = self.lesson.map(|p| lesson::following(p.lesson)) {
            self.start_lesson(l);
        }
    }

    /// One knob, by hand: through [`setting::set_knob`]; a bad value keeps the old one and says why.
    /// A change during a lesson leaves the lesson (its captions describe the runs it set up).
    pub(super) fn set_knob(&mut self, side: Side, key: &'static str, value: &str) {
        let before = (self.cfg.clone(), self.cfg_b.clone());
        match setting::set_knob(&self.cfg, self.cfg_b.as_ref(), &self.saved, side, key, value) {
            Ok(c) => self.apply(c.a, c.b, key, c.notice),
            Err(text) => {
                self.set_notice(Some(text));
                // The controls show the kept values again.
                self.emit_configs();
            }
        }
        let Some(p) = self.lesson else { return };
        if (self.cfg.clone(), self.cfg_b.clone()) == before {
            return; // refused or unchanged: the lesson goes on
        }
        lesson::end(self);
        self.add_notice(format!(
            "Left the lesson “{}”: {} was changed by hand, so its captions would no longer describe these runs. \
             Training goes on.",
            p.lesson.title,
            knob_label(key)
        ));
    }

    /// Apply new configs, A's `next` and run B's `next_b` (None = compare mode off): live knobs go
    /// to the running trainers, a structural change on either rebuilds both (a lockstep restart).
    pub(super) fn apply(&mut self, next: Config, next_b: Option<Config>, key: &str, notice: Option<String>) {
        let prev = self.cfg.clone();
        let prev_b = self.cfg_b.clone();
        let invalid = next.validate().is_err() || next_b.as_ref().is_some_and(|b| b.validate().is_err());
        if invalid || (next == prev && next_b == prev_b) {
            return;
        }
        self.cfg = next.clone();
        self.cfg_b = next_b.clone();
        setting::remember(&mut self.saved, &next);
        self.emit_configs();
        let live_b = match (&prev_b, &next_b) {
            (Some(p), Some(n)) => p.same_structure(n),
            (p, n) => p.is_none() && n.is_none(),
        };
        if prev.same_structure(&next) && live_b {
            self.set_notice(notice);
            let label = change_label(&prev, &next, prev_b.as_ref(), next_b.as_ref());
            self.emit(Event::Mark { at: self.step as f32, label });
            self.send_live(Side::A);
            self.send_live(Side::B);
        } else {
            let text = match &next_b {
                Some(b) if prev.same_structure(&next) => {
                    format!("run B {}; both runs restart together, from the same seed.", restart_text(key, b))
                }
                Some(_) => format!("{}; both runs restart together, from the same seed.", restart_text(key, &next)),
                None => restart_text(key, &next),
            };
            // The lesson's beats need its runs from their start: a restart leaves the lesson.
            let text = match self.lesson {
                Some(p) => format!("{text} Left the lesson “{}” (its runs restarted).", p.lesson.title),
                None => text,
            };
            lesson::end(self);
            self.set_notice(Some(text));
            self.rebuild();
        }
    }

    /// Send the live knobs of the config of `side` to its running trainer (k at most what its
    /// buffers hold).
    pub(super) fn send_live(&mut self, side: Side) {
        let (backend, cfg) = match side {
            Side::B => (self.backend_b.as_mut(), self.cfg_b.as_ref()),
            _ => (self.backend.as_mut(), Some(&self.cfg)),
        };
        let (Some(be), Some(cfg)) = (backend, cfg) else { return };
        let tr = be.trainer();
        let mut live = cfg.live();
        live.top_k = live.top_k.min(tr.config().k_max());
        if let Err(e) = tr.set_live(live) {
            self.emit(Event::Error(Some(e.to_string())));
        }
    }

    pub(super) fn preset(&mut self, name: &str) {
        let Some(p) = presets::find(name) else {
            return self.set_notice(Some(format!("there is no preset called “{name}”")));
        };
        lesson::end(self);
        let prev = self.cfg.clone();
        let mut c = Config { seed: prev.seed, ..Config::default() };
        (p.apply)(&mut c);
        let mut text = format!("restarted training: preset “{}”. {}", p.title, p.watch);
        if let Some(b) = &self.cfg_b {
            // Run B takes the preset too, keeping its own differences where they still work.
            let next_b = follow(&prev, b, &c).unwrap_or_else(|_| c.clone());
            text.push_str(if next_b == c { " Run B now equals A." } else { " Run B keeps its differences." });
            self.cfg_b = Some(next_b);
        }
        self.set_notice(Some(text));
        setting::remember(&mut self.saved, &c);
        self.cfg = c;
        self.emit_configs();
        self.rebuild();
    }

    /// Turn compare mode on with run B = `b` (both runs restart together from the seed and train
    /// on the same batches), or off (None: run B stops, A trains on).
    pub(super) fn set_compare(&mut self, b: Option<Config>) {
        let Some(b) = b else {
            if self.cfg_b.is_none() {
                return;
            }
            lesson::end(self); // a lesson needs both runs
            self.cfg_b = None;
            self.hist_b.clear();
            self.backend_b = None;
            self.outstanding_b = 0;
            self.emit_configs();
            self.emit(Event::CompareOff);
            self.set_notice(Some("compare mode off: run B stopped; run A trains on.".into()));
            return;
        };
        if let Err(e) = b.validate() {
            return self.set_notice(Some(format!("compare mode stays off: run B's settings do not work ({e})")));
        }
        let what = if self.cfg == b {
            "run B starts as a copy of A: give it its own value for any knob under “B differs in”".to_string()
        } else {
            let (la, lb) = diff_label(&self.cfg, &b);
            format!("{la} · {lb}")
        };
        self.cfg_b = Some(b);
        self.emit_configs();
        self.set_notice(Some(format!(
            "compare mode on: {what}. Both runs restarted from the same seed and train on the same batches, side by \
             side."
        )));
        self.rebuild();
    }
}

/// The change marker of a live change: A's knobs, and B's when they changed otherwise.
fn change_label(prev: &Config, next: &Config, prev_b: Option<&Config>, next_b: Option<&Config>) -> String {
    let a = live_diff(prev, next);
    let b = match (prev_b, next_b) {
        (Some(p), Some(n)) => live_diff(p, n),
        _ => String::new(),
    };
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a,
        _ if a == b => a,
        (true, false) => format!("B: {b}"),
        (false, false) => format!("A: {a}; B: {b}"),
    }
}

/// What a restart because of knob `key` says, for the config `next` that restarts.
fn restart_text(key: &str, next: &Config) -> String {
    let (kh, eh) = (next.top_k * next.hidden, next.experts * next.hidden);
    match (key, next.dense_twin) {
        ("dense-twin", DenseTwin::Active) => format!(
            "restarted training with the dense twin at equal compute: one feed-forward network of width k·H = {kh}, \
             used by every token. The routing knobs (top-k, capacity, balance loss) do not apply to it."
        ),
        ("dense-twin", DenseTwin::Total) => format!(
            "restarted training with the dense twin at equal parameters: one feed-forward network of width E·H = \
             {eh}, used by every token. The routing knobs (top-k, capacity, balance loss) do not apply to it."
        ),
        ("dense-twin", DenseTwin::Off) => "restarted training: back to the mixture of experts.".to_string(),
        ("init" | "dense-steps", _) if next.init == Init::Upcycle => format!(
            "restarted training, upcycled: a dense feed-forward network of width H = {} trains for {} steps, then is \
             copied into the {} experts (with a fresh router and optimiser) and training goes on as the MoE.",
            next.hidden, next.dense_steps, next.experts
        ),
        ("init", _) => "restarted training: the experts start from random weights.".to_string(),
        _ => format!("restarted training: {} changed", knob_label(key)),
    }
}
