//! The session's loop: one tick trains a few steps (paced to the frame budget and the GPU's
//! backlog, stopping at a lesson's beat and the end of its metrics window), asks for and collects
//! snapshots, and watches for GPU errors, stalls and lost devices.
use super::{
    lesson, recover, Backend, Event, Session, Side, BACKLOG_S, LESSON_WINDOW, LOST_GRACE_MS, RATE_WINDOW_MS,
    SNAPSHOT_EVERY, STALL_MS,
};
use crate::config::Dataset;
use crate::metrics::Snapshot;
use crate::page::{bench_json, Hist};

impl Session {
    // --- the loop -------------------------------------------------------------------------------

    /// One frame: train, request and poll snapshots, checkpoints, lend trainers to due jobs.
    pub fn tick(&mut self) {
        let t = self.now();
        if let Some(b) = self.bench.as_mut() {
            if b.started.is_some() && !b.done {
                if let Some(last) = b.last_frame {
                    b.frames.push(t - last);
                }
                b.last_frame = Some(t);
            }
        }
        if let Some(err) = self.backend_b.as_mut().and_then(Backend::apart_error) {
            self.apart_failed(err);
        }
        // A lost device is recovered from even after its failed readbacks stopped training: they
        // often arrive a moment before the device's "lost" signal.
        if self.backend.as_ref().is_some_and(Backend::lost) || self.backend_b.as_ref().is_some_and(Backend::lost) {
            recover::recover(self);
        } else if !self.failed && self.backend.is_some() {
            let simulated = (self.simulate_gpu_error && self.step > 0).then(|| {
                self.simulate_gpu_error = false;
                "a simulated device error (debug=gpu-error)".to_string()
            });
            let err_b = self.backend_b.as_ref().and_then(Backend::error).map(|m| format!("run B: {m}"));
            let is_simulated = simulated.is_some();
            if let Some(err) = simulated.or_else(|| self.backend.as_ref().and_then(Backend::error)).or(err_b) {
                // Give a device loss behind the error a moment to show itself before saying so.
                let since = *self.error_seen.get_or_insert(t);
                if is_simulated || t - since >= LOST_GRACE_MS {
                    self.failed = true;
                    self.set_playing(false);
                    self.set_gpu_error(Some(format!(
                        "The GPU reported an error and training stopped: {err}. Restart rebuilds the trainer (from \
                         the seed; the weights so far are lost)."
                    )));
                }
            } else {
                self.train_frame(t);
                recover::tend(self, t);
            }
        }
        if !self.failed && !self.reading {
            if self.backend.as_ref().is_some_and(Backend::switch_due) {
                self.start_switch(Side::A);
            } else if self.backend_b.as_ref().is_some_and(Backend::switch_due) {
                self.start_switch(Side::B);
            }
        }
        if !self.failed && !self.reading && self.bench.as_ref().is_some_and(|b| b.result.is_some()) {
            self.profile_kernels();
        }
        let regions = self.cfg.dataset == Dataset::Regions;
        if regions
            && !self.failed
            && !self.reading
            && self.backend.is_some()
            && t >= self.map_due
            && self.map_step != Some(self.step)
        {
            self.refresh_map(t);
        }
        // A beat's end can only change with the histories: check it once per new snapshot.
        if std::mem::take(&mut self.unchecked) {
            lesson::check(self);
        }
    }

