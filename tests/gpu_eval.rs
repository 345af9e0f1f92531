//! The held-out evaluation pass, the routing trace and the windowed drop share on the GPU, each
//! against the CPU reference (`evaluate_heldout`, `CpuTrainer::last_trace`, the CPU window).
mod common;
use common::{close, exact, gpu};
use moe_playground::config::{Config, LiveKnobs};
use moe_playground::data::EVAL_N;
use moe_playground::gpu::Buf;
use moe_playground::model::{Dims, Params};
use moe_playground::trainer::{CpuTrainer, Trainer};

fn snap(t: &mut dyn Trainer) -> moe_playground::metrics::Snapshot {
    assert!(t.request_snapshot());
    t.wait_snapshot().expect("snapshot")
}

/// The evaluation pass on both backends from the same weights: first with the random weights
/// (`eval_now` before any step), then the scheduled pass inside `train` after step 2. Rows: the
/// shared parity configs (T = 96 does not divide 4096: the last chunk is partial and wraps), and a
/// batch larger than the evaluation set (T = 4100: one chunk, the rows past 4096 wrap and are not
/// scored). CE within 1e-5 relative, correct predictions within 2 of 4096 (a near-tie in the output
/// logits may flip one argmax between the float orders).
#[test]
fn eval_pass_matches_cpu() {
    let mut rows = common::parity_configs();
    rows.push((
        "tokens-T4100-one-chunk",
        Config { tokens: 4100, d: 8, hidden: 8, experts: 4, top_k: 2, seed: 5, ..Config::default() },
    ));
    for (label, cfg) in rows {
        let cfg = Config { eval_every: 2, ..cfg };
        let p = Params::<f32>::random(Dims::new(&cfg), cfg.seed);
        let mut c = CpuTrainer::with_params(&cfg, p.clone());
        let mut g = gpu(&cfg, &p);
        for (when, train) in [("random weights", 0), ("after step 2", 2)] {
            c.train(train);
            g.train(train);
            if train == 0 {
                c.eval_now();
                g.eval_now();
            }
            let (sc, sg) = (snap(&mut c), snap(&mut g));
            assert_eq!((sc.eval_step, sg.eval_step), (train, train), "{label} {when}");
            let err = close(&format!("{label} {when}: eval_ce"), &[sg.eval_ce], &[sc.eval_ce], 1e-5);
            let (nc, ng) = (sc.eval_accuracy * EVAL_N as f32, sg.eval_accuracy * EVAL_N as f32);
            assert!((nc - ng).abs() <= 2.0, "{label} {when}: correct {nc} vs {ng}");
            assert!(sc.eval_ce.is_finite() && sc.eval_ce > 0.5, "{label} {when}: {}", sc.eval_ce);
            println!(
                "{label} {when}: eval_ce cpu {} gpu {} (rel {err:.1e}), correct {nc} vs {ng}",
                sc.eval_ce, sg.eval_ce
            );
        }
    }
}

/// Evaluating is forward-only: training with a pass after every step gives bit-identical weights,
/// Adam moments and step counters to training without one.
#[test]
fn evaluation_leaves_training_untouched() {
    let cfg = Config { tokens: 64, d: 16, hidden: 16, experts: 4, top_k: 2, ..Config::default() };
    let p = Params::<f32>::random(Dims::new(&cfg), 9);
    let mut with = gpu(&Config { eval_every: 1, ..cfg.clone() }, &p);
    let mut without = gpu(&Config { eval_every: 0, ..cfg.clone() }, &p);
    with.train(5);
    without.train(5);
    for name in [Buf::Params, Buf::AdamM, Buf::AdamV] {
        let (a, b) = (with.read_u32(name), without.read_u32(name));
        assert!(a == b, "{name} differs when evaluating");
    }
    exact("state[0..4]", &with.read_u32(Buf::State)[..4], &without.read_u32(Buf::State)[..4]);
    let (sw, so) = (snap(&mut with), snap(&mut without));
    assert_eq!((sw.eval_step, so.eval_step), (5, 0));
    assert_eq!((sw.ce, sw.choices.clone()), (so.ce, so.choices.clone()));
}

