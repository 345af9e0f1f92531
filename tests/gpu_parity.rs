//! Every WGSL kernel against its CPU twin (src/model), then whole steps and 200-step curves.
//! Runs natively on any wgpu adapter; in CI on Mesa's lavapipe.
//!
//! The CPU twins are the stage functions of src/model/forward.rs and src/model/backward.rs, one per
//! kernel and named like it (`model::stages::ffn_hidden` is shaders/expert_ffn.wgsl `ffn_hidden`;
//! the list is `model::STAGES`). `kernel_table` compares each kernel with the buffers of the whole
//! `forward`/`backward` (which are those stages in sequence);
//! `every_cpu_stage_alone_gives_the_reference_buffers` shows that each stage called alone on those
//! buffers gives them bit for bit, so a kernel and its stage can be run and compared on their own.
mod common;
use common::{close, exact, gpu};
use moe_playground::config::{Balance, DropPolicy, MixtureLoss, RouterKind};
use moe_playground::config::{Config, Dataset};
use moe_playground::data::Pool;
use moe_playground::gpu::kernels;
use moe_playground::gpu::kernels::Kernel;
use moe_playground::gpu::trainer::{rstate_part, rstate_words, STATS_WORDS};
use moe_playground::gpu::Buf as GpuBuf;
use moe_playground::metrics::{balance, Snapshot};
use moe_playground::model::adam::{adam_step, grad_norm, AdamHyper};
use moe_playground::model::backward::{backward, Backward};
use moe_playground::model::forward::{forward_routed, Forward, Routing};
use moe_playground::model::routers;
use moe_playground::model::routing::{self, DROPPED, UNUSED};
use moe_playground::model::{Dims, Params};
use moe_playground::trainer::{CpuTrainer, Trainer};
use std::collections::HashMap;

#[derive(Clone)]
enum Buf {
    F(Vec<f32>),
    U(Vec<u32>),
}

fn configs() -> Vec<(&'static str, Config)> {
    common::parity_configs()
}

struct Cpu {
    dims: Dims,
    p: Params<f32>,
    fw: Forward<f32>,
    bw: Backward<f32>,
    bufs: HashMap<&'static str, Buf>,
    /// The router bias after the step's `route_update`.
    bias_after: Vec<f32>,
}

/// Every buffer of one step as the reference computes it, in the GPU layout: step 0 from the seed's
/// random weights.
fn reference(cfg: &Config) -> Cpu {
    reference_at(cfg, Params::<f32>::random(Dims::new(cfg), cfg.seed), 0, &vec![0.0; cfg.routed_experts()])
}

/// Every buffer of training step `step` (its batch, and the counters `state` holds before it) from
/// weights `p` and the router bias `bias` before the step, at the knobs of `cfg`.
fn reference_at(cfg: &Config, mut p: Params<f32>, step: u32, bias: &[f32]) -> Cpu {
    let dims = Dims::new(cfg);
    p.dims.k = cfg.routed_k();
    p.dims.mix = cfg.competitive();
    let pool = Pool::new(cfg.dataset, cfg.seed);
    let b = pool.batch(cfg.seed, step, cfg.tokens);
    let rt = Routing {
        router: cfg.router,
        policy: cfg.drop_policy,
        keys: routing::route_keys(&b, dims.tokens, cfg.seed, Some(step)),
        bias: bias.to_vec(),
        train: true,
        balance: cfg.balance,
    };
    let fw = forward_routed(&p, &b, cfg.capacity(), rt);
    let alpha = cfg.alpha_effective();
    let bw = backward(&p, &b, &fw, alpha, cfg.beta);
    let mut stats = vec![0.0f32; STATS_WORDS];
    let acc = fw.correct.iter().sum::<u32>() as f32 / cfg.tokens as f32;
    stats[..5].copy_from_slice(&[fw.ce, fw.aux, fw.z, acc, fw.loss(alpha, cfg.beta)]);
    stats[8..8 + dims.e].copy_from_slice(&fw.f);
    stats[72..72 + dims.e].copy_from_slice(&fw.p_mean);
    // rstate: bias (64), then [T, E] each: noise logits, their gradient, the unit's direct dlogits.
    let mut rstate = vec![0.0f32; rstate_words(cfg.tokens, dims.e)];
    rstate[..dims.e].copy_from_slice(bias);
    let part = |name| rstate_part(cfg.tokens, dims.e, name);
    rstate[part("nlog")].copy_from_slice(&fw.nlog);
    rstate[part("dn")].copy_from_slice(&bw.dnlog);
    rstate[part("dl")].copy_from_slice(&bw.dl);
    rstate[part("eps")].copy_from_slice(&fw.routed.eps);
    rstate[part("pload")].copy_from_slice(&fw.routed.load_p);
    rstate[part("pz")].copy_from_slice(&fw.routed.load_z);
    rstate[part("post")].copy_from_slice(&bw.post);
    for (t, &n) in fw.routed.next.iter().enumerate() {
        rstate[part("next").start + t] = f32::from_bits(n);
    }
    // cv2 balance: importance, load and their (unscaled) CV² gradients.
    if cfg.balance == moe_playground::config::Balance::Cv2 {
        let e = dims.e;
        stats[136..136 + e].copy_from_slice(&fw.importance);
        stats[200..200 + e].copy_from_slice(&fw.load);
        stats[264..264 + e].copy_from_slice(&routing::cv2_grad(&fw.importance));
        stats[328..328 + e].copy_from_slice(&routing::cv2_grad(&fw.load));
    }
    // The bias after the step (`route_update`).
    let mut after = bias.to_vec();
    routers::unit::<f32>(cfg.router).update(&mut after, &fw.assign.counts, cfg.gamma);
    use Buf::*;
    let bufs = HashMap::from([
        ("state", U(vec![step, 0, 0, step])),
        ("inp", U(b.inputs.clone())),
        ("tgt", U(b.targets.clone())),
        ("dom", U(b.domains.clone())),
        ("params", F(p.w.clone())),
        ("grads", F(bw.grads.clone())),
        ("x0", F(fw.x0.clone())),
        ("x", F(fw.x.clone())),
        ("logits", F(fw.logits.clone())),
        ("rkey", U(fw.routing.keys.clone())),
        ("scores", F(fw.scores.clone())),
        ("order", U(fw.order.clone())),
        ("rstate", F(rstate)),
        ("rstate:nlog", F(fw.nlog.clone())),
        ("rstate:dn", F(bw.dnlog.clone())),
        ("rstate:dl", F(bw.dl.clone())),
        ("rstate:eps", F(fw.routed.eps.clone())),
        ("rstate:pload", F(fw.routed.load_p.clone())),
        ("rstate:pz", F(fw.routed.load_z.clone())),
        ("rstate:post", F(bw.post.clone())),
        ("dlog:dp", F(bw.dp.clone())),
        ("probs", F(fw.probs.clone())),
        ("lse", F(fw.lse.clone())),
        ("topk", U(fw.topk.clone())),
        ("gates", F(fw.gates.clone())),
        ("slot", U(fw.assign.slot.clone())),
        ("counts", U(fw.assign.counts.clone())),
        ("kept", U(fw.assign.kept.clone())),
        ("lists", U(fw.assign.lists.clone())),
        ("hid", F(fw.hid.clone())),
        ("y", F(fw.y.clone())),
        ("h", F(fw.h.clone())),
        ("outp", F(fw.out.clone())),
        ("ce_t", F(fw.ce_t.clone())),
        ("correct", U(fw.correct.clone())),
        ("dout", F(fw.dout.clone())),
        ("stats", F(stats)),
        ("dh", F(bw.dh.clone())),
        ("dg", F(bw.dg.clone())),
        ("dpre", F(bw.dpre.clone())),
        ("dlog", F(bw.dlog.clone())),
        ("dxa", F(bw.dxa.clone())),
        ("dx", F(bw.dx.clone())),
    ]);
    let mut bufs = bufs;
    if p.dims.mix {
        // The competitive mixture's buffers (one word each otherwise, never read).
        bufs.insert("outm", F(fw.outm.clone()));
        bufs.insert("doutm", F(bw.doutm.clone()));
        bufs.insert("dhm", F(bw.dhm.clone()));
    }
    Cpu { dims, p, fw, bw, bufs, bias_after: after }
}

/// (kernel, outputs it writes, parameter segments it writes in `grads`, tolerance).
type KernelCase = (&'static str, Vec<&'static str>, Vec<std::ops::Range<usize>>, f64);

fn kernel_table(c: &Cpu) -> Vec<KernelCase> {
    let l = &c.p.layout;
    vec![
        ("sample_batch", vec!["inp", "tgt", "dom", "rkey"], vec![], 0.0),
        ("embed", vec!["x0", "x"], vec![], 1e-6),
        ("router", vec!["logits", "probs", "lse", "rstate:nlog"], vec![], 1e-5),
        (
            "route",
            if c.fw.routing.router.info().smooth_load {
                vec!["topk", "gates", "scores", "rstate:eps", "rstate:pload", "rstate:pz"]
            } else {
                vec!["topk", "gates", "scores"]
            },
            vec![],
            1e-5,
        ),
        ("drop_order", vec!["order"], vec![], 0.0),
        ("capacity", vec!["slot", "counts", "kept", "lists"], vec![], 0.0),
        ("ffn_hidden", vec!["hid"], vec![], 1e-5),
        ("ffn_out", vec!["y"], vec![], 1e-5),
        ("combine", vec!["h"], vec![], 1e-6),
        ("head_mix", if c.dims.mix { vec!["outm"] } else { vec![] }, vec![], 1e-5),
        ("head", vec!["outp"], vec![], 1e-5),
        ("loss_token", vec!["ce_t", "correct", "dout"], vec![], 1e-5),
        ("loss_reduce", vec!["stats"], vec![], 1e-5),
        ("balance_reduce", vec!["stats:cv2"], vec![], 1e-5),
        ("mix_grad", if c.dims.mix { vec!["doutm", "rstate:post"] } else { vec![] }, vec![], 1e-5),
        ("head_wgrad", vec![], vec![l.wo.clone(), l.bo.clone()], 1e-5),
        ("head_dx", if c.dims.mix { vec!["dh", "dhm"] } else { vec!["dh"] }, vec![], 1e-5),
        ("gate_grad", vec!["dg"], vec![], 1e-5),
        ("ffn_dhidden", vec!["dpre"], vec![], 1e-5),
        ("ffn_wgrad2", vec![], vec![l.w2.clone(), l.b2.clone()], 1e-5),
        ("ffn_wgrad1", vec![], vec![l.w1.clone(), l.b1.clone()], 1e-5),
        ("route_grad", vec!["dlog:dp", "rstate:dn", "rstate:dl"], vec![], 1e-5),
        ("router_grad", vec!["dlog"], vec![], 1e-5),
        ("router_wgrad", vec![], vec![l.wr.clone(), l.wn.clone()], 1e-5),
        ("ffn_dx", vec!["dxa"], vec![], 1e-5),
        ("input_grad", vec!["dx"], vec![], 1e-5),
        ("embed_grad", vec![], vec![l.emb.clone(), l.w_in.clone(), l.b_in.clone()], 1e-5),
    ]
}

