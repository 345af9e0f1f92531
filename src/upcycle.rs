//! Sparse upcycling (Komatsuzaki et al. 2022): train a dense model first, then copy its
//! feed-forward network into every expert of the MoE and train on as the MoE.
//!
//! With `init = upcycle` the run has two phases on one step counter:
//! 1. **dense warm-up**, steps 1..=`dense_steps`: the model [`Config::dense_phase`] (one expert of
//!    the MoE's width H, always used: k = 1, cf = ∞, α = β = 0), same seed, data and optimiser;
//! 2. **MoE**, from step `dense_steps + 1` on: the MoE's weights from [`upcycle_params`] (the
//!    embeddings / input layer and the head copied, each expert's w1, b1, w2, b2 = the dense
//!    expert's, the router `wr` as `Params::init` draws it for the MoE with the same seed, `wn`
//!    zero), a fresh optimiser (zero Adam moments, bias correction from its first update), and the
//!    batch stream and held-out schedule continuing at step `dense_steps` (the MoE sees the batches
//!    of steps `dense_steps + 1`, … — not the dense phase's again).
//!
//! [`Upcycle`] is a [`Trainer`] that owns the current phase's trainer. Natively `train` switches
//! by itself when it reaches the end of the dense phase. In the browser the GPU readback of the
//! dense weights is asynchronous, so `train` stops at the end of the dense phase and the page
//! calls [`Upcycle::switch`] (an async function that consumes the wrapper and returns it in the MoE
//! phase) once [`Upcycle::switch_due`] says so. With `init = scratch` the wrapper is the MoE
//! trainer and nothing else.
use crate::config::{Config, ConfigError, Init, LiveKnobs};
use crate::gpu::{Checkpoint, GpuTrainer};
use crate::metrics::Snapshot;
use crate::model::{Dims, Params};
#[cfg(not(target_arch = "wasm32"))]
use crate::trainer::Trace;
use crate::trainer::{CpuTrainer, Trainer};
use std::collections::VecDeque;
use std::future::Future;

/// The MoE's initial weights for `moe` (validated, resolved) from the dense warm-up's `dense`
/// (same d and H, one expert): embeddings / input layer and head copied, every expert's (routed and
/// shared) w1, b1, w2, b2 = the dense expert's, the router `wr` as `Params::init` draws it for the MoE (same seed),
/// `wn` zero.
pub fn upcycle_params(dense: &Params<f32>, moe: &Config) -> Params<f32> {
    let mut p = Params::<f32>::init(Dims::new(moe), moe.seed);
    let (dd, m) = (dense.dims, p.dims);
    assert!(dd.e == 1 && dd.h == m.h && dd.d == m.d && dd.v == m.v, "dense {dd:?} cannot be upcycled to {m:?}");
    let (s, l) = (&dense.layout, p.layout.clone());
    for (src, dst) in [(&s.emb, &l.emb), (&s.w_in, &l.w_in), (&s.b_in, &l.b_in), (&s.wo, &l.wo), (&s.bo, &l.bo)] {
        p.w[dst.clone()].copy_from_slice(&dense.w[src.clone()]);
    }
    for (src, dst) in [(&s.w1, &l.w1), (&s.b1, &l.b1), (&s.w2, &l.w2), (&s.b2, &l.b2)] {
        let n = src.len();
        for e in 0..m.n_experts() {
            p.w[dst.start + e * n..dst.start + (e + 1) * n].copy_from_slice(&dense.w[src.clone()]);
        }
    }
    p.w[l.wn.clone()].fill(0.0);
    p
}

/// A trainer that can build the MoE from its own (dense) weights: the phase switch.
pub trait Upcyclable: Trainer + Sized {
    /// The trainer for `moe` (validated, resolved) from [`upcycle_params`] of this trainer's
    /// weights, continuing at this trainer's step with a fresh optimiser; with the snapshots this
    /// trainer still had in flight (its last window is closed first, so no step goes unreported).
    fn upcycle(self, moe: &Config) -> impl Future<Output = Result<(Self, Vec<Snapshot>), String>>;
}

impl Upcyclable for CpuTrainer {
    async fn upcycle(mut self, moe: &Config) -> Result<(Self, Vec<Snapshot>), String> {
        self.request_snapshot();
        let carried = std::iter::from_fn(|| self.poll_snapshot()).collect();
        let mut t = CpuTrainer::with_params(moe, upcycle_params(self.params(), moe));
        t.start_at(self.steps());
        Ok((t, carried))
    }
}

