//! Upcycling a dense model versus training the MoE from scratch, on held-out data (the README's
//! table): for seeds 1..=SEEDS, trains the MoE from scratch and upcycled from a dense warm-up of
//! DENSE steps (`init = upcycle`: one expert of width H trained DENSE steps, then copied into the E
//! experts), each for MAX total steps (the dense ones included), and reports at each budget (300,
//! 600, 1200, … up to MAX total steps) the held-out CE, and every 100 steps the expert similarity
//! (`metrics::expert_similarity`: mean pairwise cosine of the experts' flattened weights).
//!
//! There is no learning-rate schedule, so the first B steps of a MAX-step run are exactly a B-step
//! run: one run per (seed, start) gives every budget.
//!
//! Model: the default config (E = 8, d = 32, H = 64, T = 256, cf = 1.25, Switch loss α = 0.01, lr
//! 3e-3) at k = K (default 2: gates renormalised over the two, so right after the switch the MoE
//! computes the dense model's function, up to capacity drops; at k = 1 the raw gate p ≈ 1/E scales
//! the copied FFN's output down).
//!
//! `cargo run --profile fast --example upcycle_sweep -- [MAX] [SEEDS] [DENSE] [K] [WORKERS]`
//! (default 4800 5 200 2 1).
use moe_playground::config::{Config, Init};
use moe_playground::metrics::Snapshot;
use moe_playground::trainer::Trainer;
use moe_playground::upcycle::Upcycle;
mod common;

/// The last of the snapshots queued after closing the current window.
fn snapshot(t: &mut dyn Trainer) -> Snapshot {
    t.request_snapshot();
    std::iter::from_fn(|| t.wait_snapshot()).last().expect("snapshot")
}

struct Run {
    init: usize,
    /// (total steps, held-out CE) at each budget.
    ce: Vec<(u32, f32)>,
    /// (step, expert similarity) every 100 steps of the MoE phase.
    sim: Vec<(u32, f32)>,
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: u32| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (max, seeds, dense, k, workers) = (arg(1, 4800), arg(2, 5), arg(3, 200), arg(4, 2) as usize, arg(5, 1));
    let budgets: Vec<u32> = std::iter::successors(Some(300u32), |b| Some(b * 2)).take_while(|&b| b <= max).collect();
    let base = Config { top_k: k, eval_every: 0, dense_steps: dense, ..Config::default() };
    let inits = [("from scratch", Init::Scratch), ("upcycled", Init::Upcycle)];
    let jobs: Vec<(usize, u32)> = (0..inits.len()).flat_map(|v| (1..=seeds).map(move |s| (v, s))).collect();
    let started = std::time::Instant::now();
    let results: Vec<Run> = common::run_jobs(&jobs, workers as usize, |&(v, seed)| {
        let cfg = Config { seed, init: inits[v].1, ..base.clone() };
        let mut t = Upcycle::cpu(&cfg).expect("config");
        let mut run = Run { init: v, ce: vec![], sim: vec![] };
        while t.steps() < max {
            let step = t.steps();
            if t.switch_due() {
                t = pollster::block_on(t.switch()).expect("switch");
            }
            if let Some(s) = snapshot(&mut t).expert_similarity {
                if step.is_multiple_of(100) {
                    run.sim.push((step, s));
                }
            }
            t.train(100 - step % 100);
            if budgets.contains(&t.steps()) {
                let ce = t.inner().evaluate_report().ce;
                run.ce.push((t.steps(), ce));
                eprintln!(
                    "[{:>5.0} s] {} seed {seed}: step {} held-out CE {ce:.4}",
                    started.elapsed().as_secs_f64(),
                    inits[v].0,
                    t.steps()
                );
            }
        }
        if let Some(s) = snapshot(&mut t).expert_similarity {
            run.sim.push((t.steps(), s));
        }
        run
    });
    eprintln!("trained {} runs of {max} steps in {:.0} s", jobs.len(), started.elapsed().as_secs_f64());
    let stats = common::spread;
    let of = |v: usize| results.iter().filter(move |r| r.init == v);
    println!("Held-out CE after B total steps (upcycled: {dense} dense + B − {dense} MoE), mean (min–max) over {seeds} seeds:");
    println!();
    println!("| total steps B | from scratch | upcycled | upcycled better on |");
    println!("| --- | --- | --- | --- |");
    for &b in &budgets {
        let at = |v: usize| -> Vec<f32> { of(v).map(|r| r.ce.iter().find(|c| c.0 == b).expect("budget").1).collect() };
        let (s, u) = (at(0), at(1));
        let wins = s.iter().zip(&u).filter(|(s, u)| u < s).count();
        println!("| {b} | {} | {} | {wins} of {seeds} seeds |", stats(&s, 3), stats(&u, 3));
    }
    println!();
    println!("Expert similarity (mean pairwise cosine of the experts' weights), mean (min–max) over {seeds} seeds:");
    println!();
    let mut steps: Vec<u32> = results.iter().flat_map(|r| r.sim.iter().map(|s| s.0)).collect();
    steps.sort();
    steps.dedup();
    let show: Vec<u32> = steps
        .into_iter()
        .filter(|&s| s == 0 || s == dense || s == dense + 100 || budgets.contains(&s) || s == max)
        .collect();
    println!("| step | from scratch | upcycled |");
    println!("| --- | --- | --- |");
    for s in show {
        let at = |v: usize| -> Vec<f32> {
            of(v).filter_map(|r| r.sim.iter().find(|x| x.0 == s).map(|x| x.1)).collect::<Vec<f32>>()
        };
        let cell = |v: Vec<f32>| if v.is_empty() { "–".to_string() } else { stats(&v, 3) };
        println!("| {s} | {} | {} |", cell(at(0)), cell(at(1)));
    }
    println!();
    println!("Similarity every 100 steps (mean over seeds), for a chart:");
    for (v, (name, _)) in inits.iter().enumerate() {
        let mut line = format!("{name}:");
        for s in (0..=max).step_by(100) {
            let vals: Vec<f32> = of(v).filter_map(|r| r.sim.iter().find(|x| x.0 == s).map(|x| x.1)).collect();
            if !vals.is_empty() {
                line += &format!(" {s}:{:.3}", vals.iter().sum::<f32>() / vals.len() as f32);
            }
        }
        println!("{line}");
    }
}