/// `last_trace` after a live change of k (1 → 3), with an evaluation pass and a snapshot's probe
/// pass run after the traced step (both reuse the forward buffers): the trace is the training
/// step's, sliced with the k it ran with, on both backends. The snapshot's window holds one step at
/// k = 1 and one at k = 3: 4·T assignments, and the drop share divides by that.
#[test]
fn trace_and_drop_share_follow_a_live_k_change() {
    let cfg = Config {
        tokens: 48,
        d: 9,
        hidden: 11,
        experts: 6,
        top_k: 1,
        capacity_factor: 0.75,
        alpha: 0.05,
        eval_every: 1,
        seed: 4,
        ..Config::default()
    };
    let p = Params::<f32>::random(Dims::new(&cfg), cfg.seed);
    let mut c = CpuTrainer::with_params(&cfg, p.clone());
    let mut g = gpu(&cfg, &p);
    c.train(1);
    g.train(1);
    let live = LiveKnobs { top_k: 3, ..cfg.live() };
    c.set_live(live).unwrap();
    g.set_live(live).unwrap();
    c.train(1);
    g.train(1);
    let (sc, sg) = (snap(&mut c), snap(&mut g));
    let (tc, tg) = (c.last_trace(), g.last_trace());
    assert_eq!((tc.step, tg.step), (2, 2));
    for (t, who) in [(&tc, "cpu"), (&tg, "gpu")] {
        assert_eq!(t.topk.len(), 48, "{who}");
        assert!(t.topk.iter().all(|r| r.len() == 3) && t.dropped.iter().all(|r| r.len() == 3), "{who}");
        assert_eq!(t.counts.iter().sum::<u32>(), 48 * 3, "{who}: choices of the traced step");
    }
    assert_eq!(tc.topk, tg.topk, "chosen experts");
    assert_eq!(tc.dropped, tg.dropped, "dropped assignments");
    assert_eq!((tc.counts.clone(), tc.kept.clone()), (tg.counts.clone(), tg.kept.clone()));
    assert_eq!((tc.capacity, tg.capacity), (18, 18), "C = ceil(0.75·48·3/6) = 18");
    let flat = |v: &Vec<Vec<f32>>| v.iter().flatten().copied().collect::<Vec<f32>>();
    close("trace probs", &flat(&tg.probs), &flat(&tc.probs), 1e-5);
    close("trace gates", &flat(&tg.gates), &flat(&tc.gates), 1e-5);
    close("trace ce", &[tg.ce], &[tc.ce], 1e-5);
    close("trace scores", &flat(&tg.scores), &flat(&tc.scores), 1e-5);
    assert_eq!(tc.drop_reason, tg.drop_reason, "drop reasons");
    assert_eq!(tc.token_ids, tg.token_ids, "token ids");
    assert_eq!((tc.router.as_str(), tg.router.as_str()), ("softmax-topk", "softmax-topk"));
    assert!(tc.drop_reason.iter().flatten().any(|r| *r == "capacity"));
    for (s, who) in [(&sc, "cpu"), (&sg, "gpu")] {
        assert_eq!(s.assignments, 48 + 48 * 3, "{who}: one step at k = 1, one at k = 3");
        assert!(s.dropped > 0, "{who}: cf = 0.75 drops");
        assert_eq!(s.dropped_share(), s.dropped as f32 / 192.0, "{who}");
    }
    assert_eq!(sc.dropped, sg.dropped);
}

