//! The messages between the page and the Web Worker that runs its [`Session`]: how a session
//! starts ([`Start`]), the commands the page sends ([`ToWorker`]) and what the worker answers
//! ([`FromWorker`]), encoded with postcard (compact, and exact for every float: a diverged run's
//! NaN and a dropless capacity factor's ∞ cross as they are, which JSON cannot carry).
//!
//! Names that are `&'static str` on both sides (knob keys, lesson ids) cross as text and are looked
//! up in their tables on arrival: an unknown one is an error, never a new name. So does a
//! [`CardId`]: as its name (`data-card`), looked up in the cards' table ([`crate::cards::CARDS`]).
use super::apart::Spawn;
use super::{Cmd, Event, Options, Session};
use crate::config::Config;
use crate::knobs::KNOBS;
use crate::page::{Browser, CardId};
use crate::setting::Saved;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::rc::Rc;

/// A name from one of the crate's tables (a knob key, a lesson id). An alias, so that
/// serde's derive does not take the `'static` for a borrow of the message: these are looked up on
/// arrival instead.
pub type Name = &'static str;

/// How a session starts: what the page read from its URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Start {
    pub cfg: Config,
    pub cfg_b: Option<Config>,
    /// A lesson to start with (its configs from `cfg`'s seed replace the others).
    #[serde(deserialize_with = "lesson")]
    pub lesson: Option<Name>,
    /// `?bench`: the benchmark's steps.
    pub bench: Option<u32>,
    /// `debug=gpu-error`.
    pub simulate_gpu_error: bool,
    /// `debug=worker-no-gpu`: the worker acts as if its browser offered WebGPU to the window only
    /// (the end-to-end test of training on the main thread then).
    pub worker_without_gpu: bool,
    /// `debug=b-beside-a`: compare mode's run B trains beside A on the CPU, not in a worker of its
    /// own (the benchmark's "before").
    pub b_beside_a: bool,
    pub browser: Browser,
}

impl Start {
    /// The page's session for this start, timed by `clock`; `cpu_budget_ms`: the CPU trainer's
    /// time per tick; `apart`: where compare mode's run B can train apart on the CPU.
    pub fn session(&self, clock: Rc<dyn Fn() -> f64>, cpu_budget_ms: f64, apart: Option<Spawn>) -> Session {
        let mut opts = Options::page(clock, self.browser);
        opts.cpu_budget_ms = cpu_budget_ms;
        opts.apart = apart.filter(|_| !self.b_beside_a);
        opts.bench = self.bench;
        opts.simulate_gpu_error = self.simulate_gpu_error;
        match self.lesson.and_then(crate::lessons::find) {
            Some(l) => Session::with_lesson(opts, l, self.cfg.seed),
            None => Session::new(opts, self.cfg.clone(), self.cfg_b.clone()),
        }
    }
}

/// From the page to the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Start the session (the first message). `window_gpu`: the page's window offers WebGPU, so a
    /// worker without it hands the session back to the main thread ([`FromWorker::MainThread`]).
    Start {
        start: Box<Start>,
        window_gpu: bool,
    },
    Cmd(Cmd),
}

/// From the worker to the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// What happened since the last message, in order.
    Events(Vec<Event>),
    /// The commands handled so far (after their events): the page marks it on `<html
    /// data-handled>` beside `data-sent`, so a test can wait for its click to take effect.
    Handled(u32),
    /// This browser offers WebGPU to the window but not to workers: run the session on the main
    /// thread instead (the worker stops).
    MainThread,
}

/// `msg` as bytes.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    postcard::to_allocvec(msg).expect("the session's messages always encode")
}

/// A message from its bytes, or why not.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("a message between the page and its worker did not decode: {e}"))
}

/// The table's own `&'static str` equal to `name`.
fn find<E: serde::de::Error>(
    table: impl IntoIterator<Item = &'static str>,
    name: &str,
    what: &str,
) -> Result<&'static str, E> {
    table.into_iter().find(|k| *k == name).ok_or_else(|| E::custom(format!("unknown {what} {name:?}")))
}

fn lesson_ids() -> impl Iterator<Item = &'static str> {
    crate::lessons::LESSONS.iter().map(|l| l.id)
}