/// Bit-for-bit equality of two float buffers.
fn bits(label: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{label}: length");
    if let Some(i) = (0..want.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{label}: first difference at [{i}]: stage {} vs reference {}", got[i], want[i]);
    }
}

/// `grads` after a weight-gradient stage wrote into an all-NaN buffer: its segments `segs` hold the
/// reference's gradients bit for bit, and nothing else was written.
fn only_segments(label: &str, got: &[f32], want: &[f32], segs: &[std::ops::Range<usize>]) {
    for (i, g) in got.iter().enumerate() {
        if !segs.iter().any(|s| s.contains(&i)) {
            assert!(g.is_nan(), "{label}: wrote grads[{i}] outside its segments");
        }
    }
    for s in segs {
        bits(&format!("{label}/grads[{s:?}]"), &got[s.clone()], &want[s.clone()]);
    }
}

/// Every CPU stage (`model::stages`, in the order of `model::STAGES`) called alone on the reference's
/// buffers of one step gives exactly, bit for bit, the buffers the whole `forward`/`backward` gives:
/// the stages can be called and compared one at a time. CPU only (no adapter needed): the parity
/// configs and every router with each of its balance losses.
#[test]
fn every_cpu_stage_alone_gives_the_reference_buffers() {
    use moe_playground::data::Batch;
    use moe_playground::model::stages::*;
    let mut cases: Vec<(String, Config)> = configs().into_iter().map(|(l, c)| (l.to_string(), c)).collect();
    for r in RouterKind::all() {
        for &balance in r.info().balances {
            let cfg = Config { balance, ..router_config(r, DropPolicy::Random) };
            cases.push((format!("{}-random-{}", r.name(), balance.name()), cfg));
        }
    }
    for (label, cfg) in &cases {
        cfg.validate().unwrap();
        let c = reference(cfg);
        let (p, fw, bw, l) = (&c.p, &c.fw, &c.bw, &c.p.layout);
        let m = Dims { t: cfg.tokens, ..p.dims };
        let (alpha, beta) = (cfg.alpha_effective(), cfg.beta);
        let (slot, topk, gates) = (&fw.assign.slot, &fw.topk, &fw.gates);
        let cv2 = cfg.balance == Balance::Cv2;
        let smooth = fw.routing.train && fw.routing.router.info().smooth_load;
        // The batch as the GPU holds it (`inp`, `tgt`, `dom`).
        let (Buf::U(inputs), Buf::U(targets), Buf::U(domains)) = (&c.bufs["inp"], &c.bufs["tgt"], &c.bufs["dom"])
        else {
            unreachable!()
        };
        let b = Batch { inputs: inputs.clone(), targets: targets.clone(), domains: domains.clone() };
        let Buf::F(stats) = &c.bufs["stats"] else { unreachable!() };
        let nan = || vec![f32::NAN; l.total];
        let mut done: Vec<&str> = vec![];
        let mut at = |stage: &'static str| {
            done.push(stage);
            format!("{label}/{stage}")
        };

        // Forward.
        let w = at("embed");
        let (x0, x) = embed(p, &b);
        bits(&format!("{w}/x0"), &x0, &fw.x0);
        bits(&format!("{w}/x"), &x, &fw.x);
        let w = at("router");
        let (logits, probs, lse, nlog) = router(p, &fw.x, m.t);
        bits(&format!("{w}/logits"), &logits, &fw.logits);
        bits(&format!("{w}/probs"), &probs, &fw.probs);
        bits(&format!("{w}/lse"), &lse, &fw.lse);
        bits(&format!("{w}/nlog"), &nlog, &fw.nlog);
        let w = at("route");
        let routed = route(&m, &fw.logits, &fw.probs, &fw.nlog, &fw.routing, cfg.capacity());
        assert_eq!(routed.topk, fw.topk, "{w}/topk");
        bits(&format!("{w}/gates"), &routed.gates, &fw.gates);
        bits(&format!("{w}/scores"), &routed.scores, &fw.scores);
        assert_eq!(routed, fw.routed, "{w}");
        let w = at("drop_order");
        assert_eq!(drop_order(cfg.drop_policy, &fw.probs, &fw.routing.keys, m.t, m.e), fw.order, "{w}");
        let w = at("capacity");
        assert_eq!(capacity(&m, &fw.routed, &fw.order, cfg.capacity()), fw.assign, "{w}");
        let w = at("ffn_hidden");
        bits(&w, &ffn_hidden(p, &m, &fw.x, topk, slot), &fw.hid);
        let w = at("ffn_out");
        bits(&w, &ffn_out(p, &m, &fw.hid, topk, slot), &fw.y);
        let w = at("combine");
        bits(&w, &combine(&m, &fw.x, gates, &fw.y, slot), &fw.h);
        let w = at("head_mix");
        bits(&w, &head_mix(p, &m, &fw.h, &fw.y, slot), &fw.outm);
        let w = at("head");
        bits(&w, &head(p, &m, &fw.h, &fw.outm, &fw.logits, &fw.lse, topk), &fw.out);
        let w = at("loss_token");
        let (ce_t, correct, dout) = loss_token(&m, &fw.out, &b.targets);
        bits(&format!("{w}/ce_t"), &ce_t, &fw.ce_t);
        assert_eq!(correct, fw.correct, "{w}/correct");
        bits(&format!("{w}/dout"), &dout, &fw.dout);
        let w = at("loss_reduce");
        let st = loss_reduce(&m, &fw.ce_t, &fw.lse, &fw.correct, &fw.probs, &fw.assign.counts);
        bits(&w, &[st.ce, st.z, st.accuracy], &[fw.ce, fw.z, stats[3]]);
        bits(&format!("{w}/f"), &st.f, &fw.f);
        bits(&format!("{w}/P"), &st.p_mean, &fw.p_mean);
        let w = at("balance_reduce");
        let bal = balance_reduce(&m, topk, gates, &fw.assign.counts, smooth.then_some(&fw.routed.load_p[..]));
        bits(&format!("{w}/importance"), &bal.importance, &fw.importance);
        bits(&format!("{w}/load"), &bal.load, &fw.load);
        bits(&format!("{w}/aux"), &[if cv2 { bal.aux } else { st.aux }], &[fw.aux]);
        if cv2 {
            bits(&format!("{w}/dimp"), &bal.dimp, &stats[264..264 + m.e]);
            bits(&format!("{w}/dload"), &bal.dload, &stats[328..328 + m.e]);
        }

        // Backward. Weight-gradient stages write into an all-NaN `grads`.
        let w = at("mix_grad");
        let (doutm, post) = mix_grad(&m, &fw.out, &fw.outm, &fw.logits, &fw.lse, &b.targets, topk);
        bits(&format!("{w}/doutm"), &doutm, &bw.doutm);
        bits(&format!("{w}/post"), &post, &bw.post);
        let w = at("head_wgrad");
        let mut g = nan();
        head_wgrad(p, &m, &fw.dout, &fw.h, &bw.doutm, &fw.y, &mut g);
        only_segments(&w, &g, &bw.grads, &[l.wo.clone(), l.bo.clone()]);
        let w = at("head_dx");
        let (dh, dhm) = head_dx(p, &m, &fw.dout, &bw.doutm);
        bits(&w, &dh, &bw.dh);
        bits(&format!("{w}/dhm"), &dhm, &bw.dhm);
        let w = at("gate_grad");
        let scaled = |v: &[f32]| v.iter().map(|&x| alpha * x).collect::<Vec<f32>>();
        let (dimp, dload) = (scaled(&bal.dimp), scaled(&bal.dload));
        bits(&w, &gate_grad(&m, &bw.dh, &fw.y, slot, topk, cv2.then_some(&dimp[..])), &bw.dg);
        let w = at("ffn_dhidden");
        bits(&w, &ffn_dhidden(p, &m, &bw.dh, &bw.dhm, &fw.hid, gates, topk, slot), &bw.dpre);
        let w = at("ffn_wgrad2");
        let mut g = nan();
        ffn_wgrad2(p, &m, &bw.dh, &bw.dhm, &fw.hid, gates, &fw.assign.kept, &fw.assign.lists, &mut g);
        only_segments(&w, &g, &bw.grads, &[l.w2.clone(), l.b2.clone()]);
        let w = at("ffn_wgrad1");
        let mut g = nan();
        ffn_wgrad1(p, &m, &bw.dpre, &fw.x, &fw.assign.kept, &fw.assign.lists, &mut g);
        only_segments(&w, &g, &bw.grads, &[l.w1.clone(), l.b1.clone()]);
        let w = at("route_grad");
        let dl = (cv2 && smooth).then_some(&dload[..]);
        let (dp, dl, dn) =
            route_grad(&m, &fw.routing, &fw.logits, &fw.probs, &fw.nlog, &bw.post, &fw.routed, &bw.dg, dl);
        bits(&format!("{w}/dp"), &dp, &bw.dp);
        bits(&format!("{w}/dl"), &dl, &bw.dl);
        bits(&format!("{w}/dn"), &dn, &bw.dnlog);
        let w = at("router_grad");
        let dlog = router_grad(&m, &fw.probs, &fw.lse, &fw.assign.counts, &bw.dp, &bw.dl, cfg.balance, alpha, beta);
        bits(&w, &dlog, &bw.dlog);
        let w = at("router_wgrad");
        let mut g = nan();
        router_wgrad(p, &m, &bw.dlog, &bw.dnlog, &fw.x, &mut g);
        only_segments(&w, &g, &bw.grads, &[l.wr.clone(), l.wn.clone()]);
        let w = at("ffn_dx");
        bits(&w, &ffn_dx(p, &m, &bw.dpre, topk, slot), &bw.dxa);
        let w = at("input_grad");
        bits(&w, &input_grad(p, &m, &bw.dh, &bw.dxa, &bw.dlog, &bw.dnlog, slot), &bw.dx);
        let w = at("embed_grad");
        let mut g = nan();
        embed_grad(p, &m, &b, &fw.x0, &bw.dx, &mut g);
        only_segments(&w, &g, &bw.grads, &[l.emb.clone(), l.w_in.clone(), l.b_in.clone()]);

        assert_eq!(done, moe_playground::model::STAGES, "{label}: every stage, in order");
        // Together the weight-gradient stages write every parameter's gradient.
        let segs = [&l.wo, &l.bo, &l.w2, &l.b2, &l.w1, &l.b1, &l.wr, &l.wn, &l.emb, &l.w_in, &l.b_in];
        assert_eq!(segs.iter().map(|s| s.len()).sum::<usize>(), l.total, "{label}: gradient segments");
    }
    println!(
        "{} configs: every one of {} CPU stages alone is bit-identical",
        cases.len(),
        moe_playground::model::STAGES.len()
    );
}

