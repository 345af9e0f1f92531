//! The table of knobs: one [`Knob`] per config key, with its label, help text, range, scale,
//! whether it is live or structural, and how to read and write it. `Config::set`/`get`, the
//! per-field range checks of `Config::validate`, the URL (`to_query`, `from_query*`), the CLI's flags
//! and `--help`, and the page's controls are all derived from [`KNOBS`]; nothing else lists knobs.
//!
//! Which router a knob belongs to is derived from the router registry: a key listed in some
//! router's [`RouterInfo::knobs`](crate::config::RouterInfo) belongs to those routers only
//! (the page shows it only with them); every other knob belongs to all routers.
use crate::config::ROUTERS;
use crate::config::{Balance, Config, ConfigError, Dataset, DenseTwin, DropPolicy, Init, MixtureLoss, RouterKind};
use std::fmt;

/// The `--help` section and the page panel a knob sits in. The knobs of a group are all live or
/// all structural.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// How tokens reach experts (live).
    Routing,
    /// The optimiser's step and the held-out schedule (live).
    Training,
    /// Data, model size, seed and optimiser constants (structural: a change restarts training).
    Model,
}

impl Group {
    pub const ALL: [Group; 3] = [Group::Routing, Group::Training, Group::Model];
    /// Section title.
    pub fn title(self) -> &'static str {
        match self {
            Group::Routing => "Routing",
            Group::Training => "Training",
            Group::Model => "Model and data",
        }
    }
}

/// How a real knob's slider moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// In powers of ten (the slider's position is log10 of the value).
    Log,
}

/// A word a real knob takes besides its numbers: cf = `inf` (dropless), grad-clip = `none`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Off {
    /// The canonical word (URL, CLI, `get`).
    pub word: &'static str,
    /// Other spellings `set` accepts.
    pub aliases: &'static [&'static str],
    /// What it means, for the page's checkbox and `--help` ("dropless").
    pub label: &'static str,
    /// The number the page restores when the checkbox is cleared and no earlier number is known.
    pub restore: f32,
}

/// One value of a choice knob.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// URL/CLI value.
    pub value: &'static str,
    /// The page's menu entry.
    pub label: &'static str,
    /// One plain-language sentence.
    pub help: &'static str,
    /// Other spellings `set` accepts.
    pub aliases: &'static [&'static str],
}

/// What values a knob takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A whole number in `min..=max`.
    Int { min: u32, max: u32 },
    /// A finite number between `min` and `max` (each bound excluded when `*_open`; `max` may be
    /// infinite), or the word of `off`.
    Real { min: f32, max: f32, min_open: bool, max_open: bool, scale: Scale, off: Option<Off> },
    /// One of the choices (a function: the router's come from the registry).
    Choice(fn() -> Vec<Choice>),
    /// true or false.
    Bool,
}

/// The page's control for a knob (choices get a menu, yes/no a checkbox).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    /// A slider from `min` to `max` in steps of `step`, in log10 units for a log-scale knob; a log
    /// slider of a knob that allows 0 has one more notch at its left end meaning 0.
    Slider { min: f32, max: f32, step: f32 },
    /// A menu of the usual values (plus the current one).
    Menu(&'static [u32]),
    /// A number field.
    Field,
    /// A menu of the choices, or a checkbox.
    Auto,
}

/// A knob's value, typed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Real(f32),
    /// The word of [`Kind::Real`]'s `off`.
    Off,
    Name(&'static str),
    Bool(bool),
}

impl Value {
    fn int(self) -> u64 {
        match self {
            Value::Int(n) => n,
            _ => 0,
        }
    }
    fn real(self) -> f32 {
        match self {
            Value::Real(x) => x,
            _ => f32::NAN,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Value::Name(n) => n,
            _ => "",
        }
    }
}

/// One knob: a config key with everything the CLI, the URL and the page need to know about it.
pub struct Knob {
    /// URL key and CLI flag (`--<key>`).
    pub key: &'static str,
    /// Short name on the page and in notices; also the noun of range errors.
    pub label: &'static str,
    /// Its symbol for the charts' change markers ("α=0.1, k=2").
    pub symbol: &'static str,
    /// One plain-language sentence (`--help`, the page's tooltip).
    pub help: &'static str,
    pub group: Group,
    /// Live: a running model takes it without a rebuild. Structural: a change restarts training.
    pub live: bool,
    /// The page keeps it under "more knobs".
    pub advanced: bool,
    pub kind: Kind,
    pub control: Control,
    pub get: fn(&Config) -> Value,
    pub put: fn(&mut Config, Value),
}

