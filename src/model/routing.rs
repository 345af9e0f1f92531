//! Routing semantics, the rules every router kernel and test follows: softmax over the E experts;
//! top-k by probability, ties to the lower index; gates = raw p for k = 1 (Switch), renormalised
//! over the chosen k for k ≥ 2 (Mixtral); capacity C = ceil(cf·T·k/E) per expert, filled by
//! priority (every first choice in token order, then every second choice, ...).
//! shaders/router.wgsl and shaders/dispatch.wgsl implement the same rules; tests hold both to them.
//! The router units (which experts a token picks) are in src/model/routers/.
use super::Real;

/// `slot` value of an assignment over capacity.
pub const DROPPED: u32 = u32::MAX;
/// `slot`/`topk` value of ranks r ≥ k (buffers hold k_max ranks; only the first k are live).
pub const UNUSED: u32 = u32::MAX - 1;
/// `slot` value of an assignment the router dropped at random before capacity (gshard-top2).
pub const RANDOM: u32 = u32::MAX - 2;
/// `slot` value of a rank whose expert did not pick the token (expert choice): not an assignment.
pub const UNPICKED: u32 = u32::MAX - 3;

/// An assignment is live when it was chosen (r < k), picked, not dropped at random and kept.
pub fn live(slot: u32) -> bool {
    slot < UNPICKED
}

/// A chosen assignment that contributes nothing: over capacity or dropped at random (the WGSL twin
/// is `is_dropped` in shaders/common.wgsl).
pub fn is_dropped(slot: u32) -> bool {
    matches!(slot, DROPPED | RANDOM)
}

/// Why an assignment is not live: `kept`, `capacity` or `random` (and `unused` for r ≥ k).
pub fn drop_reason(slot: u32) -> &'static str {
    match slot {
        DROPPED => "capacity",
        RANDOM => "random",
        UNUSED => "unused",
        UNPICKED => "unpicked",
        _ => "kept",
    }
}

/// The per-token words routers read, [T, 2]: the hash key (the current input token id for tokens,
/// the cell of an 8 × 8 grid over [-1, 1]² for regions) and a random draw (training steps only:
/// `step` = Some; 0 in evaluation and the probe). shaders/data.wgsl `sample_batch` writes the same.
pub fn route_keys(b: &crate::data::Batch, tokens: bool, seed: u32, step: Option<u32>) -> Vec<u32> {
    use crate::data::CTX;
    let mut out = vec![0u32; b.len() * 2];
    for t in 0..b.len() {
        out[t * 2] = if tokens {
            b.inputs[t * CTX + CTX - 1]
        } else {
            let [x, y] = b.point(t);
            let cell = |v: f32| ((v + 1.0) * 4.0).floor().clamp(0.0, 7.0) as u32;
            cell(y) * 8 + cell(x)
        };
        out[t * 2 + 1] = step.map_or(0, |s| crate::rng::draw(seed, s, t as u32));
    }
    out
}

/// `drop_order`: the token order within a rank in which capacity slots are handed out. Position:
/// 0, 1, …; probability: by the token's highest router probability, descending; random: by the
/// token's random draw, ascending; ties by position.
pub fn drop_order<F: Real>(
    policy: crate::config::DropPolicy,
    probs: &[F],
    keys: &[u32],
    t: usize,
    e: usize,
) -> Vec<u32> {
    use crate::config::DropPolicy;
    let mut order: Vec<u32> = (0..t as u32).collect();
    match policy {
        DropPolicy::Position => {}
        DropPolicy::Probability => {
            let best: Vec<F> =
                (0..t).map(|i| probs[i * e..(i + 1) * e].iter().copied().fold(probs[i * e], F::max)).collect();
            order.sort_by(|&a, &b| {
                best[b as usize].partial_cmp(&best[a as usize]).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b))
            });
        }
        DropPolicy::Random => order.sort_by_key(|&i| (keys[i as usize * 2 + 1], i)),
    }
    order
}

/// Softmax of one row; returns (probabilities, logsumexp).
pub fn softmax<F: Real>(logits: &[F]) -> (Vec<F>, F) {
    let m = logits.iter().copied().fold(logits[0], F::max);
    let mut s = F::zero();
    for &l in logits {
        s += (l - m).exp();
    }
    let p = logits.iter().map(|&l| (l - m).exp() / s).collect();
    (p, m + s.ln())
}

/// The k largest probabilities, largest first; ties go to the lower expert index.
pub fn top_k<F: Real>(p: &[F], k: usize) -> Vec<u32> {
    let mut chosen: Vec<u32> = Vec::with_capacity(k);
    for _ in 0..k {
        let mut best = u32::MAX;
        for (i, &pi) in p.iter().enumerate() {
            if chosen.contains(&(i as u32)) {
                continue;
            }
            if best == u32::MAX || pi > p[best as usize] {
                best = i as u32;
            }
        }
        chosen.push(best);
    }
    chosen
}

