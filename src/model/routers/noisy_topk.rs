//! `noisy-topk`: noisy top-k gating (Shazeer et al. 2017). H_i = (x·W_g)_i + ε_i·softplus((x·W_noise)_i)
//! with ε ~ N(0, 1) per token and expert (training steps only; ε = 0 in evaluation and the probe);
//! keep the top k of H, softmax over the kept values: those are the gates (k = 1: gate 1). W_noise is
//! learned through ε·sigmoid(x·W_noise). WGSL twin: shaders/routers/noisy-topk.wgsl.
use super::{normal_draw, put, GateGrad, RouteIn, RouteOut, Router};
use crate::model::routing::top_k;
use crate::model::routing::UNUSED;
use crate::model::Real;

/// softplus(v) = ln(1 + e^v), stable for large |v|.
pub fn softplus<F: Real>(v: F) -> F {
    let zero = F::zero();
    let m = if v > zero { v } else { zero };
    m + ((zero - m).exp() + (v - m).exp()).ln()
}

pub fn sigmoid<F: Real>(v: F) -> F {
    F::of(1.0) / (F::of(1.0) + (-v).exp())
}

/// ε of token t, expert e (0 outside training).
fn eps<F: Real>(i: &RouteIn<F>, t: usize, e: usize) -> F {
    if i.train {
        F::of(normal_draw(i.keys[t * 2 + 1], e as u32) as f64)
    } else {
        F::zero()
    }
}

pub struct NoisyTopK;

impl<F: Real> Router<F> for NoisyTopK {
    fn route(&self, t: usize, i: &RouteIn<F>, o: &mut RouteOut<F>) {
        for e in 0..i.e {
            let n = eps(i, t, e);
            o.eps[t * i.e + e] = n;
            o.scores[t * i.e + e] = i.logits_of(t)[e] + n * softplus(i.nlog_of(t)[e]);
        }
        let row = &o.scores[t * i.e..(t + 1) * i.e];
        let chosen = top_k(row, i.k);
        if i.train {
            // The smooth load estimate (Shazeer et al. 2017, appendix A): P(x, e) = Φ((clean_e −
            // kth-largest noisy score excluding e) / softplus(noise logit e)). For a chosen expert
            // the threshold is the (k+1)-th largest score; for the others the k-th.
            let next = if i.e > i.k { top_k(row, i.k + 1)[i.k] } else { UNUSED };
            o.next[t] = next;
            let kth = chosen[i.k - 1];
            for e in 0..i.e {
                let thr = if chosen.contains(&(e as u32)) { next } else { kth };
                let (p, z) = if thr == UNUSED {
                    (F::of(1.0), F::zero())
                } else {
                    let z = (i.logits_of(t)[e] - row[thr as usize]) / softplus(i.nlog_of(t)[e]);
                    (z.normal_cdf(), z)
                };
                o.load_p[t * i.e + e] = p;
                o.load_z[t * i.e + e] = z;
            }
        }
        let m = row[chosen[0] as usize];
        let mut s = F::zero();
        for &c in &chosen {
            s += (row[c as usize] - m).exp();
        }
        let g: Vec<F> = chosen.iter().map(|&c| (row[c as usize] - m).exp() / s).collect();
        put(t, i.kmax, &chosen, &g, o);
    }
    fn gate_grad(&self, t: usize, i: &RouteIn<F>, topk: &[u32], gates: &[F], dg: &[F], o: GateGrad<F>) {
        let mut dot = F::zero();
        for r in 0..i.k {
            dot += gates[r] * dg[r];
        }
        for r in 0..i.k {
            let e = topk[r] as usize;
            let dh = gates[r] * (dg[r] - dot);
            o.dl[e] += dh;
            o.dn[e] += dh * eps(i, t, e) * sigmoid(i.nlog_of(t)[e]);
        }
    }
    fn load_grad(&self, t: usize, i: &RouteIn<F>, o: &RouteOut<F>, dload: &[F], g: GateGrad<F>) {
        let chosen = &o.topk[t * i.kmax..t * i.kmax + i.k];
        let (next, kth) = (o.next[t], chosen[i.k - 1]);
        let inv_sqrt_2pi = F::of(1.0 / (2.0 * std::f64::consts::PI).sqrt());
        for e in 0..i.e {
            let thr = if chosen.contains(&(e as u32)) { next } else { kth };
            if thr == UNUSED {
                continue;
            }
            let (thr, nl) = (thr as usize, i.nlog_of(t));
            let z = o.load_z[t * i.e + e];
            let std = softplus(nl[e]);
            let gz = dload[e] * (F::zero() - z * z / F::of(2.0)).exp() * inv_sqrt_2pi / std;
            g.dl[e] += gz;
            g.dl[thr] += -gz;
            g.dn[thr] += -gz * o.eps[t * i.e + thr] * sigmoid(nl[thr]);
            g.dn[e] += -gz * z * sigmoid(nl[e]);
        }
    }
}
