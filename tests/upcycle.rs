//! Upcycling (`init = upcycle`) and the expert-similarity metric: the weights at the switch, the
//! step counter carrying on, both backends agreeing through the switch, and the `expert_similarity`
//! kernel against its CPU twin (`metrics::expert_similarity`).
mod common;
use common::gpu;
use moe_playground::config::{Config, DenseTwin, Init};
use moe_playground::metrics::{expert_similarity, Snapshot};
use moe_playground::model::{routing, Dims, Params};
use moe_playground::rng::Rng;
use moe_playground::trainer::{CpuTrainer, Trainer};
use moe_playground::upcycle::{upcycle_params, Upcycle};

/// A small upcycled config: E = 4, k = 2 (gates renormalised over the two, so the upcycled MoE
/// computes what the dense model did, up to capacity drops), `n` dense steps.
fn small(n: u32) -> Config {
    Config {
        tokens: 64,
        d: 16,
        hidden: 32,
        experts: 4,
        top_k: 2,
        init: Init::Upcycle,
        dense_steps: n,
        eval_every: 0,
        ..Config::default()
    }
}

fn snap(t: &mut dyn Trainer) -> Snapshot {
    assert!(t.request_snapshot());
    t.wait_snapshot().expect("snapshot")
}

/// Every snapshot still queued.
fn drain(t: &mut dyn Trainer) -> Vec<Snapshot> {
    std::iter::from_fn(|| t.poll_snapshot()).collect()
}

#[test]
fn upcycled_params_copy_the_dense_expert_into_every_expert() {
    let moe = small(0);
    let dense_cfg = moe.dense_phase();
    assert_eq!(
        (dense_cfg.experts, dense_cfg.top_k, dense_cfg.hidden, dense_cfg.capacity_factor, dense_cfg.alpha),
        (1, 1, moe.hidden, f32::INFINITY, 0.0)
    );
    let dense = Params::<f32>::random(Dims::new(&dense_cfg), 7);
    let p = upcycle_params(&dense, &moe);
    let fresh = Params::<f32>::init(Dims::new(&moe), moe.seed);
    let (s, l) = (&dense.layout, &p.layout);
    assert_eq!(&p.w[l.emb.clone()], &dense.w[s.emb.clone()], "embeddings copied");
    assert_eq!(&p.w[l.wo.clone()], &dense.w[s.wo.clone()], "head copied");
    assert_eq!(&p.w[l.bo.clone()], &dense.w[s.bo.clone()], "head bias copied");
    assert_eq!(&p.w[l.wr.clone()], &fresh.w[l.wr.clone()], "router as Params::init draws it for the MoE");
    assert!(p.w[l.wn.clone()].iter().all(|&x| x == 0.0), "wn zero");
    for (src, dst) in [(&s.w1, &l.w1), (&s.b1, &l.b1), (&s.w2, &l.w2), (&s.b2, &l.b2)] {
        for e in 0..moe.experts {
            let n = src.len();
            assert_eq!(&p.w[dst.start + e * n..dst.start + (e + 1) * n], &dense.w[src.clone()], "expert {e}");
        }
    }
    let sim = expert_similarity(&p).unwrap();
    assert!((sim - 1.0).abs() <= 1e-6, "identical experts: similarity {sim}");
    // A shared expert gets the dense FFN too (it sits after the routed experts in each tensor).
    let moe = Config { shared: 1, ..small(0) };
    let dense = Params::<f32>::random(Dims::new(&moe.dense_phase()), 8);
    assert_eq!(dense.dims.h, moe.hidden, "the warm-up is one FFN of width H, shared experts aside");
    let p = upcycle_params(&dense, &moe);
    let (s, l) = (&dense.layout, &p.layout);
    for (src, dst) in [(&s.w1, &l.w1), (&s.b2, &l.b2)] {
        let (n, e) = (src.len(), moe.experts);
        assert_eq!(&p.w[dst.start + e * n..dst.start + (e + 1) * n], &dense.w[src.clone()], "shared expert");
    }
}

