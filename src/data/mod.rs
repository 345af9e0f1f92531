//! Procedurally generated data: nothing is downloaded, every example knows its domain.
//!
//! Both data sets become a [`Pool`] of fixed-size examples that is uploaded to the GPU once; each
//! training step samples T rows of it with the counter-based hash in `crate::rng` (the GPU's
//! `sample_batch` kernel and `Pool::batch` pick the same rows). A fixed probe batch of up to 64
//! examples feeds the routing heatmap.
use crate::config::Dataset;

pub mod regions;
pub mod tokens;

/// Context length of the token task (previous characters seen) and input words per example.
pub const CTX: usize = 4;
/// u32 words per example: `CTX` inputs, target, domain.
pub const EX_WORDS: usize = CTX + 2;
/// Rows in the probe batch.
pub const PROBE: usize = 64;

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
    pub words: Vec<u32>,
    pub probe: Vec<u32>, // [PROBE, EX_WORDS]
}

impl Pool {
    pub fn new(dataset: Dataset, seed: u32) -> Pool {
        match dataset {
            Dataset::Tokens => tokens::pool(seed),
            Dataset::Regions => regions::pool(seed),
        }
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
    /// The fixed probe batch (contiguous text for tokens, 16 points per quadrant for regions).
    pub fn probe_batch(&self) -> Batch {
        Self::rows(&self.probe, 0..PROBE)
    }
    /// Names of the domains, indexed by domain id.
    pub fn domain_names(&self) -> &'static [&'static str] {
        domain_names(self.dataset)
    }
}

pub fn domain_names(d: Dataset) -> &'static [&'static str] {
    match d {
        Dataset::Tokens => &tokens::DOMAINS,
        Dataset::Regions => &regions::DOMAINS,
    }
}
