//! Config: every bad value is a typed error naming the field, value and range; URLs round-trip;
//! a broken URL always yields a valid config plus notices; every preset validates.
use moe_playground::config::{capacity, Config, Dataset, LiveKnobs};
use moe_playground::knobs::KEYS;
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

// ---- the knob table ----

use moe_playground::config::{Balance, RouterKind};
use moe_playground::knobs::{knob, Group, Kind, Value, KNOBS};
use moe_playground::model::routers::ROUTERS;

/// String forms of valid values of a knob (its default among them), for round trips.
fn samples(k: &moe_playground::knobs::Knob) -> Vec<String> {
    let mut out = vec![k.get_str(&Config::default())];
    match k.kind {
        Kind::Int { min, max } => out.extend([min, max, min + (max - min) / 2].map(|n| n.to_string())),
        Kind::Real { off, .. } => {
            for x in [0.0f32, 0.001, 0.05, 0.5, 0.9, 1.0, 2.5, 100.0] {
                if k.admits(Value::Real(x)) {
                    out.push(format!("{x}"));
                }
            }
            out.extend(off.map(|o| o.word.to_string()));
        }
        Kind::Choice(_) => out.extend(k.choices().iter().map(|c| c.value.to_string())),
        Kind::Bool => out.extend(["true".to_string(), "false".to_string()]),
    }
    out
}

#[test]
fn every_knob_round_trips_set_and_get() {
    assert_eq!(KEYS.len(), KNOBS.len());
    for (key, k) in KEYS.iter().zip(KNOBS) {
        assert_eq!(*key, k.key);
        assert_eq!(knob(key).map(|k| k.key), Some(*key));
        let values = samples(k);
        assert!(values.len() >= 3, "{key}: {values:?}");
        for v in values {
            let mut c = Config::default();
            c.set(key, &v).unwrap_or_else(|e| panic!("{key} = {v}: {e}"));
            assert_eq!(c.get(key).as_deref(), Some(v.as_str()), "{key}");
            assert!(k.admits((k.get)(&c)), "{key} = {v} is in its own range");
            let again = c.clone();
            c.set(key, &c.get(key).unwrap()).unwrap();
            assert_eq!(c, again, "{key}: set(get()) changes nothing");
        }
    }
    let keys: std::collections::HashSet<_> = KEYS.iter().collect();
    assert_eq!(keys.len(), KEYS.len(), "keys are unique");
}

#[test]
fn every_knob_is_described_for_people() {
    for k in KNOBS {
        assert!(!k.label.trim().is_empty() && k.label.len() <= 24, "{}: label {:?}", k.key, k.label);
        assert!(!k.symbol.trim().is_empty(), "{}", k.key);
        assert!(k.help.len() > 20 && k.help.ends_with('.'), "{}: help {:?}", k.key, k.help);
        assert!(k.help.chars().next().is_some_and(char::is_uppercase), "{}: {:?}", k.key, k.help);
        for word in ["RouterKind", "DropPolicy", "Config", "f32", "usize", "Option"] {
            assert!(!k.help.contains(word) && !k.label.contains(word), "{}: {word}", k.key);
        }
        for c in k.choices() {
            assert!(!c.label.is_empty() && !c.help.is_empty(), "{} = {}", k.key, c.value);
        }
        assert!(!k.allowed().is_empty());
    }
}

/// Live knobs move a running model (`same_structure`), structural ones rebuild it; every group is
/// one or the other (the page's panels). The one exception: the router is live, except a switch
/// that changes the buffers (a router that gives every token a rank per expert — expert choice, the
/// dense mixture — when E > k_max; the dense mixture's competitive-loss buffers).
#[test]
fn live_flags_match_the_config() {
    let def = Config::default();
    for k in KNOBS {
        for v in samples(k) {
            let mut c = def.clone();
            c.set(k.key, &v).unwrap();
            if c != def {
                let buffers_differ =
                    c.rank_slots() != def.rank_slots() || c.router.info().capacity != def.router.info().capacity;
                let rebuilds = k.key == "router" && buffers_differ;
                assert_eq!(def.same_structure(&c), k.live && !rebuilds, "{} = {v}", k.key);
            }
        }
    }
    for g in Group::ALL {
        let live: Vec<bool> = KNOBS.iter().filter(|k| k.group == g).map(|k| k.live).collect();
        assert!(!live.is_empty() && live.iter().all(|&l| l == live[0]), "{g:?}");
    }
}

