//! One trainer interface, two backends: the WGSL trainer (`GpuTrainer` in src/gpu/trainer.rs) and
//! the CPU reference (`CpuTrainer`, also the fallback for browsers without WebGPU).
//!
//! The interface is built for a UI loop: `train(n)` runs or enqueues n steps without waiting,
//! `set_live` changes k, capacity factor, α, β, lr on the running model, `request_snapshot` closes
//! the current metrics window and `poll_snapshot` returns it once it is ready, never blocking.
use crate::config::{Config, ConfigError, LiveKnobs};
use crate::data::{Batch, Pool, CTX, EVAL_N, PROBE};
use crate::metrics::{balance, Probe, Snapshot, NDOM};
use crate::model::adam::{adam_step, AdamHyper};
use crate::model::backward::backward;
use crate::model::forward::{forward_routed, Forward, Routing};
use crate::model::routers;
use crate::model::routing::{self, RANDOM};
use crate::model::{Dims, Params};
use serde::Serialize;

/// The routing of one training step, for `--trace`.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
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
    /// The router's name.
    pub router: String,
    /// [T][E] what the top-k chose on (probabilities, logits plus bias, hash marks).
    pub scores: Vec<Vec<f32>>,
    /// [E] the router's bias before the step, for routers that keep one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<Vec<f32>>,
    /// [T] the input token id the hash router reads (tokens data set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ids: Option<Vec<u32>>,
    /// [T][k] `kept`, `capacity` or `random`.
    pub drop_reason: Vec<Vec<&'static str>>,
}

/// The router-specific part of a trace: router, scores [T, E], the router words [T, 2], the bias.
pub struct TraceRouting<'a> {
    pub router: crate::config::RouterKind,
    pub scores: &'a [f32],
    pub keys: &'a [u32],
    pub bias: &'a [f32],
}

impl Trace {
    /// Build from flat buffers (`topk`, `gates`, `slot` are [T, kmax]); `dims.k` must be the k the
    /// step ran with.
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
        rt: TraceRouting,
    ) -> Trace {
        let (t, e, k, kk) = (dims.t, dims.e, dims.k, dims.kmax);
        let rows = |v: &[f32], w: usize| (0..t).map(|i| v[i * w..i * w + w].to_vec()).collect();
        Trace {
            router: rt.router.name().to_string(),
            scores: rows(rt.scores, e),
            bias: rt.router.info().has_bias.then(|| rt.bias[..e].to_vec()),
            token_ids: dims.tokens.then(|| (0..t).map(|i| rt.keys[i * 2]).collect()),
            drop_reason: (0..t)
                .map(|i| slot[i * kk..i * kk + k].iter().map(|&s| routing::drop_reason(s)).collect())
                .collect(),
            step,
            router_logits: rows(logits, e),
            probs: rows(probs, e),
            topk: (0..t).map(|i| topk[i * kk..i * kk + k].to_vec()).collect(),
            gates: (0..t).map(|i| gates[i * kk..i * kk + k].to_vec()).collect(),
            dropped: (0..t)
                .map(|i| slot[i * kk..i * kk + k].iter().map(|&s| routing::is_dropped(s)).collect())
                .collect(),
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
    /// Evaluate on the held-out set now (also done by itself after every `eval_every` steps); the
    /// result reaches the next snapshot.
    fn eval_now(&mut self);
    /// Close the metrics window; false if too many snapshots are still in flight.
    fn request_snapshot(&mut self) -> bool;
    /// A finished snapshot, oldest first, if one is ready. Never blocks.
    fn poll_snapshot(&mut self) -> Option<Snapshot>;
    /// Natively: wait for the oldest requested snapshot.
    #[cfg(not(target_arch = "wasm32"))]
    fn wait_snapshot(&mut self) -> Option<Snapshot>;
    /// Natively: wait until every enqueued step has run (benchmarks time steps with it, without
    /// closing a metrics window). The CPU trainer's steps run inside `train`.
    #[cfg(not(target_arch = "wasm32"))]
    fn finish(&mut self) {}
    /// Natively: the routing of the last training step, with the k it ran with.
    #[cfg(not(target_arch = "wasm32"))]
    fn last_trace(&mut self) -> Trace;
}

/// Window accumulators, same layout as the GPU's win_u / win_f.
#[derive(Clone, Debug, Default)]
struct Window {
    steps: u32,
    /// Assignments made (Σ over the window's steps of T·k, with each step's own k).
    assignments: u32,
    dropped: u32,
    /// Of `dropped`, those the router dropped at random (gshard-top2).
    dropped_random: u32,
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

/// The latest held-out evaluation: mean CE and accuracy over the `EVAL_N` examples of the
/// evaluation set, after training step `step` (0 = none yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Eval {
    pub step: u32,
    pub ce: f32,
    pub accuracy: f32,
}

/// A held-out evaluation with its mean CE per domain id.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    pub ce: f32,
    pub accuracy: f32,
    pub domain_ce: Vec<f32>,
}