/// The trace of an aux-free run with GShard-style random drops absent and a moving bias: the bias
/// the traced step chose with, its scores (logits plus bias) and the drop reasons, GPU against CPU;
/// and a gshard-top2 trace names its random drops.
#[test]
fn trace_names_router_bias_scores_and_drop_reasons() {
    use moe_playground::config::RouterKind;
    for name in ["aux-free", "gshard-top2"] {
        let router = RouterKind::from_name(name).unwrap();
        let cfg = Config { router, top_k: 2, tokens: 64, gamma: 0.05, capacity_factor: 1.0, ..Config::default() };
        let p = Params::init(Dims::new(&cfg), cfg.seed);
        let mut c = CpuTrainer::with_params(&cfg, p.clone());
        let mut g = gpu(&cfg, &p);
        // Few steps: the bias moves in jumps of ±γ, so a rounding-level difference in the weights
        // can flip one near-tied choice, then a load count, then the bias: the runs stay equal only
        // for a while (parity per step is held by tests/gpu_parity.rs).
        c.train(4);
        g.train(4);
        let (tc, tg) = (c.last_trace(), g.last_trace());
        assert_eq!(tc.router, name);
        assert_eq!(tc.topk, tg.topk, "{name}: chosen experts");
        assert_eq!(tc.drop_reason, tg.drop_reason, "{name}: drop reasons");
        let flat = |v: &Vec<Vec<f32>>| v.iter().flatten().copied().collect::<Vec<f32>>();
        // After Adam steps the weights differ at rounding level amplified by Adam (see gpu_parity).
        close(&format!("{name} scores"), &flat(&tg.scores), &flat(&tc.scores), 1e-3);
        if name == "aux-free" {
            let (bc, bg) = (tc.bias.clone().unwrap(), tg.bias.clone().unwrap());
            close("aux-free bias", &bg, &bc, 1e-5);
            assert!(bc.iter().any(|&b| b.abs() > 0.04), "the bias moved after 3 updates: {bc:?}");
        } else {
            assert!(tc.bias.is_none());
            let random = tc.drop_reason.iter().flatten().filter(|r| **r == "random").count();
            println!("gshard-top2: {random} of {} second choices dropped at random at step 4", cfg.tokens);
        }
    }
}

/// Every router with every balance loss it allows and every drop policy trains on both backends:
/// three steps each, finite losses, the same routing counts on the GPU as on the CPU for the first
/// step; a combination the router does not allow is refused by name.
#[test]
fn every_router_balance_and_drop_policy_combination_trains() {
    use moe_playground::config::{Balance, DropPolicy, RouterKind};
    let mut n = 0;
    for r in RouterKind::all() {
        let info = r.info();
        for &balance in Balance::ALL {
            for &policy in DropPolicy::ALL {
                let cfg = Config {
                    router: r,
                    balance,
                    drop_policy: policy,
                    top_k: info.k.unwrap_or(2),
                    tokens: 64,
                    d: 8,
                    hidden: 16,
                    capacity_factor: 0.75,
                    alpha: 0.05,
                    eval_every: 0,
                    ..Config::default()
                };
                if !info.balances.contains(&balance) {
                    let e = cfg.validate().unwrap_err().to_string();
                    assert!(e.contains("balance") && e.contains(info.balances[0].name()), "{e}");
                    continue;
                }
                let p = Params::init(Dims::new(&cfg), cfg.seed);
                let mut c = CpuTrainer::with_params(&cfg, p.clone());
                let mut g = gpu(&cfg, &p);
                c.train(1);
                g.train(1);
                let (tc, tg) = (c.last_trace(), g.last_trace());
                assert_eq!(tc.counts, tg.counts, "{} {} {}: step-1 choices", r.name(), balance.name(), policy.name());
                c.train(2);
                g.train(2);
                let (sc, sg) = (snap(&mut c), snap(&mut g));
                for s in [&sc, &sg] {
                    assert!(s.ce.is_finite() && s.aux.is_finite() && s.skipped == 0, "{} {}", r.name(), balance.name());
                }
                assert_eq!(g.error(), None);
                n += 1;
            }
        }
    }
    println!("{n} combinations trained on both backends");
    // gshard-top2 needs k = 2.
    let bad = Config { router: RouterKind::from_name("gshard-top2").unwrap(), top_k: 1, ..Config::default() };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("k = 2"), "{e}");
}

