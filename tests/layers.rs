//! The crate's layers, in one table, and the check that keeps them: a module names only modules of
//! its own layer listed before it, or of a lower layer. So there are no import cycles, and a reader
//! can learn the crate bottom up.
//!
//! The check reads every .rs file under src/. A file belongs to the top-level module of its path
//! (src/model/routers/hash.rs: `model`; src/bin/*.rs: `bin`; src/main.rs: `main`; src/lib.rs, the
//! crate root, to none). Every `crate::NAME` and `moe_playground::NAME` counts, wherever it is:
//! `use` lines (with `{a, b::c}` groups over several lines), paths inside code, doc links and
//! comments; so do `super::` paths that climb to the crate root. A module that is not in the table
//! fails the check too: place a new module in [`LAYERS`].
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first, and the modules of each in order. A module may name itself, any module
/// of a lower layer, and the modules listed before it in its own layer; nothing else. A module
/// listed here need not exist yet (`session`).
const LAYERS: &[(&str, &[&str])] = &[
    // Plain data and the config: the random hash, the colours, the config (with the router
    // registry, src/config/routers.rs) and the knob table built on it.
    ("core", &["rng", "palette", "config", "knobs"]),
    // The generated data sets.
    ("data", &["data"]),
    // The CPU reference model and the region map drawn from it.
    ("model", &["model", "regionmap"]),
    // Training: metrics and their history, the trainer interface and CPU trainer, the WGSL
    // trainer, upcycling.
    ("train", &["metrics", "history", "trainer", "gpu", "upcycle"]),
    // The page's logic and the lessons, compiled on every target.
    ("app", &["presets", "lessons", "session", "page"]),
    // The wasm page and the binaries (src/bin/*.rs: `bin`, src/main.rs: `main`).
    ("ui/bin", &["ui", "bin", "main"]),
];

/// (layer index, position in the layer) of a module listed in [`LAYERS`].
fn rank(module: &str) -> Option<(usize, usize)> {
    LAYERS.iter().enumerate().find_map(|(l, (_, mods))| mods.iter().position(|m| *m == module).map(|i| (l, i)))
}

