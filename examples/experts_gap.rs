//! How much do the experts matter? Trains the balanced preset with experts on and a dense twin with
//! them off, then evaluates held-out CE per domain: trained-with-experts, the same weights with the
//! experts switched off, and the dense twin. `cargo run --release --example experts_gap -- STEPS SEED`
use moe_playground::config::Config;
use moe_playground::presets;
use moe_playground::trainer::{CpuTrainer, Trainer};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let steps: u32 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let seed: u32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let cfg = Config { seed, ..presets::config("balanced").unwrap() };
    let mut moe = CpuTrainer::new(&cfg).unwrap();
    let mut dense = CpuTrainer::new(&Config { experts_off: true, ..cfg.clone() }).unwrap();
    moe.train(steps);
    dense.train(steps);
    let show = |name: &str, (all, dom): (f32, Vec<f32>)| {
        let doms: Vec<String> = dom.iter().map(|c| format!("{c:.3}")).collect();
        println!("{name:<28} ce {all:.3}  per domain [arith words dna code] {}", doms.join(" "));
    };
    show("experts on", moe.evaluate(20, false));
    show("same weights, experts off", moe.evaluate(20, true));
    show("dense twin (trained off)", dense.evaluate(20, true));
}
