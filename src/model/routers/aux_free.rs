//! `aux-free`: loss-free balancing (DeepSeek-V3, 2024; Wang et al. 2024). A per-expert bias b is
//! added to the router logits only to choose the top k; the gates come from the unbiased
//! probabilities (raw p for k = 1, renormalised over the chosen for k ≥ 2). After each training
//! step b_i ← b_i + γ·sign(mean load − load_i), load_i = the step's choices of expert i.
//! WGSL twin: shaders/routers/aux-free.wgsl.
use super::{prob_gates_grad, put, GateGrad, RouteIn, RouteOut, Router};
use crate::model::routing::{gates as prob_gates, top_k};
use crate::model::Real;

pub struct AuxFree;

impl<F: Real> Router<F> for AuxFree {
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>) {
        let row = &mut o.scores[t * i.e..(t + 1) * i.e];
        for (e, s) in row.iter_mut().enumerate() {
            *s = i.logits_of(t)[e] + i.bias[e];
        }
        let chosen = top_k(row, i.k);
        put(t, i.kmax, &chosen, &prob_gates(i.probs_of(t), &chosen), o);
    }
    fn gate_grad(&self, t: usize, i: &RouteIn<F>, topk: &[u32], _gates: &[F], dg: &[F], o: GateGrad<F>) {
        prob_gates_grad(i.probs_of(t), topk, dg, i.k, o.dp);
    }
    fn update(&self, bias: &mut [F], counts: &[u32], gamma: F) {
        // mean load = T·k / E; compared in integers (load_i·E against T·k), so sign(0) is exact.
        let e = counts.len() as u64;
        let total: u64 = counts.iter().map(|&c| c as u64).sum();
        for (b, &c) in bias.iter_mut().zip(counts) {
            let (load, mean) = (c as u64 * e, total);
            if load < mean {
                *b += gamma;
            } else if load > mean {
                *b = *b - gamma;
            }
        }
    }
}
