//! A character stream that mixes four domains with visibly different statistics, built so that many
//! next characters are predictable only through a *non-linear* use of the context (the expert FFNs'
//! job), not from any single previous character:
//!
//! - arithmetic chains `7+52*48-99` (read 7 + 5 → 2, 2 · 4 → 8, 8 − 9 → 9) — every result digit is
//!   (previous result op operand) mod 10: a joint function of the three characters before it, 300
//!   cases. The fourth context character (the previous operand) is irrelevant, so a context held out
//!   for evaluation still has its arithmetic fact in training, after a different character;
//! - words from a syllable grammar `kemu tasi ` — each vowel follows a fixed random rule of the
//!   previous consonant, the previous vowel and its own consonant (320 cases);
//! - DNA `ACGTTAG…` — each base follows a fixed random rule of the previous three (64 cases), with
//!   15 % random mutations;
//! - code `f([x]);` — closing brackets must match openers one to three characters back.
use super::{split, Pool, CTX, EVAL_N, EX_WORDS, PROBE};
use crate::rng::Rng;

/// Every character the stream uses; a token id is its index here (defined in the config, which
/// sizes the model's output from it).
pub use crate::config::VOCAB;
pub const DOMAINS: [&str; 4] = ["arith", "words", "dna", "code"];
const STREAM_LEN: usize = 1 << 17;
const EVAL_STREAM_LEN: usize = 1 << 16;
const CONSONANTS: &[u8] = b"klmnprst";
const VOWELS: &[u8] = b"aeiou";
const BASES: &[u8] = b"ACGT";

pub fn id(c: u8) -> u32 {
    VOCAB.bytes().position(|v| v == c).unwrap_or_else(|| panic!("char {:?} not in VOCAB", c as char)) as u32
}

pub fn char_of(id: u32) -> char {
    VOCAB.as_bytes().get(id as usize).map(|&b| b as char).unwrap_or('?')
}

/// Vowel rule: the vowel of syllable j is VOWEL_RULE[c(j−1)][v(j−1)][c(j)] (a fixed random table of
/// 8·5·8 = 320 cases), so it takes three earlier characters jointly.
fn vowel_rule() -> [u8; 320] {
    let mut rng = Rng::new(0x70E1);
    let mut t = [0u8; 320];
    for v in t.iter_mut() {
        *v = rng.below(5) as u8;
    }
    t
}

/// Index of the next vowel by the rule.
pub fn next_vowel(rule: &[u8; 320], prev_c: usize, prev_v: usize, c: usize) -> usize {
    rule[(prev_c * 5 + prev_v) * 8 + c] as usize
}

/// (a op b) mod 10 for op in `+ - *`.
pub fn arith(a: u8, op: u8, b: u8) -> u8 {
    let (a, b) = (a as i32, b as i32);
    let r = match op {
        b'+' => a + b,
        b'-' => a - b,
        _ => a * b,
    };
    r.rem_euclid(10) as u8
}

/// DNA recurrence: base t = DNA_RULE[b(t−3)][b(t−2)][b(t−1)] (a fixed random table of 64 entries),
/// except that 15 % of bases mutate at random.
fn dna_rule() -> [u8; 64] {
    let mut rng = Rng::new(0xD7A);
    let mut t = [0u8; 64];
    for v in t.iter_mut() {
        *v = rng.below(4) as u8;
    }
    t
}

/// Index of the next base by the recurrence.
pub fn dna_next(rule: &[u8; 64], b3: usize, b2: usize, b1: usize) -> usize {
    rule[b3 * 16 + b2 * 4 + b1] as usize
}

struct Rules {
    dna: [u8; 64],
    vowel: [u8; 320],
}

/// Append one segment of `domain` until the stream is at least `end` long.
fn emit_segment(domain: usize, end: usize, rng: &mut Rng, rules: &Rules, out: &mut Vec<(u8, u8)>) {
    let d = domain as u8;
    let push = |out: &mut Vec<(u8, u8)>, s: &[u8]| out.extend(s.iter().map(|&c| (c, d)));
    match domain {
        0 => {
            // A chain: "7+52*48-99…": each result digit is (previous result op operand) mod 10.
            let mut acc = rng.below(10) as u8;
            push(out, &[b'0' + acc]);
            while out.len() < end {
                let b = rng.below(10) as u8;
                let op = b"+-*"[rng.below(3)];
                acc = arith(acc, op, b);
                push(out, &[op, b'0' + b, b'0' + acc]);
            }
            push(out, b";");
        }
        1 => {
            while out.len() < end {
                let syllables = 2 + rng.below(3);
                let mut v = rng.below(5);
                let mut prev_c = 0;
                let mut w = Vec::new();
                for s in 0..syllables {
                    let c = rng.below(8);
                    if s > 0 {
                        v = next_vowel(&rules.vowel, prev_c, v, c);
                    }
                    prev_c = c;
                    w.push(CONSONANTS[c]);
                    w.push(VOWELS[v]);
                }
                w.push(b' ');
                push(out, &w);
            }
        }
        2 => {
            let mut b = [rng.below(4), rng.below(4), rng.below(4)];
            push(out, &[BASES[b[0]], BASES[b[1]], BASES[b[2]]]);
            while out.len() < end {
                let next = if rng.f64() < 0.15 { rng.below(4) } else { dna_next(&rules.dna, b[0], b[1], b[2]) };
                b = [b[1], b[2], next];
                push(out, &[BASES[next]]);
            }
        }
        _ => {
            while out.len() < end {
                let open = [(b'(', b')'), (b'[', b']'), (b'{', b'}')];
                let name = b"fgh"[rng.below(3)];
                let (o1, c1) = open[rng.below(3)];
                let arg = b"xyzw"[rng.below(4)];
                if rng.below(2) == 0 {
                    let (o2, c2) = open[rng.below(3)];
                    push(out, &[name, o1, o2, arg, c2, c1, b';']);
                } else {
                    push(out, &[name, o1, arg, c1, b';']);
                }
            }
        }
    }
}