/// The top-level module of a file (its path relative to src/, with `/`), and how deep in the module
/// tree the file's own module sits (src/a.rs and src/a/mod.rs: 1; src/a/b.rs: 2). None for lib.rs.
fn module_of(rel: &str) -> Option<(String, usize)> {
    if rel == "lib.rs" {
        return None;
    }
    let parts: Vec<&str> = rel.split('/').collect();
    let top = parts[0].trim_end_matches(".rs").to_string();
    let last = parts[parts.len() - 1];
    let depth = if last == "mod.rs" { parts.len() - 1 } else { parts.len() };
    Some((top, depth))
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn ident_at(b: &[u8], i: usize) -> &str {
    let end = (i..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
    std::str::from_utf8(&b[i..end]).unwrap()
}

fn line_of(b: &[u8], i: usize) -> usize {
    1 + b[..i].iter().filter(|&&c| c == b'\n').count()
}

/// The first path segment after a crate-root prefix ending at `i` (just after its `::`): one
/// (line, name) for a plain path, one per item of a `{…}` group (nested groups and comments inside
/// it allowed).
fn segments_after(b: &[u8], i: usize, out: &mut Vec<(usize, String)>) {
    let i = skip_space(b, i);
    if i >= b.len() {
        return;
    }
    if b[i] != b'{' {
        let name = ident_at(b, i);
        if !name.is_empty() {
            out.push((line_of(b, i), name.to_string()));
        }
        return;
    }
    // A group: the first identifier of each item at depth 1.
    let (mut j, mut depth, mut item_start) = (i + 1, 1, true);
    while j < b.len() && depth > 0 {
        if b[j..].starts_with(b"//") {
            j = (j..b.len()).find(|&k| b[k] == b'\n').unwrap_or(b.len());
            continue;
        }
        if b[j..].starts_with(b"/*") {
            j = (j + 2..b.len()).find(|&k| b[k..].starts_with(b"*/")).map_or(b.len(), |k| k + 2);
            continue;
        }
        match b[j] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 1 => item_start = true,
            c if item_start && depth == 1 && is_ident(c) => {
                let name = ident_at(b, j);
                if name != "self" {
                    out.push((line_of(b, j), name.to_string()));
                }
                item_start = false;
                j += name.len();
                continue;
            }
            _ => {}
        }
        j += 1;
    }
}

/// Every top-level name a file's text reaches through the crate root: `crate::NAME`,
/// `moe_playground::NAME` (each also as `{…}` groups), and `super::…::NAME` with at least `depth`
/// `super`s (the file's module depth; [`module_of`]). As (line, NAME), by line.
fn crate_paths(text: &str, depth: usize) -> Vec<(usize, String)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts_word = i == 0 || !is_ident(b[i - 1]);
        if starts_word {
            for prefix in [&b"crate::"[..], &b"moe_playground::"[..]] {
                if b[i..].starts_with(prefix) {
                    segments_after(b, i + prefix.len(), &mut out);
                }
            }
            if b[i..].starts_with(b"super::") {
                let (mut j, mut n) = (i, 0);
                while b[j..].starts_with(b"super::") {
                    j = skip_space(b, j + "super::".len());
                    n += 1;
                }
                if n >= depth {
                    segments_after(b, j, &mut out);
                }
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.sort_by_key(|(line, _)| *line);
    out
}

/// Everything wrong with the layering of `files` (path relative to src/, text): a module that is
/// not in [`LAYERS`], a module that names a higher one, and every cycle among the modules. Empty when
/// all is well.
fn check(files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, mods) in LAYERS {
        for m in *mods {
            assert!(seen.insert(*m), "{m} is listed twice in LAYERS");
        }
    }
    let owned: Vec<(String, usize, &String, &String)> =
        files.iter().filter_map(|(rel, text)| module_of(rel).map(|(m, d)| (m, d, rel, text))).collect();
    let known: BTreeSet<&str> = owned.iter().map(|(m, ..)| m.as_str()).chain(seen.iter().copied()).collect();
    let mut unplaced = BTreeSet::new();
    // The module graph, with the first place each edge is named.
    let mut edges: BTreeMap<(String, String), String> = BTreeMap::new();
    for (from, depth, rel, text) in &owned {
        if rank(from).is_none() && unplaced.insert(from.clone()) {
            problems.push(format!(
                "src/{rel}: module `{from}` is not in the LAYERS table of tests/layers.rs; add it to a layer"
            ));
        }
        for (line, to) in crate_paths(text, *depth) {
            if to == *from || !known.contains(to.as_str()) {
                continue;
            }
            let at = format!("src/{rel}:{line}");
            if let (Some(rf), Some(rt)) = (rank(from), rank(&to)) {
                if rt > rf {
                    let why = if rt.0 > rf.0 {
                        format!("layer `{}` is above `{}`", LAYERS[rt.0].0, LAYERS[rf.0].0)
                    } else {
                        format!("`{to}` comes after `{from}` in layer `{}`", LAYERS[rf.0].0)
                    };
                    problems.push(format!("{at}: {from} -> {to} points up ({why})"));
                }
            }
            edges.entry((from.clone(), to)).or_insert(at);
        }
    }
    for cycle in cycles(&edges) {
        let mut path: Vec<String> = Vec::new();
        for (k, m) in cycle.iter().enumerate() {
            let next = &cycle[(k + 1) % cycle.len()];
            path.push(format!("{m} -> {next} ({})", edges[&(m.clone(), next.clone())]));
        }
        problems.push(format!("import cycle: {}", path.join(", ")));
    }
    problems
}

/// One cycle through each strongly connected group of two or more modules (Tarjan's algorithm,
/// then a shortest way back to the group's first module).
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a).or_default().push(b);
        next.entry(b).or_default();
    }
    struct Tarjan<'a> {
        next: &'a BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        groups: Vec<Vec<&'a str>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for &w in &self.next[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().position(|&x| x == v).unwrap();
                let group = self.stack.split_off(at);
                if group.len() > 1 {
                    self.groups.push(group);
                }
            }
        }
    }
    let mut t = Tarjan { next: &next, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), groups: vec![] };
    for &v in next.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    // Within a group, a shortest cycle through its first module (breadth-first).
    t.groups
        .iter()
        .map(|g| {
            let start = *g.iter().min().unwrap();
            let mut from: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut last = start;
            'search: while let Some(v) = queue.pop_front() {
                for &w in &next[v] {
                    if w == start {
                        last = v;
                        break 'search;
                    }
                    if g.contains(&w) && !from.contains_key(w) {
                        from.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let mut path = vec![last.to_string()];
            while path[0] != start {
                path.insert(0, from[path[0].as_str()].to_string());
            }
            path
        })
        .collect()
}

fn rs_files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn the_crate_keeps_its_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &src, &mut files);
    assert!(files.len() > 20 && files.iter().any(|(rel, _)| rel == "model/routers/hash.rs"), "read src/");
    let problems = check(&files);
    assert!(
        problems.is_empty(),
        "the layering of src/ is broken (the table is LAYERS in tests/layers.rs; move the item that \
         points up into a lower module, or place a new module):\n  {}",
        problems.join("\n  ")
    );
}

