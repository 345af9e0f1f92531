//! Compare mode's run B trained apart: on the CPU (the fallback without WebGPU) runs A and B would
//! share one thread, each frame training A's steps and then B's; with a [`Link`] to a trainer
//! elsewhere (a second Web Worker on the page, a thread natively) B trains at the same time as A.
//!
//! [`Apart`] is run B's trainer as the session sees it: it sends each command ([`ToApart`]) down
//! the link in the order the session gives them and counts the steps it sent, so the session's
//! lockstep, knob changes and metrics windows work as with a trainer of its own; snapshots come
//! back later, as a GPU's do. [`Serve`] is the other end: it owns the CPU trainer, runs each
//! command in order and answers ([`Reply`]). Both runs train the same steps on the same batches
//! with the same knobs at the same step, so run B's numbers are those it has on one thread (a
//! test says so, to the bit).
//!
//! One link serves a session's run B across restarts: each [`ToApart::Start`] carries the
//! session's generation and every reply names the generation of the trainer it comes from, so a
//! late answer from a run that was replaced is dropped.
use crate::config::{Config, Init};
use crate::metrics::Snapshot;
use crate::trainer::{CpuTrainer, Trainer};
use crate::upcycle::Upcycle;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;

/// Snapshots run B may have asked for and not yet received.
const MAX_SNAPSHOTS: u32 = 8;
/// Steps sent to run B and not yet trained: at most this many times the latest frame's steps
/// (and at least [`MIN_AHEAD`]; any number while none are queued); run A waits beyond it, so a
/// slower B holds A back instead of falling behind.
const AHEAD_FRAMES: u32 = 2;
const MIN_AHEAD: u32 = 4;
/// The generation of a reply that concerns every run (the link itself broke).
pub const ANY_GENERATION: u32 = u32::MAX;

/// What the session asks of the trainer apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToApart {
    /// Build the trainer of `cfg` (already capped to the CPU's batch) for generation `gen`,
    /// replacing the one it had.
    Start {
        gen: u32,
        cfg: Box<Config>,
    },
    /// The config's live knobs, from the next step on.
    Live(Box<Config>),
    Train(u32),
    Eval,
    /// Close the metrics window; the snapshot comes back as [`FromApart::Snapshot`].
    Snapshot,
    /// Drop the trainer (compare mode went off).
    Stop,
}

/// What the trainer apart answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromApart {
    /// Steps trained so far.
    Trained(u32),
    Snapshot(Box<Snapshot>),
    /// An upcycled run left its dense warm-up at this step.
    Switched(u32),
    /// The trainer could not start or go on.
    Failed(String),
}

/// An answer, and the generation of the trainer it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub gen: u32,
    pub msg: FromApart,
}

/// The way to the trainer apart.
pub trait Link {
    /// Send `msg`; messages arrive in the order they were sent.
    fn send(&self, msg: &ToApart);
    /// The next reply, if one came; never blocks.
    fn try_recv(&self) -> Option<Reply>;
    /// Natively: wait for the next reply (None: the other end is gone).
    #[cfg(not(target_arch = "wasm32"))]
    fn recv(&self) -> Option<Reply>;
}

/// Makes a link to a new trainer apart (None: this host cannot; run B then trains beside A).
pub type Spawn = Rc<dyn Fn() -> Option<Rc<dyn Link>>>;

/// Run B's trainer, apart, as the session sees it.
pub struct Apart {
    link: Rc<dyn Link>,
    gen: u32,
    /// The config the trainer runs (resolved, as [`Upcycle`] keeps it).
    cfg: Config,
    /// Steps sent, and the steps it has trained (the latest [`FromApart::Trained`]).
    sent: u32,
    trained: u32,
    /// Steps of the latest [`Trainer::train`].
    last_n: u32,
    asked: u32,
    snaps: VecDeque<Snapshot>,
    switched: Option<u32>,
    error: Option<String>,
}

