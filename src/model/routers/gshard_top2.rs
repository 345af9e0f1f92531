//! `gshard-top2`: GShard's random top-2 (Lepikhin et al. 2020). The two largest probabilities, gates
//! renormalised over the two; the second expert is dispatched only with probability min(1, 2·g2),
//! a draw per token (deterministic per seed and step; training steps only), otherwise that
//! assignment is dropped as "random" before capacity is applied. k = 2 only.
//! WGSL twin: shaders/routers/gshard-top2.wgsl.
use super::{prob_gates_grad, put, unit_draw, GateGrad, RouteIn, RouteOut, Router};
use crate::model::routing::{gates as prob_gates, top_k};
use crate::model::Real;

pub struct GShardTop2;

impl<F: Real> Router<F> for GShardTop2 {
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>) {
        let p = i.probs_of(t);
        let chosen = top_k(p, i.k);
        let g = prob_gates(p, &chosen);
        put(t, i.kmax, &chosen, &g, o);
        o.scores[t * i.e..(t + 1) * i.e].copy_from_slice(p);
        if i.k == 2 {
            // Dispatch iff u < 2·g2 (f32, as the shader compares); u = 0 outside training.
            let u = unit_draw(i.keys[t * 2 + 1]);
            let g2 = g[1].f64() as f32;
            o.random[t * i.kmax + 1] = u >= 2.0 * g2;
        }
    }
    fn gate_grad(&self, t: usize, i: &RouteIn<F>, topk: &[u32], _gates: &[F], dg: &[F], o: GateGrad<F>) {
        prob_gates_grad(i.probs_of(t), topk, dg, i.k, o.dp);
    }
}
