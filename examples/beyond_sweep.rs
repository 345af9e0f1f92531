//! Beyond token choice, on held-out data: fine-grained and shared experts at equal active compute
//! (DeepSeekMoE's comparison), expert choice and the 1991 dense mixture beside them, and the dense
//! twin at equal active compute (the fair dense baseline). Trains each variant on seeds 1..=N for
//! STEPS steps (CPU reference), then prints the README's table: held-out CE after the last step,
//! the dropped share and the unrouted share (tokens no routed expert processed) over the last 100
//! steps, and the expert parameters per token (active) and in all (total). Each cell is the mean
//! over seeds with its min–max.
//!
//! Model: the default config (d = 32, H = 64, T = 256, cf = 1.25, Switch loss α = 0.01), E = 8.
//!
//! `cargo run --profile fast --example beyond_sweep -- [STEPS] [SEEDS] [WORKERS]` (default 2000 5 1).
use moe_playground::config::{Balance, Config, DenseTwin, RouterKind};
use moe_playground::trainer::{CpuTrainer, Trainer};
mod common;

struct Row {
    eval_ce: f32,
    dropped: f32,
    unrouted: f32,
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let steps: u32 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let seeds: u32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let workers: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let r = |n: &str| RouterKind::from_name(n).expect("router");
    let base = Config { top_k: 2, eval_every: 0, ..Config::default() };
    let variants: Vec<(&str, Config)> = vec![
        ("E = 8, k = 2 (softmax top-k)", base.clone()),
        ("E = 16 fine-grained (8 split in m = 2), k = 4", Config { granularity: 2, ..base.clone() }),
        ("E = 7 + 1 shared, k = 1", Config { experts: 7, shared: 1, top_k: 1, ..base.clone() }),
        (
            "expert choice, E = 8, C at k = 2",
            Config { router: r("expert-choice"), balance: Balance::None, ..base.clone() },
        ),
        (
            "dense mixture (1991), E = 8, every expert (4× the active compute)",
            Config { router: r("dense-mixture"), balance: Balance::None, ..base.clone() },
        ),
        (
            "dense twin at equal active compute (width k·H = 128)",
            Config { dense_twin: DenseTwin::Active, ..base.clone() },
        ),
    ];
    let jobs: Vec<(usize, u32)> = (0..variants.len()).flat_map(|v| (1..=seeds).map(move |s| (v, s))).collect();
    let started = std::time::Instant::now();
    let results: Vec<(usize, Row)> = common::run_jobs(&jobs, workers, |&(v, seed)| {
        let cfg = Config { seed, ..variants[v].1.clone() };
        let mut t = CpuTrainer::new(&cfg).expect("config");
        t.train(steps - 100);
        t.request_snapshot();
        t.wait_snapshot();
        t.train(100);
        t.request_snapshot();
        let s = t.wait_snapshot().expect("snapshot");
        let ev = t.evaluate_report();
        let row = Row { eval_ce: ev.ce, dropped: s.dropped_share(), unrouted: s.all_dropped_share() };
        eprintln!(
            "[{:>5.0} s] {} seed {seed}: held-out CE {:.4} dropped {:.4} unrouted {:.4}",
            started.elapsed().as_secs_f64(),
            variants[v].0,
            row.eval_ce,
            row.dropped,
            row.unrouted
        );
        (v, row)
    });
    eprintln!("trained {} runs of {steps} steps in {:.0} s", jobs.len(), started.elapsed().as_secs_f64());
    println!("| model | expert params per token (active) | expert params (total) | held-out CE | dropped | unrouted tokens |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (v, (name, cfg)) in variants.iter().enumerate() {
        let rows: Vec<&Row> = results.iter().filter(|x| x.0 == v).map(|x| &x.1).collect();
        let cell =
            |f: &dyn Fn(&Row) -> f32, p: usize| common::spread(&rows.iter().map(|r| f(r)).collect::<Vec<_>>(), p);
        let b = moe_playground::page::expert_budget(&cfg.resolved());
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            b.active,
            b.total,
            cell(&|r| r.eval_ce, 3),
            cell(&|r| r.dropped, 3),
            cell(&|r| r.unrouted, 3)
        );
    }
}
