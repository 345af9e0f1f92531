//! The metrics snapshot both backends produce: losses, per-expert load against capacity, drops,
//! balance, the domain × expert matrix and the routing of the fixed probe batch.
//!
//! On the GPU, shaders/metrics.wgsl accumulates a window of steps and writes a record whose layout is
//! given by the `SNAP_*` constants below; `Snapshot::from_record` decodes it. The CPU reference fills
//! the same struct with [`balance`] as the twin of the `snapshot` kernel.
use serde::{Deserialize, Serialize};

/// Offsets in the snapshot record (u32 words; floats are bit-cast): the header, then 7·E words.
pub const SNAP_HEADER: usize = 24;
/// Words in a snapshot record for E experts.
pub fn snap_words(e: usize) -> usize {
    SNAP_HEADER + 8 * e
}
/// Domains per data set.
pub const NDOM: usize = 4;

/// Routing of the probe batch (up to 64 rows) at snapshot time.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Probe {
    pub rows: usize,
    pub experts: usize,
    pub k: usize,
    /// [rows, E] router probabilities.
    pub probs: Vec<f32>,
    /// [rows, k] chosen experts, best first.
    pub topk: Vec<u32>,
    /// [rows, k] gates.
    pub gates: Vec<f32>,
    /// [rows, k] true where the assignment was dropped (over capacity or at random).
    pub dropped: Vec<bool>,
    /// [rows, k] false where the expert did not pick the token (expert choice); true otherwise.
    #[serde(default)]
    pub picked: Vec<bool>,
    /// [rows, 4] input ids (tokens) or the point's f32 bits in slots 0, 1 (regions).
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
    pub domains: Vec<u32>,
    /// [rows] the model's predicted class.
    pub predicted: Vec<u32>,
}

/// Balance of a load vector (counts of top-k choices per expert): (normalised entropy, coefficient
/// of variation, max share, experts below a quarter of a fair share). Twin of the `snapshot` kernel.
pub fn balance(choices: &[u32]) -> (f32, f32, f32, u32) {
    let e = choices.len();
    let total: u32 = choices.iter().sum();
    let ef = e as f32;
    let fair = 1.0 / ef;
    let (mut ent, mut var, mut mx, mut starved) = (0.0f32, 0.0f32, 0.0f32, 0u32);
    for &c in choices {
        let s = if total > 0 { c as f32 / total as f32 } else { 0.0 };
        if s > 0.0 {
            ent -= s * s.ln();
        }
        var += (s - fair) * (s - fair);
        mx = mx.max(s);
        if s < 0.25 * fair {
            starved += 1;
        }
    }
    let ent_n = if e > 1 { ent / ef.ln() } else { 1.0 };
    (ent_n, (var / ef).sqrt() / fair, mx, starved)
}

/// Word of the snapshot record holding the expert similarity (f32 bits; written by the
/// `expert_similarity` kernel after `snapshot`).
pub const SNAP_SIMILARITY: usize = 22;

/// Expert similarity: the mean, over the E(E−1)/2 pairs (i < j) of routed experts, of the cosine
/// similarity of the two experts' flattened weights, each expert's vector being the concatenation
/// [W1 (H·d, row-major [H, d]), b1 (H), W2 (d·H, row-major [d, H]), b2 (d)]. 1 means every expert
/// is the same network (as right after upcycling), about 0 unrelated random ones. An expert whose
/// vector is all zero counts as similarity 0 with every other. None with fewer than two experts.
///
/// CPU twin of the `expert_similarity` kernel (shaders/metrics.wgsl), in its order: each dot
/// product (i ≤ j, the squared norms being i = j) one f32 sum over the vector in the order above;
/// then the pairs in order (i ascending, then j), cos = dot / (√n_i·√n_j), summed in f32 and
/// divided by the number of pairs.
pub fn expert_similarity(p: &crate::model::Params<f32>) -> Option<f32> {
    let (e, h, d) = (p.dims.e, p.dims.h, p.dims.d);
    if e < 2 {
        return None;
    }
    let l = &p.layout;
    let part = |x: usize| -> [&[f32]; 4] {
        [
            &p.w[l.w1.start + x * h * d..l.w1.start + (x + 1) * h * d],
            &p.w[l.b1.start + x * h..l.b1.start + (x + 1) * h],
            &p.w[l.w2.start + x * d * h..l.w2.start + (x + 1) * d * h],
            &p.w[l.b2.start + x * d..l.b2.start + (x + 1) * d],
        ]
    };
    let dot = |i: usize, j: usize| -> f32 {
        let (a, b) = (part(i), part(j));
        let mut acc = 0.0f32;
        for k in 0..4 {
            for (x, y) in a[k].iter().zip(b[k]) {
                acc += x * y;
            }
        }
        acc
    };
    let norms: Vec<f32> = (0..e).map(|i| dot(i, i).sqrt()).collect();
    let mut sum = 0.0f32;
    for i in 0..e {
        for j in i + 1..e {
            let den = norms[i] * norms[j];
            sum += if den > 0.0 { dot(i, j) / den } else { 0.0 };
        }
    }
    Some(sum / (e * (e - 1) / 2) as f32)
}

