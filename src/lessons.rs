//! Lessons: a claim of the MoE literature, run as two models side by side (A and B of compare
//! mode), narrated beat by beat, with its expected outcome as a check on the metrics.
//!
//! A lesson is data ([`Lesson`]): the claim and its source, the knobs both runs start from, and
//! beats. A beat sets knobs (on A, B or both), trains until a step or until a condition on the
//! metrics holds, then shows a caption (its `{run.metric}` placeholders filled with this run's
//! numbers, see [`fill`]), highlights the card that shows it and may pause with a question for
//! the class. [`Lesson::expect`] holds what must be true at the end of given beats; the headless
//! runner and the page play it with the one lesson player (the session's `lesson` module).
//!
//! Every number a caption quotes beside the live one ("5 seeds: …") was measured on the CPU
//! reference over seeds 1–5: the lesson's own runs with `cargo run --profile fast --example
//! lessons`; the two side remarks (overfitting's dense network of width 512, moe-vs-dense trained
//! on to step 2000) with the same configs in separate runs, recorded in the README; the lines
//! about run A ([`Lesson::about_a`]) of balance-loss and expert-choice (the same run A) with
//! `cargo run --profile fast --example balance_drops`.
//!
//! At the lesson's end the player shows the verdict: the lesson's [`Lesson::headline`] as
//! reproduced or not, and behind it each check with its thresholds. While a lesson plays, the
//! cards it shows say its [`Lesson::card_words`] instead of their generic captions.
//! tests/lessons.rs holds each lesson to its checks in at least 4 of 5 seeds.
use crate::cards::CardId;
use crate::config::Config;
use crate::history::Hist;
use crate::setting::Side;

/// One knob setting of a beat: `key = value` on run A, B or both (knob keys and values as in the
/// URL).
#[derive(Clone, Copy, Debug)]
pub struct Set {
    pub side: Side,
    pub key: &'static str,
    pub value: &'static str,
}

const fn a(key: &'static str, value: &'static str) -> Set {
    Set { side: Side::A, key, value }
}
const fn b(key: &'static str, value: &'static str) -> Set {
    Set { side: Side::B, key, value }
}
#[allow(dead_code)] // for lessons that set a knob on both runs
const fn both(key: &'static str, value: &'static str) -> Set {
    Set { side: Side::Both, key, value }
}

/// The histories of both runs so far, and their configs: what conditions and checks read.
#[derive(Clone, Copy)]
pub struct Runs<'a> {
    pub a: &'a [Hist],
    pub b: &'a [Hist],
    pub cfg_a: &'a Config,
    pub cfg_b: &'a Config,
}

/// A condition on the runs, with what it means in words.
#[derive(Clone, Copy)]
pub struct Cond {
    pub what: &'static str,
    pub test: fn(&Runs) -> bool,
}

/// One step of a lesson.
#[derive(Clone, Copy)]
pub struct Beat {
    /// Knobs set as the beat starts (the first beat's make the runs' starting configs; later
    /// beats set live knobs only, on the running models).
    pub set: &'static [Set],
    /// Train until this step of the runs…
    pub until: u32,
    /// …or until this holds, checked at every snapshot, whichever comes first.
    pub when: Option<Cond>,
    /// What the class watches while it trains.
    pub doing: &'static str,
    /// Said once the beat's end is reached ([`fill`] fills its placeholders).
    pub caption: &'static str,
    /// The card that shows it: highlighted, and shown in classroom mode.
    pub card: CardId,
    /// A question for the class: the lesson pauses on it until the teacher goes on.
    pub question: Option<&'static str>,
}

/// A check of the lesson's expected outcome at the end of beat `beat`.
#[derive(Clone, Copy)]
pub struct Check {
    pub beat: usize,
    /// What the check shows, in plain words and without thresholds (the verdict's headline says
    /// it when the check fails: "what did not show: …").
    pub shows: &'static str,
    /// The test, and what it tests with its thresholds (shown behind "how this was checked").
    pub cond: Cond,
}

/// A lesson: a claim from the literature beside its counterfactual.
pub struct Lesson {
    /// URL value of `lesson=`.
    pub id: &'static str,
    pub title: &'static str,
    /// What the lesson asks, in one plain sentence for a teacher choosing a lesson (the start
    /// panel's card): a question its own captions answer, no numbers, no jargon.
    pub teaser: &'static str,
    /// The claim in a sentence.
    pub claim: &'static str,
    /// Paper(s) and year.
    pub source: &'static str,
    /// The claim as a headline a class reads at a glance, in plain words and no numbers, lower
    /// case ("without the balance loss …"): the verdict says "✓ Reproduced: " before it.
    pub headline: &'static str,
    /// At the lesson's end, where run A shows something a student would ask about (A drops tokens
    /// though it has the balance loss): why, in a sentence or two with this run's numbers ([`fill`]
    /// placeholders), holding only what was measured. None where A holds no surprise.
    pub about_a: Option<&'static str>,
    /// What each shown card means in this lesson, shown in place of the card's generic caption
    /// while the lesson plays (a shown card without words shows no caption then).
    pub card_words: &'static [(CardId, &'static str)],
    /// Both runs' config from the defaults (the seed is the page's); then the first beat's sets.
    pub base: fn(&mut Config),
    pub beats: &'static [Beat],
    /// The cards classroom mode shows (one to three).
    pub cards: &'static [CardId],
    pub expect: &'static [Check],
}

impl Lesson {
    /// The configs A and B start from, for seed `seed`: the defaults, [`Lesson::base`], the first
    /// beat's sets.
    pub fn start(&self, seed: u32) -> (Config, Config) {
        let mut c = Config { seed, ..Config::default() };
        (self.base)(&mut c);
        let (mut a, mut b) = (c.clone(), c);
        apply_sets(self.beats[0].set, &mut a, &mut b).expect("a lesson's first beat sets valid knobs");
        (a, b)
    }
    /// The lesson's words for card `id`, if it has any.
    pub fn words_for(&self, id: CardId) -> Option<&'static str> {
        self.card_words.iter().find(|(c, _)| *c == id).map(|(_, w)| *w)
    }
    /// The step the lesson's last beat ends at.
    pub fn end(&self) -> u32 {
        self.beats.last().map(|b| b.until).unwrap_or(0)
    }
}

