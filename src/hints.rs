//! The cards' "try this" hints ([`TRIES`]: at most one per card) and what a knob change points at
//! ([`KNOB_CARDS`]: the card to look at, and what to watch there). Each hint says which knobs to
//! set, whether its effect needs a fresh run, and the effect itself as a check on the snapshots
//! ([`Check`]): the page shows it coming true, the end-to-end test fails when it does not, and
//! `examples/hint_check.rs` measured it over seeds before the words were written.
use crate::cards::CardId;
use crate::metrics::Snapshot;

/// A number of a snapshot that a hint's effect shows in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Experts per token (the heatmap's outlines per row).
    K,
    /// The busiest expert's share of the assignments.
    MaxShare,
    /// The share of assignments dropped over capacity.
    Dropped,
    /// The training cross-entropy.
    Loss,
    /// The size of the router's logits (√ of the z-loss's value).
    LogitSize,
    /// The experts' mean pairwise similarity (none while an upcycled run is still dense).
    Similarity,
}

impl Metric {
    /// Its value in snapshot `s` (None where the snapshot has none).
    pub fn of(self, s: &Snapshot) -> Option<f32> {
        match self {
            Metric::K => Some(s.k as f32),
            Metric::MaxShare => Some(s.max_share),
            Metric::Dropped => Some(s.dropped_share()),
            Metric::Loss => Some(s.ce),
            Metric::LogitSize => Some(s.z.max(0.0).sqrt()),
            Metric::Similarity => s.expert_similarity,
        }
    }

    /// Its name in plain words (the page's "now … (was …)").
    pub fn words(self) -> &'static str {
        match self {
            Metric::K => "experts per token",
            Metric::MaxShare => "busiest expert's share",
            Metric::Dropped => "dropped",
            Metric::Loss => "training loss",
            Metric::LogitSize => "logit size",
            Metric::Similarity => "similarity",
        }
    }
}

/// What the metric must reach.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// At least this.
    Above(f32),
    /// At most this.
    Below(f32),
    /// At least this fraction above its value before the change (0.2 = 20 % higher).
    RisesBy(f32),
    /// At least this fraction below its value before the change.
    FallsBy(f32),
}

impl Goal {
    /// Whether `now` reaches the goal, against `before` (the value just before the change).
    pub fn met(self, before: f32, now: f32) -> bool {
        match self {
            Goal::Above(x) => now >= x,
            Goal::Below(x) => now <= x,
            Goal::RisesBy(f) => now >= before * (1.0 + f),
            Goal::FallsBy(f) => now <= before * (1.0 - f),
        }
    }
}

/// A hint's effect: the metric reaches the goal within so many steps of the change (of the fresh
/// start, for a hint that restarts).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Check {
    pub metric: Metric,
    pub goal: Goal,
    /// Steps after the change (or the restart) by which the goal is reached.
    pub within: u32,
}

/// A card's "try this": what to do, the knobs it sets, whether it restarts, and what shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Try {
    pub card: CardId,
    /// What to do, in a few words ("switch the balance loss off").
    pub what: &'static str,
    /// What to watch and roughly how soon (measured: see the module's note).
    pub watch: &'static str,
    /// The knobs it sets: (knob key, value as the URL writes it).
    pub set: &'static [(&'static str, &'static str)],
    /// The effect shows only from a fresh start: the button says "apply and restart" and restarts
    /// training from the seed with the knobs set.
    pub restart: bool,
    /// The effect, as the page and the end-to-end test check it.
    pub check: Check,
    /// The first step it holds from (the button waits until then; 0: at once).
    pub from_step: u32,
}

impl Try {
    /// The button's words.
    pub fn button(&self) -> &'static str {
        if self.restart {
            "apply and restart"
        } else {
            "try it"
        }
    }
}

/// The hint of `card`, if it has one.
pub fn hint(card: CardId) -> Option<&'static Try> {
    TRIES.iter().find(|t| t.card == card)
}

