//! Surviving a lost GPU device (a driver reset, the browser restarting its GPU process, a laptop
//! switching GPUs): every few seconds the loop reads a checkpoint of each GPU run back (weights,
//! Adam's moments, counters; see [`crate::gpu::checkpoint`]) without stalling training. When a
//! device is lost, both runs are rebuilt on a new device from their last checkpoint, the history
//! after it is dropped (those steps are trained again, to the same numbers), and a notice says so;
//! with no checkpoint yet the run restarts from the seed, saying that instead.
use super::{lesson, Backend, Done, DoneKind, Event, Session, Side};
use crate::config::Config;
use crate::gpu::Checkpoint;
use crate::trainer::Trainer;
use crate::upcycle::Upcycle;

/// Time between two checkpoints of a GPU run.
pub const CHECKPOINT_MS: f64 = 5000.0;

/// A run's checkpoint, with the phase it was taken in (true: an upcycled run's dense warm-up).
type RunCheckpoint = (bool, Checkpoint);

/// The latest checkpoints of run A and (in compare mode) run B, taken at the same step.
#[derive(Clone)]
pub struct Saved {
    a: RunCheckpoint,
    b: Option<RunCheckpoint>,
}

impl Saved {
    fn step(&self) -> u32 {
        self.a.1.step
    }
}

/// The loop's checkpoint state.
#[derive(Default)]
pub struct Checkpoints {
    /// When the next one is due.
    due: f64,
    /// Asked of run A and of run B (their answers still out), and what has arrived so far.
    asked: Option<(bool, bool)>,
    got_a: Option<RunCheckpoint>,
    got_b: Option<RunCheckpoint>,
    /// The latest complete pair.
    saved: Option<Saved>,
}

impl Checkpoints {
    /// A new run: nothing saved, the first checkpoint after `CHECKPOINT_MS` of it.
    pub fn reset(&mut self, now: f64) {
        *self = Checkpoints { due: now + CHECKPOINT_MS, ..Default::default() };
    }
}

/// Once per frame on a GPU run: collect arrived checkpoints, and ask for the next pair when due
/// (only when training has moved on since the last one). In compare mode only a pair of A and B at
/// the same step is kept; a request that vanished (the upcycling switch consumed its trainer,
/// compare mode went off, the readback failed) is forgotten, so the next one is asked in time.
pub fn tend(s: &mut Session, t: f64) {
    if s.reading {
        return; // a trainer is lent out (region map, upcycling switch)
    }
    let with_b = s.cfg_b.is_some();
    let ck = &mut s.checkpoints;
    let Some(Backend::Gpu(a)) = s.backend.as_mut() else { return };
    let mut marked = None;
    if let Some(c) = a.poll_checkpoint() {
        ck.got_a = Some(c);
    }
    let mut b = match s.backend_b.as_mut() {
        Some(Backend::Gpu(b)) => Some(b),
        _ => None,
    };
    if let Some(c) = b.as_mut().and_then(|b| b.poll_checkpoint()) {
        ck.got_b = Some(c);
    }
    if let Some((asked_a, asked_b)) = ck.asked {
        let gone_a = asked_a && ck.got_a.is_none() && !a.checkpoint_pending();
        let gone_b = asked_b && ck.got_b.is_none() && !b.as_ref().is_some_and(|b| b.checkpoint_pending());
        if gone_a || gone_b {
            ck.asked = None;
            ck.got_a = None;
            ck.got_b = None;
        } else if (!asked_a || ck.got_a.is_some()) && (!asked_b || ck.got_b.is_some()) {
            ck.asked = None;
            let (a, b) = (ck.got_a.take(), ck.got_b.take());
            // A pair is only useful whole (both runs at the same step).
            let whole = |a: &RunCheckpoint| !with_b || b.as_ref().is_some_and(|b| b.1.step == a.1.step);
            if let Some(a) = a.filter(whole) {
                marked = Some(a.1.step);
                ck.saved = Some(Saved { a, b: b.filter(|_| with_b) });
            }
        }
    }
    let steps = a.inner().steps();
    if ck.asked.is_none() && t >= ck.due && steps > ck.saved.as_ref().map_or(0, Saved::step) {
        ck.due = t + CHECKPOINT_MS;
        let asked_a = a.request_checkpoint();
        let asked_b = b.is_some_and(|b| b.request_checkpoint());
        ck.asked = Some((asked_a, asked_b));
    }
    if let Some(step) = marked {
        s.emit(Event::Checkpoint(Some(step)));
    }
}

