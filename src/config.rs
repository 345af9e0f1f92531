//! Every knob of the model in one struct, validated, and (de)serialised to a URL query / CLI flags.
//! What each key is (label, help, range, live or structural) is in the table `KNOBS` of the knobs
//! module (src/knobs.rs, one layer up): `set`, `get`, `validate` and the URL are defined there, as
//! methods of [`Config`], because they come from that table.
//!
//! Bad values never panic: `Config::validate` and `Config::set` return a [`ConfigError`] that names the
//! field, the value and the allowed range. `Config::from_query_lenient` turns any URL into a valid
//! config plus notices saying what was fixed (the page's "safe state").
use serde::{Deserialize, Serialize};
use std::fmt;

mod routers;
pub use routers::{RouterInfo, ROUTERS};

/// Which procedurally generated data set the model trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// Next-character prediction on a stream mixing four domains (arithmetic, words, DNA, code).
    Tokens,
    /// Binary classification of 2-D points; each quadrant has its own labelling rule.
    Regions,
}

/// Every character the tokens data set's stream uses; a token id is its index here. It is in the
/// config because [`Config::vocab`] sizes the model's output from it (data::tokens re-exports it).
pub const VOCAB: &str = "0123456789+-*=; aeiouklmnprstcgACGT()[]{}fhxyzw";

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Tokens => "tokens",
            Dataset::Regions => "regions",
        }
    }
}

/// The router: an index into the registry [`ROUTERS`] (one entry per router: what it is; its CPU
/// twin is in src/model/routers/, its WGSL in shaders/routers/). Serialised by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RouterKind(pub u8);

impl RouterKind {
    /// The router named `name` (its CLI/URL value), if registered.
    pub fn from_name(name: &str) -> Option<RouterKind> {
        ROUTERS.iter().position(|r| r.name == name).map(|i| RouterKind(i as u8))
    }
    /// Every registered router, in registry order.
    pub fn all() -> impl Iterator<Item = RouterKind> {
        (0..ROUTERS.len()).map(|i| RouterKind(i as u8))
    }
    pub fn info(self) -> &'static RouterInfo {
        &ROUTERS[self.0 as usize]
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

impl Serialize for RouterKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for RouterKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RouterKind, D::Error> {
        let name = String::deserialize(d)?;
        RouterKind::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown router {name:?}")))
    }
}

/// The balance loss added to the cross-entropy with weight α.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Balance {
    /// Switch Transformer: aux = E·Σ f_i·P_i (1 for uniform routing).
    #[default]
    Switch,
    /// No balance loss (α has no effect).
    None,
    /// Shazeer et al. 2017: α·CV(importance)² + α·CV(load)², importance_i = Σ_tokens gate_i, load_i =
    /// the paper's smooth estimator Σ_tokens Φ((clean_i − kth-largest noisy score excluding i) /
    /// noise_std_i) for the noisy router, the count of assignments (no gradient) for the others;
    /// CV² with the population variance.
    Cv2,
}

impl Balance {
    pub const ALL: &'static [Balance] = &[Balance::Switch, Balance::Cv2, Balance::None];
    pub fn name(self) -> &'static str {
        match self {
            Balance::Switch => "switch",
            Balance::None => "none",
            Balance::Cv2 => "cv2",
        }
    }
    pub fn from_name(name: &str) -> Option<Balance> {
        Self::ALL.iter().copied().find(|b| b.name() == name)
    }
    /// The page's menu entry.
    pub fn label(self) -> &'static str {
        match self {
            Balance::Switch => "Switch (even load)",
            Balance::Cv2 => "importance + load (Shazeer)",
            Balance::None => "none",
        }
    }
    /// One plain-language sentence.
    pub fn help(self) -> &'static str {
        match self {
            Balance::Switch => {
                "the Switch Transformer's loss: it grows when a few experts get most of the tokens, weighted by α"
            }
            Balance::Cv2 => {
                "Shazeer's 2017 losses: they grow when the experts' total gate weight or their number of tokens \
                 is uneven (squared coefficient of variation), weighted by α"
            }
            Balance::None => "no balance loss: nothing but the router itself spreads the tokens (α has no effect)",
        }
    }
    /// The id the shaders switch on.
    pub fn id(self) -> u32 {
        self as u32
    }
}