/// Range checks come from the table: just outside each range, `validate` names the knob.
#[test]
fn validate_checks_every_knob_range() {
    for k in KNOBS {
        let outside: Vec<Value> = match k.kind {
            Kind::Int { min, max } => {
                // (A u32 field cannot hold more than u32::MAX.)
                let mut v = if max < u32::MAX { vec![Value::Int(max as u64 + 1)] } else { vec![] };
                if min > 0 {
                    v.push(Value::Int(min as u64 - 1));
                }
                v
            }
            Kind::Real { min, max, min_open, max_open, .. } => {
                let mut v = vec![Value::Real(f32::NAN), Value::Real(min - 1.0)];
                if min_open {
                    v.push(Value::Real(min));
                }
                if max.is_finite() {
                    v.push(Value::Real(max + 1.0));
                    if max_open {
                        v.push(Value::Real(max));
                    }
                }
                v
            }
            _ => vec![],
        };
        for v in outside {
            let mut c = Config::default();
            (k.put)(&mut c, v);
            let e = c.validate().expect_err(k.key);
            assert_eq!(e.field, k.key, "{v:?}: {e}");
            assert!(e.to_string().starts_with(&format!("invalid {} = ", k.key)), "{e}");
            assert!(e.allowed.contains(k.label), "{e}");
        }
    }
}

/// Which router a knob belongs to comes from `RouterInfo::knobs`: every key a router lists is a
/// knob, γ belongs to aux-free only, and the rest to every router.
#[test]
fn knob_owners_follow_the_router_registry() {
    for r in ROUTERS {
        for key in r.knobs {
            assert!(knob(key).is_some(), "router {} lists unknown knob {key}", r.name);
        }
        let kind = RouterKind::from_name(r.name).unwrap();
        assert_eq!(kind.info().name, r.name);
        assert!(!r.balances.is_empty(), "{}", r.name);
        assert!(Config::default().balance == Balance::Switch);
    }
    let gamma = knob("gamma").unwrap();
    assert!(gamma.router_specific());
    assert_eq!(gamma.owners(), vec![RouterKind::from_name("aux-free").unwrap()]);
    for k in KNOBS.iter().filter(|k| !ROUTERS.iter().any(|r| r.knobs.contains(&k.key))) {
        assert!(!k.router_specific(), "{}", k.key);
        assert_eq!(k.owners().len(), ROUTERS.len(), "{}", k.key);
        assert!(RouterKind::all().all(|r| k.used_by(r)), "{}", k.key);
    }
    // The router and balance menus come from the registry and the enum.
    let names: Vec<&str> = knob("router").unwrap().choices().iter().map(|c| c.value).collect();
    assert_eq!(names, ROUTERS.iter().map(|r| r.name).collect::<Vec<_>>());
    let balances: Vec<&str> = knob("balance").unwrap().choices().iter().map(|c| c.value).collect();
    assert_eq!(balances, Balance::ALL.iter().map(|b| b.name()).collect::<Vec<_>>());
}

/// Selecting a router applies its defaults to the keys not named: its k, its first balance loss,
/// its α.
#[test]
fn router_defaults_apply_unless_named() {
    for r in RouterKind::all() {
        let info = r.info();
        let mut c = Config::default();
        let notes = c.with_router(r, &[]);
        c.validate().unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(c.router, r);
        assert_eq!(c.balance, info.balances[0], "{}", info.name);
        if let Some(k) = info.k {
            assert_eq!(c.top_k, k);
        }
        if let Some(a) = info.default_alpha {
            assert_eq!(c.alpha, a);
        }
        assert_eq!(notes.is_empty(), c == Config { router: r, ..Config::default() }, "{}: {notes:?}", info.name);
        for n in &notes {
            assert!(n.contains(info.label), "{n}");
        }
        // Named keys stay as they are.
        let mut d = Config { top_k: 3, alpha: 0.5, balance: Balance::Switch, ..Config::default() };
        let before = d.clone();
        d.with_router(r, &["top-k", "alpha", "balance"]);
        assert_eq!(d, Config { router: r, ..before }, "{}", info.name);
    }
    // A balance loss switched on by the router gets a weight.
    let mut c = Config { balance: Balance::None, alpha: 0.0, ..Config::default() };
    c.with_router(RouterKind::from_name("gshard-top2").unwrap(), &[]);
    assert_eq!((c.balance, c.alpha, c.top_k), (Balance::Switch, Config::default().alpha, 2));
}