impl Apart {
    /// Start generation `gen`'s run B of `cfg` (capped to the CPU's batch) at the other end of
    /// `link`.
    pub fn start(link: Rc<dyn Link>, gen: u32, cfg: &Config) -> Result<Apart, String> {
        cfg.validate().map_err(|e| e.to_string())?;
        link.send(&ToApart::Start { gen, cfg: Box::new(cfg.clone()) });
        Ok(Apart {
            link,
            gen,
            cfg: cfg.resolved(),
            sent: 0,
            trained: 0,
            last_n: 0,
            asked: 0,
            snaps: VecDeque::new(),
            switched: None,
            error: None,
        })
    }

    /// The link, to start the next generation's run B on.
    pub fn link(&self) -> Rc<dyn Link> {
        self.link.clone()
    }

    /// Why the trainer apart stopped, if it did.
    pub fn error(&mut self) -> Option<String> {
        self.take_replies();
        self.error.clone()
    }

    /// The step an upcycled run B left its dense warm-up at, once.
    pub fn take_switched(&mut self) -> Option<u32> {
        self.take_replies();
        self.switched.take()
    }

    /// Steps the session may send before it must wait: up to the end of an upcycled run's dense
    /// warm-up (where run A's own switch stops both runs), and no further ahead of what the other
    /// end has trained than a couple of frames.
    pub fn room(&mut self) -> u32 {
        self.take_replies();
        let queued = self.sent - self.trained.min(self.sent);
        let room =
            if queued == 0 { u32::MAX } else { (AHEAD_FRAMES * self.last_n).max(MIN_AHEAD).saturating_sub(queued) };
        if self.cfg.init == Init::Upcycle && self.sent < self.cfg.dense_steps {
            room.min(self.cfg.dense_steps - self.sent)
        } else {
            room
        }
    }

    fn take(&mut self, r: Reply) {
        if r.gen != self.gen && r.gen != ANY_GENERATION {
            return; // from a run this one replaced
        }
        match r.msg {
            FromApart::Trained(n) => self.trained = n,
            FromApart::Snapshot(s) => {
                self.asked = self.asked.saturating_sub(1);
                self.snaps.push_back(*s);
            }
            FromApart::Switched(at) => self.switched = Some(at),
            FromApart::Failed(e) => self.error = Some(e),
        }
    }

    fn take_replies(&mut self) {
        while let Some(r) = self.link.try_recv() {
            self.take(r);
        }
    }

    /// Natively: take replies until `done` holds or the other end is gone.
    #[cfg(not(target_arch = "wasm32"))]
    fn wait(&mut self, done: impl Fn(&Apart) -> bool) {
        while !done(self) && self.error.is_none() {
            match self.link.recv() {
                Some(r) => self.take(r),
                None => self.error = Some("the trainer of run B stopped".into()),
            }
        }
    }
}

impl Drop for Apart {
    fn drop(&mut self) {
        self.link.send(&ToApart::Stop);
    }
}