impl fmt::Debug for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Knob").field("key", &self.key).finish_non_exhaustive()
    }
}

/// `a`, `a or b`, `a, b or c`.
pub fn or_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            format!("{} or {}", init.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}

fn err(field: &'static str, value: impl fmt::Display, allowed: impl Into<String>) -> ConfigError {
    ConfigError { field, value: value.to_string(), allowed: allowed.into() }
}

impl Knob {
    /// The choices of a choice knob (empty otherwise).
    pub fn choices(&self) -> Vec<Choice> {
        match self.kind {
            Kind::Choice(f) => f(),
            _ => Vec::new(),
        }
    }

    /// Its value in `c`, in string form (URL value, CLI flag value).
    pub fn get_str(&self, c: &Config) -> String {
        self.show((self.get)(c))
    }

    /// The string form of a value of this knob.
    pub fn show(&self, v: Value) -> String {
        match (v, self.kind) {
            (Value::Int(n), _) => n.to_string(),
            (Value::Real(x), _) => format!("{x}"),
            (Value::Off, Kind::Real { off: Some(o), .. }) => o.word.to_string(),
            (Value::Off, _) => "off".to_string(),
            (Value::Name(n), _) => n.to_string(),
            (Value::Bool(b), _) => b.to_string(),
        }
    }

    /// Parse the string form (trimmed). Checks the form only, not the range: `validate` does that.
    pub fn parse(&self, v: &str) -> Result<Value, ConfigError> {
        let t = v.trim();
        let bad = |what: String| err(self.key, format!("{v:?}"), format!("must be {what}"));
        match self.kind {
            Kind::Int { min, max } => {
                t.parse::<u32>().map(|n| Value::Int(n as u64)).map_err(|_| bad(format!("an integer in {min}..={max}")))
            }
            Kind::Real { off, .. } => {
                if off.is_some_and(|o| t == o.word || o.aliases.contains(&t)) {
                    return Ok(Value::Off);
                }
                t.parse::<f32>().map(Value::Real).map_err(|_| match off {
                    Some(o) => bad(format!("a number, or {} for {}", o.word, o.label)),
                    None => bad("a number".into()),
                })
            }
            Kind::Choice(f) => {
                let all = f();
                all.iter()
                    .find(|c| c.value == t || c.aliases.contains(&t))
                    .map(|c| Value::Name(c.value))
                    .ok_or_else(|| bad(or_list(&all.iter().map(|c| c.value).collect::<Vec<_>>())))
            }
            Kind::Bool => match t {
                "true" | "1" | "on" | "yes" => Ok(Value::Bool(true)),
                "false" | "0" | "off" | "no" => Ok(Value::Bool(false)),
                _ => Err(bad("true or false".into())),
            },
        }
    }

    /// What values are allowed, as text: "in 1..=128", "> 0 and ≤ 1", "> 0, or inf for dropless",
    /// "tokens or regions".
    pub fn allowed(&self) -> String {
        match self.kind {
            Kind::Int { min, max } => format!("in {min}..={max}"),
            Kind::Real { min, max, min_open, max_open, off, .. } => {
                let lo = format!("{} {min}", if min_open { ">" } else { "≥" });
                let range = if max.is_infinite() {
                    lo
                } else if !min_open && !max_open {
                    format!("in {min}..={max}")
                } else {
                    format!("{lo} and {} {max}", if max_open { "<" } else { "≤" })
                };
                match off {
                    Some(o) => format!("{range}, or {} for {}", o.word, o.label),
                    None => range,
                }
            }
            Kind::Choice(f) => or_list(&f().iter().map(|c| c.value).collect::<Vec<_>>()),
            Kind::Bool => "true or false".into(),
        }
    }