/// What resuming after a lost device gave.
pub struct Resumed {
    /// The step the class last saw when the device was lost.
    lost_at: u32,
    result: Result<(Backend, Option<Backend>, Saved), String>,
}

/// Run A's or B's device was lost: rebuild both runs on a new device from the last checkpoint
/// pair, or restart from the seed without one; the notice says which, and from which step.
pub fn recover(s: &mut Session) {
    // The saved pair moves into the job and back into the session once resumed (no copy: a
    // checkpoint of a large model is tens of MB).
    let saved = s.checkpoints.saved.take();
    // The step the class last saw, or the checkpoint's when it is newer (snapshots lag behind).
    let lost_at = s.step.max(saved.as_ref().map_or(0, Saved::step));
    s.backend = None;
    s.backend_b = None;
    s.error_seen = None;
    s.failed = true; // the loop waits for the new trainers
                     // A failed readback may have stopped training and shown the error box before the loss was
                     // known: the loss is handled here, so training goes on as before it.
    if s.gpu_failed {
        s.set_gpu_error(None);
        s.set_playing(true);
    }
    s.reading = false; // a trainer lent out belonged to the lost device; its job sees the new generation
    s.generation += 1;
    let generation = s.generation;
    let (cfg, cfg_b) = (s.cfg.clone(), s.cfg_b.clone());
    s.spawn(async move {
        let result = match saved {
            Some(saved) => resume(&cfg, cfg_b.as_ref(), &saved).await.map(|(a, b)| (a, b, saved)),
            None => Err("its progress had not been saved yet".to_string()),
        };
        Done { generation, kind: DoneKind::Resumed(Resumed { lost_at, result }) }
    });
}

/// The resumed runs are back (or could not be): train on from the checkpoint, or restart.
pub fn resumed(s: &mut Session, r: Resumed) {
    let lost_at = r.lost_at;
    let (a, b, saved) = match r.result {
        Ok(x) => x,
        Err(why) => {
            lesson::end(s);
            s.rebuild();
            s.set_notice(Some(format!(
                "The GPU stopped working at step {lost_at} (the browser or its driver reset it) and {why}: training \
                 restarted from the beginning."
            )));
            return;
        }
    };
    let step = saved.step();
    s.backend = Some(a);
    // Compare mode may have gone off meanwhile: run B is gone then.
    s.backend_b = b.filter(|_| s.cfg_b.is_some());
    // The knobs as they are now (changed since the checkpoint, or during the resume).
    s.send_live(Side::A);
    s.send_live(Side::B);
    let now = s.now();
    s.failed = false;
    s.reading = false;
    s.outstanding = 0;
    s.outstanding_b = 0;
    s.snap_step = step;
    s.snap_step_b = step;
    s.since_snapshot = 0;
    s.want_snapshot = true;
    s.last_progress = now;
    s.progress_b = now;
    s.recent.clear();
    s.map_step = None;
    s.checkpoints.reset(now);
    s.checkpoints.saved = Some(saved);
    s.emit(Event::Checkpoint(Some(step)));
    s.hist.retain(|x| x.step <= step as f32);
    s.hist_b.retain(|x| x.step <= step as f32);
    s.emit(Event::Rewind { step });
    s.step = step;
    s.emit(Event::Step(step));
    let again =
        if lost_at > step { format!("; steps {} to {lost_at} are trained again", step + 1) } else { String::new() };
    s.set_notice(Some(format!(
        "The GPU stopped working at step {lost_at} (the browser or its driver reset it). Training goes on from step \
         {step}, where its progress was last saved (every {} seconds){again}.",
        CHECKPOINT_MS / 1000.0
    )));
}

/// Both runs rebuilt from `s` on new devices (B only in compare mode, and only if it has a
/// checkpoint of the same step).
async fn resume(cfg: &Config, cfg_b: Option<&Config>, s: &Saved) -> Result<(Backend, Option<Backend>), String> {
    let open = |e: String| format!("a new GPU device could not be opened ({e})");
    let a = Upcycle::resume(cfg, s.a.0, &s.a.1).await.map_err(open)?;
    let b = match (cfg_b, &s.b) {
        (Some(cb), Some((dense, ck))) => Some(Upcycle::resume(cb, *dense, ck).await.map_err(open)?),
        (Some(_), None) => return Err("run B's progress had not been saved yet".into()),
        (None, _) => None,
    };
    Ok((Backend::Gpu(Box::new(a)), b.map(|b| Backend::Gpu(Box::new(b)))))
}
