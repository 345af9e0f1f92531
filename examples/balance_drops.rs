//! Why run A of the `balance-loss` lesson (top-1, cf = 1.25, balance loss α = 0.01) still drops
//! tokens and leaves experts nearly idle at the lesson's end: its dropped share and idle experts
//! at steps 300, 600 and 1500 over seeds 1–5, at the batch of the page's CPU fallback (64) and the
//! lessons' (256), beside the same run with α = 0.1 from the start. Read as the captions read
//! them (`{a.dropped}`: the last 100 steps of snapshots 50 steps apart; `{a.starved}`: the latest
//! snapshot). What the lesson's line about run A quotes.
//!
//!     cargo run --profile fast --example balance_drops
use moe_playground::config::Config;
use moe_playground::history::Hist;
use moe_playground::lessons::M;
use moe_playground::trainer::{CpuTrainer, Trainer};

const AT: [u32; 3] = [300, 600, 1500];

/// Run A's history for `seed`, `tokens` and `alpha` up to `steps`, a snapshot every 50 steps.
fn history(seed: u32, tokens: usize, alpha: f32, steps: u32) -> Vec<Hist> {
    let cfg = Config { seed, top_k: 1, capacity_factor: 1.25, alpha, tokens, eval_every: 100, ..Config::default() };
    let mut tr = CpuTrainer::new(&cfg).expect("a CPU trainer");
    let mut h = vec![];
    for _ in 0..steps / 50 {
        tr.train(50);
        tr.request_snapshot();
        h.push(Hist::of(&tr.wait_snapshot().expect("a snapshot")));
    }
    h
}

/// "lo–hi" of `v`, as whole percentages when `pct`.
fn range(v: &[f32], pct: bool) -> String {
    let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    if pct {
        format!("{:.0}–{:.0} %", 100.0 * lo, 100.0 * hi)
    } else {
        format!("{lo}–{hi}")
    }
}

fn main() {
    for (alpha, steps) in [(0.01, 1500), (0.1, 300)] {
        for tokens in [64, 256] {
            let runs: Vec<Vec<Hist>> = (1..=5).map(|seed| history(seed, tokens, alpha, steps)).collect();
            for at in AT.into_iter().filter(|&s| s <= steps) {
                let upto: Vec<&[Hist]> = runs.iter().map(|h| &h[..(at / 50) as usize]).collect();
                let dropped: Vec<f32> = upto.iter().map(|h| M::Dropped.of(h)).collect();
                let idle: Vec<f32> = upto.iter().map(|h| M::Starved.of(h)).collect();
                println!(
                    "α = {alpha}, batch {tokens}, step {at}: dropped {}, nearly idle {}",
                    range(&dropped, true),
                    range(&idle, false)
                );
            }
        }
    }
}
