//! The kernel table, reflected from shaders/*.wgsl by build.rs (naga): entry point, workgroup size
//! and which named buffers it binds. The step order and each kernel's grid live here too.
use crate::model::Dims;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindKind {
    Uniform,
    StorageRead,
    StorageRw,
}

#[derive(Clone, Copy, Debug)]
pub struct Bind {
    pub binding: u32,
    pub name: &'static str,
    pub kind: BindKind,
}

#[derive(Clone, Copy, Debug)]
pub struct KernelInfo {
    pub family: &'static str,
    pub entry: &'static str,
    pub workgroup_size: [u32; 3],
    pub bindings: &'static [Bind],
}

include!(concat!(env!("OUT_DIR"), "/kernels.rs"));

/// WGSL source of a family: shaders/common.wgsl followed by shaders/<family>.wgsl.
pub fn source(family: &str) -> Option<String> {
    FAMILIES.iter().find(|(f, _)| *f == family).map(|(_, body)| format!("{COMMON}\n{body}"))
}

/// The shaders' id of router unit `name` (its position in shaders/routers/); a registered router
/// without a WGSL unit is a build mistake that `tests/shaders.rs` reports.
pub fn router_id(name: &str) -> u32 {
    ROUTER_UNITS.iter().position(|n| *n == name).unwrap_or(u32::MAX as usize) as u32
}

impl crate::config::RouterKind {
    /// The id the shaders switch on (the position of its WGSL unit in shaders/routers/). Defined
    /// here, with the shader table, rather than in the config, which sits below the GPU code.
    pub fn id(self) -> u32 {
        router_id(self.name())
    }
}

pub fn info(entry: &str) -> Option<&'static KernelInfo> {
    KERNELS.iter().find(|k| k.entry == entry)
}

/// One training step, in order: forward, loss, backward, optimiser, metrics.
pub const STEP: &[&str] = &[
    "sample_batch",
    "embed",
    "router",
    "route",
    "drop_order",
    "capacity",
    "ffn_hidden",
    "ffn_out",
    "combine",
    "head_mix",
    "head",
    "loss_token",
    "loss_reduce",
    "balance_reduce",
    "mix_grad",
    "head_wgrad",
    "head_dx",
    "gate_grad",
    "ffn_dhidden",
    "ffn_wgrad2",
    "ffn_wgrad1",
    "route_grad",
    "router_grad",
    "router_wgrad",
    "ffn_dx",
    "input_grad",
    "embed_grad",
    "grad_norm",
    "adam",
    "route_update",
    "metrics_accum",
    "advance",
];

/// Closing a metrics window: the snapshot record, then the expert similarity written into it.
pub const SNAPSHOT: &[&str] = &["snapshot", "expert_similarity"];

/// The forward pass of one batch, up to the output head: run with the probe uniforms after a
/// snapshot, and with the evaluation uniforms for each chunk of the held-out pass.
pub const FORWARD: &[&str] = &[
    "sample_batch",
    "embed",
    "router",
    "route",
    "drop_order",
    "capacity",
    "ffn_hidden",
    "ffn_out",
    "combine",
    "head_mix",
    "head",
];

/// After each evaluation chunk's `FORWARD`: the per-token loss and the chunk's sums.
pub const EVAL_SCORE: &[&str] = &["loss_token", "eval_accum"];

/// Outputs per invocation of the expert kernels (`B` in shaders/expert_ffn.wgsl).
pub const FFN_BLOCK: usize = 16;

/// Weights each invocation of `adam` updates (`ADAM_PER` in shaders/adam.wgsl).
pub const ADAM_PER: usize = 16;

/// What a kernel's grid covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// One invocation per element (64-wide workgroups).
    Threads(usize),
    /// This many workgroups (kernels with their own workgroup-level reduction).
    Groups(u32),
}