/// A checkpoint resumed on a new device goes on exactly as the run it was taken from: same
/// weights, Adam moments, step counters and metrics window, bit for bit, ten steps later (the
/// default router, and the loss-free router whose bias lives across steps; held-out evaluations
/// every 3 steps, so the checkpoint falls between two of them).
#[test]
fn a_checkpoint_resumes_bit_identically() {
    use moe_playground::config::RouterKind;
    use moe_playground::gpu::GpuTrainer;
    for router in ["softmax-topk", "aux-free"] {
        let cfg = Config {
            tokens: 64,
            d: 16,
            hidden: 16,
            experts: 4,
            top_k: 2,
            eval_every: 3,
            router: RouterKind::from_name(router).unwrap(),
            ..Config::default()
        }
        .resolved();
        let p = Params::<f32>::random(Dims::new(&cfg), 4);
        let mut run = gpu(&cfg, &p);
        run.train(7);
        assert!(run.request_checkpoint());
        assert!(!run.request_checkpoint(), "{router}: one checkpoint at a time");
        run.train(3);
        let ck = run.wait_checkpoint().expect("checkpoint");
        assert_eq!(ck.step, 7, "{router}: the checkpoint holds the steps enqueued before it");
        assert!(ck.params().w != p.w, "{router}: the checkpoint holds trained weights");
        run.train(7);
        let mut resumed = pollster::block_on(GpuTrainer::resume(&ck)).expect("resume");
        assert_eq!(resumed.steps(), 7);
        resumed.train(10);
        for name in moe_playground::gpu::checkpoint::KEPT {
            let (a, b) = (run.read_u32(name), resumed.read_u32(name));
            let same = if name == Buf::Rstate { a[..cfg.experts] == b[..cfg.experts] } else { a == b };
            assert!(same, "{router}: {name} differs after resuming");
        }
        let (sa, sb) = (snap(&mut run), snap(&mut resumed));
        assert_eq!((sa.step, sa.steps, sa.ce.to_bits()), (sb.step, sb.steps, sb.ce.to_bits()), "{router}");
        assert_eq!(sa.eval_ce.to_bits(), sb.eval_ce.to_bits(), "{router}");
    }
}

/// A device destroyed under the trainer (as a driver reset or the page's test does) is reported as
/// lost; dropping a trainer (which destroys its own device) reports nothing.
#[test]
fn a_destroyed_device_is_reported_lost() {
    let cfg = Config { tokens: 64, d: 16, hidden: 16, experts: 4, top_k: 2, ..Config::default() };
    let p = Params::<f32>::random(Dims::new(&cfg), 2);
    let mut tr = gpu(&cfg, &p);
    tr.train(2);
    assert!(!tr.lost() && tr.error().is_none());
    let other = gpu(&cfg, &p);
    drop(other);
    tr.train(1);
    tr.finish();
    assert!(!tr.lost() && tr.error().is_none(), "another trainer's drop is not a loss");
    tr.destroy_device();
    tr.finish();
    assert!(tr.lost(), "a destroyed device is lost");
    assert!(tr.error().is_some_and(|e| e.contains("lost")), "{:?}", tr.error());
    assert!(!tr.request_checkpoint() || tr.wait_checkpoint().is_none(), "no checkpoint from a lost device");
}

/// An upcycled run checkpointed in its dense warm-up resumes in the warm-up, switches to the MoE at
/// the same step and ends bit-identical to the run it was taken from.
#[test]
fn an_upcycled_run_resumes_in_its_dense_phase() {
    use moe_playground::config::Init;
    use moe_playground::gpu::GpuTrainer;
    use moe_playground::upcycle::Upcycle;
    let cfg = Config {
        tokens: 64,
        d: 16,
        hidden: 16,
        experts: 4,
        top_k: 2,
        init: Init::Upcycle,
        dense_steps: 6,
        ..Config::default()
    };
    let mut run = pollster::block_on(Upcycle::gpu(&cfg)).expect("run");
    run.train(4);
    assert!(run.request_checkpoint());
    let (dense, ck) = run.wait_checkpoint().expect("checkpoint");
    assert!(dense && ck.step == 4, "taken in the warm-up at step 4");
    run.train(8);
    let mut resumed = pollster::block_on(Upcycle::<GpuTrainer>::resume(&cfg, dense, &ck)).expect("resume");
    assert!(resumed.is_dense());
    resumed.train(8);
    assert!(!run.is_dense() && !resumed.is_dense(), "both switched to the MoE");
    assert_eq!((run.steps(), resumed.steps()), (12, 12));
    for name in moe_playground::gpu::checkpoint::KEPT {
        assert_eq!(run.inner().read_u32(name), resumed.inner().read_u32(name), "{name} differs after resuming");
    }
}
