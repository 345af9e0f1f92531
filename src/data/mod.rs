//! Procedurally generated data: nothing is downloaded, every example knows its domain.
//!
//! Both data sets become a [`Pool`] of fixed-size examples that is uploaded to the GPU once; each
//! training step samples T rows of it with the counter-based hash in `crate::rng` (the GPU's
//! `sample_batch` kernel and `Pool::batch` pick the same rows). A fixed probe batch of up to 64
//! examples feeds the routing heatmap.
//!
//! **Held out by construction.** [`held_out`] is a fixed function of an example's input (its
//! context, or its point): one input in [`HELD_OUT_ONE_IN`] of the whole input space is reserved for
//! evaluation. The training pool keeps only the others and the evaluation set only these, so no
//! evaluation example can ever be a training example, whatever the seed or the step count.
use crate::config::Dataset;

pub mod regions;
pub mod tokens;

/// Context length of the token task (previous characters seen) and input words per example.
pub const CTX: usize = 4;
/// u32 words per example: `CTX` inputs, target, domain.
pub const EX_WORDS: usize = CTX + 2;
/// Rows in the probe batch.
pub const PROBE: usize = 64;
/// Examples in the fixed held-out evaluation set.
pub const EVAL_N: usize = 4096;
/// One example in this many (by a hash of the example) is reserved for evaluation.
pub const HELD_OUT_ONE_IN: u32 = 8;

/// True when the example `ex` (`EX_WORDS` words: the CTX inputs, the target, the domain) belongs to
/// the reserved evaluation part of the example space. Reads the inputs (the context, or the point)
/// only: a held-out context never occurs in training at all, with any target, so no evaluation
/// example can be a training example. (Hashing the target too would be wrong: where a context has
/// several possible next characters, training would never show the reserved ones after it, and the
/// model would learn that exactly the held-out answers are impossible.)
pub fn held_out(ex: &[u32]) -> bool {
    let mut h = 0x5EED_E7A1u32;
    for &w in &ex[..CTX] {
        h = crate::rng::hash(h ^ w);
    }
    h.is_multiple_of(HELD_OUT_ONE_IN)
}

/// One batch, as the model reads it. `inputs` holds CTX ids per row (tokens) or the f32 bits of the
/// point in slots 0 and 1 (regions).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub inputs: Vec<u32>,  // [T, CTX]
    pub targets: Vec<u32>, // [T]
    pub domains: Vec<u32>, // [T]
}

impl Batch {
    pub fn len(&self) -> usize {
        self.targets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
    /// The 2-D point of row `t` (regions).
    pub fn point(&self, t: usize) -> [f32; 2] {
        [f32::from_bits(self.inputs[t * CTX]), f32::from_bits(self.inputs[t * CTX + 1])]
    }
}

/// All examples of a data set, flat: `[n, EX_WORDS]`.
#[derive(Clone, Debug)]
pub struct Pool {
    pub dataset: Dataset,
    /// Training examples (none of them [`held_out`]).
    pub words: Vec<u32>,
    pub probe: Vec<u32>, // [PROBE, EX_WORDS]
    /// The held-out evaluation set: `EVAL_N` examples, every one [`held_out`], from a generator
    /// stream of its own.
    pub eval: Vec<u32>, // [EVAL_N, EX_WORDS]
}

impl Pool {
    pub fn new(dataset: Dataset, seed: u32) -> Pool {
        match dataset {
            Dataset::Tokens => tokens::pool(seed),
            Dataset::Regions => regions::pool(seed),
        }
    }
    /// The pool of `cfg`: its data set and seed, its training examples cut to the data budget
    /// `cfg.train_examples` (0 = all).
    pub fn for_config(cfg: &crate::config::Config) -> Pool {
        let mut p = Pool::new(cfg.dataset, cfg.seed);
        if cfg.train_examples > 0 {
            p.words.truncate(p.words.len().min(cfg.train_examples as usize * EX_WORDS));
        }
        p
    }
    pub fn len(&self) -> usize {
        self.words.len() / EX_WORDS
    }
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    fn rows(words: &[u32], idx: impl Iterator<Item = usize>) -> Batch {
        let mut b = Batch { inputs: vec![], targets: vec![], domains: vec![] };
        for i in idx {
            let ex = &words[i * EX_WORDS..(i + 1) * EX_WORDS];
            b.inputs.extend_from_slice(&ex[..CTX]);
            b.targets.push(ex[CTX]);
            b.domains.push(ex[CTX + 1]);
        }
        b
    }
    /// The training batch of `step`: row t is example `rng::sample_index(seed, step, t, n)`.
    pub fn batch(&self, seed: u32, step: u32, t: usize) -> Batch {
        let n = self.len() as u32;
        Self::rows(&self.words, (0..t as u32).map(|r| crate::rng::sample_index(seed, step, r, n) as usize))
    }
    /// Rows `first .. first + t` of the evaluation set, wrapping around at `EVAL_N` (the last chunk
    /// of an evaluation pass is filled up from the start; only rows below `EVAL_N` are scored).
    pub fn eval_batch(&self, first: usize, t: usize) -> Batch {
        Self::rows(&self.eval, (first..first + t).map(|i| i % EVAL_N))
    }
    /// The fixed probe batch (contiguous text for tokens, 16 points per quadrant for regions).
    pub fn probe_batch(&self) -> Batch {
        Self::rows(&self.probe, 0..PROBE)
    }
    /// Names of the domains, indexed by domain id.
    pub fn domain_names(&self) -> &'static [&'static str] {
        domain_names(self.dataset)
    }
}

