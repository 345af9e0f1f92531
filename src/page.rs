//! The live page's pure logic, compiled on every target so native tests cover it: the page's own
//! query keys, the metrics history and its CSV export (re-exported from src/history.rs), the
//! benchmark summary, how knobs are named, shown and enabled on the page, and compare mode's run B
//! (its URL keys, its labels, how it follows A). The page itself (Leptos, canvases, the frame loop)
//! is the wasm-only ui module (src/ui/).
pub use crate::cards::CardId;
use crate::config::{Balance, Config};
pub use crate::history::{history_csv, history_csv_runs, push_history, Hist, CSV_HEADER, HIST_MAX};
use crate::knobs::{knob, Knob, KNOBS};
use crate::presets::{Preset, PRESETS};
pub use crate::setting::{follow, Side};

/// Query keys of the page itself, not of the model.
pub const PAGE_KEYS: &[&str] = &["bench", "steps", "debug", "present", "lesson", "engine"];
/// The cards presentation mode shows when nothing else is asked for.
pub const DEFAULT_FOCUS: &[CardId] = &[CardId::Heatmap, CardId::Load, CardId::Losses];
/// The most cards presentation mode shows at once.
pub const MAX_FOCUS: usize = 3;

/// The cards presentation mode shows for the focus `focus`: its cards without repeats, at most
/// [`MAX_FOCUS`]; [`DEFAULT_FOCUS`] when it is empty.
pub fn focused_cards(focus: &[CardId]) -> Vec<CardId> {
    let mut shown: Vec<CardId> = Vec::new();
    for &id in focus {
        if !shown.contains(&id) && shown.len() < MAX_FOCUS {
            shown.push(id);
        }
    }
    if shown.is_empty() {
        DEFAULT_FOCUS.to_vec()
    } else {
        shown
    }
}

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
    /// The value of `debug` (`panic`, `gpu-error`, `caption`).
    pub debug: Option<String>,
    /// `present` (or `present=1`, any value but `0`, `false`, `off`): presentation mode, for a
    /// class in front of a projector.
    pub present: bool,
    /// `lesson=ID`: the lesson to start ([`crate::lessons`]).
    pub lesson: Option<String>,
    /// `engine=main`: train on the page's main thread instead of in a Web Worker (for comparing
    /// the two, and as a way out should a browser's workers misbehave).
    pub main_thread: bool,
}

/// The query key that turns compare mode on (B = A unless `b.KEY=V` keys say otherwise).
pub const COMPARE_KEY: &str = "compare";
/// The prefix of run B's knobs in the query (`b.alpha=0`).
pub const B_PREFIX: &str = "b.";

/// True for the query keys of compare mode ([`COMPARE_KEY`] and `b.*`), which are not A's.
pub fn is_compare_key(key: &str) -> bool {
    key == COMPARE_KEY || key.starts_with(B_PREFIX)
}

/// Split the page's own keys ([`PAGE_KEYS`]) and compare mode's (see [`compare_from_query`]) off
/// the query `search` (with or without its `?`).
pub fn page_query(search: &str) -> PageQuery {
    let pairs = crate::config::query_pairs(search);
    let bench = pairs.iter().any(|(k, _)| k == "bench");
    let steps = pairs.iter().find(|(k, _)| k == "steps").and_then(|(_, v)| v.parse::<u32>().ok());
    let debug = pairs.iter().find(|(k, _)| k == "debug").map(|(_, v)| v.clone());
    let present = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "present")
        .is_some_and(|(_, v)| !matches!(v.as_str(), "0" | "false" | "off"));
    let config = search
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            !kv.is_empty() && !PAGE_KEYS.contains(&key) && !is_compare_key(key)
        })
        .collect::<Vec<_>>()
        .join("&");
    let lesson = pairs.iter().rev().find(|(k, _)| k == "lesson").map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let main_thread = pairs.iter().rev().find(|(k, _)| k == "engine").is_some_and(|(_, v)| v == "main");
    let bench = bench.then(|| steps.filter(|&n| n > 0).unwrap_or(BENCH_STEPS));
    PageQuery { config, bench, debug, present, lesson, main_thread }
}