/// Which assignments keep a slot when an expert is over capacity (always rank by rank: every first
/// choice before any second choice); the policy orders the tokens within a rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DropPolicy {
    /// Token order (the batch position): later tokens are dropped first.
    #[default]
    Position,
    /// Batch-prioritised routing (Riquelme et al. 2021): tokens by their highest router
    /// probability, descending (ties by position).
    Probability,
    /// A fresh random token order every training step, deterministic per seed (position order
    /// in evaluation and the probe).
    Random,
}

/// The loss of the dense mixture (Jacobs et al. 1991), with the experts' outputs o_i = head(x + y_i)
/// and the gates p_i.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MixtureLoss {
    /// CE of the blended output Σ_i p_i·o_i: the experts are pushed to cooperate (every router's
    /// layer computes this).
    #[default]
    Cooperative,
    /// −log Σ_i p_i·softmax(o_i)[y], the likelihood of a mixture: each expert is pushed to be right
    /// on its own, and the gate to pick the one that is.
    Competitive,
}

impl MixtureLoss {
    pub const ALL: &'static [MixtureLoss] = &[MixtureLoss::Cooperative, MixtureLoss::Competitive];
    pub fn name(self) -> &'static str {
        match self {
            MixtureLoss::Cooperative => "cooperative",
            MixtureLoss::Competitive => "competitive",
        }
    }
    pub fn from_name(name: &str) -> Option<MixtureLoss> {
        Self::ALL.iter().copied().find(|b| b.name() == name)
    }
    /// The page's menu entry.
    pub fn label(self) -> &'static str {
        match self {
            MixtureLoss::Cooperative => "cooperative (blend, then score)",
            MixtureLoss::Competitive => "competitive (score each expert)",
        }
    }
    /// One plain-language sentence.
    pub fn help(self) -> &'static str {
        match self {
            MixtureLoss::Cooperative => {
                "the experts' outputs are blended with the gates and the blend is scored: experts cooperate and share the work"
            }
            MixtureLoss::Competitive => {
                "each expert's own prediction is scored and the gates say whom to trust: experts compete and each owns a region"
            }
        }
    }
    /// The id the shaders switch on.
    pub fn id(self) -> u32 {
        self as u32
    }
}

impl DropPolicy {
    pub const ALL: &'static [DropPolicy] = &[DropPolicy::Position, DropPolicy::Probability, DropPolicy::Random];
    pub fn name(self) -> &'static str {
        match self {
            DropPolicy::Position => "position",
            DropPolicy::Probability => "probability",
            DropPolicy::Random => "random",
        }
    }
    pub fn from_name(name: &str) -> Option<DropPolicy> {
        Self::ALL.iter().copied().find(|b| b.name() == name)
    }
    /// The page's menu entry.
    pub fn label(self) -> &'static str {
        match self {
            DropPolicy::Position => "later tokens",
            DropPolicy::Probability => "least sure",
            DropPolicy::Random => "random order",
        }
    }
    /// One plain-language sentence.
    pub fn help(self) -> &'static str {
        match self {
            DropPolicy::Position => "tokens later in the batch are dropped first",
            DropPolicy::Probability => "tokens the router is least sure about are dropped first",
            DropPolicy::Random => "tokens are dropped in a fresh random order every step",
        }
    }
    /// The id the shaders switch on.
    pub fn id(self) -> u32 {
        self as u32
    }
}

/// Train the MoE itself, or a dense twin built from its config (same seed, data and steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DenseTwin {
    /// The MoE as configured.
    #[default]
    Off,
    /// One expert, always used, hidden width k·H: the same active FLOPs per token as the MoE.
    Active,
    /// One expert, hidden width E·H: as many FFN parameters as all the MoE's experts together.
    Total,
}

impl DenseTwin {
    pub fn name(self) -> &'static str {
        match self {
            DenseTwin::Off => "off",
            DenseTwin::Active => "active",
            DenseTwin::Total => "total",
        }
    }
}