/// The cards' hints, in card order; a card without a true one has none (the region map, shown for
/// the regions data only; the domain matrix). Each effect was measured with `cargo run --release
/// --example hint_check -- 5` (CPU trainer, the default settings, seeds 1–5, the change at step 200,
/// a snapshot every 25 steps); every seed met every goal by the first snapshot after the change
/// (the upcycled run's similarity by the first after its 200 dense steps): k 1 → 2; dropped 0.28–0.42
/// → 0.64–0.75 at cf 0.5; busiest share 0.28–0.36 → 0.58–0.89 at α = 0 from scratch; training loss
/// 1.48–1.52 → 1.93–2.29 (+30–51 %) with lr 0.1 from step 300, back under it within 75 steps (from
/// step 100 the falling loss hides it, hence `from_step`; switching the experts off instead gave
/// only +5–12 %, not seen on the page); logit size
/// 2.2–2.3 → 0.47–0.51 with β = 0.1 by 50 steps; similarity ≈ 0 → 0.98–0.99 upcycled; dropped → 0
/// dropless.
pub const TRIES: &[Try] = &[
    Try {
        card: CardId::Heatmap,
        what: "send each token to two experts (k = 2)",
        watch: "within ~100 steps (the next snapshots) every row has a second outline (orange): its second choice.",
        set: &[("top-k", "2")],
        restart: false,
        check: Check { metric: Metric::K, goal: Goal::Above(2.0), within: 100 },
        from_step: 0,
    },
    Try {
        card: CardId::Load,
        what: "squeeze capacity to half a fair share (cf = 0.5)",
        watch: "within ~100 steps the black capacity line halves and half or more of the assignments are \
                dropped (orange).",
        set: &[("capacity-factor", "0.5")],
        restart: false,
        check: Check { metric: Metric::Dropped, goal: Goal::Above(0.45), within: 100 },
        from_step: 0,
    },
    Try {
        card: CardId::Balance,
        what: "train from scratch without the balance loss (α = 0)",
        watch: "switched off mid-run an already balanced router stays balanced, so this restarts: within the \
                first ~150 steps the busiest expert's share (orange) climbs above 50 %.",
        set: &[("alpha", "0")],
        restart: true,
        check: Check { metric: Metric::MaxShare, goal: Goal::Above(0.5), within: 150 },
        from_step: 0,
    },
    Try {
        card: CardId::Losses,
        what: "take 30 times larger optimiser steps (learning rate 0.1)",
        watch: "once the loss has levelled off (from step 300), within ~100 steps the training loss (blue) \
                jumps by 15 % or more, then settles back: steps that large overshoot.",
        set: &[("lr", "0.1")],
        restart: false,
        check: Check { metric: Metric::Loss, goal: Goal::RisesBy(0.15), within: 100 },
        from_step: 300,
    },
    Try {
        card: CardId::Logits,
        what: "switch the router z-loss on (β = 0.1)",
        watch: "within ~150 steps the logit size falls to under half of what it was.",
        set: &[("beta", "0.1")],
        restart: false,
        check: Check { metric: Metric::LogitSize, goal: Goal::FallsBy(0.5), within: 150 },
        from_step: 0,
    },
    Try {
        card: CardId::Similarity,
        what: "start the experts as copies of one dense network (upcycled)",
        watch: "after the 200 dense warm-up steps the experts start identical (similarity 1) and drift apart.",
        set: &[("init", "upcycle")],
        restart: true,
        check: Check { metric: Metric::Similarity, goal: Goal::Above(0.9), within: 260 },
        from_step: 0,
    },
    Try {
        card: CardId::Drops,
        what: "make capacity unlimited (dropless)",
        watch: "within ~100 steps (the next snapshots) nothing is dropped: both lines fall to 0.",
        set: &[("capacity-factor", "inf")],
        restart: false,
        check: Check { metric: Metric::Dropped, goal: Goal::Below(0.001), within: 100 },
        from_step: 0,
    },
];

/// Where a knob's change shows: the card to look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnobCard {
    /// The knob's key.
    pub key: &'static str,
    /// The card its change shows on.
    pub card: CardId,
}

const fn kc(key: &'static str, card: CardId) -> KnobCard {
    KnobCard { key, card }
}

/// Every live knob's card (a structural knob restarts training: every card starts over).
pub const KNOB_CARDS: &[KnobCard] = &[
    kc("router", CardId::Heatmap),
    kc("top-k", CardId::Heatmap),
    kc("capacity-factor", CardId::Drops),
    kc("drop-policy", CardId::Drops),
    kc("balance", CardId::Balance),
    kc("alpha", CardId::Balance),
    kc("mixture-loss", CardId::Losses),
    kc("gamma", CardId::Balance),
    kc("beta", CardId::Logits),
    kc("experts-off", CardId::Losses),
    kc("lr", CardId::Losses),
    kc("grad-clip", CardId::Losses),
    kc("eval-every", CardId::Losses),
];

