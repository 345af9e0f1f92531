//! The uniform block (shaders/common.wgsl `struct U`), built from the config: the only thing the
//! CPU writes between steps, and only when a knob changes.
use crate::config::Config;
use crate::model::{Dims, Layout};
use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct Uniforms {
    pub t: u32,
    pub d: u32,
    pub h: u32,
    pub e: u32,
    pub k: u32,
    pub kmax: u32,
    pub v: u32,
    pub cap: u32,
    pub tokens: u32,
    pub pool_n: u32,
    pub seed: u32,
    pub router: u32,
    pub probe: u32,
    pub n_params: u32,
    pub clip_on: u32,
    pub n_dom: u32,
    pub alpha: f32,
    pub beta: f32,
    pub lr: f32,
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    pub clip: f32,
    pub rows: u32,
    pub o_emb: u32,
    pub o_win: u32,
    pub o_bin: u32,
    pub o_wr: u32,
    pub o_w1: u32,
    pub o_b1: u32,
    pub o_w2: u32,
    pub o_b2: u32,
    pub o_wo: u32,
    pub o_bo: u32,
    /// Examples in the held-out evaluation set (they follow the training examples in `pool`).
    pub eval_n: u32,
    /// The drop policy (`DropPolicy::id`).
    pub policy: u32,
    /// The aux-free router's bias step γ.
    pub gamma: f32,
    pub o_wn: u32,
    /// The balance loss (`Balance::id`).
    pub balance: u32,
    /// 1 when the router gives cv2 a smooth load estimate (RouterInfo::smooth_load).
    pub smooth_load: u32,
    /// Shared experts N (experts e..e + N, ranks k..k + N of every token).
    pub n_shared: u32,
    /// Live ranks per token: the routed k, then the shared experts.
    pub ranks: u32,
    /// A shared expert's capacity: T, or 0 with the experts off.
    pub cap_shared: u32,
    /// 1 with the competitive mixture loss (`Config::competitive`).
    pub mix: u32,
}

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