/// How the MoE's weights start: from the seed, or upcycled from a dense model trained first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The seed's random weights (`Params::init` of the model).
    #[default]
    Scratch,
    /// Sparse upcycling: first train a dense model (one expert of width H, always used) for
    /// `dense_steps` steps, then copy its feed-forward network into every expert
    /// (the upcycle module, src/upcycle.rs).
    Upcycle,
}

impl Init {
    pub fn name(self) -> &'static str {
        match self {
            Init::Scratch => "scratch",
            Init::Upcycle => "upcycle",
        }
    }
}

/// Hard limits of the config. `MAX_D` and `MAX_HIDDEN` are size choices (they keep the largest
/// model within the browser's default buffer limits and the CPU fallback responsive); no shader
/// depends on them. `MAX_EXPERTS` and `MAX_TOP_K` are kernel limits: the metrics window and the
/// stats buffer hold 64 experts, and the kernels keep k ≤ 8 ranks in registers.
pub mod limits {
    pub const MAX_D: usize = 128;
    pub const MAX_HIDDEN: usize = 512;
    pub const MAX_EXPERTS: usize = 64;
    pub const MAX_TOP_K: usize = 8;
    pub const MIN_TOKENS: usize = 16;
    pub const MAX_TOKENS: usize = 16384;
    /// Largest storage buffer the engine binds: WebGPU's default `maxStorageBufferBindingSize`
    /// (128 MiB) in f32 elements. The per-assignment hidden activations `[T·K, H]` must fit.
    pub const MAX_BINDING_FLOATS: usize = (128 << 20) / 4;
    /// Largest `eval_every`.
    pub const MAX_EVAL_EVERY: u32 = 1_000_000;
    /// Largest `dense_steps`.
    pub const MAX_DENSE_STEPS: u32 = 100_000;
    /// Largest `train_examples` (a budget of more is all of them).
    pub const MAX_TRAIN_EXAMPLES: u32 = 1 << 20;
}

/// Every knob. Live knobs (k, capacity factor, α, β, lr, clipping) act on a running model;
/// the others are structural and rebuild the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub dataset: Dataset,
    pub router: RouterKind,
    pub seed: u32,
    /// Model width d.
    pub d: usize,
    /// Expert hidden width H.
    pub hidden: usize,
    /// Number of experts E.
    pub experts: usize,
    /// Experts chosen per token k (live).
    pub top_k: usize,
    /// Capacity factor cf (live); `f32::INFINITY` = dropless (serialised as "inf").
    #[serde(with = "cf_serde")]
    pub capacity_factor: f32,
    /// Balance-loss weight α (live).
    pub alpha: f32,
    /// Router z-loss weight β (live).
    pub beta: f32,
    /// Adam learning rate (live).
    pub lr: f32,
    /// Tokens per batch T.
    pub tokens: usize,
    pub adam_beta1: f32,
    pub adam_beta2: f32,
    pub adam_eps: f32,
    /// Clip the global gradient norm to this value (live); `None` = no clipping.
    pub grad_clip: Option<f32>,
    /// Ablation (live): capacity 0, every assignment dropped, h = x — the model without its experts.
    #[serde(default)]
    pub experts_off: bool,
    /// Evaluate on the held-out set after every this many steps (live); 0 = never.
    #[serde(default = "default_eval_every")]
    pub eval_every: u32,
    /// Train a dense twin of this config instead of the MoE (structural; see [`Config::resolved`]).
    #[serde(default)]
    pub dense_twin: DenseTwin,
    /// The balance loss (live).
    #[serde(default)]
    pub balance: Balance,
    /// Which assignments an expert over capacity drops (live).
    #[serde(default)]
    pub drop_policy: DropPolicy,
    /// Bias step γ of the aux-free router (live): b_i ← b_i + γ·sign(mean load − load_i).
    #[serde(default = "default_gamma")]
    pub gamma: f32,
    /// Shared experts N (DeepSeekMoE): every token always passes through them, gate 1, beside the
    /// E routed experts (structural).
    #[serde(default)]
    pub shared: usize,
    /// Fine-grained experts m (DeepSeekMoE): each of the E experts is split into m experts of width
    /// H/m and each token is routed to k·m of them, so the active compute and the parameter count
    /// stay those of (E, H, k) (structural; 1 = not split).
    #[serde(default = "default_granularity")]
    pub granularity: usize,
    /// The dense mixture's loss (live; the other routers use the cooperative one).
    #[serde(default)]
    pub mixture_loss: MixtureLoss,
    /// How the MoE's weights start (structural): from the seed, or upcycled from a dense model.
    #[serde(default)]
    pub init: Init,
    /// Steps of the dense phase before upcycling (structural; only with `init = upcycle`). They
    /// count towards the run's steps: the MoE continues at step `dense_steps`.
    #[serde(default = "default_dense_steps")]
    pub dense_steps: u32,
    /// The training data budget (structural): batches are drawn from the first this many training
    /// examples only, so a small budget is seen again and again and can be memorised; 0 = all of
    /// them (about 57k for tokens). The held-out set is unaffected.
    #[serde(default)]
    pub train_examples: u32,
}

