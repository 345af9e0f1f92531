//! Forward pass of the reference. Stage names match the WGSL entry points.
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
    pub hid: Vec<F>,       // [T·K, H] relu(W1·x + b1) per kept assignment (0 elsewhere)
    pub y: Vec<F>,         // [T·K, d] expert output per kept assignment (0 elsewhere)
    pub h: Vec<F>,         // [T, d] x + Σ gates · y
    pub out: Vec<F>,       // [T, V] output logits
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

/// `embed`: x0 = Σ_j emb[j, id_j] (tokens) or W_in·[x, y] + b_in (regions).
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

/// `router`: logits = W_r·x, their softmax p and logsumexp, and the noise logits W_noise·x, per token.
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

/// `route`: the router unit's choice for every token (experts, gates, random drops, scores).
pub fn route<F: Real>(m: &Dims, logits: &[F], probs: &[F], nlog: &[F], r: &Routing<F>) -> RouteOut<F> {
    let i = RouteIn { e: m.e, k: m.k, kmax: m.kmax, logits, probs, nlog, bias: &r.bias, keys: &r.keys, train: r.train };
    let unit = routers::unit::<F>(r.router);
    let mut o = RouteOut::new(m.t, m.e, m.kmax);
    for t in 0..m.t {
        unit.route(t, &i, &mut o);
    }
    o
}

/// Full forward pass of batch `b` (T = its rows) for live top-k `p.dims.k` and capacity `cap`, with
/// plain softmax top-k routing ([`Routing::plain`]).
pub fn forward<F: Real>(p: &Params<F>, b: &Batch, cap: usize) -> Forward<F> {
    forward_routed(p, b, cap, Routing::plain(p, b))
}

/// Full forward pass with the given routing.
pub fn forward_routed<F: Real>(p: &Params<F>, b: &Batch, cap: usize, rt: Routing<F>) -> Forward<F> {
    let m = Dims { t: b.len(), ..p.dims };
    let (kk, l) = (m.kmax, &p.layout);
    let w = &p.w;
    let (x0, x) = embed(p, b);
    let (logits, probs, lse, nlog) = router(p, &x, m.t);
    let routed = route(&m, &logits, &probs, &nlog, &rt);
    let (topk, gates, random, scores) =
        (routed.topk.clone(), routed.gates.clone(), routed.random.clone(), routed.scores.clone());
    let order = routing::drop_order(rt.policy, &probs, &rt.keys, m.t, m.e);
    let assign = routing::assign_ordered(&topk, &random, &order, m.t, m.k, kk, m.e, cap);

    // `ffn_hidden`, `ffn_out`: per kept assignment.
    let mut hid = vec![F::zero(); m.t * kk * m.h];
    let mut y = vec![F::zero(); m.t * kk * m.d];
    for t in 0..m.t {
        for r in 0..m.k {
            let a = t * kk + r;
            if !routing::live(assign.slot[a]) {
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
            for c in 0..m.d {
                let mut acc = w[l.b2.start + e * m.d + c];
                for j in 0..m.h {
                    acc += w[l.w2.start + (e * m.d + c) * m.h + j] * hid[a * m.h + j];
                }
                y[a * m.d + c] = acc;
            }
        }
    }

    // `combine`: residual plus gated expert outputs.
    let mut h = x.clone();
    for t in 0..m.t {
        for c in 0..m.d {
            let mut acc = x[t * m.d + c];
            for r in 0..m.k {
                let a = t * kk + r;
                if routing::live(assign.slot[a]) {
                    acc += gates[a] * y[a * m.d + c];
                }
            }
            h[t * m.d + c] = acc;
        }
    }

    // `head`, `loss_token`.
    let mut out = vec![F::zero(); m.t * m.v];
    let mut ce_t = vec![F::zero(); m.t];
    let mut dout = vec![F::zero(); m.t * m.v];
    let mut correct = vec![0u32; m.t];
    let tf = F::of(m.t as f64);
    for t in 0..m.t {
        for v in 0..m.v {
            let mut acc = w[l.bo.start + v];
            for c in 0..m.d {
                acc += w[l.wo.start + v * m.d + c] * h[t * m.d + c];
            }
            out[t * m.v + v] = acc;
        }
        let row = &out[t * m.v..(t + 1) * m.v];
        let (sm, ls) = routing::softmax(row);
        let target = b.targets[t] as usize;
        ce_t[t] = ls - row[target];
        let arg = routing::top_k(row, 1)[0] as usize;
        correct[t] = (arg == target) as u32;
        for v in 0..m.v {
            let one = if v == target { F::of(1.0) } else { F::zero() };
            dout[t * m.v + v] = (sm[v] - one) / tf;
        }
    }

    // `loss_reduce`: CE, balance loss, z-loss, drop counts.
    let mut ce = F::zero();
    let mut z = F::zero();
    for t in 0..m.t {
        ce += ce_t[t];
        z += lse[t] * lse[t];
    }
    ce = ce / tf;
    z = z / tf;
    let tk = F::of((m.t * m.k) as f64);
    let f: Vec<F> = assign.counts.iter().map(|&n| F::of(n as f64) / tk).collect();
    let mut p_mean = vec![F::zero(); m.e];
    for (e, pm) in p_mean.iter_mut().enumerate() {
        let mut acc = F::zero();
        for t in 0..m.t {
            acc += probs[t * m.e + e];
        }
        *pm = acc / tf;
    }
    // `balance_reduce` (cv2): importance = Σ gates of the chosen (before dropping), load = the
    // router's smooth estimate in training or the choice counts.
    let mut importance = vec![F::zero(); m.e];
    for t in 0..m.t {
        for r in 0..m.k {
            importance[topk[t * kk + r] as usize] += gates[t * kk + r];
        }
    }
    let smooth = rt.train && routers::unit_info(rt.router).smooth_load;
    let load: Vec<F> = (0..m.e)
        .map(|e| {
            if smooth {
                let mut acc = F::zero();
                for t in 0..m.t {
                    acc += routed.load_p[t * m.e + e];
                }
                acc
            } else {
                F::of(assign.counts[e] as f64)
            }
        })
        .collect();
    let aux = if rt.balance == Balance::Cv2 {
        routing::cv2(&importance) + routing::cv2(&load)
    } else {
        let mut aux = F::zero();
        for e in 0..m.e {
            aux += f[e] * p_mean[e];
        }
        aux * F::of(m.e as f64)
    };
    let (dropped, all_dropped) = routing::drop_counts(&assign.slot, m.t, m.k, kk);
    Forward {
        x0,
        x,
        logits,
        nlog,
        probs,
        lse,
        topk,
        gates,
        scores,
        order,
        routing: rt,
        routed,
        importance,
        load,
        assign,
        k: m.k,
        cap,
        hid,
        y,
        h,
        out,
        ce_t,
        correct,
        dout,
        ce,
        aux,
        z,
        f,
        p_mean,
        dropped,
        all_dropped,
    }
}