impl Upcyclable for GpuTrainer {
    async fn upcycle(mut self, moe: &Config) -> Result<(Self, Vec<Snapshot>), String> {
        let step = self.steps();
        self.request_snapshot();
        // Submitted after every step and snapshot: when it arrives they are done.
        let dense = self.read_params().await.ok_or("reading the dense model's weights back from the GPU failed")?;
        let mut carried = Vec::new();
        // The snapshots' own mappings resolve about now; give them a few more round trips.
        for _ in 0..8 {
            carried.extend(std::iter::from_fn(|| self.poll_snapshot()));
            if !self.snapshots_pending() {
                break;
            }
            self.read_bytes(crate::gpu::Buf::Gnorm).await;
        }
        if let Some(e) = self.error() {
            return Err(e);
        }
        let mut t = self.rebuild_with(moe, &upcycle_params(&dense, moe));
        t.start_at(step);
        Ok((t, carried))
    }
}

/// The trainer of a run with its `init`: the MoE from scratch, or a dense warm-up that becomes
/// the MoE (see the module docs). `config()` is always the MoE's config (the page's and the CLI's).
pub struct Upcycle<T> {
    cfg: Config,
    /// The current phase's trainer (None only while the switch consumes it).
    tr: Option<T>,
    /// In the dense warm-up.
    dense: bool,
    /// Snapshots of the dense phase still to hand out after the switch.
    carried: VecDeque<Snapshot>,
}

impl Upcycle<CpuTrainer> {
    /// The CPU reference's trainer for `cfg`.
    pub fn cpu(cfg: &Config) -> Result<Upcycle<CpuTrainer>, ConfigError> {
        cfg.validate()?;
        let first = if cfg.init == Init::Upcycle { cfg.dense_phase() } else { cfg.clone() };
        Ok(Self::wrap(cfg, CpuTrainer::new(&first)?))
    }
}

impl Upcycle<GpuTrainer> {
    /// The WGSL trainer for `cfg` (opens the best adapter).
    pub async fn gpu(cfg: &Config) -> Result<Upcycle<GpuTrainer>, String> {
        cfg.validate().map_err(|e| e.to_string())?;
        let first = if cfg.init == Init::Upcycle { cfg.dense_phase() } else { cfg.clone() };
        Ok(Self::wrap(cfg, GpuTrainer::new(&first).await?))
    }

    /// Start a checkpoint of the current phase's trainer ([`GpuTrainer::request_checkpoint`]);
    /// false while one is on its way or the trainer is lent to the switch.
    pub fn request_checkpoint(&mut self) -> bool {
        self.tr.as_mut().is_some_and(GpuTrainer::request_checkpoint)
    }

    /// A checkpoint was requested of the current phase's trainer and not collected yet (false
    /// while the trainer is lent to the switch, which drops a request in flight).
    pub fn checkpoint_pending(&self) -> bool {
        self.tr.as_ref().is_some_and(GpuTrainer::checkpoint_pending)
    }

    /// The requested checkpoint, with the phase it was taken in (true: the dense warm-up).
    pub fn poll_checkpoint(&mut self) -> Option<(bool, Checkpoint)> {
        let dense = self.dense;
        self.tr.as_mut()?.poll_checkpoint().map(|ck| (dense, ck))
    }

    /// Time each kernel of the current phase's step ([`GpuTrainer::profile`]).
    pub async fn profile(&mut self, steps: u32, now: &dyn Fn() -> f64) -> crate::gpu::KernelProfile {
        self.inner_mut().profile(steps, now).await
    }

    /// Natively: wait for the requested checkpoint (with its phase).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_checkpoint(&mut self) -> Option<(bool, Checkpoint)> {
        let dense = self.dense;
        self.tr.as_mut()?.wait_checkpoint().map(|ck| (dense, ck))
    }

    /// The run of `cfg` going on from `ck`, taken in the dense warm-up if `dense`, on a new device.
    pub async fn resume(cfg: &Config, dense: bool, ck: &Checkpoint) -> Result<Upcycle<GpuTrainer>, String> {
        let mut run = Self::wrap(cfg, GpuTrainer::resume(ck).await?);
        run.dense = dense && cfg.init == Init::Upcycle;
        Ok(run)
    }
}