/// How much the expert a token goes to tells about its domain: the mutual information between
/// domain and chosen expert, over the choices counted in `domain_expert` ([NDOM, E], row-major),
/// divided by the entropy of the domains (0 = the expert says nothing about the domain, 1 = each
/// domain has experts of its own). 0 when nothing was counted.
pub fn specialisation(domain_expert: &[u32], e: usize) -> f32 {
    let total: u64 = domain_expert.iter().map(|&c| c as u64).sum();
    if total == 0 || e == 0 {
        return 0.0;
    }
    let n = total as f64;
    let rows: Vec<f64> = domain_expert.chunks(e).map(|r| r.iter().map(|&c| c as f64).sum()).collect();
    let cols: Vec<f64> = (0..e).map(|j| domain_expert.chunks(e).map(|r| r[j] as f64).sum()).collect();
    let (mut mi, mut hd) = (0.0f64, 0.0f64);
    for (d, row) in domain_expert.chunks(e).enumerate() {
        if rows[d] > 0.0 {
            hd -= rows[d] / n * (rows[d] / n).ln();
        }
        for (j, &c) in row.iter().enumerate() {
            if c > 0 {
                let p = c as f64 / n;
                mi += p * (p * n * n / (rows[d] * cols[j])).ln();
            }
        }
    }
    if hd > 0.0 {
        (mi / hd) as f32
    } else {
        0.0
    }
}

/// One metrics snapshot: a window of `steps` training steps ending at step `step`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Training steps taken so far (batches seen).
    pub step: u32,
    /// Steps pooled in this window.
    pub steps: u32,
    /// Adam updates applied so far; `skipped` steps had a non-finite loss or gradient.
    pub updates: u32,
    pub skipped: u32,
    /// Window means of the loss terms and the accuracy of the argmax prediction.
    pub ce: f32,
    pub aux: f32,
    pub z: f32,
    pub accuracy: f32,
    pub k: u32,
    pub tokens: u32,
    /// Capacity per expert per step at the snapshot's knobs.
    pub capacity: u32,
    /// [E] top-k choices per expert over the window, before dropping.
    pub choices: Vec<u32>,
    /// [E] kept assignments per expert over the window.
    pub kept: Vec<u32>,
    /// [E] mean router probability P_i over the window.
    pub p_mean: Vec<f32>,
    /// Assignments made over the window (Σ T·k, each step with its own k), the assignments dropped
    /// and the tokens with every choice dropped.
    pub assignments: u32,
    pub dropped: u32,
    /// Of `dropped`, the assignments the router dropped at random (gshard-top2) rather than for
    /// capacity.
    pub dropped_random: u32,
    pub all_dropped: u32,
    /// [E] the router's per-expert bias at the snapshot (aux-free; 0 for the other routers).
    pub bias: Vec<f32>,
    /// The latest held-out evaluation (mean CE and accuracy over the evaluation set, never trained
    /// on) and the step it was taken after; `eval_step` 0 = none yet.
    pub eval_step: u32,
    pub eval_ce: f32,
    pub eval_accuracy: f32,
    pub entropy: f32,
    pub cv: f32,
    pub max_share: f32,
    pub starved: u32,
    /// [NDOM, E] top-k choices by token domain over the window.
    pub domain_expert: Vec<u32>,
    /// Shared experts (every token passes through them; their load is always T per step).
    pub shared: u32,
    /// The experts' similarity at the snapshot ([`expert_similarity`]); None with one expert.
    pub expert_similarity: Option<f32>,
    pub probe: Probe,
}

