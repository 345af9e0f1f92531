//! Forward pass of the reference: one function per WGSL entry point, with the same name
//! (`embed`, `router`, `route`, `drop_order`, `capacity`, `ffn_hidden`, `ffn_out`, `combine`, `head`,
//! `loss_token`, `loss_reduce`, `balance_reduce`), each reading and writing the buffers its kernel
//! binds in their GPU layouts; [`forward_routed`] calls them in order. The list is
//! [`super::STAGES`]; tests/gpu_parity.rs compares each with its kernel.
use super::routers::{self, RouteIn, RouteOut};
use super::routing::{self, Assignment};
use super::{Dims, Params, Real};
use crate::config::{Balance, DropPolicy, RouterKind};
use crate::data::{Batch, CTX};

/// How a forward pass routes, besides the weights: the router unit, the drop policy, the per-token
/// router words ([T, 2]: hash key, random draw; `routing::route_keys`) and the router's bias [E].
#[derive(Clone, Debug, PartialEq)]
pub struct Routing<F> {
    pub router: RouterKind,
    pub policy: DropPolicy,
    pub keys: Vec<u32>,
    pub bias: Vec<F>,
    /// A training step: router noise and random draws apply (false: evaluation, probe).
    pub train: bool,
    /// The balance loss whose value `aux` holds (none: the Switch loss's value, weight 0).
    pub balance: Balance,
}

impl<F: Real> Routing<F> {
    /// Softmax top-k, position order, no bias, the keys of an evaluation batch (no random draws).
    pub fn plain(p: &Params<F>, b: &Batch) -> Routing<F> {
        Routing {
            router: RouterKind::default(),
            policy: DropPolicy::Position,
            keys: routing::route_keys(b, p.dims.tokens, 0, None),
            bias: vec![F::zero(); p.dims.e],
            train: false,
            balance: Balance::Switch,
        }
    }
}

/// Every intermediate of one forward pass (what backward and the parity tests read).
#[derive(Clone, Debug)]
pub struct Forward<F> {
    pub x0: Vec<F>,      // [T, d] pre-activation input
    pub x: Vec<F>,       // [T, d] MoE input (relu(x0) for tokens, x0 for regions)
    pub logits: Vec<F>,  // [T, E] router logits
    pub nlog: Vec<F>,    // [T, E] noise logits x·W_noise (the noisy router's)
    pub probs: Vec<F>,   // [T, E]
    pub lse: Vec<F>,     // [T] logsumexp of the router logits
    pub topk: Vec<u32>,  // [T, K] chosen experts, best first; UNUSED for r ≥ k
    pub gates: Vec<F>,   // [T, K]
    pub scores: Vec<F>,  // [T, E] what the top-k chose on (the router unit's scores)
    pub order: Vec<u32>, // [T] the drop policy's token order
    /// Everything the router unit wrote (its smooth load estimate and noise too).
    pub routed: RouteOut<F>,
    /// [E] cv2 balance: Σ gates per expert (importance) and the load it balances.
    pub importance: Vec<F>,
    pub load: Vec<F>,
    pub routing: Routing<F>,
    pub assign: Assignment,
    /// The live top-k and the capacity this pass ran with.
    pub k: usize,
    pub cap: usize,
    pub hid: Vec<F>, // [T·K, H] relu(W1·x + b1) per kept assignment (0 elsewhere)
    pub y: Vec<F>,   // [T·K, d] expert output per kept assignment (0 elsewhere)
    pub h: Vec<F>,   // [T, d] x + Σ gates · y (competitive: x + the shared experts only)
    /// [T·K, V] each routed expert's own output logits head(h + y) (competitive mixture; 0 else).
    pub outm: Vec<F>,
    pub out: Vec<F>,       // [T, V] output logits (competitive: the log of the mixture's probabilities)
    pub ce_t: Vec<F>,      // [T]
    pub correct: Vec<u32>, // [T] argmax == target
    pub dout: Vec<F>,      // [T, V] dCE/dout = (softmax − onehot) / T
    pub ce: F,
    pub aux: F,
    pub z: F,
    pub f: Vec<F>,      // [E] share of the T·k choices per expert (pre-drop)
    pub p_mean: Vec<F>, // [E] mean router probability
    pub dropped: u32,
    pub all_dropped: u32,
}