    /// Steps to train this frame (the trainers are present and healthy).
    pub(super) fn steps_now(&mut self, t: f64) -> u32 {
        let gpu = self.backend.as_ref().is_some_and(Backend::is_gpu);
        let room =
            self.backend.as_mut().map_or(0, Backend::room).min(self.backend_b.as_mut().map_or(u32::MAX, Backend::room));
        let steps = self.backend.as_mut().map_or(0, |b| b.trainer().steps());
        let dt = (t - self.last_frame).clamp(0.0, 100.0);
        self.last_frame = t;
        if !(self.playing || self.step_once) || self.want_snapshot {
            // A snapshot of the runs as they are comes first (the routing of a new run, shown
            // while paused): windows then start at a run's first step, as a headless run's do.
            return 0;
        }
        let paced = self.opts.paced;
        let waiting = self.outstanding > 0 || self.outstanding_b > 0 || self.want_snapshot_b;
        if (!paced || lesson::gated(self)) && waiting {
            // Headless, and in a lesson's beat that may end on its condition, every window's
            // snapshots are in before the next window trains: the condition is read at the window
            // it first holds, and training stops there (a GPU's snapshots come later).
            return 0;
        }
        let mut n = if self.step_once {
            1
        } else if paced {
            self.steps_per_frame
        } else {
            LESSON_WINDOW
        };
        if self.speed > 0 && !self.step_once {
            // A speed limit (to watch individual steps): owe limit·dt steps, train the whole ones.
            let limit = self.speed as f64;
            self.speed_budget = (self.speed_budget + limit * dt / 1000.0).min(limit);
            n = n.min(self.speed_budget.floor() as u32);
            self.speed_budget -= n as f64;
        }
        // Both runs stop at an upcycling switch together, and at the end of a lesson's beat.
        n = n.min(room);
        if let Some(stop) = self.stop_at {
            // In a lesson: not past the beat's end, nor past the end of the metrics window (the
            // checks read windows of exactly LESSON_WINDOW steps; training waits while that
            // window's snapshot cannot be asked yet).
            n = n.min(stop.saturating_sub(steps)).min(LESSON_WINDOW.saturating_sub(self.since_snapshot));
        }
        if gpu && paced {
            // Keep about a second of work queued on the GPU, so snapshots (and with them knob
            // changes, readbacks and restarts) stay timely on slow GPUs; B counts as much as A.
            // In a lesson the backlog must hold a window in flight and the next one being trained.
            let floor = if self.stop_at.is_some() { 2 * LESSON_WINDOW } else { 8 };
            let allowed =
                if self.rate > 0.0 { (self.rate * BACKLOG_S).clamp(8.0, 4096.0) as u32 } else { 64 }.max(floor);
            let steps_b = self.backend_b.as_mut().map(|b| b.trainer().steps());
            let behind_b = steps_b.map_or(0, |s| s.saturating_sub(self.snap_step_b));
            n = n.min(allowed.saturating_sub(steps.saturating_sub(self.snap_step).max(behind_b)));
        }
        if let Some(b) = self.bench.as_mut() {
            if b.started.is_none() {
                b.started = Some(t);
                b.last_frame = Some(t);
            }
            n = n.min(b.target.saturating_sub(steps));
        }
        n
    }