    /// True when `v` is in this knob's range.
    pub fn admits(&self, v: Value) -> bool {
        match (self.kind, v) {
            (Kind::Int { min, max }, Value::Int(n)) => (min as u64..=max as u64).contains(&n),
            (Kind::Real { off, .. }, Value::Off) => off.is_some(),
            (Kind::Real { min, max, min_open, max_open, .. }, Value::Real(x)) => {
                x.is_finite() && if min_open { x > min } else { x >= min } && if max_open { x < max } else { x <= max }
            }
            (Kind::Choice(f), Value::Name(n)) => f().iter().any(|c| c.value == n),
            (Kind::Bool, Value::Bool(_)) => true,
            _ => false,
        }
    }

    /// The range check of `validate`: `invalid <key> = <value>: <label> must be <allowed>`.
    pub fn check(&self, c: &Config) -> Result<(), ConfigError> {
        let v = (self.get)(c);
        if self.admits(v) {
            Ok(())
        } else {
            Err(err(self.key, self.show(v), format!("{} must be {}", self.label, self.allowed())))
        }
    }

    /// The routers that use this knob: those listing it in their `knobs`, or (listed by none) all.
    pub fn owners(&self) -> Vec<RouterKind> {
        let own: Vec<RouterKind> = RouterKind::all().filter(|r| r.info().knobs.contains(&self.key)).collect();
        if own.is_empty() {
            RouterKind::all().collect()
        } else {
            own
        }
    }

    /// True when this knob belongs to only some routers ("γ: aux-free only").
    pub fn router_specific(&self) -> bool {
        ROUTERS.iter().any(|r| r.knobs.contains(&self.key))
    }

    /// True when router `r` uses this knob (the page shows it only then).
    pub fn used_by(&self, r: RouterKind) -> bool {
        !self.router_specific() || r.info().knobs.contains(&self.key)
    }

    /// The log scale of a real knob.
    pub fn scale(&self) -> Scale {
        match self.kind {
            Kind::Real { scale, .. } => scale,
            _ => Scale::Linear,
        }
    }
}

/// The knob with URL key / flag `key`.
pub fn knob(key: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|k| k.key == key)
}