impl<F: Real> Forward<F> {
    /// CE + α·aux + β·z.
    pub fn loss(&self, alpha: F, beta: F) -> F {
        self.ce + alpha * self.aux + beta * self.z
    }
}

/// Full forward pass of batch `b` (T = its rows) for live top-k `p.dims.k` and capacity `cap`, with
/// plain softmax top-k routing ([`Routing::plain`]).
pub fn forward<F: Real>(p: &Params<F>, b: &Batch, cap: usize) -> Forward<F> {
    forward_routed(p, b, cap, Routing::plain(p, b))
}

/// Full forward pass with the given routing: the stages below in the order of
/// `gpu::kernels::FORWARD`, then the loss stages.
pub fn forward_routed<F: Real>(p: &Params<F>, b: &Batch, cap: usize, rt: Routing<F>) -> Forward<F> {
    let m = Dims { t: b.len(), ..p.dims };
    let (x0, x) = embed(p, b);
    let (logits, probs, lse, nlog) = router(p, &x, m.t);
    let routed = route(&m, &logits, &probs, &nlog, &rt, cap);
    let order = drop_order(rt.policy, &probs, &rt.keys, m.t, m.e);
    let assign = capacity(&m, &routed, &order, cap);
    let hid = ffn_hidden(p, &m, &x, &routed.topk, &assign.slot);
    let y = ffn_out(p, &m, &hid, &routed.topk, &assign.slot);
    let h = combine(&m, &x, &routed.gates, &y, &assign.slot);
    let outm = head_mix(p, &m, &h, &y, &assign.slot);
    let out = head(p, &m, &h, &outm, &logits, &lse, &routed.topk);
    let (ce_t, correct, dout) = loss_token(&m, &out, &b.targets);
    let stats = loss_reduce(&m, &ce_t, &lse, &correct, &probs, &assign.counts);
    let smooth = rt.train && rt.router.info().smooth_load;
    let bal = balance_reduce(&m, &routed.topk, &routed.gates, &assign.counts, smooth.then_some(&routed.load_p[..]));
    let aux = if rt.balance == Balance::Cv2 { bal.aux } else { stats.aux };
    let (dropped, all_dropped) = routing::drop_counts(&assign.slot, m.t, m.k, m.kmax);
    Forward {
        x0,
        x,
        logits,
        nlog,
        probs,
        lse,
        topk: routed.topk.clone(),
        gates: routed.gates.clone(),
        scores: routed.scores.clone(),
        order,
        routing: rt,
        routed,
        importance: bal.importance,
        load: bal.load,
        assign,
        k: m.k,
        cap,
        hid,
        y,
        h,
        outm,
        out,
        ce_t,
        correct,
        dout,
        ce: stats.ce,
        aux,
        z: stats.z,
        f: stats.f,
        p_mean: stats.p_mean,
        dropped,
        all_dropped,
    }
}

// ---- The stages, in step order. `m` is the batch's dims (m.t rows, the live m.k); buffers are in
// the GPU layouts of shaders/common.wgsl ([T, K] rows hold k_max ranks, of which the first k live).

/// `embed` — WGSL: shaders/data.wgsl `embed`. x0 [T, d] = Σ_j emb[j, id_j] (tokens) or
/// W_in·[x, y] + b_in (regions), and the MoE input x [T, d] (relu(x0) for tokens, x0 for regions).
pub fn embed<F: Real>(p: &Params<F>, b: &Batch) -> (Vec<F>, Vec<F>) {
    let m = Dims { t: b.len(), ..p.dims };
    let l = &p.layout;
    let mut x0 = vec![F::zero(); m.t * m.d];
    for t in 0..m.t {
        for c in 0..m.d {
            x0[t * m.d + c] = if m.tokens {
                let mut acc = F::zero();
                for j in 0..CTX {
                    let id = b.inputs[t * CTX + j] as usize;
                    acc += p.w[l.emb.start + (j * m.v + id) * m.d + c];
                }
                acc
            } else {
                let pt = b.point(t);
                p.w[l.b_in.start + c]
                    + p.w[l.w_in.start + c * 2] * F::of(pt[0] as f64)
                    + p.w[l.w_in.start + c * 2 + 1] * F::of(pt[1] as f64)
            };
        }
    }
    let x = if m.tokens { x0.iter().map(|v| v.relu()).collect() } else { x0.clone() };
    (x0, x)
}