/// The raw stream: (char, domain) pairs, in segments of 24–64 characters of one domain.
pub fn stream(seed: u32, len: usize) -> Vec<(u8, u8)> {
    let mut rng = Rng::new(0x7_0CE5 ^ ((seed as u64) << 20));
    let rules = Rules { dna: dna_rule(), vowel: vowel_rule() };
    let mut out = Vec::with_capacity(len + 80);
    while out.len() < len {
        let domain = rng.below(4);
        let end = out.len() + 24 + rng.below(41);
        emit_segment(domain, end, &mut rng, &rules, &mut out);
    }
    out.truncate(len);
    out
}

fn examples(s: &[(u8, u8)]) -> Vec<u32> {
    let mut w = Vec::with_capacity((s.len() - CTX) * EX_WORDS);
    for i in 0..s.len() - CTX {
        for j in 0..CTX {
            w.push(id(s[i + j].0));
        }
        w.push(id(s[i + CTX].0));
        w.push(s[i + CTX].1 as u32);
    }
    w
}

pub fn pool(seed: u32) -> Pool {
    let s = stream(seed, STREAM_LEN);
    // Probe: 64 consecutive positions of a separate stream, starting where the domain changes at
    // least three times within the window (so every heatmap shows several domains).
    let ps = stream(seed ^ 0xBEEF, 4096);
    let start = (0..ps.len() - PROBE - CTX)
        .find(|&i| {
            let mut seen = [false; 4];
            ps[i + CTX..i + CTX + PROBE].iter().for_each(|&(_, d)| seen[d as usize] = true);
            seen.iter().filter(|&&x| x).count() >= 3
        })
        .unwrap_or(0);
    let probe = examples(&ps[start..start + PROBE + CTX]);
    // Held out by construction (super::held_out): training keeps the other examples of the stream;
    // evaluation draws from a stream of its own and keeps only held-out examples (about one in 8,
    // so 2^16 characters give ~8k of them).
    let words = split(&examples(&s), false, usize::MAX);
    let eval = split(&examples(&stream(seed ^ 0xE7A1_5EED, EVAL_STREAM_LEN)), true, EVAL_N);
    assert_eq!(eval.len(), EVAL_N * EX_WORDS, "evaluation stream too short");
    Pool { dataset: crate::config::Dataset::Tokens, words, probe, eval }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_is_unique_and_covers_the_stream() {
        let v = VOCAB.as_bytes();
        for (i, c) in v.iter().enumerate() {
            assert!(!v[i + 1..].contains(c), "duplicate {:?}", *c as char);
        }
        for (c, d) in stream(3, 20_000) {
            assert!(v.contains(&c), "{:?}", c as char);
            assert!(d < 4);
        }
    }

    #[test]
    fn rules_hold_in_the_stream() {
        let s = stream(5, 50_000);
        let text: Vec<u8> = s.iter().map(|p| p.0).collect();
        let mut arith_checked = 0;
        for i in 0..text.len() - 4 {
            // "a op b r": a digit, an operator, a digit, then the result; the operator marks the phase.
            let w = &text[i..i + 4];
            if s[i].1 == 0 && s[i + 3].1 == 0 && b"+-*".contains(&w[1]) && w[0].is_ascii_digit() {
                assert_eq!(w[3] - b'0', arith(w[0] - b'0', w[1], w[2] - b'0'), "{:?}", std::str::from_utf8(w));
                arith_checked += 1;
            }
        }
        assert!(arith_checked > 1000);
        let p = pool(5);
        assert_eq!(p.probe.len(), PROBE * EX_WORDS);
        let n = STREAM_LEN - CTX;
        assert!(p.len() > n * 6 / 8 && p.len() < n, "about 7/8 of the stream trains: {}", p.len());
        let doms: std::collections::BTreeSet<u32> = p.probe_batch().domains.into_iter().collect();
        assert!(doms.len() >= 3);
    }
}
