//! Config: every bad value is a typed error naming the field, value and range; URLs round-trip;
//! a broken URL always yields a valid config plus notices; every preset validates.
use moe_playground::config::{capacity, Config, Dataset, LiveKnobs, KEYS};
use moe_playground::presets;

fn field_of(f: impl FnOnce(&mut Config)) -> String {
    let mut c = Config::default();
    f(&mut c);
    let e = c.validate().expect_err("should be invalid");
    let msg = e.to_string();
    assert!(msg.contains(&e.value), "message {msg:?} should show the value");
    e.field.to_string()
}

#[test]
fn bad_values_name_their_field() {
    assert_eq!(field_of(|c| c.top_k = 9), "top-k");
    assert_eq!(field_of(|c| c.top_k = 0), "top-k");
    assert_eq!(field_of(|c| c.experts = 0), "experts");
    assert_eq!(field_of(|c| c.experts = 65), "experts");
    assert_eq!(field_of(|c| c.capacity_factor = 0.0), "capacity-factor");
    assert_eq!(field_of(|c| c.capacity_factor = -1.0), "capacity-factor");
    assert_eq!(field_of(|c| c.capacity_factor = f32::NAN), "capacity-factor");
    assert_eq!(field_of(|c| c.d = 129), "d");
    assert_eq!(field_of(|c| c.hidden = 513), "hidden");
    assert_eq!(field_of(|c| c.tokens = 15), "tokens");
    assert_eq!(field_of(|c| c.tokens = 16385), "tokens");
    assert_eq!(field_of(|c| c.lr = 0.0), "lr");
    assert_eq!(field_of(|c| c.lr = f32::INFINITY), "lr");
    assert_eq!(field_of(|c| c.alpha = -0.1), "alpha");
    assert_eq!(field_of(|c| c.beta = f32::NAN), "beta");
    assert_eq!(field_of(|c| c.adam_beta1 = 1.0), "adam-beta1");
    assert_eq!(field_of(|c| c.adam_eps = 0.0), "adam-eps");
    assert_eq!(field_of(|c| c.grad_clip = Some(0.0)), "grad-clip");
    // k may exceed neither E nor 8.
    let c = Config { experts: 4, top_k: 5, ..Config::default() };
    let e = c.validate().unwrap_err();
    assert_eq!(e.field, "top-k");
    assert!(e.allowed.contains("1..=4"), "{e}");
    // The per-assignment activations must fit a 128 MiB GPU binding.
    let c = Config { tokens: 16384, experts: 8, hidden: 512, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().field, "tokens");
    assert!(Config { tokens: 8192, experts: 8, hidden: 512, ..Config::default() }.validate().is_ok());
    assert!(Config { experts: 1, top_k: 1, ..Config::default() }.validate().is_ok());
}

#[test]
fn set_rejects_malformed_values_without_changing_the_config() {
    let mut c = Config::default();
    for (k, v) in [("top-k", "two"), ("lr", "1e-3x"), ("dataset", "images"), ("capacity-factor", ""), ("nope", "1")] {
        let before = c.clone();
        let e = c.set(k, v).unwrap_err();
        assert!(e.to_string().contains(v) || k == "nope", "{e}");
        assert_eq!(c, before);
    }
    c.set("capacity-factor", "inf").unwrap();
    assert!(c.capacity_factor.is_infinite());
    c.set("grad-clip", "none").unwrap();
    assert_eq!(c.grad_clip, None);
}

#[test]
fn url_round_trips_every_key() {
    let c = Config {
        dataset: Dataset::Regions,
        seed: 42,
        d: 24,
        hidden: 48,
        experts: 6,
        top_k: 2,
        capacity_factor: f32::INFINITY,
        alpha: 0.02,
        beta: 0.001,
        lr: 5e-3,
        tokens: 512,
        grad_clip: Some(1.0),
        experts_off: true,
        ..Config::default()
    };
    let q = c.to_query();
    assert_eq!(Config::from_query(&q).unwrap(), c, "query {q}");
    assert_eq!(Config::default().to_query(), "");
    for k in KEYS {
        assert!(Config::default().get(k).is_some(), "key {k} has no string form");
    }
    // JSON round trip too (the CLI header), including dropless as "inf".
    let j = serde_json::to_string(&c).unwrap();
    assert!(j.contains("\"capacity_factor\":\"inf\"") && j.contains("\"router\":\"softmax-topk\""), "{j}");
    assert_eq!(serde_json::from_str::<Config>(&j).unwrap(), c);
}

