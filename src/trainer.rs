//! One trainer interface, two backends: the WGSL trainer (`crate::gpu::GpuTrainer`) and the CPU
//! reference (`CpuTrainer`, also the fallback for browsers without WebGPU).
//!
//! The interface is built for a UI loop: `train(n)` runs or enqueues n steps without waiting,
//! `set_live` changes k, capacity factor, α, β, lr on the running model, `request_snapshot` closes
//! the current metrics window and `poll_snapshot` returns it once it is ready, never blocking.
use crate::config::{Config, ConfigError, LiveKnobs};
use crate::data::{Batch, Pool, CTX, PROBE};
use crate::metrics::{balance, Probe, Snapshot, NDOM};
use crate::model::adam::{adam_step, AdamHyper};
use crate::model::backward::backward;
use crate::model::forward::{forward, Forward};
use crate::model::routing::DROPPED;
use crate::model::{Dims, Params};
use serde::Serialize;

/// The routing of one training step, for `--trace`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Trace {
    pub step: u32,
    pub router_logits: Vec<Vec<f32>>, // [T][E]
    pub probs: Vec<Vec<f32>>,         // [T][E]
    pub topk: Vec<Vec<u32>>,          // [T][k]
    pub gates: Vec<Vec<f32>>,         // [T][k]
    pub dropped: Vec<Vec<bool>>,      // [T][k]
    pub counts: Vec<u32>,             // [E] choices before dropping
    pub kept: Vec<u32>,               // [E]
    pub capacity: u32,
    pub ce: f32,
    pub aux: f32,
    pub z: f32,
}

impl Trace {
    /// Build from flat buffers (`topk`, `gates`, `slot` are [T, kmax]).
    #[allow(clippy::too_many_arguments)]
    pub fn from_flat(
        step: u32,
        dims: Dims,
        logits: &[f32],
        probs: &[f32],
        topk: &[u32],
        gates: &[f32],
        slot: &[u32],
        counts: &[u32],
        kept: &[u32],
        capacity: u32,
        losses: [f32; 3],
    ) -> Trace {
        let (t, e, k, kk) = (dims.t, dims.e, dims.k, dims.kmax);
        let rows = |v: &[f32], w: usize| (0..t).map(|i| v[i * w..i * w + w].to_vec()).collect();
        Trace {
            step,
            router_logits: rows(logits, e),
            probs: rows(probs, e),
            topk: (0..t).map(|i| topk[i * kk..i * kk + k].to_vec()).collect(),
            gates: (0..t).map(|i| gates[i * kk..i * kk + k].to_vec()).collect(),
            dropped: (0..t).map(|i| slot[i * kk..i * kk + k].iter().map(|&s| s == DROPPED).collect()).collect(),
            counts: counts.to_vec(),
            kept: kept.to_vec(),
            capacity,
            ce: losses[0],
            aux: losses[1],
            z: losses[2],
        }
    }
}

/// What both backends offer a UI or the CLI.
pub trait Trainer {
    fn config(&self) -> &Config;
    /// "gpu: <adapter> (<backend>)" or "cpu reference".
    fn backend(&self) -> String;
    /// Change the live knobs; takes effect at the next step, trained weights stay.
    fn set_live(&mut self, live: LiveKnobs) -> Result<(), ConfigError>;
    /// Run (CPU) or enqueue (GPU) `n` training steps.
    fn train(&mut self, n: u32);
    /// Steps run or enqueued so far.
    fn steps(&self) -> u32;
    /// Close the metrics window; false if too many snapshots are still in flight.
    fn request_snapshot(&mut self) -> bool;
    /// A finished snapshot, oldest first, if one is ready. Never blocks.
    fn poll_snapshot(&mut self) -> Option<Snapshot>;
    /// Natively: wait for the oldest requested snapshot.
    #[cfg(not(target_arch = "wasm32"))]
    fn wait_snapshot(&mut self) -> Option<Snapshot>;
    /// Natively: the routing of the last training step (call before requesting a snapshot).
    #[cfg(not(target_arch = "wasm32"))]
    fn last_trace(&mut self) -> Trace;
}

/// Window accumulators, same layout as the GPU's win_u / win_f.
#[derive(Clone, Debug, Default)]
struct Window {
    steps: u32,
    dropped: u32,
    all_dropped: u32,
    ce: f32,
    aux: f32,
    z: f32,
    acc: f32,
    choices: Vec<u32>,
    kept: Vec<u32>,
    p_sum: Vec<f32>,
    dom: Vec<u32>, // [NDOM, E]
}

