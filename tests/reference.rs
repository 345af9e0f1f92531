//! Native tests of the CPU reference (src/model), the oracle every WGSL kernel is held to. No GPU.
//!
//! Run: `cargo test --release --test reference` (add `-- --nocapture` to see the measured errors).
//!
//! What is held here:
//! 1. backward() against central finite differences of forward().loss(α, β), in f64, for every
//!    parameter tensor, for k = 1 / k = 2, with and without dropped assignments, tokens and regions;
//!    and the router gradient split into its gate, balance-loss and z-loss parts.
//! 2. Capacity and drop bookkeeping on hand-made fixtures (exact counts).
//! 3. Loss semantics: forward() against an independent re-implementation of the documented
//!    semantics, plus closed forms (uniform router: aux = 1, z = (ln E)²; gates).
//! 4. Adam: hand-computed steps, clipping, skipping of non-finite steps.
//! 5. CpuTrainer: learning, determinism, live k change, drop accounting in snapshots.
//! 6. The reference's stages (`model::STAGES`) and the step's kernels (`gpu::kernels::STEP`) name
//!    each other one for one.
// Index loops mirror the row-major formulas of the spec; iterator rewrites would obscure them.
#![allow(clippy::needless_range_loop)]

use moe_playground::config::{capacity, Config, Dataset};
use moe_playground::config::{Balance, DropPolicy, RouterKind};
use moe_playground::data::{tokens::VOCAB, Batch, Pool, CTX, PROBE};
use moe_playground::model::adam::{adam_step, grad_norm, AdamHyper};
use moe_playground::model::backward::backward;
use moe_playground::model::forward::{forward, forward_routed, Forward, Routing};
use moe_playground::model::routers::ROUTERS;
use moe_playground::model::routing::{self, DROPPED, UNUSED};
use moe_playground::model::{Dims, Params};
use moe_playground::rng::Rng;
use moe_playground::trainer::{CpuTrainer, Trainer};
use std::ops::Range;

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Small model: d = 6, H = 5, E = 4 (so k_max = 4), V from the data set.
fn small_dims(dataset: Dataset, t: usize, k: usize) -> Dims {
    let cfg = Config { dataset, tokens: t, d: 6, hidden: 5, experts: 4, top_k: k, ..Config::default() };
    cfg.validate().expect("small test config must validate");
    Dims::new(&cfg)
}

/// Random parameters (biases included) and the step-0 batch of the data set, all from `seed`.
fn setup(dataset: Dataset, t: usize, k: usize, seed: u32) -> (Params<f64>, Batch) {
    let dims = small_dims(dataset, t, k);
    let p = Params::<f64>::random(dims, seed);
    let b = Pool::new(dataset, seed).batch(seed, 0, t);
    assert_eq!(b.len(), t);
    (p, b)
}

fn l2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// True when two forward passes route identically (same top-k choices and the same slots/drops):
/// inside such a region the loss is smooth, so finite differences are meaningful.
fn same_routing(a: &Forward<f64>, b: &Forward<f64>) -> bool {
    a.topk == b.topk && a.assign.slot == b.assign.slot && a.order == b.order && a.routed.next == b.routed.next
}

// ---------------------------------------------------------------------------------------------
// 1. Finite-difference gradient check
// ---------------------------------------------------------------------------------------------

const ALPHA: f64 = 0.3;
const BETA: f64 = 0.2;
/// Central-difference step. In f64 with a loss of O(1) the rounding error of the quotient is about
/// 1e-16 / 1e-6 = 1e-10 and the truncation error O(eps²) = 1e-12.
const FD_EPS: f64 = 1e-6;
/// Pass criterion for one entry: |analytic − numeric| ≤ FD_ABS + FD_REL · |numeric|.
/// The measured worst case is |a − n| ≈ 1.3e-9 (err/tol ≤ 0.06); any missing or mis-scaled term
/// is orders of magnitude larger (checked gradient entries are 1e-4 … 5e-1).
const FD_ABS: f64 = 2e-8;
const FD_REL: f64 = 1e-6;
/// Entries checked per tensor (all of them when the tensor is at most this large).
const FD_SAMPLES: usize = 40;
/// Entries whose ±eps perturbation flips a top-k choice or a slot are skipped (the loss is
/// piecewise smooth); at most this many per case may be skipped.
const FD_MAX_SKIPPED: usize = 3;

/// Deterministic sample of flat indices of one tensor. For `emb` most rows are not read by a
/// batch of 16–24 tokens (gradient exactly 0 on both sides), so 3/4 of the sample is drawn from
/// the rows the batch does read.
fn sample_indices(name: &str, r: &Range<usize>, p: &Params<f64>, b: &Batch, rng: &mut Rng) -> Vec<usize> {
    let n = r.len();
    if n <= FD_SAMPLES {
        return r.clone().collect();
    }
    let mut idx: Vec<usize> = Vec::new();
    if name == "emb" {
        let (d, v) = (p.dims.d, p.dims.v);
        let mut used: Vec<usize> = (0..b.len())
            .flat_map(|t| (0..CTX).map(move |j| (t, j)))
            .flat_map(|(t, j)| (0..d).map(move |c| (t, j, c)))
            .map(|(t, j, c)| r.start + (j * v + b.inputs[t * CTX + j] as usize) * d + c)
            .collect();
        used.sort_unstable();
        used.dedup();
        let want = (FD_SAMPLES * 3 / 4).min(used.len());
        idx.extend((0..want).map(|i| used[i * used.len() / want]));
    }
    while idx.len() < FD_SAMPLES {
        let i = r.start + rng.below(n);
        if !idx.contains(&i) {
            idx.push(i);
        }
    }
    idx
}

#[derive(Debug)]
struct TensorCheck {
    name: &'static str,
    checked: usize,
    skipped: usize,
    /// max |analytic − numeric|
    max_abs: f64,
    /// max |analytic − numeric| / (FD_ABS + FD_REL·|numeric|): ≤ 1 passes
    max_ratio: f64,
    /// max |numeric| over the checked entries (shows the check is not vacuous)
    max_grad: f64,
}

struct FdCase {
    dataset: Dataset,
    t: usize,
    k: usize,
    cf: f32,
    seed: u32,
    /// Some(true): this case must drop assignments; Some(false): it must not.
    drops: Option<bool>,
    /// The router (its Dims: every routed expert a rank for the all-experts routers), shared
    /// experts and fine-grained split of the case's model.
    router: RouterKind,
    shared: usize,
    granularity: usize,
    mixture: moe_playground::config::MixtureLoss,
}

impl FdCase {
    const fn plain(dataset: Dataset, t: usize, k: usize, cf: f32, seed: u32, drops: Option<bool>) -> FdCase {
        FdCase {
            dataset,
            t,
            k,
            cf,
            seed,
            drops,
            router: RouterKind(0),
            shared: 0,
            granularity: 1,
            mixture: moe_playground::config::MixtureLoss::Cooperative,
        }
    }
    /// The case's model: the small dims of [`small_dims`] (H = 6 when split, so H/m is whole).
    fn config(&self) -> Config {
        let hidden = if self.granularity > 1 { 6 } else { 5 };
        let cfg = Config {
            dataset: self.dataset,
            tokens: self.t,
            d: 6,
            hidden,
            experts: 4,
            top_k: self.k,
            capacity_factor: self.cf,
            router: self.router,
            shared: self.shared,
            granularity: self.granularity,
            balance: self.router.info().balances[0],
            mixture_loss: self.mixture,
            ..Config::default()
        };
        cfg.validate().expect("FD case config must validate");
        cfg
    }
    /// Random parameters and the step-0 batch (as [`setup`]) for the case's model.
    fn setup(&self) -> (Params<f64>, Batch) {
        let p = Params::<f64>::random(Dims::new(&self.config()), self.seed);
        let b = Pool::new(self.dataset, self.seed).batch(self.seed, 0, self.t);
        (p, b)
    }
    fn cap(&self) -> usize {
        self.config().capacity_for(self.t)
    }
}

/// The routing of an FD case: softmax top-k, position order (the registry test passes its own).
fn fd_check(c: &FdCase) -> Vec<TensorCheck> {
    let (p, b) = setup(c.dataset, c.t, c.k, c.seed);
    fd_check_routed(c, &Routing::plain(&p, &b), ALPHA)
}

