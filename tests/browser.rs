//! The WGSL trainer in a real browser: one full training step on WebGPU (headless Chromium, which
//! runs WebGPU on SwiftShader) against the CPU reference, within the native tests' tolerances
//! (tests/gpu_parity.rs `one_full_step_matches_reference`).
//!
//! Run: `bash scripts/browser-test.sh` (webdriver.json at the repository root holds Chromium's flags).
//! Without a WebGPU adapter the test fails with a message saying so; it never skips.
#![cfg(target_arch = "wasm32")]

#[path = "common/compare.rs"]
mod compare;
use compare::{close, parity_configs as configs};
use moe_playground::config::Config;
use moe_playground::data::Pool;
use moe_playground::gpu::GpuTrainer;
use moe_playground::metrics::Snapshot;
use moe_playground::model::forward::forward;
use moe_playground::model::{Dims, Params};
use moe_playground::trainer::{CpuTrainer, Trainer};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::js_sys::{Date, Function, Promise};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: i32) -> JsValue;
}

/// Yield to the browser's event loop for `ms` milliseconds (WebGPU's map callbacks run there).
async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// A GPU trainer, or a clear failure: no WebGPU adapter is an error here, never a skip.
async fn gpu(cfg: &Config, params: &Params<f32>) -> GpuTrainer {
    match GpuTrainer::with_params(cfg, params).await {
        Ok(g) => g,
        Err(e) => {
            panic!("this test needs WebGPU in the browser (Chromium: --enable-unsafe-webgpu, see webdriver.json): {e}")
        }
    }
}

/// Poll for the requested snapshot without blocking: the browser resolves the buffer map between
/// our timer ticks. Fails after `deadline_ms`.
async fn snapshot(g: &mut GpuTrainer, deadline_ms: f64) -> Snapshot {
    let start = Date::now();
    loop {
        if let Some(s) = g.poll_snapshot() {
            return s;
        }
        if let Some(e) = g.error() {
            panic!("wgpu reported an error while waiting for the snapshot: {e}");
        }
        assert!(Date::now() - start < deadline_ms, "no snapshot from the GPU within {deadline_ms} ms");
        sleep(5).await;
    }
}

async fn read_f32(g: &GpuTrainer, name: moe_playground::gpu::Buf) -> Vec<f32> {
    let bytes = g.read_bytes(name).await;
    assert!(!bytes.is_empty(), "reading buffer {name} back failed (map_async error)");
    bytemuck::cast_slice(&bytes).to_vec()
}

#[wasm_bindgen_test]
async fn one_full_step_matches_reference_in_browser() {
    for (label, cfg) in configs() {
        let t0 = Date::now();
        let dims = Dims::new(&cfg);
        let p = Params::<f32>::random(dims, cfg.seed);
        let start = p.w.clone();

        let mut cpu = CpuTrainer::with_params(&cfg, p.clone());
        let mut g = gpu(&cfg, &p).await;
        console_log!("{label}: adapter {}", g.adapter());

        cpu.train(1);
        g.train(1);
        assert!(cpu.request_snapshot(), "{label}: CPU snapshot refused");
        assert!(g.request_snapshot(), "{label}: GPU snapshot refused");
        let ce_c = cpu.poll_snapshot().expect("CPU snapshot").ce;
        let ce_g = snapshot(&mut g, 60_000.0).await.ce;
        let ce_err = close(&format!("{label}: ce"), &[ce_g], &[ce_c], 1e-4);

        // The router losses of the step, from the GPU's stats against the reference's forward pass.
        let b = Pool::new(cfg.dataset, cfg.seed).batch(cfg.seed, 0, cfg.tokens);
        let fw = forward(&p, &b, cfg.capacity());
        let st = read_f32(&g, moe_playground::gpu::Buf::Stats).await;
        let aux_err = close(&format!("{label}: aux"), &st[1..2], &[fw.aux], 1e-4);
        let z_err = close(&format!("{label}: z"), &st[2..3], &[fw.z], 1e-4);
        console_log!(
            "{label}: ce gpu {ce_g} cpu {ce_c} (rel err {ce_err:.2e}); aux rel err {aux_err:.2e}; z rel err {z_err:.2e}"
        );

        let got = read_f32(&g, moe_playground::gpu::Buf::Params).await;
        let after = &cpu.params().w;
        assert_eq!(got.len(), after.len(), "{label}: params buffer size");
        let (mut worst_w, mut worst_d) = (0.0f64, 0.0f64);
        for (name, r) in cpu.params().layout.tensors() {
            let err = close(&format!("{label}: {name} after 1 step"), &got[r.clone()], &after[r.clone()], 1e-4);
            // The update itself, Δw = −lr·m̂/(√v̂ + ε), judged on its own scale (≈ lr).
            let dg: Vec<f32> = r.clone().map(|i| got[i] - start[i]).collect();
            let dc: Vec<f32> = r.clone().map(|i| after[i] - start[i]).collect();
            let derr = close(&format!("{label}: {name} update"), &dg, &dc, 1e-3);
            console_log!("{label}: {name} weights max rel err {err:.2e}, update max rel err {derr:.2e}");
            worst_w = worst_w.max(err);
            worst_d = worst_d.max(derr);
        }
        assert_eq!(g.error(), None, "{label}: wgpu reported an error");
        console_log!(
            "{label}: max rel err weights {worst_w:.2e} (tol 1e-4), update {worst_d:.2e} (tol 1e-3); {:.0} ms",
            Date::now() - t0
        );
    }
}
