//! MoE against its dense twins, on held-out data: trains the `balanced` preset (or `--preset`),
//! its dense twin at equal active compute (`dense-twin=active`: one expert of width k·H), its dense
//! twin at equal parameters (`dense-twin=total`: width E·H) and the model with no FFN at all
//! (`experts-off`), each on seeds 1..=N for STEPS steps on the CPU reference, then evaluates each on
//! the held-out set (never trained on) and prints the README's table: mean and min–max of held-out
//! CE, overall and per domain, and on how many seeds the MoE beats each baseline.
//!
//! `cargo run --profile fast --example dense_baseline -- [STEPS] [SEEDS] [PRESET]` (default 3000 5
//! balanced). Uses two threads.
use moe_playground::config::{Config, DenseTwin};
use moe_playground::data::domain_names;
use moe_playground::presets;
use moe_playground::trainer::{CpuTrainer, EvalReport, Trainer};
mod common;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let steps: u32 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let seeds: u32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let preset = a.get(3).cloned().unwrap_or_else(|| "balanced".into());
    let base = Config { eval_every: 0, ..presets::config(&preset).expect("unknown preset") };
    let variants: Vec<(&str, Config)> = vec![
        ("MoE", base.clone()),
        ("dense twin, active", Config { dense_twin: DenseTwin::Active, ..base.clone() }),
        ("dense twin, total", Config { dense_twin: DenseTwin::Total, ..base.clone() }),
        ("no FFN", Config { experts_off: true, ..base.clone() }),
    ];
    // The costliest variant (total: width E·H) first, then the rest; two workers share one queue.
    let order = [2usize, 1, 0, 3];
    let jobs: Vec<(usize, u32)> = order.iter().flat_map(|&v| (1..=seeds).map(move |s| (v, s))).collect();
    let started = std::time::Instant::now();
    let results: Vec<(usize, u32, EvalReport)> = common::run_jobs(&jobs, 2, |&(v, seed)| {
        let cfg = Config { seed, ..variants[v].1.clone() };
        let mut t = CpuTrainer::new(&cfg).expect("config");
        t.train(steps);
        let r = t.evaluate_report();
        eprintln!(
            "[{:>5.0} s] {} seed {seed}: held-out CE {:.4} {:?}",
            started.elapsed().as_secs_f64(),
            variants[v].0,
            r.ce,
            r.domain_ce
        );
        (v, seed, r)
    });
    eprintln!("trained {} runs of {steps} steps in {:.0} s", jobs.len(), started.elapsed().as_secs_f64());
    let of = |v: usize| -> Vec<&EvalReport> {
        let mut r: Vec<_> = results.iter().filter(|x| x.0 == v).collect();
        r.sort_by_key(|x| x.1);
        r.into_iter().map(|x| &x.2).collect()
    };
    let cell = |xs: Vec<f32>| common::spread(&xs, 3);
    let names = domain_names(base.dataset);
    println!("Held-out CE (nats) after {steps} steps, preset `{preset}`, seeds 1–{seeds}: mean (min–max)\n");
    println!("| model | expert FFN parameters | overall | {} |", names.join(" | "));
    println!("|---|---|---|{}", "---|".repeat(names.len()));
    for (v, (name, cfg)) in variants.iter().enumerate() {
        let r = of(v);
        let twin = cfg.resolved();
        let ffn = if cfg.experts_off { 0 } else { twin.experts * (2 * twin.d * twin.hidden + twin.hidden + twin.d) };
        let mut row = format!("| {name} | {ffn} | {} |", cell(r.iter().map(|x| x.ce).collect()));
        for d in 0..names.len() {
            row += &format!(" {} |", cell(r.iter().map(|x| x.domain_ce[d]).collect()));
        }
        println!("{row}");
    }
    let moe = of(0);
    for (v, (name, _)) in variants.iter().enumerate().skip(1) {
        let wins = of(v).iter().zip(&moe).filter(|(b, m)| m.ce < b.ce).count();
        let gaps: Vec<String> = of(v).iter().zip(&moe).map(|(b, m)| format!("{:+.3}", b.ce - m.ce)).collect();
        println!("\nMoE beats {name} on {wins} of {seeds} seeds (baseline − MoE per seed: {})", gaps.join(", "));
    }
}