/// The parser finds each way a path can name a module, and nothing else.
#[test]
fn paths_are_found_in_groups_code_docs_and_super() {
    let text = "//! See [`crate::config::Config`] and [the table](crate::knobs::KNOBS).
use crate::{
    data::{self, Pool}, // comments count too: crate::palette
    model::Dims,
    /* rng, */ trainer,
};
use crate::{self as root, metrics};
pub(crate) fn f(x: u32) -> u32 {
    let my_crate::x = 1; // not a crate path
    crate::gpu::kernels::router_id(\"a\") + moe_playground::page::X + $crate::lessons::y(x)
}
use super::super::upcycle::Upcycle;
use super::Sibling;
";
    let got = crate_paths(text, 2);
    let want: Vec<(usize, String)> = [
        (1, "config"),
        (1, "knobs"),
        (3, "data"),
        (3, "palette"),
        (4, "model"),
        (5, "trainer"),
        (7, "metrics"),
        (10, "gpu"),
        (10, "page"),
        (10, "lessons"),
        (12, "upcycle"),
    ]
    .iter()
    .map(|&(l, n)| (l, n.to_string()))
    .collect();
    assert_eq!(got, want);
    // One `super` from a top-level module's file is the crate root; from src/a/b.rs it is `a`.
    assert_eq!(crate_paths("use super::data::Pool;", 1), vec![(1, "data".to_string())]);
    assert!(crate_paths("use super::data::Pool;", 2).is_empty());
}

/// The check reports an upward edge, the cycle it closes, an order broken within a layer, and a
/// module missing from the table; and passes a clean crate.
#[test]
fn the_check_reports_what_is_wrong() {
    let file = |rel: &str, text: &str| (rel.to_string(), text.to_string());
    let clean = [file("config.rs", "use crate::rng::hash;"), file("model/forward.rs", "use crate::{config, data};")];
    assert_eq!(check(&clean), Vec::<String>::new());
    let bad = [
        file("config.rs", "use crate::rng::hash;\n/// [`crate::model::Params`]\nstruct C;"),
        file("model/mod.rs", "use crate::config::Config;"),
        file("gpu/trainer.rs", "use crate::upcycle::Upcycle;"),
        file("upcycle.rs", "use crate::gpu::GpuTrainer;"),
        file("newcomer.rs", "use crate::config::Config;"),
        file("lib.rs", "pub mod config; pub mod newcomer;"),
    ];
    let problems = check(&bad);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("src/config.rs:2: config -> model points up (layer `model` is above `core`)"), "{problems:#?}");
    assert!(has("src/gpu/trainer.rs:1: gpu -> upcycle points up (`upcycle` comes after `gpu` in layer `train`)"));
    assert!(has("src/newcomer.rs: module `newcomer` is not in the LAYERS table"), "{problems:#?}");
    assert!(has("import cycle: config -> model (src/config.rs:2), model -> config (src/model/mod.rs:1)"));
    assert!(has("import cycle: gpu -> upcycle (src/gpu/trainer.rs:1), upcycle -> gpu (src/upcycle.rs:1)"));
    assert_eq!(problems.len(), 5, "{problems:#?}");
}
