//! `dense-mixture`: the adaptive mixture of local experts (Jacobs, Jordan, Nowlan & Hinton 1991).
//! Every expert sees every token, weighted by the softmax gate: no top-k, no capacity, nothing
//! dropped. Every token has one rank per expert (rank r = expert r, gate p_r). Two losses
//! (`Config::mixture_loss`), with o_i = head(h + y_i) each expert's own output logits:
//! cooperative, CE of the blended output Σ_i p_i·o_i (what the layer computes for any router: the
//! head is linear and Σ p_i = 1); competitive, −log Σ_i p_i·softmax(o_i)[y] (`head_mix`, `head` and
//! `mix_grad` in the reference; here only the router's gradient, from the posterior).
//! WGSL twin: shaders/routers/dense-mixture.wgsl.
use super::{raw_gates_grad, GateGrad, RouteIn, RouteOut, Router};
use crate::model::Real;

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
    fn gate_grad(&self, t: usize, i: &RouteIn<F>, topk: &[u32], _gates: &[F], dg: &[F], o: GateGrad<F>) {
        if i.mix {
            // Competitive: L_t = −log Σ_j p_j·q_j[y], so d L / d logit_e = (p_e − r_e) / T with r
            // the posterior (`mix_grad`), straight to the logits.
            let tf = F::of(i.t as f64);
            for e in 0..i.e {
                o.dl[e] += (i.probs_of(t)[e] - i.post[t * i.e + e]) / tf;
            }
            return;
        }
        raw_gates_grad(topk, dg, o.dp);
    }
}
