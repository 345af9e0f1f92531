//! Natively: a host for a [`Session`] that runs its jobs to completion (pollster), keeps every
//! event, and the headless lesson runner [`play_lesson`] (the page's lesson player, without the
//! page).
use super::apart::{FromApart, Link, Reply, Serve, Spawn, ToApart, ANY_GENERATION};
use super::{wire, Device, Event, Options, Session};
use crate::lessons::{Lesson, Outcome};
use crate::page::{Browser, Side};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Instant;

/// A session driven natively: every tick runs the jobs it asked for before the next.
pub struct Host {
    pub session: Session,
    /// Every event so far, in order.
    pub events: Vec<Event>,
}

/// Headless options: `device`, full batches on the CPU, no pacing (a whole metrics window per
/// tick), a monotonic clock.
pub fn options(device: Device) -> Options {
    let t0 = Instant::now();
    Options {
        device,
        cpu_tokens: None,
        bench: None,
        simulate_gpu_error: false,
        browser: Browser::Other,
        clock: Rc::new(move || t0.elapsed().as_secs_f64() * 1000.0),
        paced: false,
        cpu_budget_ms: super::CPU_BUDGET_MS,
        apart: None,
    }
}

/// Run B apart on a thread of its own, behind a [`Link`] that carries each message encoded as the
/// page's workers do (postcard bytes), so the native tests exercise the same encoding.
pub fn thread_apart() -> Spawn {
    Rc::new(|| {
        let (to_tx, to_rx) = mpsc::channel::<Vec<u8>>();
        let (from_tx, from_rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut serve = Serve::default();
            for bytes in to_rx {
                let msg = wire::decode::<ToApart>(&bytes).expect("the session's messages decode");
                for reply in serve.handle(msg) {
                    if from_tx.send(wire::encode(&reply)).is_err() {
                        return;
                    }
                }
            }
        });
        Some(Rc::new(ThreadLink { to: to_tx, from: from_rx }) as Rc<dyn Link>)
    })
}

/// The session's end of [`thread_apart`].
struct ThreadLink {
    to: mpsc::Sender<Vec<u8>>,
    from: mpsc::Receiver<Vec<u8>>,
}

impl ThreadLink {
    fn reply(bytes: Vec<u8>) -> Reply {
        wire::decode(&bytes).unwrap_or_else(|e| Reply { gen: ANY_GENERATION, msg: FromApart::Failed(e) })
    }
}

impl Link for ThreadLink {
    fn send(&self, msg: &ToApart) {
        let _ = self.to.send(wire::encode(msg)); // a stopped thread says so through `recv`
    }
    fn try_recv(&self) -> Option<Reply> {
        self.from.try_recv().ok().map(ThreadLink::reply)
    }
    fn recv(&self) -> Option<Reply> {
        self.from.recv().ok().map(ThreadLink::reply)
    }
}

impl Host {
    pub fn new(session: Session) -> Host {
        let mut h = Host { session, events: vec![] };
        h.settle();
        h
    }

    /// Run the jobs the session asked for (and those their results ask for), keeping the events.
    pub fn settle(&mut self) {
        loop {
            let jobs = self.session.jobs();
            self.events.extend(self.session.drain());
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                let done = pollster::block_on(job);
                self.session.finish(done);
            }
        }
    }

    /// One frame.
    pub fn tick(&mut self) {
        self.session.tick();
        self.settle();
    }

    /// A command, and the jobs it starts.
    pub fn send(&mut self, cmd: super::Cmd) {
        self.session.handle(cmd);
        self.settle();
    }

    /// Tick until `done` holds, at most `ticks` times; whether it held.
    pub fn run_until(&mut self, ticks: usize, mut done: impl FnMut(&Session) -> bool) -> bool {
        for _ in 0..ticks {
            if done(&self.session) {
                return true;
            }
            self.tick();
        }
        done(&self.session)
    }

    /// The events since `from` (an index into [`Host::events`]).
    pub fn since(&self, from: usize) -> &[Event] {
        &self.events[from.min(self.events.len())..]
    }
}

/// Play `lesson` for seed `seed` headless on `device`, every beat without pausing: both runs'
/// histories, the step each beat ended at, each beat's filled caption and each check's result.
pub fn play_lesson(lesson: &'static Lesson, seed: u32, device: Device) -> Outcome {
    play_lesson_with(lesson, seed, options(device))
}

/// [`play_lesson`] with `opts` (e.g. the page's CPU batch, `cpu_tokens`).
pub fn play_lesson_with(lesson: &'static Lesson, seed: u32, opts: Options) -> Outcome {
    let session = Session::with_lesson(opts, lesson, seed);
    let mut host = Host::new(session);
    host.session.lesson.as_mut().expect("a lesson").replay_to = lesson.beats.len();
    // Ticks enough for every window of every beat (with slack for a GPU's snapshots in flight).
    let windows = (lesson.end() / super::LESSON_WINDOW + lesson.beats.len() as u32 + 2) as usize;
    let ended = host.run_until(windows * 1000, |s| {
        s.lesson().is_some_and(|(l, beat, reached)| reached && beat + 1 == l.beats.len())
    });
    assert!(ended, "{}: the lesson did not reach its end (step {})", lesson.id, host.session.step());
    if let Some(e) = host.events.iter().find_map(|e| match e {
        Event::Error(Some(e)) | Event::GpuError(Some(e)) => Some(e.clone()),
        _ => None,
    }) {
        panic!("{}: {e}", lesson.id);
    }
    let end = host.events.iter().rev().find_map(|e| match e {
        Event::Caption(c) if c.verdict.is_some() => Some(c.clone()),
        _ => None,
    });
    let s = &host.session;
    Outcome {
        a: s.history(Side::A).to_vec(),
        b: s.history(Side::B).to_vec(),
        beat_ends: s.log().beat_ends.clone(),
        captions: s.log().captions.clone(),
        checks: s.checks().iter().map(|(what, ok)| (*what, ok.unwrap_or(false))).collect(),
        verdict: end.as_ref().and_then(|c| c.verdict.clone()),
        about_a: end.and_then(|c| c.about_a),
    }
}
