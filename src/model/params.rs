//! Shapes and the flat parameter layout shared by the reference and the GPU (one buffer, offsets).
use super::Real;
use crate::config::{Config, Dataset};
use crate::data::CTX;
use crate::rng::Rng;
use std::ops::Range;

/// Router weights start at this fraction of the usual U(±1/√d) scale.
pub const ROUTER_INIT_SCALE: f64 = 0.1;

/// Sizes of one model, as the step sees them: `e` routed experts (the router's width; E·m with
/// fine-grained experts) of hidden width `h` (H/m), `k` live routed ranks per token (k·m, or every
/// routed expert for the routers with `all_experts`), then `shared` shared experts. A token's
/// assignments are ranks `0..k` (routed) and `k..k + shared` (the shared experts e + j, gate 1);
/// the [T, K] buffers hold `kmax` ranks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dims {
    pub t: usize,
    pub d: usize,
    pub h: usize,
    pub e: usize,
    pub k: usize,
    pub kmax: usize,
    pub v: usize,
    pub tokens: bool,
    pub shared: usize,
    /// The competitive mixture loss is on (the dense mixture: each routed expert's own prediction
    /// head(h + y_i) is scored; `Config::competitive`).
    pub mix: bool,
}

impl Dims {
    pub fn new(cfg: &Config) -> Dims {
        Dims {
            t: cfg.tokens,
            d: cfg.d,
            h: cfg.expert_hidden(),
            e: cfg.routed_experts(),
            k: cfg.routed_k(),
            kmax: cfg.rank_slots(),
            v: cfg.vocab(),
            tokens: cfg.dataset == Dataset::Tokens,
            shared: cfg.shared,
            mix: cfg.competitive(),
        }
    }
    /// Live ranks per token: the routed k, then the shared experts.
    pub fn ranks(&self) -> usize {
        self.k + self.shared
    }
    /// Experts with weights: the routed ones, then the shared ones.
    pub fn n_experts(&self) -> usize {
        self.e + self.shared
    }
    /// Input ids per token (tokens: one embedding table per context position).
    pub fn ctx(&self) -> usize {
        CTX
    }
}

/// Where each tensor lives in the flat parameter (and gradient, m, v) buffer.
/// Row-major shapes: emb [CTX, V, d] (tokens), w_in [d, 2] and b_in [d] (regions), wr [E, d],
/// w1 [X, H, d], b1 [X, H], w2 [X, d, H], b2 [X, d] (X = E routed + N shared experts), wo [V, d], bo [V], wn [E, d] (the noisy
/// top-k router's noise weights; every model has them so the router can change live).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub emb: Range<usize>,
    pub w_in: Range<usize>,
    pub b_in: Range<usize>,
    pub wr: Range<usize>,
    pub w1: Range<usize>,
    pub b1: Range<usize>,
    pub w2: Range<usize>,
    pub b2: Range<usize>,
    pub wo: Range<usize>,
    pub bo: Range<usize>,
    pub wn: Range<usize>,
    pub total: usize,
}

impl Layout {
    pub fn new(m: &Dims) -> Layout {
        let mut at = 0;
        let mut take = |n: usize| {
            let r = at..at + n;
            at += n;
            r
        };
        let emb = take(if m.tokens { CTX * m.v * m.d } else { 0 });
        let w_in = take(if m.tokens { 0 } else { m.d * 2 });
        let b_in = take(if m.tokens { 0 } else { m.d });
        let wr = take(m.e * m.d);
        let x = m.n_experts();
        let w1 = take(x * m.h * m.d);
        let b1 = take(x * m.h);
        let w2 = take(x * m.d * m.h);
        let b2 = take(x * m.d);
        let wo = take(m.v * m.d);
        let bo = take(m.v);
        let wn = take(m.e * m.d);
        Layout { emb, w_in, b_in, wr, w1, b1, w2, b2, wo, bo, wn, total: at }
    }
    /// (name, range) of every tensor, for reports and per-tensor checks.
    pub fn tensors(&self) -> Vec<(&'static str, Range<usize>)> {
        vec![
            ("emb", self.emb.clone()),
            ("w_in", self.w_in.clone()),
            ("b_in", self.b_in.clone()),
            ("wr", self.wr.clone()),
            ("w1", self.w1.clone()),
            ("b1", self.b1.clone()),
            ("w2", self.w2.clone()),
            ("b2", self.b2.clone()),
            ("wo", self.wo.clone()),
            ("bo", self.bo.clone()),
            ("wn", self.wn.clone()),
        ]
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .collect()
    }
}

/// All parameters, flat, with their layout.
#[derive(Clone, Debug)]
pub struct Params<F> {
    pub dims: Dims,
    pub layout: Layout,
    pub w: Vec<F>,
}

impl<F: Real> Params<F> {
    /// PyTorch-style init from the seed: embeddings N(0, 1); every linear layer U(±1/√fan_in);
    /// biases zero. The router has no bias and an i.i.d. symmetric init scaled down 10× (Switch
    /// Transformer's advice): routing starts near uniform, so no expert is favoured by the draw and
    /// any collapse seen later is learned.
    pub fn init(dims: Dims, seed: u32) -> Params<F> {
        let layout = Layout::new(&dims);
        let mut w = vec![F::zero(); layout.total];
        let mut rng = Rng::new(0x1217 ^ ((seed as u64) << 24));
        let mut fill = |r: &Range<usize>, f: &mut dyn FnMut(&mut Rng) -> f64| {
            for x in &mut w[r.clone()] {
                *x = F::of(f(&mut rng));
            }
        };
        let u = |fan: usize| move |r: &mut Rng| r.uniform(-1.0, 1.0) / (fan as f64).sqrt();
        fill(&layout.emb, &mut |r| r.normal());
        fill(&layout.w_in, &mut u(2));
        fill(&layout.wr, &mut |r| ROUTER_INIT_SCALE * u(dims.d)(r));
        fill(&layout.w1, &mut u(dims.d));
        fill(&layout.w2, &mut u(dims.h));
        fill(&layout.wo, &mut u(dims.d));
        // wn stays 0 (Shazeer et al.: noise std softplus(0) ≈ 0.69 to start, learned from there).
        Params { dims, layout, w }
    }

    /// Every tensor, biases included, drawn at random (tests use this so no term is trivially 0).
    pub fn random(dims: Dims, seed: u32) -> Params<F> {
        let mut p = Self::init(dims, seed);
        let mut rng = Rng::new(seed as u64 ^ 0xB1A5);
        for r in [&p.layout.b_in, &p.layout.b1, &p.layout.b2, &p.layout.bo] {
            for x in &mut p.w[r.clone()] {
                *x = F::of(rng.uniform(-0.2, 0.2));
            }
        }
        for x in &mut p.w[p.layout.wn.clone()] {
            *x = F::of(rng.uniform(-0.5, 0.5));
        }
        p
    }

    pub fn cast<G: Real>(&self) -> Params<G> {
        Params { dims: self.dims, layout: self.layout.clone(), w: self.w.iter().map(|x| G::of(x.f64())).collect() }
    }
}
