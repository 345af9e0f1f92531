//! The uniform block (shaders/common.wgsl `struct U`), built from the config: the only thing the
//! CPU writes between steps, and only when a knob changes. build.rs generates the struct from the
//! WGSL (fields, types, order and docs; offsets and size checked at compile time); this file fills it.
use crate::config::Config;
use crate::model::{Dims, Layout};
use bytemuck::{Pod, Zeroable};

include!(concat!(env!("OUT_DIR"), "/uniforms.rs"));

impl Uniforms {
    /// Uniforms for a batch of `rows` tokens (T for training and evaluation, 64 for the probe);
    /// `probe`: 0 training, 1 the probe batch, 2 held-out evaluation (`sample_batch` reads it).
    pub fn new(cfg: &Config, dims: &Dims, layout: &Layout, pool_n: usize, rows: usize, probe: u32) -> Uniforms {
        Uniforms {
            t: rows as u32,
            d: dims.d as u32,
            h: dims.h as u32,
            e: dims.e as u32,
            k: cfg.routed_k() as u32,
            kmax: dims.kmax as u32,
            v: dims.v as u32,
            cap: cfg.capacity_for(rows) as u32,
            tokens: dims.tokens as u32,
            pool_n: pool_n as u32,
            seed: cfg.seed,
            router: cfg.router.id(),
            probe,
            n_params: layout.total as u32,
            clip_on: cfg.grad_clip.is_some() as u32,
            n_dom: crate::metrics::NDOM as u32,
            alpha: cfg.alpha_effective(),
            beta: cfg.beta,
            lr: cfg.lr,
            b1: cfg.adam_beta1,
            b2: cfg.adam_beta2,
            eps: cfg.adam_eps,
            clip: cfg.grad_clip.unwrap_or(0.0),
            rows: rows as u32,
            o_emb: layout.emb.start as u32,
            o_win: layout.w_in.start as u32,
            o_bin: layout.b_in.start as u32,
            o_wr: layout.wr.start as u32,
            o_w1: layout.w1.start as u32,
            o_b1: layout.b1.start as u32,
            o_w2: layout.w2.start as u32,
            o_b2: layout.b2.start as u32,
            o_wo: layout.wo.start as u32,
            o_bo: layout.bo.start as u32,
            eval_n: crate::data::EVAL_N as u32,
            policy: cfg.drop_policy.id(),
            gamma: cfg.gamma,
            o_wn: layout.wn.start as u32,
            balance: cfg.balance.id(),
            smooth_load: cfg.router.info().smooth_load as u32,
            n_shared: dims.shared as u32,
            ranks: (cfg.routed_k() + dims.shared) as u32,
            cap_shared: crate::model::routing::shared_capacity(cfg.capacity_for(rows), rows) as u32,
            mix: cfg.competitive() as u32,
        }
    }
}