/// The card a change of knob `key` shows on, if it is live.
pub fn knob_card(key: &str) -> Option<&'static KnobCard> {
    KNOB_CARDS.iter().find(|k| k.key == key)
}

/// The line next to a changed control, short enough for one line under it: what changed, by the
/// knob's symbol, and where to look, on `card` ("cf 1.25 → 1: watch Dropped tokens"; a change
/// from a card's hint points at that card, else at the knob's: [`knob_card`]); without a card
/// (a structural knob) training restarted.
pub fn change_line(symbol: &str, from: &str, to: &str, card: Option<CardId>) -> String {
    match card {
        Some(c) => format!("{symbol} {from} → {to}: watch {}", c.card().title),
        None => format!("{symbol} {from} → {to}: training restarted"),
    }
}

/// What a tried hint has shown so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// The metric just before the hint was applied.
    pub before: Option<f32>,
    /// The step from which its steps count (the snapshot's step at the click; 0 for a restart).
    pub from: u32,
    /// A restart: wait for the fresh run's snapshots (after the charts were cleared).
    pub restart: bool,
    /// The fresh run has started (the charts were cleared).
    pub fresh: bool,
    /// The metric now.
    pub now: Option<f32>,
    /// Steps after the change at the end of the first snapshot that showed the effect.
    pub seen: Option<u32>,
    /// Steps after the change at the start of that snapshot's window (0 when it began before the
    /// change): the page sees the model only once a snapshot (about 4 a second) ends, so a fast
    /// device's windows are long; the effect is in time when the window that showed it began
    /// within [`Check::within`].
    pub seen_begun: Option<u32>,
    /// Steps after the change at the end of the latest snapshot.
    pub after: u32,
    /// Steps after the change at the start of the latest snapshot's window.
    pub begun: u32,
}

impl Progress {
    /// Just tried: the metric `before`, steps counted from `from`, a `restart` or not.
    pub fn new(before: Option<f32>, from: u32, restart: bool) -> Progress {
        Progress { before, from, restart, ..Progress::default() }
    }

    /// Take snapshot `s` into account for hint `t`.
    pub fn update(mut self, t: &Try, s: Option<&Snapshot>) -> Progress {
        let Some(s) = s else {
            self.fresh = true;
            return self;
        };
        if (self.restart && !self.fresh) || s.step < self.from {
            return self;
        }
        self.after = s.step - self.from;
        self.begun = s.step.saturating_sub(s.steps).saturating_sub(self.from);
        self.now = t.check.metric.of(s).or(self.now);
        if let (None, Some(now)) = (self.seen, self.now) {
            if t.check.goal.met(self.before.unwrap_or(f32::NAN), now) {
                self.seen = Some(self.after);
                self.seen_begun = Some(self.begun);
            }
        }
        self
    }

    /// The effect showed in time.
    pub fn in_time(&self, t: &Try) -> bool {
        self.seen_begun.is_some_and(|b| b <= t.check.within)
    }

    /// The verdict under the hint (announced: it changes rarely).
    pub fn verdict(&self, t: &Try) -> String {
        match self.seen {
            Some(n) if self.in_time(t) => format!("✓ seen by {n} steps after the change:"),
            Some(n) => format!("seen only {n} steps after the change:"),
            None if self.begun > t.check.within => format!("not seen within {} steps:", t.check.within),
            None => "watching…".to_string(),
        }
    }

