//! Backward pass of the reference, written out by hand. Stage names match the WGSL entry points.
use super::routers::{self, GateGrad, RouteIn};
use super::routing;
use super::{Dims, Forward, Params, Real};
use crate::data::{Batch, CTX};

/// Gradients of CE + α·aux + β·z with respect to every parameter, plus the intermediates the parity
/// tests compare.
#[derive(Clone, Debug)]
pub struct Backward<F> {
    pub grads: Vec<F>, // flat, same layout as the parameters
    pub dh: Vec<F>,    // [T, d]
    pub dg: Vec<F>,    // [T, K] d loss / d gate (0 for dropped)
    pub dpre: Vec<F>,  // [T·K, H] d loss / d expert pre-activation
    pub dlog: Vec<F>,  // [T, E] d loss / d router logits
    pub dnlog: Vec<F>, // [T, E] d loss / d noise logits (noisy router; 0 otherwise)
    pub dl: Vec<F>,    // [T, E] the router unit's direct part of dlog (before the softmax part)
    pub dp: Vec<F>,    // [T, E] the router unit's d loss / d p (`route_grad`'s output in dlog)
    pub dx: Vec<F>,    // [T, d] d loss / d MoE input
}

pub fn backward<F: Real>(p: &Params<F>, b: &Batch, fw: &Forward<F>, alpha: F, beta: F) -> Backward<F> {
    let m = Dims { t: b.len(), ..p.dims };
    let (kk, l, w) = (m.kmax, &p.layout, &p.w);
    let mut g = vec![F::zero(); l.total];
    let tf = F::of(m.t as f64);
    let live = |a: usize| routing::live(fw.assign.slot[a]);

    // `head_wgrad`: dWo, dbo.
    for v in 0..m.v {
        for c in 0..m.d {
            let mut acc = F::zero();
            for t in 0..m.t {
                acc += fw.dout[t * m.v + v] * fw.h[t * m.d + c];
            }
            g[l.wo.start + v * m.d + c] = acc;
        }
        let mut acc = F::zero();
        for t in 0..m.t {
            acc += fw.dout[t * m.v + v];
        }
        g[l.bo.start + v] = acc;
    }
    // `head_dx`: dh = Woᵀ·dout.
    let mut dh = vec![F::zero(); m.t * m.d];
    for t in 0..m.t {
        for c in 0..m.d {
            let mut acc = F::zero();
            for v in 0..m.v {
                acc += fw.dout[t * m.v + v] * w[l.wo.start + v * m.d + c];
            }
            dh[t * m.d + c] = acc;
        }
    }
    // `gate_grad`: dg = dh · y.
    let mut dg = vec![F::zero(); m.t * kk];
    for t in 0..m.t {
        for r in 0..m.k {
            let a = t * kk + r;
            if live(a) {
                let mut acc = F::zero();
                for c in 0..m.d {
                    acc += dh[t * m.d + c] * fw.y[a * m.d + c];
                }
                dg[a] = acc;
            }
        }
    }
    // cv2 balance: α·d CV²(importance) / d importance reaches every chosen gate (before dropping).
    let cv2 = fw.routing.balance == crate::config::Balance::Cv2;
    let dimp: Vec<F> = routing::cv2_grad(&fw.importance).into_iter().map(|v| alpha * v).collect();
    let dload: Vec<F> = routing::cv2_grad(&fw.load).into_iter().map(|v| alpha * v).collect();
    if cv2 {
        for t in 0..m.t {
            for r in 0..m.k {
                let a = t * kk + r;
                dg[a] += dimp[fw.topk[a] as usize];
            }
        }
    }
    // `ffn_dhidden`: dpre = relu'(pre) ⊙ W2ᵀ·(gate · dh).
    let mut dpre = vec![F::zero(); m.t * kk * m.h];
    for t in 0..m.t {
        for r in 0..m.k {
            let a = t * kk + r;
            if !live(a) {
                continue;
            }
            let e = fw.topk[a] as usize;
            let gate = fw.gates[a];
            for j in 0..m.h {
                if fw.hid[a * m.h + j] > F::zero() {
                    let mut acc = F::zero();
                    for c in 0..m.d {
                        acc += w[l.w2.start + (e * m.d + c) * m.h + j] * (gate * dh[t * m.d + c]);
                    }
                    dpre[a * m.h + j] = acc;
                }
            }
        }
    }
    // `ffn_wgrad`: per expert, over its kept assignments in slot order. Each output sums its terms in
    // list order, as the kernel does; the row index t = a / K and the gate·dh factor are computed
    // once per assignment rather than once per term (the same f32 values, far fewer divisions).
    for e in 0..m.e {
        let list: Vec<usize> =
            fw.assign.lists[e * m.t..e * m.t + fw.assign.kept[e] as usize].iter().map(|&a| a as usize).collect();
        let rows: Vec<usize> = list.iter().map(|&a| a / kk).collect();
        let mut col = vec![F::zero(); list.len()];
        for c in 0..m.d {
            for (i, (&a, &t)) in list.iter().zip(&rows).enumerate() {
                col[i] = fw.gates[a] * dh[t * m.d + c];
            }
            for j in 0..m.h {
                let mut acc = F::zero();
                for (&gd, &a) in col.iter().zip(&list) {
                    acc += gd * fw.hid[a * m.h + j];
                }
                g[l.w2.start + (e * m.d + c) * m.h + j] = acc;
            }
            let mut acc = F::zero();
            for &gd in &col {
                acc += gd;
            }
            g[l.b2.start + e * m.d + c] = acc;
        }
        for j in 0..m.h {
            for c in 0..m.d {
                let mut acc = F::zero();
                for (&a, &t) in list.iter().zip(&rows) {
                    acc += dpre[a * m.h + j] * fw.x[t * m.d + c];
                }
                g[l.w1.start + (e * m.h + j) * m.d + c] = acc;
            }
            let mut acc = F::zero();
            for &a in &list {
                acc += dpre[a * m.h + j];
            }
            g[l.b1.start + e * m.h + j] = acc;
        }
    }
    // `router_grad`: through the gates (the router unit's part), the balance loss and the z-loss,
    // then softmax.
    let mut dlog = vec![F::zero(); m.t * m.e];
    let tk = F::of((m.t * m.k) as f64);
    let ef = F::of(m.e as f64);
    let rt = &fw.routing;
    let unit = routers::unit::<F>(rt.router);
    let ri = RouteIn {
        e: m.e,
        k: m.k,
        kmax: kk,
        logits: &fw.logits,
        probs: &fw.probs,
        nlog: &fw.nlog,
        bias: &rt.bias,
        keys: &rt.keys,
        train: rt.train,
    };
    let mut dnlog = vec![F::zero(); m.t * m.e];
    let mut dl_all = vec![F::zero(); m.t * m.e];
    let mut dp_all = vec![F::zero(); m.t * m.e];
    for t in 0..m.t {
        let pr = &fw.probs[t * m.e..(t + 1) * m.e];
        let mut dp = vec![F::zero(); m.e];
        // `route_grad`: the router unit's part.
        let row = t * kk..(t + 1) * kk;
        let o =
            GateGrad { dp: &mut dp, dl: &mut dl_all[t * m.e..(t + 1) * m.e], dn: &mut dnlog[t * m.e..(t + 1) * m.e] };
        unit.gate_grad(t, &ri, &fw.topk[row.clone()], &fw.gates[row.clone()], &dg[row], o);
        if cv2 && rt.train && routers::unit_info(rt.router).smooth_load {
            let o = GateGrad {
                dp: &mut dp,
                dl: &mut dl_all[t * m.e..(t + 1) * m.e],
                dn: &mut dnlog[t * m.e..(t + 1) * m.e],
            };
            unit.load_grad(t, &ri, &fw.routed, &dload, o);
        }
        dp_all[t * m.e..(t + 1) * m.e].copy_from_slice(&dp);
        let mut dot = F::zero();
        for e in 0..m.e {
            if !cv2 {
                let f_e = F::of(fw.assign.counts[e] as f64) / tk;
                dp[e] += alpha * ef * f_e / tf;
            }
            dot += pr[e] * dp[e];
        }
        let zl = beta * F::of(2.0) * fw.lse[t] / tf;
        for e in 0..m.e {
            dlog[t * m.e + e] = pr[e] * (dp[e] - dot) + zl * pr[e] + dl_all[t * m.e + e];
        }
    }
    // `router_wgrad`: dWr = dlogᵀ·x.
    for e in 0..m.e {
        for c in 0..m.d {
            let mut acc = F::zero();
            for t in 0..m.t {
                acc += dlog[t * m.e + e] * fw.x[t * m.d + c];
            }
            g[l.wr.start + e * m.d + c] = acc;
            let mut acc = F::zero();
            for t in 0..m.t {
                acc += dnlog[t * m.e + e] * fw.x[t * m.d + c];
            }
            g[l.wn.start + e * m.d + c] = acc;
        }
    }
    // `input_grad`: dx = dh (residual) + Σ W1ᵀ·dpre + Wrᵀ·dlog.
    let mut dx = vec![F::zero(); m.t * m.d];
    for t in 0..m.t {
        for c in 0..m.d {
            let mut acc = dh[t * m.d + c];
            for r in 0..m.k {
                let a = t * kk + r;
                if !live(a) {
                    continue;
                }
                let e = fw.topk[a] as usize;
                for j in 0..m.h {
                    acc += w[l.w1.start + (e * m.h + j) * m.d + c] * dpre[a * m.h + j];
                }
            }
            for e in 0..m.e {
                acc += w[l.wr.start + e * m.d + c] * dlog[t * m.e + e];
            }
            for e in 0..m.e {
                acc += w[l.wn.start + e * m.d + c] * dnlog[t * m.e + e];
            }
            dx[t * m.d + c] = acc;
        }
    }
    // `embed_grad`.
    let dx0 = |t: usize, c: usize| {
        let i = t * m.d + c;
        if !m.tokens || fw.x0[i] > F::zero() {
            dx[i]
        } else {
            F::zero()
        }
    };
    if m.tokens {
        for j in 0..CTX {
            for c in 0..m.d {
                for t in 0..m.t {
                    let id = b.inputs[t * CTX + j] as usize;
                    g[l.emb.start + (j * m.v + id) * m.d + c] += dx0(t, c);
                }
            }
        }
    } else {
        for c in 0..m.d {
            let (mut a0, mut a1, mut ab) = (F::zero(), F::zero(), F::zero());
            for t in 0..m.t {
                let pt = b.point(t);
                let d = dx0(t, c);
                a0 += d * F::of(pt[0] as f64);
                a1 += d * F::of(pt[1] as f64);
                ab += d;
            }
            g[l.w_in.start + c * 2] = a0;
            g[l.w_in.start + c * 2 + 1] = a1;
            g[l.b_in.start + c] = ab;
        }
    }
    Backward { grads: g, dh, dg, dpre, dlog, dnlog, dl: dl_all, dp: dp_all, dx }
}