/// Apply `sets` to the configs of A and B, each knob as a change by hand would set it
/// ([`crate::setting::changed`]: a router with its defaults, E clamping k, …); why not, if a set
/// does not work.
pub fn apply_sets(sets: &[Set], a: &mut Config, b: &mut Config) -> Result<(), String> {
    let none = crate::setting::Saved::new();
    for s in sets {
        for (side, c) in [(Side::A, &mut *a), (Side::B, &mut *b)] {
            if s.side == side || s.side == Side::Both {
                *c = crate::setting::changed(c, &none, s.key, s.value)?.0;
            }
        }
    }
    Ok(())
}

/// Mean of `f` over the points of `h` in the last `over` steps (at least the last point); NaN
/// for an empty history.
pub fn recent(h: &[Hist], over: f32, f: fn(&Hist) -> f32) -> f32 {
    let Some(last) = h.last() else { return f32::NAN };
    let pts: Vec<f32> = h.iter().filter(|p| p.step > last.step - over).map(f).collect();
    pts.iter().sum::<f32>() / pts.len() as f32
}

/// The held-out evaluation of the last [`EVAL_OVER`] steps: the mean CE and accuracy of the
/// evaluations taken then (each once, however many snapshots carry it); NaN before the first.
/// One evaluation alone is noisy: between two evaluations 100 steps apart the held-out CE of the
/// same run moves by up to 0.1 nats at step 2000 (seed 1 on the CPU: 1.464 at 1800, 1.404 at 2000;
/// on the GPU 1.481 and 1.514), enough to flip a comparison between two runs.
pub fn held_out(h: &[Hist]) -> (f32, f32) {
    let Some(last) = h.last() else { return (f32::NAN, f32::NAN) };
    let mut seen: Vec<(u32, f32, f32)> = Vec::new();
    for e in h.iter().filter_map(|p| p.eval) {
        if e.0 as f32 > last.step - EVAL_OVER && !seen.iter().any(|s| s.0 == e.0) {
            seen.push(e);
        }
    }
    if seen.is_empty() {
        return h.iter().rev().find_map(|p| p.eval).map(|(_, ce, acc)| (ce, acc)).unwrap_or((f32::NAN, f32::NAN));
    }
    let n = seen.len() as f32;
    (seen.iter().map(|e| e.1).sum::<f32>() / n, seen.iter().map(|e| e.2).sum::<f32>() / n)
}

/// Steps of history the caption metrics and checks average over.
pub const RECENT: f32 = 100.0;
/// Steps of held-out evaluations [`held_out`] averages over (the last three at one per 100 steps).
pub const EVAL_OVER: f32 = 300.0;

/// How a caption shows a [`Metric`]'s value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// A share, as a whole percentage ("28 %").
    Percent,
    /// A number with this many decimals.
    Decimals(usize),
    /// A whole number (a step, a count).
    Whole,
}

/// A metric of a run's history that a caption can quote (`{a.NAME}`, `{b.NAME}`) and a lesson's
/// conditions and checks read: its row of [`METRICS`]. `M::MaxShare.of(r.b)` is the number
/// `{b.max_share}` shows, so what a caption quotes and what a check tests are one function.
/// A new metric is a new variant here, last, and its row at the end of [`METRICS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum M {
    Step,
    MaxShare,
    Entropy,
    Starved,
    Dropped,
    AllDropped,
    Ce,
    EvalCe,
    EvalAcc,
    Gap,
    Logits,
    Spec,
    Capacity,
}

impl M {
    /// Its row of [`METRICS`].
    pub fn metric(self) -> &'static Metric {
        &METRICS[self as usize]
    }
    /// Its name in a placeholder (`max_share` of `{a.max_share}`).
    pub fn name(self) -> &'static str {
        self.metric().name
    }
    /// The metric a placeholder names; None for a name [`METRICS`] does not have.
    pub fn parse(name: &str) -> Option<M> {
        METRICS.iter().find(|m| m.name == name).map(|m| m.id)
    }
    /// Its value in run `h`.
    pub fn of(self, h: &[Hist]) -> f32 {
        (self.metric().value)(h)
    }
    /// Its value in run `h` as a caption shows it ("–" where it has none yet, never NaN).
    pub fn text(self, h: &[Hist]) -> String {
        let v = self.of(h);
        match (self.metric().show, v.is_finite()) {
            (_, false) => "–".into(),
            (Show::Percent, _) => format!("{:.0} %", 100.0 * v),
            (Show::Decimals(p), _) => format!("{v:.p$}"),
            (Show::Whole, _) => format!("{v}"),
        }
    }
}

/// One row of [`METRICS`]: a metric's id, its name in placeholders, its value in a run's history
/// and how a caption shows it.
pub struct Metric {
    pub id: M,
    pub name: &'static str,
    /// What it is, in words.
    pub what: &'static str,
    pub value: fn(&[Hist]) -> f32,
    pub show: Show,
}

fn last(h: &[Hist], f: fn(&Hist) -> f32) -> f32 {
    h.last().map(f).unwrap_or(0.0)
}