#[test]
fn cpu_upcycle_switches_at_the_dense_steps_and_continues_the_step_counter() {
    let cfg = small(30);
    let mut up = Upcycle::cpu(&cfg).unwrap();
    assert!(up.is_dense());
    assert_eq!(up.config(), &cfg, "config() is the MoE's");
    assert_eq!(up.inner().config().experts, 1);
    up.train(30);
    assert!(up.switch_due(), "the dense phase ends after its 30 steps");
    let dense_w = up.inner().params().clone();
    let dense_snap = snap(&mut up);
    assert_eq!((dense_snap.step, dense_snap.expert_similarity), (30, None));
    let mut up = pollster::block_on(up.switch()).unwrap();
    assert!(!up.is_dense());
    assert_eq!(up.steps(), 30, "the MoE continues at step 30");
    assert_eq!(up.inner().params().w, upcycle_params(&dense_w, &cfg).w, "the MoE starts from the dense weights");
    // The switch closes the dense window (empty here: it was just closed), then the MoE's.
    let carried = drain(&mut up);
    assert_eq!(carried.iter().map(|s| (s.step, s.steps, s.expert_similarity)).collect::<Vec<_>>(), [(30, 0, None)]);
    let at_switch = snap(&mut up);
    assert_eq!((at_switch.step, at_switch.steps, at_switch.updates), (30, 0, 0));
    let s0 = at_switch.expert_similarity.unwrap();
    assert!((s0 - 1.0).abs() <= 1e-6, "upcycled experts are identical at the switch: similarity {s0}");
    up.train(1);
    let tr = up.last_trace();
    assert_eq!(tr.step, 31, "the first MoE step is step 31");
    // It trained on the batch of step 31 (index 30), not on the dense phase's first batch again.
    let batch = |i| CpuTrainer::new(&Config { init: Init::Scratch, ..cfg.clone() }).unwrap().batch(i);
    let ids = |b: &moe_playground::data::Batch| -> Vec<u32> {
        routing::route_keys(b, true, cfg.seed, None).iter().step_by(2).copied().collect()
    };
    assert_eq!(tr.token_ids.as_deref(), Some(&ids(&batch(30))[..]));
    assert_ne!(ids(&batch(30)), ids(&batch(0)));
    let s1 = snap(&mut up);
    assert_eq!((s1.step, s1.updates), (31, 1), "a fresh optimiser: its first update");
    assert!(s1.expert_similarity.unwrap() < 1.0, "the copies start to differ");

    // From scratch the experts are unrelated random networks.
    let mut scratch = Upcycle::cpu(&Config { init: Init::Scratch, experts: 8, ..cfg.clone() }).unwrap();
    let s = snap(&mut scratch).expert_similarity.unwrap();
    assert!(s.abs() < 0.05, "from scratch: similarity {s} should be near 0");
}

#[test]
fn cpu_upcycle_in_one_train_call_equals_the_switch_by_hand() {
    let cfg = small(25);
    let mut a = Upcycle::cpu(&cfg).unwrap();
    a.train(40);
    let mut b = Upcycle::cpu(&cfg).unwrap();
    b.train(25);
    let mut b = pollster::block_on(b.switch()).unwrap();
    b.train(15);
    assert_eq!(a.steps(), 40);
    assert_eq!(a.inner().params().w, b.inner().params().w);
    // The snapshot of the dense window closed at the switch comes first, then the MoE's.
    let sa: Vec<_> = [drain(&mut a), vec![snap(&mut a)]].concat();
    assert_eq!(sa.iter().map(|s| (s.step, s.steps)).collect::<Vec<_>>(), vec![(25, 25), (40, 15)]);
}

#[test]
fn upcycle_with_zero_dense_steps_copies_the_initial_dense_weights() {
    let cfg = small(0);
    let mut up = Upcycle::cpu(&cfg).unwrap();
    assert!(up.switch_due());
    up.train(3);
    assert_eq!(up.steps(), 3);
    assert!(!up.is_dense());
}

#[test]
fn gpu_upcycle_matches_the_cpu_through_the_switch() {
    let cfg = small(20);
    let _ = gpu(&Config::default(), &Params::init(Dims::new(&Config::default()), 1)); // XDG and a clear error
    let mut g = pollster::block_on(Upcycle::gpu(&cfg)).unwrap();
    let mut c = Upcycle::cpu(&cfg).unwrap();
    let mut curves = (vec![], vec![]);
    for _ in 0..4 {
        g.train(10);
        c.train(10);
        let (sg, sc) = ([drain(&mut g), vec![snap(&mut g)]].concat(), [drain(&mut c), vec![snap(&mut c)]].concat());
        assert_eq!(sg.len(), sc.len());
        for (a, b) in sg.iter().zip(&sc) {
            assert_eq!((a.step, a.steps, a.updates), (b.step, b.steps, b.updates), "step counters");
            assert_eq!(a.expert_similarity.is_some(), b.expert_similarity.is_some());
            curves.0.push((a.step, a.ce, a.expert_similarity));
            curves.1.push((b.step, b.ce, b.expert_similarity));
        }
    }
    eprintln!("gpu {:?}\ncpu {:?}", curves.0, curves.1);
    assert_eq!(g.steps(), 40);
    assert!(!g.is_dense());
    assert_eq!(
        g.inner().read_u32(moe_playground::gpu::Buf::State)[0],
        40,
        "the GPU's step counter continued from the dense phase"
    );
    for ((sa, ca, ma), (sb, cb, mb)) in curves.0.iter().zip(&curves.1) {
        assert_eq!(sa, sb);
        assert!((ca - cb).abs() <= 1e-3 * cb.abs(), "step {sa}: ce gpu {ca} cpu {cb}");
        if let (Some(x), Some(y)) = (ma, mb) {
            assert!((x - y).abs() <= 1e-4, "step {sa}: similarity gpu {x} cpu {y}");
        }
    }
    // At the switch itself (a window of 0 steps right after it) the GPU's similarity is 1 too.
    let mut g = pollster::block_on(Upcycle::gpu(&cfg)).unwrap();
    g.train(20);
    let mut g = pollster::block_on(g.switch()).unwrap();
    let at = [drain(&mut g), vec![snap(&mut g)]].concat();
    let s0 = at.last().unwrap().expert_similarity.unwrap();
    assert_eq!(at.last().unwrap().step, 20);
    assert!((s0 - 1.0).abs() <= 1e-6, "GPU: similarity at the switch {s0}");
    assert_eq!(g.inner().error(), None);
}

