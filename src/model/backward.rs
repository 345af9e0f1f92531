//! Backward pass of the reference, written out by hand: one function per WGSL entry point, with the
//! same name (`head_wgrad`, `head_dx`, `gate_grad`, `ffn_dhidden`, `ffn_wgrad2`, `ffn_wgrad1`,
//! `route_grad`, `router_grad`, `router_wgrad`, `ffn_dx`, `input_grad`, `embed_grad`), each reading and
//! writing the buffers its kernel binds in their GPU layouts (weight gradients into their segments
//! of the flat `grads`); [`backward`] calls them in order. The list is [`super::STAGES`].
use super::forward::Routing;
use super::routers::{self, GateGrad, RouteIn, RouteOut};
use super::routing;
use super::{Dims, Forward, Params, Real};
use crate::config::Balance;
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
    pub dxa: Vec<F>,   // [T·K, d] each kept assignment's part of dx through its expert (0 elsewhere)
    pub dx: Vec<F>,    // [T, d] d loss / d MoE input
    /// Competitive mixture loss: d loss / d outm [T·K, V], d loss / d (h + y) per routed
    /// assignment [T·K, d], and the posterior r [T, E] (0 elsewhere and otherwise).
    pub doutm: Vec<F>,
    pub dhm: Vec<F>,
    pub post: Vec<F>,
}

/// Gradients of CE + α·aux + β·z for the forward pass `fw` of batch `b`: the stages below in the
/// order of `gpu::kernels::STEP`.
pub fn backward<F: Real>(p: &Params<F>, b: &Batch, fw: &Forward<F>, alpha: F, beta: F) -> Backward<F> {
    let m = Dims { t: b.len(), ..p.dims };
    let (rt, slot) = (&fw.routing, &fw.assign.slot);
    let cv2 = rt.balance == Balance::Cv2;
    let mut g = vec![F::zero(); p.layout.total];
    let (doutm, post) = mix_grad(&m, &fw.out, &fw.outm, &fw.logits, &fw.lse, &b.targets, &fw.topk);
    head_wgrad(p, &m, &fw.dout, &fw.h, &doutm, &fw.y, &mut g);
    let (dh, dhm) = head_dx(p, &m, &fw.dout, &doutm);
    // cv2 balance: α·d CV² / d importance and d load (`balance_reduce` leaves them unscaled).
    let dimp: Vec<F> = routing::cv2_grad(&fw.importance).into_iter().map(|v| alpha * v).collect();
    let dload: Vec<F> = routing::cv2_grad(&fw.load).into_iter().map(|v| alpha * v).collect();
    let dg = gate_grad(&m, &dh, &fw.y, slot, &fw.topk, cv2.then_some(&dimp[..]));
    let dpre = ffn_dhidden(p, &m, &dh, &dhm, &fw.hid, &fw.gates, &fw.topk, slot);
    ffn_wgrad2(p, &m, &dh, &dhm, &fw.hid, &fw.gates, &fw.assign.kept, &fw.assign.lists, &mut g);
    ffn_wgrad1(p, &m, &dpre, &fw.x, &fw.assign.kept, &fw.assign.lists, &mut g);
    let smooth = cv2 && rt.train && rt.router.info().smooth_load;
    let (dp, dl, dnlog) =
        route_grad(&m, rt, &fw.logits, &fw.probs, &fw.nlog, &post, &fw.routed, &dg, smooth.then_some(&dload[..]));
    let dlog = router_grad(&m, &fw.probs, &fw.lse, &fw.assign.counts, &dp, &dl, rt.balance, alpha, beta);
    router_wgrad(p, &m, &dlog, &dnlog, &fw.x, &mut g);
    let dxa = ffn_dx(p, &m, &dpre, &fw.topk, slot);
    let dx = input_grad(p, &m, &dh, &dxa, &dlog, &dnlog, slot);
    embed_grad(p, &m, b, &fw.x0, &dx, &mut g);
    Backward { grads: g, dh, dg, dpre, dlog, dnlog, dl, dp, dxa, dx, doutm, dhm, post }
}

// ---- The stages, in step order. `m` is the batch's dims (m.t rows, the live m.k); buffers are in
// the GPU layouts of shaders/common.wgsl; weight gradients go to their segments of `grads` (the flat
// parameter layout) and only there.