fn default_granularity() -> usize {
    1
}

/// Default `dense_steps`.
pub const DEFAULT_DENSE_STEPS: u32 = 200;

fn default_dense_steps() -> u32 {
    DEFAULT_DENSE_STEPS
}

/// Default γ of the aux-free router's bias update.
pub const DEFAULT_GAMMA: f32 = 1e-3;

fn default_gamma() -> f32 {
    DEFAULT_GAMMA
}

/// Default `eval_every`: one held-out pass (4096 examples, forward only) every 200 steps costs
/// about 3 % of the training time at the default T = 256 (measured by `moe-train --bench`).
pub const DEFAULT_EVAL_EVERY: u32 = 200;

fn default_eval_every() -> u32 {
    DEFAULT_EVAL_EVERY
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dataset: Dataset::Tokens,
            router: RouterKind::default(),
            seed: 1,
            d: 32,
            hidden: 64,
            experts: 8,
            top_k: 1,
            capacity_factor: 1.25,
            alpha: 0.01,
            beta: 0.0,
            lr: 3e-3,
            tokens: 256,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_eps: 1e-8,
            grad_clip: None,
            experts_off: false,
            eval_every: DEFAULT_EVAL_EVERY,
            dense_twin: DenseTwin::Off,
            balance: Balance::Switch,
            drop_policy: DropPolicy::Position,
            gamma: DEFAULT_GAMMA,
            shared: 0,
            granularity: 1,
            mixture_loss: MixtureLoss::Cooperative,
            init: Init::Scratch,
            dense_steps: DEFAULT_DENSE_STEPS,
            train_examples: 0,
        }
    }
}

/// A bad value: which field, what value, what is allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} = {}: {}", self.field, self.value, self.allowed)
    }
}

impl std::error::Error for ConfigError {}

/// The knobs a running model takes without a rebuild.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveKnobs {
    pub router: RouterKind,
    pub mixture_loss: MixtureLoss,
    pub balance: Balance,
    pub drop_policy: DropPolicy,
    pub gamma: f32,
    pub top_k: usize,
    pub capacity_factor: f32,
    pub alpha: f32,
    pub beta: f32,
    pub lr: f32,
    pub grad_clip: Option<f32>,
    pub experts_off: bool,
    pub eval_every: u32,
}

impl Config {
    /// Largest k the buffers are sized for: k can move live up to this.
    pub fn k_max(&self) -> usize {
        self.experts.min(limits::MAX_TOP_K)
    }

    /// Routed experts the layer really has: E·m (fine-grained experts split each of the E).
    pub fn routed_experts(&self) -> usize {
        self.experts * self.granularity.max(1)
    }

    /// Every expert's hidden width: H/m.
    pub fn expert_hidden(&self) -> usize {
        self.hidden / self.granularity.max(1)
    }

    /// Routed ranks per token the step runs with: k·m for the token-choice routers, every routed
    /// expert for the routers that hand each token to all of them (expert choice, the dense
    /// mixture: `RouterInfo::all_experts`).
    pub fn routed_k(&self) -> usize {
        if self.router.info().all_experts {
            self.routed_experts()
        } else {
            self.top_k * self.granularity.max(1)
        }
    }

    /// Ranks per token the buffers hold (the GPU's K): the routed ranks k can move up to live,
    /// then the N shared experts.
    pub fn rank_slots(&self) -> usize {
        let m = self.granularity.max(1);
        let routed = if self.router.info().all_experts { self.routed_experts() } else { self.k_max() * m };
        routed + self.shared
    }

