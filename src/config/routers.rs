//! What each router is: its [`RouterInfo`] (name, label, help, which k and balance losses it allows,
//! its knobs and page notes) and the registry [`ROUTERS`]. [`super::RouterKind`] is an index into it.
//! The routers' CPU twins are the units in src/model/routers/ (one file per router, the same order,
//! checked by a test there), their WGSL the files of shaders/routers/ with the same names.
use super::Balance;

/// What a router is, for the config, the CLI's help and the page.
#[derive(Debug)]
pub struct RouterInfo {
    /// CLI/URL value; also the file names of its units.
    pub name: &'static str,
    /// The page's selector label.
    pub label: &'static str,
    /// One plain-language paragraph for the page and `--help`.
    pub help: &'static str,
    /// The paper (authors, year).
    pub paper: &'static str,
    /// Some(k): the router works for this k only.
    pub k: Option<usize>,
    /// Balance losses it can be combined with (the first is its default).
    pub balances: &'static [Balance],
    /// Knob keys only this router uses (the page shows them only with it).
    pub knobs: &'static [&'static str],
    /// α when the router is selected without one (aux-free balances without a loss).
    pub default_alpha: Option<f32>,
    /// False when the router has no learned choice (hash): W_r gets no gate gradient.
    pub learned: bool,
    /// True when it keeps a per-expert bias (shown on the page, traced).
    pub has_bias: bool,
    /// What the page's views show that is particular to this router (plain language; "" = nothing):
    /// under the routing heatmap, the load chart and the drops chart.
    pub routing_note: &'static str,
    pub load_note: &'static str,
    pub drops_note: &'static str,
    /// True when it gives the cv2 balance loss a smooth (differentiable) load estimate in training
    /// (`RouteOut::load_p`); otherwise the load is the count of assignments.
    pub smooth_load: bool,
    /// True when every token has one rank per routed expert (rank r = expert r): the router marks
    /// the assignments it does not make as unpicked (expert choice) or makes them all (the dense
    /// mixture). The buffers then hold E ranks, so switching to or from it rebuilds the model.
    pub all_experts: bool,
    /// False when experts take every assignment (no capacity, nothing dropped: the dense mixture);
    /// k and the capacity factor then do not apply.
    pub capacity: bool,
}

/// Every router, in the order the page and `--help` list them (the order of the ids in the config).
pub const ROUTERS: &[RouterInfo] =
    &[SOFTMAX_TOPK, NOISY_TOPK, GSHARD_TOP2, HASH, AUX_FREE, EXPERT_CHOICE, DENSE_MIXTURE];

/// Its unit: src/model/routers/softmax_topk.rs.
pub const SOFTMAX_TOPK: RouterInfo = RouterInfo {
    name: "softmax-topk",
    label: "softmax top-k (Switch / Mixtral)",
    help: "Each token goes to the k experts with the highest router probability. With k = 1 the expert's \
           output is scaled by that probability (Switch); with k ≥ 2 the chosen probabilities are \
           rescaled to sum to 1 (Mixtral).",
    paper: "Fedus et al. 2021; Jiang et al. 2024",
    k: None,
    balances: &[Balance::Switch, Balance::Cv2, Balance::None],
    knobs: &[],
    default_alpha: None,
    learned: true,
    routing_note: "",
    load_note: "",
    drops_note: "",
    smooth_load: false,
    all_experts: false,
    capacity: true,
    has_bias: false,
};

/// Its unit: src/model/routers/noisy_topk.rs.
pub const NOISY_TOPK: RouterInfo = RouterInfo {
    name: "noisy-topk",
    label: "noisy top-k (Shazeer 2017)",
    help: "The router adds learned random noise to its scores before picking the top k, so tokens sometimes \
           try other experts while training; the gates are a softmax over the k picked scores. No noise \
           when evaluating.",
    paper: "Shazeer et al. 2017",
    k: None,
    balances: &[Balance::Switch, Balance::Cv2, Balance::None],
    knobs: &[],
    default_alpha: None,
    learned: true,
    routing_note: "Noisy top-k: this view shows the router without its training noise, as in evaluation. While training, the noise can send a token to a different expert than the brightest cell.",
    load_note: "",
    drops_note: "",
    smooth_load: true,
    all_experts: false,
    capacity: true,
    has_bias: false,
};

