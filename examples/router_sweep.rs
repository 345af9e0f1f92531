//! Every router with and without its balance mechanism, on held-out data: trains each variant on
//! seeds 1..=N for STEPS steps (CPU reference, two threads), then prints the README's table: over the
//! last 100 training steps the load entropy (normalised), the largest expert's share, starved experts
//! (below a quarter of a fair share) and the dropped share; and the held-out CE after the last step.
//! Each cell is the mean over seeds with its min–max.
//!
//! Model: the default config (E = 8, d = 32, H = 64, T = 256, cf = 1.25) at k = 2 for every router
//! (gshard-top2 needs 2; noisy top-k's gates need k ≥ 2 to carry gradient).
//!
//! `cargo run --profile fast --example router_sweep -- [STEPS] [SEEDS]` (default 2000 5).
use moe_playground::config::{Balance, Config, RouterKind};
use moe_playground::trainer::{CpuTrainer, Trainer};
mod common;

struct Row {
    entropy: f32,
    max_share: f32,
    starved: u32,
    dropped: f32,
    random: f32,
    eval_ce: f32,
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let steps: u32 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let seeds: u32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let r = |n: &str| RouterKind::from_name(n).expect("router");
    let base = Config { top_k: 2, eval_every: 0, ..Config::default() };
    let mut variants: Vec<(String, Config)> = Vec::new();
    for router in RouterKind::all() {
        let info = router.info();
        let cfg = Config {
            router,
            balance: info.balances[0],
            alpha: info.default_alpha.unwrap_or(base.alpha),
            ..base.clone()
        };
        match info.name {
            "hash" => variants.push(("hash (balance from the hash)".into(), cfg)),
            "aux-free" => {
                variants.push((format!("aux-free, γ = {}", cfg.gamma), cfg.clone()));
                variants.push(("aux-free, γ = 0 (bias off)".into(), Config { gamma: 0.0, ..cfg }));
            }
            name => {
                variants.push((format!("{name}, Switch loss α = {}", cfg.alpha), cfg.clone()));
                variants.push((format!("{name}, no balance loss"), Config { balance: Balance::None, ..cfg }));
            }
        }
    }
    let _ = r;
    let jobs: Vec<(usize, u32)> = (0..variants.len()).flat_map(|v| (1..=seeds).map(move |s| (v, s))).collect();
    let started = std::time::Instant::now();
    let results: Vec<(usize, Row)> = common::run_jobs(&jobs, 2, |&(v, seed)| {
        let cfg = Config { seed, ..variants[v].1.clone() };
        let mut t = CpuTrainer::new(&cfg).expect("config");
        t.train(steps - 100);
        t.request_snapshot();
        t.wait_snapshot();
        t.train(100);
        t.request_snapshot();
        let s = t.wait_snapshot().expect("snapshot");
        let ev = t.evaluate_report();
        let row = Row {
            entropy: s.entropy,
            max_share: s.max_share,
            starved: s.starved,
            dropped: s.dropped_share(),
            random: s.random_dropped_share(),
            eval_ce: ev.ce,
        };
        eprintln!(
                "[{:>5.0} s] {} seed {seed}: entropy {:.3} max {:.3} starved {} dropped {:.3} (random {:.3}) held-out CE {:.4}",
                started.elapsed().as_secs_f64(),
                variants[v].0,
                row.entropy,
                row.max_share,
                row.starved,
                row.dropped,
                row.random,
                row.eval_ce
            );
        (v, row)
    });
    eprintln!("trained {} runs of {steps} steps in {:.0} s", jobs.len(), started.elapsed().as_secs_f64());
    println!("| router, balance mechanism | load entropy | max share | starved of 8 | dropped | held-out CE |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (v, (name, _)) in variants.iter().enumerate() {
        let rows: Vec<&Row> = results.iter().filter(|x| x.0 == v).map(|x| &x.1).collect();
        let cell =
            |f: &dyn Fn(&Row) -> f32, p: usize| common::spread(&rows.iter().map(|r| f(r)).collect::<Vec<_>>(), p);
        let random = rows.iter().map(|r| r.random).fold(0.0f32, f32::max);
        let dropped = if random > 0.0 {
            format!("{} of which random {}", cell(&|r| r.dropped, 3), cell(&|r| r.random, 3))
        } else {
            cell(&|r| r.dropped, 3)
        };
        println!(
            "| {name} | {} | {} | {} | {dropped} | {} |",
            cell(&|r| r.entropy, 2),
            cell(&|r| r.max_share, 2),
            cell(&|r| r.starved as f32, 1),
            cell(&|r| r.eval_ce, 3)
        );
    }
}