/// `mix_grad` — WGSL: shaders/loss.wgsl `mix_grad`. With the competitive mixture loss (nothing
/// otherwise): per token, the posterior of each routed expert r_i = p_i·q_i[y] / Σ_j p_j·q_j[y]
/// (q_i = softmax(outm_i), the mixture's log-probability out[t, y] in the denominator) into post
/// [T, E], and d loss / d outm [T·K, V] = r_i·(q_i − onehot(y)) / T; from out [T, V], outm
/// [T·K, V], the router's logits [T, E] and lse \[T\], the targets \[T\] and topk [T, K].
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn mix_grad<F: Real>(
    m: &Dims,
    out: &[F],
    outm: &[F],
    logits: &[F],
    lse: &[F],
    targets: &[u32],
    topk: &[u32],
) -> (Vec<F>, Vec<F>) {
    let kk = m.kmax;
    let mut doutm = vec![F::zero(); m.t * kk * m.v];
    let mut post = vec![F::zero(); m.t * m.e];
    if !m.mix {
        return (doutm, post);
    }
    let tf = F::of(m.t as f64);
    for t in 0..m.t {
        let y = targets[t] as usize;
        for r in 0..m.k {
            let a = t * kk + r;
            let i = topk[a] as usize;
            let row = &outm[a * m.v..(a + 1) * m.v];
            let ls = routing::softmax(row).1;
            let rp = (logits[t * m.e + i] - lse[t] + row[y] - ls - out[t * m.v + y]).exp();
            post[t * m.e + i] = rp;
            for v in 0..m.v {
                let one = if v == y { F::of(1.0) } else { F::zero() };
                doutm[a * m.v + v] = rp * ((row[v] - ls).exp() - one) / tf;
            }
        }
    }
    (doutm, post)
}

/// `head_wgrad` — WGSL: shaders/loss.wgsl `head_wgrad`. dW_o[v, c] = Σ_t dout[t, v]·h[t, c] and
/// db_o\[v\] = Σ_t dout[t, v] into `grads`, from dout [T, V] and h [T, d]. With the competitive
/// mixture loss the head is applied per routed assignment: dW_o[v, c] = Σ_t Σ_r doutm[a, v]·
/// (h[t, c] + y[a, c]) and db_o\[v\] = Σ_t Σ_r doutm[a, v], from doutm [T·K, V] and y [T·K, d].
#[allow(clippy::too_many_arguments)]
pub fn head_wgrad<F: Real>(p: &Params<F>, m: &Dims, dout: &[F], h: &[F], doutm: &[F], y: &[F], grads: &mut [F]) {
    let (l, kk) = (&p.layout, m.kmax);
    for v in 0..m.v {
        for c in 0..m.d {
            let mut acc = F::zero();
            for t in 0..m.t {
                if m.mix {
                    for r in 0..m.k {
                        let a = t * kk + r;
                        acc += doutm[a * m.v + v] * (h[t * m.d + c] + y[a * m.d + c]);
                    }
                } else {
                    acc += dout[t * m.v + v] * h[t * m.d + c];
                }
            }
            grads[l.wo.start + v * m.d + c] = acc;
        }
        let mut acc = F::zero();
        for t in 0..m.t {
            if m.mix {
                for r in 0..m.k {
                    acc += doutm[(t * kk + r) * m.v + v];
                }
            } else {
                acc += dout[t * m.v + v];
            }
        }
        grads[l.bo.start + v] = acc;
    }
}