/// The GPU buffer the reference's buffer `name` mirrors (they share the WGSL binding's name).
fn gpu_buf(name: &str) -> GpuBuf {
    GpuBuf::named(name).unwrap_or_else(|| panic!("no GPU buffer {name}"))
}

fn poison(g: &moe_playground::gpu::GpuTrainer, name: &str, like: &Buf) {
    match like {
        Buf::F(v) => g.write(gpu_buf(name), &vec![f32::NAN; v.len()]),
        Buf::U(v) => g.write(gpu_buf(name), &vec![0xDEAD_BEEFu32; v.len()]),
    }
}

#[test]
fn every_kernel_matches_its_cpu_twin() {
    for (label, cfg) in configs() {
        let c = reference(&cfg);
        let mut g = gpu(&cfg, &c.p);
        let worst = kernel_parity(label, &cfg, &c, &mut g);
        println!("{label}: per-kernel worst relative error {:.2e} ({})", worst.1, worst.0);
    }
}

/// Every kernel of the step alone, on the reference's inputs (written into `g` first), against the
/// reference's outputs. `g` must hold `cfg`'s knobs. Returns the worst float error and its kernel.
fn kernel_parity(label: &str, cfg: &Config, c: &Cpu, g: &mut moe_playground::gpu::GpuTrainer) -> (String, f64) {
    let table = kernel_table(c);
    let mut worst = (String::new(), 0.0f64);
    let mut track = |what: &str, err: f64| {
        if err > worst.1 {
            worst = (what.to_string(), err);
        }
    };
    // Every kernel of the step is covered by this table (optimiser and metrics have their own tests).
    for k in kernels::STEP {
        let covered = table.iter().any(|t| t.0 == k.name())
            || ["grad_norm", "adam", "route_update", "metrics_accum", "advance"].contains(&k.name());
        assert!(covered, "kernel {k} has no parity check");
    }
    let cv2 = cfg.balance == moe_playground::config::Balance::Cv2;
    for (kernel, outs, segs, tol) in &table {
        // `balance_reduce` works only with the cv2 loss: its own check below.
        if *kernel == "balance_reduce" {
            if cv2 {
                let Buf::F(st) = &c.bufs["stats"] else { unreachable!() };
                let mut pre = st.clone();
                pre[1] = f32::NAN;
                pre[4] = f32::NAN;
                pre[136..].iter_mut().for_each(|x| *x = f32::NAN);
                g.write(GpuBuf::Stats, &pre);
                for b in ["topk", "gates", "counts", "rstate"] {
                    match &c.bufs[b] {
                        Buf::F(x) => g.write(gpu_buf(b), x),
                        Buf::U(x) => g.write(gpu_buf(b), x),
                    }
                }
                g.run_kernels(&[Kernel::BalanceReduce], false);
                let got = g.read_f32(GpuBuf::Stats);
                let e = c.dims.e;
                for (name, at) in [("importance", 136), ("load", 200), ("dimp", 264), ("dload", 328)] {
                    let what = format!("{label}/balance_reduce/{name}");
                    track(&what, close(&what, &got[at..at + e], &st[at..at + e], *tol));
                }
                let what = format!("{label}/balance_reduce/aux, loss");
                track(&what, close(&what, &[got[1], got[4]], &[st[1], st[4]], *tol));
            }
            continue;
        }
        // Inputs: every buffer the kernel binds, from the reference; outputs poisoned first.
        let info = kernels::info(kernel).unwrap();
        for b in info.bindings {
            // `router_grad` reads the unit's dp from dlog (`route_grad` leaves it there).
            let name = if *kernel == "router_grad" && b.name == "dlog" { "dlog:dp" } else { b.name };
            if let Some(v) = c.bufs.get(name) {
                match v {
                    Buf::F(x) => g.write(gpu_buf(b.name), x),
                    Buf::U(x) => g.write(gpu_buf(b.name), x),
                }
            }
        }
        for o in outs {
            // A part of a buffer ("rstate:dn"): only that part is written, so poison just it.
            let (buf, part) = o.split_once(':').unwrap_or((o, ""));
            match (buf, part) {
                ("rstate", p) if !p.is_empty() => {
                    let Buf::F(mut v) = c.bufs["rstate"].clone() else { unreachable!() };
                    v[rstate_part(c.dims.t, c.dims.e, p)].iter_mut().for_each(|x| *x = f32::NAN);
                    g.write(GpuBuf::Rstate, &v);
                }
                // dlog is `router_grad`'s input (dp) as well as its output: not poisoned there.
                ("dlog", _) if *kernel == "router_grad" => {}
                (b, _) => poison(g, b, &c.bufs[b]),
            }
        }
        if *kernel == "capacity" {
            // `slot` is also an input of `capacity`: the RANDOM and UNPICKED marks `route` left (the
            // rest poisoned).
            let Buf::U(want) = &c.bufs["slot"] else { unreachable!() };
            let marked = |s: u32| s == routing::RANDOM || s == routing::UNPICKED;
            let marks: Vec<u32> = want.iter().map(|&s| if marked(s) { s } else { 0xDEAD_BEEF }).collect();
            g.write(GpuBuf::Slot, &marks);
        }
        if !segs.is_empty() {
            g.write(GpuBuf::Grads, &vec![f32::NAN; c.p.layout.total]);
        }
        g.run_kernels(&[Kernel::named(kernel).unwrap()], false);
        let what = format!("{label}/{kernel}");
        for o in outs {
            match &c.bufs[o] {
                Buf::U(want) => {
                    let got = g.read_u32(gpu_buf(o));
                    if *o == "correct" {
                        // argmax can flip on exact ties only; require 99 % agreement.
                        let same = want.iter().zip(&got).filter(|(a, b)| a == b).count();
                        assert!(same * 100 >= want.len() * 99, "{what}/correct: {same}/{}", want.len());
                    } else {
                        exact(&format!("{what}/{o}"), &got, want);
                    }
                }
                Buf::F(want) => {
                    let (buf, part) = o.split_once(':').unwrap_or((o, ""));
                    let mut got = g.read_f32(gpu_buf(buf));
                    if cv2 && *kernel == "loss_reduce" {
                        // With cv2, `balance_reduce` (checked above) writes aux and the total loss.
                        got[1] = want[1];
                        got[4] = want[4];
                    }
                    if buf == "rstate" {
                        got = got[rstate_part(c.dims.t, c.dims.e, part)].to_vec();
                    }
                    live_ranks_only(&c.dims, o, &mut got, want);
                    let n = if *o == "stats" { 5 } else { want.len() };
                    track(
                        &format!("{kernel}/{o}"),
                        close(&format!("{what}/{o}"), &got[..n], &want[..n], tol.max(1e-7)),
                    );
                    if *o == "stats" {
                        let e = c.dims.e;
                        track(
                            &format!("{kernel}/f"),
                            close(&format!("{what}/f"), &got[8..8 + e], &want[8..8 + e], *tol),
                        );
                        track(
                            &format!("{kernel}/P"),
                            close(&format!("{what}/P"), &got[72..72 + e], &want[72..72 + e], *tol),
                        );
                    }
                }
            }
        }
        let grads = if segs.is_empty() { vec![] } else { g.read_f32(GpuBuf::Grads) };
        for s in segs.iter().filter(|s| !s.is_empty()) {
            let err = close(&format!("{what}/grads[{s:?}]"), &grads[s.clone()], &c.bw.grads[s.clone()], *tol);
            track(&format!("{kernel}/grads"), err);
        }
    }
    // `route` marks the assignments it drops at random (RANDOM) and the ranks no expert picked
    // (UNPICKED) in `slot`, and only those.
    {
        let Buf::U(want) = &c.bufs["slot"] else { unreachable!() };
        g.write(GpuBuf::Slot, &vec![0xDEAD_BEEFu32; want.len()]);
        g.run_kernels(&[Kernel::Route], false);
        let got = g.read_u32(GpuBuf::Slot);
        let m = c.dims;
        for t in 0..m.t {
            for r in 0..m.k {
                let a = t * m.kmax + r;
                assert_eq!(
                    got[a] == routing::RANDOM,
                    want[a] == routing::RANDOM,
                    "{label}/route: random drop of token {t} rank {r}"
                );
                assert_eq!(
                    got[a] == routing::UNPICKED,
                    want[a] == routing::UNPICKED,
                    "{label}/route: unpicked token {t} rank {r}"
                );
            }
        }
    }
    // `route_update` (after the step) moves the router bias as its CPU twin does.
    {
        let Buf::F(st) = &c.bufs["rstate"] else { unreachable!() };
        g.write(GpuBuf::Rstate, st);
        g.write(GpuBuf::Counts, &c.fw.assign.counts);
        g.run_kernels(&[Kernel::RouteUpdate], false);
        let got = g.read_f32(GpuBuf::Rstate);
        let e = c.dims.e;
        track("route_update/bias", close(&format!("{label}/route_update/bias"), &got[..e], &c.bias_after, 1e-6));
    }
    assert_eq!(g.error(), None, "{label}: wgpu reported an error");
    // The configs do exercise drops.
    if cfg.capacity_factor < 1.0 && !cfg.router.info().all_experts {
        assert!(c.fw.dropped > 0, "{label}: fixture should drop assignments");
    }
    worst
}

/// Per-assignment buffers ([T·K, w]): only the live ranks r < ranks are defined (the kernels run
/// over those only; the competitive mixture's buffers over the routed ranks r < k), so rows of the
/// other ranks take the reference's values and are not compared.
fn live_ranks_only(m: &Dims, name: &str, got: &mut [f32], want: &[f32]) {
    let buffers = [("hid", m.h, m.ranks()), ("y", m.d, m.ranks()), ("dpre", m.h, m.ranks()), ("dxa", m.d, m.ranks())];
    let mixture = [("outm", m.v, m.k), ("doutm", m.v, m.k), ("dhm", m.d, m.k)];
    if let Some(&(_, w, live)) = buffers.iter().chain(&mixture).find(|(n, _, _)| *n == name) {
        for (row, chunk) in got.chunks_mut(w).enumerate().take(want.len() / w) {
            if row % m.kmax >= live {
                chunk.copy_from_slice(&want[row * w..row * w + w]);
            }
        }
    }
}

