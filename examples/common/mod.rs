//! What the measurement examples share: a queue of training jobs over worker threads, and the
//! "mean (min–max)" cells of their tables.

/// Runs `job` on every item of `jobs`, each once, on `workers` threads (at least one) taking the
/// next item from one shared queue; the results come in the order the jobs finished.
pub fn run_jobs<J: Sync, R: Send>(jobs: &[J], workers: usize, job: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut out = Vec::new();
        while let Some(j) = jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            out.push(job(j));
        }
        out
    };
    std::thread::scope(|s| {
        let hs: Vec<_> = (1..workers.max(1)).map(|_| s.spawn(work)).collect();
        let mut r = work();
        for h in hs {
            r.extend(h.join().expect("worker"));
        }
        r
    })
}

/// "mean (min–max)" of `vals` with `p` decimals.
pub fn spread(vals: &[f32], p: usize) -> String {
    let mean = vals.iter().sum::<f32>() / vals.len() as f32;
    let lo = vals.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = vals.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    format!("{mean:.p$} ({lo:.p$}–{hi:.p$})")
}