    /// Number of output classes (vocabulary size or 2).
    pub fn vocab(&self) -> usize {
        match self.dataset {
            Dataset::Tokens => VOCAB.len(),
            Dataset::Regions => 2,
        }
    }

    /// Capacity per expert C = ceil(cf · T · k / E), at most T (a token picks an expert once);
    /// cf = ∞ gives T: dropless.
    pub fn capacity(&self) -> usize {
        self.capacity_for(self.tokens)
    }

    /// Capacity for a batch of `rows` tokens (the probe batch has 64); 0 with the experts off.
    pub fn capacity_for(&self, rows: usize) -> usize {
        if self.experts_off {
            0
        } else if !self.router.info().capacity {
            rows
        } else {
            capacity(self.capacity_factor, rows, self.top_k, self.experts)
        }
    }

    /// True when the step trains with the competitive mixture loss (the dense mixture only).
    pub fn competitive(&self) -> bool {
        self.mixture_loss == MixtureLoss::Competitive && !self.router.info().capacity
    }

    /// The balance-loss weight the step uses: α, or 0 with `balance = none`.
    pub fn alpha_effective(&self) -> f32 {
        match self.balance {
            Balance::None => 0.0,
            _ => self.alpha,
        }
    }

    pub fn live(&self) -> LiveKnobs {
        LiveKnobs {
            router: self.router,
            mixture_loss: self.mixture_loss,
            balance: self.balance,
            drop_policy: self.drop_policy,
            gamma: self.gamma,
            top_k: self.top_k,
            capacity_factor: self.capacity_factor,
            alpha: self.alpha,
            beta: self.beta,
            lr: self.lr,
            grad_clip: self.grad_clip,
            experts_off: self.experts_off,
            eval_every: self.eval_every,
        }
    }

    /// This config with the live knobs `live`. A dense twin keeps its routing fixed (k = 1, dropless,
    /// no router losses): only lr, clipping, the experts-off ablation and `eval_every` move.
    pub fn with_live(&self, live: LiveKnobs) -> Config {
        let next = Config {
            router: live.router,
            mixture_loss: live.mixture_loss,
            balance: live.balance,
            drop_policy: live.drop_policy,
            gamma: live.gamma,
            top_k: live.top_k,
            capacity_factor: live.capacity_factor,
            alpha: live.alpha,
            beta: live.beta,
            lr: live.lr,
            grad_clip: live.grad_clip,
            experts_off: live.experts_off,
            eval_every: live.eval_every,
            ..self.clone()
        };
        if self.dense_twin == DenseTwin::Off || self.experts != 1 {
            next
        } else {
            Config {
                router: RouterKind::default(),
                top_k: 1,
                capacity_factor: f32::INFINITY,
                alpha: 0.0,
                beta: 0.0,
                ..next
            }
        }
    }

    /// The model this config trains: itself, or its dense twin. The twin has one expert, always
    /// used (k = 1, cf = ∞: the router's softmax over one expert is 1, so the gate is exactly 1 and
    /// nothing is dropped), no router losses (α = β = 0), and hidden width k·H (`active`: the MoE's
    /// active FLOPs per token) or E·H (`total`: the MoE's expert parameters). Seed, data, T, d and
    /// the optimiser are the MoE's. Idempotent: resolving a resolved config changes nothing.
    pub fn resolved(&self) -> Config {
        let hidden = match self.dense_twin {
            DenseTwin::Off => return self.clone(),
            DenseTwin::Active => self.top_k * self.hidden + self.shared * self.expert_hidden(),
            DenseTwin::Total => self.experts * self.hidden + self.shared * self.expert_hidden(),
        };
        Config {
            router: RouterKind::default(),
            experts: 1,
            top_k: 1,
            capacity_factor: f32::INFINITY,
            alpha: 0.0,
            beta: 0.0,
            shared: 0,
            granularity: 1,
            hidden,
            ..self.clone()
        }
    }