    /// The training part of a frame. In compare mode run B trains the same steps in the same
    /// frame and is asked for its snapshot with A's.
    pub(super) fn train_frame(&mut self, t: f64) {
        // Lockstep: while run B is away (being built, or lent to its upcycling switch), A waits.
        if self.backend.is_none() || (self.cfg_b.is_some() && self.backend_b.is_none()) {
            return;
        }
        let gpu = self.backend.as_ref().is_some_and(Backend::is_gpu);
        let n = self.steps_now(t);
        if n > 0 {
            // Run B apart is sent its steps first, so that it trains them while A does.
            let apart = matches!(self.backend_b, Some(Backend::Apart(_)));
            if let Some(b) = self.backend_b.as_mut().filter(|_| apart) {
                b.trainer().train(n);
            }
            let t0 = self.now();
            if let Some(a) = self.backend.as_mut() {
                a.trainer().train(n);
            }
            if let Some(b) = self.backend_b.as_mut().filter(|_| !apart) {
                b.trainer().train(n);
            }
            // Headless, run B apart has trained them too before the next window.
            #[cfg(not(target_arch = "wasm32"))]
            if let Some(b) = self.backend_b.as_mut().filter(|_| apart && !self.opts.paced) {
                b.trainer().finish();
            }
            if !gpu {
                let per = (self.now() - t0) / n as f64;
                self.steps_per_frame = ((self.opts.cpu_budget_ms / per.max(0.1)) as u32).clamp(1, 64);
            }
            self.since_snapshot += n;
        }
        if self.step_once {
            self.step_once = false;
            self.frame = SNAPSHOT_EVERY - 1;
        }
        self.frame += 1;
        self.request_snapshots(t, gpu);
        self.collect_snapshots(t);
        let note = self.backend.as_ref().and_then(|b| b.phase_note(self.step));
        self.set_phase(note);
        let stalled = |outstanding: u32, since: f64| outstanding > 0 && t - since > STALL_MS;
        if gpu && (stalled(self.outstanding, self.last_progress) || stalled(self.outstanding_b, self.progress_b)) {
            self.failed = true;
            self.set_playing(false);
            self.set_gpu_error(Some(format!(
                "The GPU has not returned any results for {} s: the device may have been lost (a driver reset, a \
                 long time in a background tab) or be overloaded. Restart rebuilds the trainer.",
                STALL_MS / 1000.0
            )));
        }
    }

    /// Ask for a snapshot when one is due (in a lesson: every LESSON_WINDOW steps exactly and at
    /// the beat's end; else every few frames), and run B's with A's.
    pub(super) fn request_snapshots(&mut self, t: f64, gpu: bool) {
        let Some(tr) = self.backend.as_mut().map(Backend::trainer) else { return };
        let steps = tr.steps();
        let bench_end = self.bench.as_ref().is_some_and(|b| !b.final_requested && steps >= b.target);
        let lesson_due = self.since_snapshot >= LESSON_WINDOW || Some(steps) == self.stop_at;
        let due = if self.stop_at.is_some() {
            lesson_due
        } else {
            !self.opts.paced || self.frame.is_multiple_of(SNAPSHOT_EVERY) || bench_end
        };
        if (self.since_snapshot > 0 && due) || self.want_snapshot {
            if tr.request_snapshot() {
                self.since_snapshot = 0;
                self.want_snapshot = false;
                if self.outstanding == 0 {
                    self.last_progress = t;
                }
                self.outstanding += 1;
                if let Some(b) = self.bench.as_mut() {
                    b.final_requested |= steps >= b.target;
                }
                if gpu {
                    self.steps_per_frame = (self.steps_per_frame + 1).min(32);
                }
                self.want_snapshot_b = self.backend_b.is_some();
            } else if gpu {
                // Snapshots are backing up: the GPU is behind, encode less per frame.
                self.steps_per_frame = (self.steps_per_frame / 2).max(1);
            }
        }
        // Run B closes its window with A's; while its snapshot slots are busy it asks again each
        // tick (a lesson's beat ends only when both runs have shown its last step).
        if self.want_snapshot_b && self.backend_b.as_mut().is_some_and(|b| b.trainer().request_snapshot()) {
            self.want_snapshot_b = false;
            if self.outstanding_b == 0 {
                self.progress_b = t;
            }
            self.outstanding_b += 1;
        }
    }

    /// Run A's or B's next finished snapshot. Headless (natively, unpaced) it waits for one that
    /// was asked for, so a window's snapshots are in before the next window trains; the page never
    /// waits.
    fn next_snapshot(&mut self, side: Side) -> Option<Snapshot> {
        let (backend, outstanding) = match side {
            Side::B => (self.backend_b.as_mut(), self.outstanding_b),
            _ => (self.backend.as_mut(), self.outstanding),
        };
        let tr = backend?.trainer();
        #[cfg(not(target_arch = "wasm32"))]
        if !self.opts.paced && outstanding > 0 {
            return tr.wait_snapshot();
        }
        let _ = outstanding;
        tr.poll_snapshot()
    }