/// The query `search` (with or without its `?`) with presentation mode on (`present=1`, last) or
/// off (no `present` key); every other key is kept as it is, in its order.
pub fn with_present(search: &str, on: bool) -> String {
    let mut keys: Vec<&str> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("present"))
        .collect();
    if on {
        keys.push("present=1");
    }
    keys.join("&")
}

/// The query `search` with the lesson key set to `id` (last), or without one (None); every other key
/// is kept as it is, in its order.
pub fn with_lesson(search: &str, id: Option<&str>) -> String {
    let mut keys: Vec<String> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("lesson"))
        .map(String::from)
        .collect();
    if let Some(id) = id {
        keys.push(format!("lesson={id}"));
    }
    keys.join("&")
}

/// The lesson of `lesson=ID`, or a notice naming the known ones.
pub fn lesson_of(id: &str) -> Result<&'static crate::lessons::Lesson, String> {
    crate::lessons::find(id).ok_or_else(|| {
        format!("there is no lesson called “{id}”; the lessons are: {}", crate::lessons::ids().join(", "))
    })
}

/// Whether the page's query `search` (with or without its `?`) skips the start panel: any key at
/// all — a deep link to a lesson, compare mode, a knob, `present`, `bench`, `debug` — opens the page
/// directly, as it was shared; only a plain visit (no query, or an empty one) shows the start panel.
pub fn skips_start(search: &str) -> bool {
    search.trim_start_matches('?').split('&').any(|kv| !kv.is_empty())
}

/// One lesson as the start panel offers it: a card a teacher picks from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartLesson {
    /// The lesson's id (what the card starts).
    pub id: &'static str,
    pub title: &'static str,
    /// What the lesson asks, in plain words ([`crate::lessons::Lesson::teaser`]).
    pub teaser: &'static str,
    /// The step its last beat ends at ([`crate::lessons::Lesson::end`]).
    pub steps: u32,
    /// How many times it pauses with a question for the class.
    pub questions: usize,
}

/// The lessons the start panel offers: every lesson, in teaching order.
pub fn start_lessons() -> Vec<StartLesson> {
    crate::lessons::LESSONS
        .iter()
        .map(|l| StartLesson {
            id: l.id,
            title: l.title,
            teaser: l.teaser,
            steps: l.end(),
            questions: l.beats.iter().filter(|b| b.question.is_some()).count(),
        })
        .collect()
}

/// How much slower per step a lesson trains than the page's single run: it trains two runs side
/// by side (on WebGPU 63 against 36 steps/s, README; a little less on the processor, where B has a
/// worker of its own), so the estimate errs on the long side.
pub const LESSON_SLOWDOWN: f32 = 2.0;

/// A lesson's length on a start card: its steps, and with the page's measured speed `rate` (steps
/// per second of the single run training now; 0 or less before it is known) about how long its
/// training takes on this device ("900 steps · about 30 s here"; pauses for questions not counted).
pub fn lesson_length(steps: u32, rate: f32) -> String {
    if !(rate > 0.0 && rate.is_finite()) {
        return format!("{steps} steps");
    }
    let secs = steps as f32 * LESSON_SLOWDOWN / rate;
    let about = if secs < 55.0 {
        format!("{} s", ((secs / 10.0).round() * 10.0).max(10.0))
    } else if secs < 90.0 {
        "1 min".into()
    } else {
        format!("{} min", (secs / 60.0).round())
    };
    format!("{steps} steps · about {about} here")
}

/// A lasting message above the page: plain words, and optionally the technical details behind them
/// (shown folded, for whoever helps with the setup).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Banner {
    /// What happened and what to do, for a teacher.
    pub text: String,
    /// The same in one line, for presentation mode (which folds `text` away with the details).
    pub short: String,
    /// The raw error, if any.
    pub details: Option<String>,
}

/// Where the model trains, as the session tells the page: starting (the trainer is being built),
/// on the GPU or on the CPU, each with the trainer's own label (its `backend()`: the adapter's
/// name, "cpu reference…"), for whoever helps with the setup.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum TrainsOn {
    #[default]
    Starting,
    Gpu(String),
    Cpu(String),
}