/// `router` — WGSL: shaders/router.wgsl `router`. Per token of x [T, d]: logits = W_r·x, their
/// softmax p and logsumexp ([T, E], [T, E], \[T\]), and the noise logits W_noise·x ([T, E],
/// `rstate`).
pub fn router<F: Real>(p: &Params<F>, x: &[F], t: usize) -> (Vec<F>, Vec<F>, Vec<F>, Vec<F>) {
    let (m, l, w) = (&p.dims, &p.layout, &p.w);
    let mut logits = vec![F::zero(); t * m.e];
    let mut nlog = vec![F::zero(); t * m.e];
    let mut probs = vec![F::zero(); t * m.e];
    let mut lse = vec![F::zero(); t];
    for t in 0..t {
        for e in 0..m.e {
            let mut acc = F::zero();
            let mut nacc = F::zero();
            for c in 0..m.d {
                acc += w[l.wr.start + e * m.d + c] * x[t * m.d + c];
                nacc += w[l.wn.start + e * m.d + c] * x[t * m.d + c];
            }
            logits[t * m.e + e] = acc;
            nlog[t * m.e + e] = nacc;
        }
        let (pr, ls) = routing::softmax(&logits[t * m.e..(t + 1) * m.e]);
        probs[t * m.e..(t + 1) * m.e].copy_from_slice(&pr);
        lse[t] = ls;
    }
    (logits, probs, lse, nlog)
}

/// `route` — WGSL: shaders/router.wgsl `route` (the unit: shaders/routers/<name>.wgsl). The router
/// unit's choice for every token: topk, gates, random drops and unpicked ranks [T, K], scores
/// [T, E], and the noisy router's noise and smooth load estimate ([`RouteOut`]; the units are in
/// src/model/routers/); then the shared experts' ranks k..k + shared (expert e + j, gate 1).
pub fn route<F: Real>(m: &Dims, logits: &[F], probs: &[F], nlog: &[F], r: &Routing<F>, cap: usize) -> RouteOut<F> {
    let i = RouteIn {
        e: m.e,
        k: m.k,
        kmax: m.kmax,
        t: m.t,
        cap,
        logits,
        probs,
        nlog,
        bias: &r.bias,
        keys: &r.keys,
        train: r.train,
        post: &[],
        mix: m.mix,
    };
    let unit = routers::unit::<F>(r.router);
    let mut o = RouteOut::new(m.t, m.e, m.kmax);
    for t in 0..m.t {
        unit.route(t, &i, &mut o);
        for j in 0..m.shared {
            o.topk[t * m.kmax + m.k + j] = (m.e + j) as u32;
            o.gates[t * m.kmax + m.k + j] = F::of(1.0);
        }
    }
    o
}

/// `drop_order` — WGSL: shaders/dispatch.wgsl `drop_order`. The drop policy's token order \[T\]
/// from probs [T, E] and the router words [T, 2] (defined in routing.rs, re-exported here).
pub use super::routing::drop_order;

/// `capacity` — WGSL: shaders/dispatch.wgsl `capacity`. From the routed topk [T, K], the router
/// unit's random drops and unpicked ranks [T, K] (the GPU's RANDOM and UNPICKED marks in `slot`)
/// and the token order \[T\]: slot [T, K], counts, kept \[E + shared\] and lists [E + shared, T]
/// (the [`Assignment`]; [`routing::assign_ordered`]).
pub fn capacity<F>(m: &Dims, routed: &RouteOut<F>, order: &[u32], cap: usize) -> Assignment {
    let (t, k, s, kk, e) = (m.t, m.k, m.shared, m.kmax, m.e);
    routing::assign_ordered(&routed.topk, &routed.random, &routed.unpicked, order, t, k, s, kk, e, cap)
}

