//! Settings of the two runs of compare mode, and the one way a knob changes: [`set_knob`] on run A, run B or both, with the same clamping and
//! defaults wherever the change comes from (the page's controls, compare mode's panel, a lesson's
//! beat, the headless lesson player). A router comes with its defaults (its k, its balance loss,
//! its α), as its menu does; E clamps k; a balance loss switched on with α = 0 brings α back (the
//! last positive α, see [`Saved`]).
use crate::config::{Balance, Config, ConfigError, RouterKind};
use crate::knobs::{Value, KNOBS};
use std::collections::HashMap;

/// Which run of compare mode a knob setting is for: A (the main run), B (the comparison) or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Side {
    A,
    B,
    Both,
}

/// B as "A's new config plus B's differences": when A changes from `a` to `next_a`, B keeps every
/// knob it set apart from A and follows A in the rest. An error when that B does not validate.
pub fn follow(a: &Config, b: &Config, next_a: &Config) -> Result<Config, ConfigError> {
    let mut c = next_a.clone();
    for k in KNOBS.iter().filter(|k| (k.get)(a) != (k.get)(b)) {
        (k.put)(&mut c, (k.get)(b));
    }
    c.validate().map(|()| c)
}

/// The last positive number of each real knob: restored when its word (∞, none) is cleared, or α
/// when a balance loss is switched on with α = 0.
pub type Saved = HashMap<&'static str, f32>;

/// Remember the positive numbers of `c`'s real knobs in `saved`.
pub fn remember(saved: &mut Saved, c: &Config) {
    for k in KNOBS {
        if let Value::Real(x) = (k.get)(c) {
            if x > 0.0 && x.is_finite() {
                saved.insert(k.key, x);
            }
        }
    }
}

/// `c` with knob `key` set to `value`, and a note on what else that changed; or why not, in a
/// sentence (the config stays as it was).
pub fn changed(c: &Config, saved: &Saved, key: &str, value: &str) -> Result<(Config, Option<String>), String> {
    let mut next = c.clone();
    if key == "router" {
        let Some(r) = RouterKind::from_name(value) else {
            return Err(format!("there is no router called {value:?}"));
        };
        let notes = next.with_router(r, &[]);
        return match next.validate() {
            Ok(()) => {
                let text = if notes.is_empty() { format!("router: {}", r.info().label) } else { notes.join("; ") };
                Ok((next, Some(text)))
            }
            Err(e) => Err(format!("{} cannot run here: {e}", r.info().label)),
        };
    }
    let mut notice = None;
    let checked = next.set(key, value).and_then(|_| {
        if key == "experts" {
            next.top_k = next.top_k.clamp(1, next.k_max());
        }
        if key == "balance" && c.balance == Balance::None && next.balance != Balance::None && next.alpha == 0.0 {
            // A balance loss switched on with α = 0 would do nothing: bring α back.
            next.alpha = saved.get("alpha").copied().unwrap_or(Config::default().alpha);
            notice = Some(format!("balance loss on: α set to {}", next.alpha));
        }
        next.validate()
    });
    match checked {
        Ok(()) => Ok((next, notice)),
        Err(e) => Err(format!("{e}; kept {key} = {}", c.get(key).unwrap_or_default())),
    }
}

/// The configs after one knob change, and what to tell the user about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub a: Config,
    /// Run B's (None: compare mode is off).
    pub b: Option<Config>,
    pub notice: Option<String>,
}

/// Set knob `key` to `value` on run A, run B or both (`side`; with compare mode off, `b` is None
/// and only A exists). On A, B follows unless it has its own value for that knob ([`follow`]): B
/// keeps its differences. A bad value changes nothing and says why.
pub fn set_knob(
    a: &Config,
    b: Option<&Config>,
    saved: &Saved,
    side: Side,
    key: &str,
    value: &str,
) -> Result<Change, String> {
    let Some(b) = b else {
        if side == Side::B {
            return Err("compare mode is off: turn it on to give run B settings of its own".into());
        }
        let (a, notice) = changed(a, saved, key, value)?;
        return Ok(Change { a, b: None, notice });
    };
    let (next_a, notice_a) = match side {
        Side::B => (a.clone(), None),
        _ => changed(a, saved, key, value)?,
    };
    let (next_b, notice_b) = match side {
        Side::A => match follow(a, b, &next_a) {
            Ok(next_b) => (next_b, None),
            Err(e) => {
                (b.clone(), Some(format!("run B keeps its settings: with this change they would not work ({e})")))
            }
        },
        _ => match changed(b, saved, key, value) {
            Ok((next_b, notice)) => (next_b, notice.map(|n| format!("run B: {n}"))),
            Err(text) => return Err(format!("run B: {text}")),
        },
    };
    let notes: Vec<String> = [notice_a, notice_b].into_iter().flatten().collect();
    Ok(Change { a: next_a, b: Some(next_b), notice: (!notes.is_empty()).then(|| notes.join("; ")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experts_clamp_k_and_a_balance_loss_brings_alpha_back() {
        let a = Config { top_k: 4, experts: 8, ..Config::default() };
        let c = set_knob(&a, None, &Saved::new(), Side::A, "experts", "2").unwrap();
        assert_eq!((c.a.experts, c.a.top_k), (2, 2));
        let off = Config { balance: Balance::None, alpha: 0.0, ..Config::default() };
        let mut saved = Saved::new();
        saved.insert("alpha", 0.03);
        let on = set_knob(&off, None, &saved, Side::A, "balance", Config::default().balance.name()).unwrap();
        assert_eq!(on.a.alpha, 0.03);
        assert!(on.notice.unwrap().contains("α set to 0.03"));
    }

    #[test]
    fn b_follows_a_keeps_its_own_and_refuses_without_compare() {
        let a = Config::default();
        let b = Config { alpha: 0.0, ..a.clone() };
        let c = set_knob(&a, Some(&b), &Saved::new(), Side::A, "lr", "0.002").unwrap();
        assert_eq!((c.a.lr, c.b.as_ref().unwrap().lr, c.b.as_ref().unwrap().alpha), (0.002, 0.002, 0.0));
        let c = set_knob(&a, Some(&b), &Saved::new(), Side::B, "lr", "0.002").unwrap();
        assert_eq!((c.a.lr, c.b.unwrap().lr), (a.lr, 0.002));
        assert!(set_knob(&a, None, &Saved::new(), Side::B, "lr", "0.002").unwrap_err().contains("compare mode is off"));
        let bad = set_knob(&a, None, &Saved::new(), Side::A, "lr", "-1").unwrap_err();
        assert!(bad.contains("kept lr"), "{bad}");
        assert!(set_knob(&a, Some(&b), &Saved::new(), Side::B, "router", "nope").unwrap_err().starts_with("run B:"));
    }
}
