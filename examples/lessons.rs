//! Plays every lesson (or those named on the command line) headless on the CPU reference over
//! seeds 1–5 and prints, per lesson and seed, each beat's filled caption, the line about run A, the
//! verdict's headline and each check, then how
//! many seeds passed: the numbers the lessons' captions and the README quote.
//!
//!     cargo run --profile fast --example lessons [-- ID ...]   (env SEEDS=5, WORKERS=cores)
//!
//! `DEVICE=gpu` plays them on the GPU trainer instead; `CPU_TOKENS=64` on the CPU with the batch
//! the page's CPU fallback uses (to set beside what the page shows without WebGPU).
#[path = "common/mod.rs"]
#[allow(dead_code)] // the job queue only
mod common;

use moe_playground::lessons::{Lesson, LESSONS};
use moe_playground::session::native::{options, play_lesson_with};
use moe_playground::session::Device;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let chosen: Vec<&'static Lesson> =
        LESSONS.iter().filter(|l| args.is_empty() || args.iter().any(|a| a == l.id)).collect();
    let seeds: u32 = std::env::var("SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let jobs: Vec<(usize, u32)> = (0..chosen.len()).flat_map(|l| (1..=seeds).map(move |s| (l, s))).collect();
    let started = std::time::Instant::now();
    let mut results = common::run_jobs(&jobs, workers, |&(l, seed)| {
        let t0 = std::time::Instant::now();
        let gpu = std::env::var("DEVICE").is_ok_and(|d| d == "gpu");
        let mut opts = options(if gpu { Device::Gpu } else { Device::Cpu });
        opts.cpu_tokens = std::env::var("CPU_TOKENS").ok().and_then(|t| t.parse().ok());
        let out = play_lesson_with(chosen[l], seed, opts);
        (l, seed, out, t0.elapsed().as_secs_f64())
    });
    results.sort_by_key(|r| (r.0, r.1));
    for (i, l) in chosen.iter().enumerate() {
        println!("## {} — {}", l.id, l.title);
        let mut passed = 0;
        for (_, seed, out, secs) in results.iter().filter(|r| r.0 == i) {
            passed += out.passed() as u32;
            println!("seed {seed} ({secs:.0} s, beats end at {:?}):", out.beat_ends);
            for c in &out.captions {
                println!("  · {c}");
            }
            if let Some(a) = &out.about_a {
                println!("  · about A: {a}");
            }
            match &out.verdict {
                Some(v) => {
                    println!("  {}", v.headline);
                    if let Some(d) = &v.detail {
                        println!("  {d}");
                    }
                    for c in &v.checks {
                        println!("    {c}");
                    }
                }
                None => println!("  (no verdict shown)"),
            }
        }
        println!("passed {passed} of {seeds} seeds\n");
    }
    eprintln!("{:.0} s", started.elapsed().as_secs_f64());
}