/// `ffn_hidden` — WGSL: shaders/expert_ffn.wgsl `ffn_hidden`. hid [T·K, H] = relu(W1_e·x[t, ·] +
/// b1_e) for each live assignment a = t·K + r of expert e = topk\[a\] (0 elsewhere), from x [T, d],
/// topk and slot [T, K].
pub fn ffn_hidden<F: Real>(p: &Params<F>, m: &Dims, x: &[F], topk: &[u32], slot: &[u32]) -> Vec<F> {
    let (kk, l, w) = (m.kmax, &p.layout, &p.w);
    let mut hid = vec![F::zero(); m.t * kk * m.h];
    for t in 0..m.t {
        for r in 0..m.ranks() {
            let a = t * kk + r;
            if !routing::live(slot[a]) {
                continue;
            }
            let e = topk[a] as usize;
            for j in 0..m.h {
                let mut acc = w[l.b1.start + e * m.h + j];
                for c in 0..m.d {
                    acc += w[l.w1.start + (e * m.h + j) * m.d + c] * x[t * m.d + c];
                }
                hid[a * m.h + j] = acc.relu();
            }
        }
    }
    hid
}

/// `ffn_out` — WGSL: shaders/expert_ffn.wgsl `ffn_out`. y [T·K, d] = W2_e·hid[a, ·] + b2_e for each
/// live assignment (0 elsewhere), from hid [T·K, H], topk and slot [T, K].
pub fn ffn_out<F: Real>(p: &Params<F>, m: &Dims, hid: &[F], topk: &[u32], slot: &[u32]) -> Vec<F> {
    let (kk, l, w) = (m.kmax, &p.layout, &p.w);
    let mut y = vec![F::zero(); m.t * kk * m.d];
    for t in 0..m.t {
        for r in 0..m.ranks() {
            let a = t * kk + r;
            if !routing::live(slot[a]) {
                continue;
            }
            let e = topk[a] as usize;
            for c in 0..m.d {
                let mut acc = w[l.b2.start + e * m.d + c];
                for j in 0..m.h {
                    acc += w[l.w2.start + (e * m.d + c) * m.h + j] * hid[a * m.h + j];
                }
                y[a * m.d + c] = acc;
            }
        }
    }
    y
}

/// `combine` — WGSL: shaders/dispatch.wgsl `combine`. The residual plus the gated expert outputs:
/// h [T, d] = x + Σ_{live r} gates[t, r]·y[t·K + r], from x [T, d], gates [T, K], y [T·K, d], slot.
/// With the competitive mixture loss the routed experts are scored one by one (`head_mix`), so h
/// is x plus the shared experts only.
pub fn combine<F: Real>(m: &Dims, x: &[F], gates: &[F], y: &[F], slot: &[u32]) -> Vec<F> {
    let kk = m.kmax;
    let first = if m.mix { m.k } else { 0 };
    let mut h = vec![F::zero(); m.t * m.d];
    for t in 0..m.t {
        for c in 0..m.d {
            let mut acc = x[t * m.d + c];
            for r in first..m.ranks() {
                let a = t * kk + r;
                if routing::live(slot[a]) {
                    acc += gates[a] * y[a * m.d + c];
                }
            }
            h[t * m.d + c] = acc;
        }
    }
    h
}

