//! A character stream that mixes four domains with visibly different statistics, built so that many
//! next characters are predictable only through a *non-linear* use of the context (the expert FFNs'
//! job), not from any single previous character:
//!
//! - arithmetic `3*7=1;` — the result is (a op b) mod 10: a joint function of three characters;
//! - words from a syllable grammar `kemu tasi ` — each vowel is HARMONY[consonant][previous vowel];
//! - DNA codons `ACg TTa` — the lower-case third base is (b1 + 3·b2 + 1) mod 4 (a Latin square);
//! - code `f([x]);` — closing brackets must match openers one to three characters back.
use super::{Pool, CTX, EX_WORDS, PROBE};
use crate::rng::Rng;

/// Every character the stream uses; a token id is its index here.
pub const VOCAB: &str = "0123456789+-*=; aeiouklmnprstcgACGT()[]{}fhxyzw";
pub const DOMAINS: [&str; 4] = ["arith", "words", "dna", "code"];
const STREAM_LEN: usize = 1 << 17;
const CONSONANTS: &[u8] = b"klmnprst";
const VOWELS: &[u8] = b"aeiou";
const BASES: &[u8] = b"ACGT";
const BASES_LOWER: &[u8] = b"acgt";

pub fn id(c: u8) -> u32 {
    VOCAB.bytes().position(|v| v == c).unwrap_or_else(|| panic!("char {:?} not in VOCAB", c as char)) as u32
}

pub fn char_of(id: u32) -> char {
    VOCAB.as_bytes().get(id as usize).map(|&b| b as char).unwrap_or('?')
}

/// Vowel harmony: index of the next vowel given (consonant index, previous vowel index).
const HARMONY: [[u8; 5]; 8] = [
    [1, 3, 0, 4, 2],
    [4, 0, 3, 2, 1],
    [2, 4, 1, 0, 3],
    [0, 2, 4, 1, 3],
    [3, 1, 2, 4, 0],
    [1, 4, 0, 3, 2],
    [2, 0, 3, 1, 4],
    [4, 3, 1, 0, 2],
];

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

/// Third base of a codon: (b1 + 3·b2 + 1) mod 4, as an index into ACGT.
pub fn codon3(b1: usize, b2: usize) -> usize {
    (b1 + 3 * b2 + 1) % 4
}

fn emit_unit(domain: usize, rng: &mut Rng, out: &mut Vec<(u8, u8)>) {
    let d = domain as u8;
    let mut push = |s: &[u8]| out.extend(s.iter().map(|&c| (c, d)));
    match domain {
        0 => {
            let a = rng.below(10) as u8;
            let b = rng.below(10) as u8;
            let op = b"+-*"[rng.below(3)];
            push(&[b'0' + a, op, b'0' + b, b'=', b'0' + arith(a, op, b), b';']);
        }
        1 => {
            let syllables = 2 + rng.below(3);
            let mut v = rng.below(5);
            let mut w = Vec::new();
            for s in 0..syllables {
                let c = rng.below(8);
                if s > 0 {
                    v = HARMONY[c][v] as usize;
                }
                w.push(CONSONANTS[c]);
                w.push(VOWELS[v]);
            }
            w.push(b' ');
            push(&w);
        }
        2 => {
            let b1 = rng.below(4);
            let b2 = rng.below(4);
            push(&[BASES[b1], BASES[b2], BASES_LOWER[codon3(b1, b2)]]);
        }
        _ => {
            let open = [(b'(', b')'), (b'[', b']'), (b'{', b'}')];
            let name = b"fgh"[rng.below(3)];
            let (o1, c1) = open[rng.below(3)];
            let arg = b"xyzw"[rng.below(4)];
            if rng.below(2) == 0 {
                let (o2, c2) = open[rng.below(3)];
                push(&[name, o1, o2, arg, c2, c1, b';']);
            } else {
                push(&[name, o1, arg, c1, b';']);
            }
        }
    }
}

/// The raw stream: (char, domain) pairs, in segments of 24–64 characters of one domain.
pub fn stream(seed: u32, len: usize) -> Vec<(u8, u8)> {
    let mut rng = Rng::new(0x7_0CE5 ^ ((seed as u64) << 20));
    let mut out = Vec::with_capacity(len + 80);
    while out.len() < len {
        let domain = rng.below(4);
        let target = out.len() + 24 + rng.below(41);
        while out.len() < target {
            emit_unit(domain, &mut rng, &mut out);
        }
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
    Pool { dataset: crate::config::Dataset::Tokens, words: examples(&s), probe }
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
        for i in 0..text.len() - 5 {
            let w = &text[i..i + 6];
            if s[i].1 == 0 && s[i + 4].1 == 0 && w[3] == b'=' && w[0].is_ascii_digit() {
                assert_eq!(w[4] - b'0', arith(w[0] - b'0', w[1], w[2] - b'0'));
                arith_checked += 1;
            }
        }
        assert!(arith_checked > 1000);
        let p = pool(5);
        assert_eq!(p.probe.len(), PROBE * EX_WORDS);
        assert_eq!(p.len(), STREAM_LEN - CTX);
        let doms: std::collections::BTreeSet<u32> = p.probe_batch().domains.into_iter().collect();
        assert!(doms.len() >= 3);
    }
}