impl Window {
    /// An empty window for `e` experts.
    fn new(e: usize) -> Window {
        Window {
            choices: vec![0; e],
            kept: vec![0; e],
            p_sum: vec![0.0; e],
            dom: vec![0; NDOM * e],
            ..Default::default()
        }
    }
}

/// The CPU reference as a trainer.
pub struct CpuTrainer {
    cfg: Config,
    pool: Pool,
    params: Params<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    step: u32,
    updates: u32,
    skipped: u32,
    win: Window,
    ready: std::collections::VecDeque<Snapshot>,
    last: Option<(Batch, Forward<f32>)>,
}

impl CpuTrainer {
    pub fn new(cfg: &Config) -> Result<CpuTrainer, ConfigError> {
        cfg.validate()?;
        let dims = Dims::new(cfg);
        let params = Params::init(dims, cfg.seed);
        Ok(Self::with_params(cfg, params))
    }

    /// A trainer starting from given parameters (tests use random ones).
    pub fn with_params(cfg: &Config, params: Params<f32>) -> CpuTrainer {
        let n = params.layout.total;
        let e = cfg.experts;
        CpuTrainer {
            cfg: cfg.clone(),
            pool: Pool::new(cfg.dataset, cfg.seed),
            params,
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
            updates: 0,
            skipped: 0,
            win: Window::new(e),
            ready: Default::default(),
            last: None,
        }
    }