/// Keep the examples of `words` (flat `[n, EX_WORDS]`) whose [`held_out`] equals `keep_held_out`,
/// at most `limit` of them.
pub fn split(words: &[u32], keep_held_out: bool, limit: usize) -> Vec<u32> {
    words.chunks_exact(EX_WORDS).filter(|ex| held_out(ex) == keep_held_out).take(limit).flatten().copied().collect()
}

pub fn domain_names(d: Dataset) -> &'static [&'static str] {
    match d {
        Dataset::Tokens => &tokens::DOMAINS,
        Dataset::Regions => &regions::DOMAINS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The split, checked directly: for both data sets and several seeds, no evaluation example
    /// (context + target for tokens, the point and its label for regions) occurs among the training
    /// examples, nor does its context (point) with any target; every evaluation example is held out
    /// and no training example is; the evaluation set has `EVAL_N` examples covering every domain;
    /// the training batches only draw training examples.
    #[test]
    fn evaluation_examples_are_never_training_examples() {
        for dataset in [Dataset::Tokens, Dataset::Regions] {
            for seed in [1, 2, 77] {
                let p = Pool::new(dataset, seed);
                let key = |ex: &[u32]| ex[..CTX + 1].to_vec();
                let train: HashSet<Vec<u32>> = p.words.chunks_exact(EX_WORDS).map(key).collect();
                let contexts: HashSet<&[u32]> = p.words.chunks_exact(EX_WORDS).map(|ex| &ex[..CTX]).collect();
                assert_eq!(p.eval.len(), EVAL_N * EX_WORDS);
                let mut domains = [0usize; 4];
                for ex in p.eval.chunks_exact(EX_WORDS) {
                    assert!(!train.contains(&key(ex)), "{dataset:?} seed {seed}: eval example {ex:?} is trained on");
                    assert!(
                        !contexts.contains(&ex[..CTX]),
                        "{dataset:?} seed {seed}: eval context {ex:?} is trained on"
                    );
                    assert!(held_out(ex));
                    domains[ex[CTX + 1] as usize] += 1;
                }
                assert!(domains.iter().all(|&n| n >= EVAL_N / 10), "{dataset:?} seed {seed}: domains {domains:?}");
                assert!(p.words.chunks_exact(EX_WORDS).all(|ex| !held_out(ex)));
                // The evaluation set is not a handful of repeats: most of its examples are distinct.
                let distinct: HashSet<Vec<u32>> = p.eval.chunks_exact(EX_WORDS).map(key).collect();
                assert!(distinct.len() >= EVAL_N / 8, "{dataset:?} seed {seed}: {} distinct", distinct.len());
                let b = p.batch(seed, 123, 512);
                for t in 0..b.len() {
                    let mut ex = b.inputs[t * CTX..(t + 1) * CTX].to_vec();
                    ex.push(b.targets[t]);
                    assert!(train.contains(&ex));
                }
            }
        }
    }

    /// About one example in `HELD_OUT_ONE_IN` is held out in every domain of the token stream
    /// (DNA has only 4^5 distinct examples, so its share strays furthest: 0.18 measured).
    #[test]
    fn held_out_share_is_about_one_in_eight() {
        let s = tokens::stream(3, 1 << 15);
        let mut per = [[0usize; 2]; 4];
        for w in s.windows(CTX + 1) {
            let mut ex: Vec<u32> = w.iter().map(|&(c, _)| tokens::id(c)).collect();
            ex.push(w[CTX].1 as u32);
            debug_assert_eq!(ex.len(), EX_WORDS);
            per[w[CTX].1 as usize][held_out(&ex) as usize] += 1;
        }
        for (d, c) in per.iter().enumerate() {
            let share = c[1] as f64 / (c[0] + c[1]) as f64;
            assert!((0.06..0.2).contains(&share), "domain {d}: held-out share {share}");
        }
    }
}