/// `head_dx` — WGSL: shaders/loss.wgsl `head_dx`. dh [T, d] = W_oᵀ·dout from dout [T, V]. With the
/// competitive mixture loss: per routed assignment dhm [T·K, d] = W_oᵀ·doutm[a] (from doutm
/// [T·K, V]), and dh [T, d] = Σ_r dhm[t·K + r] (h reaches every expert's prediction).
pub fn head_dx<F: Real>(p: &Params<F>, m: &Dims, dout: &[F], doutm: &[F]) -> (Vec<F>, Vec<F>) {
    let (l, w, kk) = (&p.layout, &p.w, m.kmax);
    let mut dh = vec![F::zero(); m.t * m.d];
    let mut dhm = vec![F::zero(); if m.mix { m.t * kk * m.d } else { 0 }];
    for t in 0..m.t {
        for c in 0..m.d {
            let mut acc = F::zero();
            if m.mix {
                for r in 0..m.k {
                    let a = t * kk + r;
                    let mut da = F::zero();
                    for v in 0..m.v {
                        da += doutm[a * m.v + v] * w[l.wo.start + v * m.d + c];
                    }
                    dhm[a * m.d + c] = da;
                    acc += da;
                }
            } else {
                for v in 0..m.v {
                    acc += dout[t * m.v + v] * w[l.wo.start + v * m.d + c];
                }
            }
            dh[t * m.d + c] = acc;
        }
    }
    (dh, dhm)
}

/// `gate_grad` — WGSL: shaders/dispatch.wgsl `gate_grad`. dg [T, K] = dh[t, ·]·y[a, ·] for live
/// assignments (0 otherwise), from dh [T, d], y [T·K, d], slot and topk [T, K]; with the cv2
/// balance loss, `dimp` (α·d CV²(importance) / d importance, \[E\]) is added to every chosen gate,
/// kept or dropped.
pub fn gate_grad<F: Real>(m: &Dims, dh: &[F], y: &[F], slot: &[u32], topk: &[u32], dimp: Option<&[F]>) -> Vec<F> {
    let kk = m.kmax;
    let mut dg = vec![F::zero(); m.t * kk];
    for t in 0..m.t {
        for r in 0..m.ranks() {
            let a = t * kk + r;
            // Competitive mixture: the routed gates do not scale y (the router learns from the
            // posterior in `route_grad`).
            if routing::live(slot[a]) && !(m.mix && r < m.k) {
                let mut acc = F::zero();
                for c in 0..m.d {
                    acc += dh[t * m.d + c] * y[a * m.d + c];
                }
                dg[a] = acc;
            }
        }
    }
    if let Some(dimp) = dimp {
        for t in 0..m.t {
            for r in 0..m.k {
                let a = t * kk + r;
                dg[a] += dimp[topk[a] as usize];
            }
        }
    }
    dg
}

/// The gradient reaching assignment a's expert output y[a] at column c: gate · dh[t, c], or, for
/// a routed rank under the competitive mixture loss, dhm[a, c] (y enters that expert's own
/// prediction with weight 1).
fn gdh<F: Real>(m: &Dims, a: usize, c: usize, gates: &[F], dh: &[F], dhm: &[F]) -> F {
    if m.mix && a % m.kmax < m.k {
        dhm[a * m.d + c]
    } else {
        gates[a] * dh[(a / m.kmax) * m.d + c]
    }
}

/// `ffn_dhidden` — WGSL: shaders/expert_ffn.wgsl `ffn_dhidden`. dpre [T·K, H] = relu'(pre) ⊙
/// W2_eᵀ·(gate · dh[t, ·]) for live assignments (0 elsewhere), from dh [T, d], hid [T·K, H], gates,
/// topk and slot [T, K]; with the competitive mixture loss, dhm [T·K, d] for the routed ranks
/// instead of gate · dh.
#[allow(clippy::too_many_arguments)]
pub fn ffn_dhidden<F: Real>(
    p: &Params<F>,
    m: &Dims,
    dh: &[F],
    dhm: &[F],
    hid: &[F],
    gates: &[F],
    topk: &[u32],
    slot: &[u32],
) -> Vec<F> {
    let (kk, l, w) = (m.kmax, &p.layout, &p.w);
    let mut dpre = vec![F::zero(); m.t * kk * m.h];
    for t in 0..m.t {
        for r in 0..m.ranks() {
            let a = t * kk + r;
            if !routing::live(slot[a]) {
                continue;
            }
            let e = topk[a] as usize;
            for j in 0..m.h {
                if hid[a * m.h + j] > F::zero() {
                    let mut acc = F::zero();
                    for c in 0..m.d {
                        acc += w[l.w2.start + (e * m.d + c) * m.h + j] * gdh(m, a, c, gates, dh, dhm);
                    }
                    dpre[a * m.h + j] = acc;
                }
            }
        }
    }
    dpre
}