impl<T: Upcyclable> Upcycle<T> {
    /// Wrap `tr`, the trainer of `cfg` (validated) or of its dense warm-up when `cfg.init` is
    /// upcycle.
    fn wrap(cfg: &Config, tr: T) -> Upcycle<T> {
        Upcycle { cfg: cfg.resolved(), tr: Some(tr), dense: cfg.init == Init::Upcycle, carried: VecDeque::new() }
    }

    /// The trainer of the current phase.
    pub fn inner(&self) -> &T {
        self.tr.as_ref().expect("the trainer is only taken during the switch")
    }

    fn inner_mut(&mut self) -> &mut T {
        self.tr.as_mut().expect("the trainer is only taken during the switch")
    }

    /// In the dense warm-up.
    pub fn is_dense(&self) -> bool {
        self.dense
    }

    /// The dense phase is over (its last step was trained): time for [`Upcycle::switch`].
    pub fn switch_due(&self) -> bool {
        self.dense && self.inner().steps() >= self.cfg.dense_steps
    }

    /// Leave the dense phase: build the MoE from the dense weights (see the module docs). Does
    /// nothing in the MoE phase.
    pub async fn switch(mut self) -> Result<Upcycle<T>, String> {
        if self.dense {
            let tr = self.tr.take().expect("the trainer is only taken during the switch");
            let (tr, carried) = tr.upcycle(&self.cfg).await?;
            self.carried.extend(carried);
            self.tr = Some(tr);
            self.dense = false;
        }
        Ok(self)
    }

    /// What the page says about the phase at step `step` of the run (None from scratch).
    pub fn phase_note(&self, step: u32) -> Option<String> {
        let (n, e) = (self.cfg.dense_steps, self.cfg.experts);
        match (self.cfg.init, self.dense) {
            (Init::Scratch, _) => None,
            (Init::Upcycle, true) => {
                Some(format!("dense warm-up: step {} of {n}, then copied into the {e} experts", step.min(n)))
            }
            (Init::Upcycle, false) => Some(format!(
                "upcycled at step {n}: the dense network was copied into the {e} experts, with a fresh router \
                 and optimiser; the expert similarity chart shows how fast the copies grow apart"
            )),
        }
    }
}

impl<T: Upcyclable> Trainer for Upcycle<T> {
    fn config(&self) -> &Config {
        &self.cfg
    }
    fn backend(&self) -> String {
        self.inner().backend()
    }
    /// In the dense phase only lr, clipping, the ablation and `eval_every` reach the dense model
    /// (its routing is fixed); the MoE starts with all of them.
    fn set_live(&mut self, live: LiveKnobs) -> Result<(), ConfigError> {
        let next = self.cfg.with_live(live);
        next.validate()?;
        self.inner_mut().set_live(live)?;
        self.cfg = next;
        Ok(())
    }
    /// In the dense phase: up to its last step. Natively the rest of the `n` steps follow as the
    /// MoE (the switch waits for the readback); in the browser they are left to the page, which
    /// awaits [`Upcycle::switch`] first.
    fn train(&mut self, n: u32) {
        let mut n = n;
        if self.dense {
            let m = n.min(self.cfg.dense_steps.saturating_sub(self.inner().steps()));
            self.inner_mut().train(m);
            n -= m;
            if n == 0 {
                return;
            }
            #[cfg(target_arch = "wasm32")]
            return;
            #[cfg(not(target_arch = "wasm32"))]
            {
                let tr = self.tr.take().expect("the trainer is only taken during the switch");
                let (tr, carried) =
                    pollster::block_on(tr.upcycle(&self.cfg)).unwrap_or_else(|e| panic!("upcycling failed: {e}"));
                self.carried.extend(carried);
                self.tr = Some(tr);
                self.dense = false;
            }
        }
        self.inner_mut().train(n);
    }
    fn steps(&self) -> u32 {
        self.inner().steps()
    }
    fn eval_now(&mut self) {
        self.inner_mut().eval_now();
    }
    fn request_snapshot(&mut self) -> bool {
        self.inner_mut().request_snapshot()
    }
    fn poll_snapshot(&mut self) -> Option<Snapshot> {
        self.carried.pop_front().or_else(|| self.inner_mut().poll_snapshot())
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn wait_snapshot(&mut self) -> Option<Snapshot> {
        self.carried.pop_front().or_else(|| self.inner_mut().wait_snapshot())
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn finish(&mut self) {
        self.inner_mut().finish()
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn last_trace(&mut self) -> Trace {
        self.inner_mut().last_trace()
    }
}
