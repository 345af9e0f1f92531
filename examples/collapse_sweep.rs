//! Sweep: how far does the load concentrate with α = 0 vs α = 0.01? Prints pooled balance metrics
//! per seed every 100 steps. `cargo run --release --example collapse_sweep -- cpu|gpu STEPS [k] [lr]`
use moe_playground::config::Config;
use moe_playground::gpu::GpuTrainer;
use moe_playground::presets;
use moe_playground::trainer::{CpuTrainer, Trainer};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let backend = a.get(1).map(String::as_str).unwrap_or("cpu");
    let steps: u32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let k: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let lr: f32 = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(3e-3);
    for alpha in [0.0f32, 0.01] {
        for seed in 1..=5u32 {
            let cfg = Config { seed, alpha, top_k: k, lr, ..presets::config("collapse").unwrap() };
            let t0 = std::time::Instant::now();
            let mut tr: Box<dyn Trainer> = if backend == "gpu" {
                Box::new(pollster::block_on(GpuTrainer::new(&cfg)).unwrap())
            } else {
                Box::new(CpuTrainer::new(&cfg).unwrap())
            };
            let mut line = vec![];
            for _ in 0..steps / 100 {
                tr.train(100);
                tr.request_snapshot();
                let s = tr.wait_snapshot().unwrap();
                line.push(format!("{:.2}/{:.2}/{}/{:.2}", s.max_share, s.entropy, s.starved, s.dropped_share()));
            }
            let s = line.last().unwrap();
            println!(
                "alpha={alpha} seed={seed} k={k} {:.1}s last={s} | {}",
                t0.elapsed().as_secs_f32(),
                line.join(" ")
            );
        }
    }
}
