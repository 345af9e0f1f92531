//! Measures every card's "try this" hint ([`moe_playground::hints::TRIES`]) on the CPU trainer: the
//! default settings trained to step 200 (a class's first minutes), then the hint applied live, or
//! from a fresh start for a hint that restarts; prints per seed the metric before, the first step
//! its goal is met (after the change) and its value at the hint's `within`.
//! `cargo run --release --example hint_check -- [SEEDS] [STEPS BEFORE, 200] [CARD]`
use moe_playground::config::{Config, Init};
use moe_playground::hints::TRIES;
use moe_playground::trainer::{CpuTrainer, Trainer};
use moe_playground::upcycle::Upcycle;

/// Steps per snapshot (the page takes one about every 25 steps).
const WINDOW: u32 = 25;

fn trainer(cfg: &Config) -> Box<dyn Trainer> {
    if cfg.init == Init::Upcycle {
        Box::new(Upcycle::cpu(cfg).unwrap())
    } else {
        Box::new(CpuTrainer::new(cfg).unwrap())
    }
}

fn snap(tr: &mut dyn Trainer, n: u32) -> moe_playground::metrics::Snapshot {
    tr.train(n);
    tr.request_snapshot();
    tr.wait_snapshot().unwrap()
}

fn main() {
    let arg = |i: usize| std::env::args().nth(i);
    let seeds: u32 = arg(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    // Steps trained before the hint is tried.
    let before_steps: u32 = arg(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let only = arg(3);
    for t in TRIES.iter().filter(|t| only.as_deref().is_none_or(|c| c == t.card.name())) {
        for seed in 1..=seeds {
            let cfg = Config { seed, ..Config::default() };
            let mut tr = trainer(&cfg);
            let mut before = None;
            for _ in 0..before_steps / WINDOW {
                before = t.check.metric.of(&snap(tr.as_mut(), WINDOW)).or(before);
            }
            let mut next = cfg.clone();
            for (k, v) in t.set {
                next.set(k, v).unwrap();
            }
            if t.restart {
                tr = trainer(&next);
            } else {
                tr.set_live(next.live()).unwrap();
            }
            let (mut met, mut last, mut trail) = (None, None, vec![]);
            let mut at = 0;
            while at < t.check.within.max(300) {
                at += WINDOW;
                let v = t.check.metric.of(&snap(tr.as_mut(), WINDOW));
                if let (Some(v), Some(b)) = (v, before) {
                    if met.is_none() && t.check.goal.met(b, v) {
                        met = Some(at);
                    }
                }
                if at <= t.check.within {
                    last = v;
                }
                trail.push(v.map(|v| format!("{v:.2}")).unwrap_or("-".into()));
            }
            let ok = met.is_some_and(|m| m <= t.check.within);
            println!(
                "{:<10} seed {seed}: before {:.3} met at {:?} value@{} {:.3} {} | {}",
                t.card.name(),
                before.unwrap_or(f32::NAN),
                met,
                t.check.within,
                last.unwrap_or(f32::NAN),
                if ok { "OK" } else { "FAIL" },
                trail.join(" ")
            );
        }
    }
}