/// What the header says about where the model trains ([`TrainsOn::words`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendWords {
    /// Plain words for a class: "Training on the graphics chip (WebGPU)", "Training on the
    /// processor" or "Starting…"; no adapter or type names.
    pub text: &'static str,
    /// Whether it trains on the GPU (the badge's colour).
    pub gpu: bool,
    /// The trainer's label, for whoever helps with the setup (behind the badge's "details"); None
    /// while starting.
    pub details: Option<String>,
}

impl TrainsOn {
    /// The header's words for it.
    pub fn words(&self) -> BackendWords {
        match self {
            TrainsOn::Starting => BackendWords { text: "Starting…", gpu: false, details: None },
            TrainsOn::Gpu(label) => {
                BackendWords { text: "Training on the graphics chip (WebGPU)", gpu: true, details: Some(label.clone()) }
            }
            TrainsOn::Cpu(label) => {
                BackendWords { text: "Training on the processor", gpu: false, details: Some(label.clone()) }
            }
        }
    }
}

/// The browser family a page runs in, read from its user-agent string: the no-WebGPU banner tells
/// the reader of *this* browser what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Browser {
    /// Google Chrome, Chromium and other Chromium browsers but Edge.
    Chrome,
    /// Microsoft Edge (Chromium).
    Edge,
    /// Mozilla Firefox (any platform; Firefox for iOS is WebKit and reads as Safari).
    Firefox,
    /// Safari on macOS, iOS and iPadOS (every iOS browser is WebKit too).
    Safari,
    /// A WebKit browser on Linux (GNOME Web, WebKitGTK's MiniBrowser, …).
    WebKitLinux,
    /// Anything else.
    Other,
}

impl Browser {
    /// The family of the user-agent string `ua` (`navigator.userAgent`).
    pub fn from_user_agent(ua: &str) -> Browser {
        let has = |s: &str| ua.contains(s);
        if has("Firefox/") && !has("Seamonkey/") {
            Browser::Firefox
        } else if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
            Browser::Edge
        } else if has("CriOS/") || has("FxiOS/") || (has("AppleWebKit/") && (has("iPhone") || has("iPad"))) {
            // Every browser on iOS and iPadOS runs WebKit: what Safari can do, they can.
            Browser::Safari
        } else if has("Chrome/") || has("Chromium/") {
            Browser::Chrome
        } else if has("AppleWebKit/") && (has("Linux") || has("X11")) && !has("Android") {
            Browser::WebKitLinux
        } else if has("AppleWebKit/") && has("Safari/") && has("Version/") {
            Browser::Safari
        } else {
            Browser::Other
        }
    }
}

/// Which browsers have WebGPU built in: one sentence, the same in every banner.
const WEBGPU_BROWSERS: &str = "WebGPU is built into Chrome and Edge 113 or newer on Windows, macOS and ChromeOS; \
     Chrome 121 or newer on Android; Safari 26 on macOS, iOS and iPadOS; Firefox 141 or newer on Windows.";