impl Snapshot {
    /// Decode a GPU snapshot record.
    pub fn from_record(r: &[u32], e: usize) -> Snapshot {
        let f = |i: usize| f32::from_bits(r[i]);
        let h = SNAP_HEADER;
        Snapshot {
            steps: r[0],
            step: r[1],
            skipped: r[2],
            ce: f(3),
            aux: f(4),
            z: f(5),
            accuracy: f(6),
            dropped: r[7],
            all_dropped: r[8],
            entropy: f(9),
            cv: f(10),
            max_share: f(11),
            starved: r[12],
            capacity: r[13],
            k: r[14],
            tokens: r[15],
            updates: r[16],
            eval_ce: f(17),
            eval_accuracy: f(18),
            eval_step: r[19],
            assignments: r[20],
            dropped_random: r[21],
            choices: r[h..h + e].to_vec(),
            kept: r[h + e..h + 2 * e].to_vec(),
            p_mean: (h + 2 * e..h + 3 * e).map(f).collect(),
            domain_expert: r[h + 3 * e..h + 7 * e].to_vec(),
            bias: (h + 7 * e..h + 8 * e).map(f).collect(),
            shared: 0,
            expert_similarity: (e >= 2).then(|| f(SNAP_SIMILARITY)),
            probe: Probe::default(),
        }
    }
    /// Share of each expert in the window's top-k choices (pre-drop).
    pub fn load_share(&self) -> Vec<f32> {
        let total: u32 = self.choices.iter().sum();
        self.choices.iter().map(|&c| if total > 0 { c as f32 / total as f32 } else { 0.0 }).collect()
    }
    /// [`specialisation`] of this window's domain × expert counts.
    pub fn specialisation(&self) -> f32 {
        specialisation(&self.domain_expert, self.choices.len())
    }
    /// Share of the window's assignments that were dropped (each step counted with its own k, so a
    /// change of k inside the window is counted right).
    pub fn dropped_share(&self) -> f32 {
        if self.assignments > 0 {
            self.dropped as f32 / self.assignments as f32
        } else {
            0.0
        }
    }
    /// Share of the window's assignments the router dropped at random (gshard-top2).
    pub fn random_dropped_share(&self) -> f32 {
        if self.assignments > 0 {
            self.dropped_random as f32 / self.assignments as f32
        } else {
            0.0
        }
    }
    /// The held-out evaluation as (step, CE, accuracy), if one has been taken.
    pub fn eval(&self) -> Option<(u32, f32, f32)> {
        (self.eval_step > 0).then_some((self.eval_step, self.eval_ce, self.eval_accuracy))
    }
    /// Share of the window's tokens no routed expert processed (`unrouted_share`): every choice
    /// dropped, or, with expert choice, picked by no expert.
    pub fn all_dropped_share(&self) -> f32 {
        let n = self.steps as f32 * self.tokens as f32;
        if n > 0.0 {
            self.all_dropped as f32 / n
        } else {
            0.0
        }
    }
    /// Mean kept assignments per expert per step.
    pub fn kept_per_step(&self) -> Vec<f32> {
        self.kept.iter().map(|&k| k as f32 / self.steps.max(1) as f32).collect()
    }
    /// The load has collapsed: at least half of the experts are starved (below a quarter of a fair
    /// share) and the normalised load entropy is at most 0.6. Measured over 5 seeds (examples/collapse_sweep.rs):
    /// α = 0 ends at entropy 0.03–0.54 with 5–7 of 8 starved; α = 0.01 never goes below 0.62 even in
    /// its early transient, and ends at 0.96–0.99 with none starved. The page's badge uses this rule.
    pub fn collapsed(&self) -> bool {
        let e = self.choices.len() as u32;
        e > 1 && self.steps > 0 && 2 * self.starved >= e && self.entropy <= 0.6
    }
    /// True when training diverged (a non-finite loss or gradient was caught).
    pub fn diverged(&self) -> bool {
        self.skipped > 0 || !self.ce.is_finite()
    }
    /// The CLI's JSON line.
    pub fn json(&self) -> serde_json::Value {
        let r4 = |v: f32| (v as f64 * 1e4).round() / 1e4;
        serde_json::json!({
            "step": self.step,
            "ce": r4(self.ce), "aux": r4(self.aux), "z": r4(self.z), "accuracy": r4(self.accuracy),
            "eval_ce": self.eval().map(|e| r4(e.1)), "eval_accuracy": self.eval().map(|e| r4(e.2)),
            "eval_step": self.eval().map(|e| e.0),
            "load_share": self.load_share().into_iter().map(r4).collect::<Vec<_>>(),
            "kept": self.kept_per_step().into_iter().map(r4).collect::<Vec<_>>(),
            "capacity": self.capacity,
            "p_mean": self.p_mean.iter().map(|&v| r4(v)).collect::<Vec<_>>(),
            "dropped_share": r4(self.dropped_share()),
            "random_dropped_share": r4(self.random_dropped_share()),
            "bias": self.bias.iter().map(|&v| r4(v)).collect::<Vec<_>>(),
            "all_dropped_share": r4(self.all_dropped_share()),
            "unrouted_share": r4(self.all_dropped_share()),
            "entropy": r4(self.entropy), "cv": r4(self.cv), "max_share": r4(self.max_share),
            "starved": self.starved,
            "collapsed": self.collapsed(),
            "domain_expert": self.domain_expert,
            "skipped": self.skipped,
            "expert_similarity": self.expert_similarity.map(r4),
        })
    }
}