/// The grid of `entry` for dims `m` (with `m.t` rows and the live `m.k`) and `n_params` parameters.
pub fn grid(entry: &str, m: &Dims, n_params: usize, slots: usize) -> Grid {
    let (t, d, h, e, kk, v) = (m.t, m.d, m.h, m.e, m.kmax, m.v);
    // Live ranks (routed k, then the shared experts) and experts with weights.
    let (k, x) = (m.ranks(), m.n_experts());
    Grid::Threads(match entry {
        "sample_batch" | "router" | "route" | "drop_order" | "route_grad" | "router_grad" | "loss_token" => t,
        // The competitive mixture's kernels do nothing without it (one workgroup that returns).
        "head_mix" => {
            if m.mix {
                t * m.k * v
            } else {
                0
            }
        }
        "mix_grad" => {
            if m.mix {
                t
            } else {
                0
            }
        }
        "route_update" => e,
        // B channels per invocation.
        "embed" | "combine" => t * d.div_ceil(FFN_BLOCK),
        // Blocked like the expert kernels: FFN_BLOCK outputs per invocation, one invocation per row.
        "head" => v.div_ceil(FFN_BLOCK) * t.next_multiple_of(64),
        "head_dx" | "input_grad" => d.div_ceil(FFN_BLOCK) * t.next_multiple_of(64),
        "head_wgrad" => d.div_ceil(FFN_BLOCK) * v.next_multiple_of(64),
        "embed_grad" => crate::data::CTX * d,
        "router_wgrad" => e * d,
        "gate_grad" => t * kk,
        // The expert kernels (shaders/expert_ffn.wgsl): per expert, one invocation per tile of 4
        // slots × 4 outputs (rounded up to whole workgroups); then one per live-rank row (rows of
        // ranks ≥ k are never read) to zero the rows no expert kept.
        // `slots` ([`expert_slots`]) per expert, not T: at cf = 1.25, E = 8, k = 1 that is 40 of 256.
        "ffn_hidden" => x * (slots.div_ceil(4) * h.div_ceil(4)).next_multiple_of(64) + t * k,
        // ffn_dhidden: per expert, per block of FFN_BLOCK hidden units, one invocation per slot.
        "ffn_dhidden" => x * h.div_ceil(FFN_BLOCK) * slots.next_multiple_of(64) + t * k,
        "ffn_out" | "ffn_dx" => x * (slots.div_ceil(4) * d.div_ceil(4)).next_multiple_of(64) + t * k,
        // Per expert, one invocation per 4×4 tile of W1 or W2 (rounded up to whole workgroups).
        "ffn_wgrad2" | "ffn_wgrad1" => x * (d.div_ceil(4) * h.div_ceil(4)).next_multiple_of(64),
        "adam" => n_params.div_ceil(ADAM_PER),
        "capacity" => return Grid::Groups(x as u32),
        "balance_reduce" => return Grid::Groups(1),
        _ => return Grid::Groups(1),
    })
}

/// Slots an expert may keep in a batch of `rows` tokens: the capacity (`rows` when dropless), `rows`
/// when there are shared experts (their capacity). The expert kernels' grids cover this many per
/// expert; `expert_slots()` in shaders/common.wgsl is the twin.
pub fn expert_slots(cfg: &crate::config::Config, shared: usize, rows: usize) -> usize {
    let cap = cfg.capacity_for(rows);
    if shared > 0 {
        cap.max(crate::model::routing::shared_capacity(cap, rows))
    } else {
        cap
    }
}

/// Workgroup counts (x, y) for a grid: a 1-D problem folded into 2-D so no dimension exceeds
/// WebGPU's 65535 limit (kernels rebuild the index with `flat()`).
pub fn workgroups(g: &Grid) -> (u32, u32) {
    match g {
        Grid::Groups(n) => (*n, 1),
        Grid::Threads(n) => {
            let groups = n.div_ceil(64).max(1) as u32;
            let x = groups.min(32768);
            (x, groups.div_ceil(x))
        }
    }
}
