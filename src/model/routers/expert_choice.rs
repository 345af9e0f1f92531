//! `expert-choice`: Expert Choice routing (Zhou et al. 2022). The experts choose, not the tokens:
//! each expert picks the C tokens with the highest router probability in its column of the batch
//! (C = ceil(cf·T·k/E), ties to the earlier token), so every expert gets exactly C tokens and load
//! is even by construction; a token may be picked by several experts or by none (unrouted: the
//! residual carries it). The gate of a pick is the token's probability at that expert. Every token
//! has one rank per expert (rank r = expert r); the ranks no expert picked are marked unpicked.
//! WGSL twin: shaders/routers/expert-choice.wgsl.
use super::{raw_gates_grad, GateGrad, RouteIn, RouteOut, Router};
use crate::model::Real;

/// Rank of token `t` in expert `e`'s column of probs [T, E]: the tokens before it (higher
/// probability, or equal and earlier).
pub fn column_rank<F: Real>(probs: &[F], rows: usize, e_n: usize, t: usize, e: usize) -> usize {
    let p = probs[t * e_n + e];
    (0..rows)
        .filter(|&o| {
            let q = probs[o * e_n + e];
            q > p || (q == p && o < t)
        })
        .count()
}

pub struct ExpertChoice;

impl<F: Real> Router<F> for ExpertChoice {
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>) {
        let p = i.probs_of(t);
        for (e, &pe) in p.iter().enumerate() {
            let a = t * i.kmax + e;
            o.topk[a] = e as u32;
            o.gates[a] = pe;
            o.unpicked[a] = column_rank(i.probs, i.t, i.e, t, e) >= i.cap;
        }
        o.scores[t * i.e..(t + 1) * i.e].copy_from_slice(p);
    }
    fn gate_grad(&self, _t: usize, _i: &RouteIn<F>, topk: &[u32], _gates: &[F], dg: &[F], o: GateGrad<F>) {
        // gate = p at the picking expert (dg is 0 for the ranks not picked); the choice itself has
        // no gradient.
        raw_gates_grad(topk, dg, o.dp);
    }
}