impl Trainer for Apart {
    fn config(&self) -> &Config {
        &self.cfg
    }
    fn backend(&self) -> String {
        "cpu reference (run B in a worker of its own)".into()
    }
    fn set_live(&mut self, live: crate::config::LiveKnobs) -> Result<(), crate::config::ConfigError> {
        let next = self.cfg.with_live(live);
        next.validate()?;
        self.link.send(&ToApart::Live(Box::new(next.clone())));
        self.cfg = next;
        Ok(())
    }
    fn train(&mut self, n: u32) {
        if n > 0 {
            self.link.send(&ToApart::Train(n));
            self.sent += n;
            self.last_n = n;
        }
    }
    fn steps(&self) -> u32 {
        self.sent
    }
    fn eval_now(&mut self) {
        self.link.send(&ToApart::Eval);
    }
    fn request_snapshot(&mut self) -> bool {
        self.take_replies();
        if self.asked >= MAX_SNAPSHOTS {
            return false;
        }
        self.link.send(&ToApart::Snapshot);
        self.asked += 1;
        true
    }
    fn poll_snapshot(&mut self) -> Option<Snapshot> {
        self.take_replies();
        self.snaps.pop_front()
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn wait_snapshot(&mut self) -> Option<Snapshot> {
        let asked = self.asked;
        self.wait(|a| !a.snaps.is_empty() || asked == 0);
        self.snaps.pop_front()
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn finish(&mut self) {
        self.wait(|a| a.trained >= a.sent);
    }
    /// Not offered: the routing trace is moe-train's `--trace`, which runs a trainer of its own;
    /// a session's run B apart never serves it.
    #[cfg(not(target_arch = "wasm32"))]
    fn last_trace(&mut self) -> crate::trainer::Trace {
        unimplemented!("run B apart keeps no routing trace (moe-train --trace runs its own trainer)")
    }
}

/// The other end of a [`Link`]: run B's CPU trainer, one command at a time.
#[derive(Default)]
pub struct Serve {
    gen: u32,
    tr: Option<Upcycle<CpuTrainer>>,
}

impl Serve {
    /// Run `msg`; the replies, in order (every snapshot finished by it included).
    pub fn handle(&mut self, msg: ToApart) -> Vec<Reply> {
        let mut said = vec![];
        match (msg, self.tr.as_mut()) {
            (ToApart::Start { gen, cfg }, _) => {
                self.gen = gen;
                self.tr = None;
                match Upcycle::cpu(&cfg) {
                    Ok(t) => self.tr = Some(t),
                    Err(e) => said.push(FromApart::Failed(e.to_string())),
                }
            }
            (ToApart::Stop, _) => self.tr = None,
            (_, None) => {} // its start failed (said so) or it was stopped: nothing to run
            // The session clamped k to this trainer's buffers already (Session::send_live).
            (ToApart::Live(cfg), Some(tr)) => {
                if let Err(e) = tr.set_live(cfg.live()) {
                    said.push(FromApart::Failed(e.to_string()));
                }
            }
            (ToApart::Train(n), Some(_)) => match self.train(n) {
                Ok((trained, switched)) => {
                    said.extend(switched.map(FromApart::Switched));
                    said.push(FromApart::Trained(trained));
                }
                Err(e) => said.push(FromApart::Failed(e)),
            },
            (ToApart::Eval, Some(tr)) => tr.eval_now(),
            (ToApart::Snapshot, Some(tr)) => {
                tr.request_snapshot();
            }
        }
        if let Some(tr) = self.tr.as_mut() {
            said.extend(std::iter::from_fn(|| tr.poll_snapshot()).map(|s| FromApart::Snapshot(Box::new(s))));
        }
        said.into_iter().map(|msg| Reply { gen: self.gen, msg }).collect()
    }

    /// Train `n` steps, leaving an upcycled run's dense warm-up on the way when it ends: the steps
    /// trained so far, and the step of the switch if there was one.
    fn train(&mut self, n: u32) -> Result<(u32, Option<u32>), String> {
        let Some(mut tr) = self.tr.take() else { return Err("no trainer".into()) };
        let target = tr.steps() + n;
        let was_dense = tr.is_dense();
        while tr.steps() < target {
            if tr.switch_due() {
                tr = ready(tr.switch()).ok_or("the upcycling switch waited")??;
            }
            let before = tr.steps();
            tr.train(target - before);
            if tr.steps() == before && !tr.switch_due() {
                break;
            }
        }
        let switched = (was_dense && !tr.is_dense()).then(|| tr.config().dense_steps);
        let steps = tr.steps();
        self.tr = Some(tr);
        Ok((steps, switched))
    }
}

/// The output of a future that does not wait (the CPU trainer's upcycling switch); None if it
/// would.
fn ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}