/// Expert e's kept assignments in slot order (lists[e, ..kept\[e\]]) and their rows t = a / K.
fn kept_list(m: &Dims, kept: &[u32], lists: &[u32], e: usize) -> (Vec<usize>, Vec<usize>) {
    let list: Vec<usize> = lists[e * m.t..e * m.t + kept[e] as usize].iter().map(|&a| a as usize).collect();
    let rows = list.iter().map(|&a| a / m.kmax).collect();
    (list, rows)
}

/// `ffn_wgrad2` — WGSL: shaders/expert_ffn.wgsl `ffn_wgrad2`. dW2[e, c, j] = Σ_s (gate·dh[t, c])·
/// hid[a, j] and db2[e, c] = Σ_s gate·dh[t, c] into `grads`, over expert e's kept assignments a in
/// slot order (lists [E, T], kept \[E\]), from dh [T, d], hid [T·K, H] and gates [T, K] (with the
/// competitive mixture loss, dhm [T·K, d] for the routed ranks instead of gate·dh). Each output
/// sums its terms in list order, as the kernel does; t = a / K and gate·dh are computed once per
/// assignment rather than once per term (the same f32 values, far fewer divisions).
#[allow(clippy::too_many_arguments)]
pub fn ffn_wgrad2<F: Real>(
    p: &Params<F>,
    m: &Dims,
    dh: &[F],
    dhm: &[F],
    hid: &[F],
    gates: &[F],
    kept: &[u32],
    lists: &[u32],
    grads: &mut [F],
) {
    let l = &p.layout;
    for e in 0..m.n_experts() {
        let (list, _) = kept_list(m, kept, lists, e);
        let mut col = vec![F::zero(); list.len()];
        for c in 0..m.d {
            for (i, &a) in list.iter().enumerate() {
                col[i] = gdh(m, a, c, gates, dh, dhm);
            }
            for j in 0..m.h {
                let mut acc = F::zero();
                for (&gd, &a) in col.iter().zip(&list) {
                    acc += gd * hid[a * m.h + j];
                }
                grads[l.w2.start + (e * m.d + c) * m.h + j] = acc;
            }
            let mut acc = F::zero();
            for &gd in &col {
                acc += gd;
            }
            grads[l.b2.start + e * m.d + c] = acc;
        }
    }
}

/// `ffn_wgrad1` — WGSL: shaders/expert_ffn.wgsl `ffn_wgrad1`. dW1[e, j, c] = Σ_s dpre[a, j]·x[t, c]
/// and db1[e, j] = Σ_s dpre[a, j] into `grads`, over expert e's kept assignments in slot order
/// (lists [E, T], kept \[E\]), from dpre [T·K, H] and x [T, d].
pub fn ffn_wgrad1<F: Real>(p: &Params<F>, m: &Dims, dpre: &[F], x: &[F], kept: &[u32], lists: &[u32], grads: &mut [F]) {
    let l = &p.layout;
    for e in 0..m.n_experts() {
        let (list, rows) = kept_list(m, kept, lists, e);
        for j in 0..m.h {
            for c in 0..m.d {
                let mut acc = F::zero();
                for (&a, &t) in list.iter().zip(&rows) {
                    acc += dpre[a * m.h + j] * x[t * m.d + c];
                }
                grads[l.w1.start + (e * m.h + j) * m.d + c] = acc;
            }
            let mut acc = F::zero();
            for &a in &list {
                acc += dpre[a * m.h + j];
            }
            grads[l.b1.start + e * m.h + j] = acc;
        }
    }
}

