//! `softmax-topk`: the k largest router probabilities (ties to the lower index); k = 1 keeps the raw
//! probability as gate (Switch, Fedus et al. 2021), k ≥ 2 renormalises over the chosen k (Mixtral,
//! Jiang et al. 2024). WGSL twin: shaders/routers/softmax-topk.wgsl.
use super::{prob_gates_grad, put, GateGrad, RouteIn, RouteOut, Router};
use crate::model::routing::{gates as prob_gates, top_k};
use crate::model::Real;

pub struct SoftmaxTopK;

impl<F: Real> Router<F> for SoftmaxTopK {
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>) {
        let p = i.probs_of(t);
        let chosen = top_k(p, i.k);
        put(t, i.kmax, &chosen, &prob_gates(p, &chosen), o);
        o.scores[t * i.e..(t + 1) * i.e].copy_from_slice(p);
    }
    fn gate_grad(&self, t: usize, i: &RouteIn<F>, topk: &[u32], _gates: &[F], dg: &[F], o: GateGrad<F>) {
        prob_gates_grad(i.probs_of(t), topk, dg, i.k, o.dp);
    }
}