/// Gates of the chosen experts: k = 1 keeps the raw probability (Switch); k ≥ 2 renormalises over
/// the chosen k (Mixtral).
pub fn gates<F: Real>(p: &[F], chosen: &[u32]) -> Vec<F> {
    if chosen.len() == 1 {
        return vec![p[chosen[0] as usize]];
    }
    let mut s = F::zero();
    for &i in chosen {
        s += p[i as usize];
    }
    chosen.iter().map(|&i| p[i as usize] / s).collect()
}

/// Result of capacity assignment for one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// [T, K]: slot within the expert's buffer, `DROPPED`, or `UNUSED` for r ≥ k.
    pub slot: Vec<u32>,
    /// [E]: top-k choices per expert, before dropping.
    pub counts: Vec<u32>,
    /// [E]: assignments kept = min(counts, C).
    pub kept: Vec<u32>,
    /// [E, T]: assignment ids (t·K + r) in slot order; entries past `kept` are `UNUSED`.
    pub lists: Vec<u32>,
}

/// Capacity C per expert; priority: all first choices in token order, then all second choices, …
/// `topk` is [T, K] (K = `kmax`), of which ranks `0..k` are live.
pub fn assign(topk: &[u32], t: usize, k: usize, kmax: usize, e: usize, cap: usize) -> Assignment {
    let order: Vec<u32> = (0..t as u32).collect();
    let none = vec![false; t * kmax];
    assign_ordered(topk, &none, &none, &order, t, k, 0, kmax, e, cap)
}

/// `capacity`: C slots per routed expert, handed out rank by rank (every first choice before any
/// second choice) and within a rank in `order` (see [`drop_order`]). An assignment dropped at
/// `random` counts as a choice (`counts`, the balance loss's f) but takes no slot; a rank the
/// expert did not pick (`unpicked`, expert choice) is neither. The `shared` ranks k..k + shared
/// (experts e.. e + shared) have T slots: never dropped, except that C = 0 (the experts-off
/// ablation) drops them too. `counts`, `kept` and `lists` cover the e + shared experts.
#[allow(clippy::too_many_arguments)]
pub fn assign_ordered(
    topk: &[u32],
    random: &[bool],
    unpicked: &[bool],
    order: &[u32],
    t: usize,
    k: usize,
    shared: usize,
    kmax: usize,
    e: usize,
    cap: usize,
) -> Assignment {
    let n = e + shared;
    let mut a =
        Assignment { slot: vec![UNUSED; t * kmax], counts: vec![0; n], kept: vec![0; n], lists: vec![UNUSED; n * t] };
    for r in 0..k + shared {
        for &tok in order {
            let id = tok as usize * kmax + r;
            if unpicked[id] {
                a.slot[id] = UNPICKED;
                continue;
            }
            let i = topk[id] as usize;
            a.counts[i] += 1;
            if random[id] {
                a.slot[id] = RANDOM;
                continue;
            }
            let c = if i >= e { shared_capacity(cap, t) } else { cap };
            let n = a.kept[i] as usize;
            if n < c {
                a.slot[id] = n as u32;
                a.lists[i * t + n] = id as u32;
                a.kept[i] += 1;
            } else {
                a.slot[id] = DROPPED;
            }
        }
    }
    a
}

/// A shared expert's capacity: every token (T), or 0 when the routed capacity is 0 (experts off).
pub fn shared_capacity(cap: usize, t: usize) -> usize {
    if cap == 0 {
        0
    } else {
        t
    }
}

/// (n, mean, Σ (x − mean)²) of a per-expert vector, summed in index order (as `balance_reduce`).
fn moments<F: Real>(x: &[F]) -> (F, F, F) {
    let n = F::of(x.len() as f64);
    let mut s = F::zero();
    for &v in x {
        s += v;
    }
    let m = s / n;
    let mut sq = F::zero();
    for &v in x {
        sq += (v - m) * (v - m);
    }
    (n, m, sq)
}

/// CV² = population variance / mean² of a per-expert vector (0 when the mean is 0).
pub fn cv2<F: Real>(x: &[F]) -> F {
    let (n, m, sq) = moments(x);
    if m == F::zero() {
        return F::zero();
    }
    sq / n / (m * m)
}

/// d CV² / d x_i = 2(x_i − m)/(n·m²) − 2·var/(n·m³).
pub fn cv2_grad<F: Real>(x: &[F]) -> Vec<F> {
    let (n, m, sq) = moments(x);
    if m == F::zero() {
        return vec![F::zero(); x.len()];
    }
    let var = sq / n;
    x.iter().map(|&v| F::of(2.0) * (v - m) / (n * m * m) - F::of(2.0) * var / (n * m * m * m)).collect()
}

/// (routed assignments dropped, for capacity or at random; unrouted tokens: no routed rank live —
/// every choice dropped, or, with expert choice, no expert picked the token).
pub fn drop_counts(slot: &[u32], t: usize, k: usize, kmax: usize) -> (u32, u32) {
    let mut dropped = 0;
    let mut all = 0;
    for tok in 0..t {
        let d = (0..k).filter(|&r| is_dropped(slot[tok * kmax + r])).count();
        dropped += d as u32;
        all += (0..k).all(|r| !live(slot[tok * kmax + r])) as u32;
    }
    (dropped, all)
}