/// Check every tensor of one case with routing `rt` (its random draws and bias held fixed) and
/// balance weight `alpha`; returns the per-tensor report (asserts inside).
fn fd_check_routed(c: &FdCase, rt: &Routing<f64>, alpha: f64) -> Vec<TensorCheck> {
    let (mut p, b) = c.setup();
    let cap = c.cap();
    let fw = forward_routed(&p, &b, cap, rt.clone());
    let label = format!("{:?} T={} k={} cf={} seed={} (cap {cap})", c.dataset, c.t, c.k, c.cf, c.seed);
    println!("{label}: dropped {} of {} assignments, {} tokens fully dropped", fw.dropped, c.t * c.k, fw.all_dropped);
    match c.drops {
        Some(true) => {
            assert!(fw.dropped > 0, "{label}: fixture was meant to drop assignments");
            assert!((fw.dropped as usize) < c.t * c.k, "{label}: everything dropped");
        }
        Some(false) => assert_eq!(fw.dropped, 0, "{label}: dropless case dropped"),
        None => {}
    }
    let beta = BETA;
    let bw = backward(&p, &b, &fw, alpha, beta);
    assert_eq!(bw.grads.len(), p.layout.total);
    let mut rng = Rng::new(0xFD ^ c.seed as u64);
    let mut out = Vec::new();
    let mut skipped_total = 0;
    for (name, r) in p.layout.tensors() {
        let idx = sample_indices(name, &r, &p, &b, &mut rng);
        let mut tc = TensorCheck { name, checked: 0, skipped: 0, max_abs: 0.0, max_ratio: 0.0, max_grad: 0.0 };
        for i in idx {
            let w0 = p.w[i];
            p.w[i] = w0 + FD_EPS;
            let fp = forward_routed(&p, &b, cap, rt.clone());
            p.w[i] = w0 - FD_EPS;
            let fm = forward_routed(&p, &b, cap, rt.clone());
            p.w[i] = w0;
            if !same_routing(&fp, &fw) || !same_routing(&fm, &fw) {
                tc.skipped += 1;
                continue;
            }
            let num = (fp.loss(alpha, beta) - fm.loss(alpha, beta)) / (2.0 * FD_EPS);
            let ana = bw.grads[i];
            let err = (ana - num).abs();
            let tol = FD_ABS + FD_REL * num.abs();
            assert!(
                err <= tol,
                "{label}: d loss / d {name}[{}]: analytic {ana:.12e} vs numeric {num:.12e} (|diff| {err:.3e} > tol {tol:.3e})",
                i - r.start
            );
            tc.checked += 1;
            tc.max_abs = tc.max_abs.max(err);
            tc.max_ratio = tc.max_ratio.max(err / tol);
            tc.max_grad = tc.max_grad.max(num.abs());
        }
        println!(
            "  {:5} checked {:3} skipped {} max|a-n| {:.2e} max err/tol {:.3} max|grad| {:.2e}",
            tc.name, tc.checked, tc.skipped, tc.max_abs, tc.max_ratio, tc.max_grad
        );
        skipped_total += tc.skipped;
        out.push(tc);
    }
    assert!(skipped_total <= FD_MAX_SKIPPED, "{label}: {skipped_total} entries skipped (routing flips)");
    // Analytic gradient entries that were never checked must at least be finite.
    assert!(bw.grads.iter().all(|g| g.is_finite()), "{label}: non-finite gradient");
    out
}

fn names(checks: &[TensorCheck]) -> Vec<&'static str> {
    checks.iter().map(|c| c.name).collect()
}

#[test]
fn fd_gradients_tokens() {
    let cases = [
        // k = 1 (Switch gates: raw p) with capacity pressure: cap = ceil(0.75·24/4) = 5.
        FdCase::plain(Dataset::Tokens, 24, 1, 0.75, 1, Some(true)),
        // k = 1 dropless.
        FdCase::plain(Dataset::Tokens, 16, 1, f32::INFINITY, 2, Some(false)),
        // k = 2 (renormalised gates) with capacity pressure: cap = ceil(0.75·48/4) = 9.
        FdCase::plain(Dataset::Tokens, 24, 2, 0.75, 3, Some(true)),
        // k = 2 dropless.
        FdCase::plain(Dataset::Tokens, 16, 2, f32::INFINITY, 4, Some(false)),
    ];
    for c in &cases {
        let checks = fd_check(c);
        assert_eq!(names(&checks), ["emb", "wr", "w1", "b1", "w2", "b2", "wo", "bo", "wn"]);
        // wn (the noisy router's noise weights) gets no gradient from softmax top-k.
        for tc in checks.iter().filter(|t| t.name != "wn") {
            // Every tensor has a non-trivial gradient among the checked entries.
            assert!(
                tc.max_grad > 1e-5,
                "k={} cf={}: gradient of {} is trivially small ({:.2e})",
                c.k,
                c.cf,
                tc.name,
                tc.max_grad
            );
            assert!(tc.checked >= tc.skipped * 10, "{}: too many skipped", tc.name);
        }
    }
}

/// Every router of the registry, with every drop policy, through the same FD check: picked up from
/// `ROUTERS`, so a new router is checked without a new test. Random draws (a training step's) and
/// a random aux-free bias are held fixed; α applies when the router's balance is the Switch loss.
#[test]
fn fd_gradients_every_router_and_drop_policy() {
    for r in RouterKind::all() {
        let info = r.info();
        // Every drop policy with the router's default balance, and every other balance it allows.
        let cases: Vec<(DropPolicy, Balance)> = DropPolicy::ALL
            .iter()
            .map(|&p| (p, info.balances[0]))
            .chain(info.balances[1..].iter().map(|&b| (DropPolicy::Position, b)))
            .collect();
        for (policy, balance) in cases {
            let k = info.k.unwrap_or(2);
            let dataset = if policy == DropPolicy::Probability { Dataset::Regions } else { Dataset::Tokens };
            // Token choice drops over capacity; expert choice and the dense mixture never drop.
            let drops = Some(!info.all_experts);
            let c = FdCase { router: r, ..FdCase::plain(dataset, 24, k, 0.75, 21 + r.0 as u32, drops) };
            let (p, b) = c.setup();
            let mut rng = Rng::new(77);
            let bias: Vec<f64> =
                (0..p.dims.e).map(|_| if info.has_bias { rng.uniform(-0.3, 0.3) } else { 0.0 }).collect();
            let cap = c.cap();
            // The draws of the first training step (from 5 on) whose routing drops at random if the
            // router ever does (near-uniform early gates make GShard's random drops rare).
            let rt = (5..200)
                .map(|step| Routing {
                    router: r,
                    policy,
                    keys: routing::route_keys(&b, p.dims.tokens, c.seed, Some(step)),
                    bias: bias.clone(),
                    train: true,
                    balance,
                })
                .find(|rt| {
                    let fw = forward_routed(&p, &b, cap, rt.clone());
                    fw.assign.slot.contains(&routing::RANDOM)
                })
                .unwrap_or_else(|| Routing {
                    router: r,
                    policy,
                    keys: routing::route_keys(&b, p.dims.tokens, c.seed, Some(5)),
                    bias: bias.clone(),
                    train: true,
                    balance,
                });
            let alpha = if balance == Balance::None { 0.0 } else { ALPHA };
            println!("router {} policy {} balance {} k {k}", info.name, policy.name(), balance.name());
            let checks = fd_check_routed(&c, &rt, alpha);
            let fw = forward_routed(&p, &b, cap, rt.clone());
            // The router's learned choice gets gate gradient unless it has none (hash: only the
            // z-loss reaches W_r, checked all the same).
            let wr = checks.iter().find(|t| t.name == "wr").unwrap();
            assert!(wr.checked > 0, "{}: wr checked", info.name);
            let wn = checks.iter().find(|t| t.name == "wn").unwrap();
            if info.name == "noisy-topk" {
                assert!(wn.max_grad > 1e-6, "noisy-topk: W_noise learns ({:.2e})", wn.max_grad);
            } else {
                assert_eq!(wn.max_grad, 0.0, "{}: W_noise gets no gradient", info.name);
            }
            if info.name == "gshard-top2" {
                let random = fw.assign.slot.iter().filter(|&&s| s == routing::RANDOM).count();
                assert!(random > 0, "gshard-top2 drops some second choices at random");
            }
            if info.name == "expert-choice" {
                // Every expert picks exactly C tokens; some tokens are picked by none (unrouted).
                assert_eq!(fw.assign.kept, vec![cap as u32; 4], "expert choice: each expert full");
                assert!(fw.all_dropped > 0, "expert choice leaves some tokens unrouted");
                assert!(wr.max_grad > 1e-5, "expert choice: the router learns through the gates");
            }
            if info.name == "dense-mixture" {
                assert_eq!(fw.assign.kept, vec![c.t as u32; 4], "dense mixture: every expert takes every token");
                assert_eq!(fw.all_dropped, 0);
            }
            if policy == DropPolicy::Random {
                assert_ne!(fw.order, (0..c.t as u32).collect::<Vec<_>>(), "a random order");
            }
        }
    }
    assert!(ROUTERS.len() >= 4);
}

/// Shared experts (every token, gate 1, never dropped) and fine-grained experts (E·m experts of
/// width H/m, k·m per token), alone, together, and with expert choice: the same FD check.
#[test]
fn fd_gradients_shared_and_fine_grained() {
    let ec = RouterKind::from_name("expert-choice").unwrap();
    let cases = [
        FdCase { shared: 1, ..FdCase::plain(Dataset::Tokens, 24, 1, 0.75, 31, Some(true)) },
        FdCase { granularity: 2, ..FdCase::plain(Dataset::Tokens, 24, 1, 0.75, 32, Some(true)) },
        FdCase { shared: 2, granularity: 2, ..FdCase::plain(Dataset::Regions, 16, 2, 1.0, 33, None) },
        FdCase { shared: 1, router: ec, ..FdCase::plain(Dataset::Tokens, 16, 1, 1.0, 34, Some(false)) },
    ];
    for c in &cases {
        let (p, b) = c.setup();
        let m = p.dims;
        assert_eq!(
            (m.e, m.shared, m.k),
            (4 * c.granularity, c.shared, if c.router.info().all_experts { m.e } else { c.k * c.granularity })
        );
        let rt = Routing { router: c.router, ..Routing::plain(&p, &b) };
        println!("shared {} granularity {} router {}", c.shared, c.granularity, c.router.name());
        fd_check_routed(c, &rt, ALPHA);
        let fw = forward_routed(&p, &b, c.cap(), rt);
        for j in 0..c.shared {
            assert_eq!(fw.assign.kept[m.e + j], c.t as u32, "shared expert {j} takes every token");
            assert!((0..c.t)
                .all(|t| fw.gates[t * m.kmax + m.k + j] == 1.0 && fw.topk[t * m.kmax + m.k + j] == (m.e + j) as u32));
        }
        assert_eq!(fw.assign.counts.len(), m.e + c.shared);
    }
}

