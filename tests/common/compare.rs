//! Comparisons and configs shared by the native parity tests (tests/gpu_parity.rs) and the browser
//! parity test (tests/browser.rs).
#![allow(dead_code)]
use moe_playground::config::{Config, Dataset};

/// Small configs that exercise every path: tokens k = 1 with drops, tokens k = 2 (renormalised
/// gates, priority), regions (linear input layer), with α, β > 0 so every router term is live.
pub fn parity_configs() -> Vec<(&'static str, Config)> {
    let base =
        Config { tokens: 96, d: 16, hidden: 24, experts: 6, alpha: 0.05, beta: 0.01, lr: 1e-3, ..Config::default() };
    vec![
        ("tokens-k1-cf0.75", Config { top_k: 1, capacity_factor: 0.75, ..base.clone() }),
        ("tokens-k2-cf1", Config { top_k: 2, capacity_factor: 1.0, seed: 7, ..base.clone() }),
        (
            "regions-k1-inf",
            Config { dataset: Dataset::Regions, top_k: 1, capacity_factor: f32::INFINITY, seed: 3, ..base.clone() },
        ),
        // Sizes the blocked kernels cover with partial tiles and blocks: d, H and T not multiples
        // of 4, V (47) not of 16.
        ("odd-sizes-k2", Config { tokens: 37, d: 10, hidden: 7, experts: 5, top_k: 2, seed: 11, ..base }),
    ]
}

/// Largest error of `got` against `want`, relative to |want| + the RMS of `want` (so entries near
/// zero are judged on the tensor's scale). Panics with the worst index when over `tol`.
pub fn close(label: &str, got: &[f32], want: &[f32], tol: f64) -> f64 {
    assert!(got.len() >= want.len(), "{label}: GPU buffer has {} < {} values", got.len(), want.len());
    let rms = (want.iter().map(|&w| (w as f64).powi(2)).sum::<f64>() / want.len().max(1) as f64).sqrt();
    let mut worst = (0.0f64, 0usize);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = ((g as f64) - (w as f64)).abs() / ((w as f64).abs() + rms + 1e-30);
        if err.is_nan() {
            worst = (f64::INFINITY, i);
            break;
        }
        if err > worst.0 {
            worst = (err, i);
        }
    }
    assert!(
        worst.0 <= tol,
        "{label}: relative error {:.3e} > {tol:.0e} at [{}]: gpu {} vs cpu {}",
        worst.0,
        worst.1,
        got[worst.1],
        want[worst.1]
    );
    worst.0
}

pub fn exact(label: &str, got: &[u32], want: &[u32]) {
    assert!(got.len() >= want.len(), "{label}: short buffer");
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        panic!("{label}: first mismatch at [{i}]: gpu {} vs cpu {}", got[i], want[i]);
    }
}