/// `head_mix` — WGSL: shaders/loss.wgsl `head_mix`. With the competitive mixture loss, each live
/// routed assignment's own output logits outm [T·K, V] = W_o·(h[t] + y[a]) + b_o, from h [T, d] and
/// y [T·K, d]; zeros otherwise (the kernel then writes nothing).
pub fn head_mix<F: Real>(p: &Params<F>, m: &Dims, h: &[F], y: &[F], slot: &[u32]) -> Vec<F> {
    let (l, w, kk) = (&p.layout, &p.w, m.kmax);
    let mut outm = vec![F::zero(); m.t * kk * m.v];
    if !m.mix {
        return outm;
    }
    for t in 0..m.t {
        for r in 0..m.k {
            let a = t * kk + r;
            if !routing::live(slot[a]) {
                continue;
            }
            for v in 0..m.v {
                let mut acc = w[l.bo.start + v];
                for c in 0..m.d {
                    acc += w[l.wo.start + v * m.d + c] * (h[t * m.d + c] + y[a * m.d + c]);
                }
                outm[a * m.v + v] = acc;
            }
        }
    }
    outm
}

/// `head` — WGSL: shaders/loss.wgsl `head`. The output logits out [T, V] = W_o·h + b_o, from
/// h [T, d]. With the competitive mixture loss: the log of the mixture's class probabilities,
/// out[t, v] = log Σ_i p_i·softmax(outm_i)[v] over the routed ranks (log p_i = logit_i − lse, from
/// the router's logits [T, E] and lse \[T\]; expert i = topk[t, r]), so `loss_token` scores the
/// mixture's likelihood.
#[allow(clippy::too_many_arguments)]
pub fn head<F: Real>(p: &Params<F>, m: &Dims, h: &[F], outm: &[F], logits: &[F], lse: &[F], topk: &[u32]) -> Vec<F> {
    let (l, w, kk) = (&p.layout, &p.w, m.kmax);
    let mut out = vec![F::zero(); m.t * m.v];
    for t in 0..m.t {
        if m.mix {
            let lses: Vec<F> =
                (0..m.k).map(|r| routing::softmax(&outm[(t * kk + r) * m.v..(t * kk + r + 1) * m.v]).1).collect();
            for v in 0..m.v {
                let terms: Vec<F> = (0..m.k)
                    .map(|r| {
                        let a = t * kk + r;
                        let i = topk[a] as usize;
                        logits[t * m.e + i] - lse[t] + outm[a * m.v + v] - lses[r]
                    })
                    .collect();
                out[t * m.v + v] = routing::softmax(&terms).1;
            }
            continue;
        }
        for v in 0..m.v {
            let mut acc = w[l.bo.start + v];
            for c in 0..m.d {
                acc += w[l.wo.start + v * m.d + c] * h[t * m.d + c];
            }
            out[t * m.v + v] = acc;
        }
    }
    out
}

/// `loss_token` — WGSL: shaders/loss.wgsl `loss_token`. From out [T, V] and the targets \[T\]: ce_t
/// \[T\] = logsumexp(out[t, ·]) − out[t, target], correct \[T\] = (argmax == target), and dout
/// [T, V] = (softmax − onehot) / T.
pub fn loss_token<F: Real>(m: &Dims, out: &[F], targets: &[u32]) -> (Vec<F>, Vec<u32>, Vec<F>) {
    let mut ce_t = vec![F::zero(); m.t];
    let mut dout = vec![F::zero(); m.t * m.v];
    let mut correct = vec![0u32; m.t];
    let tf = F::of(m.t as f64);
    for t in 0..m.t {
        let row = &out[t * m.v..(t + 1) * m.v];
        let (sm, ls) = routing::softmax(row);
        let target = targets[t] as usize;
        ce_t[t] = ls - row[target];
        let arg = routing::top_k(row, 1)[0] as usize;
        correct[t] = (arg == target) as u32;
        for v in 0..m.v {
            let one = if v == target { F::of(1.0) } else { F::zero() };
            dout[t * m.v + v] = (sm[v] - one) / tf;
        }
    }
    (ce_t, correct, dout)
}

/// What `loss_reduce` writes to `stats`: ce, aux, z, accuracy at 0, 1, 2, 3; f at 8, P at 72.
#[derive(Clone, Debug, PartialEq)]
pub struct LossStats<F> {
    pub ce: F,
    /// The Switch balance loss E·Σ f_e·P_e (with cv2, `balance_reduce` overwrites it).
    pub aux: F,
    pub z: F,
    pub accuracy: F,
    /// \[E\] share of the T·k choices per expert (pre-drop).
    pub f: Vec<F>,
    /// \[E\] mean router probability.
    pub p_mean: Vec<F>,
}

