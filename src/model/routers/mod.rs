//! Router units. A router decides, per token, which experts it goes to (`route`), how the gate
//! gradients reach the router probabilities (`gate_grad`), and what per-expert state it updates
//! after a training step (`update`). Each unit is one file here (its CPU twin, the reference) and one
//! file in shaders/routers/ with the same name (its WGSL: `route_<name>`, `route_grad_<name>`,
//! `route_update_<name>`); build.rs generates the shaders' dispatch from that folder.
//!
//! Adding a router: write `src/model/routers/<name>.rs` (a unit struct implementing [`Router`]),
//! write `shaders/routers/<name>.wgsl` (the three functions), add its [`RouterInfo`] to the registry
//! [`ROUTERS`] in src/config/routers.rs (the config sits below the model, so what a router is lives
//! there) and one line, in the same place, to [`registry!`] below. Config, URL, CLI, page and the
//! parity and gradient tests pick it up from [`ROUTERS`].
//!
//! Shared stages around the unit (`router`: logits, softmax; `drop_order`, `capacity`; the balance
//! and z losses in `router_grad`) are in src/model/routing.rs and forward.rs/backward.rs.
use super::routing;
use super::Real;
use crate::config::RouterKind;
pub use crate::config::{RouterInfo, ROUTERS};

pub mod aux_free;
pub mod dense_mixture;
pub mod expert_choice;
pub mod gshard_top2;
pub mod hash;
pub mod noisy_topk;
pub mod softmax_topk;

/// One batch's router inputs (rows t of [T, E] buffers; `keys` is [T, 2]: hash key, random draw).
pub struct RouteIn<'a, F> {
    pub e: usize,
    pub k: usize,
    pub kmax: usize,
    /// The batch's rows T and the capacity C per expert (expert choice picks C tokens per expert).
    pub t: usize,
    pub cap: usize,
    pub logits: &'a [F],
    pub probs: &'a [F],
    /// [T, E] x·W_noise (the noisy router's noise logits).
    pub nlog: &'a [F],
    pub bias: &'a [F],
    pub keys: &'a [u32],
    /// A training step (noise and random draws apply); false in evaluation and the probe.
    pub train: bool,
    /// The competitive mixture loss is on, and (in `route_grad`) the posterior of each expert
    /// [T, E] it computed (`mix_grad`; empty in `route`).
    pub mix: bool,
    pub post: &'a [F],
}

impl<F: Real> RouteIn<'_, F> {
    pub fn probs_of(&self, t: usize) -> &[F] {
        &self.probs[t * self.e..(t + 1) * self.e]
    }
    pub fn logits_of(&self, t: usize) -> &[F] {
        &self.logits[t * self.e..(t + 1) * self.e]
    }
    pub fn nlog_of(&self, t: usize) -> &[F] {
        &self.nlog[t * self.e..(t + 1) * self.e]
    }
}

/// Gradients a router unit's `gate_grad` adds for token t, each of length E: `dp` (through the
/// router probabilities, then the softmax), `dl` (straight to the logits), `dn` (to the noise
/// logits x·W_noise).
pub struct GateGrad<'a, F> {
    pub dp: &'a mut [F],
    pub dl: &'a mut [F],
    pub dn: &'a mut [F],
}

/// What `route` writes for token t: rows of [T, K] (`topk`, `gates`, `random`: the assignment is
/// dropped at random before capacity, `unpicked`: the expert did not pick the token, expert choice)
/// and of [T, E] (`scores`: what the top-k chose on).
#[derive(Clone, Debug, PartialEq)]
pub struct RouteOut<F> {
    pub topk: Vec<u32>,
    pub gates: Vec<F>,
    pub random: Vec<bool>,
    pub unpicked: Vec<bool>,
    pub scores: Vec<F>,
    /// [T, E] the smooth load estimate P(token, expert) (routers with `smooth_load`, in training).
    pub load_p: Vec<F>,
    /// [T, E] its argument z (for the gradient) and [T] the expert of the (k+1)-th largest score.
    pub load_z: Vec<F>,
    pub next: Vec<u32>,
    /// [T, E] the noise ε the router drew (noisy router, training).
    pub eps: Vec<F>,
}

impl<F: Real> RouteOut<F> {
    pub fn new(t: usize, e: usize, kmax: usize) -> RouteOut<F> {
        RouteOut {
            topk: vec![routing::UNUSED; t * kmax],
            gates: vec![F::zero(); t * kmax],
            random: vec![false; t * kmax],
            unpicked: vec![false; t * kmax],
            scores: vec![F::zero(); t * e],
            load_p: vec![F::zero(); t * e],
            load_z: vec![F::zero(); t * e],
            next: vec![routing::UNUSED; t],
            eps: vec![F::zero(); t * e],
        }
    }
}