/// Every metric a caption can quote and a check reads, the row of each [`M`] at its index: the
/// one table [`M::of`], [`fill`] and [`unknown_placeholders`] read.
pub const METRICS: &[Metric] = &[
    Metric {
        id: M::Step,
        name: "step",
        what: "the step of the latest snapshot",
        value: |h| last(h, |p| p.step),
        show: Show::Whole,
    },
    Metric {
        id: M::MaxShare,
        name: "max_share",
        what: "the busiest expert's share of the tokens (last 100 steps)",
        value: |h| recent(h, RECENT, |p| p.max_share),
        show: Show::Percent,
    },
    Metric {
        id: M::Entropy,
        name: "entropy",
        what: "the load's entropy, 1 = even (last 100 steps)",
        value: |h| recent(h, RECENT, |p| p.entropy),
        show: Show::Decimals(2),
    },
    Metric {
        id: M::Starved,
        name: "starved",
        what: "experts nearly idle (under a quarter of a fair share) at the latest snapshot",
        value: |h| last(h, |p| p.starved as f32),
        show: Show::Whole,
    },
    Metric {
        id: M::Dropped,
        name: "dropped",
        what: "share of assignments dropped (last 100 steps)",
        value: |h| recent(h, RECENT, |p| p.dropped),
        show: Show::Percent,
    },
    Metric {
        id: M::AllDropped,
        name: "all_dropped",
        what: "share of tokens with every choice dropped (last 100 steps)",
        value: |h| recent(h, RECENT, |p| p.all_dropped),
        show: Show::Percent,
    },
    Metric {
        id: M::Ce,
        name: "ce",
        what: "training cross-entropy (last 100 steps)",
        value: |h| recent(h, RECENT, |p| p.ce),
        show: Show::Decimals(3),
    },
    Metric {
        id: M::EvalCe,
        name: "eval_ce",
        what: "held-out cross-entropy (the evaluations of the last 300 steps)",
        value: |h| held_out(h).0,
        show: Show::Decimals(3),
    },
    Metric {
        id: M::EvalAcc,
        name: "eval_acc",
        what: "held-out accuracy (the evaluations of the last 300 steps)",
        value: |h| held_out(h).1,
        show: Show::Percent,
    },
    Metric {
        id: M::Gap,
        name: "gap",
        what: "held-out minus training cross-entropy (both over the last 300 steps)",
        value: gap,
        show: Show::Decimals(3),
    },
    Metric {
        id: M::Logits,
        name: "logits",
        what: "the router logits' size, √z (last 100 steps)",
        value: |h| recent(h, RECENT, |p| p.z.max(0.0).sqrt()),
        show: Show::Decimals(1),
    },
    Metric {
        id: M::Spec,
        name: "spec",
        what: "how much the chosen expert tells about the token's domain (last 100 steps)",
        value: |h| recent(h, RECENT, |p| p.specialisation),
        show: Show::Decimals(2),
    },
    Metric {
        id: M::Capacity,
        name: "capacity",
        what: "slots per expert per step",
        value: |h| last(h, |p| p.capacity as f32),
        show: Show::Whole,
    },
];

// Every row sits at its id's index (so `M::metric` finds it), and every variant has a row
// (`Capacity`, the last variant, has the last).
const _: () = {
    let mut i = 0;
    while i < METRICS.len() {
        assert!(METRICS[i].id as usize == i, "METRICS: a row out of M's order");
        i += 1;
    }
    assert!(METRICS.len() == M::Capacity as usize + 1, "METRICS: a row per M");
};

/// The caption `text` with each `{a.NAME}` / `{b.NAME}` replaced by that run's metric ([`M::text`]);
/// an unknown placeholder is left as it is (the tests check every lesson's).
pub fn fill(text: &str, runs: &Runs) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let Some(close) = tail.find('}') else {
            out.push_str(tail);
            return out;
        };
        let value = placeholder(&tail[1..close]).map(|(side, m)| m.text(if side == Side::B { runs.b } else { runs.a }));
        out.push_str(value.as_deref().unwrap_or(&tail[..=close]));
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The run and metric a placeholder's inside (`b.max_share`) names; None if it names none.
fn placeholder(inner: &str) -> Option<(Side, M)> {
    let (run, name) = inner.split_once('.')?;
    let side = match run {
        "a" => Side::A,
        "b" => Side::B,
        _ => return None,
    };
    Some((side, M::parse(name)?))
}

/// The placeholders of `text` that [`fill`] does not know.
pub fn unknown_placeholders(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let Some(close) = tail.find('}') else {
            bad.push(tail.to_string());
            break;
        };
        let inner = &tail[1..close];
        if placeholder(inner).is_none() {
            bad.push(inner.to_string());
        }
        rest = &tail[close + 1..];
    }
    bad
}

/// The history `h` as it was at step `step` (its points up to that step).
fn upto(h: &[Hist], step: u32) -> &[Hist] {
    &h[..h.iter().take_while(|p| p.step <= step as f32).count()]
}
/// Held-out minus training CE, both over the last [`EVAL_OVER`] steps.
fn gap(h: &[Hist]) -> f32 {
    held_out(h).0 - recent(h, EVAL_OVER, |p| p.ce)
}

