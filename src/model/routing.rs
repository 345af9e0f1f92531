//! Routing semantics, the rules every router kernel and test follows: softmax over the E experts;
//! top-k by probability, ties to the lower index; gates = raw p for k = 1 (Switch), renormalised
//! over the chosen k for k ≥ 2 (Mixtral); capacity C = ceil(cf·T·k/E) per expert, filled by
//! priority (every first choice in token order, then every second choice, ...).
//! shaders/router.wgsl and shaders/dispatch.wgsl implement the same rules; tests hold both to them.
use super::Real;

/// `slot` value of an assignment over capacity.
pub const DROPPED: u32 = u32::MAX;
/// `slot`/`topk` value of ranks r ≥ k (buffers hold k_max ranks; only the first k are live).
pub const UNUSED: u32 = u32::MAX - 1;

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
    let mut a =
        Assignment { slot: vec![UNUSED; t * kmax], counts: vec![0; e], kept: vec![0; e], lists: vec![UNUSED; e * t] };
    for r in 0..k {
        for tok in 0..t {
            let i = topk[tok * kmax + r] as usize;
            let n = a.counts[i] as usize;
            if n < cap {
                a.slot[tok * kmax + r] = n as u32;
                a.lists[i * t + n] = (tok * kmax + r) as u32;
            } else {
                a.slot[tok * kmax + r] = DROPPED;
            }
            a.counts[i] += 1;
        }
    }
    for i in 0..e {
        a.kept[i] = a.counts[i].min(cap as u32);
    }
    a
}

/// (assignments dropped, tokens with every choice dropped).
pub fn drop_counts(slot: &[u32], t: usize, k: usize, kmax: usize) -> (u32, u32) {
    let mut dropped = 0;
    let mut all = 0;
    for tok in 0..t {
        let d = (0..k).filter(|&r| slot[tok * kmax + r] == DROPPED).count();
        dropped += d as u32;
        all += (d == k) as u32;
    }
    (dropped, all)
}