    /// The dense model of the upcycling warm-up: one expert of the MoE's width H, always used (the
    /// dense twin's rules: k = 1, cf = ∞, α = β = 0), same seed, data, T, d and optimiser. Its FFN
    /// is copied into every expert, the shared ones too.
    pub fn dense_phase(&self) -> Config {
        Config { top_k: 1, shared: 0, dense_twin: DenseTwin::Active, init: Init::Scratch, ..self.clone() }.resolved()
    }

    /// True when `other` differs only in live knobs (so no rebuild is needed). A router that hands
    /// every token to every expert needs buffers of E ranks, and the dense mixture the competitive
    /// loss's buffers, so switching to or from one rebuilds.
    pub fn same_structure(&self, other: &Config) -> bool {
        self.with_live(other.live()) == *other
            && self.rank_slots() == other.rank_slots()
            && self.router.info().capacity == other.router.info().capacity
    }

    /// Select router `r` with its defaults for every key not in `explicit` (the keys a URL or the
    /// command line names): k = the router's k when it works with one k only, the balance loss =
    /// the router's first (its default), α = its default α if it has one. A balance loss switched
    /// on from none with α = 0 gets the default α. Returns one plain-language sentence per change.
    /// The URL, the CLI and the page's router menu all select routers through this.
    pub fn with_router(&mut self, r: RouterKind, explicit: &[&str]) -> Vec<String> {
        self.router = r;
        let info = r.info();
        let free = |key: &str| !explicit.contains(&key);
        let mut notes = Vec::new();
        if let Some(k) = info.k {
            if free("top-k") && self.top_k != k {
                self.top_k = k;
                notes.push(format!("{} routes every token to {k} experts: k set to {k}", info.label));
            }
        }
        let b = info.balances[0];
        if free("balance") && self.balance != b {
            let was_off = self.balance == Balance::None;
            self.balance = b;
            notes.push(match b {
                Balance::None => format!("{} works without a balance loss: balance loss set to none", info.label),
                _ => format!("{} uses the balance loss {}: balance loss set to {}", info.label, b.label(), b.name()),
            });
            if was_off && self.alpha == 0.0 && free("alpha") && info.default_alpha.is_none() {
                self.alpha = Config::default().alpha;
                notes.push(format!("α set to {} so the balance loss counts", self.alpha));
            }
        }
        if let Some(a) = info.default_alpha {
            if free("alpha") && self.alpha != a {
                self.alpha = a;
                notes.push(format!("{} starts with α = {a}: α set to {a}", info.label));
            }
        }
        notes
    }
}

/// C = ceil(cf · T · k / E), clamped to T; cf = ∞ gives T.
///
/// cf is taken at its decimal value (1.1 means 1.1, not the f32 1.10000002) and a product within
/// 1e-9 of a whole number counts as that number, so cf = 1.1, T = 320, E = 8 gives exactly 44.
pub fn capacity(cf: f32, tokens: usize, k: usize, experts: usize) -> usize {
    if !cf.is_finite() {
        return tokens;
    }
    let cf = format!("{cf}").parse::<f64>().unwrap_or(cf as f64);
    let x = cf * tokens as f64 * k as f64 / experts as f64;
    let whole = x.round();
    let c = if (x - whole).abs() <= 1e-9 * whole.max(1.0) { whole } else { x.ceil() };
    (c.max(0.0) as usize).min(tokens)
}

/// JSON form of the capacity factor: a number, or "inf" for dropless (JSON has no infinity). Binary
/// forms (the page's worker messages) carry the float as it is.
mod cf_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            s.serialize_f32(*v)
        } else if v.is_finite() {
            s.serialize_f64(format!("{v}").parse::<f64>().unwrap_or(*v as f64))
        } else {
            s.serialize_str("inf")
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        if !d.is_human_readable() {
            return f32::deserialize(d);
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Cf {
            Num(f32),
            Text(String),
        }
        match Cf::deserialize(d)? {
            Cf::Num(v) => Ok(v),
            Cf::Text(t) if ["inf", "∞", "infinity", "dropless"].contains(&t.as_str()) => Ok(f32::INFINITY),
            Cf::Text(t) => Err(serde::de::Error::custom(format!("capacity factor {t:?} is not a number or inf"))),
        }
    }
}

/// Split `a=1&b=2` (a leading `?` allowed), percent-decoding values.
pub fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.trim_start_matches('?')
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
