// Shared by every kernel family: the uniform block, every buffer binding (by name; build.rs reflects
// which ones each entry point uses), the PCG hash and small helpers.
// Shapes: T tokens (rows), d width, H expert hidden, E experts, K = k_max ranks per token, V classes.

// The uniform block: the only thing the CPU writes between steps, and only when a knob changes.
// build.rs generates the Rust `Uniforms` (src/gpu/uniforms.rs) from this struct: field names, types
// and order, with these `///` comments as its docs.
struct U {
    /// Rows of this batch: T for training and evaluation, 64 for the probe.
    t: u32,
    /// Model width d.
    d: u32,
    /// Expert hidden width H.
    h: u32,
    /// Routed experts E.
    e: u32,
    /// Routed ranks per token: the live k (at most `kmax`).
    k: u32,
    /// Ranks the [T, K] buffers hold per token (K).
    kmax: u32,
    /// Output classes V.
    v: u32,
    /// Capacity per expert for this batch's rows (rows when dropless).
    cap: u32,
    /// Tokens per training batch (the config's T).
    tokens: u32,
    /// Training examples in `pool` (the held-out ones follow).
    pool_n: u32,
    /// The run's seed.
    seed: u32,
    /// The router unit (`RouterKind::id`: its position in shaders/routers/).
    router: u32,
    /// 0 training, 1 the probe batch, 2 held-out evaluation (`sample_batch` reads it).
    probe: u32,
    /// Parameters in `params` (and `grads`, `adam_m`, `adam_v`).
    n_params: u32,
    /// 1 when the gradient norm is clipped at `clip`.
    clip_on: u32,
    /// Domains per data set (`metrics::NDOM`).
    n_dom: u32,
    /// The balance-loss weight the step uses: α, or 0 with `balance = none`.
    alpha: f32,
    /// The router z-loss's weight β.
    beta: f32,
    /// Adam's learning rate.
    lr: f32,
    /// Adam's β1.
    b1: f32,
    /// Adam's β2.
    b2: f32,
    /// Adam's ε.
    eps: f32,
    /// The gradient-norm clip (0 without one).
    clip: f32,
    /// Rows of this batch (as `t`).
    rows: u32,
    /// Offset in `params` of the token embedding (`Layout`).
    o_emb: u32,
    /// Offset in `params` of the input projection (regions) (`Layout`).
    o_win: u32,
    /// Offset in `params` of its bias (`Layout`).
    o_bin: u32,
    /// Offset in `params` of the router W_r (`Layout`).
    o_wr: u32,
    /// Offset in `params` of the experts' W1 (`Layout`).
    o_w1: u32,
    /// Offset in `params` of the experts' b1 (`Layout`).
    o_b1: u32,
    /// Offset in `params` of the experts' W2 (`Layout`).
    o_w2: u32,
    /// Offset in `params` of the experts' b2 (`Layout`).
    o_b2: u32,
    /// Offset in `params` of the output head W_o (`Layout`).
    o_wo: u32,
    /// Offset in `params` of the output head's bias (`Layout`).
    o_bo: u32,
    /// Examples in the held-out evaluation set (they follow the training examples in `pool`).
    eval_n: u32,
    /// The drop policy (`DropPolicy::id`).
    policy: u32,
    /// The aux-free router's bias step γ.
    gamma: f32,
    /// Offset in `params` of the noisy router's W_noise (`Layout`).
    o_wn: u32,
    /// The balance loss (`Balance::id`).
    balance: u32,
    /// 1 when the router gives cv2 a smooth load estimate (RouterInfo::smooth_load).
    smooth_load: u32,
    /// Shared experts N (experts e..e + N, ranks k..k + N of every token).
    n_shared: u32,
    /// Live ranks per token: the routed k, then the shared experts.
    ranks: u32,
    /// A shared expert's capacity: T, or 0 with the experts off.
    cap_shared: u32,
    /// 1 with the competitive mixture loss (`Config::competitive`).
    mix: u32,
}

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> pool: array<u32>;        // [N + eval_n, 6]: training, then held-out examples
@group(0) @binding(2) var<storage, read> probe_pool: array<u32>;  // [64, 6]
@group(0) @binding(3) var<storage, read_write> state: array<u32>; // [0] steps [1] skipped [3] updates; ST_EVAL_*
@group(0) @binding(4) var<storage, read_write> inp: array<u32>;   // [T, 4]
@group(0) @binding(5) var<storage, read_write> tgt: array<u32>;   // [T]
@group(0) @binding(6) var<storage, read_write> dom: array<u32>;   // [T]
@group(0) @binding(7) var<storage, read_write> params: array<f32>;
@group(0) @binding(8) var<storage, read_write> grads: array<f32>;
@group(0) @binding(9) var<storage, read_write> adam_m: array<f32>;
@group(0) @binding(10) var<storage, read_write> adam_v: array<f32>;
@group(0) @binding(11) var<storage, read_write> x0: array<f32>;     // [T, d]
@group(0) @binding(12) var<storage, read_write> x: array<f32>;      // [T, d]
@group(0) @binding(13) var<storage, read_write> logits: array<f32>; // [T, E]
@group(0) @binding(14) var<storage, read_write> probs: array<f32>;  // [T, E]
@group(0) @binding(15) var<storage, read_write> lse: array<f32>;    // [T]
@group(0) @binding(16) var<storage, read_write> topk: array<u32>;   // [T, K]
@group(0) @binding(17) var<storage, read_write> gates: array<f32>;  // [T, K]
@group(0) @binding(18) var<storage, read_write> slot: array<u32>;   // [T, K]
@group(0) @binding(19) var<storage, read_write> counts: array<u32>; // [E + shared]
@group(0) @binding(20) var<storage, read_write> kept: array<u32>;   // [E + shared]
@group(0) @binding(21) var<storage, read_write> lists: array<u32>;  // [E + shared, T]
@group(0) @binding(22) var<storage, read_write> hid: array<f32>;    // [T·K, H]
@group(0) @binding(23) var<storage, read_write> y: array<f32>;      // [T·K, d]
@group(0) @binding(24) var<storage, read_write> h: array<f32>;      // [T, d]
@group(0) @binding(25) var<storage, read_write> outp: array<f32>;   // [T, V]
@group(0) @binding(26) var<storage, read_write> ce_t: array<f32>;   // [T]
@group(0) @binding(27) var<storage, read_write> correct: array<u32>; // [T]
@group(0) @binding(28) var<storage, read_write> dout: array<f32>;   // [T, V]
@group(0) @binding(29) var<storage, read_write> stats: array<f32>;  // see STATS_* below
@group(0) @binding(30) var<storage, read_write> dh: array<f32>;     // [T, d]
@group(0) @binding(31) var<storage, read_write> dg: array<f32>;     // [T, K]
@group(0) @binding(32) var<storage, read_write> dpre: array<f32>;   // [T·K, H]
@group(0) @binding(33) var<storage, read_write> dlog: array<f32>;   // [T, E]
@group(0) @binding(34) var<storage, read_write> dx: array<f32>;     // [T, d]
@group(0) @binding(35) var<storage, read_write> gnorm: array<f32>;  // [0] norm [1] scale [2] ok
@group(0) @binding(36) var<storage, read_write> win_f: array<f32>;  // metrics window, float sums
@group(0) @binding(37) var<storage, read_write> win_u: array<u32>;  // metrics window, counts
@group(0) @binding(38) var<storage, read_write> snap: array<u32>;   // metrics snapshot record
@group(0) @binding(39) var<storage, read_write> rkey: array<u32>;   // [T, 2] hash key, random draw
@group(0) @binding(40) var<storage, read_write> scores: array<f32>; // [T, E] what the top-k chose on
@group(0) @binding(41) var<storage, read_write> order: array<u32>;  // [T] the drop policy's token order
@group(0) @binding(42) var<storage, read_write> rstate: array<f32>; // router units: see RS_* below
// The competitive mixture loss (dense mixture only; one word otherwise): each routed assignment's
// own output logits, their gradient, and d loss / d (h + y) per routed assignment.
@group(0) @binding(43) var<storage, read_write> outm: array<f32>;   // [T·K, V]
@group(0) @binding(44) var<storage, read_write> doutm: array<f32>;  // [T·K, V]
@group(0) @binding(45) var<storage, read_write> dhm: array<f32>;    // [T·K, d]
@group(0) @binding(46) var<storage, read_write> dxa: array<f32>;    // [T·K, d] each assignment's part of dx