    pub(super) fn collect_snapshots(&mut self, t: f64) {
        while let Some(s) = self.next_snapshot(Side::A) {
            self.outstanding = self.outstanding.saturating_sub(1);
            self.last_progress = t;
            // Speed over the last few seconds of snapshots (they arrive in bursts).
            self.recent.push_back((t, s.step));
            while self.recent.len() > 2 && t - self.recent[0].0 > RATE_WINDOW_MS {
                self.recent.pop_front();
            }
            if let (Some(&(t0, s0)), Some(&(t1, s1))) = (self.recent.front(), self.recent.back()) {
                if t1 > t0 && s1 > s0 {
                    self.rate = (s1 - s0) as f64 / (t1 - t0) * 1000.0;
                    self.emit(Event::Rate(self.rate as f32));
                }
            }
            self.snap_step = s.step;
            self.step = s.step;
            self.emit(Event::Step(s.step));
            self.bench_progress(&s, t);
            self.receive(Side::A, s);
        }
        if let Some(Backend::Apart(b)) = self.backend_b.as_mut() {
            if let Some(at) = b.take_switched() {
                self.emit(Event::Mark { at: at as f32, label: "B upcycled".into() });
            }
        }
        while let Some(s) = self.next_snapshot(Side::B) {
            self.outstanding_b = self.outstanding_b.saturating_sub(1);
            self.progress_b = t;
            self.snap_step_b = s.step;
            self.receive(Side::B, s);
        }
    }

    /// Run B's trainer apart stopped (its worker crashed or could not start): both runs restart
    /// from the seed with B beside A, and the notice says so.
    fn apart_failed(&mut self, err: String) {
        self.link = None;
        self.opts.apart = None;
        self.rebuild();
        self.add_notice(format!(
            "Run B's own worker stopped ({err}), so both runs restarted from the seed and now train one after the \
             other on one thread."
        ));
    }

    pub(super) fn bench_progress(&mut self, s: &Snapshot, t: f64) {
        let Some(b) = self.bench.as_mut() else { return };
        if b.done {
            return;
        }
        let line = format!("{} / {} steps", s.step.min(b.target), b.target);
        let mut finished = false;
        if b.final_requested && s.step >= b.target {
            b.done = true;
            let (backend, tokens) = self
                .backend
                .as_mut()
                .map(|be| (be.trainer().backend(), be.trainer().config().tokens))
                .unwrap_or_default();
            let seconds = (t - b.started.unwrap_or(t)) / 1000.0;
            b.result = Some(bench_json(&backend, b.target, seconds, &b.frames, tokens));
            finished = true;
        }
        self.emit(Event::BenchProgress(line));
        if finished {
            self.set_playing(false);
        }
    }

    /// A snapshot of run A or B arrived: stop on divergence (saying which run and its learning
    /// rate), add it to that run's history and pass it on.
    pub(super) fn receive(&mut self, side: Side, s: Snapshot) {
        self.unchecked = true;
        if s.diverged() {
            let who = match (side, self.cfg_b.is_some()) {
                (Side::B, _) => "Run B",
                (_, true) => "Run A",
                _ => "Training",
            };
            let lr = if side == Side::B { self.cfg_b.as_ref().map_or(self.cfg.lr, |c| c.lr) } else { self.cfg.lr };
            self.set_playing(false);
            self.emit(Event::Error(Some(format!(
                "{who} diverged at step {}: the loss or a gradient became NaN/∞, so those steps were skipped and the \
                 last finite weights kept. Lower the learning rate (now {lr}) and press play.",
                s.step
            ))));
        }
        if s.steps > 0 {
            let h = if side == Side::B { &mut self.hist_b } else { &mut self.hist };
            crate::page::push_history(h, Hist::of(&s));
        }
        self.emit(Event::Snapshot { side, snap: Box::new(s) });
    }
}
