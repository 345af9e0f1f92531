//! Random numbers shared by the CPU and the GPU.
//!
//! `hash` is the PCG output hash on `u32` (O'Neill; "Hash Functions for GPU Rendering", JCGT 2020):
//! shaders/common.wgsl has the same function, so batch sampling on the GPU and in the reference picks
//! the same examples for a given (seed, step, row). `Rng` is a small sequential generator for data
//! generation and initialisation on the CPU.

/// PCG hash of one 32-bit word (bit-identical to `pcg_hash` in shaders/common.wgsl).
pub fn hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// Counter-based draw for (seed, step, row): the index stream the batch sampler uses.
pub fn hash3(seed: u32, step: u32, row: u32) -> u32 {
    hash(seed ^ hash(step ^ hash(row)))
}

/// The random draw of row `row` at training step `step`, for routers and drop policies
/// (shaders/data.wgsl `sample_batch` writes the same word into `rkey`).
pub fn draw(seed: u32, step: u32, row: u32) -> u32 {
    hash3(seed ^ 0xA511_E9B3, step, row)
}

/// The pool index of batch row `row` at training step `step` (shaders/common.wgsl: `sample_index`).
pub fn sample_index(seed: u32, step: u32, row: u32, pool: u32) -> u32 {
    hash3(seed, step, row) % pool
}

/// SplitMix64: a tiny, good sequential generator for data and initialisation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.f64() * n as f64) as usize % n.max(1)
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-300);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn pcg_hash_known_values() {
        // Reference values of the PCG hash (computed by hand from the definition above).
        assert_eq!(hash(0), 129_708_002);
        assert_ne!(hash(1), hash(2));
    }
}