const WG: u32 = 64u;
const CTX: u32 = 4u;
const EXW: u32 = 6u;
const NDOM: u32 = 4u;
const MAXE: u32 = 64u;
const DROPPED: u32 = 0xffffffffu;
const UNUSED: u32 = 0xfffffffeu;
const RANDOM: u32 = 0xfffffffdu;
const UNPICKED: u32 = 0xfffffffcu;
// stats: [0] ce [1] aux [2] z [3] accuracy [4] total loss; f_i at 8, P_i at 8 + 64.
const ST_F: u32 = 8u;
const ST_P: u32 = 72u;
// cv2 balance (balance_reduce): importance and load per expert, and α·d CV² / d each.
const ST_IMP: u32 = 136u;
const ST_LOAD: u32 = 200u;
const ST_DIMP: u32 = 264u;
const ST_DLOAD: u32 = 328u;
const BAL_SWITCH: u32 = 0u;
const BAL_CV2: u32 = 2u;
// rstate: the router's per-expert bias (aux-free; kept across steps) in its first RS_BIAS words, then
// RS_PARTS parts of [T, E] (part RS_x at RS_BIAS + RS_x·T·E), then [T] words. src/gpu/trainer.rs
// sizes and slices it with these constants (crate::wgsl::common).
const RS_BIAS: u32 = 64u;
// Per token row the noise logits x·W_noise, their gradient, and the unit's direct part of d loss / d logits.
const RS_NLOG: u32 = 0u;
const RS_DN: u32 = 1u;
const RS_DL: u32 = 2u;
// The noisy router's ε, its smooth load estimate P(t, e) and that estimate's argument z.
const RS_EPS: u32 = 3u;
const RS_PLOAD: u32 = 4u;
const RS_PZ: u32 = 5u;
// The competitive mixture's posterior of each expert.
const RS_POST: u32 = 6u;
const RS_PARTS: u32 = 7u;
fn rs_nlog(t: u32, e: u32) -> u32 { return RS_BIAS + (RS_NLOG * u.t + t) * u.e + e; }
fn rs_dn(t: u32, e: u32) -> u32 { return RS_BIAS + (RS_DN * u.t + t) * u.e + e; }
fn rs_dl(t: u32, e: u32) -> u32 { return RS_BIAS + (RS_DL * u.t + t) * u.e + e; }
fn rs_eps(t: u32, e: u32) -> u32 { return RS_BIAS + (RS_EPS * u.t + t) * u.e + e; }
fn rs_pload(t: u32, e: u32) -> u32 { return RS_BIAS + (RS_PLOAD * u.t + t) * u.e + e; }
fn rs_pz(t: u32, e: u32) -> u32 { return RS_BIAS + (RS_PZ * u.t + t) * u.e + e; }
fn rs_post(t: u32, e: u32) -> u32 { return RS_BIAS + (RS_POST * u.t + t) * u.e + e; }
// [T] after the parts: the expert of the (k+1)-th largest noisy score (u32 bits).
fn rs_next(t: u32) -> u32 { return RS_BIAS + RS_PARTS * u.t * u.e + t; }
// state words of the held-out evaluation: the running pass (chunk, CE sum as f32 bits, correct
// count) and its last result (CE mean and accuracy as f32 bits, the training step it followed).
const ST_EVAL_CHUNK: u32 = 4u;
const ST_EVAL_CE: u32 = 5u;
const ST_EVAL_OK: u32 = 6u;
const ST_EVAL_MEAN: u32 = 7u;
const ST_EVAL_ACC: u32 = 8u;
const ST_EVAL_STEP: u32 = 9u;
// Words of `state` (the last two spare; src/gpu/trainer.rs sizes the buffer with it).
const ST_WORDS: u32 = 12u;