    /// The numbers after it (not announced: they change with every snapshot).
    pub fn numbers(&self, t: &Try) -> String {
        let v = |x: Option<f32>| x.map_or("–".to_string(), |x| format!("{x:.2}"));
        format!(" {} now {} (was {})", t.check.metric.words(), v(self.now), v(self.before))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::knobs::{knob, KNOBS};

    #[test]
    fn every_live_knob_has_one_card_and_no_structural_one_does() {
        for k in KNOBS {
            let n = KNOB_CARDS.iter().filter(|c| c.key == k.key).count();
            assert_eq!(n, usize::from(k.live), "{}", k.key);
        }
        for c in KNOB_CARDS {
            assert!(knob(c.key).is_some(), "{} is no knob", c.key);
        }
        let card = |key| knob_card(key).map(|k| k.card);
        assert_eq!(change_line("cf", "1.25", "1", card("capacity-factor")), "cf 1.25 → 1: watch Dropped tokens");
        assert_eq!(change_line("E", "8", "4", card("experts")), "E 8 → 4: training restarted");
        // One line under a control (about 45 characters; the style sheet cuts a longer one short):
        // a number knob's line fits, with where its card is.
        for k in
            KNOBS.iter().filter(|k| matches!(k.kind, crate::knobs::Kind::Real { .. } | crate::knobs::Kind::Int { .. }))
        {
            let line = change_line(k.symbol, "0.001", "0.01", card(k.key)) + " ↓";
            assert!(line.chars().count() <= 48, "{line}");
        }
    }

    #[test]
    fn every_hint_sets_valid_knobs_and_only_restarts_when_it_must() {
        let mut seen = std::collections::HashSet::new();
        for t in TRIES {
            assert!(seen.insert(t.card), "{} has two hints", t.card);
            let mut cfg = Config::default();
            for (key, value) in t.set {
                cfg.set(key, value).unwrap_or_else(|e| panic!("{}: {key}={value}: {e:?}", t.card));
            }
            cfg.validate().unwrap();
            assert_ne!(cfg, Config::default(), "{}: changes nothing", t.card);
            // A hint that sets a structural knob can only work from a fresh run.
            let structural = t.set.iter().any(|(k, _)| !knob(k).unwrap().live);
            assert!(!structural || t.restart, "{}", t.card);
            assert!(t.check.within + t.from_step <= 400, "{}: longer than a class waits", t.card);
            assert!(!t.watch.is_empty() && !t.what.is_empty());
        }
        assert_eq!(hint(CardId::Balance).unwrap().button(), "apply and restart");
        assert_eq!(hint(CardId::Drops).unwrap().button(), "try it");
    }

    #[test]
    fn progress_counts_from_the_change_and_a_restart_from_its_fresh_run() {
        let t = hint(CardId::Balance).unwrap();
        let snap = |step, max_share| Snapshot { step, steps: 40, max_share, ..Snapshot::default() };
        // A restart: the old run's snapshot counts for nothing until the charts are cleared.
        let p = Progress::new(Some(0.3), 0, true).update(t, Some(&snap(400, 0.9)));
        assert_eq!((p.seen, p.now), (None, None));
        let p = p.update(t, None).update(t, Some(&snap(40, 0.45)));
        assert_eq!((p.seen, p.after), (None, 40));
        assert_eq!(p.verdict(t), "watching…");
        let p = p.update(t, Some(&snap(80, 0.7)));
        assert_eq!((p.seen, p.seen_begun), (Some(80), Some(40)));
        assert_eq!(p.verdict(t), "✓ seen by 80 steps after the change:");
        assert!(p.in_time(t));
        assert_eq!(p.numbers(t), " busiest expert's share now 0.70 (was 0.30)");
        // Live: counted from the step it was tried at; not seen in time says so.
        let t = hint(CardId::Load).unwrap();
        let p = Progress::new(Some(0.3), 300, false).update(t, Some(&snap(420, 0.0)));
        assert_eq!((p.seen, p.after, p.begun), (None, 120, 80));
        assert_eq!(p.verdict(t), "watching…", "its window began 80 steps after the change");
        let p = p.update(t, Some(&snap(460, 0.0)));
        assert_eq!(p.verdict(t), "not seen within 100 steps:");
    }

    #[test]
    fn goals_compare_with_the_value_before() {
        assert!(Goal::Above(0.4).met(0.2, 0.41) && !Goal::Above(0.4).met(0.2, 0.39));
        assert!(Goal::Below(0.001).met(0.1, 0.0));
        assert!(Goal::RisesBy(0.2).met(1.0, 1.25) && !Goal::RisesBy(0.2).met(1.0, 1.1));
        assert!(Goal::FallsBy(0.33).met(3.0, 1.9) && !Goal::FallsBy(0.33).met(3.0, 2.5));
    }
}
