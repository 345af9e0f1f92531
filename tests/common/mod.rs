//! Shared helpers of the native GPU tests.
#![allow(dead_code)]
use moe_playground::config::Config;
use moe_playground::gpu::GpuTrainer;
use moe_playground::model::Params;

/// A GPU trainer, or a clear failure: these tests never skip silently when no adapter exists.
pub fn gpu(cfg: &Config, params: &Params<f32>) -> GpuTrainer {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join(format!("xdg-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // SAFETY: set once before any thread of this test opens a device; only silences a warning.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
    }
    match pollster::block_on(GpuTrainer::with_params(cfg, params)) {
        Ok(g) => g,
        Err(e) => panic!("this test needs a GPU adapter (natively: Mesa's lavapipe is enough): {e}"),
    }
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