/// A knob key, by name.
pub fn knob_key<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    find(KNOBS.iter().map(|k| k.key), &s, "knob")
}

/// The remembered knob values, by knob name.
pub fn saved<'de, D: Deserializer<'de>>(d: D) -> Result<Saved, D::Error> {
    let m = std::collections::HashMap::<String, f32>::deserialize(d)?;
    m.into_iter().map(|(k, v)| Ok((find(KNOBS.iter().map(|k| k.key), &k, "knob")?, v))).collect()
}

/// A lesson id, if any.
pub fn lesson<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| find(lesson_ids(), &s, "lesson")).transpose()
}

/// A card crosses as its name (`data-card`).
impl Serialize for CardId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A card by its name, looked up in the cards' table: an unknown name is an error.
impl<'de> Deserialize<'de> for CardId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CardId, D::Error> {
        let name = String::deserialize(d)?;
        CardId::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown card {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Snapshot;
    use crate::page::Side;

    fn round_trip<T: Serialize + for<'a> Deserialize<'a> + PartialEq + std::fmt::Debug>(msg: T) {
        let back: T = decode(&encode(&msg)).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn messages_cross_exactly() {
        let mut saved = Saved::new();
        saved.insert("alpha", 0.01);
        let cfg = Config { capacity_factor: f32::INFINITY, ..Config::default() };
        round_trip(FromWorker::Events(vec![
            Event::Configs { a: cfg.clone(), b: Some(Config::default()), saved },
            Event::Focus(vec![CardId::Load, CardId::Losses]),
            Event::Highlight(Some(CardId::Heatmap)),
            Event::Lesson(Some("balance-loss")),
            Event::Step(7),
            Event::Caption(crate::session::Caption {
                verdict: Some(crate::session::Verdict {
                    finding: crate::session::Finding::NotChecked,
                    headline: "– Not checked: …".into(),
                    detail: Some("The lesson moved on …".into()),
                    checks: vec!["– not checked".into()],
                    note: None,
                }),
                about_a: Some("Why does A …".into()),
                ..Default::default()
            }),
        ]));
        round_trip(ToWorker::Cmd(Cmd::SetKnob { side: Side::B, key: "top-k", value: "2".into() }));
        round_trip(ToWorker::Start {
            start: Box::new(Start {
                cfg,
                cfg_b: None,
                lesson: Some("z-loss"),
                bench: Some(40),
                simulate_gpu_error: false,
                worker_without_gpu: true,
                b_beside_a: false,
                browser: Browser::Firefox,
            }),
            window_gpu: true,
        });
        // A diverged snapshot's NaN crosses as NaN (PartialEq cannot say so: compare the bits).
        let s = Snapshot { step: 3, ce: f32::NAN, eval_ce: f32::INFINITY, ..Snapshot::default() };
        let bytes = encode(&Event::Snapshot { side: Side::A, snap: Box::new(s) });
        let Ok(Event::Snapshot { snap, .. }) = decode::<Event>(&bytes) else { panic!("a snapshot") };
        assert!(snap.ce.is_nan() && snap.eval_ce == f32::INFINITY && snap.step == 3);
    }

    #[test]
    fn every_card_crosses_by_its_name() {
        for id in CardId::ALL {
            // On the wire it is the card's name, as text: the same bytes as the name's.
            assert_eq!(encode(&id), encode(&id.name()), "{id}");
            round_trip(id);
            round_trip(Event::Highlight(Some(id)));
        }
        round_trip(Event::Focus(CardId::ALL.to_vec()));
        round_trip(Event::Highlight(None));
        let err = decode::<CardId>(&encode(&"nonsense")).unwrap_err();
        assert!(err.contains("did not decode"), "{err}");
    }

    #[test]
    fn unknown_names_are_refused() {
        let bytes = encode(&Event::Highlight(Some(CardId::Heatmap)));
        let forged: Vec<u8> = bytes.iter().map(|&b| if b == b'h' { b'x' } else { b }).collect();
        let err = decode::<Event>(&forged).unwrap_err();
        assert!(err.contains("did not decode"), "{err}");
    }
}