#[test]
fn optimizer_kernels_match_adam_twin() {
    let (_, cfg) = configs().remove(0);
    let c = reference(&cfg);
    let mut g = gpu(&cfg, &c.p);
    // Clipping on, so the scale path runs too.
    let cfg = Config { grad_clip: Some(0.5), ..cfg };
    g.set_live(cfg.live()).unwrap();
    let Buf::F(stats) = &c.bufs["stats"] else { unreachable!() };
    g.write(GpuBuf::Stats, stats);
    g.write(GpuBuf::Grads, &c.bw.grads);
    g.write(GpuBuf::State, &[0u32; 4]);
    g.run_kernels(&[Kernel::GradNorm, Kernel::Adam, Kernel::Advance], false);
    let norm = grad_norm(&c.bw.grads);
    let gn = g.read_f32(GpuBuf::Gnorm);
    close("grad_norm", &gn[..1], &[norm], 1e-6);
    assert_eq!(gn[2], 1.0, "finite step must be ok");
    let (mut w, mut m, mut v) = (c.p.w.clone(), vec![0.0; c.p.w.len()], vec![0.0; c.p.w.len()]);
    let hyper =
        AdamHyper { lr: cfg.lr, beta1: cfg.adam_beta1, beta2: cfg.adam_beta2, eps: cfg.adam_eps, clip: cfg.grad_clip };
    assert!(adam_step(&mut w, &mut m, &mut v, &c.bw.grads, 1, c.fw.loss(cfg.alpha, cfg.beta), hyper));
    close("adam/m", &g.read_f32(GpuBuf::AdamM), &m, 1e-5);
    close("adam/v", &g.read_f32(GpuBuf::AdamV), &v, 1e-5);
    close("adam/params", &g.read_f32(GpuBuf::Params), &w, 1e-5);
    assert_eq!(&g.read_u32(GpuBuf::State)[..4], &[1, 0, 0, 1]);
    // A non-finite loss: the step is skipped, the weights stay, `skipped` counts it.
    let mut bad = stats.clone();
    bad[4] = f32::NAN;
    g.write(GpuBuf::Stats, &bad);
    let before = g.read_f32(GpuBuf::Params);
    g.run_kernels(&[Kernel::GradNorm, Kernel::Adam, Kernel::Advance], false);
    assert_eq!(g.read_f32(GpuBuf::Gnorm)[2], 0.0);
    assert_eq!(g.read_f32(GpuBuf::Params), before, "a diverged step must not touch the weights");
    assert_eq!(&g.read_u32(GpuBuf::State)[..4], &[2, 1, 0, 1]);
}

/// Capacity on hand-made routing fixtures, on the GPU: exact slots, counts and drops, each checked
/// against the reference's `assign` and against counts worked out by hand.
#[test]
fn capacity_kernel_on_fixtures() {
    let t = 16;
    let e = 4;
    struct Case {
        k: usize,
        cf: f32,
        rows: Vec<[u32; 2]>,
        cap: usize,
        counts: [u32; 4],
        kept: [u32; 4],
        dropped: u32,
        all_dropped: u32,
    }
    let cases = vec![
        // k = 1, C = ceil(0.5·16·1/4) = 2: tokens alternate experts 0, 1 (8 each); each keeps 2 and
        // drops 6, so 12 of 16 are dropped, and with k = 1 each dropped token has lost its only choice.
        Case {
            k: 1,
            cf: 0.5,
            rows: (0..t).map(|i| [(i % 2) as u32, 3]).collect(),
            cap: 2,
            counts: [8, 8, 0, 0],
            kept: [2, 2, 0, 0],
            dropped: 12,
            all_dropped: 12,
        },
        // k = 2, C = ceil(1·16·2/4) = 8: every first choice is expert 0 (16 > 8: tokens 8..15 lose
        // it); second choices 1 + t mod 3 give experts 1, 2, 3 loads 6, 5, 5, all under 8. Dropped 8,
        // and no token loses both choices.
        Case {
            k: 2,
            cf: 1.0,
            rows: (0..t).map(|i| [0, 1 + (i % 3) as u32]).collect(),
            cap: 8,
            counts: [16, 6, 5, 5],
            kept: [8, 6, 5, 5],
            dropped: 8,
            all_dropped: 0,
        },
        // k = 2, C = ceil(0.25·16·2/4) = 2, priority: first choices t mod 4 give each expert 4 tokens
        // (t = e, e + 4 kept; e + 8, e + 12 dropped: 8 dropped), which fills every expert, so all 16
        // second choices (t + 1) mod 4 are dropped. 24 of 32 dropped; tokens 8..15 lose both.
        Case {
            k: 2,
            cf: 0.25,
            rows: (0..t).map(|i| [(i % 4) as u32, ((i + 1) % 4) as u32]).collect(),
            cap: 2,
            counts: [8, 8, 8, 8],
            kept: [2, 2, 2, 2],
            dropped: 24,
            all_dropped: 8,
        },
        // k = 1 dropless (C = T = 16): all 16 tokens on expert 2, all kept.
        Case {
            k: 1,
            cf: f32::INFINITY,
            rows: (0..t).map(|_| [2, 0]).collect(),
            cap: 16,
            counts: [0, 0, 16, 0],
            kept: [0, 0, 16, 0],
            dropped: 0,
            all_dropped: 0,
        },
    ];
    for c in cases {
        let k = c.k;
        let cfg =
            Config { tokens: t, experts: e, top_k: k, capacity_factor: c.cf, d: 4, hidden: 4, ..Config::default() };
        let dims = Dims::new(&cfg);
        let mut g = gpu(&cfg, &Params::init(dims, 1));
        let kk = dims.kmax;
        let mut topk = vec![UNUSED; t * kk];
        for (i, r) in c.rows.iter().enumerate() {
            topk[i * kk..i * kk + k].copy_from_slice(&r[..k]);
        }
        let cap = cfg.capacity();
        let what = format!("k={k} cf={} C={cap}", c.cf);
        assert_eq!(cap, c.cap, "{what}: capacity");
        let want = routing::assign(&topk, t, k, kk, e, cap);
        // The reference itself against the hand-computed loads.
        assert_eq!(want.counts, c.counts, "{what}: reference counts");
        assert_eq!(want.kept, c.kept, "{what}: reference kept");
        assert_eq!(routing::drop_counts(&want.slot, t, k, kk), (c.dropped, c.all_dropped), "{what}: reference drops");
        g.write(GpuBuf::Topk, &topk);
        // Position order and no random drops (as `drop_order` and `route` leave them).
        g.write(GpuBuf::Order, &(0..cfg.tokens as u32).collect::<Vec<u32>>());
        g.write(GpuBuf::Slot, &vec![0u32; topk.len()]);
        g.run_kernels(&[Kernel::Capacity], false);
        let slot = g.read_u32(GpuBuf::Slot);
        exact(&format!("{what} slot"), &slot, &want.slot);
        exact(&format!("{what} counts"), &g.read_u32(GpuBuf::Counts), &c.counts);
        exact(&format!("{what} kept"), &g.read_u32(GpuBuf::Kept), &c.kept);
        exact(&format!("{what} lists"), &g.read_u32(GpuBuf::Lists), &want.lists);
        let dropped = slot[..t * kk].iter().filter(|&&s| s == DROPPED).count() as u32;
        assert_eq!(dropped, c.dropped, "{what}: GPU dropped assignments");
        assert_eq!(routing::drop_counts(&slot, t, k, kk), (c.dropped, c.all_dropped), "{what}: GPU drops");
        assert_eq!(g.error(), None, "{what}: wgpu reported an error");
    }
}

fn full_step_gpu_vs_cpu(cfg: &Config, steps: u32) -> (Vec<f32>, Vec<f32>, CpuTrainer, moe_playground::gpu::GpuTrainer) {
    let p = Params::<f32>::random(Dims::new(cfg), cfg.seed);
    let mut cpu = CpuTrainer::with_params(cfg, p.clone());
    let mut g = gpu(cfg, &p);
    let mut ce_c = vec![];
    let mut ce_g = vec![];
    for _ in 0..steps {
        cpu.train(1);
        g.train(1);
        cpu.request_snapshot();
        g.request_snapshot();
        ce_c.push(cpu.poll_snapshot().unwrap().ce);
        ce_g.push(g.wait_snapshot().expect("snapshot").ce);
    }
    (ce_c, ce_g, cpu, g)
}

#[test]
fn one_full_step_matches_reference() {
    for (label, cfg) in configs() {
        let (ce_c, ce_g, cpu, g) = full_step_gpu_vs_cpu(&cfg, 1);
        close(&format!("{label}: ce"), &ce_g, &ce_c, 1e-4);
        let st = g.read_f32(GpuBuf::Stats);
        let c = reference(&cfg);
        close(&format!("{label}: aux"), &st[1..2], &[c.fw.aux], 1e-4);
        close(&format!("{label}: z"), &st[2..3], &[c.fw.z], 1e-4);
        let got = g.read_f32(GpuBuf::Params);
        let start = &c.p.w;
        for (name, r) in cpu.params().layout.tensors() {
            let err =
                close(&format!("{label}: {name} after 1 step"), &got[r.clone()], &cpu.params().w[r.clone()], 1e-4);
            // The update itself, Δw = −lr·m̂/(√v̂ + ε), judged on its own scale (≈ lr): a stricter test
            // than the weights, which the unchanged initial values dominate.
            let dg: Vec<f32> = r.clone().map(|i| got[i] - start[i]).collect();
            let dc: Vec<f32> = r.clone().map(|i| cpu.params().w[i] - start[i]).collect();
            let derr = close(&format!("{label}: {name} update"), &dg, &dc, 1e-3);
            eprintln!("{label}: {name} weights max rel err {err:.2e}, update max rel err {derr:.2e}");
        }
    }
}