/// The banner of a browser without WebGPU: `err` is the adapter search's error, `tokens` the
/// smaller batch the CPU trains with, `browser` the reader's browser (what to do depends on it).
pub fn no_webgpu_banner(err: &str, tokens: usize, browser: Browser) -> Banner {
    let what_to_do = match browser {
        Browser::Chrome | Browser::Edge => {
            let (name, flags) = if browser == Browser::Edge { ("Edge", "edge") } else { ("Chrome", "chrome") };
            format!(
                "In {name} on Linux it has to be switched on: open {flags}://flags/#enable-unsafe-webgpu, choose \
                 Enabled and restart {name} (older versions also need {flags}://flags/#enable-vulkan). Elsewhere, \
                 update {name} and check that hardware acceleration is on (Settings, System, \"Use graphics \
                 acceleration when available\"), then reload this page."
            )
        }
        Browser::Firefox => "In Firefox it is on by itself from version 141 on Windows and on newer Macs; elsewhere \
             switch it on: type about:config in the address bar, accept the warning, search for dom.webgpu.enabled, \
             set it to true, then reload this page. If this message is still here, Firefox keeps WebGPU off for this \
             computer's graphics driver; setting gfx.webgpu.ignore-blocklist to true as well overrides that, at your \
             own risk."
            .to_string(),
        Browser::Safari => "Safari has it from version 26: update macOS, iOS or iPadOS to 26 or newer and reload this \
             page. In Safari 18 it can be switched on by hand: Develop menu (or, on iPhone and iPad, Settings, Apps, \
             Safari, Advanced), Feature Flags, WebGPU."
            .to_string(),
        Browser::WebKitLinux => "This WebKit browser on Linux (such as GNOME Web) does not offer WebGPU: to train on \
             the graphics chip, open this page in Chrome or Firefox with WebGPU switched on (Chrome: \
             chrome://flags/#enable-unsafe-webgpu; Firefox: about:config, dom.webgpu.enabled)."
            .to_string(),
        Browser::Other => "Update the browser, or open this page in one of those, check that hardware acceleration \
             is on, then reload this page."
            .to_string(),
    };
    let text = format!(
        "This browser has no WebGPU, or it is switched off, so the model trains on the computer's processor \
         instead of its graphics chip: the same math with a smaller batch (T = {tokens} tokens per step), only slower. \
         {WEBGPU_BROWSERS} {what_to_do}"
    );
    let short = format!(
        "No WebGPU in this browser: training on the processor instead (same math, {tokens} tokens per step, slower)."
    );
    let details = err.trim();
    Banner { text, short, details: (!details.is_empty()).then(|| details.to_string()) }
}

