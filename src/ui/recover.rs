//! Surviving a lost GPU device (a driver reset, the browser restarting its GPU process, a laptop
//! switching GPUs): every few seconds the loop reads a checkpoint of each GPU run back (weights,
//! Adam's moments, counters; see [`crate::gpu::checkpoint`]) without stalling training. When a
//! device is lost, both runs are rebuilt on a new device from their last checkpoint, the history
//! after it is dropped (those steps are trained again, to the same numbers), and a notice says so;
//! with no checkpoint yet the run restarts from the seed, saying that instead.
use super::{now_ms, rebuild, send_live, Backend, Engine, Ui};
use crate::config::Config;
use crate::gpu::Checkpoint;
use crate::trainer::Trainer;
use crate::upcycle::Upcycle;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

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
        mark(None);
    }
}

/// The latest checkpoint's step as `data-checkpoint` on the page's root element (end-to-end tests
/// wait for it before they destroy the device).
fn mark(step: Option<u32>) {
    super::web::set_root_data("data-checkpoint", step.map(|s| s.to_string()));
}

impl Backend {
    /// Its GPU device was lost.
    pub(super) fn lost(&self) -> bool {
        matches!(self, Backend::Gpu(g) if g.inner().lost())
    }
}

/// Once per frame on a GPU run: collect arrived checkpoints, and ask for the next pair when due
/// (only when training has moved on since the last one). In compare mode only a pair of A and B at
/// the same step is kept; a request that vanished (the upcycling switch consumed its trainer,
/// compare mode went off, the readback failed) is forgotten, so the next one is asked in time.
pub(super) fn tend(e: &mut Engine, ui: Ui, t: f64) {
    if e.reading {
        return; // a trainer is lent out (region map, upcycling switch)
    }
    let with_b = ui.cfg_b.with_untracked(Option::is_some);
    let ck = &mut e.checkpoints;
    let Some(Backend::Gpu(a)) = e.backend.as_mut() else { return };
    if let Some(c) = a.poll_checkpoint() {
        ck.got_a = Some(c);
    }
    let mut b = match e.backend_b.as_mut() {
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
                mark(Some(a.1.step));
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
}

/// Run A's or B's device was lost: rebuild both runs on a new device from the last checkpoint
/// pair, or restart from the seed without one; the notice says which, and from which step.
pub(super) fn recover(engine: &Rc<RefCell<Engine>>, e: &mut Engine, ui: Ui) {
    // The saved pair moves into the task and back into the engine once resumed (no copy: a
    // checkpoint of a large model is tens of MB).
    let saved = e.checkpoints.saved.take();
    // The step the class last saw, or the checkpoint's when it is newer (snapshots lag behind).
    let lost_at = ui.step.get_untracked().max(saved.as_ref().map_or(0, Saved::step));
    e.backend = None;
    e.backend_b = None;
    e.error_seen = None;
    e.failed = true; // the loop waits for the new trainers
                     // A failed readback may have stopped training and shown the error box before the loss was
                     // known: the loss is handled here, so training goes on as before it.
    if ui.gpu_error.get_untracked().is_some() {
        ui.gpu_error.set(None);
        ui.playing.set(true);
    }
    e.reading = false; // a trainer lent out belonged to the lost device; its task sees the new generation
    e.generation += 1;
    let generation = e.generation;
    let engine = engine.clone();
    leptos::task::spawn_local(async move {
        let resumed = match saved {
            Some(s) => {
                resume(&ui.cfg.get_untracked(), ui.cfg_b.get_untracked().as_ref(), &s).await.map(|(a, b)| (a, b, s))
            }
            None => Err("its progress had not been saved yet".to_string()),
        };
        let (mut a, b, s) = match resumed {
            Ok(r) => r,
            Err(why) => {
                if engine.borrow().generation == generation {
                    super::lesson::end(&engine, ui);
                    rebuild(engine, ui);
                    ui.notice.set(Some(format!(
                        "The GPU stopped working at step {lost_at} (the browser or its driver reset it) and {why}: \
                         training restarted from the beginning."
                    )));
                }
                return;
            }
        };
        let mut eng = engine.borrow_mut();
        if eng.generation != generation {
            return; // the user restarted meanwhile
        }
        let step = s.step();
        // The knobs as they are now (changed since the checkpoint, or during the resume).
        send_live(Some(&mut a), &ui.cfg.get_untracked(), ui);
        // Compare mode may have gone off meanwhile: run B is gone then.
        let mut b = b.filter(|_| ui.cfg_b.with_untracked(Option::is_some));
        if let Some(cb) = ui.cfg_b.get_untracked() {
            send_live(b.as_mut(), &cb, ui);
        }
        let now = now_ms();
        eng.backend = Some(a);
        eng.backend_b = b;
        eng.failed = false;
        eng.reading = false;
        eng.outstanding = 0;
        eng.outstanding_b = 0;
        eng.snap_step = step;
        eng.snap_step_b = step;
        eng.since_snapshot = 0;
        eng.want_snapshot = true;
        eng.last_progress = now;
        eng.progress_b = now;
        eng.recent.clear();
        eng.map_step = None;
        eng.checkpoints.reset(now);
        mark(Some(step));
        eng.checkpoints.saved = Some(s);
        drop(eng);
        let keep = |h: &mut Vec<crate::page::Hist>| h.retain(|x| x.step <= step as f32);
        ui.hist.update(keep);
        ui.hist_b.update(keep);
        ui.events.update(|ev| {
            ev.retain(|(at, _)| *at <= step as f32);
            ev.push((step as f32, "GPU reset".into()));
        });
        ui.step.set(step);
        let again =
            if lost_at > step { format!("; steps {} to {lost_at} are trained again", step + 1) } else { String::new() };
        ui.notice.set(Some(format!(
            "The GPU stopped working at step {lost_at} (the browser or its driver reset it). Training goes on \
             from step {step}, where its progress was last saved (every {} seconds){again}.",
            CHECKPOINT_MS / 1000.0
        )));
    });
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
