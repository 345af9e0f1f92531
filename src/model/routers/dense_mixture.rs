//! `dense-mixture`: the adaptive mixture of local experts (Jacobs, Jordan, Nowlan & Hinton 1991).
//! Every expert sees every token, weighted by the softmax gate: no top-k, no capacity, nothing
//! dropped. Every token has one rank per expert (rank r = expert r, gate p_r). The loss is the
//! cooperative one, CE of the blended output Σ_i p_i·o_i (what this crate's layer computes for any
//! router). WGSL twin: shaders/routers/dense-mixture.wgsl.
use super::{GateGrad, RouteIn, RouteOut, Router, RouterInfo};
use crate::config::Balance;
use crate::model::Real;

pub const INFO: RouterInfo = RouterInfo {
    name: "dense-mixture",
    label: "dense mixture (1991, every expert)",
    help: "Every expert processes every token and the outputs are blended with the router's probabilities \
           (the 1991 adaptive mixture of local experts). Nothing is chosen or dropped, so k and the capacity \
           factor do not apply; it costs E experts per token.",
    paper: "Jacobs, Jordan, Nowlan & Hinton 1991",
    k: None,
    balances: &[Balance::None],
    knobs: &[],
    default_alpha: None,
    learned: true,
    routing_note:
        "Dense mixture: every expert takes every token; the colours are the weights the outputs are blended with.",
    load_note: "Dense mixture: every expert processes all T tokens of every batch.",
    drops_note: "Dense mixture: nothing is ever dropped.",
    smooth_load: false,
    all_experts: true,
    capacity: false,
    has_bias: false,
};

pub struct DenseMixture;

impl<F: Real> Router<F> for DenseMixture {
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>) {
        let p = i.probs_of(t);
        for (e, &pe) in p.iter().enumerate() {
            o.topk[t * i.kmax + e] = e as u32;
            o.gates[t * i.kmax + e] = pe;
        }
        o.scores[t * i.e..(t + 1) * i.e].copy_from_slice(p);
    }
    fn gate_grad(&self, _t: usize, _i: &RouteIn<F>, topk: &[u32], _gates: &[F], dg: &[F], o: GateGrad<F>) {
        for (r, &g) in dg.iter().enumerate().take(o.dp.len()) {
            o.dp[topk[r] as usize] += g;
        }
    }
}