/// `loss_reduce` — WGSL: shaders/loss.wgsl `loss_reduce`. Mean CE and z-loss over ce_t, lse \[T\],
/// accuracy from correct \[T\], f_e = counts_e / (T·k) and P_e = mean_t probs[t, e] (\[E\]), and
/// the Switch balance loss from them. (The total loss CE + α·aux + β·z is [`Forward::loss`].)
pub fn loss_reduce<F: Real>(
    m: &Dims,
    ce_t: &[F],
    lse: &[F],
    correct: &[u32],
    probs: &[F],
    counts: &[u32],
) -> LossStats<F> {
    let tf = F::of(m.t as f64);
    let mut ce = F::zero();
    let mut z = F::zero();
    for t in 0..m.t {
        ce += ce_t[t];
        z += lse[t] * lse[t];
    }
    ce = ce / tf;
    z = z / tf;
    let ok: u32 = correct[..m.t].iter().sum();
    let accuracy = F::of(ok as f64) / tf;
    let tk = F::of((m.t * m.k) as f64);
    let f: Vec<F> = counts[..m.e].iter().map(|&n| F::of(n as f64) / tk).collect();
    let mut p_mean = vec![F::zero(); m.e];
    for (e, pm) in p_mean.iter_mut().enumerate() {
        let mut acc = F::zero();
        for t in 0..m.t {
            acc += probs[t * m.e + e];
        }
        *pm = acc / tf;
    }
    let mut aux = F::zero();
    for e in 0..m.e {
        aux += f[e] * p_mean[e];
    }
    let aux = aux * F::of(m.e as f64);
    LossStats { ce, aux, z, accuracy, f, p_mean }
}

/// What `balance_reduce` writes to `stats` (importance at 136, load at 200, d CV² / d importance at
/// 264, d CV² / d load at 328, and aux at \[1\]).
#[derive(Clone, Debug, PartialEq)]
pub struct Cv2Stats<F> {
    /// \[E\] Σ gates of the tokens that chose each expert (before dropping).
    pub importance: Vec<F>,
    /// \[E\] the router's smooth load estimate (training, routers with `smooth_load`) or the
    /// counts.
    pub load: Vec<F>,
    /// CV²(importance) + CV²(load).
    pub aux: F,
    /// \[E\] d CV² / d importance and d CV² / d load, unscaled ([`routing::cv2_grad`]; the backward
    /// stages take them times α).
    pub dimp: Vec<F>,
    pub dload: Vec<F>,
}

/// `balance_reduce` — WGSL: shaders/loss.wgsl `balance_reduce` (run with the cv2 balance loss only;
/// the reference computes it always and uses its aux with cv2). importance \[E\] = Σ gates of the
/// chosen in token then rank order, from topk and gates [T, K]; load \[E\] = Σ_t load_p[t, e] (the
/// router's smooth estimate [T, E], `rstate`, when given) or the choice counts \[E\].
pub fn balance_reduce<F: Real>(
    m: &Dims,
    topk: &[u32],
    gates: &[F],
    counts: &[u32],
    load_p: Option<&[F]>,
) -> Cv2Stats<F> {
    let kk = m.kmax;
    let mut importance = vec![F::zero(); m.e];
    for t in 0..m.t {
        for r in 0..m.k {
            importance[topk[t * kk + r] as usize] += gates[t * kk + r];
        }
    }
    let load: Vec<F> = (0..m.e)
        .map(|e| match load_p {
            Some(lp) => {
                let mut acc = F::zero();
                for t in 0..m.t {
                    acc += lp[t * m.e + e];
                }
                acc
            }
            None => F::of(counts[e] as f64),
        })
        .collect();
    let aux = routing::cv2(&importance) + routing::cv2(&load);
    let (dimp, dload) = (routing::cv2_grad(&importance), routing::cv2_grad(&load));
    Cv2Stats { importance, load, aux, dimp, dload }
}