/// The 1991 mixture's competitive loss −log Σ_i p_i·softmax(o_i)[y] (o_i = head(h + y_i)): the
/// reference's gradient (posterior, per-expert heads) against finite differences, tokens and
/// regions, with a shared expert too; and the loss it reports is that likelihood.
#[test]
fn fd_gradients_competitive_mixture() {
    use moe_playground::config::MixtureLoss;
    let dm = RouterKind::from_name("dense-mixture").unwrap();
    let cases = [
        FdCase {
            router: dm,
            mixture: MixtureLoss::Competitive,
            ..FdCase::plain(Dataset::Tokens, 16, 1, 1.0, 41, Some(false))
        },
        FdCase {
            router: dm,
            mixture: MixtureLoss::Competitive,
            ..FdCase::plain(Dataset::Regions, 24, 1, 1.0, 42, Some(false))
        },
        FdCase {
            router: dm,
            mixture: MixtureLoss::Competitive,
            shared: 1,
            ..FdCase::plain(Dataset::Tokens, 16, 1, 1.0, 43, Some(false))
        },
    ];
    for c in &cases {
        let (p, b) = c.setup();
        assert!(p.dims.mix);
        let rt = Routing { router: c.router, balance: Balance::None, ..Routing::plain(&p, &b) };
        println!("competitive {:?} shared {}", c.dataset, c.shared);
        let checks = fd_check_routed(c, &rt, 0.0);
        for tc in checks.iter().filter(|t| !["wn"].contains(&t.name)) {
            assert!(tc.max_grad > 1e-6, "competitive: gradient of {} is trivially small", tc.name);
        }
        // The reported CE is the mixture's negative log-likelihood, computed independently here.
        let fw = forward_routed(&p, &b, c.cap(), rt);
        let (m, kk) = (p.dims, p.dims.kmax);
        let mut nll = 0.0;
        for t in 0..c.t {
            let y = b.targets[t] as usize;
            let mut lik = 0.0;
            for i in 0..m.e {
                let a = t * kk + i;
                let row = &fw.outm[a * m.v..(a + 1) * m.v];
                let z: f64 = row.iter().map(|v| v.exp()).sum();
                lik += fw.probs[t * m.e + i] * row[y].exp() / z;
            }
            nll -= lik.ln();
        }
        let want = nll / c.t as f64;
        assert!((fw.ce - want).abs() < 1e-12, "competitive CE {} vs the mixture NLL {want}", fw.ce);
    }
}

#[test]
fn fd_gradients_regions() {
    let c = FdCase::plain(Dataset::Regions, 24, 2, 1.0, 5, None);
    let checks = fd_check(&c);
    assert_eq!(names(&checks), ["w_in", "b_in", "wr", "w1", "b1", "w2", "b2", "wo", "bo", "wn"]);
    for tc in checks.iter().filter(|t| t.name != "wn") {
        assert!(tc.max_grad > 1e-5, "regions: gradient of {} is trivially small ({:.2e})", tc.name, tc.max_grad);
    }
    // k = 1 with drops on regions as well (w_in, b_in reach the router through x = x0, no relu).
    let c = FdCase::plain(Dataset::Regions, 16, 1, 0.5, 6, Some(true));
    fd_check(&c);
}