    pub fn params(&self) -> &Params<f32> {
        &self.params
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The batch of step `step`.
    pub fn batch(&self, step: u32) -> Batch {
        self.pool.batch(self.cfg.seed, step, self.cfg.tokens)
    }

    fn one_step(&mut self) {
        let b = self.batch(self.step);
        let fw = forward(&self.params, &b, self.cfg.capacity());
        let (alpha, beta) = (self.cfg.alpha, self.cfg.beta);
        let loss = fw.loss(alpha, beta);
        let bw = backward(&self.params, &b, &fw, alpha, beta);
        let hyper = AdamHyper {
            lr: self.cfg.lr,
            beta1: self.cfg.adam_beta1,
            beta2: self.cfg.adam_beta2,
            eps: self.cfg.adam_eps,
            clip: self.cfg.grad_clip,
        };
        let ok = adam_step(&mut self.params.w, &mut self.m, &mut self.v, &bw.grads, self.updates + 1, loss, hyper);
        self.step += 1;
        if ok {
            self.updates += 1;
        } else {
            self.skipped += 1;
        }
        self.accumulate(&b, &fw);
        self.last = Some((b, fw));
    }

    fn accumulate(&mut self, b: &Batch, fw: &Forward<f32>) {
        let (e, k, kk) = (self.cfg.experts, self.cfg.top_k, self.cfg.k_max());
        let w = &mut self.win;
        for i in 0..e {
            w.choices[i] += fw.assign.counts[i];
            w.kept[i] += fw.assign.kept[i];
            w.p_sum[i] += fw.p_mean[i];
        }
        for t in 0..b.len() {
            for r in 0..k {
                let d = (b.domains[t] as usize).min(NDOM - 1);
                w.dom[d * e + fw.topk[t * kk + r] as usize] += 1;
            }
        }
        w.steps += 1;
        w.dropped += fw.dropped;
        w.all_dropped += fw.all_dropped;
        w.ce += fw.ce;
        w.aux += fw.aux;
        w.z += fw.z;
        w.acc += fw.correct.iter().sum::<u32>() as f32 / b.len() as f32;
    }

    /// Held-out evaluation without training: mean CE per domain (and overall) over `batches` batches
    /// drawn from step indices no training run reaches. `experts_off` evaluates the same weights with
    /// every expert switched off (h = x): how much the trained model relies on its experts.
    pub fn evaluate(&self, batches: u32, experts_off: bool) -> (f32, Vec<f32>) {
        let cap = if experts_off { 0 } else { self.cfg.capacity() };
        let mut sum = [0.0f64; NDOM];
        let mut n = [0usize; NDOM];
        for i in 0..batches {
            let b = self.pool.batch(self.cfg.seed, u32::MAX - i, self.cfg.tokens);
            let fw = forward(&self.params, &b, cap);
            for t in 0..b.len() {
                let d = (b.domains[t] as usize).min(NDOM - 1);
                sum[d] += fw.ce_t[t] as f64;
                n[d] += 1;
            }
        }
        let all = sum.iter().sum::<f64>() / n.iter().sum::<usize>().max(1) as f64;
        (all as f32, (0..NDOM).map(|d| (sum[d] / n[d].max(1) as f64) as f32).collect())
    }

    /// Routing of the probe batch under the current weights and knobs.
    pub fn probe(&self) -> Probe {
        let b = self.pool.probe_batch();
        let cap = self.cfg.capacity_for(PROBE);
        let fw = forward(&self.params, &b, cap);
        probe_from(&self.params.dims, &b, &fw)
    }
}

/// The probe view of a forward pass over the probe batch.
pub fn probe_from(dims: &Dims, b: &Batch, fw: &Forward<f32>) -> Probe {
    let (rows, e, k, kk, v) = (b.len(), dims.e, dims.k, dims.kmax, dims.v);
    let pick = |t: usize, r: usize| t * kk + r;
    Probe {
        rows,
        experts: e,
        k,
        probs: fw.probs.clone(),
        topk: (0..rows).flat_map(|t| (0..k).map(move |r| (t, r))).map(|(t, r)| fw.topk[pick(t, r)]).collect(),
        gates: (0..rows).flat_map(|t| (0..k).map(move |r| (t, r))).map(|(t, r)| fw.gates[pick(t, r)]).collect(),
        dropped: (0..rows)
            .flat_map(|t| (0..k).map(move |r| (t, r)))
            .map(|(t, r)| fw.assign.slot[pick(t, r)] == DROPPED)
            .collect(),
        inputs: b.inputs[..rows * CTX].to_vec(),
        targets: b.targets.clone(),
        domains: b.domains.clone(),
        predicted: (0..rows).map(|t| argmax(&fw.out[t * v..(t + 1) * v])).collect(),
    }
}

/// Index of the largest value; ties to the lower index.
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

impl Trainer for CpuTrainer {
    fn config(&self) -> &Config {
        &self.cfg
    }
    fn backend(&self) -> String {
        "cpu reference".into()
    }
    fn set_live(&mut self, live: LiveKnobs) -> Result<(), ConfigError> {
        let next = self.cfg.with_live(live);
        next.validate()?;
        self.cfg = next;
        self.params.dims.k = live.top_k;
        Ok(())
    }
    fn train(&mut self, n: u32) {
        for _ in 0..n {
            self.one_step();
        }
    }
    fn steps(&self) -> u32 {
        self.step
    }
    fn request_snapshot(&mut self) -> bool {
        let w = std::mem::replace(&mut self.win, Window::new(self.cfg.experts));
        let sf = (w.steps as f32).max(1.0);
        let (entropy, cv, max_share, starved) = balance(&w.choices);
        let snap = Snapshot {
            step: self.step,
            steps: w.steps,
            updates: self.updates,
            skipped: self.skipped,
            ce: w.ce / sf,
            aux: w.aux / sf,
            z: w.z / sf,
            accuracy: w.acc / sf,
            k: self.cfg.top_k as u32,
            tokens: self.cfg.tokens as u32,
            capacity: self.cfg.capacity() as u32,
            p_mean: w.p_sum.iter().map(|p| p / sf).collect(),
            dropped: w.dropped,
            all_dropped: w.all_dropped,
            entropy,
            cv,
            max_share,
            starved,
            domain_expert: w.dom,
            choices: w.choices,
            kept: w.kept,
            probe: self.probe(),
        };
        self.ready.push_back(snap);
        true
    }
    fn poll_snapshot(&mut self) -> Option<Snapshot> {
        self.ready.pop_front()
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn wait_snapshot(&mut self) -> Option<Snapshot> {
        self.ready.pop_front()
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn last_trace(&mut self) -> Trace {
        let (b, fw) = self.last.as_ref().expect("last_trace before any step");
        let dims = Dims { t: b.len(), ..self.params.dims };
        Trace::from_flat(
            self.step,
            dims,
            &fw.logits,
            &fw.probs,
            &fw.topk,
            &fw.gates,
            &fw.assign.slot,
            &fw.assign.counts,
            &fw.assign.kept,
            fw.cap as u32,
            [fw.ce, fw.aux, fw.z],
        )
    }
}