#[test]
fn loss_curves_match_over_200_steps() {
    let cfg = Config { tokens: 128, d: 16, hidden: 32, experts: 4, top_k: 2, alpha: 0.01, ..Config::default() };
    let (ce_c, ce_g, _, _) = full_step_gpu_vs_cpu(&cfg, 200);
    let mut worst = 0.0f32;
    for (a, b) in ce_c.iter().zip(&ce_g) {
        worst = worst.max((a - b).abs() / b.abs());
    }
    eprintln!(
        "200-step CE curves: max relative gap {worst:.2e}; start {} end cpu {} gpu {}",
        ce_c[0], ce_c[199], ce_g[199]
    );
    // Routing is discrete: a near-tie can flip one top-k choice and the runs drift apart slowly.
    assert!(worst < 2e-2, "CE curves diverge: max relative gap {worst}");
    assert!(ce_c[199] < ce_c[0] * 0.8, "the model should learn");
}

#[test]
fn two_gpu_runs_are_bit_identical() {
    let cfg = Config { tokens: 128, top_k: 2, ..Config::default() };
    bit_identical(&cfg);
}

/// Two GPU runs of `cfg` from one seed: identical snapshots and bit-identical weights.
fn bit_identical(cfg: &Config) {
    let run = || {
        let mut g = gpu(cfg, &Params::init(Dims::new(cfg), cfg.seed));
        let mut out = vec![];
        for _ in 0..3 {
            g.train(20);
            g.request_snapshot();
            out.push(g.wait_snapshot().unwrap());
        }
        (out, g.read_f32(GpuBuf::Params))
    };
    let (a, pa) = run();
    let (b, pb) = run();
    assert_eq!(a, b, "snapshots differ between two runs with one seed");
    assert!(pa.iter().zip(&pb).all(|(x, y)| x.to_bits() == y.to_bits()), "weights differ bitwise");
}

/// A small config for router `r` with drop policy `policy`: capacity pressure (cf = 0.75), the
/// router's k (else 2), its first allowed balance loss, and a bias step large enough to matter.
fn router_config(r: RouterKind, policy: DropPolicy) -> Config {
    let info = r.info();
    Config {
        router: r,
        drop_policy: policy,
        balance: info.balances[0],
        dataset: if policy == DropPolicy::Probability { Dataset::Regions } else { Dataset::Tokens },
        top_k: info.k.unwrap_or(2),
        experts: 8,
        tokens: 64,
        d: 12,
        hidden: 16,
        capacity_factor: 0.75,
        alpha: 0.05,
        beta: 0.01,
        lr: 1e-3,
        gamma: 0.05,
        seed: 30 + r.0 as u32 + 3 * policy as u32,
        ..Config::default()
    }
}

/// Every router of the registry with every drop policy: two training steps on both backends (the
/// second with the first step's bias, at a new step's random draws), the second compared gradient by
/// gradient and buffer by buffer, then every kernel alone, as the matrix rows are. Picked up from
/// `ROUTERS`: a new router is covered without a new test.
#[test]
fn every_router_and_drop_policy_matches_reference() {
    for r in RouterKind::all() {
        let info = r.info();
        // Every drop policy with the router's default balance, and every other balance it allows.
        let cases: Vec<(DropPolicy, Balance)> = DropPolicy::ALL
            .iter()
            .map(|&p| (p, info.balances[0]))
            .chain(info.balances[1..].iter().map(|&b| (DropPolicy::Position, b)))
            .collect();
        for (policy, balance) in cases {
            let cfg = Config { balance, ..router_config(r, policy) };
            cfg.validate().unwrap();
            let name: &'static str =
                Box::leak(format!("{}-{}-{}", r.name(), policy.name(), balance.name()).into_boxed_str());
            let row = Row { name, cfg: cfg.clone(), then: Some(cfg) };
            let (cfg, c, mut g) = step_on_both(&row);
            let (grads, bufs) = full_step_parity(name, &cfg, &c, &g);
            let k = kernel_parity(name, &cfg, &c, &mut g);
            let (gw, bw) = (grads.max(), bufs.max());
            println!(
                "{name}: worst gradient {} {:.2e}, worst buffer {} {:.2e}, worst kernel {} {:.2e}",
                gw.0, gw.1, bw.0, bw.1, k.0, k.1
            );
            if r.info().has_bias {
                // The compared step chose with the bias after step 1 (±γ per expert).
                assert!(c.fw.routing.bias.iter().any(|&b| b != 0.0), "{name}: the bias moved");
            }
        }
    }
}

/// Shared experts and fine-grained experts (alone, together, and with expert choice), and the dense
/// mixture's competitive loss: two steps on both backends, compared gradient by gradient and buffer
/// by buffer, then every kernel alone.
#[test]
fn shared_and_fine_grained_experts_match_reference() {
    let ec = RouterKind::from_name("expert-choice").unwrap();
    let dm = RouterKind::from_name("dense-mixture").unwrap();
    let base = router_config(RouterKind::default(), DropPolicy::Position);
    let rows = [
        ("shared-1", Config { shared: 1, ..base.clone() }),
        ("fine-grained-2", Config { granularity: 2, ..base.clone() }),
        (
            "shared-2-fine-grained-4-regions",
            Config { shared: 2, granularity: 4, dataset: Dataset::Regions, top_k: 1, ..base.clone() },
        ),
        (
            "expert-choice-shared-1",
            Config { shared: 1, balance: Balance::None, ..router_config(ec, DropPolicy::Position) },
        ),
        ("shared-1-experts-off", Config { shared: 1, experts_off: true, ..base.clone() }),
        (
            "dense-mixture-competitive",
            Config { mixture_loss: MixtureLoss::Competitive, ..router_config(dm, DropPolicy::Position) },
        ),
        (
            "dense-mixture-competitive-shared-1-regions",
            Config { mixture_loss: MixtureLoss::Competitive, shared: 1, ..router_config(dm, DropPolicy::Probability) },
        ),
    ];
    for (name, cfg) in rows {
        cfg.validate().unwrap();
        let row = Row { name, cfg: cfg.clone(), then: Some(cfg) };
        let (cfg, c, mut g) = step_on_both(&row);
        let (grads, bufs) = full_step_parity(name, &cfg, &c, &g);
        let k = kernel_parity(name, &cfg, &c, &mut g);
        let (gw, bw) = (grads.max(), bufs.max());
        println!(
            "{name}: worst gradient {} {:.2e}, worst buffer {} {:.2e}, worst kernel {} {:.2e}",
            gw.0, gw.1, bw.0, bw.1, k.0, k.1
        );
        let m = c.dims;
        for j in 0..cfg.shared {
            let want = if cfg.experts_off { 0 } else { cfg.tokens as u32 };
            assert_eq!(c.fw.assign.kept[m.e + j], want, "{name}: shared expert {j}");
        }
    }
}

/// Same seed → bit-identical GPU runs, for every router with the random drop policy (the one with
/// the most random draws).
#[test]
fn every_router_is_deterministic() {
    for r in RouterKind::all() {
        bit_identical(&Config { tokens: 128, ..router_config(r, DropPolicy::Random) });
    }
}

/// Live knobs act at the next step on the running GPU model: k 1 → 2, cf, α, lr change without a
/// reset (step count and trained weights carry on), and the run still matches the reference.
#[test]
fn live_knobs_change_the_running_gpu_model() {
    let cfg = Config { tokens: 128, d: 16, hidden: 24, experts: 6, ..Config::default() };
    let p = Params::<f32>::random(Dims::new(&cfg), 5);
    let mut g = gpu(&cfg, &p);
    let mut c = CpuTrainer::with_params(&cfg, p);
    for t in [&mut g as &mut dyn Trainer, &mut c] {
        t.train(30);
        assert!(t.request_snapshot());
    }
    let a = g.wait_snapshot().unwrap();
    c.poll_snapshot().unwrap();
    assert_eq!((a.k, a.probe.k, a.probe.topk.len()), (1, 1, 64));
    let trained = g.read_f32(GpuBuf::Params);
    let next = Config { top_k: 2, capacity_factor: 0.75, alpha: 0.05, lr: 1e-3, ..cfg };
    g.set_live(next.live()).unwrap();
    c.set_live(next.live()).unwrap();
    assert_eq!(g.read_f32(GpuBuf::Params), trained, "changing knobs must not touch the weights");
    for t in [&mut g as &mut dyn Trainer, &mut c] {
        t.train(10);
        assert!(t.request_snapshot());
    }
    let b = g.wait_snapshot().unwrap();
    let bc = c.poll_snapshot().unwrap();
    assert_eq!((b.step, b.k, b.probe.k, b.probe.topk.len()), (40, 2, 2, 128));
    assert_eq!(b.capacity, moe_playground::config::capacity(0.75, 128, 2, 6) as u32);
    assert_eq!(b.choices.iter().sum::<u32>(), 10 * 128 * 2, "T·k choices per step after the change");
    assert!(b.dropped > 0, "cf = 0.75 drops assignments");
    close("ce after live change", &[b.ce], &[bc.ce], 1e-3);
    // Bad live values are refused and leave the model running as it was.
    assert!(g.set_live(Config { top_k: 7, ..next.clone() }.live()).is_err());
    assert_eq!(g.config().top_k, 2);
}

// ---------------------------------------------------------------------------------------------------
// The covering matrix: one full training step on both backends, compared gradient tensor by gradient
// tensor, then every kernel alone on that step's inputs.

/// One row of the matrix. `then`: train one step at `cfg`, switch the running model to these live
/// knobs, and compare the second step instead (the reference makes the same change).
struct Row {
    name: &'static str,
    cfg: Config,
    then: Option<Config>,
}