/// Weights whose experts are partly alike: expert e = a shared random part + its own random part
/// of weight `mix`, so the mean similarity is neither 0 nor 1.
fn mixed_params(cfg: &Config, mix: f64, seed: u64) -> Params<f32> {
    let mut p = Params::<f32>::random(Dims::new(cfg), cfg.seed);
    let mut rng = Rng::new(seed);
    let e = cfg.experts;
    for r in [p.layout.w1.clone(), p.layout.b1.clone(), p.layout.w2.clone(), p.layout.b2.clone()] {
        let n = r.len() / e;
        let shared: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
        for x in 0..e {
            for (i, sh) in shared.iter().enumerate() {
                p.w[r.start + x * n + i] = (sh + mix * rng.uniform(-1.0, 1.0)) as f32 * 0.1;
            }
        }
    }
    p
}

/// The `expert_similarity` kernel against its CPU twin on random weights, several shapes (E up to
/// 64, the kernel's limit; E = 1: no pairs). Tolerance 1e-5 absolute on a mean of cosines (the
/// same f32 summation order on both; measured in the output).
#[test]
fn similarity_kernel_matches_cpu_twin() {
    let shapes = [(2, 8, 4), (3, 5, 7), (8, 64, 32), (16, 16, 8), (64, 4, 4), (1, 8, 8)];
    let mut worst = 0.0f32;
    for (e, h, d) in shapes {
        for mix in [0.0, 0.5, 3.0] {
            let cfg = Config { experts: e, hidden: h, d, tokens: 64, top_k: 1, ..Config::default() };
            let p = mixed_params(&cfg, mix, (e * 1000 + h) as u64);
            let want = expert_similarity(&p);
            let mut g = gpu(&cfg, &p);
            let got = snap(&mut g).expert_similarity;
            assert_eq!(got.is_some(), want.is_some(), "E = {e}");
            if let (Some(a), Some(b)) = (got, want) {
                eprintln!("E={e} H={h} d={d} mix={mix}: gpu {a} cpu {b} |diff| {:.1e}", (a - b).abs());
                worst = worst.max((a - b).abs());
                assert!((a - b).abs() <= 1e-5, "E={e} H={h} d={d} mix={mix}: gpu {a} cpu {b}");
            }
        }
    }
    eprintln!("expert similarity: worst |gpu − cpu| {worst:.1e}");
}

#[test]
fn upcycle_config_rules() {
    let c = Config { init: Init::Upcycle, dense_twin: DenseTwin::Active, ..Config::default() };
    let e = c.validate().unwrap_err();
    assert_eq!(e.field, "init");
    assert!(e.to_string().contains("needs the MoE"), "{e}");
    let c = Config { init: Init::Upcycle, granularity: 2, ..Config::default() };
    let e = c.validate().unwrap_err();
    assert!(e.field == "init" && e.to_string().contains("granularity"), "{e}");
    let c = Config { dense_steps: 100_001, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().field, "dense-steps");
    let q = Config { init: Init::Upcycle, dense_steps: 500, ..Config::default() }.to_query();
    assert_eq!(q, "init=upcycle&dense-steps=500");
    let back = Config::from_query(&q).unwrap();
    assert_eq!((back.init, back.dense_steps), (Init::Upcycle, 500));
    // Old JSON without the fields loads as from scratch with the default dense steps.
    let mut v: serde_json::Value = serde_json::to_value(Config::default()).unwrap();
    v.as_object_mut().unwrap().remove("init");
    v.as_object_mut().unwrap().remove("dense_steps");
    let old: Config = serde_json::from_value(v).unwrap();
    assert_eq!(old, Config::default());
    // A bad URL value is fixed with a notice.
    let (c, notes) = Config::from_query_lenient("init=upcycle&dense-twin=total");
    assert!(c.validate().is_ok());
    assert!(notes.iter().any(|n| n.contains("init")), "{notes:?}");
}