/// Run B's knobs that differ from A's, as `b.KEY=VALUE` pairs joined by `&` (empty when B = A).
/// [`compare_from_query`] reads them back onto A: when B names another router, every key its
/// defaults would otherwise overwrite is written too, so the round trip gives B exactly.
pub fn b_query(a: &Config, b: &Config) -> String {
    let mut keys: Vec<&'static str> = KNOBS.iter().filter(|k| (k.get)(a) != (k.get)(b)).map(|k| k.key).collect();
    // Reading back applies the router's defaults to the keys not named: name those it changes.
    for _ in 0..KNOBS.len() {
        let back = b_from_keys(a, b, &keys);
        let missing: Vec<&'static str> =
            KNOBS.iter().filter(|k| (k.get)(&back) != (k.get)(b) && !keys.contains(&k.key)).map(|k| k.key).collect();
        if missing.is_empty() {
            break;
        }
        keys.extend(missing);
    }
    KNOBS
        .iter()
        .filter(|k| keys.contains(&k.key))
        .map(|k| format!("{B_PREFIX}{}={}", k.key, k.get_str(b)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What [`compare_from_query`] makes of B's `keys` (values from `b`) on a copy of `a`.
fn b_from_keys(a: &Config, b: &Config, keys: &[&'static str]) -> Config {
    let mut c = a.clone();
    for k in KNOBS.iter().filter(|k| keys.contains(&k.key)) {
        (k.put)(&mut c, (k.get)(b));
    }
    if keys.contains(&"router") {
        c.with_router(c.router, keys);
    }
    c
}

/// The whole query of the page's state: A's config, then with compare mode on [`COMPARE_KEY`] and
/// B's differences ([`b_query`]).
pub fn full_query(a: &Config, b: Option<&Config>) -> String {
    let mut parts: Vec<String> = vec![a.to_query()];
    if let Some(b) = b {
        parts.push(COMPARE_KEY.into());
        parts.push(b_query(a, b));
    }
    parts.retain(|p| !p.is_empty());
    parts.join("&")
}

/// Compare mode from the query: on when it has [`COMPARE_KEY`] (B = A) or any `b.KEY=V` (each set
/// on a copy of `a` as [`Config::set`] does; a `b.router` brings that router's defaults for the
/// keys not named, as for A). Returns B (None = compare off) and a notice for each key or value it
/// ignored; a B that does not validate leaves compare mode off, with a notice saying why.
pub fn compare_from_query(query: &str, a: &Config) -> (Option<Config>, Vec<String>) {
    let pairs = crate::config::query_pairs(query);
    let flag = pairs.iter().any(|(k, v)| k == COMPARE_KEY && !matches!(v.as_str(), "0" | "false" | "off" | "no"));
    let mut b = a.clone();
    let mut named: Vec<&'static str> = Vec::new();
    let mut notices = Vec::new();
    let mut any = false;
    for (k, v) in &pairs {
        let Some(key) = k.strip_prefix(B_PREFIX) else { continue };
        any = true;
        match knob(key) {
            None => notices.push(format!("compare mode: ignored {k}: there is no setting called {key:?}")),
            Some(kn) => match b.set(kn.key, v) {
                Ok(()) => named.push(kn.key),
                Err(e) => notices.push(format!("compare mode: ignored run B's {e}")),
            },
        }
    }
    if !flag && !any {
        return (None, notices);
    }
    if named.contains(&"router") {
        b.with_router(b.router, &named);
    }
    match b.validate() {
        Ok(()) => (Some(b), notices),
        Err(e) => {
            notices.push(format!("compare mode stays off: run B's settings do not work together ({e})"));
            (None, notices)
        }
    }
}

/// The knobs in which B differs from A, in the knob table's order.
pub fn differing(a: &Config, b: &Config) -> Vec<&'static Knob> {
    KNOBS.iter().filter(|k| (k.get)(a) != (k.get)(b)).collect()
}

/// What tells the runs apart, one label each: ("A: α = 0.01", "B: α = 0"), several knobs joined
/// with " · " (their short symbols and shown values); "A: same config" / "B: same config" when B = A.
pub fn diff_label(a: &Config, b: &Config) -> (String, String) {
    let keys = differing(a, b);
    if keys.is_empty() {
        return ("A: same config".into(), "B: same config".into());
    }
    let side =
        |c: &Config| keys.iter().map(|k| format!("{} = {}", k.symbol, shown(k, c))).collect::<Vec<_>>().join(" · ");
    (format!("A: {}", side(a)), format!("B: {}", side(b)))
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
    #[test]
    fn a_plain_visit_shows_the_start_panel_and_a_deep_link_skips_it() {
        for plain in ["", "?", "?&", "&"] {
            assert!(!skips_start(plain), "{plain:?}");
        }
        for deep in
            ["?lesson=z-loss", "?compare", "?top-k=2", "?present", "present=1", "?bench", "?debug=caption", "?&seed=3"]
        {
            assert!(skips_start(deep), "{deep:?}");
        }
    }

    #[test]
    fn the_start_panel_offers_every_lesson_with_its_teaser_and_length() {
        let cards = start_lessons();
        assert_eq!(cards.iter().map(|c| c.id).collect::<Vec<_>>(), crate::lessons::ids());
        let first = cards[0];
        assert_eq!((first.id, first.steps, first.questions), ("balance-loss", 900, 1));
        assert!(cards.iter().all(|c| !c.teaser.is_empty() && c.steps > 0));
        assert_eq!(lesson_length(900, 0.0), "900 steps");
        assert_eq!(lesson_length(900, f32::NAN), "900 steps");
        // Two runs at half the single run's speed: 900 steps at 60 steps/s take about 30 s.
        assert_eq!(lesson_length(900, 60.0), "900 steps · about 30 s here");
        assert_eq!(lesson_length(600, 200.0), "600 steps · about 10 s here");
        assert_eq!(lesson_length(1500, 40.0), "1500 steps · about 1 min here");
        assert_eq!(lesson_length(1500, 10.0), "1500 steps · about 5 min here");
    }

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
        let q = page_query("?bench&steps=100&top-k=2&debug=panic&lr=0.01&engine=main");
        assert_eq!(
            q,
            PageQuery {
                config: "top-k=2&lr=0.01".into(),
                bench: Some(100),
                debug: Some("panic".into()),
                present: false,
                lesson: None,
                main_thread: true,
            }
        );
        assert!(!page_query("?engine=worker").main_thread);
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
    fn focus_picks_two_or_three_known_cards() {
        use CardId::{Drops, Load};
        assert_eq!(focused_cards(&[]), DEFAULT_FOCUS);
        assert_eq!(focused_cards(&[Load, Drops]), [Load, Drops]);
        assert_eq!(focused_cards(&[Load, Load, Drops]), [Load, Drops]);
        assert_eq!(focused_cards(&CardId::ALL), CardId::ALL[..MAX_FOCUS]);
    }

    #[test]
    fn lesson_from_the_query() {
        let q = page_query("?lesson=z-loss&present&top-k=2");
        assert_eq!(q.lesson.as_deref(), Some("z-loss"));
        assert_eq!(q.config, "top-k=2");
        assert_eq!(page_query("?lesson=").lesson, None);
        assert_eq!(lesson_of("z-loss").unwrap().id, "z-loss");
        let err = lesson_of("nope").map(|l| l.id).unwrap_err();
        assert!(err.contains("“nope”") && crate::lessons::ids().iter().all(|id| err.contains(id)), "{err}");
        assert_eq!(with_lesson("?top-k=2&lesson=a&present=1", Some("z-loss")), "top-k=2&present=1&lesson=z-loss");
        assert_eq!(with_lesson("top-k=2&lesson=a", None), "top-k=2");
        assert_eq!(page_query(&with_lesson("experts=4", Some("overfitting"))).lesson.as_deref(), Some("overfitting"));
    }

    #[test]
    fn present_mode_from_the_query() {
        for on in ["?present", "?present=1", "present=true&top-k=2", "?top-k=2&present"] {
            let q = page_query(on);
            assert!(q.present, "{on}");
            assert!(!q.config.contains("present"), "{on}: {}", q.config);
        }
        for off in ["", "?present=0", "?present=false", "?top-k=2", "?present&present=0"] {
            assert!(!page_query(off).present, "{off}");
        }
        assert_eq!(page_query("?present&debug=caption").debug.as_deref(), Some("caption"));
    }

    #[test]
    fn the_present_toggle_keeps_the_other_keys() {
        assert_eq!(with_present("?top-k=2&lr=0.01", true), "top-k=2&lr=0.01&present=1");
        assert_eq!(with_present("top-k=2&present=1&lr=0.01", false), "top-k=2&lr=0.01");
        assert_eq!(with_present("?present&top-k=2", true), "top-k=2&present=1");
        assert_eq!(with_present("", true), "present=1");
        assert_eq!(with_present("?", false), "");
        // A key that merely starts with "present" is not it.
        assert_eq!(with_present("presently=3", false), "presently=3");
        // What the toggle writes reads back the same.
        assert!(page_query(&with_present("experts=4", true)).present);
        assert_eq!(page_query(&with_present("experts=4", true)).config, "experts=4");
    }

    /// User-agent strings as the browsers send them.
    const UAS: [(&str, Browser); 10] = [
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", Browser::Chrome),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", Browser::Chrome),
        ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", Browser::Chrome),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0", Browser::Edge),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0", Browser::Firefox),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Safari/605.1.15", Browser::Safari),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1", Browser::Safari),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1", Browser::Safari),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15", Browser::WebKitLinux),
        ("Lynx/2.9.0 libwww-FM/2.14", Browser::Other),
    ];

    #[test]
    fn browsers_are_told_apart_by_their_user_agent() {
        for (ua, want) in UAS {
            assert_eq!(Browser::from_user_agent(ua), want, "{ua}");
        }
    }

    #[test]
    fn the_backend_in_plain_words() {
        let gpu = TrainsOn::Gpu("gpu: WebGPU adapter (BrowserWebGpu)".into()).words();
        assert_eq!(gpu.text, "Training on the graphics chip (WebGPU)");
        assert!(gpu.gpu);
        // The adapter stays in the details, word for word.
        assert_eq!(gpu.details.as_deref(), Some("gpu: WebGPU adapter (BrowserWebGpu)"));
        for cpu in ["cpu reference", "cpu reference (run B in a worker of its own)"] {
            let w = TrainsOn::Cpu(cpu.into()).words();
            assert_eq!((w.text, w.gpu, w.details.as_deref()), ("Training on the processor", false, Some(cpu)));
        }
        assert_eq!(TrainsOn::Starting.words(), BackendWords { text: "Starting…", gpu: false, details: None });
        // No adapter, backend or Rust type names in what the class reads.
        let all =
            [TrainsOn::Gpu("gpu: llvmpipe (Vulkan)".into()), TrainsOn::Cpu("cpu reference".into()), TrainsOn::Starting];
        for on in all {
            let text = on.words().text;
            for jargon in ["adapter", "Browser", "Vulkan", "llvmpipe", "reference", "gpu", "cpu"] {
                assert!(!text.contains(jargon), "{jargon}: {text}");
            }
        }
    }

    #[test]
    fn no_webgpu_banner_in_plain_words() {
        let err = "No WebGPU adapter (noop not requested, vulkan not requested)";
        for (_, browser) in UAS {
            let b = no_webgpu_banner(err, 64, browser);
            // The raw error goes to the details only.
            assert_eq!(b.details.as_deref(), Some(err));
            assert!(!b.text.contains("noop") && !b.text.contains("adapter"), "{}", b.text);
            // Every banner says what happens and which browsers have WebGPU.
            for needed in [
                "no WebGPU",
                "switched off",
                "T = 64",
                "slower",
                "same math",
                "Chrome and Edge 113",
                "Windows, macOS and ChromeOS",
                "Android",
                "Safari 26",
                "Firefox 141",
            ] {
                assert!(
                    b.text.to_lowercase().contains(&needed.to_lowercase()),
                    "{browser:?} banner lacks {needed:?}: {}",
                    b.text
                );
            }
            // No Rust or wgpu words a teacher would not know.
            for jargon in ["Err", "wgpu", "CpuTrainer", "Backend", "None", "RequestAdapter"] {
                assert!(!b.text.contains(jargon), "{jargon}: {}", b.text);
            }
            assert!(b.short.contains("No WebGPU") && b.short.contains("64") && b.short.len() < 120, "{}", b.short);
            // And what to do next: reload once it is switched on, or (no WebGPU to switch on) open
            // the page in another browser.
            let next = if browser == Browser::WebKitLinux {
                "open this page in Chrome or Firefox"
            } else {
                "reload this page"
            };
            assert!(b.text.contains(next), "{browser:?} banner lacks {next:?}: {}", b.text);
        }
        // What to do is this browser's: its own settings, never another browser's.
        let text = |browser| no_webgpu_banner(err, 64, browser).text;
        let chrome = text(Browser::Chrome);
        assert!(
            chrome.contains("chrome://flags/#enable-unsafe-webgpu") && chrome.contains("chrome://flags/#enable-vulkan")
        );
        assert!(!chrome.contains("about:config"), "{chrome}");
        let edge = text(Browser::Edge);
        assert!(edge.contains("edge://flags/#enable-unsafe-webgpu") && !edge.contains("chrome://"), "{edge}");
        let firefox = text(Browser::Firefox);
        assert!(firefox.contains("about:config") && firefox.contains("dom.webgpu.enabled") && firefox.contains("true"));
        assert!(firefox.contains("gfx.webgpu.ignore-blocklist"), "{firefox}");
        assert!(!firefox.contains("flags"), "{firefox}");
        let safari = text(Browser::Safari);
        assert!(safari.contains("Feature Flags") && safari.contains("update macOS, iOS or iPadOS"), "{safari}");
        assert!(!safari.contains("about:config") && !safari.contains("://flags"), "{safari}");
        let webkit = text(Browser::WebKitLinux);
        assert!(webkit.contains("does not offer WebGPU") && webkit.contains("Chrome or Firefox"), "{webkit}");
        assert_eq!(no_webgpu_banner("  ", 64, Browser::Chrome).details, None);
    }

    #[test]
    fn compare_keys_stay_out_of_the_config() {
        let q = page_query("?tokens=64&compare&b.alpha=0&b.top-k=2&lr=0.01");
        assert_eq!(q.config, "tokens=64&lr=0.01");
        let (a, notices) = Config::from_query_lenient(&q.config);
        assert!(notices.is_empty(), "{notices:?}");
        let (b, notices) = compare_from_query("?tokens=64&compare&b.alpha=0&b.top-k=2&lr=0.01", &a);
        assert!(notices.is_empty(), "{notices:?}");
        let b = b.unwrap();
        assert_eq!((b.alpha, b.top_k, b.tokens, b.lr), (0.0, 2, 64, 0.01));
    }

    #[test]
    fn b_query_round_trips() {
        let a = Config { tokens: 64, ..Config::default() };
        let mut b = a.clone();
        assert_eq!(b_query(&a, &b), "");
        assert_eq!(compare_from_query("compare", &a), (Some(a.clone()), vec![]));
        assert_eq!(compare_from_query("tokens=64", &a), (None, vec![]));
        assert_eq!(compare_from_query("compare=off", &a), (None, vec![]));
        b.set("alpha", "0").unwrap();
        b.set("experts", "4").unwrap();
        b.set("capacity-factor", "inf").unwrap();
        assert_eq!(b_query(&a, &b), "b.capacity-factor=inf&b.alpha=0&b.experts=4");
        assert_eq!(compare_from_query(&b_query(&a, &b), &a), (Some(b.clone()), vec![]));
        assert_eq!(full_query(&a, Some(&b)), "tokens=64&compare&b.capacity-factor=inf&b.alpha=0&b.experts=4");
        assert_eq!(full_query(&a, Some(&a)), "tokens=64&compare");
        assert_eq!(full_query(&a, None), "tokens=64");
        assert_eq!(full_query(&Config::default(), Some(&Config::default())), "compare");
        // Another router whose defaults would overwrite B's own α: α is written too.
        let mut c = a.clone();
        c.with_router(RouterKind::from_name("aux-free").unwrap(), &[]);
        c.alpha = 0.01;
        c.validate().unwrap();
        let q = b_query(&a, &c);
        assert!(q.contains("b.router=aux-free") && q.contains("b.alpha=0.01"), "{q}");
        assert_eq!(compare_from_query(&q, &a).0, Some(c));
        // A router named alone brings its defaults, as for A.
        let (h, notices) = compare_from_query("b.router=hash", &a);
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(h.unwrap().balance, Balance::None);
    }

    #[test]
    fn bad_b_keys_are_named_and_safe() {
        let a = Config::default();
        let (b, notices) = compare_from_query("b.bogus=1&b.lr=banana&b.alpha=0", &a);
        assert_eq!(b.as_ref().map(|b| (b.alpha, b.lr)), Some((0.0, a.lr)));
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(notices[0].contains("b.bogus"), "{}", notices[0]);
        assert!(notices[1].contains("lr") && notices[1].contains("banana"), "{}", notices[1]);
        // A B that does not validate leaves compare mode off and says why.
        let (b, notices) = compare_from_query("b.top-k=8&b.experts=2", &a);
        assert_eq!(b, None);
        assert!(notices.last().unwrap().contains("compare mode stays off"), "{notices:?}");
        let (b, notices) = compare_from_query("b.=1&b.seed=", &a);
        assert_eq!(b, Some(a.clone()));
        assert_eq!(notices.len(), 2, "{notices:?}");
    }

    #[test]
    fn b_follows_a_but_keeps_its_differences() {
        let a = Config::default();
        let b = Config { alpha: 0.0, ..a.clone() };
        let next_a = Config { lr: 0.01, alpha: 0.1, ..a.clone() };
        assert_eq!(follow(&a, &b, &next_a), Ok(Config { lr: 0.01, alpha: 0.0, ..a.clone() }));
        let b = Config { top_k: 4, ..a.clone() };
        assert!(follow(&a, &b, &Config { experts: 2, ..a.clone() }).is_err());
        assert_eq!(differing(&a, &b).iter().map(|k| k.key).collect::<Vec<_>>(), vec!["top-k"]);
    }

    #[test]
    fn diff_labels_name_what_differs() {
        let a = Config::default();
        assert_eq!(diff_label(&a, &a), ("A: same config".to_string(), "B: same config".to_string()));
        let b = Config { alpha: 0.0, ..a.clone() };
        assert_eq!(diff_label(&a, &b), ("A: α = 0.01".to_string(), "B: α = 0".to_string()));
        let b = Config { alpha: 0.0, capacity_factor: f32::INFINITY, seed: 2, ..a.clone() };
        assert_eq!(
            diff_label(&a, &b),
            ("A: cf = 1.25 · α = 0.01 · seed = 1".into(), "B: cf = ∞ · α = 0 · seed = 2".into())
        );
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