/// The methods of [`Config`] that go through the table: validation, `set`/`get` by key and the URL.
/// They are here, not in src/config.rs, because the table is built on the config (the config sits
/// below the knobs and never names them).
impl Config {
    /// Check every field (its range in [`KNOBS`]) and every cross-field rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use crate::config::limits::*;
        for k in KNOBS {
            k.check(self)?;
        }
        if self.top_k > self.k_max() {
            return Err(err(
                "top-k",
                self.top_k,
                format!(
                    "k must be in 1..={} (at most the {} experts, and at most {MAX_TOP_K})",
                    self.k_max(),
                    self.experts
                ),
            ));
        }
        let r = self.router.info();
        if let Some(k) = r.k {
            if self.top_k != k && self.dense_twin == DenseTwin::Off {
                return Err(err(
                    "top-k",
                    self.top_k,
                    format!("the {} router routes every token to exactly {k} experts: set k = {k}", r.name),
                ));
            }
        }
        if !r.balances.contains(&self.balance) {
            let names: Vec<&str> = r.balances.iter().map(|b| b.name()).collect();
            return Err(err(
                "balance",
                self.balance.name(),
                format!("the {} router allows balance {}", r.name, or_list(&names)),
            ));
        }
        if self.init == Init::Upcycle && self.dense_twin != DenseTwin::Off {
            return Err(err(
                "init",
                self.init.name(),
                format!(
                    "upcycling copies a dense model into the experts of a MoE, so it needs the MoE: set model \
                     (dense-twin) to off, or init to scratch to train the {} dense twin",
                    self.dense_twin.name()
                ),
            ));
        }
        if self.init == Init::Upcycle && self.granularity > 1 {
            return Err(err(
                "init",
                self.init.name(),
                format!(
                    "upcycling copies the dense model's feed-forward network (width H = {}) into every expert, so \
                     the experts must have that width: set granularity to 1, or init to scratch",
                    self.hidden
                ),
            ));
        }
        if self.dense_twin != DenseTwin::Off {
            let twin = self.resolved();
            if twin.hidden > MAX_HIDDEN {
                return Err(err(
                    "dense-twin",
                    self.dense_twin.name(),
                    format!(
                        "the {} twin's hidden width {} × {} = {} exceeds {MAX_HIDDEN}; lower hidden, experts or top-k",
                        self.dense_twin.name(),
                        if self.dense_twin == DenseTwin::Total { self.experts } else { self.top_k },
                        self.hidden,
                        twin.hidden
                    ),
                ));
            }
            if twin != *self {
                return twin.validate();
            }
        }
        let m = self.granularity.max(1);
        if !self.hidden.is_multiple_of(m) {
            return Err(err(
                "granularity",
                m,
                format!("the expert width H = {} must split into {m} equal parts: pick m dividing H", self.hidden),
            ));
        }
        if self.routed_experts() + self.shared > MAX_EXPERTS {
            return Err(err(
                if self.shared > 0 { "shared" } else { "granularity" },
                if self.shared > 0 { self.shared } else { m },
                format!(
                    "E·m + shared = {}·{m} + {} = {} experts exceeds {MAX_EXPERTS}; lower experts, granularity or shared",
                    self.experts,
                    self.shared,
                    self.routed_experts() + self.shared
                ),
            ));
        }
        let width = if self.router.info().capacity { 0 } else { self.vocab() };
        let per_assignment = self.tokens * self.rank_slots() * self.expert_hidden().max(self.d).max(width);
        if per_assignment > MAX_BINDING_FLOATS {
            return Err(err(
                "tokens",
                self.tokens,
                format!(
                    "T · (ranks per token {}) · max(H, d{}) = {per_assignment} floats exceeds the 128 MiB GPU buffer the \
                     per-assignment activations need; lower tokens, experts or hidden",
                    self.rank_slots(),
                    if width > 0 { ", classes" } else { "" }
                ),
            ));
        }
        Ok(())
    }

    /// Set one knob from its string form (URL value or CLI flag). Checks the form, not the range
    /// or the cross-field rules (`validate` does).
    pub fn set(&mut self, key: &str, v: &str) -> Result<(), ConfigError> {
        let k = knob(key)
            .ok_or_else(|| err("key", format!("{key:?}"), format!("unknown setting; known: {}", KEYS.join(", "))))?;
        let value = k.parse(v)?;
        (k.put)(self, value);
        Ok(())
    }

    /// The string form of one knob (inverse of `set`).
    pub fn get(&self, key: &str) -> Option<String> {
        knob(key).map(|k| k.get_str(self))
    }

    /// URL query string (`a=1&b=2`): the router if not the default, then every key that differs
    /// from the default with this router's defaults ([`Config::with_router`]), which is what
    /// `from_query` starts from.
    pub fn to_query(&self) -> String {
        let def = Config::default();
        let mut base = def.clone();
        base.with_router(self.router, &[]);
        KNOBS
            .iter()
            .filter(|k| (k.get)(self) != (k.get)(&base) || (k.key == "router" && self.router != def.router))
            .map(|k| format!("{}={}", k.key, k.get_str(self)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Strict parse of a query: the first bad key or value is an error. A `router` key selects
    /// the router with its defaults for the keys the query does not name ([`Config::with_router`]).
    pub fn from_query(q: &str) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let pairs = crate::config::query_pairs(q);
        for (k, v) in &pairs {
            c.set(k, v)?;
        }
        if pairs.iter().any(|(k, _)| k == "router") {
            let named: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            c.with_router(c.router, &named);
        }
        c.validate()?;
        Ok(c)
    }

    /// Lenient parse for URLs: every unknown key, malformed or out-of-range value is replaced by a
    /// safe value, and each fix is reported as a notice. A `router` key selects the router with its
    /// defaults for the keys the URL does not set, as in `from_query`. The result always validates.
    pub fn from_query_lenient(q: &str) -> (Config, Vec<String>) {
        let mut c = Config::default();
        let mut notices = Vec::new();
        let mut named: Vec<&'static str> = Vec::new();
        for (k, v) in crate::config::query_pairs(q) {
            match c.set(&k, &v) {
                Ok(()) => named.extend(knob(&k).map(|k| k.key)),
                Err(e) => notices.push(format!("ignored {e}")),
            }
        }
        if named.contains(&"router") {
            // The router's defaults are the URL's rule (`to_query` leaves them out), not fixes.
            c.with_router(c.router, &named);
        }
        // Fix field by field, falling back to the default of the offending field (k: the router's
        // k or clamped to k_max; balance: the router's default).
        for _ in 0..KNOBS.len() + 4 {
            let Err(e) = c.validate() else { break };
            let def = Config::default();
            let r = c.router.info();
            let fixed = match e.field {
                "top-k" => {
                    let k = r.k.unwrap_or(c.top_k).clamp(1, c.k_max());
                    if k == c.top_k {
                        // The router's k does not fit this many experts: back to the default router.
                        c.router = def.router;
                        c.top_k = c.top_k.clamp(1, c.k_max());
                        notices.push(format!("{e}; using router = {}", c.router.name()));
                        continue;
                    }
                    c.top_k = k;
                    k.to_string()
                }
                "balance" => {
                    c.balance = r.balances[0];
                    c.balance.name().to_string()
                }
                field => {
                    let v = def.get(field).unwrap_or_default();
                    if c.set(field, &v).is_err() {
                        c = def.clone();
                    }
                    v
                }
            };
            notices.push(format!("{e}; using {} = {fixed}", e.field));
        }
        if c.validate().is_err() {
            notices.push("settings reset to defaults".into());
            c = Config::default();
        }
        (c, notices)
    }
}

fn datasets() -> Vec<Choice> {
    vec![
        Choice {
            value: "tokens",
            label: "tokens (text)",
            help: "predict the next character of a stream mixing arithmetic, words, DNA and code",
            aliases: &[],
        },
        Choice {
            value: "regions",
            label: "regions (2-D)",
            help: "classify 2-D points; each quadrant of the plane has its own rule",
            aliases: &[],
        },
    ]
}

fn routers() -> Vec<Choice> {
    ROUTERS.iter().map(|r| Choice { value: r.name, label: r.label, help: r.help, aliases: &[] }).collect()
}

fn balances() -> Vec<Choice> {
    Balance::ALL.iter().map(|b| Choice { value: b.name(), label: b.label(), help: b.help(), aliases: &[] }).collect()
}

fn drop_policies() -> Vec<Choice> {
    DropPolicy::ALL.iter().map(|d| Choice { value: d.name(), label: d.label(), help: d.help(), aliases: &[] }).collect()
}

fn mixture_losses() -> Vec<Choice> {
    MixtureLoss::ALL
        .iter()
        .map(|d| Choice { value: d.name(), label: d.label(), help: d.help(), aliases: &[] })
        .collect()
}

fn dense_twins() -> Vec<Choice> {
    vec![
        Choice {
            value: "off",
            label: "MoE",
            help: "the mixture of experts as configured",
            aliases: &["none", "false"],
        },
        Choice {
            value: "active",
            label: "dense k·H",
            help: "one feed-forward network of width k·H, used by every token: the MoE's compute per token",
            aliases: &[],
        },
        Choice {
            value: "total",
            label: "dense E·H",
            help: "one feed-forward network of width E·H: as many parameters as all the MoE's experts together",
            aliases: &[],
        },
    ]
}

fn inits() -> Vec<Choice> {
    vec![
        Choice {
            value: "scratch",
            label: "from scratch",
            help: "every expert starts from its own random weights (the seed's)",
            aliases: &[],
        },
        Choice {
            value: "upcycle",
            label: "upcycled from dense",
            help: "first train one dense feed-forward network of width H for the dense steps, then copy it into \
                   every expert and train on as the MoE (a fresh router, a fresh optimiser)",
            aliases: &[],
        },
    ]
}

const fn real(min: f32, max: f32, min_open: bool, max_open: bool, scale: Scale) -> Kind {
    Kind::Real { min, max, min_open, max_open, scale, off: None }
}

/// Every knob, in URL order (the order `to_query` writes and `--help` and the page list them in).
pub const KNOBS: &[Knob] = &[
    // ---- routing (live) ----
    Knob {
        key: "router",
        label: "router",
        symbol: "router",
        help: "How each token picks its experts.",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: Kind::Choice(routers),
        control: Control::Auto,
        get: |c| Value::Name(c.router.name()),
        put: |c, v| c.router = RouterKind::from_name(v.name()).unwrap_or_default(),
    },
    Knob {
        key: "top-k",
        label: "experts per token k",
        symbol: "k",
        help: "How many experts each token is sent to (at most the number of experts).",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: Kind::Int { min: 1, max: crate::config::limits::MAX_TOP_K as u32 },
        control: Control::Slider { min: 1.0, max: 8.0, step: 1.0 },
        get: |c| Value::Int(c.top_k as u64),
        put: |c, v| c.top_k = v.int() as usize,
    },
    Knob {
        key: "capacity-factor",
        label: "capacity factor",
        symbol: "cf",
        help: "How many tokens an expert may take per step, as a multiple of a fair share \
               (C = ceil(cf·T·k/E)); tokens beyond that are dropped.",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: Kind::Real {
            min: 0.0,
            max: f32::INFINITY,
            min_open: true,
            max_open: true,
            scale: Scale::Linear,
            off: Some(Off { word: "inf", aliases: &["∞", "infinity", "dropless"], label: "dropless", restore: 1.25 }),
        },
        control: Control::Slider { min: 0.25, max: 4.0, step: 0.05 },
        get: |c| if c.capacity_factor == f32::INFINITY { Value::Off } else { Value::Real(c.capacity_factor) },
        put: |c, v| c.capacity_factor = if v == Value::Off { f32::INFINITY } else { v.real() },
    },
    Knob {
        key: "drop-policy",
        label: "dropped first",
        symbol: "drop",
        help: "Which tokens an expert that is over capacity drops first.",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: Kind::Choice(drop_policies),
        control: Control::Auto,
        get: |c| Value::Name(c.drop_policy.name()),
        put: |c, v| c.drop_policy = DropPolicy::from_name(v.name()).unwrap_or_default(),
    },
    Knob {
        key: "balance",
        label: "balance loss",
        symbol: "balance",
        help: "The extra loss that pushes the router towards an even load.",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: Kind::Choice(balances),
        control: Control::Auto,
        get: |c| Value::Name(c.balance.name()),
        put: |c, v| c.balance = Balance::from_name(v.name()).unwrap_or_default(),
    },
    Knob {
        key: "alpha",
        label: "balance weight α",
        symbol: "α",
        help: "How strongly the balance loss counts against the prediction loss (0 = not at all).",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: real(0.0, 100.0, false, false, Scale::Log),
        control: Control::Slider { min: -4.0, max: 0.0, step: 0.1 },
        get: |c| Value::Real(c.alpha),
        put: |c, v| c.alpha = v.real(),
    },
    Knob {
        key: "mixture-loss",
        label: "mixture loss",
        symbol: "loss",
        help: "How the dense mixture scores its experts: the blend of their outputs (cooperative) or each \
               expert's own prediction (competitive, Jacobs et al. 1991).",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: Kind::Choice(mixture_losses),
        control: Control::Auto,
        get: |c| Value::Name(c.mixture_loss.name()),
        put: |c, v| c.mixture_loss = MixtureLoss::from_name(v.name()).unwrap_or_default(),
    },
    Knob {
        key: "gamma",
        label: "bias step γ",
        symbol: "γ",
        help: "How far each expert's bias moves after every step, towards an even load.",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: real(0.0, 1.0, false, false, Scale::Log),
        control: Control::Slider { min: -5.0, max: -1.0, step: 0.1 },
        get: |c| Value::Real(c.gamma),
        put: |c, v| c.gamma = v.real(),
    },
    Knob {
        key: "beta",
        label: "z-loss weight β",
        symbol: "β",
        help: "Weight of the router z-loss, which keeps the router's scores small and stable (0 = off).",
        group: Group::Routing,
        live: true,
        advanced: false,
        kind: real(0.0, 100.0, false, false, Scale::Log),
        control: Control::Slider { min: -5.0, max: -1.0, step: 0.1 },
        get: |c| Value::Real(c.beta),
        put: |c, v| c.beta = v.real(),
    },
    Knob {
        key: "experts-off",
        label: "experts off",
        symbol: "experts off",
        help: "Ablation: switch every expert off (each token skips the experts), to see what they add.",
        group: Group::Routing,
        live: true,
        advanced: true,
        kind: Kind::Bool,
        control: Control::Auto,
        get: |c| Value::Bool(c.experts_off),
        put: |c, v| c.experts_off = v == Value::Bool(true),
    },
    // ---- training (live) ----
    Knob {
        key: "lr",
        label: "learning rate",
        symbol: "lr",
        help: "How big a step the optimiser (Adam) takes after each batch.",
        group: Group::Training,
        live: true,
        advanced: false,
        kind: real(0.0, 1.0, true, false, Scale::Log),
        control: Control::Slider { min: -4.0, max: -1.0, step: 0.1 },
        get: |c| Value::Real(c.lr),
        put: |c, v| c.lr = v.real(),
    },
    Knob {
        key: "grad-clip",
        label: "gradient clip",
        symbol: "clip",
        help: "Scale the gradient down whenever its overall size exceeds this, to tame wild steps.",
        group: Group::Training,
        live: true,
        advanced: true,
        kind: Kind::Real {
            min: 0.0,
            max: f32::INFINITY,
            min_open: true,
            max_open: true,
            scale: Scale::Log,
            off: Some(Off { word: "none", aliases: &["off", ""], label: "no clipping", restore: 1.0 }),
        },
        control: Control::Field,
        get: |c| c.grad_clip.map(Value::Real).unwrap_or(Value::Off),
        put: |c, v| c.grad_clip = if v == Value::Off { None } else { Some(v.real()) },
    },
    Knob {
        key: "eval-every",
        label: "held-out test every",
        symbol: "eval every",
        help: "Measure the model on examples it never trains on every this many steps (0 = never).",
        group: Group::Training,
        live: true,
        advanced: true,
        kind: Kind::Int { min: 0, max: crate::config::limits::MAX_EVAL_EVERY },
        control: Control::Menu(&[0, 50, 100, 200, 500, 1000]),
        get: |c| Value::Int(c.eval_every as u64),
        put: |c, v| c.eval_every = v.int() as u32,
    },
    // ---- model and data (structural) ----
    Knob {
        key: "dataset",
        label: "data set",
        symbol: "data",
        help: "What the model learns: the next character of mixed text, or the class of 2-D points.",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Choice(datasets),
        control: Control::Auto,
        get: |c| Value::Name(c.dataset.name()),
        put: |c, v| c.dataset = if v.name() == "regions" { Dataset::Regions } else { Dataset::Tokens },
    },
    Knob {
        key: "experts",
        label: "experts E",
        symbol: "E",
        help: "How many experts the layer has.",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int { min: 1, max: crate::config::limits::MAX_EXPERTS as u32 },
        control: Control::Menu(&[2, 4, 8, 16, 32, 64]),
        get: |c| Value::Int(c.experts as u64),
        put: |c, v| c.experts = v.int() as usize,
    },
    Knob {
        key: "hidden",
        label: "expert width H",
        symbol: "H",
        help: "The hidden width of each expert's feed-forward network.",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int { min: 1, max: crate::config::limits::MAX_HIDDEN as u32 },
        control: Control::Menu(&[16, 32, 64, 128, 256, 512]),
        get: |c| Value::Int(c.hidden as u64),
        put: |c, v| c.hidden = v.int() as usize,
    },
    Knob {
        key: "shared",
        label: "shared experts",
        symbol: "shared",
        help: "Experts every token always passes through (gate 1), beside the routed ones (DeepSeekMoE): they \
               learn what all tokens need, so the routed experts can specialise.",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int { min: 0, max: 8 },
        control: Control::Menu(&[0, 1, 2, 4]),
        get: |c| Value::Int(c.shared as u64),
        put: |c, v| c.shared = v.int() as usize,
    },
    Knob {
        key: "granularity",
        label: "fine-grained split m",
        symbol: "m",
        help: "Split each expert into m experts of width H/m and route every token to k·m of them \
               (DeepSeekMoE): the same active compute and parameters, more ways to combine experts.",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int { min: 1, max: 8 },
        control: Control::Menu(&[1, 2, 4, 8]),
        get: |c| Value::Int(c.granularity as u64),
        put: |c, v| c.granularity = v.int() as usize,
    },
    Knob {
        key: "d",
        label: "model width d",
        symbol: "d",
        help: "The length of the vector that stands for each token (what the router and experts read).",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int { min: 1, max: crate::config::limits::MAX_D as u32 },
        control: Control::Menu(&[8, 16, 32, 64, 128]),
        get: |c| Value::Int(c.d as u64),
        put: |c, v| c.d = v.int() as usize,
    },
    Knob {
        key: "tokens",
        label: "tokens per batch T",
        symbol: "T",
        help: "How many tokens each training step learns from.",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int {
            min: crate::config::limits::MIN_TOKENS as u32,
            max: crate::config::limits::MAX_TOKENS as u32,
        },
        control: Control::Menu(&[64, 128, 256, 512, 1024, 2048, 4096]),
        get: |c| Value::Int(c.tokens as u64),
        put: |c, v| c.tokens = v.int() as usize,
    },
    Knob {
        key: "dense-twin",
        label: "model",
        symbol: "model",
        help: "Train a dense model built from these knobs instead of the MoE, to compare (same seed, data and \
               steps).",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Choice(dense_twins),
        control: Control::Auto,
        get: |c| Value::Name(c.dense_twin.name()),
        put: |c, v| {
            c.dense_twin = match v.name() {
                "active" => DenseTwin::Active,
                "total" => DenseTwin::Total,
                _ => DenseTwin::Off,
            }
        },
    },
    Knob {
        key: "init",
        label: "start",
        symbol: "init",
        help: "How the experts start: from random weights, or as copies of a dense model trained first for the \
               dense steps (sparse upcycling).",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Choice(inits),
        control: Control::Auto,
        get: |c| Value::Name(c.init.name()),
        put: |c, v| c.init = if v.name() == "upcycle" { Init::Upcycle } else { Init::Scratch },
    },
    Knob {
        key: "dense-steps",
        label: "dense steps",
        symbol: "dense",
        help: "With start = upcycled: how many steps the dense model trains before it is copied into the experts \
               (they count towards the run's steps).",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int { min: 0, max: crate::config::limits::MAX_DENSE_STEPS },
        control: Control::Menu(&[0, 100, 200, 500, 1000, 2000]),
        get: |c| Value::Int(c.dense_steps as u64),
        put: |c, v| c.dense_steps = v.int() as u32,
    },
    Knob {
        key: "train-examples",
        label: "training examples",
        symbol: "examples",
        help: "How many different training examples the batches are drawn from (0 = all, about 57,000 for text): \
               with a small budget the model sees the same examples again and again and can memorise them.",
        group: Group::Model,
        live: false,
        advanced: true,
        kind: Kind::Int { min: 0, max: crate::config::limits::MAX_TRAIN_EXAMPLES },
        control: Control::Menu(&[0, 512, 2048, 8192]),
        get: |c| Value::Int(c.train_examples as u64),
        put: |c, v| c.train_examples = v.int() as u32,
    },
    Knob {
        key: "seed",
        label: "seed",
        symbol: "seed",
        help: "The random seed of the first weights and of the data.",
        group: Group::Model,
        live: false,
        advanced: false,
        kind: Kind::Int { min: 0, max: u32::MAX },
        control: Control::Field,
        get: |c| Value::Int(c.seed as u64),
        put: |c, v| c.seed = v.int() as u32,
    },
    Knob {
        key: "adam-beta1",
        label: "Adam β1",
        symbol: "β1",
        help: "How much of the previous steps' direction Adam keeps (momentum).",
        group: Group::Model,
        live: false,
        advanced: true,
        kind: real(0.0, 1.0, false, true, Scale::Linear),
        control: Control::Field,
        get: |c| Value::Real(c.adam_beta1),
        put: |c, v| c.adam_beta1 = v.real(),
    },
    Knob {
        key: "adam-beta2",
        label: "Adam β2",
        symbol: "β2",
        help: "How long Adam remembers the size of past gradients.",
        group: Group::Model,
        live: false,
        advanced: true,
        kind: real(0.0, 1.0, false, true, Scale::Linear),
        control: Control::Field,
        get: |c| Value::Real(c.adam_beta2),
        put: |c, v| c.adam_beta2 = v.real(),
    },
    Knob {
        key: "adam-eps",
        label: "Adam ε",
        symbol: "ε",
        help: "A tiny number Adam adds before dividing, so steps stay finite.",
        group: Group::Model,
        live: false,
        advanced: true,
        kind: real(0.0, 1.0, true, false, Scale::Log),
        control: Control::Field,
        get: |c| Value::Real(c.adam_eps),
        put: |c, v| c.adam_eps = v.real(),
    },
];

const fn keys<const N: usize>() -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = KNOBS[i].key;
        i += 1;
    }
    out
}

const KEY_ARRAY: [&str; KNOBS.len()] = keys::<{ KNOBS.len() }>();

/// Every knob's key, in [`KNOBS`] order.
pub const KEYS: &[&str] = &KEY_ARRAY;
