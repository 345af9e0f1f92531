//! The kernel table, reflected from shaders/*.wgsl by build.rs (naga): the [`Kernel`] enum (one
//! variant per entry point), each one's workgroup size and the buffers ([`Buf`]) it binds. The step
//! order and each kernel's grid live here too.
pub use super::buffers::Buf;
use crate::model::Dims;
use Kernel as K;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindKind {
    Uniform,
    StorageRead,
    StorageRw,
}

#[derive(Clone, Copy, Debug)]
pub struct Bind {
    pub binding: u32,
    /// The WGSL variable's name.
    pub name: &'static str,
    /// Its buffer; None for the uniform block (one per [`Mode`](super::trainer::Mode)).
    pub buf: Option<Buf>,
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

impl Kernel {
    /// Its entry in the kernel table.
    pub const fn info(self) -> &'static KernelInfo {
        &KERNELS[self as usize]
    }

    /// Its WGSL entry point.
    pub const fn name(self) -> &'static str {
        self.info().entry
    }

    /// The kernel of this entry point (tests name kernels by their CPU twins' names).
    pub fn named(entry: &str) -> Option<Kernel> {
        Kernel::ALL.iter().copied().find(|k| k.name() == entry)
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One training step, in order: forward, loss, backward, optimiser, metrics.
pub const STEP: &[Kernel] = &[
    K::SampleBatch,
    K::Embed,
    K::Router,
    K::Route,
    K::DropOrder,
    K::Capacity,
    K::FfnHidden,
    K::FfnOut,
    K::Combine,
    K::HeadMix,
    K::Head,
    K::LossToken,
    K::LossReduce,
    K::BalanceReduce,
    K::MixGrad,
    K::HeadWgrad,
    K::HeadDx,
    K::GateGrad,
    K::FfnDhidden,
    K::FfnWgrad2,
    K::FfnWgrad1,
    K::RouteGrad,
    K::RouterGrad,
    K::RouterWgrad,
    K::FfnDx,
    K::InputGrad,
    K::EmbedGrad,
    K::GradNorm,
    K::Adam,
    K::RouteUpdate,
    K::MetricsAccum,
    K::Advance,
];

/// Closing a metrics window: the snapshot record, then the expert similarity written into it.
pub const SNAPSHOT: &[Kernel] = &[K::Snapshot, K::ExpertSimilarity];

/// The forward pass of one batch, up to the output head (the step's first 11 kernels, through
/// `Head`): run with the probe uniforms after a snapshot, and with the evaluation uniforms for
/// each chunk of the held-out pass.
pub const FORWARD: &[Kernel] = STEP.split_at(11).0;
const _: () = assert!(matches!(FORWARD[FORWARD.len() - 1], K::Head), "FORWARD ends at the output head");

/// After each evaluation chunk's `FORWARD`: the per-token loss and the chunk's sums.
pub const EVAL_SCORE: &[Kernel] = &[K::LossToken, K::EvalAccum];

/// Outputs per invocation of the expert kernels (`B` in shaders/common.wgsl).
pub const FFN_BLOCK: usize = super::wgsl::common::B as usize;

/// Weights each invocation of `adam` updates (`ADAM_PER` in shaders/adam.wgsl).
pub const ADAM_PER: usize = super::wgsl::adam::ADAM_PER as usize;

/// What a kernel's grid covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// One invocation per element (64-wide workgroups).
    Threads(usize),
    /// This many workgroups (kernels with their own workgroup-level reduction).
    Groups(u32),
}

/// The grid of `entry` for dims `m` (with `m.t` rows and the live `m.k`) and `n_params` parameters.
pub fn grid(entry: Kernel, m: &Dims, n_params: usize, slots: usize) -> Grid {
    let (t, d, h, e, kk, v) = (m.t, m.d, m.h, m.e, m.kmax, m.v);
    // Live ranks (routed k, then the shared experts) and experts with weights.
    let (k, x) = (m.ranks(), m.n_experts());
    Grid::Threads(match entry {
        K::SampleBatch | K::Router | K::Route | K::DropOrder | K::RouteGrad | K::RouterGrad | K::LossToken => t,
        // The competitive mixture's kernels do nothing without it (one workgroup that returns).
        K::HeadMix => {
            if m.mix {
                t * m.k * v
            } else {
                0
            }
        }
        K::MixGrad => {
            if m.mix {
                t
            } else {
                0
            }
        }
        K::RouteUpdate => e,
        // B channels per invocation.
        K::Embed | K::Combine => t * d.div_ceil(FFN_BLOCK),
        // Blocked like the expert kernels: FFN_BLOCK outputs per invocation, one invocation per row.
        K::Head => v.div_ceil(FFN_BLOCK) * t.next_multiple_of(64),
        K::HeadDx | K::InputGrad => d.div_ceil(FFN_BLOCK) * t.next_multiple_of(64),
        K::HeadWgrad => d.div_ceil(FFN_BLOCK) * v.next_multiple_of(64),
        K::EmbedGrad => crate::data::CTX * d,
        K::RouterWgrad => e * d,
        K::GateGrad => t * kk,
        // The expert kernels (shaders/expert_ffn.wgsl): per expert, one invocation per tile of 4
        // slots × 4 outputs (rounded up to whole workgroups); then one per live-rank row (rows of
        // ranks ≥ k are never read) to zero the rows no expert kept.
        // `slots` ([`expert_slots`]) per expert, not T: at cf = 1.25, E = 8, k = 1 that is 40 of 256.
        K::FfnHidden => x * (slots.div_ceil(4) * h.div_ceil(4)).next_multiple_of(64) + t * k,
        // ffn_dhidden: per expert, per block of FFN_BLOCK hidden units, one invocation per slot.
        K::FfnDhidden => x * h.div_ceil(FFN_BLOCK) * slots.next_multiple_of(64) + t * k,
        K::FfnOut | K::FfnDx => x * (slots.div_ceil(4) * d.div_ceil(4)).next_multiple_of(64) + t * k,
        // Per expert, one invocation per 4×4 tile of W1 or W2 (rounded up to whole workgroups).
        K::FfnWgrad2 | K::FfnWgrad1 => x * (d.div_ceil(4) * h.div_ceil(4)).next_multiple_of(64),
        K::Adam => n_params.div_ceil(ADAM_PER),
        K::Capacity => return Grid::Groups(x as u32),
        K::BalanceReduce => return Grid::Groups(1),
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
