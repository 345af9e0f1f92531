//! The 1991 adaptive mixture of local experts on the 2-D regions: the cooperative loss (CE of the
//! blended output) against the competitive one (−log Σ_i p_i·softmax(o_i)[y]), E = 4 experts for
//! the 4 quadrants. For seeds 1..=N it trains both for STEPS steps (CPU reference) and measures on
//! the region map (a 40 × 40 grid over [−1, 1]²): the mean of the largest gate per point (0.25 =
//! every expert weighted alike, 1 = one expert per point), how many experts own at least one
//! quadrant (are top-1 on most of its cells) and the share of its cells each quadrant's owner has;
//! and the held-out accuracy. Prints the README's table (mean over seeds, min–max).
//!
//! `cargo run --profile fast --example mixture_regions -- [STEPS] [SEEDS] [WORKERS] [H] [T]`
//! (default 3000 5 1 64 256).
use moe_playground::config::{Balance, Config, Dataset, MixtureLoss, RouterKind};
use moe_playground::regionmap;
use moe_playground::trainer::{CpuTrainer, Trainer};
mod common;

struct Row {
    at: u32,
    max_gate: f32,
    owners: usize,
    purity: f32,
    accuracy: f32,
    ce: f32,
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let steps: u32 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let seeds: u32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let workers: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let hidden: usize = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(Config::default().hidden);
    let tokens: usize = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(Config::default().tokens);
    let base = Config {
        hidden,
        tokens,
        dataset: Dataset::Regions,
        router: RouterKind::from_name("dense-mixture").expect("router"),
        balance: Balance::None,
        experts: 4,
        eval_every: 0,
        ..Config::default()
    };
    let losses = [MixtureLoss::Cooperative, MixtureLoss::Competitive];
    let jobs: Vec<(usize, u32)> = (0..losses.len()).flat_map(|v| (1..=seeds).map(move |s| (v, s))).collect();
    let started = std::time::Instant::now();
    let runs: Vec<Vec<(usize, Row)>> = common::run_jobs(&jobs, workers, |&(v, seed)| {
        let mut out = Vec::new();
        let cfg = Config { seed, mixture_loss: losses[v], ..base.clone() };
        let mut t = CpuTrainer::new(&cfg).expect("config");
        // Early in training and at the end.
        for at in [steps / 4, steps] {
            t.train(at - t.steps());
            let map = regionmap::compute(t.params(), regionmap::GRID, at);
            let o = map.ownership();
            let ev = t.evaluate_report();
            let row = Row {
                at,
                max_gate: o.mean_max_gate,
                owners: o.owners(),
                purity: o.purity.iter().sum::<f32>() / 4.0,
                accuracy: ev.accuracy,
                ce: ev.ce,
            };
            eprintln!(
                    "[{:>5.0} s] {} seed {seed} step {at}: mean max gate {:.3}, owners {} {:?}, purity {:?}, held-out accuracy {:.3} CE {:.3}",
                    started.elapsed().as_secs_f64(),
                    losses[v].name(),
                    row.max_gate,
                    row.owners,
                    o.owner,
                    o.purity,
                    row.accuracy,
                    row.ce
                );
            out.push((v, row));
        }
        out
    });
    let results: Vec<(usize, Row)> = runs.into_iter().flatten().collect();
    eprintln!("trained {} runs of {steps} steps in {:.0} s", jobs.len(), started.elapsed().as_secs_f64());
    println!("| loss | step | mean largest gate | experts owning a quadrant (of 4) | owner's share of its quadrant | held-out accuracy | held-out CE |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (v, at) in (0..losses.len()).flat_map(|v| [(v, steps / 4), (v, steps)]) {
        let loss = losses[v];
        let rows: Vec<&Row> = results.iter().filter(|x| x.0 == v && x.1.at == at).map(|x| &x.1).collect();
        let cell =
            |f: &dyn Fn(&Row) -> f32, p: usize| common::spread(&rows.iter().map(|r| f(r)).collect::<Vec<_>>(), p);
        println!(
            "| {} | {at} | {} | {} | {} | {} | {} |",
            loss.name(),
            cell(&|r| r.max_gate, 2),
            cell(&|r| r.owners as f32, 1),
            cell(&|r| r.purity, 2),
            cell(&|r| r.accuracy, 3),
            cell(&|r| r.ce, 3)
        );
    }
}