/// `route_grad` — WGSL: shaders/router.wgsl `route_grad` (the unit's part: `route_grad_<name>` in
/// shaders/routers/<name>.wgsl; CPU: [`routers::Router::gate_grad`], `load_grad`). Per token, from
/// the gate gradients dg [T, K], the chosen topk and gates (in `routed`, with what the unit stored)
/// and the router inputs (logits, probs, noise logits [T, E], `r`'s bias and keys, and with the
/// competitive mixture loss the posterior `post` [T, E] of `mix_grad`): (dp, dl, dn),
/// each [T, E]: d loss / d p (the GPU leaves it in `dlog` for `router_grad`), the unit's direct
/// part of d loss / d logits and d loss / d noise logits (both in `rstate`). `dload` (α·d CV²(load)
/// / d load, \[E\]) is given with the cv2 loss when the router has a smooth load estimate in
/// training.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn route_grad<F: Real>(
    m: &Dims,
    r: &Routing<F>,
    logits: &[F],
    probs: &[F],
    nlog: &[F],
    post: &[F],
    routed: &RouteOut<F>,
    dg: &[F],
    dload: Option<&[F]>,
) -> (Vec<F>, Vec<F>, Vec<F>) {
    let (kk, e) = (m.kmax, m.e);
    let unit = routers::unit::<F>(r.router);
    let ri = RouteIn {
        e,
        k: m.k,
        kmax: kk,
        t: m.t,
        cap: 0,
        logits,
        probs,
        nlog,
        bias: &r.bias,
        keys: &r.keys,
        train: r.train,
        post,
        mix: m.mix,
    };
    let mut dp_all = vec![F::zero(); m.t * e];
    let mut dl_all = vec![F::zero(); m.t * e];
    let mut dn_all = vec![F::zero(); m.t * e];
    for t in 0..m.t {
        let mut dp = vec![F::zero(); e];
        let (row, te) = (t * kk..(t + 1) * kk, t * e..(t + 1) * e);
        let o = GateGrad { dp: &mut dp, dl: &mut dl_all[te.clone()], dn: &mut dn_all[te.clone()] };
        unit.gate_grad(t, &ri, &routed.topk[row.clone()], &routed.gates[row.clone()], &dg[row], o);
        if let Some(dload) = dload {
            let o = GateGrad { dp: &mut dp, dl: &mut dl_all[te.clone()], dn: &mut dn_all[te.clone()] };
            unit.load_grad(t, &ri, routed, dload, o);
        }
        dp_all[te].copy_from_slice(&dp);
    }
    (dp_all, dl_all, dn_all)
}

/// `router_grad` — WGSL: shaders/router.wgsl `router_grad`. dlog [T, E] = d loss / d router logits:
/// the unit's dp [T, E] plus (balance losses other than cv2) the Switch loss's α·E·f_e/T on every
/// p_e (f_e = counts_e / (T·k), counts \[E\]), through the softmax (probs [T, E]); plus the
/// z-loss's β·2·lse·p/T (lse \[T\]) and the unit's direct part dl [T, E].
#[allow(clippy::too_many_arguments)]
pub fn router_grad<F: Real>(
    m: &Dims,
    probs: &[F],
    lse: &[F],
    counts: &[u32],
    dp: &[F],
    dl: &[F],
    balance: Balance,
    alpha: F,
    beta: F,
) -> Vec<F> {
    let mut dlog = vec![F::zero(); m.t * m.e];
    let tf = F::of(m.t as f64);
    let tk = F::of((m.t * m.k) as f64);
    let ef = F::of(m.e as f64);
    let cv2 = balance == Balance::Cv2;
    for t in 0..m.t {
        let pr = &probs[t * m.e..(t + 1) * m.e];
        let mut dp = dp[t * m.e..(t + 1) * m.e].to_vec();
        let mut dot = F::zero();
        for e in 0..m.e {
            if !cv2 {
                let f_e = F::of(counts[e] as f64) / tk;
                dp[e] += alpha * ef * f_e / tf;
            }
            dot += pr[e] * dp[e];
        }
        let zl = beta * F::of(2.0) * lse[t] / tf;
        for e in 0..m.e {
            dlog[t * m.e + e] = pr[e] * (dp[e] - dot) + zl * pr[e] + dl[t * m.e + e];
        }
    }
    dlog
}

/// `router_wgrad` — WGSL: shaders/router.wgsl `router_wgrad`. dW_r = dlogᵀ·x and dW_noise = dnᵀ·x
/// into `grads`, summed over tokens in order, from dlog and dn [T, E] and x [T, d].
pub fn router_wgrad<F: Real>(p: &Params<F>, m: &Dims, dlog: &[F], dn: &[F], x: &[F], grads: &mut [F]) {
    let l = &p.layout;
    for e in 0..m.e {
        for c in 0..m.d {
            let mut acc = F::zero();
            for t in 0..m.t {
                acc += dlog[t * m.e + e] * x[t * m.d + c];
            }
            grads[l.wr.start + e * m.d + c] = acc;
            let mut acc = F::zero();
            for t in 0..m.t {
                acc += dn[t * m.e + e] * x[t * m.d + c];
            }
            grads[l.wn.start + e * m.d + c] = acc;
        }
    }
}