// PCG output hash (bit-identical to crate::rng::hash).
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Register blocking (shaders/expert_ffn.wgsl, the head kernels): each invocation computes B outputs
// of one row, so every weight it reads has the same address in the whole workgroup (one load,
// broadcast; on CPU adapters a scalar load instead of a gather) and each per-invocation read feeds
// B multiply-adds held in registers. src/gpu/kernels.rs FFN_BLOCK is the same number.
const B: u32 = 16u;

// The workgroup's index in the folded 1-D grid (see `flat`): uniform in the workgroup.
fn group_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

// Workgroups of T rows (token rows, or an expert's kept slots): T rounded up to the workgroup size.
fn slot_groups() -> u32 {
    return (u.t + WG - 1u) / WG;
}

// Slots an expert may keep (the expert kernels' grids cover this many per expert): the capacity C
// (T when dropless), T when there are shared experts. src/gpu/kernels.rs `expert_slots` is its twin.
fn expert_slots() -> u32 {
    return select(u.cap, max(u.cap, u.cap_shared), u.n_shared > 0u);
}

// Linear thread index of a 1-D problem dispatched as a 2-D grid of 64-wide workgroups.
fn flat(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + li;
}

fn is_finite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

// An assignment is live when it was chosen (r < ranks), picked (expert choice), not dropped at
// random and kept (not over capacity).
fn live(s: u32) -> bool {
    return s < UNPICKED;
}

// A chosen assignment that contributes nothing: over capacity or dropped at random.
fn is_dropped(s: u32) -> bool {
    return s == DROPPED || s == RANDOM;
}