#[test]
fn url_round_trips_for_every_router() {
    use moe_playground::config::DropPolicy;
    for r in RouterKind::all() {
        let info = r.info();
        let mut base = Config::default();
        base.with_router(r, &[]);
        let mut configs = vec![base.clone()];
        for &b in info.balances {
            for &drop in DropPolicy::ALL {
                configs.push(Config { balance: b, drop_policy: drop, alpha: 0.05, gamma: 0.01, ..base.clone() });
            }
        }
        if info.k.is_none() {
            configs.push(Config { top_k: 3, ..base.clone() });
        }
        configs.push(Config { alpha: Config::default().alpha, ..base.clone() });
        for c in configs {
            c.validate().unwrap_or_else(|e| panic!("{}: {e}", info.name));
            let q = c.to_query();
            assert_eq!(Config::from_query(&q).unwrap(), c, "{}: query {q}", info.name);
            let (lenient, notes) = Config::from_query_lenient(&q);
            assert_eq!(lenient, c, "{}: query {q}", info.name);
            assert!(notes.is_empty(), "{q}: {notes:?}");
            assert_eq!(q.contains("router="), r != RouterKind::default(), "{q}");
        }
        assert_eq!(
            base.to_query(),
            if r == RouterKind::default() { String::new() } else { format!("router={}", info.name) }
        );
    }
    // Keys at their default stay out of the URL.
    let q = Config { gamma: 0.01, drop_policy: DropPolicy::Random, ..Config::default() }.to_query();
    assert_eq!(q, "drop-policy=random&gamma=0.01");
}

#[test]
fn lenient_url_makes_every_router_combination_valid() {
    let kind = |n: &str| RouterKind::from_name(n).unwrap();
    for (q, router, words) in [
        ("router=gshard-top2", "gshard-top2", &[][..]),
        ("router=gshard-top2&top-k=3", "gshard-top2", &["top-k", "k = 2"][..]),
        ("router=gshard-top2&experts=1", "softmax-topk", &["top-k", "router"][..]),
        ("router=hash", "hash", &[][..]),
        ("router=hash&balance=switch", "hash", &["balance", "none"][..]),
        ("router=aux-free&top-k=2", "aux-free", &[][..]),
        ("router=nope&top-k=2", "softmax-topk", &["router", "softmax-topk, noisy-topk, gshard-top2"][..]),
        ("balance=maybe&drop-policy=last&gamma=7", "softmax-topk", &["balance", "drop-policy", "gamma"][..]),
    ] {
        let (c, notes) = Config::from_query_lenient(q);
        c.validate().unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(c.router, kind(router), "{q}");
        let all = notes.join("\n");
        for w in words {
            assert!(all.contains(w), "{q}: notice should say {w:?}: {all}");
        }
    }
    // The router's defaults are the URL's rule, not fixes: no notice.
    for (q, k, balance, alpha) in [
        ("router=gshard-top2", 2, Balance::Switch, 0.01),
        ("router=gshard-top2&top-k=3", 2, Balance::Switch, 0.01),
        ("router=hash", 1, Balance::None, 0.01),
        ("router=aux-free", 1, Balance::None, 0.0),
        ("router=aux-free&top-k=2", 2, Balance::None, 0.0),
    ] {
        let (c, notes) = Config::from_query_lenient(q);
        assert_eq!((c.top_k, c.balance, c.alpha), (k, balance, alpha), "{q}");
        assert_eq!(notes.is_empty(), !q.contains("top-k=3"), "{q}: {notes:?}");
    }
    let (c, notes) = Config::from_query_lenient("router=aux-free&alpha=0.1&balance=switch");
    assert_eq!((c.alpha, c.balance), (0.1, Balance::Switch));
    assert!(notes.is_empty(), "{notes:?}");
    assert!(Config::from_query("router=hash&balance=switch").unwrap_err().allowed.contains("none"));
    assert!(Config::from_query("router=nope").unwrap_err().allowed.contains("aux-free"));
}