/// `ffn_dx` — WGSL: shaders/expert_ffn.wgsl `ffn_dx`. Each kept assignment's part of dx through
/// its expert's first layer: dxa[a, c] = Σ_j W1[e, j, c]·dpre[a, j] ([T·K, d] over the live ranks;
/// 0 for the ranks no expert kept), from dpre [T·K, H], topk and slot [T, K].
pub fn ffn_dx<F: Real>(p: &Params<F>, m: &Dims, dpre: &[F], topk: &[u32], slot: &[u32]) -> Vec<F> {
    let (kk, l, w) = (m.kmax, &p.layout, &p.w);
    let mut dxa = vec![F::zero(); m.t * kk * m.d];
    for t in 0..m.t {
        for r in 0..m.ranks() {
            let a = t * kk + r;
            if !routing::live(slot[a]) {
                continue;
            }
            let e = topk[a] as usize;
            for c in 0..m.d {
                let mut acc = F::zero();
                for j in 0..m.h {
                    acc += w[l.w1.start + (e * m.h + j) * m.d + c] * dpre[a * m.h + j];
                }
                dxa[a * m.d + c] = acc;
            }
        }
    }
    dxa
}

/// `input_grad` — WGSL: shaders/expert_ffn.wgsl `input_grad`. dx [T, d] = dh (the residual) +
/// Σ_{live r} dxa[a, ·] (in rank order) + W_rᵀ·dlog[t, ·] + W_noiseᵀ·dn[t, ·], from dh [T, d], dxa
/// [T·K, d], dlog and dn [T, E] and slot [T, K].
pub fn input_grad<F: Real>(p: &Params<F>, m: &Dims, dh: &[F], dxa: &[F], dlog: &[F], dn: &[F], slot: &[u32]) -> Vec<F> {
    let (kk, l, w) = (m.kmax, &p.layout, &p.w);
    let mut dx = vec![F::zero(); m.t * m.d];
    for t in 0..m.t {
        for c in 0..m.d {
            let mut acc = dh[t * m.d + c];
            for r in 0..m.ranks() {
                let a = t * kk + r;
                if routing::live(slot[a]) {
                    acc += dxa[a * m.d + c];
                }
            }
            for e in 0..m.e {
                acc += w[l.wr.start + e * m.d + c] * dlog[t * m.e + e];
            }
            for e in 0..m.e {
                acc += w[l.wn.start + e * m.d + c] * dn[t * m.e + e];
            }
            dx[t * m.d + c] = acc;
        }
    }
    dx
}

/// `embed_grad` — WGSL: shaders/data.wgsl `embed_grad`. The input layer's gradient into `grads`,
/// summed over rows in order, from dx [T, d] (through relu'(x0), x0 [T, d], for tokens) and the
/// batch's inputs (`inp`): d emb [CTX, V, d] (tokens) or dW_in, db_in (regions).
pub fn embed_grad<F: Real>(p: &Params<F>, m: &Dims, b: &Batch, x0: &[F], dx: &[F], grads: &mut [F]) {
    let l = &p.layout;
    let dx0 = |t: usize, c: usize| {
        let i = t * m.d + c;
        if !m.tokens || x0[i] > F::zero() {
            dx[i]
        } else {
            F::zero()
        }
    };
    if m.tokens {
        grads[l.emb.clone()].fill(F::zero());
        for j in 0..CTX {
            for c in 0..m.d {
                for t in 0..m.t {
                    let id = b.inputs[t * CTX + j] as usize;
                    grads[l.emb.start + (j * m.v + id) * m.d + c] += dx0(t, c);
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
            grads[l.w_in.start + c * 2] = a0;
            grads[l.w_in.start + c * 2 + 1] = a1;
            grads[l.b_in.start + c] = ab;
        }
    }
}
