//! `hash`: Hash Layers (Roller et al. 2021). No learned choice: the experts of a token are a fixed
//! hash of its current input token id (tokens) or of its cell in an 8 × 8 grid over the plane
//! (regions), k distinct experts, gates 1/k. Balance comes from the hash, not from a loss.
//! WGSL twin: shaders/routers/hash.wgsl.
use super::{put, GateGrad, RouteIn, RouteOut, Router};
use crate::model::Real;

/// The r-th expert of hash key `key`: a fixed hash, moved to the next free expert if taken.
pub fn hash_experts(key: u32, k: usize, e: usize) -> Vec<u32> {
    let mut chosen: Vec<u32> = Vec::with_capacity(k);
    for r in 0..k as u32 {
        let mut x = crate::rng::hash(key.wrapping_mul(8).wrapping_add(r) ^ 0x2545_F491) % e as u32;
        while chosen.contains(&x) {
            x = (x + 1) % e as u32;
        }
        chosen.push(x);
    }
    chosen
}

pub struct Hash;

impl<F: Real> Router<F> for Hash {
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>) {
        let chosen = hash_experts(i.keys[t * 2], i.k, i.e);
        let g = vec![F::of(1.0 / i.k as f64); i.k];
        put(t, i.kmax, &chosen, &g, o);
        for &c in &chosen {
            o.scores[t * i.e + c as usize] = F::of(1.0);
        }
    }
    fn gate_grad(&self, _t: usize, _i: &RouteIn<F>, _topk: &[u32], _gates: &[F], _dg: &[F], _o: GateGrad<F>) {}
}