/// The CPU twin of the GPU evaluation pass (shaders/metrics.wgsl `eval_begin`, then per chunk the
/// forward kernels and `eval_accum`, then `eval_end`): the evaluation set in chunks of `t` rows
/// (the model's batch size, so capacity behaves as in training), each chunk's forward pass with
/// capacity `cap`, CE and correct predictions summed in f32 in row order over the first `EVAL_N`
/// rows (the last chunk wraps around to fill its batch; those extra rows are not scored).
pub fn evaluate_heldout(params: &Params<f32>, pool: &Pool, t: usize, cap: usize) -> EvalReport {
    let plain = Routing::plain(params, &pool.eval_batch(0, t));
    evaluate_heldout_routed(params, pool, t, cap, &plain)
}

/// [`evaluate_heldout`] with the routing of `rt` (its router, drop policy and bias; the keys are
/// each chunk's own, without random draws).
pub fn evaluate_heldout_routed(
    params: &Params<f32>,
    pool: &Pool,
    t: usize,
    cap: usize,
    rt: &Routing<f32>,
) -> EvalReport {
    let mut ce = 0.0f32;
    let mut ok = 0u32;
    let mut dce = [0.0f64; NDOM];
    let mut dn = [0u32; NDOM];
    for chunk in 0..EVAL_N.div_ceil(t) {
        let b = pool.eval_batch(chunk * t, t);
        let keys = routing::route_keys(&b, params.dims.tokens, 0, None);
        let fw = forward_routed(params, &b, cap, Routing { keys, ..rt.clone() });
        for row in 0..t.min(EVAL_N - chunk * t) {
            ce += fw.ce_t[row];
            ok += fw.correct[row];
            let d = (b.domains[row] as usize).min(NDOM - 1);
            dce[d] += fw.ce_t[row] as f64;
            dn[d] += 1;
        }
    }
    EvalReport {
        ce: ce / EVAL_N as f32,
        accuracy: ok as f32 / EVAL_N as f32,
        domain_ce: (0..NDOM).map(|d| (dce[d] / dn[d].max(1) as f64) as f32).collect(),
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
    eval: Eval,
    /// The router's per-expert bias (aux-free), kept across steps and router switches.
    bias: Vec<f32>,
}

impl CpuTrainer {
    /// A trainer for `cfg` (its dense twin when `cfg.dense_twin` says so) with the seed's weights.
    pub fn new(cfg: &Config) -> Result<CpuTrainer, ConfigError> {
        cfg.validate()?;
        let cfg = cfg.resolved();
        let dims = Dims::new(&cfg);
        let params = Params::init(dims, cfg.seed);
        Ok(Self::with_params(&cfg, params))
    }

    /// A trainer starting from given parameters (tests use random ones); `cfg` must be resolved
    /// (`Config::resolved`) and match the parameters' shapes.
    pub fn with_params(cfg: &Config, params: Params<f32>) -> CpuTrainer {
        let n = params.layout.total;
        let e = params.dims.e;
        CpuTrainer {
            cfg: cfg.clone(),
            pool: Pool::for_config(cfg),
            params,
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
            updates: 0,
            skipped: 0,
            win: Window::new(e),
            ready: Default::default(),
            last: None,
            eval: Eval::default(),
            bias: vec![0.0; e],
        }
    }

    /// Continue at training step `step` (upcycling: the MoE takes over after the dense phase's
    /// steps): the next batch is the one of step `step`, the held-out schedule counts from it, and
    /// the optimiser stays fresh (zero moments, bias correction from its first update).
    pub fn start_at(&mut self, step: u32) {
        self.step = step;
    }

    /// The routing of a batch under the current knobs: training step `step` (with its random
    /// draws) or None (evaluation, probe).
    pub fn routing(&self, b: &Batch, step: Option<u32>) -> Routing<f32> {
        Routing {
            router: self.cfg.router,
            policy: self.cfg.drop_policy,
            keys: routing::route_keys(b, self.params.dims.tokens, self.cfg.seed, step),
            bias: self.bias.clone(),
            train: step.is_some(),
            balance: self.cfg.balance,
        }
    }

    /// The router's per-expert bias.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Held-out evaluation of the current weights with the current knobs, per domain too.
    pub fn evaluate_report(&self) -> EvalReport {
        let rt = self.routing(&self.pool.eval_batch(0, self.cfg.tokens), None);
        evaluate_heldout_routed(&self.params, &self.pool, self.cfg.tokens, self.cfg.capacity(), &rt)
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
        let fw = forward_routed(&self.params, &b, self.cfg.capacity(), self.routing(&b, Some(self.step)));
        let (alpha, beta) = (self.cfg.alpha_effective(), self.cfg.beta);
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
        // `route_update`: the router unit's per-expert state, from this step's choices.
        routers::unit::<f32>(self.cfg.router).update(&mut self.bias, &fw.assign.counts, self.cfg.gamma);
        self.step += 1;
        if ok {
            self.updates += 1;
        } else {
            self.skipped += 1;
        }
        self.accumulate(&b, &fw);
        self.last = Some((b, fw));
        if self.cfg.eval_every > 0 && self.step.is_multiple_of(self.cfg.eval_every) {
            self.eval_now();
        }
    }

    fn accumulate(&mut self, b: &Batch, fw: &Forward<f32>) {
        let (e, k, kk) = (self.params.dims.e, self.params.dims.k, self.params.dims.kmax);
        let w = &mut self.win;
        for i in 0..e {
            w.choices[i] += fw.assign.counts[i];
            w.kept[i] += fw.assign.kept[i];
            w.p_sum[i] += fw.p_mean[i];
        }
        for t in 0..b.len() {
            for r in 0..k {
                if fw.assign.slot[t * kk + r] == routing::UNPICKED {
                    continue;
                }
                let d = (b.domains[t] as usize).min(NDOM - 1);
                w.dom[d * e + fw.topk[t * kk + r] as usize] += 1;
            }
        }
        w.steps += 1;
        w.assignments += (b.len() * k) as u32;
        w.dropped += fw.dropped;
        w.dropped_random += fw.assign.slot.iter().filter(|&&s| s == RANDOM).count() as u32;
        w.all_dropped += fw.all_dropped;
        w.ce += fw.ce;
        w.aux += fw.aux;
        w.z += fw.z;
        w.acc += fw.correct.iter().sum::<u32>() as f32 / b.len() as f32;
    }

    /// Routing of the probe batch under the current weights and knobs.
    pub fn probe(&self) -> Probe {
        let b = self.pool.probe_batch();
        let cap = self.cfg.capacity_for(PROBE);
        let fw = forward_routed(&self.params, &b, cap, self.routing(&b, None));
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
            .map(|(t, r)| routing::is_dropped(fw.assign.slot[pick(t, r)]))
            .collect(),
        picked: (0..rows)
            .flat_map(|t| (0..k).map(move |r| (t, r)))
            .map(|(t, r)| fw.assign.slot[pick(t, r)] != routing::UNPICKED)
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
        self.params.dims.k = next.routed_k();
        self.params.dims.mix = next.competitive();
        self.cfg = next;
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
    fn eval_now(&mut self) {
        let r = self.evaluate_report();
        self.eval = Eval { step: self.step, ce: r.ce, accuracy: r.accuracy };
    }
    fn request_snapshot(&mut self) -> bool {
        let w = std::mem::replace(&mut self.win, Window::new(self.params.dims.e));
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
            k: self.params.dims.k as u32,
            tokens: self.cfg.tokens as u32,
            capacity: self.cfg.capacity() as u32,
            p_mean: w.p_sum.iter().map(|p| p / sf).collect(),
            assignments: w.assignments,
            dropped: w.dropped,
            dropped_random: w.dropped_random,
            all_dropped: w.all_dropped,
            bias: self.bias.clone(),
            eval_step: self.eval.step,
            eval_ce: self.eval.ce,
            eval_accuracy: self.eval.accuracy,
            entropy,
            cv,
            max_share,
            starved,
            domain_expert: w.dom,
            shared: self.params.dims.shared as u32,
            expert_similarity: crate::metrics::expert_similarity(&self.params),
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
        let dims = Dims { t: b.len(), k: fw.k, ..self.params.dims };
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
            TraceRouting {
                router: fw.routing.router,
                scores: &fw.scores,
                keys: &fw.routing.keys,
                bias: &fw.routing.bias,
            },
        )
    }
}
