//! Shared helpers of the native GPU tests (the comparisons and configs are shared with the browser
//! test too: tests/browser.rs includes compare.rs on its own, since this file is native-only).
#![allow(dead_code)]
mod compare;
#[allow(unused_imports)]
pub use compare::*;
use moe_playground::config::Config;
use moe_playground::gpu::GpuTrainer;
use moe_playground::model::Params;

/// A private XDG_RUNTIME_DIR when none is set (silences Mesa's warning about it).
pub fn xdg() {
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
}

/// A GPU trainer, or a clear failure: these tests never skip silently when no adapter exists.
pub fn gpu(cfg: &Config, params: &Params<f32>) -> GpuTrainer {
    xdg();
    match pollster::block_on(GpuTrainer::with_params(cfg, params)) {
        Ok(g) => g,
        Err(e) => panic!("this test needs a GPU adapter (natively: Mesa's lavapipe is enough): {e}"),
    }
}