#[test]
fn lenient_url_fixes_everything_and_says_what() {
    let (c, notices) =
        Config::from_query_lenient("?top-k=12&experts=4&lr=banana&zzz=1&tokens=3&capacity-factor=-2&d=%33%32");
    assert!(c.validate().is_ok());
    assert_eq!(c.experts, 4);
    assert_eq!(c.top_k, 4, "k is clamped to E");
    assert_eq!(c.lr, Config::default().lr);
    assert_eq!(c.tokens, Config::default().tokens);
    assert_eq!(c.d, 32, "percent-decoded");
    let all = notices.join("\n");
    for word in ["top-k", "lr", "zzz", "tokens", "capacity-factor"] {
        assert!(all.contains(word), "notice should name {word}: {all}");
    }
    let (c, n) = Config::from_query_lenient("&&=&%zz=%&top-k");
    assert!(c.validate().is_ok());
    assert!(!n.is_empty());
}

#[test]
fn capacity_formula() {
    assert_eq!(capacity(1.0, 256, 1, 8), 32);
    assert_eq!(capacity(1.25, 256, 1, 8), 40);
    assert_eq!(capacity(0.5, 256, 1, 8), 16);
    assert_eq!(capacity(1.0, 256, 2, 8), 64);
    assert_eq!(capacity(f32::INFINITY, 256, 2, 8), 256);
    assert_eq!(capacity(1.1, 10, 1, 3), 4);
    assert_eq!(capacity(100.0, 64, 1, 8), 64, "never more than T");
    assert_eq!(Config { experts_off: true, ..Config::default() }.capacity(), 0);
}

#[test]
fn presets_are_valid_and_distinct() {
    let names = presets::names();
    for n in ["balanced", "collapse", "capacity-squeeze", "mixtral", "dropless", "dead-experts"] {
        assert!(names.contains(&n), "missing preset {n}");
    }
    for n in &names {
        let c = presets::config(n).unwrap();
        c.validate().unwrap_or_else(|e| panic!("preset {n}: {e}"));
        assert!(!presets::find(n).unwrap().watch.is_empty());
    }
    assert_eq!(presets::config("collapse").unwrap().alpha, 0.0);
    assert_eq!(presets::config("mixtral").unwrap().top_k, 2);
    assert!(presets::config("dropless").unwrap().capacity_factor.is_infinite());
    assert_eq!(presets::config("dead-experts").unwrap().dataset, Dataset::Regions);
    assert!(presets::config("nope").is_none());
}

/// The dense twins: one expert always used (k = 1, cf = ∞, no router losses) of width k·H or E·H;
/// resolving twice changes nothing; live knobs cannot move a twin's routing; a twin too wide for
/// the limits is refused by name; the key round-trips through the URL.
#[test]
fn dense_twins_resolve_and_validate() {
    use moe_playground::config::DenseTwin;
    let moe = Config { experts: 8, top_k: 2, hidden: 48, alpha: 0.01, beta: 0.001, ..Config::default() };
    let active = Config { dense_twin: DenseTwin::Active, ..moe.clone() }.resolved();
    let total = Config { dense_twin: DenseTwin::Total, ..moe.clone() }.resolved();
    for (twin, width) in [(&active, 96), (&total, 384)] {
        assert_eq!((twin.experts, twin.top_k, twin.hidden), (1, 1, width));
        assert!(twin.capacity_factor.is_infinite() && twin.alpha == 0.0 && twin.beta == 0.0);
        assert_eq!((twin.seed, twin.tokens, twin.d, twin.lr), (moe.seed, moe.tokens, moe.d, moe.lr));
        assert_eq!(&twin.resolved(), twin, "idempotent");
        twin.validate().unwrap();
        let moved = twin.with_live(LiveKnobs { top_k: 2, capacity_factor: 0.5, alpha: 1.0, lr: 0.01, ..twin.live() });
        assert_eq!((moved.top_k, moved.alpha, moved.lr), (1, 0.0, 0.01), "routing pinned, lr live");
        assert!(moved.capacity_factor.is_infinite());
    }
    assert_eq!(moe.resolved(), moe, "dense-twin off is the MoE itself");
    let wide = Config { experts: 16, hidden: 64, dense_twin: DenseTwin::Total, ..Config::default() };
    let e = wide.validate().unwrap_err();
    assert_eq!(e.field, "dense-twin");
    assert!(e.to_string().contains("1024"), "{e}");
    let q = Config { dense_twin: DenseTwin::Active, eval_every: 50, ..Config::default() }.to_query();
    assert_eq!(q, "eval-every=50&dense-twin=active");
    assert_eq!(Config::from_query(&q).unwrap().dense_twin, DenseTwin::Active);
    assert!(Config::from_query("dense-twin=huge").unwrap_err().to_string().contains("off, active or total"));
    assert!(Config::from_query("eval-every=-1").is_err());
    let (c, notes) = Config::from_query_lenient("dense-twin=total&experts=16&hidden=64");
    assert!(c.validate().is_ok() && !notes.is_empty(), "{notes:?}");
}