/// Its unit: src/model/routers/gshard_top2.rs.
pub const GSHARD_TOP2: RouterInfo = RouterInfo {
    name: "gshard-top2",
    label: "random top-2 (GShard)",
    help: "Each token goes to its best expert, and to its second best only with probability twice that \
           expert's gate, so a weak second choice is often skipped (dropped at random, before capacity). \
           Needs k = 2.",
    paper: "Lepikhin et al. 2020",
    k: Some(2),
    balances: &[Balance::Switch, Balance::Cv2, Balance::None],
    knobs: &[],
    default_alpha: None,
    learned: true,
    routing_note: "GShard top-2: while training, the second expert is used only with probability 2 × its gate; this view, without the random draw, outlines both.",
    load_note: "Orange also counts the second choices dropped at random, before any capacity limit.",
    drops_note: "The yellow line is the share dropped at random: second choices that lost the draw, whatever the capacity.",
    smooth_load: false,
    all_experts: false,
    capacity: true,
    has_bias: false,
};

/// Its unit: src/model/routers/hash.rs.
pub const HASH: RouterInfo = RouterInfo {
    name: "hash",
    label: "hash (fixed, not learned)",
    help: "Each token goes to experts picked by a fixed hash of its current input character (or of its grid \
           cell for the 2-D points), with equal gates. Nothing about the choice is learned, and no balance \
           loss is needed: the hash spreads the inputs.",
    paper: "Roller et al. 2021",
    k: None,
    balances: &[Balance::None],
    knobs: &[],
    default_alpha: None,
    learned: false,
    routing_note: "Hash routing: the outlined experts come from a fixed hash of the input character (of the grid cell for points), not from the colours; the router's probabilities are drawn but not used.",
    load_note: "",
    drops_note: "",
    smooth_load: false,
    all_experts: false,
    capacity: true,
    has_bias: false,
};

/// Its unit: src/model/routers/aux_free.rs.
pub const AUX_FREE: RouterInfo = RouterInfo {
    name: "aux-free",
    label: "loss-free bias (DeepSeek-V3)",
    help: "Each expert has a bias added to its router score only when choosing experts. After every step \
           the bias of an overloaded expert goes down by γ and that of an underloaded one goes up, so load \
           evens out without a balance loss (α defaults to 0). The gates use the router's own probabilities.",
    paper: "DeepSeek-AI 2024 (DeepSeek-V3); Wang et al. 2024",
    k: None,
    balances: &[Balance::None, Balance::Switch, Balance::Cv2],
    knobs: &["gamma"],
    default_alpha: Some(0.0),
    learned: true,
    routing_note: "Loss-free balancing: the choice is made on the router's scores plus each expert's bias; the colours are the probabilities without the bias, which also set the gates.",
    load_note: "The purple numbers are each expert's bias: it rises by γ after every step an expert gets less than a fair share and falls by γ when it gets more.",
    drops_note: "",
    smooth_load: false,
    all_experts: false,
    capacity: true,
    has_bias: true,
};

/// Its unit: src/model/routers/expert_choice.rs.
pub const EXPERT_CHOICE: RouterInfo = RouterInfo {
    name: "expert-choice",
    label: "expert choice (experts pick tokens)",
    help: "Each expert picks the C tokens of the batch it has the highest router probability for, so every \
           expert is exactly full and no balance loss is needed. A token may be picked by several experts or \
           by none (unrouted: it passes on unchanged). k sets C = cf·T·k/E, the average experts per token. \
           The choice needs the whole batch, so it does not suit generating text one token at a time.",
    paper: "Zhou et al. 2022",
    k: None,
    balances: &[Balance::None],
    knobs: &[],
    default_alpha: None,
    learned: true,
    routing_note: "Expert choice: each column (expert) outlines the tokens that expert picked, its C highest probabilities in the batch; a row may have several outlines or none.",
    load_note: "Expert choice: every expert takes exactly its capacity C of tokens, by construction.",
    drops_note: "Expert choice: nothing is dropped; the line shows the tokens no expert picked (unrouted).",
    smooth_load: false,
    all_experts: true,
    capacity: true,
    has_bias: false,
};

/// Its unit: src/model/routers/dense_mixture.rs.
pub const DENSE_MIXTURE: RouterInfo = RouterInfo {
    name: "dense-mixture",
    label: "dense mixture (1991, every expert)",
    help: "Every expert processes every token and the outputs are blended with the router's probabilities \
           (the 1991 adaptive mixture of local experts). Nothing is chosen or dropped, so k and the capacity \
           factor do not apply; it costs E experts per token.",
    paper: "Jacobs, Jordan, Nowlan & Hinton 1991",
    k: None,
    balances: &[Balance::None],
    knobs: &["mixture-loss"],
    default_alpha: None,
    learned: true,
    routing_note:
        "Dense mixture: every expert takes every token; the colours are the weights the outputs are blended with.",
    load_note: "Dense mixture: every expert processes all T tokens of every batch.",
    drops_note: "Dense mixture: nothing is ever dropped.",
    smooth_load: false,
    all_experts: true,
    capacity: false,
    has_bias: false,
};