/// A covering set of configs, not the full product (see `matrix_covers_every_required_case`).
/// α, β > 0 everywhere so the balance-loss and z-loss terms of the router gradient are live.
fn matrix() -> Vec<Row> {
    let base = Config { alpha: 0.05, beta: 0.01, lr: 1e-3, ..Config::default() };
    let row = |name, cfg| Row { name, cfg, then: None };
    let live =
        Config { experts: 8, top_k: 1, tokens: 256, d: 16, hidden: 24, capacity_factor: 1.0, seed: 9, ..base.clone() };
    vec![
        // E = 1: softmax of one logit (p = 1, gate 1; the router learns from the z-loss only), T at
        // the minimum 16, cf = 1.25 with C clamped to T.
        row(
            "e1-k1-t16",
            Config { experts: 1, top_k: 1, tokens: 16, d: 8, hidden: 16, capacity_factor: 1.25, ..base.clone() },
        ),
        // k = E = 2 (every expert chosen, renormalised gates), regions (linear input layer), T = 48
        // (one partial workgroup), odd d and H, cf = 0.5 (C = 24: drops).
        row(
            "e2-k2-t48-regions-cf0.5",
            Config {
                dataset: Dataset::Regions,
                experts: 2,
                top_k: 2,
                tokens: 48,
                d: 7,
                hidden: 13,
                capacity_factor: 0.5,
                seed: 2,
                ..base.clone()
            },
        ),
        // k = 3 of E = 8 (k < k_max: ranks 3..7 unused), tokens, odd d and H, cf = 1 (C = 96).
        row(
            "e8-k3-t256-cf1",
            Config {
                experts: 8,
                top_k: 3,
                tokens: 256,
                d: 17,
                hidden: 33,
                capacity_factor: 1.0,
                seed: 3,
                ..base.clone()
            },
        ),
        // k = 2 of 8, dropless (cf = ∞, C = T), odd H.
        row(
            "e8-k2-t256-inf",
            Config {
                experts: 8,
                top_k: 2,
                tokens: 256,
                d: 16,
                hidden: 31,
                capacity_factor: f32::INFINITY,
                seed: 4,
                ..base.clone()
            },
        ),
        // k = 1 of E = 64 (raw-probability gate, 64 capacity workgroups), cf = 1.25 with C = 5 < T
        // (mean load 4: drops), T = 256.
        row(
            "e64-k1-t256-cf1.25",
            Config {
                experts: 64,
                top_k: 1,
                tokens: 256,
                d: 12,
                hidden: 20,
                capacity_factor: 1.25,
                seed: 5,
                ..base.clone()
            },
        ),
        // T = 4096, k = 4 of 64: T·k = 16384 priority items, 64 per thread of the capacity scan, with
        // heavy drops (cf = 0.5, C = 128 against a mean load of 256) across chunk boundaries; regions,
        // odd d and H.
        row(
            "e64-k4-t4096-regions-cf0.5",
            Config {
                dataset: Dataset::Regions,
                experts: 64,
                top_k: 4,
                tokens: 4096,
                d: 5,
                hidden: 9,
                capacity_factor: 0.5,
                // Seed 6 failed after the held-out split changed the regions pool: a rank-2 near-tie
                // (experts 31 and 38 of one token) that the GPU and CPU float orders broke differently.
                // With d = 5 the router is low-rank over 64 experts, so close probabilities are common;
                // a seed whose batch has no such tie keeps the exact comparison.
                seed: 8,
                ..base.clone()
            },
        ),
        // The experts switched off (C = 0: every assignment dropped, h = x; expert gradients exactly 0,
        // the router still learns from the balance and z losses).
        row(
            "experts-off-e8-k2-t48",
            Config { experts: 8, top_k: 2, tokens: 48, d: 12, hidden: 20, experts_off: true, seed: 7, ..base.clone() },
        ),
        // The largest model the config accepts (E = 64, k = 8, d = 128, H = 512) at T = 1024: T·k·H =
        // 4.2 M threads fold the grid into 32768 × 2 workgroups, 32 items per capacity-scan thread,
        // C = 160 (drops). One step at the largest accepted T (8192) took 13 minutes here and T = 2048
        // 2–3.5 minutes on this shared 2-core machine; `largest_t_routes_and_fills_its_buffers`
        // covers T = 8192 on its own.
        row(
            "largest-e64-k8-d128-h512-t1024",
            Config { experts: 64, top_k: 8, tokens: 1024, d: 128, hidden: 512, seed: 8, ..base.clone() },
        ),
        // A live change of k between steps: one step at k = 1, then k = 3 on the running model
        // (cf = 1: C goes from 32 to 96); the second step is compared.
        Row { name: "live-k1-to-k3", cfg: live.clone(), then: Some(Config { top_k: 3, ..live }) },
    ]
}

/// The largest T `validate()` accepts at E = 64, k = 8, H = 512: T·8·512 ≤ 128 MiB / 4.
const LARGEST_T: usize = 8192;

/// Worst relative errors of one comparison, by name.
#[derive(Default)]
struct Worst(Vec<(String, f64)>);

impl Worst {
    fn close(&mut self, label: &str, name: &str, got: &[f32], want: &[f32], tol: f64) {
        let err = close(&format!("{label}: {name}"), got, want, tol);
        self.0.push((name.to_string(), err));
    }
    fn max(&self) -> (String, f64) {
        self.0.iter().fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b.clone() } else { a })
    }
    fn line(&self) -> String {
        self.0.iter().map(|(n, e)| format!("{n} {e:.1e}")).collect::<Vec<_>>().join(", ")
    }
}

/// Run `row` on both backends: the reference of the compared step, and the GPU trainer right after it.
fn step_on_both(row: &Row) -> (Config, Cpu, moe_playground::gpu::GpuTrainer) {
    let cfg = row.cfg.clone();
    let p = Params::<f32>::random(Dims::new(&cfg), cfg.seed);
    let mut g = gpu(&cfg, &p);
    match &row.then {
        None => {
            let t0 = std::time::Instant::now();
            g.train(1);
            g.read_u32(GpuBuf::State);
            let t1 = t0.elapsed().as_secs_f64();
            let c = reference(&cfg);
            println!("{}: GPU step {t1:.1} s, reference {:.1} s", row.name, t0.elapsed().as_secs_f64() - t1);
            (cfg.clone(), c, g)
        }
        Some(next) => {
            assert!(cfg.same_structure(next), "{}: a live change only", row.name);
            let mut cpu = CpuTrainer::with_params(&cfg, p);
            cpu.train(1);
            g.train(1);
            // The first step's weights on both sides, before the change.
            let w = g.read_f32(GpuBuf::Params);
            let err = close(&format!("{}: weights after step 1", row.name), &w, &cpu.params().w, 1e-4);
            cpu.set_live(next.live()).unwrap();
            g.set_live(next.live()).unwrap();
            g.train(1);
            // The second step's gradient also from the GPU's own step-1 weights: this separates the
            // gradient kernels at the new k from the rounding of the first Adam update (which turns
            // gradients near 0 into updates of ±lr, so tiny differences there move some weights).
            let own = reference_at(next, Params { w, ..cpu.params().clone() }, 1, cpu.bias());
            let got = g.read_f32(GpuBuf::Grads);
            let mut worst = Worst::default();
            for (name, r) in own.p.layout.tensors() {
                worst.close(
                    row.name,
                    &format!("d{name} (GPU weights)"),
                    &got[r.clone()],
                    &own.bw.grads[r.clone()],
                    1e-4,
                );
            }
            let wmax = worst.max();
            println!(
                "{}: weights after step 1 within {err:.1e}; step-2 gradients from the GPU's weights: worst {} {:.1e}",
                row.name, wmax.0, wmax.1
            );
            (next.clone(), reference_at(next, cpu.params().clone(), 1, cpu.bias()), g)
        }
    }
}

/// After one GPU training step: every parameter tensor's gradient (the `grads` buffer holds the raw
/// gradient: clipping only scales it inside `adam`), the step's forward and backward buffers and
/// the loss statistics, against the reference. Tolerance 1e-4 relative (to |cpu| + RMS), integer
/// buffers exact.
fn full_step_parity(label: &str, cfg: &Config, c: &Cpu, g: &moe_playground::gpu::GpuTrainer) -> (Worst, Worst) {
    const TOL: f64 = 1e-4;
    let m = c.dims;
    let (t, kk) = (m.t, m.kmax);
    let mut grads = Worst::default();
    let got = g.read_f32(GpuBuf::Grads);
    for (name, r) in c.p.layout.tensors() {
        grads.close(label, &format!("d{name}"), &got[r.clone()], &c.bw.grads[r.clone()], TOL);
    }
    let gn = g.read_f32(GpuBuf::Gnorm);
    grads.close(label, "|g|", &gn[..1], &[grad_norm(&c.bw.grads)], TOL);
    assert_eq!(gn[2], 1.0, "{label}: the step must be applied");

    let mut bufs = Worst::default();
    for name in ["topk", "slot", "counts", "kept", "lists", "correct", "order", "rkey"] {
        let Buf::U(want) = &c.bufs[name] else { unreachable!() };
        exact(&format!("{label}: {name}"), &g.read_u32(gpu_buf(name)), want);
    }
    for name in [
        "x", "logits", "probs", "lse", "scores", "gates", "hid", "y", "h", "outp", "ce_t", "dh", "dg", "dpre", "dlog",
        "dxa", "dx",
    ] {
        let Buf::F(want) = &c.bufs[name] else { unreachable!() };
        let mut got = g.read_f32(gpu_buf(name));
        live_ranks_only(&m, name, &mut got, want);
        bufs.close(label, name, &got, want, TOL);
    }
    let st = g.read_f32(GpuBuf::Stats);
    let Buf::F(want) = &c.bufs["stats"] else { unreachable!() };
    for (i, name) in ["ce", "aux", "z", "accuracy", "loss"].iter().enumerate() {
        bufs.close(label, name, &st[i..i + 1], &want[i..i + 1], TOL);
    }
    bufs.close(label, "f", &st[8..8 + m.e], &want[8..8 + m.e], TOL);
    bufs.close(label, "P", &st[72..72 + m.e], &want[72..72 + m.e], TOL);
    // Drop counts from the GPU's slots (reported below), against the reference's.
    let slot = g.read_u32(GpuBuf::Slot);
    let (dropped, all) = routing::drop_counts(&slot, t, m.k, kk);
    assert_eq!((dropped, all), (c.fw.dropped, c.fw.all_dropped), "{label}: drop counts");
    if cfg.experts_off {
        assert_eq!(dropped as usize, t * m.k, "{label}: experts off drops every assignment");
    }
    println!(
        "{label}: T={t} d={} H={} E={} k={} C={} dropped {dropped}/{} (all-dropped tokens {all})",
        m.d,
        m.h,
        m.e,
        m.k,
        cfg.capacity(),
        t * m.k
    );
    (grads, bufs)
}

/// A matrix row end to end: (a) the full-step comparison, (b) every kernel alone.
fn check_row(name: &str) {
    let row = matrix().into_iter().find(|r| r.name == name).expect("row in the matrix");
    let start = std::time::Instant::now();
    let (cfg, c, mut g) = step_on_both(&row);
    let t_step = start.elapsed().as_secs_f64();
    let (grads, bufs) = full_step_parity(name, &cfg, &c, &g);
    println!("{name}: gradients: {}", grads.line());
    println!("{name}: buffers: {}", bufs.line());
    let t_cmp = start.elapsed().as_secs_f64();
    let k = kernel_parity(name, &cfg, &c, &mut g);
    println!(
        "{name}: time: both steps {t_step:.1} s, full-step comparison {:.1} s, per-kernel {:.1} s",
        t_cmp - t_step,
        start.elapsed().as_secs_f64() - t_cmp
    );
    let (gw, bw) = (grads.max(), bufs.max());
    println!(
        "{name}: worst gradient {} {:.2e}, worst buffer {} {:.2e}, worst single kernel {} {:.2e} ({:.1} s)",
        gw.0,
        gw.1,
        bw.0,
        bw.1,
        k.0,
        k.1,
        start.elapsed().as_secs_f64()
    );
}