/// Every lesson, in teaching order.
pub const LESSONS: &[Lesson] = &[
    Lesson {
        id: "balance-loss",
        title: "Why a balance loss",
        teaser: "What happens to the experts when nothing keeps their work even, and can it be repaired?",
        claim: "Without a balance loss the router feeds its own winners: a few experts take most tokens, \
                the others starve, and the busy ones drop tokens at their capacity. The balance loss prevents it \
                and repairs it.",
        source: "Shazeer et al. 2017; Switch Transformer, Fedus et al. 2021",
        headline: "without the balance loss a few experts take most of the work, and switching it on evens the load \
                   again",
        about_a: Some("Why does A, which has the balance loss, still drop {a.dropped} and leave {a.starved} of 8 experts \
                  nearly idle? α = 0.01 is gentle and has had {a.step} steps: on 5 seeds A drops 23–41 % at step 300, 4–15 % \
                  by step 1500, and 2–10 % at step 300 with B's α = 0.1 from the start."),
        card_words: &[
            (CardId::Load, "Marked A: with the balance loss; marked B: without it until its balance loss is switched \
                            on. Same scale: compare the heights; orange is dropped."),
            (CardId::Balance, "The busiest expert's share: A (with the balance loss) in blue, B in orange. Watch B's \
                               line once its balance loss is on."),
            (CardId::Drops, "Share of assignments dropped: A in blue, B in orange. The run that crowds its experts \
                             drops more."),
        ],
        base: |c| {
            c.top_k = 1;
            c.capacity_factor = 1.25;
            c.eval_every = 100;
        },
        beats: &[
            Beat {
                set: &[a("alpha", "0.01"), b("alpha", "0")],
                until: 300,
                when: None,
                doing: "A trains with the balance loss (α = 0.01), B without it (α = 0). Watch the load of each expert.",
                caption: "Step {a.step}: B sends {b.max_share} of its tokens to its busiest expert, leaves {b.starved} \
                          of 8 experts nearly idle (under a quarter of a fair share) and drops {b.dropped} of its assignments; A's busiest expert has \
                          {a.max_share} and A drops {a.dropped}. (5 seeds: B's busiest expert 55–96 %, 5–7 idle, 53–81 % \
                          dropped.)",
                card: CardId::Load,
                question: Some("What will happen to B if we switch its balance loss on now?"),
            },
            Beat {
                set: &[b("alpha", "0.1")],
                until: 900,
                when: Some(Cond { what: "B's load entropy ≥ 0.9", test: |r| M::Entropy.of(r.b) >= 0.9 }),
                doing: "B's balance loss is now on (α = 0.1). Watch B's load even out.",
                caption: "Step {a.step}: B's load entropy is {b.entropy} (1 = even), its busiest expert has {b.max_share} \
                          of the tokens and it drops {b.dropped} of its assignments. On the 5 seeds measured the \
                          balance loss repaired the collapsed router within 100–150 steps.",
                card: CardId::Balance,
                question: None,
            },
        ],
        cards: &[CardId::Load, CardId::Balance, CardId::Drops],
        expect: &[
            Check {
                beat: 0, shows: "B, without the balance loss, crowds its tokens onto a few experts and drops more \
                                 than A",
                cond: Cond {
                    what: "without the balance loss B is concentrated (busiest expert ≥ 35 % and 15 points above A's, \
                           ≥ 3 nearly idle) and drops 10 points more than A",
                    test: |r| {
                        M::MaxShare.of(r.b) >= 0.35
                            && M::MaxShare.of(r.b) >= M::MaxShare.of(r.a) + 0.15
                            && M::Starved.of(r.b) >= 3.0
                            && M::Dropped.of(r.b) > M::Dropped.of(r.a) + 0.1
                    },
                },
            },
            Check {
                beat: 1, shows: "B's load evens out once its balance loss is on",
                cond: Cond { what: "B recovers: load entropy ≥ 0.9", test: |r| M::Entropy.of(r.b) >= 0.9 },
            },
        ],
    },
    Lesson {
        id: "capacity-factor",
        title: "Capacity factor and dropped tokens",
        teaser: "Each expert takes only so many tokens per batch: what does dropping the rest cost?",
        claim: "Each expert computes at most a fixed number of tokens per batch, its capacity: the capacity factor \
                times a fair share. A small capacity factor saves compute but drops the tokens over it; a larger one \
                drops fewer, and the loss improves, at the price of more compute.",
        source: "GShard, Lepikhin et al. 2020; Switch Transformer, Fedus et al. 2021",
        headline: "a small capacity drops many tokens, and the run with room for them learns better",
        about_a: Some("Why does A drop so much? With cf = 0.5 each expert has slots for only half a fair share ({a.capacity} per \
                  expert), so however evenly A routes, at least half of its assignments are dropped: here {a.dropped}."),
        card_words: &[
            (CardId::Drops, "First chart: share dropped, A (cf = 0.5) in blue, B (cf = 2) in orange. Second: A's \
                             drops at each capacity factor; the dot is A's."),
            (CardId::Losses, "A (few slots) in blue, B (many slots) in orange. Dashed lines are the held-out loss: \
                              lower is better."),
            (CardId::Load, "Marked A: cf = 0.5; marked B: cf = 2. The black line is each expert's capacity; orange \
                            above it is dropped."),
        ],
        base: |c| {
            c.top_k = 1;
            c.alpha = 0.01;
            c.eval_every = 100;
        },
        beats: &[
            Beat {
                set: &[a("capacity-factor", "0.5"), b("capacity-factor", "2")],
                until: 600,
                when: None,
                doing: "A gives each expert half a fair share of slots (cf = 0.5), B twice a fair share (cf = 2).",
                caption: "A (cf = 0.5, {a.capacity} slots per expert) drops {a.dropped} of its assignments, B (cf = 2, \
                          {b.capacity} slots) drops {b.dropped}. The second chart is the drop-vs-cf curve of A's \
                          router: drops fall steeply up to cf ≈ 1, then flatten.",
                card: CardId::Drops,
                question: Some("B computes four times as many slots as A. Will it learn better?"),
            },
            Beat {
                set: &[],
                until: 1500,
                when: None,
                doing: "Both keep training; watch the held-out loss (dashed line) of each.",
                caption: "Held-out loss over the last 300 steps (to step {a.step}): A (cf = 0.5) {a.eval_ce}, B (cf = 2) {b.eval_ce}. Over 5 seeds \
                          B is ahead on every one, by 0.03–0.09: the dropped half of A's tokens skip their expert, and \
                          that costs quality.",
                card: CardId::Losses,
                question: None,
            },
        ],
        cards: &[CardId::Drops, CardId::Losses, CardId::Load],
        expect: &[
            Check {
                beat: 0, shows: "A, with little room, drops far more of its assignments than B",
                cond: Cond {
                    what: "A drops at least 30 points more of its assignments than B, which has 4× the slots",
                    test: |r| {
                        M::Dropped.of(r.a) >= M::Dropped.of(r.b) + 0.3
                            && M::Capacity.of(r.b) == 4.0 * M::Capacity.of(r.a)
                    },
                },
            },
            Check {
                beat: 1, shows: "B, with room for its tokens, reaches the lower held-out loss",
                cond: Cond { what: "B has the lower held-out loss", test: |r| M::EvalCe.of(r.b) < M::EvalCe.of(r.a) },
            },
        ],
    },
    Lesson {
        id: "top1-vs-top2",
        title: "Top-1 versus top-2",
        teaser: "Is sending each token to two experts worth twice the work?",
        claim: "Routing each token to two experts (GShard, Mixtral) instead of one (Switch) doubles the expert \
                compute per token and lowers the loss; Switch's argument is that one expert is enough for most of \
                the gain at half the cost.",
        source: "Switch Transformer, Fedus et al. 2021; GShard 2020; Mixtral, Jiang et al. 2024",
        headline: "sending each token to two experts instead of one lowers the loss, for twice the expert compute",
        about_a: None,
        card_words: &[
            (CardId::Losses, "A (one expert per token) in blue, B (two) in orange. Dashed lines are the held-out \
                              loss: lower is better."),
            (CardId::Heatmap, "Marked A: one expert per token, outlined red; marked B: two, red first and orange \
                               second."),
            (CardId::Load, "Marked A: top-1; marked B: top-2, two assignments per token."),
        ],
        base: |c| {
            c.alpha = 0.01;
            c.capacity_factor = 1.25;
            c.eval_every = 100;
        },
        beats: &[Beat {
            set: &[a("top-k", "1"), b("top-k", "2")],
            until: 1500,
            when: None,
            doing: "A sends each token to one expert, B to two, mixing their two outputs by the router's weights.",
            caption: "Held-out loss over the last 300 steps: top-1 {a.eval_ce}, top-2 {b.eval_ce}, for twice the expert compute per token \
                      ({b.capacity} slots per expert against {a.capacity}). Over 5 seeds top-2 is ahead on 4, by 0.02–0.06; \
                      on the fifth top-1 is ahead by 0.02. Switch's point: most of the gain at half the cost.",
            card: CardId::Losses,
            question: None,
        }],
        cards: &[CardId::Losses, CardId::Heatmap, CardId::Load],
        expect: &[Check {
            beat: 0, shows: "top-2 reaches the lower held-out loss",
            cond: Cond {
                what: "top-2 reaches a lower held-out loss",
                test: |r| M::EvalCe.of(r.b) < M::EvalCe.of(r.a),
            },
        }],
    },
    Lesson {
        id: "z-loss",
        title: "The router z-loss keeps the router's logits small",
        teaser: "Can a small penalty keep the router's scores from growing, at no cost in quality?",
        claim: "Router logits grow during training, and large logits make the softmax brittle and round-off \
                errors large. Penalising logsumexp² (the z-loss) keeps them small at no cost in quality.",
        source: "ST-MoE, Zoph et al. 2022",
        headline: "the z-loss keeps the router's scores small, at no cost in quality",
        about_a: None,
        card_words: &[
            (CardId::Logits, "How large the router's scores grow: A (no z-loss) in blue, B (with the z-loss) in \
                              orange."),
            (CardId::Losses, "A in blue, B in orange. Dashed lines are the held-out loss: close together means no \
                              cost in quality."),
            (CardId::Load, "Marked A: no z-loss; marked B: with the z-loss. How evenly each spreads its tokens."),
        ],
        base: |c| {
            c.alpha = 0.01;
            c.lr = 5e-2;
            c.eval_every = 100;
        },
        beats: &[Beat {
            set: &[a("beta", "0"), b("beta", "0.001")],
            until: 600,
            when: None,
            doing: "Both train with a high learning rate (0.05). A has no z-loss, B a z-loss of weight β = 0.001.",
            caption: "How large the router's scores (logits) have grown, measured as the log-sum-exp the z-loss \
                      penalises: A {a.logits}, B {b.logits}. \
                      Held-out loss A {a.eval_ce}, B {b.eval_ce}. (5 seeds: A 6.5–16, B 0.8–0.9; the held-out losses \
                      within 0.03 of each other; neither run diverged at this scale, so what the z-loss buys here is \
                      the small logits, at no cost in quality.)",
            card: CardId::Logits,
            question: None,
        }],
        cards: &[CardId::Logits, CardId::Losses, CardId::Load],
        expect: &[Check {
            beat: 0, shows: "B's router scores stay much smaller than A's, at about the same held-out loss",
            cond: Cond {
                what: "B's router scores stay at most half the size of A's, at a held-out loss within 0.05 of A's",
                test: |r| {
                    M::Logits.of(r.b) <= 0.5 * M::Logits.of(r.a) && (M::EvalCe.of(r.a) - M::EvalCe.of(r.b)).abs() <= 0.05
                },
            },
        }],
    },
    Lesson {
        id: "specialisation",
        title: "Experts specialise by domain",
        teaser: "Do the experts learn to take one kind of text each: arithmetic, words, DNA or code?",
        claim: "A learned router sends the text of each domain (arithmetic, words, DNA, code) to experts of its own.",
        source: "ST-MoE, Zoph et al. 2022",
        headline: "a learned router comes to send different kinds of text to different experts",
        about_a: None,
        card_words: &[
            (CardId::Domains, "Rows: the kinds of text. Marked A: the learned router; marked B: the fixed hash. One \
                               bright cell per row is an expert of its own."),
            (CardId::Heatmap, "Marked A: the learned router's choices; marked B: the hash's. The stripe shows each \
                               input's kind of text."),
        ],
        base: |c| {
            c.alpha = 0.01;
            c.eval_every = 100;
        },
        beats: &[
            Beat {
                set: &[b("router", "hash")],
                until: 100,
                when: None,
                doing: "A learns its router; B routes by a fixed hash of the input character (it cannot learn).",
                caption: "Step {a.step}: how much the expert tells about the domain (0 = nothing, 1 = everything): \
                          A {a.spec}, B {b.spec}.",
                card: CardId::Domains,
                question: None,
            },
            Beat {
                set: &[],
                until: 1000,
                when: None,
                doing: "Watch each domain's row of the matrix: one bright cell per row is specialisation.",
                caption: "Step {a.step}: A's experts now tell the domain at {a.spec} (B, hashed: {b.spec}). 5 seeds: A 0.33–0.52, the hash \
                          router 0.24 (what the characters alone give away).",
                card: CardId::Domains,
                question: None,
            },
        ],
        cards: &[CardId::Domains, CardId::Heatmap],
        expect: &[Check {
            beat: 1, shows: "A's experts come to tell the kinds of text apart, more than the hash router's",
            cond: Cond {
                what: "A's specialisation grows over training and ends above the hash router's",
                test: |r| {
                    // The snapshots up to step 100 (the first one if none is that early): a window no
                    // caption quotes, so it reads the history's field itself.
                    let mut first: Vec<f32> = r.a.iter().filter(|p| p.step <= 100.0).map(|p| p.specialisation).collect();
                    if first.is_empty() {
                        first.extend(r.a.first().map(|p| p.specialisation));
                    }
                    let early = first.iter().sum::<f32>() / first.len() as f32;
                    let late = M::Spec.of(r.a);
                    late >= early + 0.05 && late > M::Spec.of(r.b)
                },
            },
        }],
    },
    Lesson {
        id: "dead-experts",
        title: "Dead experts",
        teaser: "Some experts get no work from the start. Can they come back?",
        claim: "A linear router over 2-D points splits the plane into a few wedges and leaves some experts unused \
                from the first steps; the balance loss brings them back.",
        source: "Shazeer et al. 2017 (the balance loss); the regions data set of this page",
        headline: "without the balance loss some experts get almost no work; with it they come back and the model \
                   classifies better",
        about_a: None,
        card_words: &[
            (CardId::RegionMap, "Run A's map. Left: the expert each point goes to; an expert whose colour is missing \
                                 gets no work. Right: the class A predicts."),
            (CardId::Load, "Marked A: no balance loss until it is switched on; marked B: α = 0.1 throughout. An \
                            expert without a bar gets no work."),
        ],
        base: |c| {
            c.dataset = crate::config::Dataset::Regions;
            c.top_k = 1;
            c.capacity_factor = 1.25;
            c.tokens = 512;
            c.lr = 1e-2;
            c.eval_every = 100;
        },
        beats: &[
            Beat {
                set: &[a("alpha", "0"), b("alpha", "0.1")],
                until: 500,
                when: None,
                doing: "A has no balance loss, B has α = 0.1. The region map shows which expert A sends each point to.",
                caption: "A leaves {a.starved} of its 8 experts nearly idle (under a quarter of a fair share) and classifies {a.eval_acc} of held-out \
                          points right; B leaves {b.starved} idle and gets {b.eval_acc}. (5 seeds: 3–4 idle, 73–77 % against 84–87 %.)",
                card: CardId::RegionMap,
                question: Some("A's idle experts get almost no tokens and so almost no gradient. Can they come back?"),
            },
            Beat {
                set: &[a("alpha", "0.1")],
                until: 1000,
                when: None,
                doing: "A's balance loss is now on (α = 0.1).",
                caption: "With the balance loss A leaves {a.starved} experts idle and classifies {a.eval_acc} right \
                          (B: {b.eval_acc}). (5 seeds: every expert back, 85–91 %.)",
                card: CardId::RegionMap,
                question: None,
            },
        ],
        cards: &[CardId::RegionMap, CardId::Load],
        expect: &[
            Check {
                beat: 0, shows: "without the balance loss A leaves experts idle, more than B",
                cond: Cond {
                    what: "without the balance loss A leaves ≥ 2 experts nearly idle, at least 2 more than B",
                    test: |r| M::Starved.of(r.a) >= 2.0 && M::Starved.of(r.b) + 2.0 <= M::Starved.of(r.a),
                },
            },
            Check {
                beat: 1, shows: "with the balance loss A's idle experts come back and its accuracy rises",
                cond: Cond {
                    what: "with the balance loss A's experts come back and its accuracy rises",
                    test: |r| M::Starved.of(r.a) == 0.0 && M::EvalAcc.of(r.a) > M::EvalAcc.of(upto(r.a, 500)),
                },
            },
        ],
    },
    Lesson {
        id: "overfitting",
        title: "Sparse models overfit sooner",
        teaser: "On a small data set, which memorises more: a mixture of experts or a dense model?",
        claim: "On a small data set a sparse model, with more parameters per unit of compute, memorises more than its \
                dense twin: the gap between training and held-out loss opens wider.",
        source: "ST-MoE, Zoph et al. 2022 (fine-tuning on small tasks); Switch Transformer 2021",
        headline: "on a small data set the mixture of experts memorises more than its dense twin",
        about_a: None,
        card_words: &[
            (CardId::Losses, "A (mixture of experts) in blue, B (dense) in orange. Solid: training loss; dashed: \
                              held-out. The gap between them is what each memorised."),
        ],
        base: |c| {
            c.alpha = 0.01;
            c.train_examples = 8192;
            c.eval_every = 100;
        },
        beats: &[
            Beat {
                set: &[b("dense-twin", "active")],
                until: 500,
                when: None,
                doing: "Both see only 8,192 different training examples, again and again. A is the MoE (8 experts), B \
                        its dense twin at equal active compute (one network of width 64, 8× fewer parameters).",
                caption: "Step {a.step}: both have learned what generalises; held-out loss A {a.eval_ce}, B {b.eval_ce}, \
                          and the gap to the training loss is still small (A {a.gap}, B {b.gap}).",
                card: CardId::Losses,
                question: Some("From here on they see the same examples over and over. Which one will memorise more?"),
            },
            Beat {
                set: &[],
                until: 1500,
                when: None,
                doing: "Watch each run's solid (training) and dashed (held-out) lines drift apart.",
                caption: "Held-out minus training loss: A (MoE) {a.gap}, B (dense) {b.gap}. The MoE's gap is the wider \
                          on all 5 seeds measured (1.01–1.30 against 0.90–1.10). It is the parameters: a dense network with the MoE's total \
                          parameters (width 512) memorises even more (gap 1.6–2.2 at this step).",
                card: CardId::Losses,
                question: None,
            },
        ],
        cards: &[CardId::Losses],
        expect: &[Check {
            beat: 1, shows: "the mixture of experts' gap between training and held-out loss is the wider",
            cond: Cond { what: "the MoE's train/held-out gap is the wider", test: |r| M::Gap.of(r.a) > M::Gap.of(r.b) },
        }],
    },
    Lesson {
        id: "moe-vs-dense",
        title: "MoE versus dense at equal active compute",
        teaser: "For the same work per token, does a mixture of experts learn faster than a dense model?",
        claim: "At the same compute per token, a mixture of experts learns faster than a dense model: it has E times \
                the parameters, and each token uses only its share.",
        source: "Switch Transformer, Fedus et al. 2021",
        headline: "at the same compute per token, the mixture of experts reaches a lower loss than a dense model in \
                   the same steps",
        about_a: None,
        card_words: &[
            (CardId::Losses, "A (mixture of experts) in blue, B (dense) in orange. Dashed lines are the held-out \
                              loss: lower is better."),
            (CardId::Load, "Marked A: how the mixture of experts spreads its tokens over its 8 experts."),
        ],
        base: |c| {
            c.top_k = 2;
            c.alpha = 0.01;
            c.lr = 5e-3;
            c.eval_every = 100;
        },
        beats: &[Beat {
            set: &[b("dense-twin", "active")],
            until: 1500,
            when: None,
            doing: "A is the MoE: 8 experts of width 64, two of them per token. B is its dense twin: one network of width \
                    128 that every token uses, the same compute per token with a quarter of the parameters.",
            caption: "Held-out loss over the last 300 steps (to step {a.step}): MoE {a.eval_ce}, dense {b.eval_ce}. \
                      (5 seeds: MoE 1.32–1.39, dense 1.38–1.44; the MoE ahead on all five, by 0.05–0.09. Trained on to \
                      step 2000 the dense twin closes part of the gap, to 0.02–0.06: the MoE's edge here is that it \
                      learns faster.)",
            card: CardId::Losses,
            question: None,
        }],
        cards: &[CardId::Losses, CardId::Load],
        expect: &[Check {
            beat: 0, shows: "the mixture of experts reaches the lower held-out loss",
            cond: Cond { what: "the MoE has the lower held-out loss", test: |r| M::EvalCe.of(r.a) < M::EvalCe.of(r.b) },
        }],
    },
    Lesson {
        id: "hash-vs-learned",
        title: "Learned versus hash routing",
        teaser: "Does the router need to learn at all, or does a fixed rule do as well?",
        claim: "A router that cannot learn, sending each token to a fixed expert by a hash of its input, trains about \
                as well as a learned one, and its load is balanced without any balance loss.",
        source: "Hash Layers, Roller et al. 2021",
        headline: "a fixed hash router trains about as well as a learned one, with an even load and no balance loss",
        about_a: None,
        card_words: &[
            (CardId::Losses, "A (learned router) in blue, B (hash) in orange. Dashed lines are the held-out loss: \
                              lower is better."),
            (CardId::Load, "Marked A: the learned router, with a balance loss; marked B: the hash, without one. \
                            Compare how even they are."),
            (CardId::Heatmap, "Marked A: the learned router's choices; marked B: the hash's fixed ones."),
        ],
        base: |c| {
            c.top_k = 1;
            c.alpha = 0.01;
            c.eval_every = 100;
        },
        beats: &[Beat {
            set: &[b("router", "hash")],
            until: 1500,
            when: None,
            doing: "A learns its router (top-1, balance loss α = 0.01). B sends each token to the expert chosen by a \
                    fixed hash of the input character: nothing to learn, no balance loss.",
            caption: "Held-out loss over the last 300 steps: learned {a.eval_ce}, hash {b.eval_ce}. The hash's busiest \
                      expert has {b.max_share} of the tokens with no balance loss (learned: {a.max_share}). (5 seeds: the \
                      hash ahead on all five, by 0.01–0.10: at this scale learning where to send a token buys nothing.)",
            card: CardId::Losses,
            question: None,
        }],
        cards: &[CardId::Losses, CardId::Load, CardId::Heatmap],
        expect: &[Check {
            beat: 0, shows: "the hash router's held-out loss is about as low as the learned one's, with an even load",
            cond: Cond {
                what: "the hash router's held-out loss is at most 0.03 above the learned router's, and its busiest \
                       expert has at most 30 % of the tokens",
                test: |r| M::EvalCe.of(r.b) <= M::EvalCe.of(r.a) + 0.03 && M::MaxShare.of(r.b) <= 0.3,
            },
        }],
    },
    Lesson {
        id: "expert-choice",
        title: "Experts choose their tokens",
        teaser: "What if each expert picks its tokens, instead of each token picking its expert?",
        claim: "When each expert picks its C best tokens instead of each token picking its experts, the load is \
                balanced by construction and nothing is dropped; the price is that some tokens are picked by no expert.",
        source: "Expert Choice routing, Zhou et al. 2022",
        headline: "when experts choose their tokens the load is even and nothing is dropped, but some tokens get no \
                   expert",
        about_a: Some("Why does A, which has a balance loss, still drop {a.dropped}? Its balance loss is gentle (α = 0.01) and \
                  evens the load slowly: on 5 seeds (batches of 64 and 256) this A drops 11–23 % at step 600 and 4–15 % at \
                  step 1500."),
        card_words: &[
            (CardId::Load, "Marked A: tokens choose (orange is dropped over capacity); marked B: experts choose, \
                            each exactly its capacity."),
            (CardId::Drops, "Share dropped: A in blue, B in orange. B's experts pick their tokens, so none is \
                             dropped over capacity."),
            (CardId::Heatmap, "Marked A: the expert each probe input chose; marked B: the experts that picked it."),
        ],
        base: |c| {
            c.top_k = 1;
            c.alpha = 0.01;
            c.eval_every = 100;
        },
        beats: &[Beat {
            set: &[b("router", "expert-choice")],
            until: 600,
            when: None,
            doing: "A: each token picks its expert (top-1, with a capacity per expert and a balance loss). B: each \
                    expert picks the tokens of the batch it scores highest, as many as its capacity.",
            caption: "Each of B's experts takes exactly its {b.capacity} tokens (its busiest has {b.max_share} of the work, \
                      a fair eighth) and B drops {b.dropped}, but {b.all_dropped} of its tokens were picked by no expert: \
                      the layer passes them through unchanged. A drops {a.dropped} of its assignments. Held-out loss over the last 300 steps: \
                      A {a.eval_ce}, B {b.eval_ce}. (5 seeds at a batch of 256, 40 tokens per expert: B leaves 2–5 % of tokens unpicked; A drops 11–20 %; \
                      the held-out losses within 0.07, A ahead on 4.)",
            card: CardId::Load,
            question: None,
        }],
        cards: &[CardId::Load, CardId::Drops, CardId::Heatmap],
        expect: &[Check {
            beat: 0, shows: "B's load is exactly even with nothing dropped, some of its tokens get no expert, and A \
                             drops some",
            cond: Cond {
                what: "B's load is exactly even (each expert 1/8), it drops nothing, some of its tokens get no expert, \
                       and A drops some",
                test: |r| {
                    (M::MaxShare.of(r.b) - 0.125).abs() < 0.005
                        && M::Dropped.of(r.b) == 0.0
                        && M::AllDropped.of(r.b) > 0.0
                        && M::Dropped.of(r.a) > 0.0
                },
            },
        }],
    },
];