/// The router weights get gradient from three places: the gates (k = 1: the raw probability), the
/// balance loss and the z-loss. Each part is checked on its own against finite differences of the
/// matching forward quantity (ce, aux, z), so a missing term cannot hide behind a larger one.
#[test]
fn router_gradient_has_gate_aux_and_z_parts() {
    for (k, cf, seed) in [(1, 0.75f32, 11u32), (1, f32::INFINITY, 12), (2, 0.75, 13), (2, f32::INFINITY, 14)] {
        let (mut p, b) = setup(Dataset::Tokens, 24, k, seed);
        let cap = capacity(cf, 24, k, p.dims.e);
        let fw = forward(&p, &b, cap);
        let wr = p.layout.wr.clone();
        let grad = |a: f64, bt: f64| backward(&p, &b, &fw, a, bt).grads[wr.clone()].to_vec();
        let g_ce = grad(0.0, 0.0);
        let g_1_0 = grad(1.0, 0.0);
        let g_0_1 = grad(0.0, 1.0);
        let g_ab = grad(ALPHA, BETA);
        let g_aux: Vec<f64> = g_1_0.iter().zip(&g_ce).map(|(a, b)| a - b).collect();
        let g_z: Vec<f64> = g_0_1.iter().zip(&g_ce).map(|(a, b)| a - b).collect();
        let label = format!("k={k} cf={cf}");
        // Through the gates alone (α = β = 0) wr still learns: for k = 1 this fails if the gate
        // were renormalised to 1; for k = 2 if the renormalisation were treated as a constant.
        assert!(l2(&g_ce) > 1e-4, "{label}: wr gets no gradient through the gates: |g| = {:.2e}", l2(&g_ce));
        assert!(l2(&g_aux) > 1e-4, "{label}: α does not change the wr gradient: |Δg| = {:.2e}", l2(&g_aux));
        assert!(l2(&g_z) > 1e-4, "{label}: β does not change the wr gradient: |Δg| = {:.2e}", l2(&g_z));
        // The loss is linear in α and β, and routing does not depend on them.
        for i in 0..g_ab.len() {
            let lin = g_ce[i] + ALPHA * g_aux[i] + BETA * g_z[i];
            assert!((g_ab[i] - lin).abs() <= 1e-12, "{label}: wr gradient not linear in α, β at {i}");
        }
        // Each part against finite differences of its own term.
        let mut skipped = 0;
        let (mut worst_ce, mut worst_aux, mut worst_z) = (0.0f64, 0.0f64, 0.0f64);
        for (j, i) in wr.clone().enumerate() {
            let w0 = p.w[i];
            p.w[i] = w0 + FD_EPS;
            let fp = forward(&p, &b, cap);
            p.w[i] = w0 - FD_EPS;
            let fm = forward(&p, &b, cap);
            p.w[i] = w0;
            if !same_routing(&fp, &fw) || !same_routing(&fm, &fw) {
                skipped += 1;
                continue;
            }
            for (what, num, ana, worst) in [
                ("ce", (fp.ce - fm.ce) / (2.0 * FD_EPS), g_ce[j], &mut worst_ce),
                ("aux", (fp.aux - fm.aux) / (2.0 * FD_EPS), g_aux[j], &mut worst_aux),
                ("z", (fp.z - fm.z) / (2.0 * FD_EPS), g_z[j], &mut worst_z),
            ] {
                let err = (ana - num).abs();
                let tol = FD_ABS + FD_REL * num.abs();
                assert!(err <= tol, "{label}: d {what} / d wr[{j}]: analytic {ana:.12e} numeric {num:.12e}");
                *worst = worst.max(err);
            }
        }
        let (nce, naux, nz) = (l2(&g_ce), l2(&g_aux), l2(&g_z));
        println!("{label}: wr |g_ce| {nce:.2e} |g_aux| {naux:.2e} |g_z| {nz:.2e}; skipped {skipped}");
        println!("  max|a-n| ce {worst_ce:.1e} aux {worst_aux:.1e} z {worst_z:.1e}");
        assert!(skipped <= 2, "{label}: {skipped} wr entries skipped");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Capacity and drops on hand-made fixtures
// ---------------------------------------------------------------------------------------------

#[test]
fn capacity_formula() {
    // C = ceil(cf · T · k / E), at most T; cf = ∞ gives T.
    assert_eq!(capacity(1.0, 256, 1, 8), 32, "cf = 1 is exactly a fair share");
    assert_eq!(capacity(1.25, 256, 1, 8), 40);
    assert_eq!(capacity(0.5, 256, 1, 8), 16);
    assert_eq!(capacity(1.0, 256, 2, 8), 64);
    assert_eq!(capacity(2.0, 256, 2, 8), 128);
    assert_eq!(capacity(f32::INFINITY, 256, 1, 8), 256);
    assert_eq!(capacity(f32::INFINITY, 100, 3, 64), 100);
    assert_eq!(capacity(1.1, 10, 1, 3), 4, "ceil(3.67) = 4");
    assert_eq!(capacity(1.0, 10, 1, 3), 4, "ceil(3.33) = 4");
    assert_eq!(capacity(1.0, 16, 1, 64), 1, "ceil(0.25) = 1");
    assert_eq!(capacity(0.5, 8, 1, 4), 1);
    assert_eq!(capacity(4.0, 16, 2, 4), 16, "clamped to T");
    assert_eq!(capacity(100.0, 16, 1, 2), 16, "clamped to T");
    // Config::capacity uses the same rule.
    let cfg = Config::default();
    assert_eq!(cfg.capacity(), capacity(1.25, 256, 1, 8));
    assert_eq!(Config { top_k: 2, capacity_factor: f32::INFINITY, ..cfg.clone() }.capacity(), 256);
}

/// cf is an f32, and 1.1 as an f32 is 1.100000024: `capacity` reads cf at its decimal value, so a
/// product that is a whole number in decimal is not rounded up by one.
#[test]
fn capacity_decimal_cf_exact_product() {
    // 1.1 · 320 · 1 / 8 = 44 exactly: C = ceil(44) = 44.
    assert_eq!(capacity(1.1, 320, 1, 8), 44);
    // 0.3 · 40 · 1 / 4 = 3 exactly.
    assert_eq!(capacity(0.3, 40, 1, 4), 3);
}

/// Flat [T, kmax] top-k buffer from per-token lists (ranks ≥ their length are UNUSED).
fn topk_buf(rows: &[&[u32]], kmax: usize) -> Vec<u32> {
    let mut v = vec![UNUSED; rows.len() * kmax];
    for (t, r) in rows.iter().enumerate() {
        v[t * kmax..t * kmax + r.len()].copy_from_slice(r);
    }
    v
}

#[test]
fn capacity_k1_all_on_one_expert() {
    // T = 6, E = 3, k = 1, cap 2: every token picks expert 0.
    let (t, e, cap) = (6, 3, 2);
    let topk = vec![0u32; 6];
    let a = routing::assign(&topk, t, 1, 1, e, cap);
    assert_eq!(a.slot, [0, 1, DROPPED, DROPPED, DROPPED, DROPPED]);
    assert_eq!(a.counts, [6, 0, 0], "counts are choices before dropping");
    assert_eq!(a.kept, [2, 0, 0]);
    let mut lists = vec![UNUSED; e * t];
    lists[0] = 0;
    lists[1] = 1;
    assert_eq!(a.lists, lists);
    assert_eq!(routing::drop_counts(&a.slot, t, 1, 1), (4, 4));
}

#[test]
fn capacity_k2_priority_first_choices_first() {
    // T = 4, E = 2, k = 2, cap 3. First choices: t0→0, t1→0, t2→1, t3→0; second choices t0→1,
    // t1→1, t2→0, t3→1. Priority "all first choices, then all second choices": expert 0 fills with
    // t0, t1, t3 (first choices), so t2's second choice (0) is dropped; expert 1 takes t2 (first),
    // then t0, t1 (second), so t3's second choice is dropped. Token-major order would instead keep
    // t2's second choice and drop both of t3's.
    let (t, e, k, kmax, cap) = (4, 2, 2, 2, 3);
    let topk = topk_buf(&[&[0, 1], &[0, 1], &[1, 0], &[0, 1]], kmax);
    let a = routing::assign(&topk, t, k, kmax, e, cap);
    #[rustfmt::skip]
    let want = [
        0, 1,       // t0: expert 0 slot 0, expert 1 slot 1
        1, 2,       // t1: expert 0 slot 1, expert 1 slot 2
        0, DROPPED, // t2: expert 1 slot 0, expert 0 full
        2, DROPPED, // t3: expert 0 slot 2, expert 1 full
    ];
    assert_eq!(a.slot, want);
    assert_eq!(a.counts, [4, 4]);
    assert_eq!(a.kept, [3, 3]);
    // lists[e·T + s] = assignment id t·kmax + r in slot order, UNUSED past kept.
    assert_eq!(a.lists, [0, 2, 6, UNUSED, 4, 1, 3, UNUSED]);
    assert_eq!(routing::drop_counts(&a.slot, t, k, kmax), (2, 0), "one choice dropped ≠ token dropped");
}

#[test]
fn capacity_lists_and_unused_ranks() {
    // k = 2 live out of kmax = 4: ranks 2, 3 stay UNUSED in slot; lists hold t·kmax + r.
    let (t, e, k, kmax, cap) = (5, 3, 2, 4, 3);
    let topk = topk_buf(&[&[2, 0], &[0, 2], &[2, 1], &[2, 0], &[1, 2]], kmax);
    let a = routing::assign(&topk, t, k, kmax, e, cap);
    // First choices: t0→2 s0, t1→0 s0, t2→2 s1, t3→2 s2, t4→1 s0.
    // Second: t0→0 s1, t1→2 DROP, t2→1 s1, t3→0 s2, t4→2 DROP.
    #[rustfmt::skip]
    let want = [
        0, 1, UNUSED, UNUSED,
        0, DROPPED, UNUSED, UNUSED,
        1, 1, UNUSED, UNUSED,
        2, 2, UNUSED, UNUSED,
        0, DROPPED, UNUSED, UNUSED,
    ];
    assert_eq!(a.slot, want);
    assert_eq!(a.counts, [3, 2, 5]);
    assert_eq!(a.kept, [3, 2, 3]);
    let id = |t: u32, r: u32| t * kmax as u32 + r;
    #[rustfmt::skip]
    let lists = [
        id(1, 0), id(0, 1), id(3, 1), UNUSED, UNUSED, // expert 0
        id(4, 0), id(2, 1), UNUSED, UNUSED, UNUSED,   // expert 1
        id(0, 0), id(2, 0), id(3, 0), UNUSED, UNUSED, // expert 2
    ];
    assert_eq!(a.lists, lists);
    // Every kept assignment appears exactly once in the lists, at its slot.
    for tt in 0..t {
        for r in 0..k {
            let s = a.slot[tt * kmax + r];
            if s != DROPPED {
                let ex = topk[tt * kmax + r] as usize;
                assert_eq!(a.lists[ex * t + s as usize], (tt * kmax + r) as u32);
            }
        }
    }
    assert_eq!(routing::drop_counts(&a.slot, t, k, kmax), (2, 0));
}

#[test]
fn top_k_ties_go_to_lower_index() {
    assert_eq!(routing::top_k(&[0.25f64, 0.25, 0.25, 0.25], 2), [0, 1]);
    assert_eq!(routing::top_k(&[0.25f64, 0.25, 0.25, 0.25], 4), [0, 1, 2, 3]);
    assert_eq!(routing::top_k(&[0.1f64, 0.4, 0.4, 0.1], 2), [1, 2]);
    assert_eq!(routing::top_k(&[0.1f64, 0.4, 0.4, 0.1], 4), [1, 2, 0, 3]);
    assert_eq!(routing::top_k(&[0.2f32, 0.3, 0.2, 0.3], 4), [1, 3, 0, 2]);
    assert_eq!(routing::top_k(&[0.1f32, 0.2, 0.7], 1), [2]);
    assert_eq!(routing::top_k(&[0.5f32, 0.1, 0.1, 0.3], 3), [0, 3, 1]);
}

#[test]
fn capacity_factor_below_one_drops_half() {
    // E = 4, T = 8, k = 1, cf = 0.5 → cap = ceil(0.5·8/4) = 1; every expert is picked twice.
    let (t, e) = (8, 4);
    let cap = capacity(0.5, t, 1, e);
    assert_eq!(cap, 1);
    let topk: Vec<u32> = vec![0, 1, 2, 3, 3, 2, 1, 0];
    let a = routing::assign(&topk, t, 1, 1, e, cap);
    assert_eq!(a.slot, [0, 0, 0, 0, DROPPED, DROPPED, DROPPED, DROPPED]);
    assert_eq!(a.counts, [2, 2, 2, 2]);
    assert_eq!(a.kept, [1, 1, 1, 1]);
    let (dropped, all) = routing::drop_counts(&a.slot, t, 1, 1);
    assert_eq!((dropped, all), (4, 4));
    assert_eq!(dropped as f64 / (t as f64), 0.5, "50% of assignments dropped");
}

#[test]
fn dropless_never_drops() {
    let t = 16;
    for (k, e) in [(1, 4), (2, 4), (4, 4), (3, 8)] {
        let cap = capacity(f32::INFINITY, t, k, e);
        assert_eq!(cap, t);
        // Worst case: every token ranks the experts identically.
        let row: Vec<u32> = (0..k as u32).collect();
        let rows: Vec<&[u32]> = vec![row.as_slice(); t];
        let topk = topk_buf(&rows, k);
        let a = routing::assign(&topk, t, k, k, e, cap);
        assert_eq!(routing::drop_counts(&a.slot, t, k, k), (0, 0), "k={k}");
        assert!(a.slot.iter().all(|&s| s < UNUSED));
        for i in 0..k {
            assert_eq!((a.counts[i], a.kept[i]), (t as u32, t as u32));
        }
    }
}

#[test]
fn drop_counts_all_dropped_only_when_every_choice_is() {
    // T = 4, E = 2, k = 2, cap 2, all tokens rank [0, 1]: t0, t1 keep both, t2, t3 lose both.
    let topk = [0u32, 1].repeat(4);
    let a = routing::assign(&topk, 4, 2, 2, 2, 2);
    assert_eq!(a.slot, [0, 0, 1, 1, DROPPED, DROPPED, DROPPED, DROPPED]);
    assert_eq!(routing::drop_counts(&a.slot, 4, 2, 2), (4, 2));
    // Hand-written slots: t0 one dropped, t1 both, t2 none, t3 one (rank 0).
    let slot = [0, DROPPED, DROPPED, DROPPED, 1, 2, DROPPED, 0];
    assert_eq!(routing::drop_counts(&slot, 4, 2, 2), (4, 1));
    // Ranks ≥ k are ignored even if they hold DROPPED.
    // k = 1 of kmax = 2: t0 kept, t1 dropped, t2 kept; the DROPPED at rank 1 must not count.
    let slot = [0, DROPPED, DROPPED, DROPPED, 1, DROPPED];
    assert_eq!(routing::drop_counts(&slot, 3, 1, 2), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// 3. Loss semantics
// ---------------------------------------------------------------------------------------------

/// The documented semantics written out independently of src/model (f64, straight loops, own
/// softmax / top-k / capacity), from the tensor layout documented on `Layout`.
struct Spec {
    ce: f64,
    aux: f64,
    z: f64,
    topk: Vec<Vec<u32>>,
    gates: Vec<Vec<f64>>,
    kept: Vec<Vec<bool>>,
    dropped: u32,
    all_dropped: u32,
}

fn spec_forward(p: &Params<f64>, b: &Batch, k: usize, cap: usize) -> Spec {
    let Dims { d, h: nh, e: ne, v: nv, tokens, .. } = p.dims;
    let (w, l) = (&p.w, &p.layout);
    let at = |r: &Range<usize>, i: usize| w[r.start + i];
    let nt = b.len();
    let lse_of = |v: &[f64]| {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    };
    let (mut xs, mut probs, mut lses, mut topk, mut gates) = (vec![], vec![], vec![], vec![], vec![]);
    for t in 0..nt {
        let x: Vec<f64> = (0..d)
            .map(|c| {
                if tokens {
                    let s: f64 = (0..CTX).map(|j| at(&l.emb, (j * nv + b.inputs[t * CTX + j] as usize) * d + c)).sum();
                    s.max(0.0)
                } else {
                    let [px, py] = b.point(t);
                    at(&l.w_in, c * 2) * px as f64 + at(&l.w_in, c * 2 + 1) * py as f64 + at(&l.b_in, c)
                }
            })
            .collect();
        let logits: Vec<f64> = (0..ne).map(|e| (0..d).map(|c| at(&l.wr, e * d + c) * x[c]).sum()).collect();
        let lse = lse_of(&logits);
        let pr: Vec<f64> = logits.iter().map(|z| (z - lse).exp()).collect();
        let mut order: Vec<u32> = (0..ne as u32).collect();
        order.sort_by(|&a, &c| pr[c as usize].partial_cmp(&pr[a as usize]).unwrap().then(a.cmp(&c)));
        order.truncate(k);
        let g: Vec<f64> = if k == 1 {
            vec![pr[order[0] as usize]]
        } else {
            let s: f64 = order.iter().map(|&i| pr[i as usize]).sum();
            order.iter().map(|&i| pr[i as usize] / s).collect()
        };
        xs.push(x);
        probs.push(pr);
        lses.push(lse);
        topk.push(order);
        gates.push(g);
    }
    // Capacity: all first choices in token order, then all second choices, ...
    let mut counts = vec![0usize; ne];
    let mut kept = vec![vec![false; k]; nt];
    for r in 0..k {
        for t in 0..nt {
            let e = topk[t][r] as usize;
            kept[t][r] = counts[e] < cap;
            counts[e] += 1;
        }
    }
    let mut ce = 0.0;
    for t in 0..nt {
        let x = &xs[t];
        let mut h = x.clone();
        for r in 0..k {
            if !kept[t][r] {
                continue; // a dropped assignment contributes zero; the residual carries the token
            }
            let e = topk[t][r] as usize;
            let hid: Vec<f64> = (0..nh)
                .map(|j| {
                    let pre =
                        at(&l.b1, e * nh + j) + (0..d).map(|c| at(&l.w1, (e * nh + j) * d + c) * x[c]).sum::<f64>();
                    pre.max(0.0)
                })
                .collect();
            for c in 0..d {
                let y = at(&l.b2, e * d + c) + (0..nh).map(|j| at(&l.w2, (e * d + c) * nh + j) * hid[j]).sum::<f64>();
                h[c] += gates[t][r] * y;
            }
        }
        let out: Vec<f64> =
            (0..nv).map(|v| at(&l.bo, v) + (0..d).map(|c| at(&l.wo, v * d + c) * h[c]).sum::<f64>()).collect();
        ce += lse_of(&out) - out[b.targets[t] as usize];
    }
    let ce = ce / nt as f64;
    let aux = ne as f64
        * (0..ne)
            .map(|i| {
                let f = counts[i] as f64 / (nt * k) as f64;
                let pm = probs.iter().map(|pr| pr[i]).sum::<f64>() / nt as f64;
                f * pm
            })
            .sum::<f64>();
    let z = lses.iter().map(|s| s * s).sum::<f64>() / nt as f64;
    let dropped = kept.iter().map(|r| r.iter().filter(|&&x| !x).count() as u32).sum();
    let all_dropped = kept.iter().filter(|r| r.iter().all(|&x| !x)).count() as u32;
    Spec { ce, aux, z, topk, gates, kept, dropped, all_dropped }
}

#[test]
fn forward_matches_independent_spec() {
    // Sums are reordered between the two implementations: agreement to 1e-11 (loss values O(1)).
    let tol = 1e-11;
    let mut with_drops = 0;
    let mut cases = 0;
    for dataset in [Dataset::Tokens, Dataset::Regions] {
        for k in 1..=4 {
            for cf in [0.5f32, 1.0, 1.25, f32::INFINITY] {
                for seed in [1u32, 2] {
                    let t = 24;
                    let (p, b) = setup(dataset, t, k, seed);
                    let kmax = p.dims.kmax;
                    assert_eq!(kmax, 4);
                    let cap = capacity(cf, t, k, p.dims.e);
                    let fw = forward(&p, &b, cap);
                    let sp = spec_forward(&p, &b, k, cap);
                    let label = format!("{dataset:?} k={k} cf={cf} seed={seed}");
                    assert_eq!(fw.cap, cap);
                    assert!((fw.ce - sp.ce).abs() < tol, "{label}: ce {} vs spec {}", fw.ce, sp.ce);
                    assert!((fw.aux - sp.aux).abs() < tol, "{label}: aux {} vs spec {}", fw.aux, sp.aux);
                    assert!((fw.z - sp.z).abs() < tol, "{label}: z {} vs spec {}", fw.z, sp.z);
                    assert_eq!((fw.dropped, fw.all_dropped), (sp.dropped, sp.all_dropped), "{label}: drop counts");
                    for tt in 0..t {
                        for r in 0..kmax {
                            let a = tt * kmax + r;
                            if r < k {
                                assert_eq!(fw.topk[a], sp.topk[tt][r], "{label}: topk[{tt}][{r}]");
                                assert!((fw.gates[a] - sp.gates[tt][r]).abs() < 1e-14, "{label}: gate[{tt}][{r}]");
                                assert_eq!(fw.assign.slot[a] != DROPPED, sp.kept[tt][r], "{label}: kept[{tt}][{r}]");
                                assert_ne!(fw.assign.slot[a], UNUSED, "{label}: live rank marked UNUSED");
                            } else {
                                assert_eq!(fw.topk[a], UNUSED, "{label}: rank ≥ k must be UNUSED in topk");
                                assert_eq!(fw.assign.slot[a], UNUSED, "{label}: rank ≥ k must be UNUSED in slot");
                            }
                        }
                    }
                    // f is the pre-drop share of the T·k choices; P the mean probability.
                    let fsum: f64 = fw.f.iter().sum();
                    let psum: f64 = fw.p_mean.iter().sum();
                    assert!(
                        (fsum - 1.0).abs() < 1e-12 && (psum - 1.0).abs() < 1e-12,
                        "{label}: Σf = {fsum}, ΣP = {psum}"
                    );
                    // The loss is CE + α·aux + β·z.
                    let want = fw.ce + ALPHA * fw.aux + BETA * fw.z;
                    assert_eq!(fw.loss(ALPHA, BETA), want);
                    with_drops += (sp.dropped > 0) as usize;
                    cases += 1;
                }
            }
        }
    }
    assert!(with_drops >= 10, "sweep should include capacity pressure ({with_drops} of {cases} cases dropped)");
}

/// Router weights all zero → p uniform → every top-k tie goes to the lowest indices.
#[test]
fn uniform_router_aux_one_and_z_ln_e_squared() {
    let t = 16;
    for dataset in [Dataset::Tokens, Dataset::Regions] {
        for k in 1..=4 {
            for cf in [1.0f32, f32::INFINITY] {
                let (mut p, b) = setup(dataset, t, k, 7);
                let (e, kmax) = (p.dims.e, p.dims.kmax);
                let wr = p.layout.wr.clone();
                p.w[wr].iter_mut().for_each(|x| *x = 0.0);
                let cap = capacity(cf, t, k, e);
                let fw = forward(&p, &b, cap);
                let label = format!("{dataset:?} k={k} cf={cf}");
                assert!(fw.probs.iter().all(|&q| (q - 0.25).abs() < 1e-15), "{label}: p not uniform");
                // f is concentrated on experts 0..k, P = 1/E, so aux = E·Σ f_i/E = Σ f_i = 1.
                assert!((fw.aux - 1.0).abs() < 1e-6, "{label}: uniform aux = {}", fw.aux);
                let ln_e = (e as f64).ln();
                assert!((fw.z - ln_e * ln_e).abs() < 1e-12, "{label}: z = {} vs (ln E)² = {}", fw.z, ln_e * ln_e);
                for tt in 0..t {
                    for r in 0..k {
                        assert_eq!(fw.topk[tt * kmax + r], r as u32, "{label}: ties go to the lower index");
                        let want_gate = if k == 1 { 0.25 } else { 1.0 / k as f64 };
                        assert!((fw.gates[tt * kmax + r] - want_gate).abs() < 1e-15, "{label}: gate");
                    }
                }
                for i in 0..e {
                    let want = if i < k { t as u32 } else { 0 };
                    assert_eq!(fw.assign.counts[i], want, "{label}: counts[{i}]");
                }
                // cf = 1: cap = 4k, each of the first k experts gets all 16 tokens, so
                // k·(16 − 4k) assignments are dropped and tokens 4k..16 lose every choice.
                let (want_d, want_all) = if cf.is_finite() { (k * (t - 4 * k), t - 4 * k) } else { (0, 0) };
                assert_eq!((fw.dropped as usize, fw.all_dropped as usize), (want_d, want_all), "{label}: drops");
            }
        }
    }
}

#[test]
fn gates_switch_raw_p_and_mixtral_renormalised() {
    for k in 1..=4 {
        let (p, b) = setup(Dataset::Tokens, 24, k, 9);
        let (e, kmax) = (p.dims.e, p.dims.kmax);
        let fw = forward(&p, &b, capacity(f32::INFINITY, 24, k, e));
        for t in 0..24 {
            let pr = &fw.probs[t * e..(t + 1) * e];
            let chosen = &fw.topk[t * kmax..t * kmax + k];
            let g = &fw.gates[t * kmax..t * kmax + k];
            assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            // Chosen experts are the k most probable, best first.
            for r in 1..k {
                assert!(pr[chosen[r - 1] as usize] >= pr[chosen[r] as usize]);
            }
            let worst_chosen = pr[chosen[k - 1] as usize];
            for i in 0..e as u32 {
                if !chosen.contains(&i) {
                    assert!(pr[i as usize] <= worst_chosen);
                }
            }
            if k == 1 {
                assert_eq!(g[0], pr[chosen[0] as usize], "k = 1: gate is the raw probability");
                assert!(g[0] < 1.0);
            } else {
                assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-14, "k ≥ 2: gates sum to 1");
                let s: f64 = chosen.iter().map(|&i| pr[i as usize]).sum();
                for r in 0..k {
                    assert!((g[r] - pr[chosen[r] as usize] / s).abs() < 1e-15);
                }
            }
            // z-loss term: lse of the router logits.
            let lg = &fw.logits[t * e..(t + 1) * e];
            let m = lg.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + lg.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
            assert!((fw.lse[t] - lse).abs() < 1e-14);
        }
    }
}

/// Dropped assignments contribute nothing: with every assignment dropped (cap 0) the MoE layer is
/// the identity (h = x), and expert parameters get exactly zero gradient.
#[test]
fn fully_dropped_batch_is_residual_only() {
    let (p, b) = setup(Dataset::Tokens, 16, 2, 10);
    let fw = forward(&p, &b, 0);
    assert_eq!((fw.dropped, fw.all_dropped), (32, 16));
    assert_eq!(fw.h, fw.x);
    let bw = backward(&p, &b, &fw, ALPHA, BETA);
    for r in [&p.layout.w1, &p.layout.b1, &p.layout.w2, &p.layout.b2] {
        assert!(bw.grads[r.clone()].iter().all(|&g| g == 0.0));
    }
    // The router still learns from aux and z (its probabilities are differentiable).
    assert!(l2(&bw.grads[p.layout.wr.clone()]) > 1e-6);
}

// ---------------------------------------------------------------------------------------------
// 4. Adam
// ---------------------------------------------------------------------------------------------

const HYPER: AdamHyper = AdamHyper { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, clip: None };

/// f32 result against an f64 value computed by hand from the same (f32) hyper-parameters:
/// relative 1e-5 (f32 rounding of a handful of operations) plus 1e-12 absolute for zeros.
fn close(got: f32, want: f64) -> bool {
    (got as f64 - want).abs() <= 1e-5 * want.abs() + 1e-12
}

#[test]
fn adam_first_and_second_step_by_hand() {
    let w0 = [1.0f32, -2.0, 0.5, 3.0];
    let g1 = [0.1f32, -0.3, 0.0, 2.0];
    let g2 = [-0.2f32, -0.1, 0.5, 1.0];
    let (mut w, mut m, mut v) = (w0.to_vec(), vec![0.0f32; 4], vec![0.0f32; 4]);
    assert!(adam_step(&mut w, &mut m, &mut v, &g1, 1, 1.0, HYPER));
    let (lr, b1, b2, eps) = (HYPER.lr as f64, HYPER.beta1 as f64, HYPER.beta2 as f64, HYPER.eps as f64);
    // After step 1, m̂ = g and v̂ = g² (bias correction), so the update is lr · g / (|g| + eps).
    for i in 0..4 {
        let g = g1[i] as f64;
        let want = w0[i] as f64 - lr * g / (g.abs() + eps);
        assert!(close(w[i], want), "step 1 w[{i}] = {} want {want}", w[i]);
        assert!(close(m[i], (1.0 - b1) * g), "step 1 m[{i}] = {}", m[i]);
        assert!(close(v[i], (1.0 - b2) * g * g), "step 1 v[{i}] = {}", v[i]);
    }
    assert_eq!(w[2], w0[2], "zero gradient, zero moment: no move");
    // Step 2 in f64 by hand.
    let w1: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    assert!(adam_step(&mut w, &mut m, &mut v, &g2, 2, 1.0, HYPER));
    for i in 0..4 {
        let (ga, gb) = (g1[i] as f64, g2[i] as f64);
        let mm = b1 * (1.0 - b1) * ga + (1.0 - b1) * gb;
        let vv = b2 * (1.0 - b2) * ga * ga + (1.0 - b2) * gb * gb;
        let (mh, vh) = (mm / (1.0 - b1 * b1), vv / (1.0 - b2 * b2));
        let want = w1[i] - lr * mh / (vh.sqrt() + eps);
        assert!(close(w[i], want), "step 2 w[{i}] = {} want {want}", w[i]);
        assert!(close(m[i], mm) && close(v[i], vv), "step 2 moments [{i}]");
    }
}

#[test]
fn adam_clipping_scales_to_clip_norm() {
    assert_eq!(grad_norm(&[3.0, 0.0, 4.0, 0.0]), 5.0);
    // The chunked sum agrees with a plain f64 norm on a longer vector.
    let long: Vec<f32> = (0..1000).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect();
    let plain = long.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt();
    assert!(close(grad_norm(&long), plain));

    let g = [3.0f32, 0.0, 4.0, 0.0]; // norm 5
    let run = |clip: Option<f32>| {
        let (mut w, mut m, mut v) = (vec![1.0f32; 4], vec![0.0f32; 4], vec![0.0f32; 4]);
        assert!(adam_step(&mut w, &mut m, &mut v, &g, 1, 0.5, AdamHyper { clip, ..HYPER }));
        (w, m, v)
    };
    let (b1, b2) = (HYPER.beta1 as f64, HYPER.beta2 as f64);
    // clip = 1 < 5: the gradient is scaled to norm 1, i.e. ĝ = [0.6, 0, 0.8, 0]:
    // m = (1 − β1)·ĝ, v = (1 − β2)·ĝ².
    let (_, m, v) = run(Some(1.0));
    let want = [0.6f64, 0.0, 0.8, 0.0];
    for i in 0..4 {
        assert!(close(m[i], (1.0 - b1) * want[i]), "clipped m[{i}] = {}", m[i]);
        assert!(close(v[i], (1.0 - b2) * want[i] * want[i]), "clipped v[{i}] = {}", v[i]);
    }
    // clip = 10 > 5: untouched, bit-identical to no clipping; m = (1 − β1)·g.
    let (w_a, m_a, v_a) = run(Some(10.0));
    let (w_b, m_b, v_b) = run(None);
    assert_eq!((&w_a, &m_a, &v_a), (&w_b, &m_b, &v_b));
    for i in 0..4 {
        assert!(close(m_b[i], (1.0 - b1) * g[i] as f64));
    }
}

#[test]
fn adam_skips_non_finite_steps() {
    let g_ok = [0.1f32, -0.2, 0.3];
    let (mut w, mut m, mut v) = (vec![1.0f32, 2.0, 3.0], vec![0.0f32; 3], vec![0.0f32; 3]);
    assert!(adam_step(&mut w, &mut m, &mut v, &g_ok, 1, 1.0, HYPER));
    let before = (w.clone(), m.clone(), v.clone());
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let cases: [(f32, [f32; 3]); 5] = [
        (f32::NAN, g_ok),
        (f32::INFINITY, g_ok),
        (f32::NEG_INFINITY, g_ok),
        (1.0, [0.1, f32::NAN, 0.3]),
        (1.0, [f32::INFINITY, 0.0, 0.3]),
    ];
    for (loss, g) in cases {
        for clip in [None, Some(1.0)] {
            let ok = adam_step(&mut w, &mut m, &mut v, &g, 2, loss, AdamHyper { clip, ..HYPER });
            assert!(!ok, "loss {loss}, g {g:?}: must be skipped");
            assert_eq!(bits(&w), bits(&before.0), "w changed");
            assert_eq!(bits(&m), bits(&before.1), "m changed");
            assert_eq!(bits(&v), bits(&before.2), "v changed");
        }
    }
    // And a finite step afterwards still works.
    assert!(adam_step(&mut w, &mut m, &mut v, &g_ok, 2, 1.0, HYPER));
    assert_ne!(bits(&w), bits(&before.0));
}

// ---------------------------------------------------------------------------------------------
// 5. CpuTrainer
// ---------------------------------------------------------------------------------------------

fn snapshot(tr: &mut CpuTrainer) -> moe_playground::metrics::Snapshot {
    assert!(tr.request_snapshot());
    tr.poll_snapshot().expect("CPU snapshot is ready at once")
}

#[test]
fn cpu_trainer_learns() {
    let cfg = Config::default();
    let ln_v = (VOCAB.len() as f32).ln();
    assert_eq!(cfg.vocab(), VOCAB.len());
    let mut tr = CpuTrainer::new(&cfg).unwrap();
    tr.train(1);
    let first = snapshot(&mut tr);
    tr.train(249);
    let _ = snapshot(&mut tr);
    tr.train(50);
    let last = snapshot(&mut tr);
    println!(
        "ln V = {ln_v:.3}; CE step 1 = {:.3}; window CE steps 251..300 = {:.3}, accuracy {:.3}",
        first.ce, last.ce, last.accuracy
    );
    assert_eq!((tr.steps(), last.step, last.steps, last.updates, last.skipped), (300, 300, 50, 300, 0));
    // The initial model is close to uniform over the vocabulary.
    assert!(first.ce > ln_v - 0.5 && first.ce < ln_v + 1.0, "initial CE {} far from ln V = {ln_v}", first.ce);
    assert!(last.ce < ln_v - 1.5, "after 300 steps CE {} is not well below ln V = {ln_v}", last.ce);
    assert!(last.accuracy > first.accuracy + 0.2);
    assert!(last.ce.is_finite() && last.aux.is_finite() && last.z.is_finite());
}

#[test]
fn cpu_trainer_is_deterministic() {
    let cfg = Config { top_k: 2, alpha: 0.05, beta: 0.01, ..Config::default() };
    let run = |cfg: &Config| {
        let mut tr = CpuTrainer::new(cfg).unwrap();
        tr.train(12);
        let s1 = snapshot(&mut tr);
        tr.train(8);
        let s2 = snapshot(&mut tr);
        let w: Vec<u32> = tr.params().w.iter().map(|x| x.to_bits()).collect();
        // Debug prints every f32 in shortest round-trip form: equal strings ⇔ equal bits.
        (format!("{s1:?}"), format!("{s2:?}"), w)
    };
    let a = run(&cfg);
    let b = run(&cfg);
    assert!(a.0 == b.0 && a.1 == b.1, "snapshots differ between identical runs");
    assert!(a.2 == b.2, "weights differ between identical runs");
    let c = run(&Config { seed: 2, ..cfg.clone() });
    assert!(a.1 != c.1 && a.2 != c.2, "a different seed must give a different run (test is not vacuous)");
}

#[test]
fn cpu_trainer_set_live_changes_k() {
    let cfg = Config::default();
    assert_eq!(cfg.top_k, 1);
    let mut tr = CpuTrainer::new(&cfg).unwrap();
    tr.train(5);
    let s1 = snapshot(&mut tr);
    assert_eq!((s1.k, s1.probe.k, s1.probe.topk.len()), (1, 1, PROBE));
    assert_eq!(s1.choices.iter().sum::<u32>(), 5 * 256);
    let w_before = tr.params().w.clone();
    // Out of range k is refused and changes nothing.
    assert!(tr.set_live(moe_playground::config::LiveKnobs { top_k: 9, ..cfg.live() }).is_err());
    assert_eq!(tr.config().top_k, 1);
    tr.set_live(moe_playground::config::LiveKnobs { top_k: 2, ..cfg.live() }).unwrap();
    assert_eq!(tr.steps(), 5, "set_live must not reset the step count");
    assert_eq!(tr.params().w, w_before, "set_live must keep the trained weights");
    tr.train(5);
    let s2 = snapshot(&mut tr);
    assert_eq!((tr.steps(), s2.step, s2.steps, s2.updates), (10, 10, 5, 10));
    assert_eq!(s2.k, 2);
    assert_eq!(s2.capacity as usize, capacity(1.25, 256, 2, 8));
    assert_eq!(s2.probe.k, 2);
    assert_eq!(s2.probe.topk.len(), PROBE * 2);
    assert_eq!(s2.probe.gates.len(), PROBE * 2);
    assert_eq!(s2.probe.dropped.len(), PROBE * 2);
    assert_eq!(s2.choices.iter().sum::<u32>(), 5 * 256 * 2, "window counts T·k choices per step");
    for t in 0..PROBE {
        let g = &s2.probe.gates[t * 2..t * 2 + 2];
        assert!((g[0] + g[1] - 1.0).abs() < 1e-5, "k = 2 probe gates sum to 1");
        assert_ne!(s2.probe.topk[t * 2], s2.probe.topk[t * 2 + 1]);
    }
}

/// Snapshot drop totals equal the sum of the per-step drops the traces show.
#[test]
fn cpu_trainer_window_drop_accounting() {
    let cfg = Config { tokens: 64, top_k: 2, capacity_factor: 0.5, ..Config::default() };
    let cap = cfg.capacity();
    assert_eq!(cap, 8);
    let mut tr = CpuTrainer::new(&cfg).unwrap();
    let (mut dropped, mut all, mut kept) = (0u32, 0u32, 0u32);
    for _ in 0..4 {
        tr.train(1);
        let tc = tr.last_trace();
        assert_eq!(tc.capacity as usize, cap);
        for row in &tc.dropped {
            let d = row.iter().filter(|&&x| x).count() as u32;
            dropped += d;
            all += (d == row.len() as u32) as u32;
        }
        kept += tc.kept.iter().sum::<u32>();
        assert!(tc.kept.iter().all(|&n| n as usize <= cap));
        assert_eq!(tc.counts.iter().sum::<u32>(), 64 * 2);
    }
    let s = snapshot(&mut tr);
    assert!(dropped > 0, "cf = 0.5 must drop");
    assert_eq!((s.dropped, s.all_dropped), (dropped, all));
    assert_eq!(s.kept.iter().sum::<u32>(), kept);
    assert_eq!(s.choices.iter().sum::<u32>(), kept + dropped, "choices = kept + dropped");
}

/// The router units' decided semantics on hand-made inputs (exact): hash gives k distinct experts
/// that depend only on the key; aux-free chooses on logits + bias but gates with p, and moves the
/// bias by ±γ toward the mean load (0 at the mean); GShard dispatches the second expert iff the
/// draw u < 2·g2; the drop orders.
#[test]
fn router_units_follow_their_rules() {
    use moe_playground::model::routers::{hash::hash_experts, unit, unit_draw, RouteIn, RouteOut};
    let r = |n: &str| RouterKind::from_name(n).unwrap();
    // hash: distinct, stable, spread.
    for key in 0..40u32 {
        for k in 1..=4 {
            let h = hash_experts(key, k, 8);
            let mut s = h.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), k, "distinct experts for key {key}");
            assert_eq!(h[..1], hash_experts(key, 1, 8)[..], "rank 0 does not depend on k");
        }
    }
    let used: std::collections::HashSet<u32> = (0..40).map(|key| hash_experts(key, 1, 8)[0]).collect();
    assert_eq!(used.len(), 8, "40 keys reach all 8 experts");
    // aux-free: logits [0, 1, 2, 3], bias [3, 0, 0, 0] → chooses expert 0 (score 3 vs 3: tie to the
    // lower index), gate = p_0 (k = 1, the unbiased probability).
    let logits = [0.0f64, 1.0, 2.0, 3.0];
    let (p, _) = routing::softmax(&logits);
    let bias = [3.0f64, 0.0, 0.0, 0.0];
    let keys = [0u32, 0];
    let i = RouteIn {
        e: 4,
        k: 1,
        kmax: 4,
        t: 1,
        cap: 1,
        logits: &logits,
        probs: &p,
        nlog: &[0.0; 4],
        bias: &bias,
        keys: &keys,
        train: true,
        mix: false,
        post: &[],
    };
    let mut o = RouteOut::new(1, 4, 4);
    unit::<f64>(r("aux-free")).route(0, &i, &mut o);
    assert_eq!(o.topk[0], 0);
    assert_eq!(o.gates[0], p[0]);
    assert_eq!(o.scores, vec![3.0, 1.0, 2.0, 3.0]);
    let mut b = vec![0.0f64; 4];
    unit::<f64>(r("aux-free")).update(&mut b, &[4, 2, 1, 1], 0.5);
    assert_eq!(b, vec![-0.5, 0.0, 0.5, 0.5], "mean load 2: over → down, at → 0, under → up");
    // gshard-top2: p = [0.6, 0.3, 0.1] → g2 = 1/3, dispatched iff u < 2/3.
    let p3 = [0.6f64, 0.3, 0.1];
    for (u, dropped) in [(0.5f32, false), (0.7, true), (0.0, false)] {
        let word = ((u * 16_777_216.0) as u32) << 8;
        assert_eq!(unit_draw(word), u);
        let keys = [0u32, word];
        let i = RouteIn {
            e: 3,
            k: 2,
            kmax: 2,
            t: 1,
            cap: 1,
            logits: &p3,
            probs: &p3,
            nlog: &[0.0; 3],
            bias: &[0.0; 3],
            keys: &keys,
            train: true,
            mix: false,
            post: &[],
        };
        let mut o = RouteOut::new(1, 3, 2);
        unit::<f64>(r("gshard-top2")).route(0, &i, &mut o);
        assert_eq!(o.topk[..2], [0, 1]);
        assert!((o.gates[1] - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(o.random, vec![false, dropped], "u = {u}");
    }
    // drop orders: probability by max p descending (ties by position), random by draw.
    let probs = [0.5f64, 0.5, 0.9, 0.1, 0.5, 0.5, 0.7, 0.3];
    let keys = [0u32, 30, 0, 10, 0, 20, 0, 10];
    assert_eq!(routing::drop_order(DropPolicy::Position, &probs, &keys, 4, 2), [0, 1, 2, 3]);
    assert_eq!(routing::drop_order(DropPolicy::Probability, &probs, &keys, 4, 2), [1, 3, 0, 2]);
    assert_eq!(routing::drop_order(DropPolicy::Random, &probs, &keys, 4, 2), [1, 3, 2, 0]);
    // capacity in that order: 4 tokens all on expert 0, C = 2, order [1, 3, 0, 2] keeps 1 and 3.
    let a = routing::assign_ordered(&[0, 0, 0, 0], &[false; 4], &[false; 4], &[1, 3, 0, 2], 4, 1, 0, 1, 1, 2);
    assert_eq!(a.slot, vec![DROPPED, 0, DROPPED, 1]);
    // a random drop counts as a choice but takes no slot.
    let a = routing::assign_ordered(
        &[0, 0, 0, 0],
        &[true, false, false, false],
        &[false; 4],
        &[0, 1, 2, 3],
        4,
        1,
        0,
        1,
        1,
        2,
    );
    assert_eq!(
        (a.slot.clone(), a.counts.clone(), a.kept.clone()),
        (vec![routing::RANDOM, 0, 1, DROPPED], vec![4], vec![2])
    );
    assert_eq!(routing::drop_counts(&a.slot, 4, 1, 1), (2, 2));
}

/// Φ: the f64 reference to 1e-14 at known values, the f32 formula (the shaders') within 2e-7.
#[test]
fn normal_cdf_both_precisions() {
    use moe_playground::model::Real;
    for (z, want) in [
        (0.0, 0.5),
        (1.0, 0.841_344_746_068_542_9),
        (-2.0, 0.022_750_131_948_179_2),
        (3.0, 0.998_650_101_968_369_9),
        (-4.5, 3.397_673_124_730_062e-6),
        (0.3, 0.617_911_422_188_953_1),
    ] {
        let got = <f64 as Real>::normal_cdf(z);
        assert!((got - want).abs() < 1e-14, "f64 Φ({z}) = {got}, want {want}");
        let got32 = <f32 as Real>::normal_cdf(z as f32) as f64;
        assert!((got32 - want).abs() < 2e-7, "f32 Φ({z}) = {got32}, want {want}");
    }
}

/// cv2 balance: CV² with the population variance (uniform loads give 0), and its gradient against
/// finite differences.
#[test]
fn cv2_value_and_gradient() {
    assert_eq!(routing::cv2(&[2.0f64, 2.0, 2.0]), 0.0);
    // mean 2, variance ((−2)² + 0 + 2²)/3 = 8/3 → CV² = 8/3 / 4 = 2/3.
    assert!((routing::cv2(&[0.0f64, 2.0, 4.0]) - 2.0 / 3.0).abs() < 1e-15);
    let x = [0.3f64, 1.7, 0.9, 2.4];
    let g = routing::cv2_grad(&x);
    for i in 0..4 {
        let (mut a, mut b) = (x, x);
        a[i] += 1e-6;
        b[i] -= 1e-6;
        let num = (routing::cv2(&a) - routing::cv2(&b)) / 2e-6;
        assert!((num - g[i]).abs() < 1e-8, "d cv2 / d x{i}: {} vs {num}", g[i]);
    }
}

/// The cv2 balance loss's own gradient, apart from the cross-entropy: (grad at α − grad at 0) / α
/// against central differences of `aux` = CV²(importance) + CV²(load), on the router weights W_r and
/// (noisy router, whose load is the smooth estimate) W_noise; noise and draws fixed.
#[test]
fn cv2_balance_gradient_matches_finite_differences() {
    for name in ["noisy-topk", "softmax-topk"] {
        let r = RouterKind::from_name(name).unwrap();
        let (mut p, b) = setup(Dataset::Tokens, 24, 2, 41);
        let rt = Routing {
            router: r,
            policy: DropPolicy::Position,
            keys: routing::route_keys(&b, p.dims.tokens, 41, Some(3)),
            bias: vec![0.0; p.dims.e],
            train: true,
            balance: Balance::Cv2,
        };
        let cap = capacity(f32::INFINITY, 24, 2, p.dims.e);
        let fw = forward_routed(&p, &b, cap, rt.clone());
        let ga = backward(&p, &b, &fw, 1.0, 0.0).grads;
        let g0 = backward(&p, &b, &fw, 0.0, 0.0).grads;
        let (wr, wn) = (p.layout.wr.clone(), p.layout.wn.clone());
        let mut checked = 0;
        let mut max_grad = (0.0f64, 0.0f64);
        for i in wr.clone().chain(wn.clone()) {
            let w0 = p.w[i];
            p.w[i] = w0 + FD_EPS;
            let fp = forward_routed(&p, &b, cap, rt.clone());
            p.w[i] = w0 - FD_EPS;
            let fm = forward_routed(&p, &b, cap, rt.clone());
            p.w[i] = w0;
            if !same_routing(&fp, &fw) || !same_routing(&fm, &fw) {
                continue;
            }
            let num = (fp.aux - fm.aux) / (2.0 * FD_EPS);
            let ana = ga[i] - g0[i];
            assert!(
                (ana - num).abs() <= FD_ABS + FD_REL * num.abs(),
                "{name}: d aux / d w[{i}]: analytic {ana:.10e} vs numeric {num:.10e}"
            );
            checked += 1;
            if wr.contains(&i) {
                max_grad.0 = max_grad.0.max(num.abs());
            } else {
                max_grad.1 = max_grad.1.max(num.abs());
            }
        }
        println!("{name}: {checked} entries, max |d aux/d wr| {:.2e}, |d aux/d wn| {:.2e}", max_grad.0, max_grad.1);
        assert!(checked >= 40, "{name}: checked {checked}");
        assert!(max_grad.0 > 1e-4, "{name}: cv2 reaches W_r");
        if name == "noisy-topk" {
            assert!(max_grad.1 > 1e-4, "the smooth load reaches W_noise");
        } else {
            assert_eq!(max_grad.1, 0.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Stages and kernels
// ---------------------------------------------------------------------------------------------

/// Kernels of the step whose CPU twins are not stages of src/model/forward.rs, backward.rs: the batch
/// sampler, the optimiser, the router unit's update and the metrics (with where each twin is).
const NOT_STAGES: &[(&str, &str)] = &[
    ("sample_batch", "data::Pool::batch, model::routing::route_keys"),
    ("grad_norm", "model::adam::grad_norm"),
    ("adam", "model::adam::adam_step"),
    ("route_update", "model::routers::Router::update"),
    ("metrics_accum", "trainer.rs: CpuTrainer's window (accumulate)"),
    ("advance", "trainer.rs: CpuTrainer's step counters"),
];

/// Every kernel of the training step (`gpu::kernels::STEP`) but those of [`NOT_STAGES`] has a CPU
/// stage of the same name (`model::STAGES`, each a function of `model::stages`), in the same order,
/// and every CPU stage is a kernel of the step.
#[test]
fn every_step_kernel_has_a_cpu_stage_of_its_name() {
    use moe_playground::gpu::kernels;
    use moe_playground::model::STAGES;
    // The step's kernels by entry point (each stage is named like its kernel).
    let step_kernels: Vec<&str> = kernels::STEP.iter().map(|k| k.name()).collect();
    for (k, twin) in NOT_STAGES {
        assert!(step_kernels.contains(k), "{k} is no longer a kernel of the step (its twin: {twin})");
        assert!(!STAGES.contains(k), "{k} is a stage: drop it from NOT_STAGES");
    }
    let step: Vec<&str> = step_kernels.iter().copied().filter(|k| !NOT_STAGES.iter().any(|(n, _)| n == k)).collect();
    for k in &step {
        assert!(STAGES.contains(k), "kernel {k} has no CPU stage of its name (src/model, model::STAGES)");
    }
    for s in STAGES {
        assert!(step_kernels.contains(s), "CPU stage {s} is not a kernel of the step");
        assert!(kernels::info(s).is_some(), "CPU stage {s} has no WGSL entry point");
    }
    assert_eq!(step, STAGES, "the stages run in the step's order");
    // The forward pass the probe and the evaluation run is the same stages.
    for k in kernels::FORWARD.iter().filter(|k| k.name() != "sample_batch") {
        assert!(STAGES.contains(&k.name()), "forward kernel {k} has no CPU stage");
    }
    println!(
        "{} kernels of the step: {} CPU stages, {} twins elsewhere",
        kernels::STEP.len(),
        STAGES.len(),
        NOT_STAGES.len()
    );
}