/// A router unit's CPU twin.
pub trait Router<F: Real>: Sync {
    /// `route`: the experts, gates, random drops and scores of token `t`.
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>);
    /// `route_grad`: token `t`'s gradients from its gate gradients `dg`, chosen `topk` and `gates`
    /// (k_max ranks each) into `o` (see [`GateGrad`]).
    fn gate_grad(&self, t: usize, i: &RouteIn<F>, topk: &[u32], gates: &[F], dg: &[F], o: GateGrad<F>);
    /// The cv2 load term of `route_grad` (routers with `smooth_load`): add the gradient of the
    /// loss through token `t`'s smooth load estimates, given d loss / d load_i (`dload`, [E]) and
    /// what `route` stored (`o`: load_z, next, eps).
    fn load_grad(&self, _t: usize, _i: &RouteIn<F>, _o: &RouteOut<F>, _dload: &[F], _g: GateGrad<F>) {}
    /// `route_update`: after a training step, from its per-expert choice counts.
    fn update(&self, _bias: &mut [F], _counts: &[u32], _gamma: F) {}
}

/// The registry: one line per router unit (module :: unit struct), in the order of [`ROUTERS`]
/// (a test below checks that the two lists agree).
macro_rules! registry {
    ($($m:ident :: $unit:ident),* $(,)?) => {
        /// The unit module of every router, in the order of [`ROUTERS`].
        #[cfg(test)]
        const UNITS: &[&str] = &[$(stringify!($m)),*];
        /// The CPU twin of router `r`.
        pub fn unit<F: Real>(r: RouterKind) -> &'static dyn Router<F> {
            let all: &[&'static dyn Router<F>] = &[$(&$m::$unit),*];
            all[r.0 as usize]
        }
    };
}

registry! {
    softmax_topk::SoftmaxTopK,
    noisy_topk::NoisyTopK,
    gshard_top2::GShardTop2,
    hash::Hash,
    aux_free::AuxFree,
    expert_choice::ExpertChoice,
    dense_mixture::DenseMixture,
}

// ---- helpers shared by several units (their WGSL twins are in shaders/router.wgsl) ----

/// Write token t's chosen experts and gates into `o` (ranks ≥ k stay UNUSED / 0).
pub fn put<F: Real>(t: usize, kmax: usize, chosen: &[u32], gates: &[F], o: &mut RouteOut<F>) {
    for (r, (&c, &g)) in chosen.iter().zip(gates).enumerate() {
        o.topk[t * kmax + r] = c;
        o.gates[t * kmax + r] = g;
    }
}

/// Backward of [`routing::gates`] (raw p for k = 1, renormalised for k ≥ 2): d loss / d p from d loss / d gates.
pub fn prob_gates_grad<F: Real>(p: &[F], topk: &[u32], dg: &[F], k: usize, dp: &mut [F]) {
    if k == 1 {
        dp[topk[0] as usize] += dg[0];
        return;
    }
    let mut s = F::zero();
    let mut sdot = F::zero();
    for r in 0..k {
        let i = topk[r] as usize;
        s += p[i];
        sdot += dg[r] * p[i];
    }
    for r in 0..k {
        let i = topk[r] as usize;
        dp[i] += dg[r] / s - sdot / (s * s);
    }
}

/// Backward of gates that are the raw probabilities of the ranks' experts (expert choice, the
/// dense mixture): d loss / d p_e += dg of each rank of expert e. Ranks past `dp` (the shared
/// experts) are skipped; ranks that are not live have dg = 0.
pub fn raw_gates_grad<F: Real>(topk: &[u32], dg: &[F], dp: &mut [F]) {
    for (r, &g) in dg.iter().enumerate().take(dp.len()) {
        dp[topk[r] as usize] += g;
    }
}

/// A uniform draw in [0, 1) from a 32-bit word, exact in f32 (24 bits).
pub fn unit_draw(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A standard normal draw for expert `e` from a token's random word (Box–Muller in f32; the WGSL
/// twin `normal_draw` agrees to float rounding of `log`, `sqrt` and `cos`).
pub fn normal_draw(word: u32, e: u32) -> f32 {
    let h1 = crate::rng::hash(word ^ crate::rng::hash(e ^ 0x85EB_CA6B));
    let h2 = crate::rng::hash(h1 ^ 0xC2B2_AE35);
    let u1 = ((h1 >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0);
    let u2 = (h2 >> 8) as f32 * (1.0 / 16_777_216.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Router `r`'s unit is the module named like it (`softmax-topk`: softmax_topk), so the ids of
    /// the config and the units of [`unit`] agree.
    #[test]
    fn units_follow_the_registry() {
        let names: Vec<String> = ROUTERS.iter().map(|r| r.name.replace('-', "_")).collect();
        assert_eq!(names, UNITS);
    }
}
