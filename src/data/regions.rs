//! 2-D points in [−1, 1]², binary labels; each quadrant has its own rule, so local experts pay off.
use super::{held_out, Pool, EVAL_N, EX_WORDS, PROBE};
use crate::rng::Rng;

pub const DOMAINS: [&str; 4] = ["circle", "stripes", "checker", "diagonal"];
const POOL: usize = 1 << 16;

/// (label, domain) of a point: Q1 (x ≥ 0, y ≥ 0) inside a circle, Q2 (x < 0, y ≥ 0) diagonal
/// stripes, Q3 (x < 0, y < 0) a checkerboard, Q4 (x ≥ 0, y < 0) above the anti-diagonal.
pub fn label(x: f32, y: f32) -> (u32, u32) {
    match (x >= 0.0, y >= 0.0) {
        (true, true) => {
            let (dx, dy) = (x - 0.5, y - 0.5);
            ((dx * dx + dy * dy < 0.35 * 0.35) as u32, 0)
        }
        (false, true) => ((((x + y) * 3.0).floor() as i32).rem_euclid(2) as u32, 1),
        (false, false) => ((((x * 3.0).floor() + (y * 3.0).floor()) as i32).rem_euclid(2) as u32, 2),
        (true, false) => ((x + y > 0.0) as u32, 3),
    }
}

fn example(x: f32, y: f32, w: &mut Vec<u32>) {
    let (l, d) = label(x, y);
    w.extend_from_slice(&[x.to_bits(), y.to_bits(), 0, 0, l, d]);
}

/// `n` uniform points of [−1, 1]² whose `held_out` is `want_held_out`.
fn points(rng: &mut Rng, n: usize, want_held_out: bool) -> Vec<u32> {
    let mut words = Vec::with_capacity(n * EX_WORDS);
    let mut ex = Vec::with_capacity(EX_WORDS);
    while words.len() < n * EX_WORDS {
        let x = rng.uniform(-1.0, 1.0) as f32;
        let y = rng.uniform(-1.0, 1.0) as f32;
        ex.clear();
        example(x, y, &mut ex);
        if held_out(&ex) == want_held_out {
            words.extend_from_slice(&ex);
        }
    }
    words
}

pub fn pool(seed: u32) -> Pool {
    let mut rng = Rng::new(0x2E6_1015 ^ ((seed as u64) << 20));
    // Held out by construction (super::held_out): training keeps POOL points that are not held out,
    // evaluation EVAL_N points of a stream of its own that are.
    let words = points(&mut rng, POOL, false);
    let eval = points(&mut Rng::new(0xE7A1_0000 ^ ((seed as u64) << 20)), EVAL_N, true);
    // Probe: 16 points per quadrant on a jittered grid, quadrant by quadrant.
    let mut probe = Vec::with_capacity(PROBE * EX_WORDS);
    for (sx, sy) in [(1.0f32, 1.0f32), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)] {
        for i in 0..PROBE / 4 {
            let gx = ((i % 4) as f32 + 0.5) / 4.0;
            let gy = ((i / 4) as f32 + 0.5) / 4.0;
            example(sx * gx, sy * gy, &mut probe);
        }
    }
    Pool { dataset: crate::config::Dataset::Regions, words, probe, eval }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quadrants_have_both_labels() {
        let p = pool(1);
        let mut counts = [[0usize; 2]; 4];
        for ex in p.words.chunks(EX_WORDS) {
            counts[ex[5] as usize][ex[4] as usize] += 1;
        }
        for (q, c) in counts.iter().enumerate() {
            let share = c[1] as f64 / (c[0] + c[1]) as f64;
            assert!((0.2..0.8).contains(&share), "quadrant {q} label-1 share {share}");
        }
        assert_eq!(p.probe_batch().len(), PROBE);
    }
}
