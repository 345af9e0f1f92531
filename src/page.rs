//! The live page's pure logic, compiled on every target so native tests cover it: the page's own
//! query keys, the metrics history and its CSV export, the benchmark summary, and how knobs are
//! named, shown and enabled on the page. The page itself (Leptos, canvases, the frame loop) is the
//! wasm-only [`crate::ui`].
use crate::config::{knob, Balance, Config, KNOBS};
use crate::knobs::Knob;
use crate::metrics::Snapshot;
use crate::presets::{Preset, PRESETS};

/// Query keys of the page itself, not of the model.
pub const PAGE_KEYS: &[&str] = &["bench", "steps", "debug"];
/// Default length of a `?bench` run.
pub const BENCH_STEPS: u32 = 600;

/// The page's query split into the model's part and the page's own keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// The query without the page's keys (for [`Config::from_query_lenient`], which names any
    /// unknown key in its notice).
    pub config: String,
    /// `bench`: the number of steps to time (`steps=N`, else [`BENCH_STEPS`]).
    pub bench: Option<u32>,
    /// The value of `debug` (`panic`, `gpu-error`).
    pub debug: Option<String>,
}

/// Split the page's own keys ([`PAGE_KEYS`]) off the query `search` (with or without its `?`).
pub fn page_query(search: &str) -> PageQuery {
    let pairs = crate::config::query_pairs(search);
    let bench = pairs.iter().any(|(k, _)| k == "bench");
    let steps = pairs.iter().find(|(k, _)| k == "steps").and_then(|(_, v)| v.parse::<u32>().ok());
    let debug = pairs.iter().find(|(k, _)| k == "debug").map(|(_, v)| v.clone());
    let config = search
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty() && !PAGE_KEYS.contains(&kv.split('=').next().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("&");
    PageQuery { config, bench: bench.then(|| steps.filter(|&n| n > 0).unwrap_or(BENCH_STEPS)), debug }
}

/// One point of the history charts (and one row of the CSV export).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hist {
    pub step: f32,
    pub ce: f32,
    pub aux: f32,
    pub z: f32,
    pub accuracy: f32,
    pub max_share: f32,
    pub entropy: f32,
    pub cv: f32,
    pub starved: u32,
    pub dropped: f32,
    pub all_dropped: f32,
    /// Share of assignments the router dropped at random (GShard top-2).
    pub random_dropped: f32,
    /// The latest held-out evaluation at this snapshot: (step it followed, CE, accuracy).
    pub eval: Option<(u32, f32, f32)>,
    /// The experts' similarity (mean pairwise cosine of their weights); None with one expert
    /// (the dense warm-up of an upcycled run).
    pub expert_similarity: Option<f32>,
}

/// The columns of the CSV export, one per [`Hist`] field (the evaluation as three).
pub const CSV_HEADER: &str = "step,ce,aux,z,accuracy,max_share,entropy,cv,starved,dropped_share,all_dropped_share,\
                              eval_step,eval_ce,eval_accuracy,random_dropped_share,expert_similarity";

impl Hist {
    /// The history point of a snapshot.
    pub fn of(s: &Snapshot) -> Hist {
        Hist {
            step: s.step as f32,
            ce: s.ce,
            aux: s.aux,
            z: s.z,
            accuracy: s.accuracy,
            max_share: s.max_share,
            entropy: s.entropy,
            cv: s.cv,
            starved: s.starved,
            dropped: s.dropped_share(),
            all_dropped: s.all_dropped_share(),
            random_dropped: s.random_dropped_share(),
            eval: s.eval(),
            expert_similarity: s.expert_similarity,
        }
    }
    /// Its CSV row (columns as [`CSV_HEADER`]; the evaluation's are empty before the first one, the
    /// expert similarity with one expert).
    pub fn csv(&self) -> String {
        let (es, ece, eacc) = match self.eval {
            Some((step, ce, acc)) => (step.to_string(), ce.to_string(), acc.to_string()),
            None => Default::default(),
        };
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{es},{ece},{eacc},{},{}",
            self.step,
            self.ce,
            self.aux,
            self.z,
            self.accuracy,
            self.max_share,
            self.entropy,
            self.cv,
            self.starved,
            self.dropped,
            self.all_dropped,
            self.random_dropped,
            self.expert_similarity.map(|v| v.to_string()).unwrap_or_default()
        )
    }
}

/// Metrics history as CSV: the header and one row per point.
pub fn history_csv(h: &[Hist]) -> String {
    let mut s = String::from(CSV_HEADER);
    s.push('\n');
    for p in h {
        s.push_str(&p.csv());
        s.push('\n');
    }
    s
}

/// Nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The result of a `?bench` run as one JSON object, fields in a fixed, readable order: `steps`
/// trained in `seconds` on `backend` with `tokens` per step; `frames` are the frame times (ms).
pub fn bench_json(backend: &str, steps: u32, seconds: f64, frames: &[f64], tokens: usize) -> String {
    let mut frames = frames.to_vec();
    frames.sort_by(|a, b| a.total_cmp(b));
    let r3 = |v: f64| (v * 1000.0).round() / 1000.0;
    let sps = steps as f64 / seconds.max(1e-9);
    // Written by hand: serde_json's map would sort the fields.
    format!(
        "{{\"backend\":{},\"steps\":{},\"seconds\":{},\"steps_per_s\":{},\"tokens_per_s\":{},\"frame_ms_p50\":{},\
         \"frame_ms_p90\":{},\"frame_ms_p99\":{},\"frames\":{}}}",
        serde_json::Value::from(backend),
        steps,
        r3(seconds),
        r3(sps),
        r3(sps * tokens as f64),
        r3(percentile(&frames, 0.5)),
        r3(percentile(&frames, 0.9)),
        r3(percentile(&frames, 0.99)),
        frames.len()
    )
}

/// Round to two significant digits (the log sliders' values); 0, negatives and non-finite values
/// are kept.
pub fn round2(v: f32) -> f32 {
    if v <= 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f32.powf(v.log10().floor() - 1.0);
    let r = (v / p).round() * p;
    format!("{r:.6}").parse().unwrap_or(r)
}

/// Choices of a structural menu: the usual values plus the current one, in order.
pub fn choices(usual: &[u32], current: u32) -> Vec<u32> {
    let mut v = usual.to_vec();
    if !v.contains(&current) {
        v.push(current);
        v.sort_unstable();
    }
    v
}

/// What the user calls a knob, for notices (its label in the knob table; the key if unknown).
pub fn knob_label(key: &str) -> &str {
    knob(key).map(|k| k.label).unwrap_or(key)
}

/// A knob's value as the page shows it (∞ for dropless).
pub fn shown(k: &Knob, c: &Config) -> String {
    match k.get_str(c).as_str() {
        "inf" => "∞".into(),
        v => v.to_string(),
    }
}