/// The lesson called `id`.
pub fn find(id: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.id == id)
}

/// Every lesson id.
pub fn ids() -> Vec<&'static str> {
    LESSONS.iter().map(|l| l.id).collect()
}

/// How a lesson's claim came out on the runs just trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Finding {
    /// Every check held.
    Reproduced,
    /// A check did not hold.
    NotReproduced,
    /// None failed, but some were not checked (the lesson moved on before their step).
    NotChecked,
}

impl Finding {
    /// Its name on the page (`data-verdict`).
    pub fn name(self) -> &'static str {
        match self {
            Finding::Reproduced => "reproduced",
            Finding::NotReproduced => "not-reproduced",
            Finding::NotChecked => "not-checked",
        }
    }
}

/// A lesson's verdict at its end: a headline a class reads at a glance, and behind it how it was
/// checked (the band shows those behind "how this was checked").
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub finding: Finding,
    /// "✓ Reproduced: <the lesson's headline>.", "✗ Not reproduced this time: …" or "– Not
    /// checked: …".
    pub headline: String,
    /// Under the headline when it is not reproduced: what did not show, in plain words; when not
    /// checked, why.
    pub detail: Option<String>,
    /// One line per check, with its thresholds ("✓ …", "✗ not this time: …", "– not checked …").
    pub checks: Vec<String>,
    /// Where the runs trained on the CPU with a smaller batch than the lesson was measured with.
    pub note: Option<String>,
}