/// One test per row (so rows run and fail separately); the names are checked against the matrix.
macro_rules! matrix_tests {
    ($($test:ident => $row:literal),* $(,)?) => {
        const MATRIX_TESTS: &[&str] = &[$($row),*];
        $(#[test] fn $test() { check_row($row) })*
    };
}

matrix_tests! {
    matrix_e1_k1_t16 => "e1-k1-t16",
    matrix_e2_k2_t48_regions_cf05 => "e2-k2-t48-regions-cf0.5",
    matrix_e8_k3_t256_cf1 => "e8-k3-t256-cf1",
    matrix_e8_k2_t256_inf => "e8-k2-t256-inf",
    matrix_e64_k1_t256_cf125 => "e64-k1-t256-cf1.25",
    matrix_e64_k4_t4096_regions_cf05 => "e64-k4-t4096-regions-cf0.5",
    matrix_experts_off => "experts-off-e8-k2-t48",
    matrix_largest => "largest-e64-k8-d128-h512-t1024",
    matrix_live_k1_to_k3 => "live-k1-to-k3",
}

/// The matrix covers what it claims to: every k, E, T and cf of the issue, odd d and H, both data
/// sets, the experts off, the largest accepted model and a live k change; each row has its test.
#[test]
fn matrix_covers_every_required_case() {
    let rows = matrix();
    let mut names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    let mut tests = MATRIX_TESTS.to_vec();
    names.sort();
    tests.sort();
    assert_eq!(names, tests, "every matrix row has exactly one test");
    let cfgs: Vec<&Config> = rows.iter().flat_map(|r| std::iter::once(&r.cfg).chain(r.then.as_ref())).collect();
    for c in &cfgs {
        c.validate().unwrap();
    }
    let has = |f: &dyn Fn(&Config) -> bool| cfgs.iter().any(|c| f(c));
    for k in [1, 2, 3, 4] {
        assert!(has(&|c| c.top_k == k), "k = {k}");
    }
    for e in [1, 2, 8, 64] {
        assert!(has(&|c| c.experts == e), "E = {e}");
    }
    for t in [16, 48, 256, 4096] {
        assert!(has(&|c| c.tokens == t), "T = {t}");
    }
    for cf in [0.5, 1.0, 1.25, f32::INFINITY] {
        assert!(has(&|c| c.capacity_factor == cf && !c.experts_off), "cf = {cf}");
    }
    assert!(has(&|c| c.tokens % 64 != 0), "T not a multiple of 64");
    assert!(has(&|c| c.tokens * c.top_k >= 16 * 256), "T·k far above 256");
    assert!(has(&|c| c.d % 2 == 1) && has(&|c| c.hidden % 2 == 1), "odd d and H");
    assert!(has(&|c| c.dataset == Dataset::Tokens) && has(&|c| c.dataset == Dataset::Regions), "both data sets");
    assert!(has(&|c| c.experts_off), "experts off");
    // A cf = 1.25 row where the capacity binds (C < T).
    assert!(has(&|c| c.capacity_factor == 1.25 && c.capacity() < c.tokens), "cf = 1.25 with C < T");
    let largest = |c: &Config| c.experts == 64 && c.top_k == 8 && c.d == 128 && c.hidden == 512;
    let big = cfgs.iter().find(|c| largest(c)).expect("a row at the largest sizes");
    // The largest T is covered by its own test, at this T.
    let max_t = largest_t_config();
    assert!(largest(&max_t) && max_t.validate().is_ok());
    assert!(Config { tokens: LARGEST_T + 1, ..max_t.clone() }.validate().is_err(), "T is the largest accepted");
    assert!(big.tokens < LARGEST_T);
    assert!(rows.iter().any(|r| r.then.as_ref().is_some_and(|n| n.top_k != r.cfg.top_k)), "a live change of k");
}

// ---------------------------------------------------------------------------------------------------
// Metrics: the GPU window (`metrics_accum`, `snapshot`) and the probe forward against the CPU
// trainer, and the load statistics on hand-built loads.

/// |got − want| ≤ tol·|want| (exactly equal when want is 0).
fn rel(label: &str, got: f32, want: f32, tol: f64) -> f64 {
    let err = ((got as f64) - (want as f64)).abs();
    let scaled = if want == 0.0 { err } else { err / (want as f64).abs() };
    assert!(
        scaled <= tol && !got.is_nan(),
        "{label}: gpu {got} vs cpu {want} (relative error {scaled:.3e} > {tol:.0e})"
    );
    scaled
}

/// Every field of two snapshots: counts exact, float metrics within `tol` relative; the probe's
/// routing exact, its probabilities and gates close.
fn compare_snapshots(label: &str, g: &Snapshot, c: &Snapshot, tol: f64) -> f64 {
    let ints = |s: &Snapshot| {
        (s.step, s.steps, s.updates, s.skipped, s.k, s.tokens, s.capacity, s.dropped, s.all_dropped, s.starved)
    };
    assert_eq!(ints(g), ints(c), "{label}: (step, steps, updates, skipped, k, T, C, dropped, all dropped, starved)");
    assert_eq!((g.assignments, g.eval_step), (c.assignments, c.eval_step), "{label}: assignments, eval step");
    assert!(g.eval_step > 0, "{label}: the window should hold a held-out evaluation");
    assert_eq!(g.choices, c.choices, "{label}: choices");
    assert_eq!(g.kept, c.kept, "{label}: kept");
    assert_eq!(g.domain_expert, c.domain_expert, "{label}: domain × expert");
    assert_eq!(g.dropped_random, c.dropped_random, "{label}: dropped at random");
    assert_eq!(g.bias.len(), c.bias.len(), "{label}: bias length");
    let mut worst = close(&format!("{label}: bias"), &g.bias, &c.bias, tol);
    for (name, a, b) in [
        ("ce", g.ce, c.ce),
        ("aux", g.aux, c.aux),
        ("z", g.z, c.z),
        ("accuracy", g.accuracy, c.accuracy),
        ("entropy", g.entropy, c.entropy),
        ("cv", g.cv, c.cv),
        ("max_share", g.max_share, c.max_share),
        ("eval_ce", g.eval_ce, c.eval_ce),
        ("eval_accuracy", g.eval_accuracy, c.eval_accuracy),
    ] {
        worst = worst.max(rel(&format!("{label}: {name}"), a, b, tol));
    }
    worst = worst.max(close(&format!("{label}: p_mean"), &g.p_mean, &c.p_mean, tol));
    assert_eq!(g.expert_similarity.is_some(), c.expert_similarity.is_some(), "{label}: expert similarity");
    if let (Some(a), Some(b)) = (g.expert_similarity, c.expert_similarity) {
        // A mean of cosines in [−1, 1], often near 0 (random experts): judged absolutely.
        let err = (a as f64 - b as f64).abs();
        assert!(err <= tol, "{label}: expert_similarity gpu {a} vs cpu {b} (|diff| {err:.3e} > {tol:.0e})");
        worst = worst.max(err);
    }
    let (gp, cp) = (&g.probe, &c.probe);
    assert_eq!((gp.rows, gp.experts, gp.k), (cp.rows, cp.experts, cp.k), "{label}: probe shape");
    assert_eq!(gp.topk, cp.topk, "{label}: probe topk");
    assert_eq!(gp.dropped, cp.dropped, "{label}: probe dropped");
    assert_eq!((&gp.inputs, &gp.targets, &gp.domains), (&cp.inputs, &cp.targets, &cp.domains), "{label}: probe batch");
    assert_eq!(gp.predicted, cp.predicted, "{label}: probe predictions");
    worst = worst.max(close(&format!("{label}: probe probs"), &gp.probs, &cp.probs, tol));
    worst = worst.max(close(&format!("{label}: probe gates"), &gp.gates, &cp.gates, tol));
    worst
}

/// A few steps on both backends from the same weights, two metrics windows: every Snapshot field,
/// the probe's routing included, matches the CPU trainer's.
#[test]
fn metrics_window_and_probe_match_reference() {
    // eval_every = 2: each window holds a scheduled held-out pass (after steps 2 and 4).
    let base =
        Config { tokens: 96, d: 16, hidden: 24, alpha: 0.05, beta: 0.01, lr: 1e-3, eval_every: 2, ..Config::default() };
    let cases = [
        // Drops in training (C = 24) and in the probe (C = 16 of 64 rows), k = 2.
        ("tokens-e6-k2-cf0.75", Config { experts: 6, top_k: 2, capacity_factor: 0.75, seed: 11, ..base.clone() }),
        // Regions, k = 1, capacity binding.
        (
            "regions-e4-k1-cf1",
            Config { dataset: Dataset::Regions, experts: 4, top_k: 1, capacity_factor: 1.0, seed: 12, ..base.clone() },
        ),
        // The router's own metrics: random drops (gshard-top2), the bias (aux-free).
        (
            "gshard-top2-e6",
            Config {
                router: RouterKind::from_name("gshard-top2").unwrap(),
                experts: 6,
                top_k: 2,
                seed: 13,
                ..base.clone()
            },
        ),
        (
            "aux-free-e6-k2",
            Config {
                router: RouterKind::from_name("aux-free").unwrap(),
                experts: 6,
                top_k: 2,
                capacity_factor: 0.75,
                gamma: 0.05,
                seed: 14,
                ..base
            },
        ),
    ];
    for (label, cfg) in cases {
        let p = Params::<f32>::random(Dims::new(&cfg), cfg.seed);
        let mut g = gpu(&cfg, &p);
        let mut c = CpuTrainer::with_params(&cfg, p);
        let mut drops = 0;
        for (w, steps) in [3u32, 2].into_iter().enumerate() {
            for t in [&mut g as &mut dyn Trainer, &mut c] {
                t.train(steps);
                assert!(t.request_snapshot());
            }
            let (a, b) = (g.wait_snapshot().expect("GPU snapshot"), c.wait_snapshot().expect("CPU snapshot"));
            assert_eq!(a.steps, steps, "{label}: the window holds its own steps only");
            let worst = compare_snapshots(&format!("{label} window {w}"), &a, &b, 1e-5);
            println!("{label} window {w}: snapshot worst relative error {worst:.2e}, dropped {}", a.dropped);
            drops += a.dropped + a.probe.dropped.iter().filter(|&&d| d).count() as u32;
        }
        assert!(drops > 0, "{label}: the fixture should drop assignments");
        assert_eq!(g.error(), None, "{label}: wgpu reported an error");
    }
}

/// A hand-built load (choices per expert) with its balance statistics worked out by hand:
/// (label, load, normalised entropy, cv, max share, starved).
type LoadFixture = (&'static str, Vec<u32>, f64, f64, f64, u32);

fn load_fixtures() -> Vec<LoadFixture> {
    let ln = f64::ln;
    let mut one8 = vec![0; 8];
    one8[2] = 80;
    let mut one64 = vec![0; 64];
    one64[63] = 5;
    vec![
        // Uniform: every share is fair (1/E): entropy 1, cv 0, max share 1/E, none starved.
        ("uniform E=8", vec![10; 8], 1.0, 0.0, 1.0 / 8.0, 0),
        ("uniform E=64", vec![3; 64], 1.0, 0.0, 1.0 / 64.0, 0),
        // Everything on one expert: entropy 0, max share 1, E − 1 starved; the shares deviate from
        // 1/E by (E − 1)/E once and by 1/E E − 1 times, so Σ dev² = (E − 1)/E, the standard
        // deviation is √(E − 1)/E and cv = √(E − 1).
        ("one expert of 8", one8, 0.0, 7f64.sqrt(), 1.0, 7),
        ("one expert of 64", one64, 0.0, 63f64.sqrt(), 1.0, 63),
        // Shares 0.3, 0.3, 0.36, 0.04 of 100 (E = 4, fair 0.25, a quarter of fair 0.0625): one expert
        // starved; deviations 0.05, 0.05, 0.11, −0.21, Σ dev² = 0.0612, cv = √(0.0612/4)/0.25.
        (
            "one starved of 4",
            vec![30, 30, 36, 4],
            -(2.0 * 0.3 * ln(0.3) + 0.36 * ln(0.36) + 0.04 * ln(0.04)) / ln(4.0),
            (0.0612f64 / 4.0).sqrt() / 0.25,
            0.36,
            1,
        ),
        // A share of exactly a quarter of fair (1/16 with E = 4) is not starved (the rule is strict);
        // deviations −3/16, 1/16 × 3: Σ dev² = 12/256, cv = √(3/256)/(1/4) = √3/4.
        (
            "quarter of fair share, not starved",
            vec![1, 5, 5, 5],
            -(ln(1.0 / 16.0) / 16.0 + 3.0 * 5.0 / 16.0 * ln(5.0 / 16.0)) / ln(4.0),
            3f64.sqrt() / 4.0,
            5.0 / 16.0,
            0,
        ),
        // E = 1: the one expert takes everything; entropy is defined as 1 (nothing to balance).
        ("E = 1", vec![37], 1.0, 0.0, 1.0, 0),
        // No choices at all: every share 0, entropy 0, each deviation −1/E so cv = 1, max share 0,
        // every expert below a quarter of fair.
        ("all zero", vec![0; 8], 0.0, 1.0, 0.0, 8),
    ]
}

fn check_balance(label: &str, got: (f32, f32, f32, u32), want: (f64, f64, f64, u32)) {
    let near = |name: &str, g: f32, w: f64| {
        let err = ((g as f64) - w).abs();
        assert!(err <= 1e-5 * w.abs().max(1.0), "{label}: {name} = {g}, by hand {w} (error {err:.2e})");
    };
    near("entropy", got.0, want.0);
    near("cv", got.1, want.1);
    near("max share", got.2, want.2);
    assert_eq!(got.3, want.3, "{label}: starved");
}

#[test]
fn balance_on_hand_built_loads() {
    for (label, load, ent, cv, mx, starved) in load_fixtures() {
        check_balance(&format!("cpu {label}"), balance(&load), (ent, cv, mx, starved));
    }
}

/// The GPU `snapshot` kernel on the same loads: written into the metrics window (`win_u`: [0] steps,
/// choices at 4), one snapshot, the record decoded as the trainer decodes it.
#[test]
fn snapshot_kernel_on_hand_built_loads() {
    let mut by_e: Vec<(usize, Vec<_>)> = vec![];
    for f in load_fixtures() {
        match by_e.iter_mut().find(|(e, _)| *e == f.1.len()) {
            Some((_, v)) => v.push(f),
            None => by_e.push((f.1.len(), vec![f])),
        }
    }
    for (e, fixtures) in by_e {
        let cfg = Config { experts: e, top_k: 1, tokens: 16, d: 4, hidden: 4, ..Config::default() };
        let mut g = gpu(&cfg, &Params::init(Dims::new(&cfg), 1));
        for (label, load, ent, cv, mx, starved) in fixtures {
            let mut win = vec![0u32; 4 + 128 + 4 * 64];
            win[0] = 5;
            win[4..4 + e].copy_from_slice(&load);
            g.write(GpuBuf::WinU, &win);
            g.run_kernels(&[Kernel::Snapshot], false);
            let s = Snapshot::from_record(&g.read_u32(GpuBuf::Snap), e);
            let label = format!("gpu {label}");
            assert_eq!((s.steps, &s.choices), (5, &load), "{label}: steps and choices");
            check_balance(&label, (s.entropy, s.cv, s.max_share, s.starved), (ent, cv, mx, starved));
            assert!(g.read_u32(GpuBuf::WinU).iter().all(|&w| w == 0), "{label}: the snapshot clears the window");
        }
        assert_eq!(g.error(), None, "E = {e}: wgpu reported an error");
    }
}

/// The largest model at the largest T the config accepts.
fn largest_t_config() -> Config {
    Config {
        experts: 64,
        top_k: 8,
        tokens: LARGEST_T,
        d: 128,
        hidden: 512,
        seed: 8,
        alpha: 0.05,
        beta: 0.01,
        lr: 1e-3,
        ..Config::default()
    }
}

/// The largest T (8192 at E = 64, k = 8, H = 512), where a whole step is too slow for the test suite
/// on a software rasteriser: the trainer builds (the per-assignment buffers are exactly the 128 MiB
/// binding limit), the routing part of the step (sample, embed, router, capacity: 65536 priority items,
/// 256 per scan thread) matches the reference exactly, and `ffn_hidden` (33.5 M threads, a 32768 × 16
/// workgroup grid) fills the largest buffer up to its last row, spot-checked against the reference.
#[test]
fn largest_t_routes_and_fills_its_buffers() {
    let cfg = largest_t_config();
    let dims = Dims::new(&cfg);
    let (t, d, h, e, kk) = (dims.t, dims.d, dims.h, dims.e, dims.kmax);
    let p = Params::<f32>::random(dims, cfg.seed);
    let mut g = gpu(&cfg, &p);
    g.run_kernels(
        &[
            Kernel::SampleBatch,
            Kernel::Embed,
            Kernel::Router,
            Kernel::Route,
            Kernel::DropOrder,
            Kernel::Capacity,
            Kernel::FfnHidden,
        ],
        false,
    );

    // The reference's routing of batch 0 (the router stage of `forward`, without its expert FFNs).
    let b = Pool::new(cfg.dataset, cfg.seed).batch(cfg.seed, 0, t);
    let (_, x) = moe_playground::model::forward::embed(&p, &b);
    let (l, w) = (&p.layout, &p.w);
    let mut probs = vec![0.0f32; t * e];
    let mut topk = vec![UNUSED; t * kk];
    let mut gates = vec![0.0f32; t * kk];
    for tok in 0..t {
        let logits: Vec<f32> = (0..e)
            .map(|i| {
                let mut acc = 0.0f32;
                for c in 0..d {
                    acc += w[l.wr.start + i * d + c] * x[tok * d + c];
                }
                acc
            })
            .collect();
        let (pr, _) = routing::softmax(&logits);
        let chosen = routing::top_k(&pr, dims.k);
        let gt = routing::gates(&pr, &chosen);
        topk[tok * kk..tok * kk + dims.k].copy_from_slice(&chosen);
        gates[tok * kk..tok * kk + dims.k].copy_from_slice(&gt);
        probs[tok * e..(tok + 1) * e].copy_from_slice(&pr);
    }
    let want = routing::assign(&topk, t, dims.k, kk, e, cfg.capacity());
    exact("max T: inp", &g.read_u32(GpuBuf::Inp), &b.inputs);
    close("max T: x", &g.read_f32(GpuBuf::X), &x, 1e-4);
    close("max T: probs", &g.read_f32(GpuBuf::Probs), &probs, 1e-4);
    exact("max T: topk", &g.read_u32(GpuBuf::Topk), &topk);
    close("max T: gates", &g.read_f32(GpuBuf::Gates), &gates, 1e-4);
    exact("max T: slot", &g.read_u32(GpuBuf::Slot), &want.slot);
    exact("max T: counts", &g.read_u32(GpuBuf::Counts), &want.counts);
    exact("max T: kept", &g.read_u32(GpuBuf::Kept), &want.kept);
    exact("max T: lists", &g.read_u32(GpuBuf::Lists), &want.lists);
    let (dropped, _) = routing::drop_counts(&want.slot, t, dims.k, kk);
    assert!(dropped > 0, "cf = 1.25 drops at this size");

    // hid rows of sampled assignments, the last token's included: relu(b1 + W1·x) when kept, else 0.
    let hid = g.read_f32(GpuBuf::Hid);
    assert_eq!(hid.len(), moe_playground::config::limits::MAX_BINDING_FLOATS, "hid is the largest binding");
    let n = t * kk;
    let mut sample: Vec<usize> = (0..64).map(|i| i * (n - 1) / 63).chain(n - kk..n).collect();
    sample.sort_unstable();
    sample.dedup();
    let (mut live, mut worst) = (0, 0.0f64);
    for a in sample {
        let tok = a / kk;
        let row: Vec<f32> = if want.slot[a] < UNUSED {
            live += 1;
            let ex = topk[a] as usize;
            (0..h)
                .map(|j| {
                    let mut acc = w[l.b1.start + ex * h + j];
                    for c in 0..d {
                        acc += w[l.w1.start + (ex * h + j) * d + c] * x[tok * d + c];
                    }
                    acc.max(0.0)
                })
                .collect()
        } else {
            vec![0.0; h]
        };
        worst = worst.max(close(&format!("max T: hid[{a}]"), &hid[a * h..(a + 1) * h], &row, 1e-4));
    }
    assert!(live > 0, "some sampled assignments are kept");
    assert_eq!(g.error(), None, "wgpu reported an error");
    println!("max T = {t}: routing exact, {dropped} dropped; hid spot check ({live} kept rows) worst {worst:.2e}");
}