/// Short forms of the live knobs that differ between two configs ("α=0, k=2"), for the charts'
/// change markers.
pub fn live_diff(a: &Config, b: &Config) -> String {
    KNOBS
        .iter()
        .filter(|k| k.live && (k.get)(a) != (k.get)(b))
        .map(|k| format!("{}={}", k.symbol, shown(k, b)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `data-testid` of a knob's control: its key, but `balance-loss` for `balance` (the balance
/// chart is `balance`).
pub fn testid(key: &'static str) -> &'static str {
    match key {
        "balance" => "balance-loss",
        k => k,
    }
}

/// Why knob `key` has no effect in `c`, if it has none (the page disables it and says why).
pub fn inert(key: &str, c: &Config) -> Option<String> {
    let r = c.router.info();
    match (key, r.k) {
        ("alpha", _) if c.balance == Balance::None => Some("no effect without a balance loss".into()),
        ("top-k" | "capacity-factor", _) if !r.capacity => {
            Some("this router sends every token to every expert: nothing is chosen or dropped".into())
        }
        ("top-k", Some(k)) => Some(format!("this router always sends each token to {k} experts")),
        _ => None,
    }
}

/// The expert parameters a config's layer has and uses per token (the FFN weights and biases
/// W1, b1, W2, b2 of each expert; the router is not counted).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpertBudget {
    /// Parameters of the experts a token passes through (expert choice: on average, k·m).
    pub active: usize,
    /// Parameters of every expert.
    pub total: usize,
    /// One plain sentence for the page.
    pub sentence: String,
}

/// [`ExpertBudget`] of `c` (a resolved config: a dense twin is its one expert).
pub fn expert_budget(c: &Config) -> ExpertBudget {
    let (h, d, m) = (c.expert_hidden(), c.d, c.granularity.max(1));
    let per = 2 * h * d + h + d;
    let r = c.router.info();
    let routed = if r.capacity { c.top_k * m } else { c.routed_experts() };
    let active = (routed + c.shared) * per;
    let total = (c.routed_experts() + c.shared) * per;
    let experts = if m > 1 {
        format!("{} fine-grained experts of width {h} ({} split in {m})", c.routed_experts(), c.experts)
    } else {
        format!("{} experts of width {h}", c.routed_experts())
    };
    let shared = if c.shared > 0 { format!(" + {} shared", c.shared) } else { String::new() };
    let per_token = match (r.all_experts, r.capacity) {
        (true, true) => format!("{routed} routed per token on average"),
        (true, false) => "every expert per token".to_string(),
        _ => format!("{routed} routed per token"),
    };
    let sentence =
        format!("{experts}{shared}; {per_token}{shared}: {active} expert parameters used per token, {total} in all.");
    ExpertBudget { active, total, sentence }
}

/// Whether choice `value` of knob `key` can be picked in `c` (a router allows only some balance
/// losses).
pub fn choice_allowed(key: &str, value: &str, c: &Config) -> bool {
    match key {
        "balance" => c.router.info().balances.iter().any(|b| b.name() == value),
        _ => true,
    }
}

/// The preset whose knobs equal `cfg` (seed aside), if any.
pub fn matching_preset(cfg: &Config) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| {
        let mut c = Config { seed: cfg.seed, ..Config::default() };
        (p.apply)(&mut c);
        c == *cfg
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouterKind;

    #[test]
    fn fine_grained_and_shared_keep_the_budget() {
        let base = Config { top_k: 2, ..Config::default() };
        let b = expert_budget(&base);
        // d = 32, H = 64: 2·64·32 + 64 + 32 = 4192 per expert; k = 2 of 8.
        assert_eq!((b.active, b.total), (2 * 4192, 8 * 4192));
        let fine = expert_budget(&Config { granularity: 2, ..base.clone() });
        // 16 experts of width 32: 2·32·32 + 32 + 32 = 2112 each (b2 is per expert: +32 per split).
        assert_eq!((fine.active, fine.total), (4 * 2112, 16 * 2112));
        assert!(fine.sentence.contains("16 fine-grained experts of width 32 (8 split in 2)"), "{}", fine.sentence);
        let shared = expert_budget(&Config { experts: 7, shared: 1, top_k: 1, ..base.clone() });
        assert_eq!((shared.active, shared.total), (2 * 4192, 8 * 4192));
        assert!(shared.sentence.contains("1 shared"), "{}", shared.sentence);
        let dense = expert_budget(&Config { router: RouterKind::from_name("dense-mixture").unwrap(), ..base });
        assert_eq!(dense.active, dense.total);
    }

    #[test]
    fn page_query_splits_off_the_page_keys() {
        let q = page_query("?bench&steps=100&top-k=2&debug=panic&lr=0.01");
        assert_eq!(q, PageQuery { config: "top-k=2&lr=0.01".into(), bench: Some(100), debug: Some("panic".into()) });
        // The page's keys never reach the config; unknown keys do (its notice names them).
        let q = page_query("?steps=5&bogus=1&debug=gpu-error&experts=4");
        assert_eq!(q.config, "bogus=1&experts=4");
        assert_eq!(q.bench, None);
        assert_eq!(q.debug.as_deref(), Some("gpu-error"));
        assert_eq!(page_query("").config, "");
        assert_eq!(page_query("?").config, "");
        assert_eq!(page_query("top-k=2&&lr=1").config, "top-k=2&lr=1");
    }

    #[test]
    fn bench_defaults_to_bench_steps() {
        assert_eq!(page_query("?bench").bench, Some(BENCH_STEPS));
        assert_eq!(page_query("?bench=1&steps=0").bench, Some(BENCH_STEPS));
        assert_eq!(page_query("?bench&steps=lots").bench, Some(BENCH_STEPS));
        assert_eq!(page_query("?bench&steps=42").bench, Some(42));
        assert_eq!(page_query("?top-k=2").bench, None);
    }

    #[test]
    fn csv_rows_have_the_header_columns() {
        let header: Vec<&str> = CSV_HEADER.split(',').collect();
        assert_eq!(header[0], "step");
        for name in ["ce", "eval_step", "eval_ce", "eval_accuracy", "random_dropped_share"] {
            assert!(header.contains(&name), "{name}");
        }
        let before = Hist { step: 15.0, ce: 2.5, starved: 3, ..Default::default() };
        let after = Hist {
            step: 30.0,
            eval: Some((20, 1.25, 0.5)),
            random_dropped: 0.125,
            expert_similarity: Some(0.75),
            ..before.clone()
        };
        let csv = history_csv(&[before, after]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], CSV_HEADER);
        for row in &lines[1..] {
            assert_eq!(row.split(',').count(), header.len(), "{row}");
        }
        let col = |row: &str, name: &str| {
            let i = header.iter().position(|h| *h == name).unwrap();
            row.split(',').nth(i).unwrap().to_string()
        };
        assert_eq!(col(lines[1], "step"), "15");
        assert_eq!(col(lines[1], "ce"), "2.5");
        assert_eq!(col(lines[1], "starved"), "3");
        assert_eq!(col(lines[1], "eval_step"), "");
        assert_eq!(col(lines[2], "eval_step"), "20");
        assert_eq!(col(lines[2], "eval_ce"), "1.25");
        assert_eq!(col(lines[2], "eval_accuracy"), "0.5");
        assert_eq!(col(lines[2], "random_dropped_share"), "0.125");
        assert_eq!(col(lines[1], "expert_similarity"), "");
        assert_eq!(col(lines[2], "expert_similarity"), "0.75");
        assert!(csv.ends_with('\n'));
        assert_eq!(history_csv(&[]), format!("{CSV_HEADER}\n"));
    }

    #[test]
    fn hist_of_a_snapshot() {
        let s = Snapshot {
            step: 40,
            steps: 2,
            tokens: 8,
            ce: 1.5,
            assignments: 16,
            dropped: 4,
            dropped_random: 2,
            all_dropped: 4,
            eval_step: 20,
            eval_ce: 1.75,
            eval_accuracy: 0.25,
            expert_similarity: Some(0.5),
            ..Default::default()
        };
        let h = Hist::of(&s);
        assert_eq!(h.expert_similarity, Some(0.5));
        assert_eq!((h.step, h.ce, h.dropped, h.random_dropped, h.all_dropped), (40.0, 1.5, 0.25, 0.125, 0.25));
        assert_eq!(h.eval, Some((20, 1.75, 0.25)));
        assert_eq!(Hist::of(&Snapshot::default()).eval, None);
    }

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&v, 0.99), 10.0);
        assert_eq!(percentile(&v, 1.0), 10.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 0.5), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn bench_json_fields_in_order() {
        let json = bench_json("gpu (test)", 600, 2.0, &[20.0, 10.0, 30.0, 16.0], 256);
        assert!(json.starts_with("{\"backend\":\"gpu (test)\",\"steps\":600,\"seconds\":2,"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["steps_per_s"], 300.0);
        assert_eq!(v["tokens_per_s"], 76800.0);
        assert_eq!(v["frame_ms_p50"], 16.0);
        assert_eq!(v["frame_ms_p99"], 30.0);
        assert_eq!(v["frames"], 4);
    }

    #[test]
    fn round2_keeps_two_significant_digits() {
        assert_eq!(round2(0.012345), 0.012);
        assert_eq!(round2(1234.0), 1200.0);
        assert_eq!(round2(3.16), 3.2);
        assert_eq!(round2(10f32.powf(-2.5)), 0.0032);
        assert_eq!(round2(0.0), 0.0);
        assert_eq!(round2(-1.0), -1.0);
        assert!(round2(f32::INFINITY).is_infinite());
    }

    #[test]
    fn choices_add_the_current_value_in_order() {
        assert_eq!(choices(&[4, 8, 16], 8), vec![4, 8, 16]);
        assert_eq!(choices(&[4, 8, 16], 6), vec![4, 6, 8, 16]);
        assert_eq!(choices(&[4, 8, 16], 32), vec![4, 8, 16, 32]);
    }

    #[test]
    fn knobs_as_the_page_names_and_shows_them() {
        assert_eq!(testid("balance"), "balance-loss");
        assert_eq!(testid("alpha"), "alpha");
        assert_eq!(knob_label("no-such-knob"), "no-such-knob");
        let mut c = Config::default();
        c.set("capacity-factor", "inf").unwrap();
        assert_eq!(shown(knob("capacity-factor").unwrap(), &c), "∞");
        let mut b = Config::default();
        b.set("alpha", "0").unwrap();
        b.set("top-k", "2").unwrap();
        assert_eq!(live_diff(&Config::default(), &b), "k=2, α=0");
        assert_eq!(live_diff(&b, &b), "");
    }

    #[test]
    fn inert_knobs_and_forbidden_choices() {
        let mut c = Config::default();
        assert_eq!(inert("alpha", &c), None);
        c.balance = Balance::None;
        assert!(inert("alpha", &c).is_some());
        let hash = RouterKind::from_name("hash").unwrap();
        let gshard = RouterKind::from_name("gshard-top2").unwrap();
        let c = Config { router: gshard, ..Config::default() };
        assert!(inert("top-k", &c).unwrap().contains("2 experts"));
        assert!(choice_allowed("balance", "switch", &Config::default()));
        assert!(!choice_allowed("balance", "switch", &Config { router: hash, ..Config::default() }));
        assert!(choice_allowed("dataset", "regions", &Config { router: hash, ..Config::default() }));
    }

    #[test]
    fn each_preset_is_recognised() {
        for p in PRESETS {
            let mut c = Config { seed: 7, ..Config::default() };
            (p.apply)(&mut c);
            assert_eq!(matching_preset(&c).map(|m| m.name), Some(p.name));
        }
        let mut c = Config::default();
        c.set("lr", "0.5").unwrap();
        assert!(matching_preset(&c).is_none());
    }
}