/// A lesson played headless: both runs' histories, the step each beat ended at, each beat's
/// filled caption, and each check's result.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub a: Vec<Hist>,
    pub b: Vec<Hist>,
    pub beat_ends: Vec<u32>,
    pub captions: Vec<String>,
    pub checks: Vec<(&'static str, bool)>,
    /// The verdict the lesson's end showed.
    pub verdict: Option<Verdict>,
    /// The line about run A the lesson's end showed.
    pub about_a: Option<String>,
}

impl Outcome {
    /// Every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_is_well_formed() {
        let mut ids = std::collections::HashSet::new();
        for l in LESSONS {
            assert!(ids.insert(l.id), "duplicate lesson id {}", l.id);
            assert!(
                l.teaser.ends_with('?') && l.teaser.chars().count() <= 100 && !l.teaser.contains('{'),
                "{}: a teaser is one short question",
                l.id
            );
            assert!(!l.beats.is_empty() && !l.expect.is_empty(), "{}", l.id);
            assert!((2..=3).contains(&l.cards.len()) || l.cards.len() == 1, "{}: 1–3 cards", l.id);
            let (ca, cb) = l.start(1);
            ca.validate().unwrap();
            cb.validate().unwrap();
            let (mut a, mut b) = (ca.clone(), cb.clone());
            let mut last = 0;
            for (i, beat) in l.beats.iter().enumerate() {
                assert!(beat.until >= last, "{} beat {i}: steps go forward", l.id);
                last = beat.until;
                assert!(l.cards.contains(&beat.card), "{} beat {i}: card {} is not shown", l.id, beat.card);
                assert!(
                    unknown_placeholders(beat.caption).is_empty(),
                    "{} beat {i}: {:?}",
                    l.id,
                    unknown_placeholders(beat.caption)
                );
                if i > 0 {
                    let (pa, pb) = (a.clone(), b.clone());
                    apply_sets(beat.set, &mut a, &mut b).unwrap();
                    assert!(pa.same_structure(&a) && pb.same_structure(&b), "{} beat {i}: live knobs only", l.id);
                }
            }
            let shown: std::collections::HashSet<_> = l.cards.iter().collect();
            assert_eq!(shown.len(), l.cards.len(), "{}: a card twice", l.id);
            assert!(l.expect.iter().all(|c| c.beat < l.beats.len()), "{}", l.id);
            assert_ne!(ca, cb, "{}: A and B must differ", l.id);
        }
    }

    /// Every lesson has a headline in plain words, its checks say what they show, its line about
    /// run A quotes known metrics, and its card words are for cards it shows, one each.
    #[test]
    fn every_lesson_speaks_plainly() {
        let plain = |t: &str| !t.is_empty() && !t.contains('_') && !t.contains("::") && !t.contains('{');
        for l in LESSONS {
            assert!(plain(l.headline) && l.headline.chars().next().is_some_and(char::is_lowercase), "{}", l.id);
            assert!(!l.headline.ends_with('.'), "{}: the verdict ends the headline", l.id);
            assert!(l.expect.iter().all(|c| plain(c.shows)), "{}", l.id);
            if let Some(t) = l.about_a {
                assert!(unknown_placeholders(t).is_empty() && !t.contains('_'), "{}: {t}", l.id);
            }
            for (id, words) in l.card_words {
                assert!(l.cards.contains(id), "{}: words for card {id}, which it does not show", l.id);
                assert!(plain(words), "{} {id}: {words}", l.id);
                assert_eq!(l.card_words.iter().filter(|w| w.0 == *id).count(), 1, "{}: {id} twice", l.id);
            }
            for id in l.cards {
                assert!(l.words_for(*id).is_some(), "{}: no words for card {id}", l.id);
            }
        }
    }

    #[test]
    fn fill_quotes_the_runs_metrics() {
        let h = |max: f32, starved: u32| {
            vec![
                Hist { step: 50.0, max_share: 0.9, ..Default::default() },
                Hist { step: 100.0, max_share: max, starved, eval: Some((100, 1.5, 0.25)), ..Default::default() },
            ]
        };
        let (ha, hb) = (h(0.2, 0), h(0.6, 5));
        let c = Config::default();
        let runs = Runs { a: &ha, b: &hb, cfg_a: &c, cfg_b: &c };
        assert_eq!(
            fill(
                "{a.step}: A {a.max_share}, B {b.max_share} with {b.starved} starved; {b.eval_ce} {x.y} {a.nope}",
                &runs
            ),
            "100: A 55 %, B 75 % with 5 starved; 1.500 {x.y} {a.nope}"
        );
        // Before any evaluation (or any snapshot) a number reads "–", never NaN.
        let none = Runs { a: &[], b: &[], cfg_a: &c, cfg_b: &c };
        assert_eq!(fill("{a.eval_ce} {b.eval_acc} {a.max_share} {a.step}", &none), "– – – 0");
        assert_eq!(unknown_placeholders("{a.step} {b.bogus} {c.step} {open"), vec!["b.bogus", "c.step", "{open"]);
        assert_eq!(fill("x {a.step} y {open", &runs), "x 100 y {open");
    }

    /// Each metric's name parses to its id (names are unique), a placeholder of another name does
    /// not, and a metric's caption text is its value as the checks read it.
    #[test]
    fn metrics_are_found_by_id_and_by_name() {
        for m in METRICS {
            assert_eq!(M::parse(m.name), Some(m.id), "{}", m.name);
            assert_eq!(m.id.name(), m.name);
        }
        assert_eq!((M::parse("nope"), M::parse("")), (None, None));
        let h = [
            Hist { step: 50.0, max_share: 0.5, starved: 1, ..Default::default() },
            Hist { step: 100.0, max_share: 0.25, starved: 3, capacity: 40, ..Default::default() },
        ];
        assert_eq!((M::MaxShare.of(&h), M::MaxShare.text(&h)), (0.375, "38 %".to_string()));
        assert_eq!((M::Starved.of(&h), M::Capacity.of(&h[..1]), M::Step.of(&h)), (3.0, 0.0, 100.0));
        assert_eq!(upto(&h, 99).len(), 1);
        assert!(M::EvalCe.of(&h).is_nan() && M::EvalCe.text(&h) == "–");
    }
}
